"""Coefficient files for animation tools: Live Link Face CSV, JSON and EmoTalk-style .npy.

Live Link Face CSV (what Epic's iOS app records per take, and what Unreal's Live Link Face
importer and the Blender/Maya/MotionBuilder CSV importers read):
  * header `Timecode,BlendShapeCount,<52 blendshape names>,HeadYaw,HeadPitch,HeadRoll,
    LeftEyeYaw,LeftEyePitch,LeftEyeRoll,RightEyeYaw,RightEyePitch,RightEyeRoll`;
  * the blendshape columns use the app's own order (`LIVE_LINK_CSV_NAMES`), which is ARKit's
    `ARFaceAnchor.BlendShapeLocation` order grouped by region (eyes, jaw, mouth, brows, cheeks,
    nose, tongue) and NOT the alphabetical order of `voiceemo_jax.arkit.ARKIT_NAMES`; it even
    lists JawRight before JawLeft and MouthRight before MouthLeft. Columns are matched by name
    when reading, so the order only matters to tools that index columns;
  * `Timecode` is `HH:MM:SS:FF.mmm`: hours, minutes, seconds, the frame within the second at
    the take's rate (30 here) and the sub-frame fraction in thousandths (always .000, since
    every row is a whole frame); the first row is 00:00:00:00.000;
  * `BlendShapeCount` is 61 (52 blendshapes + 9 rotations), as the app writes it;
  * head and eye rotations are not predicted by the model and are written as 0.

JSON: `{"fps": 30, "clamped": true, "names": [52 ARKit names], "frames": [[52 floats], ...]}`.
.npy: the [T, 52] float32 array in ARKit order, which is EmoTalk's layout and order.

CSV and JSON weights are clamped to [0, 1] by default: ARKit (and so the Live Link Face
app) never reports values outside it, and animation tools clamp or reject them, while the
model's smoothed output can dip slightly below 0 (e.g. -0.0068). `clamp=False` keeps the
raw values; the JSON's "clamped" records which. The .npy is always raw, as the release
writes it.

Floats are written with the shortest text that reads back to the same float32, so every
format round-trips exactly.
"""

from __future__ import annotations

import csv
import json
import os

import numpy as np

from voiceemo_jax.arkit import ARKIT_NAMES, LIVE_LINK_NAMES, NUM_BLENDSHAPES
from voiceemo_jax.atomic_files import atomic_path
from voiceemo_jax.errors import UserError
from voiceemo_jax.timebase import FPS

# The Live Link Face app's blendshape column order (ARKit's BlendShapeLocation enum order).
LIVE_LINK_CSV_NAMES = (
    "EyeBlinkLeft", "EyeLookDownLeft", "EyeLookInLeft", "EyeLookOutLeft", "EyeLookUpLeft",
    "EyeSquintLeft", "EyeWideLeft", "EyeBlinkRight", "EyeLookDownRight", "EyeLookInRight",
    "EyeLookOutRight", "EyeLookUpRight", "EyeSquintRight", "EyeWideRight", "JawForward", "JawRight",
    "JawLeft", "JawOpen", "MouthClose", "MouthFunnel", "MouthPucker", "MouthRight", "MouthLeft",
    "MouthSmileLeft", "MouthSmileRight", "MouthFrownLeft", "MouthFrownRight", "MouthDimpleLeft",
    "MouthDimpleRight", "MouthStretchLeft", "MouthStretchRight", "MouthRollLower", "MouthRollUpper",
    "MouthShrugLower", "MouthShrugUpper", "MouthPressLeft", "MouthPressRight", "MouthLowerDownLeft",
    "MouthLowerDownRight", "MouthUpperUpLeft", "MouthUpperUpRight", "BrowDownLeft", "BrowDownRight",
    "BrowInnerUp", "BrowOuterUpLeft", "BrowOuterUpRight", "CheekPuff", "CheekSquintLeft",
    "CheekSquintRight", "NoseSneerLeft", "NoseSneerRight", "TongueOut",
)  # fmt: skip
LIVE_LINK_ROTATIONS = (
    "HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll",
    "RightEyeYaw", "RightEyePitch", "RightEyeRoll",
)  # fmt: skip
LIVE_LINK_HEADER = ("Timecode", "BlendShapeCount", *LIVE_LINK_CSV_NAMES, *LIVE_LINK_ROTATIONS)
LIVE_LINK_BLENDSHAPE_COUNT = len(LIVE_LINK_CSV_NAMES) + len(LIVE_LINK_ROTATIONS)  # 61

