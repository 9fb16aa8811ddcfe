"""Every figure the package draws, from data the checks and simulations return: Kaplan-Meier and
cumulative-incidence curves (estimates from scikit-survival), forest plots of effects, risk by
profile, virtual-trial arm curves, posterior-predictive checks, calibration and SBC ranks.
Each is written as PNG with fixed metadata (the same data give the same bytes)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sksurv.nonparametric import (  # noqa: E402
    cumulative_incidence_competing_risks,
    kaplan_meier_estimator,
)

from relapse_model.checks.plots import draw_calibration, draw_calibration_grid, probability_axes  # noqa: E402
from relapse_model.checks.ppc import CURVES, PPC_LABELS  # noqa: E402
from relapse_model.checks.sbc import SBCResult  # noqa: E402
from relapse_model.cohort.cohort import Cohort  # noqa: E402
from relapse_model.cohort.vocabulary import RISK_GROUPS  # noqa: E402
from relapse_model.common.png import save_png  # noqa: E402
from relapse_model.models.plots import draw_curves, draw_forest  # noqa: E402


def _km_step(ax: plt.Axes, event: np.ndarray, time: np.ndarray, name: str, color: str | None = None) -> str:
    t, s, (lo, hi) = kaplan_meier_estimator(event, time, conf_type="log-log")
    t = np.r_[0.0, t]
    (line,) = ax.step(t, np.r_[1.0, s], where="post", label=f"{name} (n={len(time)})", color=color)
    ax.fill_between(t, np.r_[1.0, lo], np.r_[1.0, hi], step="post", alpha=0.15, color=line.get_color())
    return line.get_color()


#: Months at which numbers at risk are printed under the Kaplan-Meier panels.
AT_RISK_MONTHS = (0, 12, 24, 36, 48, 60, 72, 84, 96)


def _numbers_at_risk(ax: plt.Axes, rows: list[tuple[str, np.ndarray, str]]) -> None:
    """A numbers-at-risk table under ``ax``: one row per curve (name, observed times, colour)."""
    ax.text(-0.01, -0.15, "numbers at risk", transform=ax.transAxes, fontsize=7, ha="left", va="top", color="0.3")
    for r, (name, times, color) in enumerate(rows):
        y = -0.15 - 0.055 * (r + 1)
        ax.text(-0.05, y, name, transform=ax.transAxes, fontsize=7, ha="right", va="top", color=color)
        for m in AT_RISK_MONTHS:
            if m < ax.get_xlim()[1]:
                ax.text(m, y, str(int((times >= m).sum())), transform=ax.get_xaxis_transform(), fontsize=7,
                        ha="center", va="top", color=color)


def outcome_figure(cohort: Cohort, path: str | Path, horizon_months: float = 96.0) -> Path:
    """Three panels: OS and EFS, OS by cytogenetic risk group, cumulative incidence of relapse
    and of death without relapse. Written as PNG; returns the path."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 6.0), constrained_layout=True)
    os_y, efs_y = cohort.survival("os"), cohort.survival("efs")
    at_risk = [("OS", os_y["time"], _km_step(axes[0], os_y["event"], os_y["time"], "overall survival")),
               ("EFS", efs_y["time"], _km_step(axes[0], efs_y["event"], efs_y["time"], "event-free survival"))]
    axes[0].set_title("Survival after first relapse")

    groups = cohort.data["risk_group"].astype(str).to_numpy()
    by_group = []
    for g in RISK_GROUPS:
        mask = groups == g
        if mask.sum() >= 5:
            by_group.append((g, os_y["time"][mask], _km_step(axes[1], os_y["event"][mask], os_y["time"][mask], g)))
    axes[1].set_title("Overall survival by cytogenetic risk group")

    time, cause = cohort.competing_risks()
    t, cif = cumulative_incidence_competing_risks(cause, time)
    for k, name in ((1, "second relapse / refractory"), (2, "death without relapse")):
        axes[2].step(np.r_[0.0, t], np.r_[0.0, cif[k]], where="post", label=name)
    axes[2].set_title("Cumulative incidence (competing risks)")

    for ax in axes:
        ax.set_xlim(0, horizon_months)
        ax.set_ylim(0, 1)
        ax.set_xlabel("months since first relapse")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper right")
    axes[0].set_ylabel("probability")
    for ax in axes:
        ax.set_xticks(AT_RISK_MONTHS)
    for ax, rows in ((axes[0], at_risk), (axes[1], by_group)):
        _numbers_at_risk(ax, rows)
    fig.get_layout_engine().set(w_pad=0.3, rect=(0.02, 0.16, 0.98, 0.84))
    fig.suptitle(f"{Path(cohort.source).name}: {len(cohort)} patients", fontsize=11)
    saved = save_png(fig, path, dpi=150)
    plt.close(fig)
    return saved


