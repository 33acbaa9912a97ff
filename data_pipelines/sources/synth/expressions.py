"""How each emotion looks: upper-face and mouth-corner expressions, blinks, and the final targets.

An emotion is a pose over brows, eyes, cheeks, nose and mouth corners (FACS-style: anger
lowers the brows and squints, disgust wrinkles the nose and raises the upper lip, fear
raises the inner brows and widens the eyes, happiness smiles and squints the cheeks,
sadness raises the inner brows and pulls the corners down, surprise raises all brows, widens
the eyes and drops the jaw). Poses are written for level 2; level 1 shows 55% of it. The
pose is held through the clip: it builds up over the first half second, drifts gently
(seeded slow noise, +-8%), and the inner brows follow pitch peaks of the voice a little.
Emotions also change articulation (angry speech is over-articulated, sad speech under-). The
lips still meet for p, b and m in a surprised or fearful face: there mouthClose seals the
expression's jaw drop (`compose_targets`).
Blinks: seeded 7-frame curves every 2-6 s, as SPEC section 6 describes.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from data_pipelines.sources.synth import psola
from data_pipelines.sources.synth.visemes import pose_from
from voiceemo_jax.arkit import EYE_BLINK_LEFT, EYE_BLINK_RIGHT, INDEX
from voiceemo_jax.timebase import FPS, SAMPLE_RATE_HZ

LEVEL_SCALE = {1: 0.55, 2: 1.0}
EXPRESSIONS = {
    "angry": pose_from(browDown=0.75, eyeSquint=0.35, noseSneer=0.3, mouthPress=0.2, mouthFrown=0.25, jawForward=0.1,
                   cheekSquint=0.15, mouthRollUpper=0.1),
    "disgust": pose_from(noseSneerLeft=0.75, noseSneerRight=0.55, mouthUpperUpLeft=0.45, mouthUpperUpRight=0.3,
                     browDown=0.45, cheekSquintLeft=0.5, cheekSquintRight=0.4, eyeSquint=0.35, mouthFrown=0.3,
                     mouthShrugUpper=0.25, mouthLeft=0.1),
    "fear": pose_from(browInnerUp=0.85, browOuterUp=0.35, browDown=0.2, eyeWide=0.7, mouthStretch=0.35, mouthFrown=0.1,
                  jawOpen=0.05),
    "happy": pose_from(mouthSmile=0.75, cheekSquint=0.55, eyeSquint=0.3, mouthDimple=0.25, browOuterUp=0.15,
                   browInnerUp=0.05),
    "neutral": pose_from(browInnerUp=0.04),
    "sad": pose_from(browInnerUp=0.7, browDown=0.15, mouthFrown=0.55, mouthShrugLower=0.35, mouthPress=0.1,
                 eyeLookDown=0.25, eyeSquint=0.1),
    "surprise": pose_from(browInnerUp=0.75, browOuterUp=0.8, eyeWide=0.8, jawOpen=0.12, mouthFunnel=0.08),
}  # fmt: skip
# Viseme amplitude at level 2 (level 1 interpolates from 1.0).
ARTICULATION = {"angry": 1.2, "disgust": 0.9, "fear": 0.9, "happy": 1.1, "neutral": 1.0, "sad": 0.7, "surprise": 1.15}
BLINK_CURVE = np.array([0.25, 0.65, 1.0, 0.95, 0.6, 0.3, 0.1], np.float32)  # 7 frames at 30 fps
BLINK_INTERVAL_SECONDS = (2.0, 6.0)
BROW_PITCH_COUPLING = 0.12  # browInnerUp per unit of positive F0 z-score
_CORNERS = [INDEX[n] for n in ("mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight")]
_ROUNDING = [INDEX["mouthPucker"], INDEX["mouthFunnel"]]
_JAW, _CLOSE = INDEX["jawOpen"], INDEX["mouthClose"]


def articulation_for(emotion: str, level: int) -> float:
    """Viseme gain of an emotion at a level: 1 + LEVEL_SCALE[level] * (ARTICULATION - 1)."""
    return 1.0 + LEVEL_SCALE[level] * (ARTICULATION[emotion] - 1.0)


def _slow_noise(num_frames: int, rng: np.random.Generator, seconds: float = 1.0) -> np.ndarray:
    """Smooth zero-mean noise with unit peak-ish amplitude and ~`seconds` correlation: [num_frames]."""
    noise = ndimage.gaussian_filter1d(rng.standard_normal(num_frames + 60), seconds * FPS / 2, mode="wrap")[30:-30]
    return noise / (np.abs(noise).max() + 1e-9)


def _pitch_peaks(f0_hz: np.ndarray | None, num_frames: int) -> np.ndarray:
    """Positive z-score of the voice's F0 (5 ms grid, 0 = unvoiced) on the video frames: [num_frames] >= 0."""
    if f0_hz is None or np.count_nonzero(f0_hz) < 10:
        return np.zeros(num_frames)
    voiced = f0_hz > 0
    log_f0 = np.log(np.where(voiced, f0_hz, 1.0))
    z = np.where(voiced, (log_f0 - log_f0[voiced].mean()) / (log_f0[voiced].std() + 1e-6), 0.0)
    grid_times = np.arange(len(f0_hz)) * psola.HOP / SAMPLE_RATE_HZ
    on_frames = np.interp(np.arange(num_frames) / FPS, grid_times, np.maximum(z, 0.0))
    return ndimage.gaussian_filter1d(on_frames, 2.0, mode="nearest")


