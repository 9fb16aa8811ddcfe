"""Every figure the report draws: no title, label or tick label outside the figure (what a PNG
would clip), no two panel titles on top of each other, and every text human-readable (no code
such as ``age_per_10y``, ``hsct_cr1`` or ``t8_21``, with or without its underscores)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text

import relapse_model.report.figures as figures
from relapse_model.cohort.bundled import load_bundled
from relapse_model.cohort.vocabulary import CYTOGENETIC_CLASSES
from relapse_model.models.design import COVARIATE_LABELS

#: Codes that must never reach a figure, as codes or with their underscores turned into spaces.
CODES = sorted({*COVARIATE_LABELS, *(c.code for c in CYTOGENETIC_CLASSES if "_" in c.code), "lsc17_z"})


def _texts(fig) -> list[Text]:
    """The texts drawn: visible, non-empty, in a visible axes, and for tick labels only those of
    the ticks within the axis limits (matplotlib keeps labels of ticks beyond them, undrawn)."""
    hidden = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            drawn = {id(label) for tick in axis._update_ticks() for label in (tick.label1, tick.label2)}
            every = [label for which in ("major", "minor") for label in axis.get_ticklabels(which=which)]
            hidden |= {id(label) for label in every if id(label) not in drawn or not ax.get_visible()}
        if not ax.get_visible():
            hidden |= {id(t) for t in ax.findobj(Text)}
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip() and id(t) not in hidden]


def assert_readable_and_unclipped(fig) -> list[str]:
    """Draw ``fig`` and check every visible text; returns the texts (for further checks)."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    bounds = fig.bbox
    texts = _texts(fig)
    clipped, unreadable = [], []
    for t in texts:
        box = t.get_window_extent(renderer)
        if box.x0 < bounds.x0 - 1 or box.y0 < bounds.y0 - 1 or box.x1 > bounds.x1 + 1 or box.y1 > bounds.y1 + 1:
            clipped.append(t.get_text())
        words = t.get_text()
        for code in CODES:
            spaced = code.replace("_", " ")       # "hsct cr1", "t8 21": a code, not words
            if re.search(rf"(?<![\w(]){re.escape(code)}(?!\w)", words) or \
                    (re.search(r"\d", code) and re.search(rf"(?<!\w){re.escape(spaced)}(?!\w)", words)):
                unreadable.append(words)
    assert clipped == [], f"texts outside the figure: {clipped}"
    tight = fig.get_tightbbox(renderer).transformed(fig.dpi_scale_trans)      # everything drawn, in pixels
    assert tight.x0 >= bounds.x0 - 1 and tight.y0 >= bounds.y0 - 1 and tight.x1 <= bounds.x1 + 1 \
        and tight.y1 <= bounds.y1 + 1, f"drawn outside the figure: {tight} vs {bounds}"
    assert unreadable == [], f"codes instead of words: {unreadable}"
    titles = [(ax.title.get_window_extent(renderer), ax.title.get_text()) for ax in fig.axes
              if ax.get_visible() and ax.title.get_text()]
    for i, (a, ta) in enumerate(titles):
        for b, tb in titles[i + 1:]:
            assert not a.overlaps(b), f"titles overlap: {ta!r} and {tb!r}"
    return [t.get_text() for t in texts]


@pytest.fixture
def drawn(monkeypatch):
    """The figures the report's functions would write, captured instead of saved."""
    captured = []
    monkeypatch.setattr(figures, "save_png", lambda fig, path, dpi=150: captured.append(fig) or path)
    return captured


def _effects() -> pd.DataFrame:
    rows = []
    for scale, covs in (("odds ratio of cure", ["early_relapse", "age_per_10y", "hsct_cr1", "lsc17_z",
                                                  "stemness_missing", "mrd_unknown"]),
                        ("hazard ratio of death without relapse", ["hsct_cr1", "age_per_10y"]),
                        ("odds ratio of cure vs intermediate risk", [f"cytogenetics: {c.code}"
                                                                       for c in CYTOGENETIC_CLASSES[:5]])):
        for k, cov in enumerate(covs):
            m = 0.6 + 0.1 * k
            rows.append({"covariate": cov, "scale": scale, "posterior_median": m, "posterior_lower": m * 0.7,
                         "posterior_upper": m * 1.4, "prior_median": 1.0, "prior_lower": 0.6, "prior_upper": 1.7})
    return pd.DataFrame(rows)


def test_forest_plot_is_readable_with_ratio_ticks_below_one(drawn):
    figures.forest_figure(_effects(), "forest.png")
    texts = assert_readable_and_unclipped(drawn[0])
    for ax in drawn[0].axes:        # every panel's range lies below 1 in part: a labelled tick below 1
        labels = [float(t.get_text()) for t in ax.get_xticklabels() if t.get_text()]
        assert any(v < 1 for v in labels) and 1.0 in labels, labels
    assert "age (per 10 years)" in texts and "Odds ratio of cure" in texts


def test_cohort_outcome_figure_with_numbers_at_risk_is_unclipped(drawn):
    figures.outcome_figure(load_bundled("bfm_like"), "outcomes.png")
    texts = assert_readable_and_unclipped(drawn[0])
    assert "numbers at risk" in texts


