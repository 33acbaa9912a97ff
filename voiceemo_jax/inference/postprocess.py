"""Release-style post-processing of [T, 52] coefficients (SPEC section 6), seeded.

1. Savitzky-Golay smoothing per channel (window 5, polynomial order 2).
2. The eye-blink channels are replaced by 7-frame blink curves placed every 60-180
   frames. The release draws the gaps from Python's global `random`; here they come
   from `numpy.random.default_rng(seed)`, so the same seed gives the same blinks.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import savgol_filter

from voiceemo_jax.arkit import EYE_BLINK_LEFT, EYE_BLINK_RIGHT

SAVGOL_WINDOW = 5
SAVGOL_ORDER = 2
# One blink at 30 fps: lids close over ~2 frames, hold, and reopen more slowly.
BLINK_CURVE = np.array([0.35, 0.85, 1.0, 0.9, 0.55, 0.25, 0.08], np.float32)
BLINK_GAP_FRAMES = (60, 180)


def smooth(coeffs: np.ndarray) -> np.ndarray:
    """Savitzky-Golay along time. Clips shorter than the window get the longest odd
    window that fits (>= 3 frames), and clips under 3 frames are returned unchanged."""
    frames = coeffs.shape[0]
    window = min(SAVGOL_WINDOW, frames if frames % 2 else frames - 1)
    if window <= SAVGOL_ORDER:
        return coeffs.copy()
    return savgol_filter(coeffs, window, SAVGOL_ORDER, axis=0).astype(coeffs.dtype)


def blink_schedule(num_frames: int, seed: int) -> list[int]:
    """Start frames of the blinks: first after 60-180 frames, then every 60-180 frames."""
    rng = np.random.default_rng(seed)
    low, high = BLINK_GAP_FRAMES
    starts, frame = [], int(rng.integers(low, high + 1))
    while frame + len(BLINK_CURVE) <= num_frames:
        starts.append(frame)
        frame += int(rng.integers(low, high + 1))
    return starts


def add_blinks(coeffs: np.ndarray, seed: int) -> np.ndarray:
    """Zeroes both eyeBlink channels and writes the seeded blink curves into them."""
    out = coeffs.copy()
    out[:, [EYE_BLINK_LEFT, EYE_BLINK_RIGHT]] = 0.0
    for start in blink_schedule(coeffs.shape[0], seed):
        out[start : start + len(BLINK_CURVE), EYE_BLINK_LEFT] = BLINK_CURVE
        out[start : start + len(BLINK_CURVE), EYE_BLINK_RIGHT] = BLINK_CURVE
    return out


def post_process(coeffs: np.ndarray, seed: int = 0) -> np.ndarray:
    """[T, 52] float32 -> [T, 52] float32: smoothed, with seeded blinks."""
    if coeffs.ndim != 2 or coeffs.shape[1] <= max(EYE_BLINK_LEFT, EYE_BLINK_RIGHT):
        raise ValueError(f"post-processing needs [T, 52] blendshape coefficients, got {coeffs.shape}")
    return add_blinks(smooth(coeffs), seed)
