"""What a clinician reads about a virtual trial: its design as a table, and one plain sentence
per operating characteristic saying what the number means."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from relapse_model.simulate.engine import spec_boundaries
from relapse_model.simulate.spec import (
    MasterProtocolSpec,
    MultiArmSpec,
    ProgrammeSpec,
    SingleArmSpec,
    TrialSpec,
)

_TESTS = {"logrank": "log-rank test", "cox": "Cox model (Wald z)", "rmst": "difference in restricted mean survival",
          "bayes": "Bayesian posterior probability of benefit", "proportions": "two-proportion z test"}
ENDPOINT_TEXT = {
    "efs": "event-free survival (second relapse, refractory disease or death)",
    "os": "overall survival",
    "relapse": "relapse or refractory disease (death before it censored)",
    "response": "response (CR2 / CRi) at the re-induction assessment",
    "mrd_negative_response": "MRD-negative response (CR2 / CRi with MRD negative) at the re-induction assessment",
}


def _bayes_rule(a, quantity: str, attrs: dict | None) -> str:
    if not a.calibrate:
        return f"success if {quantity} >= {a.bayes_threshold:g}"
    value = (attrs or {}).get("calibrated_threshold")
    shown = f" ({value:.4f}, from {attrs['calibration_trials']:,} simulated null trials)" if value else ""
    return f"success if {quantity} >= a threshold calibrated to one-sided alpha {a.alpha:g}{shown}"


def borrowing_text(spec: TrialSpec, attrs: dict | None = None) -> str:
    """The control arm's borrowed analysis prior in words ("" without borrowing); ``attrs`` of the
    simulation results add its effective sample sizes."""
    b = getattr(spec.analysis, "borrowing", None)
    if b is None:
        return ""
    attrs = attrs or {}
    unit = attrs.get("control_prior_ess_unit", "events" if not spec.binary else "patients")
    informative = f" (ESS {attrs['informative_prior_ess']:.0f} {unit})" if "informative_prior_ess" in attrs else ""
    mixture = f"; ESS of the mixture {attrs['control_prior_ess']:.1f} {unit}" if "control_prior_ess" in attrs else ""
    if spec.binary:
        what = "its posterior of the standard-care response rate in the trial's population as a Beta mixture"
        vague = f"a vague Beta({b.vague[0]:g}, {b.vague[1]:g})"
    else:
        pieces = ", ".join(f"{lo:g}-{hi:g}" for lo, hi in zip(b.edges[:-1], b.edges[1:]))
        what = (f"its posterior of the standard-care hazards on the pieces {pieces} months in the trial's "
                "population as a Gamma mixture")
        vague = f"a vague component worth {b.vague_events:g} event{'s' if b.vague_events != 1 else ''}"
    return f"borrowed from the fitted model: weight {b.weight:g} on {what}{informative}, {1 - b.weight:g} on {vague}" \
        + mixture


def _analysis(spec: TrialSpec, attrs: dict | None = None) -> str:
    a = spec.analysis
    if spec.binary:
        test = ("Cochran-Mantel-Haenszel test stratified by " + spec.stratify if spec.stratify and
                a.primary == "proportions" else _TESTS[a.primary])
        priors = " (uniform priors)" if a.borrowing is None else " (uniform prior on the experimental rate)"
        rule = (_bayes_rule(a, "P(higher response rate)", attrs) + priors if a.primary == "bayes"
                else f"one-sided alpha {a.alpha:g}")
        return f"{test}, {rule}, when every patient has been assessed (at most {a.max_months:g} months)"
    when = (f"after {a.events} events" if a.timing == "events" else f"{a.months:g} months after the first patient")
    if a.primary == "bayes":
        rule = _bayes_rule(a, "P(HR < 1)", attrs)
    else:
        rule = f"one-sided alpha {a.alpha:g}"
    test = (f"{'log-rank test' if a.primary == 'logrank' else _TESTS[a.primary]} stratified by {spec.stratify}"
            if spec.stratify else _TESTS[a.primary])
    if a.borrowing is not None:
        test = (f"piecewise-exponential proportional-hazards model (pieces up to {a.borrowing.edges[-1]:g} months, "
                "flat prior on log HR)")
    return f"{test}, {rule}, {when} (at most {a.max_months:g} months)"


def _looks(spec: TrialSpec) -> str:
    if spec.interim is None:
        return "one analysis"
    fractions = ", ".join(f"{f:.0%}" for f in spec.interim.fractions)
    bounds = spec_boundaries(spec)
    if bounds is None:
        return f"looks at {fractions} of the information, same Bayesian rule at each"
    eff = ", ".join(f"{z:.2f}" for z in bounds.efficacy)
    text = f"looks at {fractions} of the information; efficacy z >= {eff} ({spec.interim.spending.upper()} spending)"
    if spec.interim.futility is not None:
        text += "; futility z < " + ", ".join(f"{z:.2f}" for z in spec.interim.futility)
    return text


def _accrual(spec) -> str:
    rates, breaks = spec.accrual.as_rates
    return (f"{rates[0]:g} patients per month" if len(rates) == 1 else
            ", ".join(f"{r:g}/month" + (f" until month {b:g}" if b is not None else "")
                      for r, b in zip(rates, [*breaks, None])))


def single_arm_design_table(spec: SingleArmSpec, attrs: dict) -> pd.DataFrame:
    """A single-arm design in rows, with the null rate used and the design's exact error rates."""
    source = (f"the fitted model's standard-care rate in the eligible population (95% interval "
              f"{attrs['standard_care_rate_lower']:.0%}-{attrs['standard_care_rate_upper']:.0%})"
              if attrs["p0_source"] == "model" else "the specification")
    rows = [
        ("arm", spec.arm.name + (f" (adds {', '.join(spec.arm.add)})" if spec.arm.add else "")),
        ("virtual patients", str(attrs.get("population", ""))),
        ("primary endpoint", ENDPOINT_TEXT[spec.endpoint]),
        ("design", str(attrs["design"])),
        ("null response rate p0", f"{attrs['p0']:.1%} from {source}"),
        ("target response rate p1", f"{attrs['p1']:.1%}"),
        ("exact type-I error at p0 / power at p1",
         f"{attrs['exact_type1']:.3f} (nominal {attrs['alpha']:g}) / {attrs['exact_power']:.3f}"),
        ("accrual", _accrual(spec) + "; suspended at each interim look until its patients are assessed"),
        ("dropout", f"{spec.dropout.rate:g} per month (a patient lost before the assessment counts as not "
                    "responding)" if spec.dropout.rate else "none"),
    ]
    return pd.DataFrame(rows, columns=["design", "value"])


