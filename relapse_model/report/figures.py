"""Figures: Kaplan-Meier and cumulative-incidence curves (estimates from scikit-survival)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
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
