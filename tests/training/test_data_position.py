"""A checkpoint's data position on restart: the same global batch resumes with any process
count; another global batch (or other data settings) stops with a one-line message naming
what changed."""

from __future__ import annotations

import pytest

from data_pipelines.loading.input_pipeline import make_iterator
from voiceemo_jax.errors import UserError
from voiceemo_jax.training.initialization import restore_data_position


def _iterator(build, batch_size: int, processes: int, process: int = 0, seed: int = 0):
    return make_iterator(build, "train", batch_size=batch_size, seed=seed, process_index=process,
                         process_count=processes)  # fmt: skip


def test_same_global_batch_resumes_with_another_process_count_and_another_one_stops(fixture_build):
    saved = _iterator(fixture_build, 4, processes=2, process=1)
    next(saved)
    state = saved.get_state()
    assert (state["epoch"], state["batch"], state["global_batch_size"]) == (0, 1, 8)

    one = _iterator(fixture_build, 8, processes=1)  # 1 process x 8: the same plan, the same position
    restore_data_position(one, state, "checkpoint 1")
    assert (one.get_state()["epoch"], one.get_state()["batch"]) == (0, 1)

    with pytest.raises(UserError, match=r"global batch of 8 \(2 process\(es\)\); this run's is 4") as error:
        restore_data_position(_iterator(fixture_build, 4, processes=1), state, "checkpoint 1")
    assert "\n" not in str(error.value)
    with pytest.raises(UserError, match=r"other data settings \(seed: 0 -> 5\)"):
        restore_data_position(_iterator(fixture_build, 8, processes=1, seed=5), state, "checkpoint 1")
