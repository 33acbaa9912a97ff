"""`render_video`: coefficients (or vertex offsets) + speech -> an MP4 a person can watch.

Engines:
  * "pyrender" (default): the bundled head (or a user's GLB head, or a template mesh for
    vertex offsets) posed per frame and rasterised offscreen (EGL) - see `pyrender_preview`;
  * "blender": Blender in background mode keyframes the shape keys of the bundled head, of a
    user's GLB head, or of object `object_name` in a user's .blend (the release's setup), and
    renders with Workbench + MatCap - see `blender_backend` and `blender_render.py`.

Either way the frames are muxed with the audio into H.264 (yuv420p) + AAC at 30 fps.
Blendshape weights are clipped to [0, 1], ARKit's range, before posing: regression
outputs slightly outside it would otherwise push the jaw through the teeth.
Every input is checked before anything is rendered, and the MP4 only appears once complete.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from export.animation_input import (
    BLENDSHAPES,
    FPS,
    Animation,
    check_animation,
    load_animation,
    load_template,
    vertex_frames,
)
from voiceemo_jax.errors import UserError

ENGINES = ("pyrender", "blender")
DEFAULT_SIZE = (512, 768)


@dataclasses.dataclass(frozen=True)
class RenderReport:
    path: Path
    engine: str
    frames: int
    seconds: float
    missing: tuple[str, ...] = ()  # ARKit names the user's head or .blend lacks (GLB heads only)


def _as_animation(coefficients) -> Animation:
    if isinstance(coefficients, Animation):
        return coefficients
    if isinstance(coefficients, (str, os.PathLike)):
        return load_animation(coefficients)
    return check_animation(coefficients)


def _progress(total: int, engine: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=f"render ({engine})", unit="frame", disable=not enabled, file=sys.stderr)


def render_video(
    coefficients,
    audio_path: str | os.PathLike | None,
    out_path: str | os.PathLike,
    engine: str | None = "pyrender",
    size: tuple[int, int] = DEFAULT_SIZE,
    fps: int = FPS,
    *,
    blend: str | os.PathLike | None = None,
    object_name: str = "face",
    head: str | os.PathLike | None = None,
    name_map: dict[str, str] | None = None,
    template: str | os.PathLike | None = None,
    blender: str | None = None,
    save_blend: str | os.PathLike | None = None,
    progress: bool = True,
) -> RenderReport:
    """Renders an animation to `out_path` (.mp4) with the speech in `audio_path` (None: silent).

    coefficients: [T, 52] ARKit coefficients or [T, V*3] vertex offsets (array, `Animation`
    or .npy path). size: (width, height), even. engine: "pyrender", "blender", or None to
    pick Blender when `blend` is given. head: a user's .glb/.gltf with ARKit morph targets
    instead of the bundled head. template: mesh file giving vertices and faces for offsets.
    blend/object_name: a .blend whose object carries ARKit shape keys (Blender only).
    name_map: ARKit name -> the head's morph target / the object's shape key name, tried before the
    naming conventions of `export/target_names.py`.
    save_blend: also save the keyframed Blender scene there (Blender only).
    """
    from export.video import read_audio, write_mp4

    animation = _as_animation(coefficients)
    out_path = Path(out_path)
    engine = engine or ("blender" if blend is not None else "pyrender")
    if engine not in ENGINES:
        raise UserError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if out_path.suffix.lower() != ".mp4":
        raise UserError(f"{out_path}: the video must be an .mp4 file")
    width, height = size
    if width % 2 or height % 2 or min(width, height) < 16:
        raise UserError(f"size {width}x{height}: sides must be even and at least 16 pixels")
    if blend is not None and engine != "blender":
        raise UserError("--blend needs --engine blender")
    if save_blend is not None and engine != "blender":
        raise UserError("--save-blend needs --engine blender")
    if blend is not None and not Path(blend).is_file():
        raise UserError(f"{blend}: no such .blend file")
    if animation.kind == BLENDSHAPES and template is not None:
        raise UserError(f"{animation.source}: --template is for vertex offsets; this file holds [T, 52] coefficients")
    if animation.kind != BLENDSHAPES and (blend is not None or head is not None):
        raise UserError(f"{animation.source}: vertex offsets render on --template, not on a head or .blend")
    if animation.kind != BLENDSHAPES and template is None:
        raise UserError(
            f"{animation.source}: holds [{animation.num_frames}, {animation.frames.shape[1]}] vertex offsets; "
            "pass --template MESH (the neutral mesh with matching vertices and faces)"
        )
    audio = read_audio(audio_path) if audio_path is not None else None

    missing: tuple[str, ...] = ()
    posed = None  # callable frame index -> [V, 3], for the pyrender engine
    model = mesh_faces = colors = part = vertices = None
    if animation.kind == BLENDSHAPES:
        weights = np.clip(animation.frames, 0.0, 1.0)
        if blend is None:
            if head is None:
                from export.head_model import build_head

                model = build_head()
            else:
                from export.gltf import read_head

                model, missing = read_head(head, name_map)
                if missing:
                    names = " ".join(missing)
                    print(f"warning: {head} lacks {len(missing)} ARKit morph targets: {names}", file=sys.stderr)
            shape_weights = model.arkit_weights(weights)
            mesh_faces, colors, part = model.faces, model.colors, model.part
            neutral = model.vertices
            posed = lambda i: model.pose(shape_weights[i])
    else:
        mesh = load_template(template)
        vertices = vertex_frames(animation, mesh)
        mesh_faces, neutral = mesh.faces, mesh.vertices
        posed = lambda i: vertices[i]

    if engine == "pyrender":
        from export.preview_process import IsolatedPreviewRenderer
        from export.pyrender_preview import frame_box

        box = frame_box(neutral, part)
        with (
            IsolatedPreviewRenderer(mesh_faces, colors, size, box) as renderer,
            _progress(animation.num_frames, engine, progress) as bar,
        ):

            def frames():
                for i in range(animation.num_frames):
                    yield renderer.render(posed(i))
                    bar.update(1)

            write_mp4(frames(), animation.num_frames, size, audio, out_path, fps=fps)
    else:
        from export import blender_backend
        from export.pyrender_preview import frame_box

        blender_path = blender_backend.find_blender(blender)
        with tempfile.TemporaryDirectory(prefix="voiceemo-blender-") as folder:
            job = blender_backend.prepare_job(
                Path(folder),
                num_frames=animation.num_frames,
                size=size,
                fps=fps,
                coefficients=np.clip(animation.frames, 0.0, 1.0) if animation.kind == BLENDSHAPES else None,
                head=model,
                vertex_frames=vertices,
                faces=mesh_faces,
                box=None if blend is not None else frame_box(neutral, part),
                blend=Path(blend) if blend is not None else None,
                object_name=object_name,
                name_map=name_map,
                save_blend=save_blend,
            )
            with _progress(animation.num_frames, engine, progress) as bar:
                pngs = blender_backend.run_blender(
                    job,
                    animation.num_frames,
                    blender=blender_path,
                    blend=Path(blend) if blend is not None else None,
                    on_frame=lambda _: bar.update(1),
                )
            write_mp4(_read_pngs(pngs), animation.num_frames, size, audio, out_path, fps=fps)
    return RenderReport(out_path, engine, animation.num_frames, animation.num_frames / fps, missing)


def _read_pngs(paths):
    from PIL import Image

    for path in paths:
        with Image.open(path) as image:
            yield np.asarray(image.convert("RGB"))
