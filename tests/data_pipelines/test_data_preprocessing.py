"""Each preprocessing op, eagerly and inside a tf.data pipeline."""

from __future__ import annotations

import numpy as np
import pytest

from data_pipelines.loading import bucketing
from data_pipelines.records import preprocessing
from tests.data_pipelines.data_fixtures import run_in_tf_data


def test_decimate_frames_keeps_even_frames():
    frames = np.arange(11 * 4, dtype=np.float32).reshape(11, 4)
    out = preprocessing.decimate_frames(frames, 60, 30)
    assert out.shape == (6, 4)  # ceil(11 / 2)
    np.testing.assert_array_equal(out[:, 0], frames[::2, 0])
    np.testing.assert_array_equal(out[1], frames[2])
    in_graph = run_in_tf_data(preprocessing.decimate_frames, frames, dtypes=np.float32)
    np.testing.assert_array_equal(in_graph, out)
    with pytest.raises(ValueError):
        preprocessing.decimate_frames(frames, 50, 30)


def test_template_offsets_accepts_both_vertex_layouts():
    rng = np.random.default_rng(0)
    template = rng.normal(size=(4, 3)).astype(np.float32)
    vertices = template[None] + np.arange(3, dtype=np.float32)[:, None, None]
    flat = preprocessing.template_offsets(vertices.reshape(3, 12), template)
    assert flat.shape == (3, 12)
    np.testing.assert_allclose(flat, np.repeat(np.arange(3.0)[:, None], 12, axis=1), atol=1e-6)
    np.testing.assert_allclose(preprocessing.template_offsets(vertices, template.reshape(-1)), flat, atol=1e-6)
    in_graph = run_in_tf_data(preprocessing.template_offsets, vertices.reshape(3, 12), template, dtypes=np.float32)
    np.testing.assert_allclose(in_graph, flat, atol=1e-6)
    with pytest.raises(ValueError):
        preprocessing.template_offsets(vertices.reshape(3, 12), template[:3])


def test_fit_frames_crops_pads_and_refuses():
    targets = np.arange(10, dtype=np.float32)[:, None] * np.ones((1, 2), np.float32)
    np.testing.assert_array_equal(preprocessing.fit_frames(targets, 8), targets[:8])
    padded = preprocessing.fit_frames(targets, 13)
    assert padded.shape == (13, 2)
    np.testing.assert_array_equal(padded[10:], np.full((3, 2), 9.0))  # last frame repeated, not zeros
    with pytest.raises(preprocessing.FrameMismatchError, match="10 frames"):
        preprocessing.fit_frames(targets, 14)
    with pytest.raises(preprocessing.FrameMismatchError):
        preprocessing.fit_frames(targets, 6)
    in_graph = run_in_tf_data(lambda t: preprocessing.fit_frames(t, 12), targets, dtypes=np.float32)
    np.testing.assert_array_equal(in_graph, preprocessing.fit_frames(targets, 12))


def test_bucket_choice():
    buckets = bucketing.bucket_lengths((3.0, 2.0, 2.0, 0.5))
    assert buckets == (8000, 32000, 48000)
    assert bucketing.bucket_for(1, buckets) == 8000
    assert bucketing.bucket_for(8000, buckets) == 8000
    assert bucketing.bucket_for(8001, buckets) == 32000
    assert bucketing.bucket_for(48001, buckets) is None
    assert bucketing.eval_length(48001, buckets) == 96000
    assert bucketing.eval_length(100, buckets) == 8000
    with pytest.raises(ValueError):
        bucketing.bucket_lengths(())


def test_padding_ops_eagerly_and_in_tf_data():
    clips = [np.ones(5, np.float32), 2 * np.ones(3, np.float32)]
    audio = bucketing.pad_audio(clips, 8)
    np.testing.assert_array_equal(audio, [[1, 1, 1, 1, 1, 0, 0, 0], [2, 2, 2, 0, 0, 0, 0, 0]])
    in_graph = run_in_tf_data(lambda a, b: bucketing.pad_audio([a, b], 8), *clips, dtypes=np.float32)
    np.testing.assert_array_equal(in_graph, audio)
    targets = bucketing.pad_frames([np.ones((2, 3), np.float32)], 4, 3)
    assert targets.shape == (1, 4, 3) and targets[0, 2:].sum() == 0 and targets[0, :2].sum() == 6
    with pytest.raises(ValueError):
        bucketing.pad_audio(clips, 4)
    assert bucketing.padded_frames(32000) == 60 and bucketing.padded_frames(8001) == 16


def test_labels_to_int32_eagerly_and_in_tf_data():
    import tensorflow as tf

    from data_pipelines.loading.input_pipeline import labels_to_int32

    record = {k: tf.constant(3, tf.int64) for k in ("emotion", "level", "person", "content")}
    record.update(num_samples=tf.constant(8000, tf.int32), num_frames=tf.constant(15, tf.int32))
    record["dataset"] = tf.constant("x")
    eager = labels_to_int32(record)
    assert "dataset" not in eager and eager["emotion"].dtype == tf.int32 and int(eager["person"]) == 3
    (in_graph,) = list(tf.data.Dataset.from_tensors(record).map(labels_to_int32).as_numpy_iterator())
    assert in_graph["level"].dtype == np.int32 and in_graph["num_frames"] == 15


def test_runs_of_groups_consecutive_records():
    from data_pipelines.loading.input_pipeline import runs_of

    shards = np.array([0, 0, 0, 1, 1, 0, 2])
    positions = np.array([3, 4, 5, 0, 2, 6, 0])
    assert runs_of(shards, positions) == [(0, 3, 3), (1, 0, 1), (1, 2, 1), (0, 6, 1), (2, 0, 1)]