def _band(rng, n_groups, n_t, start, rising):
    mean = np.linspace(start, 0.6 if rising else 0.35, n_t)
    return np.stack([np.stack([mean, mean - 0.08, mean + 0.08], axis=-1)] * n_groups)


def test_trial_arm_curves_start_at_randomisation_and_are_unclipped(drawn):
    t = np.arange(1.0, 95.0, 3.0)
    rng = np.random.default_rng(0)
    curves = xr.Dataset({"arm_event_free_survival": (("arm", "time", "estimate"), _band(rng, 2, t.size, 0.9, False)),
                         "arm_relapse_incidence": (("arm", "time", "estimate"), _band(rng, 2, t.size, 0.1, True))},
                        coords={"arm": ["FLAG-Ida", "FLAG-Ida + gemtuzumab ozogamicin"], "time": t,
                                "estimate": ["mean", "lower", "upper"]})
    figures.arm_curves_figure(curves, "arms.png", "FLAG-Ida +/- gemtuzumab ozogamicin, CD33-positive first relapse")
    assert_readable_and_unclipped(drawn[0])
    efs, relapse = drawn[0].axes[:2]
    assert efs.lines[0].get_xydata()[0].tolist() == [0.0, 1.0]        # from (0, 1), not from the first time
    assert relapse.lines[0].get_xydata()[0].tolist() == [0.0, 0.0]


def test_posterior_predictive_panels_titles_fit_their_panels(drawn):
    t = np.linspace(0, 96, 25)
    groups = ["all", "intermediate", "LSC17 missing", "no prior HSCT"]
    data = {"n_patients": ("group", np.array([200, 43, 80, 190])),
            "efs_p_value_horizon": ("group", np.full(4, 0.5)), "efs_observed_horizon": ("group", np.full(4, 0.3))}
    for curve in ("efs", "cif_relapse", "cif_death"):
        band = _band(None, 4, t.size, 1.0 if curve == "efs" else 0.0, curve != "efs")
        data[curve] = (("group", "time", "estimate"), band)
        data[f"{curve}_observed"] = (("group", "time"), band[..., 0])
        data[f"{curve}_fraction_outside"] = ("group", np.full(4, 0.03))
    ds = xr.Dataset(data, coords={"group": groups, "time": t, "estimate": ["mean", "lower", "upper"]},
                    attrs={"competing": 1, "horizon": 60, "n_replicates": 200})
    figures.ppc_figure(ds, "ppc.png")
    assert_readable_and_unclipped(drawn[0])


def _calibration_table(kind: str, horizon: float) -> pd.DataFrame:
    predicted = np.linspace(0.2, 0.8, 5)
    table = pd.DataFrame({"predicted": predicted, "observed": predicted + 0.02, "lower": predicted - 0.1,
                          "upper": predicted + 0.12, "se": np.full(5, 0.05), "n": np.full(5, 40)})
    table.attrs.update({"kind": kind, "horizon": horizon})
    return table


def test_calibration_plots_form_one_grid_of_endpoints_by_horizon(drawn):
    tables = {f"{kind}_{h:g}m": _calibration_table(kind, h) for kind in ("efs", "relapse") for h in (12, 36, 60)}
    figures.calibration_grid_figure(tables, "calibration.png")
    fig = drawn[0]
    assert_readable_and_unclipped(fig)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 6
    rows = {round(ax.get_position().y0, 3) for ax in visible}
    cols = {round(ax.get_position().x0, 3) for ax in visible}
    assert len(rows) == 2 and len(cols) == 3        # 2 x 3, not six plots in one narrow column


def test_risk_profile_figure_is_unclipped(drawn):
    profiles = pd.DataFrame({"profile": ["favourable, MRD unknown", "intermediate, MRD-", "adverse, MRD+"],
                             "patients": [9, 17, 12], "EFS, model": [0.25, 0.58, 0.26], "EFS 2.5%": [0.12, 0.45, 0.14],
                             "EFS 97.5%": [0.41, 0.70, 0.40], "EFS, Kaplan-Meier": [0.22, 0.59, 0.38]})
    figures.profile_figure(profiles, "profiles.png", 36)
    assert_readable_and_unclipped(drawn[0])


def test_plot_helpers_return_the_reports_figures(small_fit):
    """model.plot_effects() and model.plot_survival_curves(...) give the report's figures in one
    line, readable and unclipped; the curves start at (0, 1)."""
    fig = small_fit.plot_effects()
    assert len(fig.axes) == len(set(small_fit.hazard_ratios()["scale"]))
    assert_readable_and_unclipped(fig)
    curves = small_fit.plot_survival_curves("risk_group", times=[0, 12, 36, 60], names=["event_free_survival"])
    texts = assert_readable_and_unclipped(curves)
    assert {"adverse", "favourable", "intermediate", "unknown"} <= set(texts)
    assert curves.axes[0].lines[0].get_xydata()[0].tolist() == [0.0, 1.0]
    with pytest.raises(KeyError, match="not in these curves: overall_survival"):
        small_fit.plot_survival_curves("risk_group", times=[12], names=["overall_survival"])
