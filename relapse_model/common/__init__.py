"""Helpers every layer may use: reading TOML, the project's data folders, writing PNG figures
and Markdown tables, the Kaplan-Meier value at a horizon and Aalen-Johansen state occupation.
Imports nothing else of the package but :mod:`relapse_model.errors`."""
