"""Model comparison by PSIS-LOO (ArviZ), with Pareto-k diagnostics in the table.

Every censored and uncensored row is in each fit's pointwise log-likelihood, so the comparison
covers all patients. Models compared must be fitted to the same rows and the same outcome
(e.g. competing-risk models with and without a cure fraction, Weibull vs piecewise baseline,
with vs without stemness or MRD).
"""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pandas as pd

#: Pareto k above this makes an observation's LOO estimate unreliable (Vehtari et al. 2024).
K_THRESHOLD = 0.7


def _loo(posterior):
    with warnings.catch_warnings():
        # high Pareto k is reported in the table, not as a warning
        warnings.filterwarnings("ignore", message=".*shape parameter of Pareto.*")
        return az.loo(posterior)


def loo_table(fits: dict) -> pd.DataFrame:
    """ELPD-LOO, its SE, effective number of parameters and Pareto-k counts for each fit."""
    rows = []
    for name, model in fits.items():
        result = _loo(model.posterior)
        k = np.asarray(result.pareto_k).ravel()
        rows.append({"model": name, "elpd_loo": float(result.elpd), "se": float(result.se),
                     "p_loo": float(result.p), "n": int(result.n_data_points),
                     f"pareto k > {K_THRESHOLD}": int((k > K_THRESHOLD).sum()), "max pareto k": float(k.max())})
    return pd.DataFrame(rows)


def compare_models(fits: dict) -> pd.DataFrame:
    """Rank fits by ELPD-LOO (ArviZ ``compare``, stacking weights) with Pareto-k counts beside.

    Returns
    -------
    pandas.DataFrame
        Indexed by model name, best first: ``elpd``, ``elpd_diff`` (vs the best), ``dse`` (SE of
        the difference), ``weight``, ``p``, and the Pareto-k columns of :func:`loo_table`.
    """
    sizes = {name: m.posterior["log_likelihood"]["outcome"].shape[-1] for name, m in fits.items()}
    if len(set(sizes.values())) != 1:
        raise ValueError(f"models were fitted to different numbers of rows: {sizes}")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*shape parameter of Pareto.*")
        table = az.compare({name: m.posterior for name, m in fits.items()})
    keep = [c for c in ("rank", "elpd", "elpd_diff", "dse", "weight", "p", "se") if c in table.columns]
    k = loo_table(fits).set_index("model")[[f"pareto k > {K_THRESHOLD}", "max pareto k"]]
    return table[keep].join(k)


#: The comparisons the checks call for: baseline, cure fraction, stemness, MRD.
STANDARD_VARIANTS: dict[str, dict] = {
    "Weibull + cure (default)": {},
    "piecewise + cure": {"baseline": "piecewise"},
    "Weibull, no cure": {"cure": False},
    "Weibull + cure, no stemness": {"stemness": None},
    "Weibull + cure, no MRD": {"include_mrd": False},
}


def standard_comparison(cohort, *, priors=None, seed: int = 0, fit_kwargs: dict | None = None,
                        variants: dict[str, dict] | None = None) -> tuple[pd.DataFrame, dict]:
    """Fit the standard variants to one cohort and compare them by LOO.

    Returns
    -------
    (pandas.DataFrame, dict)
        The :func:`compare_models` table and the fitted models by name.
    """
    from relapse_model.common.paths import DEFAULT_PRIORS
    from relapse_model.models import RelapseModel

    kwargs = {"draws": 1000, "tune": 1000, "chains": 4, "progressbar": False, **(fit_kwargs or {})}
    fits = {name: RelapseModel(priors or DEFAULT_PRIORS, **config).fit(cohort, random_seed=seed, **kwargs)
            for name, config in (variants or STANDARD_VARIANTS).items()}
    return compare_models(fits), fits
