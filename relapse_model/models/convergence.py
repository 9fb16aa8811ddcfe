"""Sampler health: R-hat, bulk and tail ESS, divergences and E-BFMI (via ArviZ), gated."""

from __future__ import annotations

from dataclasses import dataclass

# ArviZ's statistics half (``az.rhat`` is ``arviz_stats.rhat``): ``import arviz`` also loads its
# plotting half and Matplotlib, a second a fit does not need
import arviz_stats as az
import numpy as np
import pandas as pd
import xarray as xr

from relapse_model.common.display import readable, render_table


@dataclass(frozen=True)
class Thresholds:
    """Pass/fail limits (Vehtari et al. 2021 for R-hat and ESS; Betancourt 2016 for E-BFMI)."""

    max_rhat: float = 1.01
    min_ess_bulk: float = 400.0
    min_ess_tail: float = 400.0
    max_divergences: int = 0
    min_bfmi: float = 0.3


def _as_dataset(result: xr.Dataset | xr.DataTree) -> xr.Dataset:
    # ArviZ 1 returns a DataTree node for diagnostics computed on a DataTree
    return result.to_dataset() if isinstance(result, xr.DataTree) else result


def _extreme(result: xr.Dataset | xr.DataTree, fn) -> float:
    ds = _as_dataset(result)
    values = [np.asarray(v.to_numpy(), dtype=float).ravel() for v in ds.data_vars.values()]
    values = np.concatenate([v[np.isfinite(v)] for v in values]) if values else np.array([])
    return float(fn(values)) if values.size else float("nan")


def convergence_table(idata: xr.DataTree, thresholds: Thresholds | None = None,
                      var_names: list[str] | None = None) -> pd.DataFrame:
    """One row per diagnostic: value, threshold and whether it passed.

    Parameters
    ----------
    idata : xarray.DataTree
        Result of sampling, with ``posterior`` and ``sample_stats`` groups.
    thresholds : Thresholds, optional
    var_names : list of str, optional
        Parameters to check (default: every variable of the posterior).
    """
    t = thresholds or Thresholds()
    rhat = _extreme(az.rhat(idata, var_names=var_names), np.max)
    ess_bulk = _extreme(az.ess(idata, var_names=var_names, method="bulk"), np.min)
    ess_tail = _extreme(az.ess(idata, var_names=var_names, method="tail"), np.min)
    stats = idata["sample_stats"]
    divergences = int(stats["diverging"].sum()) if "diverging" in stats else 0
    bfmi = _extreme(az.bfmi(idata), np.min)
    rows = [
        ("max R-hat", rhat, f"<= {t.max_rhat}", rhat <= t.max_rhat),
        ("min bulk ESS", ess_bulk, f">= {t.min_ess_bulk:g}", ess_bulk >= t.min_ess_bulk),
        ("min tail ESS", ess_tail, f">= {t.min_ess_tail:g}", ess_tail >= t.min_ess_tail),
        ("divergences", float(divergences), f"<= {t.max_divergences}", divergences <= t.max_divergences),
        ("min E-BFMI", bfmi, f">= {t.min_bfmi}", bfmi >= t.min_bfmi),
    ]
    table = pd.DataFrame(rows, columns=["diagnostic", "value", "threshold", "passed"])
    return readable(table, lambda f: render_table(convergence_view(f), "Convergence diagnostics"))


def format_diagnostic(diagnostic: str, value: float) -> str:
    """A diagnostic's value with enough digits to see why a gate failed: R-hat 1.0139 is
    "1.0139" (not "1.01"), 1.004 is "1.0040"; ESS and divergences as whole numbers."""
    if value != value:
        return ""
    if "R-hat" in diagnostic:
        return f"{value:.4f}"
    if "ESS" in diagnostic or diagnostic == "divergences":
        return f"{value:,.0f}"
    return f"{value:.3f}"


def convergence_view(table: pd.DataFrame) -> pd.DataFrame:
    """The convergence table as shown: values by :func:`format_diagnostic`, passed as yes / NO."""
    passed = table["passed"].map(lambda p: p if isinstance(p, str) else ("yes" if p else "NO"))
    return table.assign(value=[format_diagnostic(d, float(v)) for d, v in zip(table["diagnostic"], table["value"])],
                        passed=passed)