def _eligibility(sub) -> str:
    if sub.eligible == "rest":
        return "everyone not routed to another subtrial"
    return " or ".join(f"{c.column} = {c.equals}" if c.in_ is None else f"{c.column} in {', '.join(c.in_)}"
                       for c in sub.eligible)


def master_design_table(spec: MasterProtocolSpec, attrs: dict) -> pd.DataFrame:
    """A master protocol in rows: screening, routing, and each subtrial's eligibility and design."""
    shares = json.loads(attrs.get("routing_shares", "{}"))
    sub_attrs = json.loads(attrs.get("subtrial_attrs", "{}"))
    rows = [("virtual patients", str(attrs.get("population", ""))),
            ("screening", f"{spec.screening_rate:g} patients per month"),
            ("patients eligible for several subtrials", {"first": "go to the first listed", "random":
                                                         "go to one of them at random", None: "none"}[spec.routing])]
    for sub in spec.subtrials:
        own = sub_attrs.get(sub.name, {})
        if isinstance(sub.trial, SingleArmSpec):
            what = f"single arm, {own.get('design', sub.trial.design.method)}"
        else:
            what = (f"{' vs '.join(a.name for a in sub.trial.arms)}, {sub.trial.sample_size} patients; "
                    f"{_analysis(sub.trial)}")
        rows.append((f"subtrial {sub.name} ({shares.get(sub.name, float('nan')):.0%} routed)",
                     f"{_eligibility(sub)}; endpoint {sub.trial.endpoint}; {what}"))
    return pd.DataFrame(rows, columns=["design", "value"])


def multi_arm_design_table(spec: MultiArmSpec, attrs: dict) -> pd.DataFrame:
    """A multi-arm trial in rows: arms, allocation, the comparisons' test and critical value."""
    test = "two-proportion z test" if spec.binary else "log-rank test"
    crit = attrs.get("critical_value")
    rule = {"dunnett": "Dunnett's critical value", "bonferroni": "Bonferroni's critical value",
            "none": "no multiplicity correction"}[spec.multiplicity]
    looks = "one analysis"
    if spec.interim is not None:
        looks = "interim looks at " + ", ".join(f"{f:.0%}" for f in spec.interim.fractions[:-1]) + " of the information"
        if spec.interim.futility is not None:
            looks += ", dropping an arm when its z < " + ", ".join(f"{z:g}" for z in spec.interim.futility)
        bounds = attrs.get("efficacy_bounds")
        if spec.efficacy_stopping != "none" and bounds is not None:
            looks += (f"; an arm is declared and stops when its z >= {', '.join(f'{z:.3f}' for z in bounds[:-1])} "
                      f"({spec.efficacy_stopping} shape; futility non-binding)")
    rows = [
        ("arms (control first)", " vs ".join(a.name for a in spec.arms)),
        ("allocation", ":".join(str(r) for r in spec.ratio) + " (permuted blocks)"),
        ("sample size", f"{spec.sample_size} patients"),
        ("virtual patients", str(attrs.get("population", ""))),
        ("accrual", _accrual(spec)),
        ("dropout", f"{spec.dropout.rate:g} per month" if spec.dropout.rate else "none"),
        ("primary endpoint", ENDPOINT_TEXT[spec.endpoint]),
        ("analysis", f"each arm against control by {test}; {rule}" + (f" z >= {crit:.3f}" if crit else "")
         + f", family-wise one-sided alpha {spec.analysis.alpha:g}"),
        ("interim looks", looks),
    ]
    return pd.DataFrame(rows, columns=["design", "value"])


