"""Results of the research-script API that print readably (within 100 columns, blanks blank)."""

from __future__ import annotations

import pandas as pd

from relapse_model.common.display import readable, render_table


#: Short headers so that every operating-characteristics table fits 100 columns.
SHORT_HEADERS = {"E[sample size]": "E[N]", "E[duration, months]": "E[months]", "stopped early": "early stop",
                 "P(success)": "P(success)", "nominal alpha": "alpha", "type-I above nominal": "above alpha",
                 "response, control": "resp. C", "response, experimental": "resp. E", "E[responders]": "E[resp.]",
                 "share routed": "share", "analytic FWER": "FWER exact", "P(phase 2 go)": "P(go)",
                 "P(phase 3 success | go)": "P(ph.3 | go)", "prior-data conflict (p < 0.05)": "conflict",
                 "relapse_share": "relapse share", "median OR": "OR", "median HR": "HR"}


def _multi_arm_view(table: pd.DataFrame) -> pd.DataFrame:
    """Arms as rows and scenarios as columns (P(success) with its MC SE), so long arm names fit."""
    rows = []
    for arm, part in table.groupby("arm", sort=False):
        by = part.set_index("scenario")
        row = {"arm": arm}
        for scenario in by.index:
            row[scenario] = f"{by.loc[scenario, 'P(success)']:.3f} ({by.loc[scenario, 'MC SE']:.3f})"
        if "stopped for efficacy" in by and "power" in by.index and arm != "any arm":
            row["early win (power)"] = by.loc["power", "stopped for efficacy"]
        if "no_effect" in by.index:
            row["dropped (no effect)"] = by.loc["no_effect", "dropped"]
            if arm == "any arm":
                row["FWER exact / alpha"] = f"{by.loc['no_effect', 'analytic FWER']:.3f} / " \
                                            f"{by.loc['no_effect', 'nominal alpha']:g}"
        rows.append(row)
    return pd.DataFrame(rows)


def oc_view(table: pd.DataFrame) -> pd.DataFrame:
    """Operating characteristics as printed: short headers, blank and constant columns left out,
    alpha beside its flag, numbers at 3 decimals (the table itself keeps full precision)."""
    view = table.drop(columns=["meaning"], errors="ignore")
    if "arm" in view and "any arm" in set(view["arm"]):
        view = _multi_arm_view(view)
    # columns blank in every row (e.g. another design's columns), early stopping that is 0
    # throughout (no interim looks) and the size of a fixed-size trial say nothing here
    view = view[[c for c in view.columns if not (view[c].isna() | (view[c] == "")).all()
                 and not (c == "stopped early" and (view[c] == 0).all())
                 and not (c == "E[sample size]" and view[c].nunique() == 1 and "subtrial" not in view)]]
    if "nominal alpha" in view and "type-I above nominal" in view:
        flag = view["type-I above nominal"].fillna("")
        alpha = view.pop("nominal alpha").map(lambda v: "" if pd.isna(v) else f"{v:g}")
        view["alpha"] = [f"{a} {f}" if a else "" for a, f in zip(alpha, flag)]   # e.g. "0.025 no": not above it
        view = view.drop(columns=["type-I above nominal"])
    view = view.drop(columns=["E[responders]"], errors="ignore")   # in the CSV; the rates say it here
    view = view.rename(columns=SHORT_HEADERS)
    if "exact type-I at p0" in view:          # single arm: the exact value at p0 / p1 in one column
        exact = view["exact type-I at p0"].fillna(view.get("exact power at p1"))
        view = view[["scenario", "P(success)", "MC SE", "early stop", "E[N]", "E[months]", "mean response rate"]]
        view = view.rename(columns={"mean response rate": "response"}).assign(**{"exact at p0/p1": exact})
    for col in view.columns:
        if pd.api.types.is_float_dtype(view[col]):
            view[col] = view[col].map(lambda v: "" if pd.isna(v) else f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}")
    return view


def operating_characteristics(results) -> pd.DataFrame:
    """:func:`relapse_model.simulate.engine.operating_characteristics`, printing as a readable
    table (:func:`oc_view`); the frame itself is unchanged, at full precision."""
    from relapse_model.simulate.engine import operating_characteristics as table_of

    table = table_of(results)
    return readable(table, lambda f: render_table(oc_view(f), "Operating characteristics"))
