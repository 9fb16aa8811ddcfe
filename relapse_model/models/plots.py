"""Figures of a fitted model, drawn once for the report and for research scripts: the forest
plot of every effect (prior beside posterior) and curves with credible bands.

Each function returns a :class:`matplotlib.figure.Figure` (not registered with pyplot, so a
notebook shows it once and scripts need no display); the report writes them as PNG.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from relapse_model.models.labels import label

#: Ratio ticks of the forest plot (1-2-5 steps, with 0.3 / 0.7 / 1.5 / 3 for narrow ranges).
RATIO_TICKS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0, 7.0, 10.0, 20.0, 50.0, 100.0)
ONE_TWO_FIVE = frozenset((0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0))


def ratio_ticks(lower: float, upper: float) -> list[float]:
    """Ticks for a log ratio axis from ``lower`` to ``upper``: at most about 8, always 1, and at
    least one on each side of 1 that the range reaches."""
    inside = [t for t in RATIO_TICKS if lower <= t <= upper]
    if len(inside) > 8:          # wide ranges: 1-2-5 steps only
        inside = [t for t in inside if t in ONE_TWO_FIVE]
    below = [t for t in RATIO_TICKS if t < 1]
    if lower < 1 and not any(t < 1 for t in inside):
        inside.append(max([t for t in below if t >= lower], default=lower))
    return sorted(set(inside) | {1.0})


def _ratio_axis(ax) -> None:
    lo, hi = ax.get_xlim()
    ax.xaxis.set_major_locator(FixedLocator(ratio_ticks(lo, hi)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.xaxis.set_minor_locator(NullLocator())


def draw_forest(effects: pd.DataFrame) -> Figure:
    """Forest plot of every effect on its ratio scale: posterior median and 95% credible interval
    beside the prior's median and 95% interval, one panel per scale (cure, relapse, death).

    ``effects`` has the columns of :meth:`RelapseModel.hazard_ratios`.
    """
    scales = list(dict.fromkeys(effects["scale"]))
    heights = [max(1.2, 0.32 * (effects["scale"] == s).sum() + 0.6) for s in scales]
    fig = Figure(figsize=(8.5, sum(heights) + 0.4), constrained_layout=True)
    axes = fig.subplots(len(scales), 1, squeeze=False, gridspec_kw={"height_ratios": heights})
    for ax, scale in zip(axes[:, 0], scales):
        part = effects[effects["scale"] == scale].reset_index(drop=True)
        v = {k: part[k].to_numpy(float) for k in ("prior_median", "prior_lower", "prior_upper", "posterior_median",
                                                    "posterior_lower", "posterior_upper")}
        y = np.arange(len(part))[::-1].astype(float)
        ax.errorbar(v["prior_median"], y - 0.18,
                    xerr=[v["prior_median"] - v["prior_lower"], v["prior_upper"] - v["prior_median"]],
                    fmt="s", color="0.6", ms=4, capsize=2, label="prior (95%)")
        ax.errorbar(v["posterior_median"], y + 0.18,
                    xerr=[v["posterior_median"] - v["posterior_lower"], v["posterior_upper"] - v["posterior_median"]],
                    fmt="o", color="C0", ms=4, capsize=2, label="posterior (95% CrI)")
        ax.axvline(1.0, color="k", lw=0.8)
        ax.set_xscale("log")
        _ratio_axis(ax)
        ax.set_yticks(y, [label(c) for c in part["covariate"]])
        ax.set_title(str(scale)[0].upper() + str(scale)[1:], fontsize=10, loc="left")
        ax.grid(axis="x", alpha=0.3)
    axes[0, 0].legend(fontsize=8, loc="best")
    return fig


#: Curves of :meth:`RelapseModel.survival_curves` and of trial arms, in words.
CURVE_LABELS = {"event_free_survival": "event-free survival", "relapse_incidence": "cumulative incidence of relapse",
                "death_without_relapse": "death without relapse", "survival": "survival",
                "cure_probability": "probability of cure"}


def draw_curves(curves: xr.Dataset, names: list[str] | None = None, *, by: str = "group",
                title: str = "", xlabel: str = "months since first relapse", prefix: str = "") -> Figure:
    """Curves with their credible bands, one panel per quantity and one line per ``by`` value.

    Parameters
    ----------
    curves : xarray.Dataset
        Dims ``by`` x ``time`` x ``estimate`` (``mean``, ``lower``, ``upper``), as from
        :meth:`RelapseModel.survival_curves` (``by="group"``) or a trial's arm curves (``by="arm"``).
    names : list of str, optional
        Quantities to draw (default: event-free survival or survival, and relapse incidence).
    prefix : str
        Prefix of the variables in ``curves`` (``"arm_"`` for trial results).

    Every curve starts at time 0 from 1 (survival) or 0 (incidence); each band is drawn lightly
    with its edges in the curve's colour, so overlapping bands stay readable.
    """
    available = [str(v)[len(prefix):] for v in curves.data_vars if str(v).startswith(prefix)]
    if names is None:
        names = [n for n in ("event_free_survival", "survival", "relapse_incidence") if n in available]
    missing = [n for n in names if n not in available]
    if missing:
        raise KeyError(f"not in these curves: {', '.join(missing)} (available: {', '.join(available)})")
    fig = Figure(figsize=(5.5 * len(names), 4.2), constrained_layout=True)
    axes = np.atleast_1d(fig.subplots(1, len(names)))
    t = curves["time"].to_numpy().astype(float)
    ts = np.r_[0.0, t[t > 1e-5]]
    for ax, name in zip(axes, names):
        start = 0.0 if "incidence" in name or name.startswith("death") else 1.0
        for k, value in enumerate(curves[by].to_numpy()):
            band = curves[f"{prefix}{name}"].sel({by: value})
            keep = t > 1e-5

            def series(est: str) -> np.ndarray:
                return np.r_[start, band.sel(estimate=est).to_numpy()[keep]]
            color = f"C{k}"
            ax.plot(ts, series("mean"), color=color, lw=1.6, label=str(value))
            ax.fill_between(ts, series("lower"), series("upper"), color=color, alpha=0.12, linewidth=0)
            for est in ("lower", "upper"):
                ax.plot(ts, series(est), color=color, lw=0.6, alpha=0.7)
        ax.set_ylim(0, 1)
        ax.set_xlim(0, float(ts.max()))
        ax.set_xlabel(xlabel)
        ax.set_title(CURVE_LABELS.get(name, name.replace("_", " ")), fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, title="mean and 95% band", title_fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