def forest_figure(effects: pd.DataFrame, path: str | Path) -> Path:
    """Forest plot of every effect (:func:`relapse_model.models.plots.draw_forest`) as PNG."""
    return save_png(draw_forest(effects), path, dpi=150)


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
    saved = save_png(fig, path, dpi=150)
    plt.close(fig)
    return saved


def arm_curves_figure(curves: xr.Dataset, path: str | Path, title: str) -> Path:
    """Model-based event-free survival and relapse incidence per trial arm with 95% bands
    (:func:`relapse_model.models.plots.draw_curves`), from randomisation at (0, 1)."""
    names = [n for n in ("event_free_survival", "relapse_incidence") if f"arm_{n}" in curves]
    return save_png(draw_curves(curves, names, by="arm", prefix="arm_", title=title,
                                xlabel="months since randomisation"), path, dpi=150)


def ppc_figure(ds: xr.Dataset, path: str | Path) -> Path:
    """Observed curves over the replicate 95% bands: one row per group, one column per curve.

    ``cif_death`` is drawn only for competing-risk data. Written as PNG with fixed metadata
    (the same Dataset gives the same bytes); returns the path.
    """
    curves = [c for c in CURVES if c != "cif_death" or ds.attrs.get("competing", 1)]
    groups = [str(g) for g in ds["group"].to_numpy()]
    fig = Figure(figsize=(4.2 * len(curves), 3.2 * len(groups)), constrained_layout=True)
    axes = fig.subplots(len(groups), len(curves), squeeze=False)
    t = ds["time"].to_numpy()
    for gi, group in enumerate(groups):
        for ci, curve in enumerate(curves):
            ax = axes[gi, ci]
            sel = ds.isel(group=gi)
            band = sel[curve]
            ax.fill_between(t, band.sel(estimate="lower"), band.sel(estimate="upper"), step="post", alpha=0.3,
                            color="tab:blue", label="replicates, 95% band")
            ax.step(t, band.sel(estimate="mean"), where="post", color="tab:blue", lw=1, ls="--",
                    label="replicate mean")
            ax.step(t, sel[f"{curve}_observed"], where="post", color="black", lw=1.5, label="observed")
            outside = float(sel[f"{curve}_fraction_outside"])
            title = f"{group} (n={int(sel['n_patients'])}): {PPC_LABELS[curve]}\n{outside:.0%} outside the band"
            if curve == "efs":
                title += f", p at {ds.attrs.get('horizon', 60):g} months = {float(sel['efs_p_value_horizon']):.3f}"
            ax.set_title(title, fontsize=9)
            ax.set_ylim(0, 1)
            ax.set_xlabel("months since first relapse")
            ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7, loc="upper right")
    fig.suptitle(f"Posterior-predictive check, {ds.attrs.get('n_replicates', '?')} replicates", fontsize=11)
    return save_png(fig, path)


def calibration_figure(table: pd.DataFrame, path: str | Path) -> Path:
    """One calibration plot (:func:`relapse_model.checks.plots.draw_calibration`) as PNG."""
    return save_png(draw_calibration(table), path)


def calibration_grid_figure(tables: dict[str, pd.DataFrame], path: str | Path) -> Path:
    """Every calibration plot in one grid (:func:`relapse_model.checks.plots.draw_calibration_grid`) as PNG."""
    return save_png(draw_calibration_grid(tables), path)