def programme_design_table(spec: ProgrammeSpec, attrs: dict) -> pd.DataFrame:
    """A programme in rows: each phase's design, prefixed by the phase."""
    phase_attrs = json.loads(attrs.get("phase_attrs", "{}"))
    tables = []
    for phase, trial in (("phase 2", spec.phase2), ("phase 3", spec.phase3)):
        table = design_table(trial, {k: (np.asarray(v) if isinstance(v, list) else v) for k, v in
                                     phase_attrs.get(phase.replace(" ", ""), {}).items()})
        tables.append(table.assign(design=f"{phase}: " + table["design"]))
    rule = pd.DataFrame([("programme", "phase 3 runs after a phase 2 go; both phases share each simulated "
                                       "programme's posterior draw and agent effect")], columns=["design", "value"])
    return pd.concat([rule, *tables], ignore_index=True)


def design_table(spec: TrialSpec, attrs: dict | None = None) -> pd.DataFrame:
    """The trial's design in rows a clinician can check against a protocol (``attrs``: those of
    the simulation results, needed for a single-arm design whose null comes from the model)."""
    if isinstance(spec, ProgrammeSpec):
        return programme_design_table(spec, attrs or {})
    if isinstance(spec, MultiArmSpec):
        return multi_arm_design_table(spec, attrs or {})
    if isinstance(spec, MasterProtocolSpec):
        return master_design_table(spec, attrs or {})
    if isinstance(spec, SingleArmSpec):
        return single_arm_design_table(spec, attrs or {})
    arms = " vs ".join(arm.name for arm in spec.arms)
    accrual = _accrual(spec)
    rows = [
        ("arms (control first)", arms),
        ("allocation", ":".join(str(a) for a in spec.allocation)
         + (" (permuted-block randomisation)" if spec.randomisation == "blocks" else " (simple randomisation)")),
        ("sample size", f"{spec.sample_size} patients"),
        ("accrual", accrual),
        ("dropout", f"{spec.dropout.rate:g} per month" if spec.dropout.rate else "none"),
        ("primary endpoint", ENDPOINT_TEXT[spec.endpoint]),
        ("analysis", _analysis(spec, attrs)),
        ("interim looks", _looks(spec)),
    ]
    if spec.analysis.borrowing is not None:
        rows.append(("control arm's analysis prior", borrowing_text(spec, attrs)))
    return pd.DataFrame(rows, columns=["design", "value"])


def _pct(p: float) -> str:
    return f"{100 * p:.0f}%" if p >= 0.01 else f"{100 * p:.1f}%"


def _agents(codes) -> str:
    """Agents' file names in words: ``gemtuzumab_ozogamicin`` -> "gemtuzumab ozogamicin"."""
    return " + ".join(str(code).replace("_", " ") for code in codes)


def plain_language(oc: pd.DataFrame, spec: TrialSpec) -> list[str]:
    """One sentence per scenario of the operating characteristics."""
    if isinstance(spec, ProgrammeSpec):
        return _programme_sentences(oc, spec)
    if isinstance(spec, MasterProtocolSpec):
        return _protocol_sentences(oc, spec)
    if isinstance(spec, MultiArmSpec):
        return _multi_arm_sentences(oc, spec)
    if isinstance(spec, SingleArmSpec):
        return _single_arm_sentences(oc, spec)
    n, added = spec.sample_size, _agents(a for arm in spec.arms[1:] for a in arm.add) or "the change"
    out = []
    for row in oc.itertuples(index=False):
        p, size, months = row[oc.columns.get_loc("P(success)")], row[oc.columns.get_loc("E[sample size]")], \
            row[oc.columns.get_loc("E[duration, months]")]
        if row.scenario == "assurance":
            out.append(f"Averaged over the model's uncertainty and the prior of {added}'s effect, a trial of {n} "
                       f"patients would show benefit with probability {_pct(p)} (assurance).")
        elif row.scenario == "power":
            out.append(f"If {added} had exactly its prior median effect, the trial would show benefit with "
                       f"probability {_pct(p)} (power); on average it would enrol {size:.0f} patients and last "
                       f"{months:.0f} months.")
        else:
            out.append(f"If {added} had no effect, the trial would still declare benefit with probability "
                       f"{_pct(p)} (type-I error; its design states one-sided {spec.analysis.alpha:g}).")
            if "prior-data conflict (p < 0.05)" in oc.columns:
                out.append(f"The control arm's data conflicted with the prior borrowed from the model (Box's p < 0.05) "
                           f"in {_pct(row[oc.columns.get_loc('prior-data conflict (p < 0.05)')])} of these trials; "
                           "if today's standard care does better than the model says, borrowing inflates the "
                           "type-I error (see the drift sweep).")
    return out


