"""`voiceemo predict`: audio -> [T, 52] coefficients (.npy) + a JSON description.

One file (`--audio IN --out OUT.npy`) or many (`--audio DIR_OR_GLOB... --out-dir OUT`,
see `batch.py`). Audio longer than `--window-seconds` runs windowed.
"""

from __future__ import annotations

import argparse

from voiceemo_jax.inference import pauses

EPILOG = """\
examples:
  voiceemo predict --checkpoint ckpt --audio talk.wav --out talk.npy
  voiceemo predict --checkpoint ckpt --audio talk.wav --emotion-audio angry.wav --out talk_angry.npy
  voiceemo predict --checkpoint ckpt --audio recordings/ 'extra/*.flac' --out-dir coeffs/

Long audio: beyond --window-seconds (default 20) the encoders run on overlapping windows
(a core of window - 2 * context seconds, --context-seconds of context on each side), so
memory stays bounded at any length; --window-seconds 0 runs the whole clip at once.
Batch runs skip inputs whose .npy and .json already exist (re-run to resume; --overwrite
redoes them), report unreadable files and carry on, and exit with 1 if any failed.
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="predict facial animation coefficients from voice recordings (one file or many)",
        description=(
            "Reads IN (wav/flac/mp3/m4a..., any rate and channel count; mixed to mono, resampled "
            "to 16 kHz), writes OUT.npy (float32 [T, 52] ARKit coefficients at 30 fps, T = "
            "ceil(seconds * 30); or [T, V*3] vertex offsets for a vertex model) and OUT.json beside "
            "it (fps, channel names, emotion probabilities and logits, level, person, sources, window)."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--checkpoint", required=True, help="VoiceEmo-JAX checkpoint folder (from `voiceemo convert`)")
    parser.add_argument(
        "--audio",
        required=True,
        nargs="+",
        metavar="IN",
        help="input audio file; with --out-dir also folders (searched recursively) and glob patterns",
    )
    outputs = parser.add_mutually_exclusive_group(required=True)
    outputs.add_argument("--out", help="output .npy path for one input; OUT.json is written beside it")
    outputs.add_argument(
        "--out-dir", metavar="DIR", help="output folder for many inputs: DIR/<input name>.npy and .json"
    )
    parser.add_argument("--level", type=int, default=1, help="emotion intensity index (release: 0 weak, 1 strong)")
    parser.add_argument("--person", type=int, default=1, help="speaker style index (release: 0..23)")
    parser.add_argument(
        "--emotion-audio",
        help="take the emotion from this clip while the content comes from --audio",
    )
    parser.add_argument(
        "--post-processing",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="Savitzky-Golay smoothing + seeded eye blinks, as the release (default: on; blendshape models only)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for the blink schedule (default 0)")
    pauses.add_argument(parser)
    parser.add_argument(
        "--window-seconds",
        type=float,
        default=20.0,
        metavar="S",
        help="audio longer than this runs in overlapping windows of S seconds (default 20; 0: never)",
    )
    parser.add_argument(
        "--context-seconds",
        type=float,
        default=3.0,
        metavar="S",
        help="context on each side of a window's core (default 3; multiple of 0.1)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=8,
        help="files per batch with --out-dir (default 8; rounded up to a multiple of the local device count: "
        "each batch is split over every device)",
    )
    parser.add_argument(
        "--dtype",
        choices=("float32", "bfloat16"),
        default="float32",
        help="parameters and activations in this dtype (default float32); bfloat16 keeps float32 where the "
        "numerics need it (norm statistics, softmax, pooling, resampling); deviation in BENCHMARKS.md",
    )
    parser.add_argument("--overwrite", action="store_true", help="with --out-dir: redo files already done")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--face-classifier",
        metavar="CKPT",
        help="also read the emotion from the predicted face with this classifier (`configs/face_emotion.py`)",
    )
    parser.set_defaults(handler=run)


def window_config(window_seconds: float, context_seconds: float):
    """The flags' window geometry, or None for --window-seconds 0; UserError when invalid."""
    from voiceemo_jax.errors import UserError
    from voiceemo_jax.inference.windows import WindowConfig

    if window_seconds == 0:
        return None
    try:
        return WindowConfig(window_seconds=window_seconds, context_seconds=context_seconds)
    except ValueError as error:
        raise UserError(f"--window-seconds/--context-seconds: {error}") from None


