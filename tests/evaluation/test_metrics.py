"""Metric functions on hand-computed cases (toy meshes and tiny coefficient tracks)."""

import numpy as np
import pytest

from voiceemo_jax.evaluation import metrics


def toy_lip_sequences():
    """A 4-vertex mesh, 2 frames; lips are vertices 1 and 2.

    frame 0: v1 off by (0.3, 0.4, 0) -> 0.25, v2 off by (0, 0, 1) -> 1.0  => max 1.0
    frame 1: v1 off by (1, 1, 1)     -> 3.0,  v2 off by (0, 0, 0.5) -> 0.25 => max 3.0
    v0 (not a lip vertex) is off by 10 in both frames and must not count. LVE = 2.0.
    """
    template = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], np.float32)
    target = np.stack([template, template + 0.5])
    pred = target.copy()
    pred[:, 0] += [10.0, 0.0, 0.0]
    pred[0, 1] += [0.3, 0.4, 0.0]
    pred[0, 2] += [0.0, 0.0, 1.0]
    pred[1, 1] += [1.0, 1.0, 1.0]
    pred[1, 2] += [0.0, 0.0, 0.5]
    return pred, target


def test_lve_on_a_toy_mesh_is_the_hand_computed_value():
    pred, target = toy_lip_sequences()
    np.testing.assert_allclose(metrics.region_max_squared_error(pred, target, [1, 2]), [1.0, 3.0], rtol=1e-6)
    assert metrics.lip_vertex_error(pred, target, [1, 2]) == pytest.approx(2.0, rel=1e-6)
    # EVE is the same formula on another region: vertex 0 alone -> 100 in both frames.
    assert metrics.emotional_vertex_error(pred, target, np.array([0])) == pytest.approx(100.0, rel=1e-6)
    # A region including v0 is dominated by it: the max, not the mean, over vertices.
    assert metrics.lip_vertex_error(pred, target, [0, 1, 2]) == pytest.approx(100.0, rel=1e-6)


def test_test_set_lve_pools_frames_not_sequences():
    # Sequence A: per-frame maxima [1, 3]; sequence B: [5]. Pooled: 9/3 = 3, not (2 + 5)/2.
    assert metrics.pooled_frame_mean([np.array([1.0, 3.0]), np.array([5.0])]) == pytest.approx(3.0)
    with pytest.raises(ValueError):
        metrics.pooled_frame_mean([])


def toy_upper_face_motion():
    """Two upper-face vertices over 3 frames (displacements from the template).

    gt:   v0 norms [0, 1, 2] (std sqrt(2/3)), v1 norms [0, 0, 0] (std 0)
    pred: v0 norms [1, 1, 1] (std 0),         v1 norms [0, 2, 0] (std sqrt(8/9))
    v2 is outside the region and moves wildly.
    """
    gt = np.zeros((3, 3, 3))
    gt[1, 0] = [0.6, 0.8, 0.0]
    gt[2, 0] = [0.0, 0.0, 2.0]
    pred = np.zeros((3, 3, 3))
    pred[:, 0] = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    pred[1, 1] = [0.0, 2.0, 0.0]
    pred[:, 2] = [[9, 0, 0], [0, 0, 0], [-9, 0, 0]]
    return pred, gt


def test_fdd_is_mean_absolute_std_difference_of_displacement_norms():
    pred, gt = toy_upper_face_motion()
    np.testing.assert_allclose(metrics.displacement_norm_std(gt, [0, 1]), [np.sqrt(2 / 3), 0.0], atol=1e-12)
    np.testing.assert_allclose(metrics.displacement_norm_std(pred, [0, 1]), [0.0, np.sqrt(8 / 9)], atol=1e-12)
    expected = (np.sqrt(2 / 3) + np.sqrt(8 / 9)) / 2  # |0.8165 - 0| and |0 - 0.9428|, averaged
    assert metrics.upper_face_dynamics_deviation(pred, gt, [0, 1]) == pytest.approx(expected, rel=1e-9)
    assert metrics.upper_face_dynamics_deviation(gt, gt, [0, 1, 2]) == 0.0


def test_fdd_published_convention_uses_squared_norms_and_a_signed_difference():
    pred, gt = toy_upper_face_motion()
    # gt squared norms: v0 [0, 1, 4] -> std sqrt(26/9), v1 -> 0; pred: v0 -> 0, v1 [0, 4, 0] -> std sqrt(32/9).
    expected = np.sqrt(26 / 9) / 2 - np.sqrt(32 / 9) / 2
    assert expected < 0
    assert metrics.fdd_published_convention(pred, gt, [0, 1]) == pytest.approx(expected, rel=1e-9)


def test_vertex_metrics_reject_bad_regions_and_shapes():
    pred, target = toy_lip_sequences()
    for bad in ([], [4], [-1], np.array([0.5, 1.0])):
        with pytest.raises(ValueError):
            metrics.lip_vertex_error(pred, target, bad)
    with pytest.raises(ValueError):
        metrics.lip_vertex_error(pred[:1], target, [1])


def test_coefficient_errors_overall_per_group_and_per_channel():
    target = np.zeros((2, 4))
    pred = np.array([[1.0, -1.0, 0.0, 0.0], [3.0, 0.0, 0.0, 2.0]])
    overall = metrics.mean_errors(pred, target)
    assert overall["mae"] == pytest.approx(7 / 8) and overall["mse"] == pytest.approx(15 / 8)
    groups = metrics.group_errors(pred, target, {"a": (0, 1), "b": (2,), "c": (3,)})
    assert groups["a"] == pytest.approx({"mae": 5 / 4, "mse": 11 / 4})
    assert groups["b"] == {"mae": 0.0, "mse": 0.0}
    assert groups["c"] == pytest.approx({"mae": 1.0, "mse": 2.0})
    per_channel = metrics.channel_errors(pred, target)
    np.testing.assert_allclose(per_channel["mae"], [2.0, 0.5, 0.0, 1.0])
    np.testing.assert_allclose(per_channel["mse"], [5.0, 0.5, 0.0, 2.0])


def test_pearson_per_channel_signs_scale_invariance_and_constant_channels():
    target = np.array([[1.0, 1.0, 0.2, 0.0], [2.0, 2.0, 0.2, 1.0], [3.0, 3.0, 0.2, 0.0], [4.0, 5.0, 0.2, 1.0]])
    pred = np.array([[2.0, 4.0, 0.1, 0.0], [4.0, 3.0, 0.5, 1.0], [6.0, 2.0, 0.9, 1.0], [8.0, 1.0, 0.1, 0.0]])
    r = metrics.pearson_per_channel(pred, target)
    assert r[0] == pytest.approx(1.0)
    # channel 1: target [1, 2, 3, 5] (mean 2.75), pred [4, 3, 2, 1] (mean 2.5): -6.5 / sqrt(8.75 * 5)
    assert r[1] == pytest.approx(-6.5 / np.sqrt(8.75 * 5.0))
    assert np.isnan(r[2])  # constant target
    assert r[3] == pytest.approx(0.0, abs=1e-12)


def test_confusion_matrix_and_accuracy():
    matrix = metrics.confusion_matrix([0, 0, 1, 2], [0, 1, 1, 0], 3)
    np.testing.assert_array_equal(matrix, [[1, 1, 0], [0, 1, 0], [1, 0, 0]])
    assert metrics.accuracy_from_confusion(matrix) == 0.5
    assert np.isnan(metrics.accuracy_from_confusion(np.zeros((3, 3))))
    with pytest.raises(ValueError):
        metrics.confusion_matrix([0, 3], [0, 0], 3)
