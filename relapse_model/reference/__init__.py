"""The synthetic reference cohorts: their generative model (:mod:`.generator`), specification
files (:mod:`.spec`), published calibration targets (:mod:`.targets`) and data cards
(:mod:`.cards`). A layer above the model, so a generator may simulate from it."""
