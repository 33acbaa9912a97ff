"""Mouth animation from phone timings: visemes, co-articulation and smoothing at 30 fps.

Each phone has a lip/jaw pose over the 52 ARKit channels (jawOpen by vowel openness,
pressed lips for p b m, lower lip to teeth for f v, tongue out for th, rounded lips for
uw ow w sh ch r, spread lips for iy ih). The poses become keyframes, adjusted for
co-articulation (consonants inherit part of the neighbouring vowels' jaw opening, and lip
rounding anticipates an upcoming rounded vowel), interpolated on a 5 ms grid, smoothed with
a 20 ms Gaussian (attack/release of the articulators), then bilabial closure is enforced
and the curves are sampled at the video frames. Pauses hold a closed neutral mouth.

Frame f of a clip shows time f / fps seconds; a clip of n samples has ceil(n * fps / 16000)
frames (`voiceemo_jax.timebase.frames_for`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from data_pipelines.sources.synth.festival_tts import Phone
from voiceemo_jax.arkit import INDEX, NUM_BLENDSHAPES
from voiceemo_jax.timebase import FPS

GRID_SECONDS = 0.005
SMOOTHING_SECONDS = 0.02  # Gaussian s.d. of articulator motion
SILENCES = frozenset({"pau", "sil", "h#", "#", "brth"})
BILABIALS = frozenset({"p", "b", "m", "em"})
# Phones some festival lexicons emit, mapped onto the ones with poses.
ALIASES = {"ix": "ih", "ux": "uw", "hv": "hh", "dx": "d", "el": "l", "en": "n", "em": "m", "nx": "n", "q": "t"}


def pose_from(**channels: float) -> np.ndarray:
    """[52] pose; a name without Left/Right that has both sides sets both (mouthSmile=0.5)."""
    pose = np.zeros(NUM_BLENDSHAPES, np.float32)
    for name, value in channels.items():
        if name in INDEX:
            pose[INDEX[name]] = value
        else:
            pose[INDEX[name + "Left"]] = value
            pose[INDEX[name + "Right"]] = value
    return pose


POSES = {
    # Vowels, open to close; the jaw carries openness, lips carry rounding or spreading.
    "aa": pose_from(jawOpen=0.55, mouthLowerDown=0.3, mouthUpperUp=0.1),
    "ae": pose_from(jawOpen=0.45, mouthLowerDown=0.3, mouthStretch=0.25, mouthUpperUp=0.1),
    "ah": pose_from(jawOpen=0.42, mouthLowerDown=0.2),
    "ao": pose_from(jawOpen=0.45, mouthFunnel=0.4, mouthPucker=0.1, mouthLowerDown=0.15),
    "eh": pose_from(jawOpen=0.35, mouthLowerDown=0.2, mouthStretch=0.25),
    "ax": pose_from(jawOpen=0.25, mouthLowerDown=0.1),
    "er": pose_from(jawOpen=0.22, mouthFunnel=0.3, mouthPucker=0.15),
    "axr": pose_from(jawOpen=0.22, mouthFunnel=0.3, mouthPucker=0.15),
    "ih": pose_from(jawOpen=0.22, mouthStretch=0.3, mouthLowerDown=0.1),
    "iy": pose_from(jawOpen=0.14, mouthStretch=0.45, mouthDimple=0.1, mouthUpperUp=0.05),
    "uh": pose_from(jawOpen=0.2, mouthFunnel=0.35, mouthPucker=0.25),
    "uw": pose_from(jawOpen=0.12, mouthPucker=0.65, mouthFunnel=0.35),
    # Consonants.
    "p": pose_from(jawOpen=0.03, mouthPress=0.5, mouthRollLower=0.15, mouthRollUpper=0.1),
    "b": pose_from(jawOpen=0.03, mouthPress=0.4, mouthRollLower=0.15, mouthRollUpper=0.1),
    "m": pose_from(jawOpen=0.03, mouthPress=0.35, mouthRollLower=0.1, mouthRollUpper=0.05),
    "f": pose_from(jawOpen=0.08, mouthRollLower=0.45, mouthUpperUp=0.25, mouthFunnel=0.05),
    "v": pose_from(jawOpen=0.08, mouthRollLower=0.4, mouthUpperUp=0.2, mouthFunnel=0.05),
    "th": pose_from(jawOpen=0.15, tongueOut=0.35, mouthLowerDown=0.1),
    "dh": pose_from(jawOpen=0.14, tongueOut=0.25, mouthLowerDown=0.08),
    "s": pose_from(jawOpen=0.07, mouthStretch=0.25, mouthUpperUp=0.05, mouthDimple=0.05),
    "z": pose_from(jawOpen=0.07, mouthStretch=0.2, mouthUpperUp=0.05),
    "sh": pose_from(jawOpen=0.1, mouthFunnel=0.5, mouthPucker=0.25, mouthUpperUp=0.1),
    "zh": pose_from(jawOpen=0.1, mouthFunnel=0.45, mouthPucker=0.25, mouthUpperUp=0.1),
    "ch": pose_from(jawOpen=0.12, mouthFunnel=0.45, mouthPucker=0.25, mouthUpperUp=0.1),
    "jh": pose_from(jawOpen=0.12, mouthFunnel=0.4, mouthPucker=0.2, mouthUpperUp=0.1),
    "t": pose_from(jawOpen=0.12, mouthLowerDown=0.05),
    "d": pose_from(jawOpen=0.12, mouthLowerDown=0.05),
    "n": pose_from(jawOpen=0.11, mouthLowerDown=0.03),
    "l": pose_from(jawOpen=0.2, tongueOut=0.08, mouthLowerDown=0.05),
    "k": pose_from(jawOpen=0.18),
    "g": pose_from(jawOpen=0.18),
    "ng": pose_from(jawOpen=0.16),
    "r": pose_from(jawOpen=0.12, mouthFunnel=0.3, mouthPucker=0.25),
    "w": pose_from(jawOpen=0.08, mouthPucker=0.7, mouthFunnel=0.35),
    "y": pose_from(jawOpen=0.1, mouthStretch=0.3),
    "hh": pose_from(jawOpen=0.25),  # replaced by a weakened copy of the next vowel (the mouth is already set)
    "pau": pose_from(),
}
# Diphthongs glide from one vowel pose to another within the phone.
DIPHTHONGS = {"ay": ("aa", "iy"), "ey": ("eh", "iy"), "oy": ("ao", "iy"), "aw": ("aa", "uw"), "ow": ("ao", "uw")}
VOWELS = frozenset({"aa", "ae", "ah", "ao", "eh", "ax", "er", "axr", "ih", "iy", "uh", "uw"} | set(DIPHTHONGS))
_LABIAL_LIPS = BILABIALS | {"f", "v", "w"}
_ROUNDING = (INDEX["mouthPucker"], INDEX["mouthFunnel"])
_JAW = INDEX["jawOpen"]


def canonical(phone: str) -> str:
    """The phone name whose pose is used: silences -> "pau", aliases resolved, unknown kept."""
    phone = phone.lower()
    return "pau" if phone in SILENCES else ALIASES.get(phone, phone)


def phone_poses(names: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(start pose, end pose) per phone after co-articulation; equal except for diphthongs."""
    base = []
    for name in names:
        if name in DIPHTHONGS:
            first, second = DIPHTHONGS[name]
            base.append((POSES[first].copy(), POSES[second].copy()))
        else:
            pose = POSES.get(name, POSES["t"])  # an unknown consonant: a neutral, slightly open mouth
            base.append((pose.copy(), pose.copy()))
    poses = [(a.copy(), b.copy()) for a, b in base]
    for i, name in enumerate(names):
        if name in VOWELS or name == "pau":
            continue
        prev_vowel = base[i - 1][1] if i > 0 and names[i - 1] in VOWELS else None
        next_vowel = base[i + 1][0] if i + 1 < len(names) and names[i + 1] in VOWELS else None
        if name == "hh" and next_vowel is not None:
            poses[i] = (0.7 * next_vowel, 0.7 * next_vowel)
            continue
        if name not in BILABIALS:
            # The jaw does not close fully between vowels for tongue consonants.
            neighbour_jaw = max([v[_JAW] for v in (prev_vowel, next_vowel) if v is not None], default=0.0)
            for pose in poses[i]:
                pose[_JAW] = max(pose[_JAW], 0.35 * neighbour_jaw)
        if name not in _LABIAL_LIPS:
            # Anticipatory rounding: lips round for an upcoming rounded vowel during the consonants before it.
            for j in range(i + 1, min(i + 3, len(names))):
                if names[j] == "pau":
                    break
                if names[j] in VOWELS:
                    for pose in poses[i]:
                        pose[list(_ROUNDING)] = np.maximum(pose[list(_ROUNDING)], 0.6 * base[j][0][list(_ROUNDING)])
                    break
    return poses