def expression_curves(
    emotion: str, level: int, num_frames: int, rng: np.random.Generator, f0_hz: np.ndarray | None = None
) -> np.ndarray:
    """The emotion's face over a clip (everything but the visemes and blinks).

    f0_hz: the realised F0 on the 5 ms grid (0 where unvoiced), for brow-pitch coupling.
    Returns [num_frames, 52] float32 >= 0.
    """
    pose = EXPRESSIONS[emotion] * LEVEL_SCALE[level]
    # Per-clip intensity (+-10%) with a slight left/right asymmetry (+-5% per channel).
    pose = pose * (1.0 + 0.1 * rng.standard_normal()) * (1.0 + 0.05 * rng.standard_normal(pose.shape))
    seconds = np.arange(num_frames) / FPS
    onset = np.clip(seconds / 0.5, 0.0, 1.0)
    build_up = 0.5 + 0.5 * onset * onset * (3 - 2 * onset)
    drift = 1.0 + 0.08 * _slow_noise(num_frames, rng)
    curves = pose[None, :] * (build_up * drift)[:, None]
    curves[:, INDEX["browInnerUp"]] += (
        BROW_PITCH_COUPLING * (0.5 + 0.5 * LEVEL_SCALE[level]) * _pitch_peaks(f0_hz, num_frames)
    )
    return np.maximum(curves, 0.0).astype(np.float32)


def blink_curve(num_frames: int, rng: np.random.Generator, fps: int = FPS) -> np.ndarray:
    """Seeded blinks: BLINK_CURVE starting every 2-6 s (first after 0.3-2.5 s): [num_frames] in [0, 1]."""
    curve = np.zeros(num_frames, np.float32)
    start = int(rng.uniform(0.3, 2.5) * fps)
    while start < num_frames:
        stop = min(start + len(BLINK_CURVE), num_frames)
        curve[start:stop] = BLINK_CURVE[: stop - start]
        start += int(rng.uniform(*BLINK_INTERVAL_SECONDS) * fps)
    return curve


def compose_targets(visemes: np.ndarray, closure: np.ndarray, expression: np.ndarray, blinks: np.ndarray) -> np.ndarray:
    """visemes + expression, with the blink curve on both eyelids.

    visemes and closure [frames]: `visemes.mouth_and_closure`. Lip rounding (pucker/funnel) and
    a smile or stretch fight over the mouth corners, so the corners give way while the lips
    round; the lips still meet for p b m when the expression drops the jaw (surprise, fear):
    mouthClose seals the expression's jawOpen there, as the viseme rules seal their own.
    Returns [frames, 52] float32 in [0, 1].
    """
    expression = expression.copy()
    rounding = visemes[:, _ROUNDING].max(axis=1, keepdims=True)
    expression[:, _CORNERS] *= 1.0 - 0.6 * np.clip(rounding, 0.0, 1.0)
    expression[:, _CLOSE] += np.clip(closure, 0.0, 1.0) * expression[:, _JAW]
    targets = visemes + expression
    targets[:, EYE_BLINK_LEFT] = blinks
    targets[:, EYE_BLINK_RIGHT] = blinks
    return np.clip(targets, 0.0, 1.0).astype(np.float32)
