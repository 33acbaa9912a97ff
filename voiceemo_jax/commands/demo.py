"""`voiceemo demo`: the shipped demo model on bundled sample sentences (or your file).

Everything it needs ships in the package (`voiceemo_jax/demo_assets/`): the model that
`configs/demo.py` trains (mouth from the synthetic corpus, emotion from it and from TESS and
RAVDESS recordings), and four sample sentences the model
never heard (test-split sentences, one of them in the held-out voice).
"""

from __future__ import annotations

import argparse

from voiceemo_jax.inference import pauses

EPILOG = """\
examples:
  voiceemo demo
  voiceemo demo --out my_demo --audio hello.wav

The demo model is small. Its mouth learned from speech synthesised by festival
(`voiceemo data synth`), so lip sync is best on clear English and rougher on other
voices; its emotion encoder also learned from acted recordings (TESS, RAVDESS), and
reads about half of unseen actors' 7 emotions right. Reproduce it with the commands in
configs/demo.py (README: the model card).
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the shipped demo model end to end: coefficients, CSV, JSON, GLB and a preview MP4",
        description=(
            "Predicts ARKit coefficients with the shipped demo model for bundled sample sentences "
            "(several emotions), or for --audio FILE, and writes for each: NAME.npy ([T, 52] at 30 fps), "
            "NAME.json (emotion read from the voice), NAME.csv (Live Link Face), NAME.glb (the bundled head "
            "with a morph-target animation) and NAME.mp4 (preview with the audio). With the bundled samples "
            "it also writes one emotion swap: the words of the happy sample with the emotion of the sad one. "
            "No network, no GPU."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", default="voiceemo_demo", metavar="DIR", help="output folder (default voiceemo_demo)")
    parser.add_argument("--audio", metavar="FILE", help="your own recording instead of the bundled samples")
    parser.add_argument("--emotion-audio", metavar="FILE", help="with --audio: take the emotion from this clip")
    parser.add_argument("--size", default="384x576", metavar="WxH", help="preview video size (default 384x576)")
    parser.add_argument("--no-video", action="store_true", help="skip the preview MP4s")
    parser.add_argument(
        "--no-clamp",
        action="store_true",
        help="keep raw weights in the CSV and GLB (default: clamp to ARKit's [0, 1]; the .npy is always raw)",
    )
    pauses.add_argument(parser)
    parser.set_defaults(handler=run)


def assets_dir():
    from pathlib import Path

    return Path(__file__).resolve().parents[1] / "demo_assets"


def demo_model_dir():
    return assets_dir() / "model"


def bundled_samples() -> list[dict]:
    """samples.json's entries, with "path" (the wav) and "targets_path" added."""
    import json

    folder = assets_dir() / "samples"
    samples = json.loads((folder / "samples.json").read_text())["samples"]
    return [{**s, "path": folder / s["wav"], "targets_path": folder / s["targets"]} for s in samples]


def bundled_swap() -> tuple[dict, dict]:
    """(content sample, emotion sample) of the demo's emotion swap, as samples.json names them."""
    import json

    swap = json.loads((assets_dir() / "samples" / "samples.json").read_text())["swap"]
    by_name = {s["name"]: s for s in bundled_samples()}
    return by_name[swap["content"]], by_name[swap["emotion"]]


def _jobs(args) -> list[dict]:
    """What to predict: [{"name", "audio", "emotion_audio", "level", "what"}]."""
    from pathlib import Path

    from voiceemo_jax.errors import UserError

    if args.audio is None:
        if args.emotion_audio:
            raise UserError("--emotion-audio goes with --audio")
        samples = bundled_samples()
        jobs = [{"name": s["name"], "audio": s["path"], "emotion_audio": None, "level": s["level"] - 1,
                 "what": f'"{s["text"]}" ({s["emotion"]}, voice {s["voice"]})'} for s in samples]  # fmt: skip
        a, b = bundled_swap()
        jobs.append({"name": f"swap_{a['name']}_as_{b['emotion']}", "audio": a["path"], "emotion_audio": b["path"],
                     "level": b["level"] - 1,
                     "what": f'"{a["text"]}" with the emotion of the {b["emotion"]} sample'})  # fmt: skip
        return jobs
    name = Path(args.audio).stem
    what = f"{args.audio}" + (f" with the emotion of {args.emotion_audio}" if args.emotion_audio else "")
    return [{"name": name, "audio": Path(args.audio), "emotion_audio": args.emotion_audio, "level": 1, "what": what}]


