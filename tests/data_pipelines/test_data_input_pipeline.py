"""The training and evaluation iterators: shapes, buckets, padding, restorable state, process slices."""

from __future__ import annotations

import json

import numpy as np
import pytest

from data_pipelines import tf_setup
from data_pipelines.loading import epoch_plan
from data_pipelines.loading.input_pipeline import make_eval_iterator, make_iterator
from data_pipelines.records.clip_index import load_clip_index, scan_clip_index
from data_pipelines.records.schema import load_metadata
from tests.data_pipelines import data_fixtures as fx
from voiceemo_jax.errors import UserError

BUCKETS = (0.4, 0.5, 0.7)  # fixture clips are 0.30-0.60 s
ONE_PROCESS = dict(process_index=0, process_count=1)


def assert_same_batches(first, second):
    assert len(first) == len(second)
    for a, b in zip(first, second):
        assert a.keys() == b.keys()
        for name in a:
            for key in a[name]:
                np.testing.assert_array_equal(a[name][key], b[name][key], err_msg=f"{name}.{key}")


def test_triplet_batch_shapes_buckets_and_padding(synth_build):
    it = make_iterator(synth_build.out, "train", batch_size=3, seed=0, bucket_seconds=BUCKETS, **ONE_PROCESS)
    lengths = set()
    for _ in range(it.batches_per_epoch()):
        batch = next(it)
        assert set(batch) == {"x11", "x12", "x21"}
        widths = {clip["audio"].shape[1] for clip in batch.values()}
        assert len(widths) == 1  # one S for all three clips
        (length,) = widths
        lengths.add(length)
        for clip in batch.values():
            assert clip["audio"].shape == (3, length) and clip["audio"].dtype == np.float32
            frames = -(-length * 30 // 16000)
            assert clip["targets"].shape == (3, frames, 52) and clip["targets"].dtype == np.float32
            for key in ("num_samples", "num_frames", "emotion", "level", "person", "content"):
                assert clip[key].shape == (3,) and clip[key].dtype == np.int32
            np.testing.assert_array_equal(clip["num_frames"], -(-clip["num_samples"] * 30 // 16000))
            for row in range(3):
                n, f = clip["num_samples"][row], clip["num_frames"][row]
                assert (
                    n <= length
                    and np.all(clip["audio"][row, n:] == 0)
                    and np.abs(clip["audio"][row, n - 800 : n]).max() > 0.1
                )
                assert np.all(clip["targets"][row, f:] == 0)
                # Channel 3 is the frame index / 100: the unpadded frames are the record's, in order.
                np.testing.assert_allclose(clip["targets"][row, :f, 3], np.arange(f) / 100, atol=1e-6)
        # The bucket is the smallest that holds the longest of the three clips.
        longest = max(int(clip["num_samples"].max()) for clip in batch.values())
        assert length == min(b for b in (6400, 8000, 11200) if b >= longest)
    assert lengths <= {6400, 8000, 11200} and len(lengths) >= 2


def test_state_restores_the_exact_next_batches_mid_epoch_and_across_epochs(synth_build):
    def fresh():
        return make_iterator(synth_build.out, "train", batch_size=4, seed=7, bucket_seconds=BUCKETS, **ONE_PROCESS)

    reference = fresh()
    per_epoch = reference.batches_per_epoch(0)
    for stop in (3, per_epoch - 2):
        it = fresh()
        for _ in range(stop):
            next(it)
        state = json.loads(json.dumps(it.get_state()))  # must survive a JSON round trip
        expected = [next(it) for _ in range(5)]  # crosses into epoch 1 for the second stop
        restored = fresh()
        next(restored)  # somewhere else first: set_state must move it
        restored.set_state(state)
        assert_same_batches([next(restored) for _ in range(5)], expected)
    it = fresh()
    uninterrupted = [next(it) for _ in range(per_epoch + 2)]
    assert it.get_state()["epoch"] == 1 and it.get_state()["batch"] == 2
    restored = fresh()
    restored.set_state({**it.get_state(), "batch": 0})
    assert_same_batches([next(restored), next(restored)], uninterrupted[per_epoch:])


def test_close_releases_the_open_pipeline_and_keeps_the_position(synth_build):
    """`voiceemo train` closes its iterator when the loop ends (left to interpreter exit, the open
    tf.data pipeline kept a finished two-process run waiting ~26 s); a closed iterator resumes where it was."""

    def fresh():
        return make_iterator(synth_build.out, "train", batch_size=4, seed=7, bucket_seconds=BUCKETS, **ONE_PROCESS)

    expected = [next(it) for it in [fresh()] for _ in range(4)]
    it = fresh()
    first = [next(it), next(it)]
    stream = it._batches
    it.close()
    assert it._batches is None and stream.gi_frame is None  # the generator (and its tf.data iterator) is gone
    it.close()  # twice is fine
    assert_same_batches(first + [next(it), next(it)], expected)


def test_records_kept_in_memory_give_the_same_batches_and_later_epochs_read_no_file(synth_build):
    def fresh(**options):
        return make_iterator(
            synth_build.out, "train", batch_size=4, seed=7, bucket_seconds=BUCKETS, **ONE_PROCESS, **options
        )

    reference = fresh()
    per_epoch = reference.batches_per_epoch(0)
    expected = [next(reference) for _ in range(2 * per_epoch + 1)]
    it = fresh(keep_in_memory=True)
    first_epoch = [next(it) for _ in range(per_epoch)]
    reads = []
    it._reader._read_files = lambda rows: reads.append(rows) or iter(())  # no file from here on
    assert_same_batches(first_epoch + [next(it) for _ in range(per_epoch + 1)], expected)
    assert all(len(r) == 0 for r in reads)
    # A position restored into a fresh in-memory iterator reads what it needs and continues the same.
    restored = fresh(keep_in_memory=True)
    restored.set_state({**it.get_state(), "batch": 0})
    assert_same_batches([next(restored)], expected[2 * per_epoch :])


def test_state_from_other_settings_is_refused(synth_build):
    it = make_iterator(synth_build.out, "train", batch_size=4, seed=7, **ONE_PROCESS)
    other = make_iterator(synth_build.out, "train", batch_size=2, seed=7, **ONE_PROCESS)
    with pytest.raises(ValueError, match="batch_size"):
        other.set_state(it.get_state())


def test_one_epoch_without_shuffle_or_repeat(synth_build):
    def run():
        options = dict(mode="single", shuffle=False, repeat=False, **ONE_PROCESS)
        it = make_iterator(synth_build.out, "validation", batch_size=2, **options)
        return list(it)

    first, second = run(), run()
    assert_same_batches(first, second)
    assert sum(b["x"]["person"].shape[0] for b in first) == 28  # every 2 s bucket fills; nothing left over
    assert [int(p) for b in first for p in b["x"]["person"]] == sorted(int(p) for b in first for p in b["x"]["person"])


def test_items_longer_than_the_largest_bucket_are_dropped(synth_build):
    it = make_iterator(synth_build.out, "train", batch_size=2, mode="single", bucket_seconds=(0.4,), **ONE_PROCESS)
    plan = it.plan(0)
    assert plan.dropped_too_long > 0
    for _ in range(it.batches_per_epoch()):
        batch = next(it)["x"]
        assert batch["audio"].shape[1] == 6400 and batch["num_samples"].max() <= 6400


def test_processes_feed_slices_of_one_global_plan(synth_build):
    """Every process plans the same global epoch; process p's batch is rows [p * B, (p + 1) * B)
    of the one-process batch of 3B, so shapes (buckets) and steps per epoch agree everywhere."""
    whole = make_iterator(synth_build.out, "train", batch_size=6, seed=3, **ONE_PROCESS)
    parts = [make_iterator(synth_build.out, "train", batch_size=2, seed=3, process_index=p, process_count=3)
             for p in range(3)]  # fmt: skip
    assert {it.batches_per_epoch() for it in parts} == {whole.batches_per_epoch()}
    for _ in range(whole.batches_per_epoch() + 2):  # into the second epoch
        expected, pieces = next(whole), [next(it) for it in parts]
        for name in expected:
            for key in expected[name]:
                joined = np.concatenate([piece[name][key] for piece in pieces])
                np.testing.assert_array_equal(joined, expected[name][key], err_msg=f"{name}.{key}")
    # One global position: any process's state restores every process (and 1 process x 6).
    state = parts[0].get_state()
    assert state == {**parts[2].get_state(), "process_count": 3}
    for it in (parts[1], whole):
        it.set_state(state)

    index = load_clip_index(load_metadata(synth_build.out).builder_dir, "validation")
    evals = [make_eval_iterator(synth_build.out, "validation", batch_size=5, process_index=p, process_count=3)
             for p in range(3)]  # fmt: skip
    assert len(index) % 15  # the last global batch is partial
    batches = [list(it) for it in evals]
    assert len({len(b) for b in batches}) == 1 == len({len(it) for it in evals})
    for step in zip(*batches):
        assert len({batch["x"]["audio"].shape for batch in step}) == 1  # same shape on every process
    ids = [c for process in batches for batch in process for c in batch["clip_id"] if c]
    assert sorted(ids) == sorted(index.clip_id.tolist())


def test_eval_iterator_sees_every_clip_once_in_order_with_a_valid_mask(vocaset_build):
    records = fx.read_records(vocaset_build.builder_dir, "train")
    it = make_eval_iterator(vocaset_build.out, "train", batch_size=3, bucket_seconds=(0.4,), **ONE_PROCESS)
    batches = list(it)
    assert len(batches) == len(it) == 3  # 8 clips -> 3 + 3 + 2 and one padding row
    ids = [c for b in batches for c in b["clip_id"]]
    assert ids[:8] == [r["clip_id"].decode() for r in records] and ids[8] == ""
    last = batches[-1]["x"]
    np.testing.assert_array_equal(last["valid"], [True, True, False])
    assert last["num_samples"][2] == 0 and np.all(last["audio"][2] == 0) and np.all(last["template"][2] == 0)
    for batch in batches:
        x = batch["x"]
        assert x["audio"].shape[1] % 6400 == 0 and x["targets"].shape[2] == 15 and x["template"].shape == (3, 15)
        # Clips longer than the only bucket are kept whole, in a multiple of it.
        assert np.all(x["num_samples"] <= x["audio"].shape[1])
    by_id = {r["clip_id"].decode(): r for r in records}
    x = batches[0]["x"]
    first = by_id[batches[0]["clip_id"][0]]
    np.testing.assert_array_equal(x["audio"][0, : first["num_samples"]], first["audio"])
    np.testing.assert_array_equal(x["targets"][0, : first["num_frames"]], first["targets"])


def test_vocaset_trains_on_single_clips(vocaset_build):
    it = make_iterator(vocaset_build.out, "train", batch_size=2, **ONE_PROCESS)  # default mode: auto
    batch = next(it)
    assert set(batch) == {"x"} and batch["x"]["template"].shape == (2, 15)
    assert batch["x"]["targets"].shape[2] == 15
    with pytest.raises(UserError, match="mode='single'"):
        make_iterator(vocaset_build.out, "train", batch_size=2, mode="triplet", **ONE_PROCESS)


def test_missing_or_empty_split_is_a_user_error(mead_build):
    with pytest.raises(UserError, match="'test_voice' is empty or absent"):
        make_iterator(mead_build.out, "test_voice", batch_size=2, **ONE_PROCESS)


def test_epoch_plan_reads_one_window_of_speakers_at_a_time(synth_build):
    index = load_clip_index(load_metadata(synth_build.out).builder_dir, "train")
    rows = np.arange(len(index))
    kwargs = dict(mode="triplet", batch_size=4, buckets=(6400, 8000, 11200), seed=1, epoch=0, window_speakers=1)
    plan = epoch_plan.plan_epoch(index, rows, **kwargs)
    again = epoch_plan.plan_epoch(index, rows, **kwargs)
    assert [b.records.tolist() for b in plan.batches] == [b.records.tolist() for b in again.batches]
    assert len(plan.windows) == 2  # two training voices, one per window
    window_of = {int(r): w for w, window in enumerate(plan.windows) for r in window}
    assert sorted(window_of) == rows.tolist()  # the windows partition the rows
    for window in plan.windows:
        assert len(set(index.person[window].tolist())) == 1
    # A batch is emitted once the last window it needs is read, never before.
    for batch in plan.batches:
        assert max(window_of[int(r)] for r in batch.records.reshape(-1)) == batch.window
    assert [b.window for b in plan.batches] == sorted(b.window for b in plan.batches)
    assert plan.num_items == len(rows) and plan.unpaired == 0


def test_clip_index_matches_the_shards(ravdess_build):
    written = load_clip_index(ravdess_build.builder_dir, "train")
    scanned = scan_clip_index(ravdess_build.builder_dir, "train")
    assert written.shards == scanned.shards and written.shard_lengths == scanned.shard_lengths
    np.testing.assert_array_equal(written.clip_id, scanned.clip_id)
    for column in ("person", "emotion", "level", "content", "num_samples", "num_frames"):
        np.testing.assert_array_equal(getattr(written, column), getattr(scanned, column))
    # Records are stored speaker by speaker (the pipeline reads one speaker's run at a time).
    assert np.all(np.diff(written.person) >= 0)


def test_tensorflow_is_told_to_leave_the_gpu_alone(monkeypatch):
    tf = tf_setup.tensorflow()
    calls = []
    monkeypatch.setattr(tf.config, "set_visible_devices", lambda devices, kind: calls.append((devices, kind)))
    monkeypatch.setattr(tf_setup, "_configured", False)
    tf_setup.tensorflow()
    assert calls == [([], "GPU")]
    assert tf.config.get_visible_devices("GPU") == []