def _keyframes(phones: Sequence[Phone], names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Keyframe times [k] seconds and poses [k, 52]."""
    times, poses = [], []
    for phone, name, (start_pose, end_pose) in zip(phones, names, phone_poses(names), strict=True):
        duration = phone.end - phone.start
        if name == "pau" and duration >= 0.1:
            # Hold the closed neutral mouth through the pause, releasing 50 ms at each edge.
            times += [phone.start + 0.05, phone.end - 0.05]
            poses += [start_pose, end_pose]
        elif name in DIPHTHONGS or duration >= 0.15:
            times += [phone.start + 0.3 * duration, phone.end - 0.15 * duration]
            poses += [start_pose, end_pose]
        else:
            times.append(0.5 * (phone.start + phone.end))
            poses.append(start_pose)
    return np.asarray(times), np.stack(poses)


def viseme_curves(phones: Sequence[Phone], num_frames: int, articulation: float = 1.0, fps: int = FPS) -> np.ndarray:
    """Mouth, jaw and tongue channels for a clip.

    phones: contiguous intervals (seconds). articulation: scales every viseme (emotional hyper-
    or hypo-articulation). Returns [num_frames, 52] float32 in [0, 1]; channels outside the
    mouth, jaw and tongue are zero.
    """
    return mouth_and_closure(phones, num_frames, articulation, fps)[0]


def mouth_and_closure(
    phones: Sequence[Phone], num_frames: int, articulation: float = 1.0, fps: int = FPS
) -> tuple[np.ndarray, np.ndarray]:
    """`viseme_curves` and the lip seal of p b m it enforces, on the same frames: (curves [num_frames,
    52], closure [num_frames] in [0, 1]: 1 through the middle half of each bilabial, easing over
    about 10 ms at its edges). An expression's jaw drop gives way to the seal too
    (`expressions.compose_targets`)."""
    if not phones:
        return np.zeros((num_frames, NUM_BLENDSHAPES), np.float32), np.zeros(num_frames, np.float32)
    names = [canonical(p.name) for p in phones]
    key_times, key_poses = _keyframes(phones, names)
    key_poses = key_poses * articulation
    end = max(phones[-1].end, num_frames / fps)
    grid = np.arange(0.0, end + GRID_SECONDS, GRID_SECONDS)
    curves = np.stack([np.interp(grid, key_times, key_poses[:, c]) for c in range(NUM_BLENDSHAPES)], axis=1)
    curves = ndimage.gaussian_filter1d(curves, SMOOTHING_SECONDS / GRID_SECONDS, axis=0, mode="nearest")

    # Bilabial closure: smoothing leaks the neighbours' jaw opening into p b m; the lips must
    # still meet, so the jaw is pulled nearly shut and mouthClose seals what remains.
    closure = np.zeros_like(grid)
    for phone, name in zip(phones, names, strict=True):
        if name in BILABIALS:
            core = 0.25 * (phone.end - phone.start)
            closure[(grid >= phone.start + core) & (grid <= phone.end - core)] = 1.0
    closure = ndimage.gaussian_filter1d(closure, 0.01 / GRID_SECONDS, mode="nearest")
    closure = np.minimum(closure * 1.5, 1.0)
    jaw = curves[:, _JAW]
    curves[:, _JAW] = jaw * (1 - closure) + closure * np.minimum(jaw, 0.05 * articulation)
    close = INDEX["mouthClose"]
    curves[:, close] = np.maximum(curves[:, close], closure * curves[:, _JAW])

    frame_times = np.arange(num_frames) / fps
    out = np.stack([np.interp(frame_times, grid, curves[:, c]) for c in range(NUM_BLENDSHAPES)], axis=1)
    seal = np.interp(frame_times, grid, closure)
    return np.clip(out, 0.0, 1.0).astype(np.float32), seal.astype(np.float32)


def phone_at(phones: Sequence[Phone], seconds: float) -> str | None:
    """Canonical name of the phone sounding at `seconds`, None past the end."""
    for phone in phones:
        if phone.start <= seconds < phone.end:
            return canonical(phone.name)
    return None


def frame_of(seconds: float, fps: int = FPS) -> int:
    """Nearest frame index to a time in seconds."""
    return int(math.floor(seconds * fps + 0.5))
