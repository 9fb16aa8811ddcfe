"""The ``check`` command's output folder: every check of :func:`~relapse_model.checks.model_checks.run_checks`
as CSV tables and PNG figures."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from relapse_model.checks.model_checks import CheckResults, calibration_summary, ppc_summary
from relapse_model.common.intervals import expand_estimates
from relapse_model.report.figures import (calibration_figure, landmark_figure, occupation_figure, ppc_figure,
                                          response_calibration_figure)


def write_check_files(results: CheckResults, out_dir: str | Path, survival_label: str = "EFS") -> list[Path]:
    """Write the results as CSV and PNG files into ``out_dir``; return the files written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def csv(frame: pd.DataFrame, name: str) -> None:
        frame.to_csv(out / name, index=False, lineterminator="\n")
        written.append(out / name)

    csv(results.convergence, "convergence.csv")
    csv(results.loo, "loo.csv")
    for name, ds in results.ppc.items():
        written.append(ppc_figure(ds, out / f"ppc_{name}.png"))
    if results.ppc:
        csv(ppc_summary(results.ppc), "ppc_summary.csv")
    if results.occupation is not None:
        csv(expand_estimates(results.occupation).to_dataframe().reset_index(), "state_occupation.csv")
        written.append(occupation_figure(results.occupation, out / "state_occupation.png"))
    if results.response_calibration is not None:
        csv(results.response_calibration, "calibration_response.csv")
        written.append(response_calibration_figure(results.response_calibration, out / "calibration_response.png"))
    if results.landmark_calibration is not None:
        csv(results.landmark_calibration, "calibration_landmark.csv")
        written.append(landmark_figure(results.landmark_calibration, out / "calibration_landmark.png"))
    for key, table in results.calibration.items():
        csv(table, f"calibration_{key}.csv")
        written.append(calibration_figure(table, out / f"calibration_{key}.png"))
    csv(calibration_summary(results, survival_label), "calibration_summary.csv")
    if results.cross_validation is not None:
        csv(results.cross_validation, "cross_validation.csv")
    return written
