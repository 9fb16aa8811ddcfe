"""Tables as the terminal shows them: each within 100 columns, numbers rounded, blanks blank.

The CSV files and ``--json`` keep every column at full precision; these are the readable forms.
"""

from __future__ import annotations

import pandas as pd

from relapse_model.models.convergence import convergence_view


def _num(value: object, digits: int = 3) -> str:
    if value is None or value == "" or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, str):
        return value
    return f"{value:.{digits}f}"


def _interval(mean: object, lower: object, upper: object) -> str:
    if any(v is None or v == "" or (isinstance(v, float) and v != v) for v in (mean, lower, upper)):
        return ""
    return f"{mean:.2f} ({lower:.2f}-{upper:.2f})"


def loo_view(loo: pd.DataFrame) -> pd.DataFrame:
    """PSIS-LOO: ELPD with its SE, effective parameters, and the patients with high Pareto k."""
    k_col = next(c for c in loo.columns if c.startswith("pareto k >"))
    return pd.DataFrame({"model": loo["model"],
                         "ELPD (SE)": [f"{e:,.1f} ({s:.1f})" for e, s in zip(loo["elpd_loo"], loo["se"])],
                         "p_loo": loo["p_loo"].map(lambda v: f"{v:.1f}"), "patients": loo["n"],
                         k_col: loo[k_col], "max Pareto k": loo["max pareto k"].map(lambda v: f"{v:.2f}")})


PPC_HEADERS = {"efs_fraction_outside": "EFS out", "survival_fraction_outside": "survival out",
               "cif_relapse_fraction_outside": "relapse out", "cif_death_fraction_outside": "death out",
               "efs_p_value_horizon": "p, EFS at horizon", "efs_observed_horizon": "EFS observed",
               "n_patients": "patients"}


def ppc_view(summary: pd.DataFrame) -> pd.DataFrame:
    """The posterior-predictive summary: share of each observed curve outside its 95% band
    ("out"), per group, with the posterior-predictive p-value of EFS at the horizon."""
    frame = summary[(summary["grouping"] == "all") | (summary["group"] != "all")]
    view = pd.DataFrame({"group": [f"{g} risk" if k == "risk_group" else g
                                   for k, g in zip(frame["grouping"], frame["group"])]})
    for col in frame.columns:
        if col in ("grouping", "group"):
            continue
        if col.endswith("fraction_outside"):
            view[PPC_HEADERS.get(col, col)] = frame[col].map(lambda v: "" if v != v else f"{v:.0%}").to_numpy()
        elif col == "n_patients":
            view["patients"] = frame[col].to_numpy()
        else:
            view[PPC_HEADERS.get(col, col.replace("_", " "))] = frame[col].map(_num).to_numpy()
    return view


def calibration_view(summary: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"endpoint": summary["endpoint"],
                         "months": summary["horizon (months)"].map(lambda v: f"{v:g}"),
                         "slope": summary["slope"].map(lambda v: f"{v:.2f}"),
                         "intercept": summary["intercept"].map(lambda v: f"{v:+.2f}"),
                         "chi2": summary["chi2 (slope 1, intercept 0)"].map(lambda v: f"{v:.2f}"),
                         "p value": summary["p value"].map(lambda v: f"{v:.3f}")})


def profiles_view(profiles: pd.DataFrame) -> pd.DataFrame:
    """Risk by profile: model (95% CrI) beside Kaplan-Meier; suppressed cells blank."""
    label = "OS" if "OS, model" in profiles else "EFS"
    view = pd.DataFrame({"profile": profiles["profile"], "patients": profiles["patients"].astype(str)})
    view[f"{label} model (95% CrI)"] = [_interval(*v) for v in zip(profiles[f"{label}, model"],
                                                                     profiles[f"{label} 2.5%"],
                                                                     profiles[f"{label} 97.5%"])]
    view[f"{label} KM"] = profiles[f"{label}, Kaplan-Meier"].map(lambda v: _num(v, 2))
    if "relapse, model" in profiles:
        view["relapse (95% CrI)"] = [_interval(*v) for v in zip(profiles["relapse, model"],
                                                                       profiles["relapse 2.5%"],
                                                                       profiles["relapse 97.5%"])]
    return view


def sensitivity_view(table: pd.DataFrame) -> pd.DataFrame:
    """Assurance under each agent-prior variant, the effect priors as agent-less effect names."""
    view = table.copy()
    view["assurance"] = [f"{a:.3f} ({s:.3f})" for a, s in zip(table["assurance"], table["MC SE"])]
    view = view.drop(columns=["MC SE"]).rename(columns={"assurance": "assurance (SE)"})
    effects = [c for c in view.columns if c not in ("agent prior", "assurance (SE)")]
    agents = {c.rsplit(" ", 1)[0] for c in effects}
    if len(agents) == 1:         # one agent: its name once, in the title; the columns are its effects
        return view.rename(columns=lambda c: _effect_name(c.rsplit(" ", 1)[-1]) if c in effects else c)
    # several agents: one row per agent and effect, one column per prior variant (fits 100 columns)
    long = view.set_index("agent prior").T
    long.insert(0, "effect", [_effect_name(c.rsplit(" ", 1)[-1]) if c in effects else c for c in long.index])
    long.insert(0, "agent", [c.rsplit(" ", 1)[0].replace("_", " ") if c in effects else "all" for c in long.index])
    long.columns.name = None
    return long.reset_index(drop=True)


def print_check_results(results, summary: pd.DataFrame) -> None:
    """What ``check`` prints: convergence, LOO, posterior-predictive summary and calibration."""
    from relapse_model.checks.model_checks import ppc_summary
    from relapse_model.cli.common import print_table

    print_table(convergence_view(results.convergence), "Convergence diagnostics")
    print_table(loo_view(results.loo), "PSIS-LOO (Pareto k > 0.7: that patient's LOO term is unreliable)")
    if results.ppc:
        print_table(ppc_view(ppc_summary(results.ppc)),
                    "Posterior-predictive check: share of each observed curve outside the 95% band")
    print_table(calibration_view(summary), "Calibration (slope 1 and intercept 0 when calibrated)")


def print_report_tables(tables: dict[str, pd.DataFrame], show: tuple[str, ...]) -> None:
    """What ``report`` and ``demo`` print: the tables named in ``show`` and every trial's operating
    characteristics and agent-prior sensitivity, each in its readable form."""
    from relapse_model.cli.common import print_table
    from relapse_model.cli.trials import print_oc

    for key, frame in tables.items():
        title = key.replace("_", " ")
        if key.endswith("_operating_characteristics"):
            print_oc(frame, title.replace("trial ", "", 1))
        elif key.endswith("_agent_prior_sensitivity"):
            print_table(sensitivity_view(frame), title.replace("trial ", "", 1))
        elif key in show:
            view = {"convergence": convergence_view, "risk_profiles": profiles_view, "loo": loo_view}.get(key)
            if key == "risk_profiles":
                title = "risk by profile: model (95% CrI) and Kaplan-Meier (KM)"
            print_table(view(frame) if view else frame, title)


def _effect_name(code: str) -> str:
    """``cure_or`` -> "cure OR", ``relapse_hr`` -> "relapse HR"."""
    head, _, kind = code.rpartition("_")
    return f"{head.replace('_', ' ')} {kind.upper()}" if kind in ("or", "hr") else code.replace("_", " ")
