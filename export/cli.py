"""`voiceemo export` and `voiceemo render`: coefficients to animation files and to video.

Only argparse-level code lives at module scope (so `voiceemo --help` stays instant); the
handlers import the exporters and renderers when they run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

FORMATS = ("csv", "json", "gltf", "glb", "npy")
_SUFFIX_FORMAT = {".csv": "csv", ".json": "json", ".gltf": "gltf", ".glb": "glb", ".npy": "npy"}
NAME_MAP_HELP = (
    'JSON object of ARKit name -> morph target / shape key name (e.g. {"jawOpen": "Mouth_Open"}) for heads '
    "whose names follow no known convention; tried before the conventions"
)


def register(subparsers) -> None:
    export = subparsers.add_parser(
        "export",
        help="write coefficients as Live Link Face CSV, JSON, glTF/GLB (morph-target animation) or .npy",
        description=(
            "Convert predicted coefficients ([T, 52] ARKit order, 30 fps .npy) for animation tools: "
            "csv = Live Link Face CSV for Unreal (Timecode, BlendShapeCount, 52 names in the app's order, "
            "head/eye rotations); json = {fps, clamped, names, frames}; gltf/glb = the bundled head (or --head) with a "
            "morph-target weights animation, one key per frame; npy = EmoTalk-compatible float32 array "
            "(also accepts [T, V*3] vertex offsets)."
        ),
    )
    export.add_argument(
        "--coeffs", required=True, type=Path, metavar="X.npy", help="coefficients from `voiceemo predict`"
    )
    export.add_argument("--format", choices=FORMATS, help="output format (default: from the --out suffix)")
    export.add_argument("--out", required=True, type=Path, metavar="PATH", help="output file (written atomically)")
    export.add_argument(
        "--head",
        type=Path,
        metavar="FILE.glb",
        help="gltf/glb only: animate this head's morph targets instead of the bundled head; ARKit names are "
        "matched in common conventions (jawOpen/JawOpen, Face Cap browDown_L, eyeBlink_Left, snake_case "
        "eye_blink_left, Maya prefixes blendShape1.jawOpen); names it lacks are reported",
    )
    export.add_argument("--name-map", type=Path, metavar="FILE.json", help=NAME_MAP_HELP)
    export.add_argument("--strict", action="store_true", help="fail when --head lacks any of the 52 ARKit names")
    export.add_argument(
        "--no-clamp",
        action="store_true",
        help="csv/json/gltf/glb: keep raw weights (default: clamp to ARKit's [0, 1]; the JSON records which)",
    )
    export.add_argument("--fps", type=int, default=30, help="frame rate of the coefficients (default 30)")
    export.set_defaults(handler=_export)

    render = subparsers.add_parser(
        "render",
        help="render coefficients (or vertex offsets) with the speech to an MP4",
        description=(
            "Render an animation muxed with its audio into an H.264/yuv420p + AAC MP4 at 30 fps. "
            "pyrender (default) draws the bundled head offscreen (EGL); blender runs Blender headless "
            "(Workbench, MatCap) on the bundled head or on --blend's --object with ARKit shape keys. "
            "Vertex offsets [T, V*3] need --template for vertices and faces."
        ),
    )
    render.add_argument(
        "--coeffs", required=True, type=Path, metavar="X.npy", help="[T, 52] ARKit coefficients or [T, V*3] offsets"
    )
    render.add_argument("--audio", required=True, type=Path, metavar="A.wav", help="speech to mux (wav, flac, mp3 ...)")
    render.add_argument("--out", required=True, type=Path, metavar="video.mp4", help="output MP4 (written atomically)")
    render.add_argument(
        "--engine", choices=("pyrender", "blender"), help="renderer (default: pyrender, or blender with --blend)"
    )
    render.add_argument("--blend", type=Path, metavar="FILE.blend", help="Blender scene with the face object")
    render.add_argument(
        "--object",
        default="face",
        help="object in --blend carrying ARKit shape keys, in any --head naming convention (default: face)",
    )
    render.add_argument("--size", default="512x768", metavar="WxH", help="frame size in pixels (default 512x768)")
    render.add_argument("--head", type=Path, metavar="FILE.glb", help="render this GLB head (ARKit morph targets)")
    render.add_argument("--name-map", type=Path, metavar="FILE.json", help=NAME_MAP_HELP)
    render.add_argument(
        "--template", type=Path, metavar="MESH", help="neutral mesh (.obj/.ply/.glb) for vertex offsets"
    )
    render.add_argument("--fps", type=int, default=30, help="frame rate of the coefficients (default 30)")
    render.add_argument("--blender", metavar="PATH", help="Blender executable (default: $VOICEEMO_BLENDER or blender)")
    render.add_argument(
        "--save-blend", type=Path, metavar="OUT.blend", help="blender engine: also save the keyframed scene"
    )
    render.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    render.set_defaults(handler=_render)


def _check_fps(fps: int) -> None:
    from voiceemo_jax.errors import UserError

    if not 1 <= fps <= 240:
        raise UserError(f"--fps {fps}: expected 1..240")


def _export(args: argparse.Namespace) -> int:
    from export.animation_input import load_animation, require_blendshapes
    from voiceemo_jax.errors import UserError

    _check_fps(args.fps)
    fmt = args.format or _SUFFIX_FORMAT.get(args.out.suffix.lower())
    if fmt is None:
        choices = ",".join(FORMATS)
        raise UserError(f"--out {args.out}: cannot tell the format from the suffix; pass --format {{{choices}}}")
    if args.head is not None and fmt not in ("gltf", "glb"):
        raise UserError("--head applies to --format gltf or glb")
    if args.name_map is not None and args.head is None:
        raise UserError("--name-map goes with --head")
    if args.no_clamp and fmt == "npy":
        raise UserError("--no-clamp applies to csv, json, gltf and glb (the .npy is always raw)")
    animation = load_animation(args.coeffs)
    if fmt == "npy":
        from export.formats import write_npy

        write_npy(animation.frames, args.out)
        print(f"wrote {args.out}: {animation.num_frames} frames, shape {list(animation.frames.shape)}")
        return 0
    coefficients = require_blendshapes(animation, f"--format {fmt}")
    seconds = f"{animation.num_frames} frames ({animation.num_frames / args.fps:.2f} s at {args.fps} fps)"
    if fmt == "csv":
        from export.formats import write_live_link_csv

        write_live_link_csv(coefficients, args.out, fps=args.fps, clamp=not args.no_clamp)
    elif fmt == "json":
        from export.formats import write_json

        write_json(coefficients, args.out, fps=args.fps, clamp=not args.no_clamp)
    else:
        from export.gltf import load_name_map, write_gltf_animation

        report = write_gltf_animation(
            coefficients,
            args.out,
            head=args.head,
            fps=args.fps,
            binary=fmt == "glb",
            strict=args.strict,
            clamp=not args.no_clamp,
            name_map=load_name_map(args.name_map),
        )
        if report.missing:
            print(
                f"warning: {args.head} lacks {len(report.missing)} of 52 ARKit morph targets (left unanimated): "
                + " ".join(report.missing),
                file=sys.stderr,
            )
        if report.unmatched_targets:
            print(
                f"note: {len(report.unmatched_targets)} morph targets of {args.head} match no ARKit name (kept at "
                "their default weight; map them with --name-map): " + " ".join(report.unmatched_targets),
                file=sys.stderr,
            )
        on = "the bundled head" if args.head is None else f"{args.head} ({len(report.matched)} ARKit targets)"
        print(f"wrote {args.out}: {seconds} on {on}")
        return 0
    print(f"wrote {args.out}: {seconds}")
    return 0


def _render(args: argparse.Namespace) -> int:
    from export.animation_input import parse_size
    from export.gltf import load_name_map
    from export.render import render_video

    _check_fps(args.fps)
    report = render_video(
        args.coeffs,
        args.audio,
        args.out,
        engine=args.engine,
        size=parse_size(args.size),
        fps=args.fps,
        blend=args.blend,
        object_name=args.object,
        head=args.head,
        name_map=load_name_map(args.name_map),
        template=args.template,
        blender=args.blender,
        save_blend=args.save_blend,
        progress=not args.no_progress,
    )
    print(f"wrote {report.path}: {report.frames} frames ({report.seconds:.2f} s) rendered with {report.engine}")
    return 0