def sbc_figure(result: SBCResult, path: str | Path) -> Path:
    """ECDF of the normalised ranks minus the uniform CDF, per parameter, with a 95% pointwise
    binomial band (Säilynoja et al. 2022 use simultaneous bands; pointwise is narrower)."""
    n = len(result.ranks)
    grid = np.linspace(0, 1, 101)
    half = 1.96 * np.sqrt(grid * (1 - grid) / max(n, 1))
    names = list(result.ranks.columns)
    cols = 4
    fig, axes = plt.subplots(-(-len(names) // cols), cols, figsize=(3.2 * cols, 2.4 * -(-len(names) // cols)),
                             squeeze=False, constrained_layout=True)
    for ax, name in zip(axes.ravel(), names):
        u = (result.ranks[name].to_numpy() + 0.5) / (result.n_posterior + 1)
        ecdf = (u[None, :] <= grid[:, None]).mean(axis=1)
        ax.fill_between(grid, -half, half, color="grey", alpha=0.3)
        ax.plot(grid, ecdf - grid)
        ax.axhline(0, color="black", lw=0.5)
        ax.set_title(name, fontsize=8)
    for ax in axes.ravel()[len(names):]:
        ax.set_visible(False)
    fig.suptitle(f"SBC: ECDF difference of ranks, {n} replications, L = {result.n_posterior}", fontsize=10)
    saved = save_png(fig, path)
    plt.close(fig)
    return saved


#: Readable names of the pathway model's states (relapse_model/models/pathway/predict.py STATES).
STATE_LABELS = {"reinduction": "re-induction (before the assessment)", "remission": "in remission, not transplanted",
                "transplanted": "transplanted from remission", "relapsed_refractory": "relapsed or refractory, alive",
                "dead": "dead"}


def occupation_figure(ds: xr.Dataset, path: str | Path) -> Path:
    """One panel per state of the pathway model: the observed occupation (Aalen-Johansen, black
    steps) over the model's posterior-predictive 95% band and mean. ``ds`` is from
    :func:`relapse_model.checks.state_occupation.compare_occupation`."""
    states = [str(s) for s in ds["state"].to_numpy()]
    fig = Figure(figsize=(3.2 * len(states), 3.6), constrained_layout=True)
    axes = fig.subplots(1, len(states), sharey=True)
    t = ds["time"].to_numpy().astype(float)
    for ax, state in zip(np.atleast_1d(axes), states):
        pred = ds["predicted"].sel(state=state)
        ax.fill_between(t, pred.sel(estimate="lower"), pred.sel(estimate="upper"), color="tab:blue", alpha=0.25,
                        label="model, 95% band")
        ax.plot(t, pred.sel(estimate="mean"), color="tab:blue", lw=1.2, label="model, mean")
        ax.plot(t, ds["observed"].sel(state=state), color="black", lw=1.3, label="observed (Aalen-Johansen)")
        ax.set_title(STATE_LABELS.get(state, state), fontsize=9)
        ax.set_xlabel("months from first relapse")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("probability of being in the state")
    np.atleast_1d(axes)[0].legend(fontsize=7, loc="upper right")
    return save_png(fig, path)


def response_calibration_figure(table: pd.DataFrame, path: str | Path) -> Path:
    """Observed share responding (Wilson 95% interval) against mean predicted P(response) per
    group, with the diagonal."""
    fig = Figure(figsize=(4.8, 4.6), constrained_layout=True)
    ax = fig.subplots()
    x, y = table["predicted"].to_numpy(float), table["observed"].to_numpy(float)
    err = np.vstack([y - table["lower"].to_numpy(float), table["upper"].to_numpy(float) - y])
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls=":", label="perfect calibration")
    ax.errorbar(x, y, yerr=np.clip(err, 0, None), fmt="o", color="black", capsize=3, label="groups (95% CI)")
    probability_axes(ax, "predicted probability of response (CR2/CRi)", "observed share responding")
    return save_png(fig, path)


def landmark_figure(table: pd.DataFrame, path: str | Path) -> Path:
    """Predicted against observed (Kaplan-Meier from the landmark, 95% interval) probability per
    state at the landmark, quantity and horizon: the check by transplant status."""
    fig = Figure(figsize=(5.2, 4.8), constrained_layout=True)
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls=":", label="perfect calibration")
    markers = {"os": "o", "efs": "s"}
    for k, (state, part) in enumerate(table.groupby("state", sort=False)):
        color = f"C{k}"
        for quantity, rows in part.groupby("quantity", sort=False):
            y = rows["observed"].to_numpy(float)
            err = np.vstack([y - rows["lower"].to_numpy(float), rows["upper"].to_numpy(float) - y])
            ax.errorbar(rows["predicted"].to_numpy(float), y, yerr=np.clip(err, 0, None), fmt=markers.get(quantity, "o"),
                        color=color, capsize=3, label=f"{STATE_LABELS.get(state, state)}: {quantity.upper()} "
                        f"(n={int(rows['n'].iloc[0])})")
            for x_, y_, h in zip(rows["predicted"], y, rows["horizon"]):
                ax.annotate(f"{h:g} mo", (x_, y_), xytext=(4, -9), textcoords="offset points", fontsize=6.5,
                            color=color)
    probability_axes(ax, f"predicted probability given the state at {table.attrs.get('landmark', float('nan')):g} months",
                     "observed (Kaplan-Meier from the landmark)", legend_fontsize=6.5)
    return save_png(fig, path)
