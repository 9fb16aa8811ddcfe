"""Cohort data: schema, validation, endpoints, MRD interpretation and reference cohorts."""

from relapse_model.cohort.cohort import Cohort, load_cohort, load_patients
from relapse_model.cohort.mrd import MRDRules, interpret_mrd

__all__ = ["Cohort", "MRDRules", "interpret_mrd", "load_cohort", "load_patients"]
