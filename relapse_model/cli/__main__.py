from relapse_model.cli import main

main()
