"""Fits to real data shipped with scikit-survival, compared with nonparametric and frequentist fits.

- ``bmt``: bone-marrow transplantation in acute leukaemia (35 patients; relapse and
  transplant-related death as competing risks; covariate: AML vs ALL). Our competing-risk model
  against Aalen-Johansen cumulative incidences and cause-specific Cox models (lifelines).
- ``gbsg2``: German Breast Cancer Study Group 2 (686 patients; recurrence-free survival; eight
  covariates). Our single-endpoint model without and with a cure fraction against Kaplan-Meier
  and Cox proportional hazards (lifelines), and LOO between the two.

Run ``python -m benchmarks.real_data`` to print the tables of the README (needs lifelines, a dev dependency).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from sksurv.nonparametric import cumulative_incidence_competing_risks, kaplan_meier_estimator

MONTH_DAYS = 365.25 / 12
WEAK = "weak.toml"


def _priors():
    from relapse_model.common.paths import PRIORS_DIR
    return PRIORS_DIR / WEAK


def load_bmt() -> dict[str, Any]:
    """scikit-survival's ``bmt``: causes recoded to ours (1 relapse, 2 death without relapse)."""
    from sksurv.datasets import load_bmt as _load
    X, y = _load()
    status = y["status"].astype(int)  # sksurv: 1 transplant-related mortality, 2 relapse
    cause = np.select([status == 2, status == 1], [1, 2], 0)
    aml = (X["dis"].astype(str) == "1").to_numpy(float) if set(X["dis"].astype(str)) <= {"0", "1"} \
        else (X["dis"].astype(str).str.upper() == "AML").to_numpy(float)
    return {"X": aml[:, None], "names": ["aml"], "time": y["ftime"].astype(float), "cause": cause}


def load_gbsg2() -> dict[str, Any]:
    """scikit-survival's ``gbsg2`` with standardised continuous covariates, time in months."""
    from sksurv.datasets import load_gbsg2 as _load
    X, y = _load()
    cols = {
        "age_z": X["age"], "tsize_z": X["tsize"], "log_pnodes_z": np.log1p(X["pnodes"]),
        "log_progrec_z": np.log1p(X["progrec"]), "log_estrec_z": np.log1p(X["estrec"]),
    }
    frame = pd.DataFrame({k: (v - v.mean()) / v.std() for k, v in cols.items()})
    frame["hormone_therapy"] = (X["horTh"].astype(str) == "yes").astype(float)
    frame["postmenopausal"] = (X["menostat"].astype(str) == "Post").astype(float)
    grade = X["tgrade"].astype(str)
    frame["grade_II"] = (grade == "II").astype(float)
    frame["grade_III"] = (grade == "III").astype(float)
    return {"X": frame.to_numpy(), "names": list(frame.columns), "time": y["time"] / MONTH_DAYS,
            "event": y["cens"].astype(int)}


def _cox(X: np.ndarray, names: list[str], time: np.ndarray, event: np.ndarray) -> pd.DataFrame:
    from lifelines import CoxPHFitter
    frame = pd.DataFrame(X, columns=names).assign(time=time, event=event)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = CoxPHFitter().fit(frame, "time", "event")
    return fit.summary[["coef", "se(coef)"]]


def gbsg2_comparison(seed: int = 1, draws: int = 1000, tune: int = 1000, chains: int = 4) -> dict[str, pd.DataFrame]:
    """Hazard ratios (no-cure Weibull vs Cox), survival (models vs Kaplan-Meier), LOO (cure vs not)."""
    from relapse_model.checks.loo import compare_models
    from relapse_model.models import RelapseModel
    from relapse_model.models.hierarchy import Names
    from relapse_model.models.parameters import linear_predictors
    from relapse_model.models.predict import curves_from_eta

    d = load_gbsg2()
    fits = {}
    for label, cure in (("Weibull PH", False), ("Weibull PH + cure", True)):
        m = RelapseModel(_priors(), outcome="cure", endpoint="efs", cure=cure, death_covariates=[])
        fits[label] = m.fit_arrays(d["X"], d["names"], d["time"], event=d["event"], draws=draws, tune=tune,
                                   chains=chains, random_seed=seed, progressbar=False)
    cox = _cox(d["X"], d["names"], d["time"], d["event"])
    post = fits["Weibull PH"].posterior["posterior"][Names("relapse").beta].stack(s=("chain", "draw"))
    hr = pd.DataFrame({"covariate": d["names"],
                       "Bayes HR (95% CrI)": [f"{np.exp(np.median(v)):.2f} ({np.exp(np.quantile(v, .025)):.2f}-"
                                              f"{np.exp(np.quantile(v, .975)):.2f})" for v in post.to_numpy()],
                       "Cox HR (95% CI)": [f"{np.exp(c):.2f} ({np.exp(c - 1.96 * s):.2f}-{np.exp(c + 1.96 * s):.2f})"
                                           for c, s in zip(cox["coef"], cox["se(coef)"])],
                       "difference / posterior SD": (post.mean("s").to_numpy() - cox["coef"].to_numpy()) / post.std("s").to_numpy()})
    horizons = np.array([12.0, 36.0, 60.0])
    t_km, s_km, (lo, hi) = kaplan_meier_estimator(d["event"].astype(bool), d["time"], conf_type="log-log")
    at = np.searchsorted(t_km, horizons, side="right") - 1
    rows = {"Kaplan-Meier (95% CI)": [f"{s_km[i]:.3f} ({lo[i]:.3f}-{hi[i]:.3f})" for i in at]}
    for label, m in fits.items():
        design = m._design
        params = m.parameters(1000)
        s = curves_from_eta(params, linear_predictors(params, design), horizons)["survival"].mean(axis=1)
        rows[label] = [f"{np.mean(s[:, k]):.3f} ({np.quantile(s[:, k], .025):.3f}-{np.quantile(s[:, k], .975):.3f})"
                       for k in range(len(horizons))]
    survival = pd.DataFrame(rows, index=[f"{h:g} months" for h in horizons])
    return {"hazard_ratios": hr, "survival": survival, "loo": compare_models(fits),
            "checks": pd.concat({k: m.check().set_index("diagnostic")["passed"] for k, m in fits.items()}, axis=1)}


