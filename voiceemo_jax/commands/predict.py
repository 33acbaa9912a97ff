"""`voiceemo predict`: audio -> [T, 52] coefficients (.npy) + a JSON description."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="predict facial animation coefficients from a voice recording",
        description=(
            "Reads IN (wav/flac/mp3/m4a..., any rate and channel count; mixed to mono, resampled "
            "to 16 kHz), writes OUT.npy (float32 [T, 52] ARKit coefficients at 30 fps, T = "
            "ceil(seconds * 30); or [T, V*3] vertex offsets for a vertex model) and OUT.json beside "
            "it (fps, channel names, emotion probabilities and logits, level, person, sources)."
        ),
    )
    parser.add_argument("--checkpoint", required=True, help="VoiceEmo-JAX checkpoint folder (from `voiceemo convert`)")
    parser.add_argument("--audio", required=True, help="input audio file (the speech content)")
    parser.add_argument("--out", required=True, help="output .npy path; OUT.json is written beside it")
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
    parser.set_defaults(handler=run)


def run(args) -> int:
    from pathlib import Path

    from voiceemo_jax import prediction_files
    from voiceemo_jax.audio import load_audio
    from voiceemo_jax.errors import UserError
    from voiceemo_jax.inference import Predictor

    out = Path(args.out)
    if out.suffix != ".npy":
        raise UserError(f"--out must end in .npy, got {out}")
    audio = load_audio(args.audio)
    emotion_audio = load_audio(args.emotion_audio) if args.emotion_audio else None
    predictor = Predictor.from_checkpoint(args.checkpoint)
    predictor.check_controls(args.level, args.person)
    prediction = predictor.predict(
        audio, level=args.level, person=args.person, emotion_audio=emotion_audio, name=str(args.audio)
    )
    written = prediction_files.write_prediction(
        out,
        prediction,
        level=args.level,
        person=args.person,
        post_processing=args.post_processing,
        seed=args.seed,
        sources={"audio": str(args.audio), "emotion_audio": args.emotion_audio, "checkpoint": str(args.checkpoint)},
    )
    print(f"wrote {written['npy']} ({written['frames']} frames x {written['channels']}) and {written['json']}")
    print(f"emotion read from the voice: {prediction.emotion} ({prediction.emotion_probabilities.max():.0%})")
    return 0
