"""`voiceemo stream`: coefficient frames out as audio comes in (file or raw PCM on stdin)."""

from __future__ import annotations

import argparse
import sys

from voiceemo_jax.inference import pauses

EPILOG = """\
examples:
  voiceemo stream --checkpoint ckpt --input talk.wav > frames.jsonl
  arecord -q -f S16_LE -r 16000 -c 1 -t raw | voiceemo stream --checkpoint ckpt --input - --format csv
  ffmpeg -loglevel quiet -i talk.mp3 -f s16le -ac 1 -ar 16000 - | voiceemo stream --checkpoint ckpt --input -

Output (stdout): jsonl: a header line {"fps", "channel_names", "latency_seconds", "window",
"rest_in_pauses", "close_in_dips"}, then one line per frame {"frame", "time", "values"}; csv: a
header row "frame,time,<names>" then one row per frame. Frames are printed as soon as they are final: with the default
geometry a frame is final at most 0.9 s (hop + lookahead) of audio after its own time,
plus compute time. The total is ceil(seconds * 30) frames. A report (frames, real-time
factor, latency) goes to stderr at the end.
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "stream",
        help="stream audio in (file or stdin PCM), coefficient frames out as they become final",
        description=(
            "Runs the model on audio as it arrives, in overlapping windows (--window-seconds, with "
            "--hop-seconds new frames per window and --context-seconds of lookahead), and prints each "
            "frame once no later audio can change it. --input FILE reads any audio file and feeds it in "
            "--chunk-ms chunks; --input - reads raw mono 16 kHz PCM (signed 16-bit little-endian, or "
            "--pcm f32le) from stdin until it closes."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--checkpoint", required=True, help="VoiceEmo-JAX checkpoint folder")
    parser.add_argument("--input", required=True, metavar="FILE|-", help="audio file, or - for raw PCM on stdin")
    parser.add_argument("--chunk-ms", type=int, default=200, help="audio fed per step, in ms (default 200)")
    parser.add_argument(
        "--pcm", choices=("s16le", "f32le"), default="s16le", help="stdin sample format (default s16le)"
    )
    parser.add_argument("--format", choices=("jsonl", "csv"), default="jsonl", help="stdout format (default jsonl)")
    parser.add_argument("--out", help="also save all frames as OUT.npy (+ OUT.json) when the stream ends")
    parser.add_argument("--level", type=int, default=1, help="emotion intensity index (default 1)")
    parser.add_argument("--person", type=int, default=1, help="speaker style index (default 1)")
    parser.add_argument(
        "--window-seconds", type=float, default=4.0, metavar="S", help="encoder window incl. context (default 4)"
    )
    parser.add_argument(
        "--hop-seconds", type=float, default=0.3, metavar="S", help="new frames per window (default 0.3)"
    )
    parser.add_argument(
        "--context-seconds", type=float, default=0.6, metavar="S", help="lookahead after each hop (default 0.6)"
    )
    pauses.add_argument(parser)
    parser.set_defaults(handler=run)


def _chunks_from_stdin(chunk_samples: int, pcm: str):
    import numpy as np

    dtype, width = ("<i2", 2) if pcm == "s16le" else ("<f4", 4)
    stream, leftover = sys.stdin.buffer, b""
    while True:
        data = stream.read(chunk_samples * width)
        if not data:
            break
        data = leftover + data
        usable = len(data) - len(data) % width
        data, leftover = data[:usable], data[usable:]
        samples = np.frombuffer(data, dtype=dtype)
        yield samples.astype(np.float32) / 32768.0 if pcm == "s16le" else samples.astype(np.float32)


def _chunks_from_file(path: str, chunk_samples: int):
    from voiceemo_jax.audio import load_audio

    audio = load_audio(path)
    for begin in range(0, len(audio), chunk_samples):
        yield audio[begin : begin + chunk_samples]


def run(args) -> int:
    import json
    import time

    import numpy as np

    from voiceemo_jax.arkit import ARKIT_NAMES
    from voiceemo_jax.errors import UserError
    from voiceemo_jax.inference.streaming import Streamer
    from voiceemo_jax.inference.windows import WindowConfig

    if args.chunk_ms < 1:
        raise UserError(f"--chunk-ms must be >= 1, not {args.chunk_ms}")
    if args.out is not None and not args.out.endswith(".npy"):
        raise UserError(f"--out must end in .npy, got {args.out}")
    try:
        window = WindowConfig(args.window_seconds, args.context_seconds, args.hop_seconds)
    except ValueError as error:
        raise UserError(f"stream geometry: {error}") from None
    streamer = Streamer.from_checkpoint(
        args.checkpoint, window, level=args.level, person=args.person, **pauses.requested(args)
    )
    compile_seconds = streamer.warm_up()  # before reading any input: a live source is not kept waiting
    out_dim = streamer.engine.model_config.synthesizer.output_dim
    names = list(ARKIT_NAMES) if out_dim == len(ARKIT_NAMES) else [f"v{i}" for i in range(out_dim)]
    chunk_samples = max(1, args.chunk_ms * 16)
    chunks = _chunks_from_stdin(chunk_samples, args.pcm) if args.input == "-" else _chunks_from_file(
        args.input, chunk_samples
    )  # fmt: skip

    out = sys.stdout
    if args.format == "jsonl":
        header = {"fps": 30, "channel_names": names, "latency_seconds": streamer.latency_seconds,
                  "window": window.to_dict(), **pauses.in_use(streamer.engine)}  # fmt: skip
        out.write(json.dumps(header) + "\n")
    else:
        out.write(",".join(["frame", "time", *names]) + "\n")
    kept, emitted = [], 0

    def emit(frames: np.ndarray) -> None:
        nonlocal emitted
        for row in frames:
            if args.format == "jsonl":
                out.write(json.dumps({"frame": emitted, "time": round(emitted / 30, 4),
                                      "values": [round(float(v), 6) for v in row]}) + "\n")  # fmt: skip
            else:
                out.write(",".join([str(emitted), f"{emitted / 30:.4f}", *(f"{v:.6f}" for v in row)]) + "\n")
            emitted += 1
        out.flush()
        if args.out is not None:
            kept.append(frames)

    start = time.perf_counter()
    for chunk in chunks:
        emit(streamer.feed(chunk))
    emit(streamer.finish())
    wall = time.perf_counter() - start
    seconds = streamer.num_samples / 16000
    if args.out is not None:
        _save(args, streamer, np.concatenate(kept) if kept else np.zeros((0, out_dim), np.float32), window)
    rtf = seconds / streamer.compute_seconds if streamer.compute_seconds else float("inf")
    print(f"stream: {emitted} frames for {seconds:.2f} s of audio; model time {streamer.compute_seconds:.2f} s "
          f"(real-time factor {rtf:.1f}x), wall {wall:.2f} s, compile {compile_seconds:.1f} s before the stream; "
          f"algorithmic latency {streamer.latency_seconds:.2f} s",
          file=sys.stderr)  # fmt: skip
    return 0


def _save(args, streamer, frames, window) -> None:
    from voiceemo_jax.inference import prediction_files
    from voiceemo_jax.inference.predictor import Prediction

    prediction = Prediction(frames, streamer.emotion_logits(), streamer.emotion_labels, windowed=True)
    prediction_files.write_prediction(
        args.out,
        prediction,
        level=args.level,
        person=args.person,
        post_processing=False,
        seed=0,
        sources={"audio": args.input, "checkpoint": str(args.checkpoint)},
        extra={"windowed": window.to_dict(), "streamed": True, **pauses.in_use(streamer.engine)},
    )
