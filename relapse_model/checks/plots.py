"""Figures of the model checks, drawn once for the report and for research scripts."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from relapse_model.checks.calibration import calibration_slope_intercept


def draw_calibration(table: pd.DataFrame, ax=None) -> Figure:
    """Observed (with 95% interval) against mean predicted risk per group, the diagonal and the
    fitted calibration line. ``table`` is one entry of :attr:`CheckResults.calibration`; with
    ``ax`` the plot is drawn there (e.g. one panel of a grid)."""
    fit = calibration_slope_intercept(table)
    if ax is None:
        fig = Figure(figsize=(4.8, 4.6), constrained_layout=True)
        ax = fig.subplots()
    else:
        fig = ax.figure
    x, y = table["predicted"].to_numpy(float), table["observed"].to_numpy(float)
    err = np.vstack([y - table["lower"].to_numpy(float), table["upper"].to_numpy(float) - y])
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls=":", label="perfect calibration")
    ax.errorbar(x, y, yerr=np.clip(err, 0, None), fmt="o", color="black", capsize=3, label="groups (95% CI)")
    grid = np.linspace(0, 1, 2)
    ax.plot(grid, fit.intercept + fit.slope * grid, color="tab:red", lw=1.2,
            label=f"slope {fit.slope:.2f}, intercept {fit.intercept:+.2f}")
    what = "event (1 - EFS)" if table.attrs.get("kind", "efs") == "efs" else "relapse"
    horizon = table.attrs.get("horizon", float("nan"))
    probability_axes(ax, f"predicted risk of {what} by {horizon:g} months", "observed risk")
    return fig


def probability_axes(ax, xlabel: str, ylabel: str, legend_fontsize: float = 8) -> None:
    """Label a predicted-against-observed probability plot: both axes on [0, 1], a light grid,
    the legend in the empty upper-left corner (calibration points lie near the diagonal)."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=legend_fontsize, loc="upper left")


def draw_calibration_grid(tables: dict[str, pd.DataFrame]) -> Figure:
    """Every calibration plot in one figure: a row per endpoint (event, relapse), a column per
    horizon. ``tables`` is :attr:`CheckResults.calibration` (keys such as ``"efs_36m"``)."""
    kinds = list(dict.fromkeys(key.split("_")[0] for key in tables))
    horizons = list(dict.fromkeys(key.split("_")[1] for key in tables))
    fig = Figure(figsize=(4.0 * len(horizons), 3.9 * len(kinds)), constrained_layout=True)
    axes = fig.subplots(len(kinds), len(horizons), squeeze=False)
    for r, kind in enumerate(kinds):
        for c, horizon in enumerate(horizons):
            ax = axes[r, c]
            table = tables.get(f"{kind}_{horizon}")
            if table is None:
                ax.set_visible(False)
                continue
            draw_calibration(table, ax=ax)
            ax.set_title(f"{'relapse' if kind == 'relapse' else 'event (1 - EFS)'} by "
                         f"{horizon.removesuffix('m')} months", fontsize=10)
            ax.set_xlabel("predicted risk")
    return fig
