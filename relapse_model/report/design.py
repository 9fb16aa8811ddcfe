"""What a clinician reads about a virtual trial: its design as a table, and one plain sentence
per operating characteristic saying what the number means."""

from __future__ import annotations

import pandas as pd

from relapse_model.simulate.engine import spec_boundaries
from relapse_model.simulate.spec import TrialSpec

_TESTS = {"logrank": "log-rank test", "cox": "Cox model (Wald z)", "rmst": "difference in restricted mean survival",
          "bayes": "Bayesian posterior probability of benefit"}


def _analysis(spec: TrialSpec) -> str:
    a = spec.analysis
    when = (f"after {a.events} events" if a.timing == "events" else f"{a.months:g} months after the first patient")
    if a.primary == "bayes":
        rule = f"success if P(HR < 1) >= {a.bayes_threshold:g}"
    else:
        rule = f"one-sided alpha {a.alpha:g}"
    # the engine's tests are not stratified yet: say so where the randomisation is
    strata = f"; randomisation stratified by {spec.stratify}, test not stratified" if spec.stratify else ""
    return f"{_TESTS[a.primary]}, {rule}, {when} (at most {a.max_months:g} months){strata}"


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


def design_table(spec: TrialSpec) -> pd.DataFrame:
    """The trial's design in rows a clinician can check against a protocol."""
    arms = " vs ".join(arm.name for arm in spec.arms)
    rates, breaks = spec.accrual.as_rates
    accrual = (f"{rates[0]:g} patients per month" if len(rates) == 1 else
               ", ".join(f"{r:g}/month" + (f" until month {b:g}" if b is not None else "")
                         for r, b in zip(rates, [*breaks, None])))
    rows = [
        ("arms (control first)", arms),
        ("allocation", ":".join(str(a) for a in spec.allocation)
         + (" (permuted-block randomisation)" if spec.randomisation == "blocks" else " (simple randomisation)")),
        ("sample size", f"{spec.sample_size} patients"),
        ("accrual", accrual),
        ("dropout", f"{spec.dropout.rate:g} per month" if spec.dropout.rate else "none"),
        ("primary endpoint", "event-free survival (second relapse, refractory disease or death)"),
        ("analysis", _analysis(spec)),
        ("interim looks", _looks(spec)),
    ]
    return pd.DataFrame(rows, columns=["design", "value"])


def _pct(p: float) -> str:
    return f"{100 * p:.0f}%" if p >= 0.01 else f"{100 * p:.1f}%"


def plain_language(oc: pd.DataFrame, spec: TrialSpec) -> list[str]:
    """One sentence per scenario of the operating characteristics."""
    n, added = spec.sample_size, " + ".join(a for arm in spec.arms[1:] for a in arm.add) or "the change"
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
    return out
