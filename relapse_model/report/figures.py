"""Report figures: Kaplan-Meier and cumulative-incidence curves (estimates from scikit-survival),
forest plots of effects, risk by profile, and virtual-trial arm curves."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402
from sksurv.nonparametric import cumulative_incidence_competing_risks, kaplan_meier_estimator  # noqa: E402

from relapse_model.cohort.cohort import Cohort  # noqa: E402
from relapse_model.cohort.vocabulary import RISK_GROUPS  # noqa: E402
from relapse_model.report.png import save_png  # noqa: E402


def _km_step(ax: plt.Axes, event: np.ndarray, time: np.ndarray, label: str, color: str | None = None) -> None:
    t, s, (lo, hi) = kaplan_meier_estimator(event, time, conf_type="log-log")
    t = np.r_[0.0, t]
    (line,) = ax.step(t, np.r_[1.0, s], where="post", label=f"{label} (n={len(time)})", color=color)
    ax.fill_between(t, np.r_[1.0, lo], np.r_[1.0, hi], step="post", alpha=0.15, color=line.get_color())


def outcome_figure(cohort: Cohort, path: str | Path, horizon_months: float = 96.0) -> Path:
    """Three panels: OS and EFS, OS by cytogenetic risk group, cumulative incidence of relapse
    and of death without relapse. Written as PNG; returns the path."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6), constrained_layout=True)
    os_y, efs_y = cohort.survival("os"), cohort.survival("efs")
    _km_step(axes[0], os_y["event"], os_y["time"], "overall survival")
    _km_step(axes[0], efs_y["event"], efs_y["time"], "event-free survival")
    axes[0].set_title("Survival after first relapse")

    groups = cohort.data["risk_group"].astype(str).to_numpy()
    for g in RISK_GROUPS:
        mask = groups == g
        if mask.sum() >= 5:
            _km_step(axes[1], os_y["event"][mask], os_y["time"][mask], g)
    axes[1].set_title("Overall survival by cytogenetic risk group")

    time, cause = cohort.competing_risks()
    t, cif = cumulative_incidence_competing_risks(cause, time)
    for k, label in ((1, "second relapse / refractory"), (2, "death without relapse")):
        axes[2].step(np.r_[0.0, t], np.r_[0.0, cif[k]], where="post", label=label)
    axes[2].set_title("Cumulative incidence (competing risks)")

    for ax in axes:
        ax.set_xlim(0, horizon_months)
        ax.set_ylim(0, 1)
        ax.set_xlabel("months since first relapse")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper right")
    axes[0].set_ylabel("probability")
    fig.suptitle(f"{Path(cohort.source).name}: {len(cohort)} patients", fontsize=11)
    saved = save_png(fig, path, dpi=110)
    plt.close(fig)
    return saved


def forest_figure(effects: pd.DataFrame, path: str | Path) -> Path:
    """Forest plot of every effect on its ratio scale: posterior median and 95% credible interval
    beside the prior's median and 95% interval, one panel per scale (cure, relapse, death)."""
    scales = list(dict.fromkeys(effects["scale"]))
    heights = [max(1.2, 0.32 * (effects["scale"] == s).sum() + 0.6) for s in scales]
    fig, axes = plt.subplots(len(scales), 1, figsize=(8.5, sum(heights) + 0.4), squeeze=False,
                             gridspec_kw={"height_ratios": heights}, constrained_layout=True)
    for ax, scale in zip(axes[:, 0], scales):
        part = effects[effects["scale"] == scale].reset_index(drop=True)
        y = np.arange(len(part))[::-1].astype(float)
        ax.errorbar(part["prior_median"], y - 0.18,
                    xerr=[part["prior_median"] - part["prior_lower"], part["prior_upper"] - part["prior_median"]],
                    fmt="s", color="0.6", ms=4, capsize=2, label="prior (95%)")
        ax.errorbar(part["posterior_median"], y + 0.18,
                    xerr=[part["posterior_median"] - part["posterior_lower"],
                          part["posterior_upper"] - part["posterior_median"]],
                    fmt="o", color="C0", ms=4, capsize=2, label="posterior (95% CrI)")
        ax.axvline(1.0, color="k", lw=0.8)
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _pos: f"{v:g}" if f"{v:g}"[0] in "25" else ""))
        ax.set_yticks(y, part["covariate"].str.replace("cytogenetics: ", "", regex=False))
        ax.set_title(str(scale), fontsize=10, loc="left")
        ax.grid(axis="x", alpha=0.3)
    axes[0, 0].legend(fontsize=8, loc="best")
    saved = save_png(fig, path, dpi=100)
    plt.close(fig)
    return saved


def profile_figure(profiles: pd.DataFrame, path: str | Path, horizon: float, label: str = "EFS") -> Path:
    """Predicted event-free survival at ``horizon`` by profile (posterior mean, 95% CrI) with
    the observed Kaplan-Meier estimate (columns of :func:`relapse_model.report.content.risk_profiles`);
    profiles with suppressed counts are left out."""
    shown = profiles.dropna(subset=[f"{label}, model"]).reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(8.5, 0.34 * len(shown) + 1.4), constrained_layout=True)
    y = np.arange(len(shown))[::-1].astype(float)
    est = shown[f"{label}, model"]
    ax.errorbar(est, y, xerr=[est - shown[f"{label} 2.5%"], shown[f"{label} 97.5%"] - est],
                fmt="o", color="C0", capsize=2, label="model (95% CrI)")
    ax.plot(shown[f"{label}, Kaplan-Meier"], y, "x", color="C3", label="observed (Kaplan-Meier)")
    ax.set_yticks(y, shown["profile"])
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"{'overall' if label == 'OS' else 'event-free'} survival at {horizon:g} months")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    saved = save_png(fig, path, dpi=100)
    plt.close(fig)
    return saved


def arm_curves_figure(curves: xr.Dataset, path: str | Path, title: str) -> Path:
    """Model-based event-free survival and relapse incidence per trial arm with 95% bands."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    t = curves["time"].to_numpy()
    for key, ax, label in (("event_free_survival", axes[0], "event-free survival"),
                           ("relapse_incidence", axes[1], "cumulative incidence of relapse")):
        for arm in curves["arm"].to_numpy():
            c = curves.sel(arm=arm)
            (line,) = ax.plot(t, c[f"arm_{key}"], label=str(arm))
            ax.fill_between(t, c[f"arm_{key}_lower"], c[f"arm_{key}_upper"], alpha=0.15, color=line.get_color())
        ax.set_ylim(0, 1)
        ax.set_xlim(0, t.max())
        ax.set_xlabel("months since randomisation")
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    saved = save_png(fig, path, dpi=100)
    plt.close(fig)
    return saved
