"""Writing a reference cohort and its data card from its specification file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from relapse_model.cohort.cohort import Cohort, load_cohort
from relapse_model.cohort.summary import missing_table, summary_table
from relapse_model.common.tables import markdown_table as _markdown
from relapse_model.reference.generator import simulate_reference_cohort
from relapse_model.reference.spec import CohortSpec
from relapse_model.reference.targets import target_table


def generate(spec: CohortSpec) -> pd.DataFrame:
    """The cohort a specification describes, as a table in the cohort schema."""
    return simulate_reference_cohort(spec.n, spec.study_list(), spec.generator_parameters(), spec.seed)


def write_cohort(spec: CohortSpec, folder: Path) -> tuple[Path, Path]:
    """Generate the cohort, write ``NAME.csv`` and its data card ``NAME.md`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    csv_path = folder / f"{spec.name}.csv"
    generate(spec).to_csv(csv_path, index=False, lineterminator="\n")
    cohort = load_cohort(csv_path)
    card_path = folder / f"{spec.name}.md"
    card_path.write_text(data_card(spec, cohort, csv_path), encoding="utf-8")
    return csv_path, card_path


def data_card(spec: CohortSpec, cohort: Cohort, csv_path: Path) -> str:
    """Markdown data card: what the cohort is, how it was made, and its calibration."""
    digest = hashlib.sha256(csv_path.read_bytes()).hexdigest()
    calib = target_table(cohort, spec.targets)
    calib_view = pd.DataFrame({
        "target": calib["description"], "published": calib["published"],
        "accepted range": [f"{lo:.2f}-{hi:.2f}" for lo, hi in zip(calib["low"], calib["high"])],
        "this cohort": calib["observed"].map(lambda v: f"{v:.3f}"),
        "within": calib["ok"].map({True: "yes", False: "**NO**"}),
    })
    missing = missing_table(cohort)
    missing = missing[missing["missing"] > 0].assign(percent=lambda m: m["percent"].map(lambda v: f"{v:.0f}%"))
    studies = ", ".join(f"{s.name} (share {s.share:g}, cure log-odds {s.cure_log_odds:+g})" for s in spec.studies)
    overrides = ", ".join(f"`{k} = {v}`" for k, v in spec.parameters.items()) or "none"
    return f"""# {spec.title}

> **Synthetic data.** Every row was drawn from a generative model; no row is a real patient.
> Do not use it for clinical conclusions. Use it to learn the package, to test code, and to check
> that models recover what the generator put in.

- **File:** `{csv_path.name}` ({len(cohort)} patients, sha256 `{digest[:16]}...`)
- **Made by:** `relapse-model cohorts --regenerate` from `cohorts/{spec.name}.toml`
  (generator `relapse_model/reference/generator.py`, seed `{spec.seed}`); the same command and seed
  rewrite this file byte for byte.
- **Resembles:** {spec.resembles}.
- **Studies:** {studies}.
- **Generator parameters changed from the defaults:** {overrides}.

## What it reproduces

The generative model follows the course after relapse: a response assessment 1-2 months after
relapse (`response_assessment_months`) with early death before it, CR2 or refractory disease;
MRD in CR2; allogeneic HSCT at a planned time if still in remission; a cure fraction after CR2,
with second relapse and death in remission competing; salvage after second relapse; covariate
effects on CR2 and on cure; censoring by accrual and loss to follow-up (a patient lost before
the assessment has response, MRD and HSCT blank). Its parameters come from
`../shared/mission/published-figures.md`. The table puts
each published figure beside what this cohort shows (Kaplan-Meier from scikit-survival for
survival). Accepted ranges are the published range widened by about two binomial standard errors
at this cohort's size; `tests/test_reference_cohorts.py` checks every row.

{_markdown(calib_view)}

## What it is not

- Not a real series: joint distributions of covariates are simpler than in life (most covariates
  are drawn independently), and treatment (regimen) has no effect.
- Not drawn from the pathway model the package fits (`relapse-model fit --model pathway`): here
  cure depends on the *planned* transplant, so a fit of that model to this cohort is a test under
  misspecification, not a recovery test (those use `relapse_model/models/pathway/simulate.py`).
- The stemness scores are on the published weight scale only loosely: LSC17 and pLSC6 are noisy
  measures of one latent factor, shifted up in adverse and down in CBF classes.
- MRD is measured after re-induction 1 in patients who reach CR2; some NGS results carry only
  CHIP-type mutations (DNMT3A, TET2, ASXL1), which the package does not count as MRD-positive.

## Characteristics

{_markdown(summary_table(cohort))}

## Missing values (kept missing; the models handle them)

{_markdown(missing)}
"""
