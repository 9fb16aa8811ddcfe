"""benchmarks/bench_adaptation.py: the summary's medians and layout, and its refusal of bad options."""

from __future__ import annotations

import pytest

from benchmarks import bench_adaptation


def _row(adaptation: str, seed: int, ess: float, steps: float, divergences: int, seconds: float) -> dict:
    return {"adaptation": adaptation, "seed": seed, "min_ess_bulk": ess, "lowest": "cure_class_sd",
            "steps": steps, "divergences": divergences, "sampling_s": seconds, "wall_s": seconds + 1}


def test_summary_reports_medians_ranges_and_runs_with_divergences():
    rows = [_row("diag", 1, 800, 24.0, 0, 7.0), _row("diag", 2, 900, 25.0, 0, 6.0), _row("diag", 3, 1000, 23.0, 0, 8.0),
            _row("draw_diag", 1, 1400, 31.0, 1, 8.0), _row("draw_diag", 2, 1500, 30.0, 2, 9.0)]
    lines = bench_adaptation.summary(rows).splitlines()
    assert len(lines) == 3 and all(len(line) <= 100 for line in lines)
    diag, draw_diag = lines[1].split(), lines[2].split()
    # adaptation, runs, median (range), steps, runs with divergences, sampling s, ESS/s
    assert diag == ["diag", "3", "900", "(800-1000)", "24.0", "0", "7.0", "129"]
    assert draw_diag == ["draw_diag", "2", "1450", "(1400-1500)", "30.5", "2", "8.5", "171"]


@pytest.mark.parametrize("argv, message", [(["--adaptations", "dense"], "dense: not one of"),
                                           (["--seeds", "1,x"], "not a comma-separated list")])
def test_bad_options_exit_2_with_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench_adaptation.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
