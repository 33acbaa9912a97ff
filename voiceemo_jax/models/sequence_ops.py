"""Pure functions on sequence lengths, masks and time resampling.

Everything here is shape-static under `jax.jit`: lengths are traced `[batch]` int32
arrays, the padded sizes are Python ints. Each function mirrors a PyTorch semantic of the
reference implementation and is unit-tested against it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

# Re-exported: the model code reads the clocks as `sequence_ops.FPS` etc.; they are defined once, in timebase.
from voiceemo_jax.timebase import FPS, SAMPLE_RATE_HZ, frames_for  # noqa: F401

WAV2VEC2_FPS = 50

# `frames_for` over a traced `[batch]` int array: the same integer expression works on arrays.
frames_for_array = frames_for


def conv_output_length(length, kernels: Sequence[int], strides: Sequence[int]):
    """Frames the wav2vec2 CNN emits for `length` samples (HF `_get_feat_extract_output_lengths`).

    Works on Python ints and on jnp arrays alike. Negative results mean "too short".
    """
    for kernel, stride in zip(kernels, strides):
        length = (length - kernel) // stride + 1
    return length


def receptive_field(kernels: Sequence[int], strides: Sequence[int]) -> int:
    """Smallest number of samples for which the CNN emits one frame."""
    field = 1
    for kernel, stride in reversed(list(zip(kernels, strides))):
        field = (field - 1) * stride + kernel
    return field


# Emotion-encoder lengths T below this bound reproduce the release's float expression exactly.
_FLOAT_QUIRK_BOUND = 1 << 22  # 50 fps frames: ~23 hours of audio


def _float_quirk_lengths() -> np.ndarray:
    """Sorted T where float64 `int(T / 50 * 30)` is one less than the exact floor(3T / 5)."""
    t = np.arange(1, _FLOAT_QUIRK_BOUND, dtype=np.int64)
    return t[(t / WAV2VEC2_FPS * FPS).astype(np.int64) != (t * FPS) // WAV2VEC2_FPS].astype(np.int32)


_QUIRK_LENGTHS = _float_quirk_lengths()


def emotion_mid_length(cnn_frames):
    """Emotion encoder's internal length, the release's `int(T50 / 50 * 30)`.

    That float expression is floor(3T / 5) except where float64 rounding lands just
    below an integer (T = 205, 410, 820, ...: 0.4% of lengths), where it is one less.
    We reproduce it exactly (for T < 2**22) with a table of those T, so converted
    checkpoints see the same internal lengths as the release. Python int or jnp array.
    """
    exact = (cnn_frames * FPS) // WAV2VEC2_FPS
    if isinstance(cnn_frames, (int, np.integer)):
        return int(cnn_frames / WAV2VEC2_FPS * FPS)
    table = jnp.asarray(_QUIRK_LENGTHS)
    position = jnp.searchsorted(table, cnn_frames)
    hit = table[jnp.minimum(position, table.shape[0] - 1)] == cnn_frames
    return exact - hit.astype(exact.dtype)


def length_mask(lengths: jax.Array, max_length: int) -> jax.Array:
    """`[batch]` lengths -> `[batch, max_length]` bool, True on valid positions."""
    return jnp.arange(max_length)[None, :] < lengths[:, None]


def linear_resample(features: jax.Array, in_lengths: jax.Array, out_lengths: jax.Array, out_max: int) -> jax.Array:
    """Resamples each item along time with linear interpolation, align_corners=True.

    Matches `F.interpolate(x.transpose(1, 2), size=out_len, mode="linear",
    align_corners=True)` applied to each item's valid prefix alone.

    features: [batch, in_max, channels]; in_lengths, out_lengths: [batch] int.
    -> [batch, out_max, channels], zero beyond each item's out_length.
    """
    in_lengths = in_lengths.astype(jnp.int32)
    out_lengths = out_lengths.astype(jnp.int32)
    positions = jnp.arange(out_max, dtype=jnp.float32)[None, :]
    # PyTorch: scale = (in - 1) / (out - 1) for out > 1, else 0, in float32.
    scale = jnp.where(
        out_lengths > 1,
        (in_lengths - 1).astype(jnp.float32) / jnp.maximum(out_lengths - 1, 1).astype(jnp.float32),
        0.0,
    )[:, None]
    return _interpolate_at(features, in_lengths, scale * positions, out_lengths, out_max)


def resample_at_times(
    features: jax.Array, in_lengths: jax.Array, out_lengths: jax.Array, out_max: int, step: float, offset: float = 0.0
) -> jax.Array:
    """Resamples each item along time so that output frame f reads input position f * step - offset
    (linear interpolation, clamped to the item's valid input frames): a fixed clock, unlike
    `linear_resample`, whose mapping stretches with each item's length.

    features: [batch, in_max, channels]; in_lengths, out_lengths: [batch] int.
    -> [batch, out_max, channels], zero beyond each item's out_length.
    """
    positions = jnp.arange(out_max, dtype=jnp.float32)[None, :]
    source = jnp.maximum(positions * step - offset, 0.0)
    return _interpolate_at(features, in_lengths.astype(jnp.int32), source, out_lengths.astype(jnp.int32), out_max)


def _interpolate_at(features, in_lengths, source, out_lengths, out_max: int) -> jax.Array:
    """features [B, in_max, C] read at fractional positions source [B or 1, out_max] (clamped to each
    item's last valid frame), zero beyond out_lengths."""
    lower = jnp.clip(jnp.floor(source).astype(jnp.int32), 0, None)
    lower = jnp.minimum(lower, jnp.maximum(in_lengths[:, None] - 1, 0))
    upper = jnp.minimum(lower + 1, jnp.maximum(in_lengths[:, None] - 1, 0))
    weight = (source - lower.astype(jnp.float32))[..., None].astype(features.dtype)
    take = jax.vmap(lambda x, idx: x[idx])
    lower_values = take(features, lower)
    upper_values = take(features, upper)
    resampled = lower_values + weight * (upper_values - lower_values)
    valid = length_mask(out_lengths, out_max)[..., None]
    return jnp.where(valid, resampled, jnp.zeros((), features.dtype))


def alibi_slopes(num_heads: int) -> np.ndarray:
    """ALiBi head slopes (Press et al.), including the non-power-of-two rule.

    4 heads -> [1/4, 1/16, 1/64, 1/256].
    """

    def power_of_two_slopes(n: int) -> list[float]:
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        return [start * start**i for i in range(n)]

    if math.log2(num_heads).is_integer():
        slopes = power_of_two_slopes(num_heads)
    else:
        closest = 2 ** math.floor(math.log2(num_heads))
        slopes = power_of_two_slopes(closest)
        slopes += power_of_two_slopes(2 * closest)[0::2][: num_heads - closest]
    return np.asarray(slopes, dtype=np.float32)


def periodic_alibi_bias(num_heads: int, length: int, period: int) -> jax.Array:
    """Causal self-attention bias with periodic ALiBi, for the length at hand.

    bias[h, i, j] = -slope_h * floor((i - j) / period) for j <= i, -inf for j > i.
    -> [num_heads, length, length] float32. O(length^2) memory per call, no table,
    no length cap.
    """
    positions = jnp.arange(length)
    return periodic_alibi_bias_at(num_heads, positions, positions, period)


def periodic_alibi_bias_at(num_heads: int, query_positions, key_positions, period: int) -> jax.Array:
    """`periodic_alibi_bias` at absolute positions (it depends on i - j only): a block of
    queries, or queries against a key/value cache.

    query_positions: [Q] int, key_positions: [K] int -> [num_heads, Q, K] float32.
    """
    distance = query_positions[:, None] - key_positions[None, :]
    steps = jnp.floor_divide(jnp.maximum(distance, 0), period).astype(jnp.float32)
    slopes = jnp.asarray(alibi_slopes(num_heads))[:, None, None]
    return jnp.where((distance >= 0)[None], -slopes * steps[None], -jnp.inf)


def alignment_mask(query_length: int, memory_length: int) -> jax.Array:
    """Cross-attention mask: query frame t sees memory frame t only.

    -> [query_length, memory_length] bool, True where attention is allowed.
    """
    return jnp.arange(query_length)[:, None] == jnp.arange(memory_length)[None, :]


def masked_mean(values: jax.Array, mask: jax.Array, axis: int = 1) -> jax.Array:
    """Mean over `axis` of the positions where `mask` is True (mask broadcasts)."""
    mask = mask.astype(values.dtype)
    total = jnp.sum(values * mask, axis=axis)
    count = jnp.maximum(jnp.sum(mask, axis=axis), 1.0)
    return total / count


def normalize_waveform(audio: jax.Array, num_samples: jax.Array, eps: float = 1e-7) -> jax.Array:
    """Per-utterance zero mean, unit variance over the valid samples (HF do_normalize).

    audio: [batch, samples]; num_samples: [batch] -> [batch, samples], zeros past the end.
    """
    valid = length_mask(num_samples, audio.shape[1])
    count = jnp.maximum(num_samples, 1).astype(audio.dtype)[:, None]
    mean = jnp.sum(jnp.where(valid, audio, 0.0), axis=1, keepdims=True) / count
    centered = jnp.where(valid, audio - mean, 0.0)
    variance = jnp.sum(centered * centered, axis=1, keepdims=True) / count
    return centered / jnp.sqrt(variance + eps)
