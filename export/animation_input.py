"""Reading and checking what the exporters and renderers animate.

Two kinds of animation come out of the model (SPEC section 6):
  * blendshape coefficients: [T, 52] float32, ARKit order (`voiceemo_jax.arkit`), 30 fps;
  * vertex offsets: [T, V*3] (or [T, V, 3]) float32 added to a template mesh (FLAME-style),
    whose vertices and faces come from a mesh file the user names.

Every check raises `UserError` naming the file and what is wrong with it, so the command
line prints one clear line instead of a traceback.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import numpy as np

from voiceemo_jax.arkit import NUM_BLENDSHAPES
from voiceemo_jax.errors import UserError
from voiceemo_jax.timebase import FPS

BLENDSHAPES = "blendshapes"
VERTICES = "vertices"


@dataclasses.dataclass(frozen=True)
class Animation:
    """frames: [T, 52] ARKit coefficients (kind BLENDSHAPES) or [T, V*3] offsets (kind VERTICES)."""

    frames: np.ndarray
    kind: str
    source: str = "coefficients"

    @property
    def num_frames(self) -> int:
        return len(self.frames)

    @property
    def seconds(self) -> float:
        return self.num_frames / FPS


def check_animation(array, source: str = "coefficients") -> Animation:
    """Validates an in-memory array: 2-D (or [T, V, 3]), non-empty, finite; returns it as float32."""
    array = np.asarray(array)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise UserError(f"{source}: expected a numeric array, got dtype {array.dtype}")
    if array.ndim == 3 and array.shape[-1] == 3:
        array = array.reshape(len(array), -1)
    if array.ndim != 2:
        raise UserError(
            f"{source}: expected [frames, 52] ARKit coefficients or [frames, vertices*3] offsets, "
            f"got shape {list(array.shape)}"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise UserError(f"{source}: the animation is empty (shape {list(array.shape)})")
    width = array.shape[1]
    if width == NUM_BLENDSHAPES:
        kind = BLENDSHAPES
    elif width % 3 == 0 and width > NUM_BLENDSHAPES:
        kind = VERTICES
    else:
        raise UserError(
            f"{source}: {width} values per frame is neither 52 ARKit coefficients nor vertices*3 offsets "
            f"(shape {list(array.shape)})"
        )
    array = array.astype(np.float32)
    bad = ~np.isfinite(array)
    if bad.any():
        frame, channel = np.argwhere(bad)[0]
        raise UserError(f"{source}: {int(bad.sum())} NaN/inf value(s), first at frame {frame}, channel {channel}")
    return Animation(frames=array, kind=kind, source=source)


def load_animation(path: str | os.PathLike) -> Animation:
    """Reads a .npy written by `voiceemo predict` (or EmoTalk) and validates it."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise UserError(f"{path}: not a readable .npy array ({error})") from None
    if isinstance(array, np.lib.npyio.NpzFile):
        array.close()
        raise UserError(f"{path}: an .npz archive; expected a single .npy array")
    return check_animation(array, source=str(path))


def require_blendshapes(animation: Animation, what: str) -> np.ndarray:
    """[T, 52] coefficients, or a UserError saying `what` needs them."""
    if animation.kind != BLENDSHAPES:
        raise UserError(
            f"{animation.source}: {what} needs [frames, 52] ARKit coefficients; this file holds "
            f"[{animation.num_frames}, {animation.frames.shape[1]}] vertex offsets"
        )
    return animation.frames


@dataclasses.dataclass(frozen=True)
class TemplateMesh:
    """vertices: [V, 3] float32; faces: [F, 3] int32; in the file's own vertex order."""

    vertices: np.ndarray
    faces: np.ndarray


def load_template(path: str | os.PathLike) -> TemplateMesh:
    """A template mesh (.obj, .ply, .stl, .glb, .off ...) read without merging or reordering vertices."""
    import trimesh

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such template mesh")
    try:
        loaded = trimesh.load(path, process=False, maintain_order=True)
    except Exception as error:  # trimesh raises many types for unreadable files
        raise UserError(f"{path}: cannot read the template mesh ({error})") from None
    if isinstance(loaded, trimesh.Scene):
        meshes = [g for g in loaded.geometry.values() if isinstance(g, trimesh.Trimesh)]
        if len(meshes) != 1:
            raise UserError(f"{path}: expected exactly one mesh in the template, found {len(meshes)}")
        loaded = meshes[0]
    if not isinstance(loaded, trimesh.Trimesh) or len(loaded.faces) == 0:
        raise UserError(f"{path}: the template has no triangle faces")
    return TemplateMesh(np.asarray(loaded.vertices, np.float32), np.asarray(loaded.faces, np.int32))


def vertex_frames(animation: Animation, template: TemplateMesh) -> np.ndarray:
    """Offsets [T, V*3] + template -> vertices [T, V, 3] float32, checking that V matches."""
    num_vertices = animation.frames.shape[1] // 3
    if num_vertices != len(template.vertices):
        raise UserError(
            f"{animation.source}: {num_vertices} vertices per frame but the template has {len(template.vertices)}"
        )
    return template.vertices[None] + animation.frames.reshape(animation.num_frames, num_vertices, 3)


def parse_size(text: str) -> tuple[int, int]:
    """'512x768' -> (width, height); both even (H.264 with yuv420p needs even sides) and 16..4096."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match:
        raise UserError(f"--size {text!r}: expected WIDTHxHEIGHT, e.g. 512x768")
    width, height = int(match.group(1)), int(match.group(2))
    for value in (width, height):
        if not 16 <= value <= 4096 or value % 2:
            raise UserError(f"--size {text!r}: sides must be even numbers between 16 and 4096")
    return width, height
