"""Model comparison by PSIS-LOO (ArviZ), with Pareto-k diagnostics in the table.

Every censored and uncensored row is in each fit's pointwise log-likelihood, so the comparison
covers all patients. Models compared must be fitted to the same rows and the same outcome
(e.g. competing-risk models with and without a cure fraction, Weibull vs piecewise baseline,
with vs without stemness or MRD).
"""

from __future__ import annotations

import warnings
from functools import partial

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
                        variants: dict[str, dict] | None = None, workers: int = 1) -> tuple[pd.DataFrame, dict]:
    """Fit the standard variants to one cohort and compare them by LOO.

    ``workers > 1`` fits the variants on that many processes; each fit has seed ``seed``, so
    the fits and the table do not depend on ``workers``.

    Returns
    -------
    (pandas.DataFrame, dict)
        The :func:`compare_models` table and the fitted models by name.
    """
    from relapse_model.common.parallel import map_replications
    from relapse_model.common.paths import DEFAULT_PRIORS

    chosen = variants or STANDARD_VARIANTS
    kwargs = {"draws": 1000, "tune": 1000, "chains": 4, "progressbar": False, **(fit_kwargs or {})}
    fit_one = partial(_fit_variant, configs=list(chosen.values()), cohort=cohort, priors=priors or DEFAULT_PRIORS,
                      seed=seed, fit_kwargs=kwargs)
    fits = dict(zip(chosen, map_replications(fit_one, len(chosen), workers)))
    return compare_models(fits), fits


def _fit_variant(index: int, *, configs: list[dict], cohort, priors, seed: int, fit_kwargs: dict):
    """Fit variant ``index`` (module level, so that worker processes can run it)."""
    from relapse_model.models import RelapseModel
    return RelapseModel(priors, **configs[index]).fit(cohort, random_seed=seed, **fit_kwargs)


# --- models of different observations: compare their leave-one-out predictions of one endpoint --

def loo_weights(posterior) -> tuple[np.ndarray, np.ndarray]:
    """PSIS-LOO importance weights of every draw for every patient, normalised per patient, with
    chains stacked chain-major as in ``parameters()``: ``(weights (S, n), pareto_k (n,))``.

    ``r_eff`` is 1 (draws treated as independent), which makes the Pareto k slightly conservative.
    """
    group = posterior["log_likelihood"].to_dataset()
    (name,) = list(group.data_vars)
    ll = group[name]
    obs = [d for d in ll.dims if d not in ("chain", "draw")]
    log_w, k = ll.azstats.psislw(r_eff=1.0, dim=["chain", "draw"])
    lw = log_w.transpose("chain", "draw", *obs).to_numpy().reshape(-1, ll.sizes[obs[0]])
    lw = lw - lw.max(axis=0)
    w = np.exp(lw)
    return w / w.sum(axis=0), np.asarray(k).ravel()


def loo_efs_accuracy(fits: dict, cohort, horizons=(12.0, 36.0, 60.0)) -> pd.DataFrame:
    """Leave-one-out predictive accuracy of EFS for models fitted to the same patients, whatever
    each model's likelihood (the pathway model's whole paths, a one-step model's first event).

    For each patient, the prediction is the PSIS-LOO expectation over the posterior draws of the
    model's EFS at each horizon, using the model's own pointwise log-likelihood
    (:func:`loo_weights`): an estimate of the prediction from a fit without that patient. The
    predictions are scored against the cohort's observed EFS with scikit-survival's IPCW metrics
    (Harrell's and Uno's C, time-dependent AUC, integrated Brier score;
    :func:`relapse_model.checks.accuracy.accuracy_metrics`), so the models are compared on one
    endpoint and one scale. Each model needs ``efs_draws(cohort, horizons)`` (S, n, H).
    """
    from relapse_model.checks.accuracy import accuracy_metrics

    hs = np.asarray(horizons, dtype=float)
    time, cause = cohort.competing_risks()
    y = np.array(list(zip(cause > 0, time)), dtype=[("event", bool), ("time", float)])
    rows = []
    for name, model in fits.items():
        weights, k = loo_weights(model.posterior)
        efs = model.efs_draws(cohort, hs)
        if efs.shape[:2] != weights.shape:
            raise ValueError(f"{name}: EFS draws {efs.shape[:2]} do not match the LOO weights {weights.shape}")
        loo_efs = np.einsum("sn,snh->nh", weights, efs)
        acc = accuracy_metrics(y, y, 1.0 - loo_efs[:, -1], loo_efs, hs)
        rows.append({"model": name, "harrell_c": acc.harrell_c, "uno_c": acc.uno_c, "mean_auc": acc.mean_auc,
                     "integrated_brier": acc.integrated_brier, f"pareto k > {K_THRESHOLD}": int((k > K_THRESHOLD).sum()),
                     "n": int(len(time))})
    return pd.DataFrame(rows)