def run(args) -> int:
    import time
    from pathlib import Path

    from export.animation_input import parse_size
    from voiceemo_jax.errors import UserError

    start = time.perf_counter()
    size = parse_size(args.size)
    if not (demo_model_dir() / "voiceemo_model.json").is_file():
        raise UserError(f"the demo model is missing from this install ({demo_model_dir()}); reinstall the package")
    jobs = _jobs(args)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a folder")

    from voiceemo_jax.audio import load_audio
    from voiceemo_jax.inference import prediction_files
    from voiceemo_jax.inference.compile_cache import enable_compile_cache
    from voiceemo_jax.inference.predictor import Predictor

    enable_compile_cache()  # before the first compilation: a repeat demo loads the compiled programs
    # Read every input before writing anything, so a bad file leaves no partial demo.
    audio = {str(job["audio"]): load_audio(job["audio"]) for job in jobs}
    for job in jobs:
        if job["emotion_audio"] is not None:
            audio[str(job["emotion_audio"])] = load_audio(job["emotion_audio"])
    predictor = Predictor.from_checkpoint(demo_model_dir(), **pauses.requested(args))
    print(f"demo model: {demo_model_dir()}; writing to {out}/")
    written: list[dict] = []
    for i, job in enumerate(jobs, 1):
        print(f"[{i}/{len(jobs)}] {job['what']}")
        content = audio[str(job["audio"])]
        emotion = None if job["emotion_audio"] is None else audio[str(job["emotion_audio"])]
        prediction = predictor.predict(
            content, level=job["level"], person=0, emotion_audio=emotion, name=str(job["audio"])
        )
        files = _write_all(out, job, prediction, prediction_files, size, video=not args.no_video,
                           clamp=not args.no_clamp, gates=pauses.in_use(predictor))  # fmt: skip
        probability = prediction.emotion_probabilities.max()
        print(f"      emotion read from the voice: {prediction.emotion} ({probability:.0%}); "
              f"{prediction.outputs.shape[0]} frames")  # fmt: skip
        written.append(files)
    print(f"\ndone in {time.perf_counter() - start:.0f} s; files:")
    for files in written:
        for kind, path in files.items():
            print(f"  {str(path):<60} {kind}")
    return 0


DESCRIPTIONS = {
    "npy": "[T, 52] ARKit coefficients at 30 fps",
    "json": "prediction metadata: emotion probabilities, sources",
    "csv": "Live Link Face CSV (Unreal)",
    "glb": "bundled head with a morph-target animation (glTF viewers, Blender)",
    "mp4": "preview video with the audio",
}


def _write_all(out, job, prediction, prediction_files, size, *, video: bool, clamp: bool, gates: dict) -> dict:
    from export.formats import write_live_link_csv
    from export.gltf import write_gltf_animation
    from export.render import render_video

    npy = out / f"{job['name']}.npy"
    sources = {"audio": str(job["audio"]), "emotion_audio": job["emotion_audio"] and str(job["emotion_audio"]),
               "checkpoint": "demo model"}  # fmt: skip
    # The JSON records which files hold weights clamped to [0, 1]: the .npy stays raw, as the release writes it.
    clamped = {"npy": False, "csv": clamp, "glb": clamp}
    coefficients = prediction_files.write_prediction(
        npy, prediction, level=job["level"], person=0, post_processing=True, seed=0, sources=sources,
        extra={"clamped": clamped, **gates},
    )["outputs"]  # fmt: skip
    paths = {
        "npy": npy,
        "json": npy.with_suffix(".json"),
        "csv": npy.with_suffix(".csv"),
        "glb": npy.with_suffix(".glb"),
    }
    write_live_link_csv(coefficients, paths["csv"], clamp=clamp)
    write_gltf_animation(coefficients, paths["glb"], clamp=clamp)
    if video:
        paths["mp4"] = npy.with_suffix(".mp4")
        render_video(coefficients, job["audio"], paths["mp4"], size=size, progress=False)
    return {f"{DESCRIPTIONS[kind]}": path for kind, path in paths.items()}
