"""Static padded lengths for variable-length clips, and padding a batch to one of them.

A jitted training step recompiles for every new input shape. Clips are therefore padded
to one of a few bucket lengths (in samples; the frame count follows as
frames_for(samples)), and the true lengths travel as `num_samples` / `num_frames` so
the model can mask the padding.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from voiceemo_jax.timebase import SAMPLE_RATE_HZ, frames_for

# RAVDESS clips are 3-5 s, MEAD and VOCASET mostly 2-8 s: eight shapes cover them with
# at most ~25% padding, and anything up to 12 s fits.
DEFAULT_BUCKET_SECONDS = (2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0)


def bucket_lengths(bucket_seconds: Sequence[float], sample_rate_hz: int = SAMPLE_RATE_HZ) -> tuple[int, ...]:
    """Bucket sizes in samples, ascending and distinct: (2.0, 3.0) -> (32000, 48000)."""
    lengths = sorted({int(round(float(s) * sample_rate_hz)) for s in bucket_seconds})
    if not lengths or lengths[0] <= 0:
        raise ValueError(f"bucket seconds must be positive and non-empty, got {tuple(bucket_seconds)}")
    return tuple(lengths)


def bucket_for(num_samples: int, buckets: Sequence[int]) -> int | None:
    """The smallest bucket holding `num_samples`, or None when it is longer than the largest."""
    position = int(np.searchsorted(np.asarray(buckets), num_samples, side="left"))
    return int(buckets[position]) if position < len(buckets) else None


def eval_length(num_samples: int, buckets: Sequence[int]) -> int:
    """Like `bucket_for`, but never refuses: longer clips round up to a multiple of the largest bucket.

    Evaluation must see every clip whole; a rare extra shape is the price.
    """
    bucket = bucket_for(num_samples, buckets)
    if bucket is not None:
        return bucket
    largest = int(buckets[-1])
    return -(-int(num_samples) // largest) * largest


def pad_audio(clips: Sequence[np.ndarray], length: int) -> np.ndarray:
    """[n_i] float clips -> [B, length] float32, zero-padded at the end (clips longer than `length` are an error)."""
    batch = np.zeros((len(clips), length), np.float32)
    for i, clip in enumerate(clips):
        if clip.shape[0] > length:
            raise ValueError(f"clip of {clip.shape[0]} samples does not fit the bucket of {length}")
        batch[i, : clip.shape[0]] = clip
    return batch


def pad_frames(targets: Sequence[np.ndarray], num_frames: int, dim: int) -> np.ndarray:
    """[t_i, D] targets -> [B, num_frames, D] float32, zero-padded at the end (masked by `num_frames`)."""
    batch = np.zeros((len(targets), num_frames, dim), np.float32)
    for i, target in enumerate(targets):
        if target.shape[0] > num_frames:
            raise ValueError(f"target of {target.shape[0]} frames does not fit {num_frames} frames")
        batch[i, : target.shape[0]] = target
    return batch


def padded_frames(length: int) -> int:
    """Frames of a batch padded to `length` samples: T = ceil(S * 30 / 16000)."""
    return frames_for(length)
