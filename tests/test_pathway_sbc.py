"""Simulation-based calibration of the pathway model (bounded; ``make test-extended``): prior
draws, paths from the model's own simulator, refits, uniform ranks of the true values."""

from __future__ import annotations

import numpy as np
import pytest

from relapse_model.cohort.bundled import load_bundled


@pytest.mark.extended
def test_bounded_pathway_sbc_ranks_are_consistent_with_uniform():
    from relapse_model.checks.sbc import run_pathway_sbc

    template = load_bundled("cog_like")
    template = template.subset(np.arange(len(template)) < 250)
    result = run_pathway_sbc(template, 8, seed=5, draws=100, tune=150, chains=2, n_posterior=49)
    table = result.uniformity(bins=4)
    assert len(result.ranks) == 8 and result.ranks.to_numpy().max() <= result.n_posterior
    assert set(result.ranks.columns) >= {"transplant_cure_shift", "remission_cure_intercept", "relapse_log_scale"}
    assert table["p_value"].min() > 0.001 / len(table), table
    assert result.pooled_p_value() > 0.001
