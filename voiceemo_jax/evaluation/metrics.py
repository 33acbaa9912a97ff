"""Evaluation metrics of speech-driven facial animation, as pure numpy functions.

Vertex metrics follow SPEC section 8 (FaceFormer / CodeTalker lineage):

- LVE (lip vertex error): per frame, the maximum over lip vertices of the squared L2
  error; mean over frames. Pooled over a test set, the mean runs over all frames of all
  sequences (FaceFormer sums per-frame maxima and divides by the frame count), which is
  `pooled_frame_mean` of the per-frame maxima.
- EVE (emotional vertex error): the same over eye and forehead vertices.
- FDD (upper-face dynamics deviation): per upper-face vertex, the standard deviation
  over time of its displacement norm from the template, for ground truth and
  prediction; |std_gt - std_pred| averaged over vertices, then over sequences.

Units are those of the meshes, squared for LVE/EVE (VOCASET: metres, LVE is quoted in
units of 1e-5 m^2). Standard deviations are population std (ddof=0), numpy's default
as in the published evaluation scripts.

Coefficient metrics (blendshape outputs): MAE/MSE overall and per channel group,
per-channel Pearson correlation, and emotion accuracy with a confusion matrix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def _check_pair(pred: np.ndarray, target: np.ndarray, ndim: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    pred, target = np.asarray(pred, np.float64), np.asarray(target, np.float64)
    if pred.shape != target.shape or pred.ndim != ndim:
        raise ValueError(f"{what}: prediction {pred.shape} and target {target.shape} must both be {ndim}-d and equal")
    return pred, target


def _region(indices: Sequence[int] | np.ndarray, num_vertices: int) -> np.ndarray:
    indices = np.asarray(indices)
    if indices.ndim != 1 or indices.size == 0 or indices.dtype.kind not in "iu":
        raise ValueError("a vertex region must be a non-empty 1-d array of integer indices")
    if indices.min() < 0 or indices.max() >= num_vertices:
        raise ValueError(f"vertex indices must lie in [0, {num_vertices}), got {indices.min()}..{indices.max()}")
    return indices


# ----------------------------------------------------------------------------- vertex metrics


def region_max_squared_error(pred: np.ndarray, target: np.ndarray, indices) -> np.ndarray:
    """Per frame, the largest squared L2 error over the region's vertices.

    pred, target: [T, V, 3] vertices (or displacements: a shared template cancels);
    indices: [R] vertex ids. -> [T] float64.
    """
    pred, target = _check_pair(pred, target, 3, "region_max_squared_error")
    indices = _region(indices, pred.shape[1])
    squared = np.sum(np.square(pred[:, indices] - target[:, indices]), axis=-1)  # [T, R]
    return squared.max(axis=1)


def lip_vertex_error(pred: np.ndarray, target: np.ndarray, lip_indices) -> float:
    """LVE of one sequence: mean over frames of the per-frame max squared lip-vertex error.

    pred, target: [T, V, 3]; lip_indices: [R]. -> scalar (squared mesh units).
    """
    return float(np.mean(region_max_squared_error(pred, target, lip_indices)))


def emotional_vertex_error(pred: np.ndarray, target: np.ndarray, eye_indices) -> float:
    """EVE of one sequence: LVE's formula over eye and forehead vertices. [T, V, 3] -> scalar."""
    return float(np.mean(region_max_squared_error(pred, target, eye_indices)))


def pooled_frame_mean(per_frame: Sequence[np.ndarray]) -> float:
    """Mean over all frames of several sequences ([T_i] arrays): the test-set LVE/EVE.

    Longer sequences weigh more, as in FaceFormer's evaluation (sum over frames / frame count).
    """
    values = np.concatenate([np.asarray(v, np.float64).reshape(-1) for v in per_frame]) if per_frame else []
    if len(values) == 0:
        raise ValueError("no frames to average")
    return float(np.mean(values))


def displacement_norm_std(motion: np.ndarray, indices) -> np.ndarray:
    """Std over time of each region vertex's displacement norm.

    motion: [T, V, 3] displacement from the template (vertices - template);
    indices: [R]. -> [R] float64 (population std).
    """
    motion = np.asarray(motion, np.float64)
    if motion.ndim != 3:
        raise ValueError(f"motion must be [T, V, 3], got {motion.shape}")
    indices = _region(indices, motion.shape[1])
    return np.std(np.linalg.norm(motion[:, indices], axis=-1), axis=0)


