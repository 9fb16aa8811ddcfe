"""Helpers every layer may use: reading TOML, the project's data folders, writing PNG figures
and Markdown tables, and the Kaplan-Meier value at a horizon. Imports nothing else of the package
but :mod:`relapse_model.errors`."""
