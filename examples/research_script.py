"""A research script with the Python API: the README's 10-minute tutorial, runnable.

Fit the model to a cohort, look at its diagnostics and effects, predict for new patients,
simulate a trial that adds an agent, and build a report of it all.

    python examples/research_script.py                       # bundled COG-like cohort
    python examples/research_script.py --cohort my.csv --out build/my_study
    python examples/research_script.py --draws 200 --n-trials 500   # quicker, rougher

CI runs it with few draws as a smoke test (examples/test_examples.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import relapse_model as rm

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", default=str(ROOT / "cohorts" / "cog_like.csv"), help="CSV, TSV or Parquet cohort")
    parser.add_argument("--draws", type=int, default=1000, help="draws and tuning steps per chain")
    parser.add_argument("--n-trials", type=int, default=2000, help="virtual trials per scenario")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default="reports/build/research_script")
    args = parser.parse_args(argv)
    out = Path(args.out)

    # 1. Read and validate the cohort: bad cells raise rm.InputError, one line per problem.
    cohort = rm.load_cohort(args.cohort)
    print(cohort)

    # 2. Fit the default model: competing relapse / death without relapse, cure fraction on relapse,
    #    Weibull baselines, cytogenetic classes nested in risk groups, MRD and LSC17.
    model = rm.RelapseModel(ROOT / "priors" / "default.toml", baseline="weibull")
    model.fit(cohort, draws=args.draws, tune=args.draws, chains=4, random_seed=args.seed, progressbar=False)
    print(model.check())                       # R-hat, ESS, divergences, E-BFMI with pass/fail
    if not model.passed_checks:
        print("WARNING: the fit failed its convergence checks; use more draws before trusting it")
    effects = model.hazard_ratios()            # posterior beside prior, natural scale
    print(effects[["scale", "covariate", "posterior_median", "posterior_lower", "posterior_upper"]].head(8))

    # 3. Predict for new patients (outcome columns not needed), e.g. the first five rows.
    patients = cohort.subset(np.arange(len(cohort)) < 5)
    risk = model.predict(patients, horizons=[12, 36, 60])
    print(risk["event_free_survival"].sel(estimate="mean").to_pandas().round(3))   # also "lower", "upper"
    curves = model.survival_curves("risk_group", times=[12, 36, 60])
    print(curves["event_free_survival"].sel(estimate="mean").to_pandas().round(3))

    # 4. Simulate a trial that adds an agent: start from a bundled design, change what you need.
    spec = rm.load_trial_spec(ROOT / "reports" / "trials" / "go_cd33.toml")
    spec = rm.with_overrides(spec, {"sample_size": 200})
    trials = rm.simulate_trials(model, spec, seed=args.seed, n_trials=args.n_trials)
    print(rm.operating_characteristics(trials)[["scenario", "P(success)", "MC SE", "E[sample size]"]])

    # 5. Build a report of this model: checks, risk by profile, and the trial with its
    #    sensitivity to the agent-effect prior. Reusing the fitted model skips refitting.
    report_spec = rm.ReportSpec(
        name="research_script", title=f"Research script: {Path(args.cohort).name}", seed=args.seed,
        output=str(out), cohort={"paths": [str(Path(args.cohort).resolve())]},
        trials=[{"spec": str(ROOT / "reports" / "trials" / "go_cd33.toml"), "n_trials": args.n_trials}],
    )
    result = rm.build_report(report_spec, model=model)
    print(f"report: {result.html} (diagnostics {'passed' if result.passed else 'FAILED'})")
    return result.html


if __name__ == "__main__":
    main()
