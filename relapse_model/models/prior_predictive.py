"""What the priors imply before seeing outcomes: cohort-level probabilities under prior draws."""

from __future__ import annotations

import numpy as np
import pandas as pd

from relapse_model.cohort.cohort import Cohort
from relapse_model.models.predict import patient_curves


def prior_predictive(model, cohort: Cohort, horizons: tuple[float, ...] = (12.0, 60.0),
                     n_draws: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Distribution of cohort-average probabilities implied by the priors alone.

    Parameters
    ----------
    model : RelapseModel
        Unfitted or fitted; only its configuration and priors are used.
    cohort : Cohort
        Covariates of the patients to average over (outcomes are not used).
    horizons : tuple of float
        Months since relapse.
    n_draws : int
    seed : int

    Returns
    -------
    pandas.DataFrame
        One row per quantity and horizon with the 2.5%, 25%, 50%, 75% and 97.5% prior quantiles
        (e.g. the cohort's 5-y event-free survival, relapse incidence and cure fraction).
    """
    design = model.design(cohort, with_outcome=False)
    params = model.prior_parameters(n_draws=n_draws, seed=seed, cohort=cohort)
    curves = patient_curves(params, design, np.asarray(horizons, dtype=float))
    rows = []
    for name, arr in curves.items():
        cohort_mean = arr.mean(axis=1)                            # (S,) or (S, H)
        columns = [cohort_mean] if cohort_mean.ndim == 1 else [cohort_mean[:, k] for k in range(len(horizons))]
        labels = [None] if cohort_mean.ndim == 1 else list(horizons)
        for h, values in zip(labels, columns):
            q = np.quantile(values, [0.025, 0.25, 0.5, 0.75, 0.975])
            rows.append({"quantity": name, "horizon": h, **{f"q{p}": v for p, v in zip((2.5, 25, 50, 75, 97.5), q)}})
    return pd.DataFrame(rows)
