"""The `--engine blender` renderer: prepares a job folder, runs Blender headless, reads the frames.

Blender (Debian's `blender` package, an official build, or anything named by --blender or
$VOICEEMO_BLENDER) runs `export/blender_render.py` in background mode. That script cannot
import this package or numpy, so everything it needs is written here as a JSON job plus
raw little-endian arrays, with coordinates already converted from glTF's y-up to
Blender's z-up axes: (x, y, z) -> (x, -z, y), which turns the face towards -y, Blender's
front view.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import deque
from collections.abc import Callable
from pathlib import Path

import numpy as np

from voiceemo_jax.arkit import ARKIT_NAMES
from voiceemo_jax.errors import UserError

SCRIPT = Path(__file__).with_name("blender_render.py")
ERROR_EXIT = 3  # blender_render.py exits with this after printing VOICEEMO_ERROR


def find_blender(explicit: str | None = None) -> str:
    """Path of the Blender executable: `explicit`, else $VOICEEMO_BLENDER, else `blender` on PATH."""
    candidate = explicit or os.environ.get("VOICEEMO_BLENDER") or "blender"
    found = shutil.which(candidate)
    if found is None:
        raise UserError(
            f"Blender not found ({candidate!r}); install it (Debian: apt-get install blender), pass --blender PATH "
            "or use --engine pyrender"
        )
    return found


def to_blender_axes(points: np.ndarray) -> np.ndarray:
    """[..., 3] y-up (glTF) -> z-up (Blender) coordinates."""
    points = np.asarray(points, np.float32)
    return np.stack([points[..., 0], -points[..., 2], points[..., 1]], axis=-1)


def _camera(box, size) -> dict:
    """The pyrender preview's camera for `box`, in Blender axes (so both engines frame alike)."""
    from export.pyrender_preview import camera_for_box

    position, yfov = camera_for_box(box, size)
    return {"location": to_blender_axes(position).tolist(), "angle": yfov}


def _srgb_to_linear(rgba_u8: np.ndarray) -> np.ndarray:
    """Blender stores colour attributes as linear floats; our colours are sRGB bytes."""
    c = rgba_u8.astype(np.float32) / 255.0
    rgb = np.where(c[:, :3] <= 0.04045, c[:, :3] / 12.92, ((c[:, :3] + 0.055) / 1.055) ** 2.4)
    return np.concatenate([rgb, c[:, 3:]], axis=1)


def _write(path: Path, array: np.ndarray, dtype) -> None:
    np.ascontiguousarray(array, dtype=np.dtype(dtype).newbyteorder("<")).tofile(path)


def prepare_job(
    folder: Path,
    *,
    num_frames: int,
    size: tuple[int, int],
    fps: int,
    coefficients: np.ndarray | None = None,
    head=None,
    vertex_frames: np.ndarray | None = None,
    faces: np.ndarray | None = None,
    box=None,
    blend: Path | None = None,
    object_name: str = "face",
    name_map: dict[str, str] | None = None,
    save_blend: Path | None = None,
) -> Path:
    """Writes job.json and its arrays into `folder`; returns the job path.

    Exactly one source: `blend` (+ coefficients), `head` (a HeadModel, + coefficients), or
    `vertex_frames` [T, V, 3] with `faces` [F, 3]. `box` is the y-up (min, max) to frame (ignored with `blend`).
    `name_map` (ARKit name -> shape key) goes to the script, which matches `blend`'s shape keys with
    `export/target_names.py` like the glTF export matches morph targets.
    """
    out_dir = folder / "frames"
    out_dir.mkdir(parents=True, exist_ok=True)
    job = {
        "frames": int(num_frames),
        "size": [int(size[0]), int(size[1])],
        "fps": int(fps),
        "object": object_name,
        "names": list(ARKIT_NAMES),
        "name_map": name_map or {},
        "out_dir": str(out_dir),
        "save_blend": str(Path(save_blend).resolve()) if save_blend else None,
    }
    if coefficients is not None:
        _write(folder / "coefficients.f32", coefficients, np.float32)
    if blend is not None:
        job["mode"] = "blend"
    elif head is not None:
        job["mode"] = "bundled"
        job["names"] = list(head.names)
        job["camera"] = _camera(box, size)
        _write(folder / "vertices.f32", to_blender_axes(head.vertices), np.float32)
        _write(folder / "faces.i32", head.faces, np.int32)
        _write(folder / "deltas.f32", to_blender_axes(head.deltas), np.float32)
        if head.colors is not None:
            _write(folder / "colors.f32", _srgb_to_linear(head.colors), np.float32)
        if coefficients is not None:
            _write(folder / "coefficients.f32", head.arkit_weights(coefficients), np.float32)
    else:
        job["mode"] = "vertices"
        job["camera"] = _camera(box, size)
        _write(folder / "vertices.f32", to_blender_axes(vertex_frames[0]), np.float32)
        _write(folder / "faces.i32", faces, np.int32)
        _write(folder / "frames.f32", to_blender_axes(vertex_frames), np.float32)
    job_path = folder / "job.json"
    job_path.write_text(json.dumps(job))
    return job_path


def run_blender(
    job_path: Path,
    num_frames: int,
    blender: str | None = None,
    blend: Path | None = None,
    on_frame: Callable[[int], None] | None = None,
) -> list[Path]:
    """Runs Blender on the job; returns the rendered PNG paths in frame order.

    Raises UserError with Blender's own message for bad input (missing object or shape
    keys), and with the tail of its log when it fails otherwise.
    """
    executable = find_blender(blender)
    command = [executable, "-b"]
    if blend is not None:
        command.append(str(blend))
    command += ["--factory-startup", "--python-exit-code", "1", "-P", str(SCRIPT), "--", str(job_path)]
    errors, log = [], deque(maxlen=40)
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    ) as proc:
        for line in proc.stdout:
            line = line.rstrip("\n")
            if line.startswith("VOICEEMO_FRAME "):
                if on_frame is not None:
                    on_frame(int(line.split()[1]))
            elif line.startswith("VOICEEMO_WARNING "):
                print(f"warning: {line[len('VOICEEMO_WARNING ') :]}", file=sys.stderr)
            elif line.startswith("VOICEEMO_ERROR "):
                errors.append(line[len("VOICEEMO_ERROR ") :])
            else:
                log.append(line)
        code = proc.wait()
    where = f"{blend}: " if blend is not None else ""
    if errors:
        raise UserError(where + "; ".join(errors))
    if code != 0:
        tail = " | ".join(line for line in log if line.strip())[-1500:]
        raise UserError(f"{where}Blender failed with exit code {code}: {tail}")
    frames = sorted((job_path.parent / "frames").glob("frame_*.png"))
    if len(frames) != num_frames:
        raise UserError(f"Blender wrote {len(frames)} frames, expected {num_frames}")
    return frames