def run(args) -> int:
    from pathlib import Path

    from voiceemo_jax.audio import load_audio
    from voiceemo_jax.errors import UserError
    from voiceemo_jax.inference import prediction_files
    from voiceemo_jax.inference.compile_cache import enable_compile_cache
    from voiceemo_jax.inference.predictor import Predictor

    if args.out is not None:
        if len(args.audio) != 1 or Path(args.audio[0]).is_dir():
            raise UserError("--out takes one input file; use --out-dir DIR for several files, folders or patterns")
        if Path(args.out).suffix != ".npy":
            raise UserError(f"--out must end in .npy, got {args.out}")
    if args.batch_size < 1:
        raise UserError(f"--batch-size must be >= 1, not {args.batch_size}")
    window = window_config(args.window_seconds, args.context_seconds)
    enable_compile_cache()  # before the first compilation: a repeat run loads the compiled programs
    emotion_audio = load_audio(args.emotion_audio) if args.emotion_audio else None
    predictor = Predictor.from_checkpoint(args.checkpoint, window=window, dtype=args.dtype, **pauses.requested(args))
    predictor.check_controls(args.level, args.person)
    face_reader = _face_reader(args.face_classifier, predictor)

    def write(source, out_npy, prediction):
        extra = {"windowed": window.to_dict() if prediction.windowed else None, "dtype": args.dtype,
                 **pauses.in_use(predictor)}  # fmt: skip
        if face_reader is not None:
            extra["face_emotion"] = face_reader(prediction.outputs)
        return prediction_files.write_prediction(
            out_npy,
            prediction,
            level=args.level,
            person=args.person,
            post_processing=args.post_processing,
            seed=args.seed,
            sources={"audio": str(source), "emotion_audio": args.emotion_audio, "checkpoint": str(args.checkpoint)},
            extra=extra,
        )

    if args.out_dir is not None:
        return _run_many(args, predictor, emotion_audio, write)
    audio = load_audio(args.audio[0])
    prediction = predictor.predict(
        audio, level=args.level, person=args.person, emotion_audio=emotion_audio, name=str(args.audio[0])
    )
    written = write(args.audio[0], Path(args.out), prediction)
    how = f", windowed ({window.window_seconds:g} s windows)" if prediction.windowed else ""
    print(f"wrote {written['npy']} ({written['frames']} frames x {written['channels']}{how}) and {written['json']}")
    print(f"emotion read from the voice: {prediction.emotion} ({prediction.emotion_probabilities.max():.0%})")
    return 0


def _face_reader(path, predictor):
    """The --face-classifier function [T, D] -> its JSON section, or None without the flag."""
    if path is None:
        return None
    from voiceemo_jax.errors import UserError
    from voiceemo_jax.face_emotion import loading as face_loading

    reader = face_loading.load_face_classifier(path)
    if reader.config.input_dim != predictor.output_dim:
        raise UserError(f"--face-classifier {path} reads [T, {reader.config.input_dim}] sequences but this "
                        f"model outputs [T, {predictor.output_dim}]")  # fmt: skip
    # The raw prediction (before smoothing and blinks), as the classifier is used in training.
    return lambda outputs: face_loading.read_face_emotion(reader, outputs)


def _run_many(args, predictor, emotion_audio, write) -> int:
    from voiceemo_jax.inference import batch

    jobs = batch.collect_jobs(args.audio, args.out_dir)
    summary = batch.run_batch(
        predictor,
        jobs,
        lambda job, prediction: write(job.source, job.out_npy, prediction),
        level=args.level,
        person=args.person,
        batch_size=args.batch_size,
        emotion_audio=emotion_audio,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    print(f"{len(jobs)} input file(s) -> {args.out_dir} (batches over {predictor.num_devices} device(s))")
    for line in summary.lines():
        print(line)
    return 1 if summary.failed else 0
