"""Per-clip preprocessing ops the builders apply before a record is written.

Each op is a small pure numpy function (tested eagerly, and inside tf.data through
`tf.numpy_function`). They run at build time, once per clip, so the training input
pipeline only reads 16 kHz audio and 30 fps targets. Audio itself is decoded and
resampled by `voiceemo_jax.audio`, the reader inference uses too.
"""

from __future__ import annotations

import numpy as np

from voiceemo_jax.timebase import FPS

# The longest 30 fps target/audio disagreement that is cropped or padded rather than
# skipped. Capture tools and the 60 -> 30 fps step routinely differ by a frame or two
# (an unfinished last video frame, rounding of the audio length); more means the wrong
# target was matched.
FRAME_TOLERANCE = 3


class FrameMismatchError(ValueError):
    """A target's frame count differs from the audio's by more than the tolerance."""


def decimate_frames(frames: np.ndarray, source_fps: int = 60, target_fps: int = FPS) -> np.ndarray:
    """[T_src, ...] at `source_fps` -> [ceil(T_src * target / source), ...]: every k-th frame.

    VOCASET's 60 fps scans become 30 fps by keeping frames 0, 2, 4, ... (FaceFormer's
    convention), i.e. no averaging, so every kept frame is a real scan. Only integer
    ratios are meaningful here.
    """
    if source_fps % target_fps:
        raise ValueError(f"decimate_frames needs an integer fps ratio, got {source_fps} -> {target_fps}")
    return np.asarray(frames)[:: source_fps // target_fps]


def template_offsets(vertices: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Vertex positions minus the subject's neutral template, flattened per frame.

    Args:
      vertices: [T, 3V] (VOCASET's vertices_npy layout, x y z per vertex) or [T, V, 3].
      template: [V, 3] or [3V].
    Returns:
      [T, 3V] float32 offsets.
    """
    vertices = np.asarray(vertices, dtype=np.float32)
    template = np.asarray(template, dtype=np.float32).reshape(-1)
    flat = vertices.reshape(vertices.shape[0], -1)
    if flat.shape[1] != template.shape[0]:
        raise ValueError(f"vertices have {flat.shape[1]} coordinates per frame, the template {template.shape[0]}")
    return flat - template[None, :]


def fit_frames(targets: np.ndarray, num_frames: int, tolerance: int = FRAME_TOLERANCE) -> np.ndarray:
    """[T, D] -> [num_frames, D]: crop the tail, or repeat the last frame, when |T - num_frames| <= tolerance.

    Repeating the last frame (not zeros) keeps the face where it was instead of
    snapping it to the rest pose for the padded frames.

    Raises:
      FrameMismatchError: the difference is larger than `tolerance`, or T == 0.
    """
    targets = np.asarray(targets)
    length = targets.shape[0]
    if length == 0 or abs(length - num_frames) > tolerance:
        raise FrameMismatchError(
            f"target has {length} frames at {FPS} fps but the audio needs {num_frames} (tolerance {tolerance})"
        )
    if length >= num_frames:
        return targets[:num_frames]
    pad = np.repeat(targets[-1:], num_frames - length, axis=0)
    return np.concatenate([targets, pad], axis=0)