def upper_face_dynamics_deviation(pred_motion: np.ndarray, target_motion: np.ndarray, upper_indices) -> float:
    """FDD of one sequence (SPEC section 8): mean over upper-face vertices of |std_gt - std_pred|.

    pred_motion, target_motion: [T, V, 3] displacements from the template. -> scalar (mesh units).
    The test-set FDD is the mean of this over sequences.
    """
    pred_motion, target_motion = _check_pair(pred_motion, target_motion, 3, "upper_face_dynamics_deviation")
    gt_std = displacement_norm_std(target_motion, upper_indices)
    pred_std = displacement_norm_std(pred_motion, upper_indices)
    return float(np.mean(np.abs(gt_std - pred_std)))


def fdd_published_convention(pred_motion: np.ndarray, target_motion: np.ndarray, upper_indices) -> float:
    """FDD as CodeTalker's released evaluation script computes it, for comparison with its tables.

    That script takes the std over time of the *squared* displacement norm, averages it
    over the region for ground truth and prediction separately, and reports the *signed*
    difference gt - pred (mean over sequences). SPEC's FDD (`upper_face_dynamics_deviation`)
    uses the norm and an absolute per-vertex difference, so the two differ in units (m vs
    m^2) and in sign. [T, V, 3] displacements -> scalar (squared mesh units).
    """
    pred_motion, target_motion = _check_pair(pred_motion, target_motion, 3, "fdd_published_convention")
    indices = _region(upper_indices, pred_motion.shape[1])

    def mean_std(motion):
        return np.mean(np.std(np.sum(np.square(motion[:, indices]), axis=-1), axis=0))

    return float(mean_std(target_motion) - mean_std(pred_motion))


# ----------------------------------------------------------------------------- coefficient metrics


def mean_errors(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """MAE and MSE over every frame and channel. pred, target: [N, C] -> {"mae", "mse"}."""
    pred, target = _check_pair(pred, target, 2, "mean_errors")
    error = pred - target
    return {"mae": float(np.mean(np.abs(error))), "mse": float(np.mean(np.square(error)))}


def group_errors(pred: np.ndarray, target: np.ndarray, groups: Mapping[str, Sequence[int]]) -> dict[str, dict]:
    """MAE/MSE per channel group (e.g. `arkit.GROUPS`). [N, C] -> {group: {"mae", "mse"}}."""
    pred, target = _check_pair(pred, target, 2, "group_errors")
    return {name: mean_errors(pred[:, list(channels)], target[:, list(channels)]) for name, channels in groups.items()}


def channel_errors(pred: np.ndarray, target: np.ndarray) -> dict[str, np.ndarray]:
    """Per-channel MAE and MSE over frames. [N, C] -> {"mae": [C], "mse": [C]}."""
    pred, target = _check_pair(pred, target, 2, "channel_errors")
    error = pred - target
    return {"mae": np.mean(np.abs(error), axis=0), "mse": np.mean(np.square(error), axis=0)}


def pearson_per_channel(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Pearson correlation of prediction and target per channel, over frames.

    pred, target: [N, C] -> [C] float64; NaN where either series is constant (the
    correlation is undefined there, and a constant channel is common: tongueOut).
    """
    pred, target = _check_pair(pred, target, 2, "pearson_per_channel")
    pred_c = pred - pred.mean(axis=0)
    target_c = target - target.mean(axis=0)
    denominator = np.sqrt(np.sum(pred_c**2, axis=0) * np.sum(target_c**2, axis=0))
    numerator = np.sum(pred_c * target_c, axis=0)
    # A relative floor: float rounding leaves ~1e-30 "variance" in a constant channel.
    scale = np.maximum(np.sum(pred**2, axis=0), 1.0) * np.maximum(np.sum(target**2, axis=0), 1.0)
    defined = denominator > 1e-12 * np.sqrt(scale)
    out = np.full(pred.shape[1], np.nan)
    out[defined] = numerator[defined] / denominator[defined]
    return np.clip(out, -1.0, 1.0)


# ----------------------------------------------------------------------------- emotion


def confusion_matrix(true_labels: Sequence[int], predicted_labels: Sequence[int], num_classes: int) -> np.ndarray:
    """Counts [C, C] int64: row = true class, column = predicted class."""
    true_labels, predicted_labels = np.asarray(true_labels, np.int64), np.asarray(predicted_labels, np.int64)
    if true_labels.shape != predicted_labels.shape or true_labels.ndim != 1:
        raise ValueError("true and predicted labels must be 1-d arrays of equal length")
    for labels in (true_labels, predicted_labels):
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(f"labels must lie in [0, {num_classes})")
    matrix = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(matrix, (true_labels, predicted_labels), 1)
    return matrix


def accuracy_from_confusion(matrix: np.ndarray) -> float:
    """Fraction on the diagonal; NaN for an empty matrix."""
    total = int(np.sum(matrix))
    return float(np.trace(matrix) / total) if total else float("nan")
