"""Many fits at once: SBC replications on worker processes give the same ranks as in one process."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from relapse_model.checks.sbc import run_sbc
from relapse_model.common.parallel import map_replications
from relapse_model.cohort.bundled import load_bundled


def _square_plus_seeded_noise(r: int) -> tuple[int, float]:
    return r * r, float(np.random.default_rng(np.random.SeedSequence(7, spawn_key=(r,))).normal())


def test_map_replications_keeps_replication_order_on_processes():
    seen = []
    serial = map_replications(_square_plus_seeded_noise, 5, 1, lambda done, n: seen.append((done, n)))
    parallel = map_replications(_square_plus_seeded_noise, 5, 2)
    assert serial == parallel
    assert [value for value, _ in serial] == [0, 1, 4, 9, 16]
    assert seen[-1] == (5, 5)
    with pytest.raises(ValueError, match="at least 1"):
        map_replications(_square_plus_seeded_noise, 3, 0)


@pytest.mark.slow
def test_sbc_ranks_do_not_depend_on_the_number_of_workers():
    template = load_bundled("bfm_like")
    template = template.subset(np.arange(len(template)) < 60)
    settings = dict(seed=3, draws=30, tune=30, chains=2, n_posterior=19,
                    model_kwargs={"stemness": None, "relapse_covariates": ["early_relapse"]})
    one = run_sbc(template, 2, workers=1, **settings)
    two = run_sbc(template, 2, workers=2, **settings)
    pd.testing.assert_frame_equal(one.ranks, two.ranks)
    np.testing.assert_array_equal(one.divergences, two.divergences)
    assert one.ranks.shape[0] == 2 and one.ranks.to_numpy().max() <= 19