# Column j of the CSV holds ARKit channel _CSV_TO_ARKIT[j].
_CSV_TO_ARKIT = np.array([LIVE_LINK_NAMES.index(name) for name in LIVE_LINK_CSV_NAMES])
assert sorted(LIVE_LINK_CSV_NAMES) == sorted(LIVE_LINK_NAMES) and len(LIVE_LINK_CSV_NAMES) == NUM_BLENDSHAPES


def _check(coefficients) -> np.ndarray:
    coefficients = np.asarray(coefficients, dtype=np.float32)
    if coefficients.ndim != 2 or coefficients.shape[1] != NUM_BLENDSHAPES or len(coefficients) == 0:
        raise UserError(f"expected [frames, 52] ARKit coefficients, got shape {list(coefficients.shape)}")
    if not np.isfinite(coefficients).all():
        raise UserError("coefficients contain NaN or inf")
    return coefficients


def clamp_weights(coefficients: np.ndarray, clamp: bool = True) -> np.ndarray:
    """[T, 52] -> the same clipped to ARKit's [0, 1] (clamp=True) or unchanged."""
    return np.clip(coefficients, 0.0, 1.0) if clamp else coefficients


def _text(values: np.ndarray) -> list[str]:
    """float32 values -> shortest decimal strings that parse back to the same float32."""
    return [str(v) for v in np.asarray(values, dtype=np.float32)]


def timecode(frame: int, fps: int = FPS) -> str:
    """Frame index -> Live Link Face timecode 'HH:MM:SS:FF.mmm' (sub-frame always 000)."""
    seconds, frames = divmod(int(frame), fps)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}:{frames:02d}.000"


def parse_timecode(text: str, fps: int = FPS) -> float:
    """'HH:MM:SS:FF.mmm' -> seconds (FF counted at `fps`, .mmm a fraction of a frame)."""
    try:
        hours, minutes, seconds, frames = text.strip().split(":")
        return int(hours) * 3600 + int(minutes) * 60 + int(seconds) + float(frames) / fps
    except ValueError:
        raise UserError(f"bad Live Link Face timecode {text!r}; expected HH:MM:SS:FF.mmm") from None


def write_live_link_csv(coefficients, out_path: str | os.PathLike, fps: int = FPS, clamp: bool = True) -> None:
    """[T, 52] ARKit-order coefficients -> Live Link Face CSV (columns in the app's order), clamped to [0, 1]
    unless clamp=False."""
    coefficients = clamp_weights(_check(coefficients), clamp)
    zeros = ["0"] * len(LIVE_LINK_ROTATIONS)
    with atomic_path(out_path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(LIVE_LINK_HEADER)
        for frame, row in enumerate(coefficients[:, _CSV_TO_ARKIT]):
            writer.writerow([timecode(frame, fps), LIVE_LINK_BLENDSHAPE_COUNT, *_text(row), *zeros])


def read_live_link_csv(path: str | os.PathLike) -> np.ndarray:
    """Live Link Face CSV -> [T, 52] float32 in ARKit order (columns matched by name)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise UserError(f"{path}: empty CSV")
    header = [name.strip() for name in rows[0]]
    missing = [name for name in LIVE_LINK_NAMES if name not in header]
    if missing:
        raise UserError(f"{path}: not a Live Link Face CSV; missing columns {missing[:5]}...")
    columns = [header.index(name) for name in LIVE_LINK_NAMES]
    try:
        return np.array([[float(row[c]) for c in columns] for row in rows[1:] if row], dtype=np.float32)
    except (ValueError, IndexError) as error:
        raise UserError(f"{path}: malformed row ({error})") from None


def write_json(coefficients, out_path: str | os.PathLike, fps: int = FPS, clamp: bool = True) -> None:
    """[T, 52] coefficients -> {"fps", "clamped", "names" (ARKit order), "frames": [[52 floats], ...]}."""
    coefficients = clamp_weights(_check(coefficients), clamp)
    frames = ",\n    ".join("[" + ", ".join(_text(row)) + "]" for row in coefficients)
    names = json.dumps(list(ARKIT_NAMES))
    head = f'"fps": {int(fps)},\n  "clamped": {json.dumps(bool(clamp))},\n  "names": {names}'
    text = f'{{\n  {head},\n  "frames": [\n    {frames}\n  ]\n}}\n'
    with atomic_path(out_path) as tmp:
        tmp.write_text(text)


def write_npy(frames, out_path: str | os.PathLike) -> None:
    """[T, 52] coefficients (or [T, V*3] offsets) -> float32 .npy, as EmoTalk writes them."""
    frames = np.ascontiguousarray(frames, dtype=np.float32)
    with atomic_path(out_path) as tmp, open(tmp, "wb") as f:
        np.save(f, frames)
