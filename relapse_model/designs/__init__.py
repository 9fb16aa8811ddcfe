"""Exact single-arm and multi-arm trial designs with binary endpoints (numpy/scipy only).

- :mod:`~relapse_model.designs.binomial`: exact OCs of multi-stage single-arm designs.
- :mod:`~relapse_model.designs.simon`: Simon's optimal/minimax two-stage designs.
- :mod:`~relapse_model.designs.monitoring`: Lee & Liu predictive-probability and BOP2-style
  posterior-probability monitoring, with exact OCs and calibration searches.
- :mod:`~relapse_model.designs.calibration`: posterior thresholds calibrated to a type-I error.
- :mod:`~relapse_model.designs.multiarm`: Dunnett FWER and critical values; MAMS simulation.
- :mod:`~relapse_model.designs.borrowing`: robust Beta-mixture priors (RBesT-style), ESS,
  prior-data conflict and exact OCs of borrowing.
- :mod:`~relapse_model.designs.hazard_borrowing`: robust Gamma-mixture priors of piecewise
  hazards for time-to-event endpoints, the posterior probability of a hazard ratio below 1
  and the prior-data conflict check.
"""

from relapse_model.designs.binomial import (
                                            OperatingCharacteristics,
                                            SimulatedOC,
                                            multistage_oc,
                                            simulate_multistage,
                                            two_stage_oc,
)
from relapse_model.designs.borrowing import (
                                            BetaMixture,
                                            BorrowingOC,
                                            ConflictCheck,
                                            fit_beta,
                                            fit_beta_mixture,
                                            prior_data_conflict,
                                            robustify,
                                            single_arm_oc,
                                            two_arm_oc,
)
from relapse_model.designs.calibration import (
                                            ThresholdCalibration,
                                            calibrate_posterior_threshold,
                                            exact_type1,
                                            flag_type1,
)
from relapse_model.designs.hazard_borrowing import (
                                            GammaMixture,
                                            fit_gamma_mixture,
                                            hazard_conflict_p_value,
                                            prob_hazard_ratio_below,
                                            robustify_hazards,
)
from relapse_model.designs.monitoring import (
                                            DesignSearch,
                                            MonitoringDesign,
                                            bop2_design,
                                            calibrate_bop2,
                                            predictive_design,
                                            predictive_probability,
                                            search_predictive_design,
)
from relapse_model.designs.multiarm import (
                                            MAMSResult,
                                            dunnett_critical_value,
                                            dunnett_fwer,
                                            simulate_mams,
)
from relapse_model.designs.simon import SimonDesign, simon_two_stage

__all__ = [
    "BetaMixture", "BorrowingOC", "ConflictCheck", "DesignSearch", "GammaMixture", "MAMSResult",
    "MonitoringDesign", "OperatingCharacteristics", "SimonDesign", "SimulatedOC",
    "ThresholdCalibration", "bop2_design", "calibrate_bop2", "calibrate_posterior_threshold",
    "dunnett_critical_value", "dunnett_fwer", "exact_type1", "fit_beta", "fit_beta_mixture", "fit_gamma_mixture",
    "flag_type1", "hazard_conflict_p_value", "multistage_oc", "predictive_design", "predictive_probability",
    "prior_data_conflict", "prob_hazard_ratio_below", "robustify", "robustify_hazards", "search_predictive_design", "simon_two_stage",
    "simulate_mams", "simulate_multistage", "single_arm_oc", "two_arm_oc", "two_stage_oc",
]