def _single_arm_sentences(oc: pd.DataFrame, spec: SingleArmSpec) -> list[str]:
    added = _agents(spec.arm.add) or "the regimen"
    out = []
    for row in oc.to_dict("records"):
        p, size = row["P(success)"], row["E[sample size]"]
        if row["scenario"] == "assurance":
            out.append(f"Averaged over the model's uncertainty and the prior of {added}'s effect, the trial would "
                       f"declare {added} active with probability {_pct(p)} (assurance).")
        elif row["scenario"] == "power":
            out.append(f"If {added} had exactly its prior median effect, the trial would declare it active with "
                       f"probability {_pct(p)}; it would stop early {_pct(row['stopped early'])} of the time and "
                       f"enrol {size:.0f} patients on average.")
        else:
            out.append(f"If {added} added nothing to standard re-induction, the trial would still declare it active "
                       f"with probability {_pct(p)} (type-I error; the design's exact value at p0 is "
                       f"{row['exact type-I at p0']:.3f} for a nominal {row['nominal alpha']:g}; the difference "
                       "comes from the uncertainty about the standard-care rate).")
    return out


def _protocol_sentences(oc: pd.DataFrame, spec: MasterProtocolSpec) -> list[str]:
    k = len(spec.subtrials)
    protocol = oc[oc["subtrial"] == "protocol"].set_index("scenario")
    out = []
    if "assurance" in protocol.index:
        row = protocol.loc["assurance"]
        out.append(f"Averaged over the model's uncertainty and the agents' priors, at least one of the {k} subtrials "
                   f"would declare success with probability {_pct(row['P(success)'])}; the protocol would enrol "
                   f"{row['E[sample size]']:.0f} patients and run {row['E[duration, months]']:.0f} months on average.")
    if "no_effect" in protocol.index:
        row = protocol.loc["no_effect"]
        out.append(f"If no agent had any effect, at least one subtrial would still declare success with probability "
                   f"{_pct(row['P(success)'])} (the protocol's family-wise error; each subtrial controls only its "
                   "own alpha).")
    return out


def _multi_arm_sentences(oc: pd.DataFrame, spec: MultiArmSpec) -> list[str]:
    k = len(spec.arms) - 1
    out = []
    for row in oc[oc["arm"] == "any arm"].to_dict("records"):
        p = _pct(row["P(success)"])
        if row["scenario"] == "assurance":
            out.append(f"Averaged over the model's uncertainty and the agents' priors, at least one of the {k} "
                       f"experimental arms would be declared better than control with probability {p}.")
        elif row["scenario"] == "power":
            out.append(f"With every agent at its prior median effect, at least one arm would be declared better with "
                       f"probability {p}; the trial would enrol {row['E[sample size]']:.0f} patients on average.")
        else:
            out.append(f"If no agent had an effect, some arm would still be declared better with probability {p} "
                       f"(the family-wise error; analytic value {row['analytic FWER']:.3f}, nominal "
                       f"{row['nominal alpha']:g}).")
    return out


def _programme_sentences(oc: pd.DataFrame, spec: ProgrammeSpec) -> list[str]:
    added = _agents(spec.agents) or "the change"
    rows = oc.set_index("scenario")
    out = []
    if "assurance" in rows.index:
        r = rows.loc["assurance"]
        out.append(f"Averaged over the model's uncertainty and the prior of {added}'s effect, phase 2 would say go "
                   f"with probability {_pct(r['P(phase 2 go)'])}, and phase 2 go followed by a successful phase 3 has "
                   f"probability {_pct(r['P(success)'])} (the programme's assurance).")
    if "no_effect" in rows.index:
        r = rows.loc["no_effect"]
        out.append(f"If {added} had no effect, the programme would still end in a successful phase 3 with "
                   f"probability {_pct(r['P(success)'])}.")
    return out