def bmt_comparison(seed: int = 1, draws: int = 1000, tune: int = 1000, chains: int = 4) -> dict[str, pd.DataFrame]:
    """Cumulative incidences (model vs Aalen-Johansen) and cause-specific HRs of AML (vs Cox)."""
    from relapse_model.models import RelapseModel
    from relapse_model.models.hierarchy import Names
    from relapse_model.models.parameters import linear_predictors
    from relapse_model.models.predict import curves_from_eta

    d = load_bmt()
    model = RelapseModel(_priors(), outcome="competing", cure=False, relapse_covariates=["aml"],
                         death_covariates=["aml"])
    model.fit_arrays(d["X"], d["names"], d["time"], cause=d["cause"], draws=draws, tune=tune, chains=chains,
                     random_seed=seed, progressbar=False)
    horizons = np.array([6.0, 12.0, 36.0])
    t, cif = cumulative_incidence_competing_risks(d["cause"], d["time"])
    at = np.searchsorted(t, horizons, side="right") - 1
    params = model.parameters(1000)
    c = curves_from_eta(params, linear_predictors(params, model._design), horizons)
    rows = []
    for label, k, key in (("relapse", 1, "relapse_incidence"), ("death without relapse", 2, "death_without_relapse")):
        cohort_avg = c[key].mean(axis=1)
        for j, h in enumerate(horizons):
            rows.append({"cause": label, "months": h, "Aalen-Johansen": float(cif[k][at[j]]),
                         "model (95% CrI)": f"{np.mean(cohort_avg[:, j]):.3f} ({np.quantile(cohort_avg[:, j], .025):.3f}-"
                                            f"{np.quantile(cohort_avg[:, j], .975):.3f})"})
    post = model.posterior["posterior"]
    hr_rows = []
    for label, var, k in (("relapse", Names("relapse").beta, 1), ("death without relapse", Names("death").beta, 2)):
        v = post[var].stack(s=("chain", "draw")).to_numpy().ravel()
        cox = _cox(d["X"], d["names"], d["time"], (d["cause"] == k).astype(int))
        hr_rows.append({"cause": label,
                        "Bayes HR of AML (95% CrI)": f"{np.exp(np.median(v)):.2f} ({np.exp(np.quantile(v, .025)):.2f}-{np.exp(np.quantile(v, .975)):.2f})",
                        "cause-specific Cox HR (95% CI)": f"{np.exp(cox['coef'].iloc[0]):.2f} "
                        f"({np.exp(cox['coef'].iloc[0] - 1.96 * cox['se(coef)'].iloc[0]):.2f}-"
                        f"{np.exp(cox['coef'].iloc[0] + 1.96 * cox['se(coef)'].iloc[0]):.2f})"})
    return {"incidence": pd.DataFrame(rows), "hazard_ratios": pd.DataFrame(hr_rows),
            "checks": model.check()}


def main() -> None:
    from relapse_model.common.tables import markdown_table
    pd.set_option("display.width", 200)
    for name, fn in (("bmt (scikit-survival)", bmt_comparison), ("gbsg2 (scikit-survival)", gbsg2_comparison)):
        print(f"## {name}")
        for key, table in fn().items():
            print(f"\n### {key}\n")
            print(markdown_table(table, index=not isinstance(table.index, pd.RangeIndex)))
        print()


if __name__ == "__main__":
    main()
