"""Long-audio and streaming inference: windowed-vs-full deviation, memory, latency, speed.

    python -m benchmarks.long_audio_bench deviation --corpus corpus [--checkpoint CKPT] [--json OUT]
    python -m benchmarks.long_audio_bench memory --size release --minutes 10 [--json OUT]
    python -m benchmarks.long_audio_bench stream --size demo [--seconds 30] [--json OUT]

deviation: a long clip made of the corpus's test sentences end to end (default about
60 s, short enough for one full-sequence pass) through the full model and through
windowed inference with several geometries; reports the largest and mean absolute
difference over all channels and over the mouth channels, against the output's own
spread (std over frames, averaged over channels), and the MAE of each against the clips'
targets next to that of every sentence predicted alone (the model's own error floor). Every
run uses the same controls (--level, --person; default 0 and 0: the corpus's level 1 and
its first voice). Default model: the shipped demo model.
memory: peak resident memory (VmHWM) of a fresh process that builds a random model of
`--size` and predicts `--minutes` of speech-like audio with the default window, against
the same process's memory before predicting (`benchmarks/process_probe.py`, side
jax-windowed, after a 21 s warm-up clip).
stream: `Streamer` fed 200 ms chunks of speech-like audio: real-time factor (audio
seconds per model second) and the latency of each frame (algorithmic: how much later
audio it waited for; measured: plus the compute of the chunk that released it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import shown_path
from voiceemo_jax.atomic_files import write_text
from voiceemo_jax.testing.signals import speech_like

DEMO_MODEL = Path(__file__).resolve().parents[1] / "voiceemo_jax" / "demo_assets" / "model"
GEOMETRIES = {  # name -> (window, context, hop or None)
    "predict default (20 s, 3 s context)": (20.0, 3.0, None),
    "10 s, 2 s context": (10.0, 2.0, None),
    "6 s, 1 s context": (6.0, 1.0, None),
    "stream default (4 s, 0.3 s hop, 0.6 s lookahead)": (4.0, 0.6, 0.3),
}


def _long_clip(corpus: Path, seconds: float, emotion: str | None = None) -> tuple[np.ndarray, np.ndarray, list]:
    """Test-sentence clips end to end -> (audio [samples], their targets [frames, 52], each
    clip's placed at the frame nearest its start, [(start frame, clip audio)]). With
    `emotion`: one voice's clips of that emotion, every sentence (a long talk in one mood,
    as real long recordings are)."""
    from voiceemo_jax.audio import load_audio
    from voiceemo_jax.models import sequence_ops

    doc = json.loads((corpus / "corpus.json").read_text())
    test = {s["id"] for s in doc["sentences"] if s["split"] == "test"}
    pieces, targets, total = [], [], 0
    voice = doc["voices"][0]["name"]
    for clip in doc["clips"]:
        if (clip["sentence"] in test) if emotion is None else (clip["emotion"] == emotion and clip["voice"] == voice):
            audio = load_audio(corpus / clip["wav"])
            targets.append((round(total * 30 / 16000), np.load(corpus / clip["target"])))
            pieces.append(audio)
            total += len(audio)
            if total >= seconds * 16000:
                break
    placed = np.zeros((sequence_ops.frames_for(total), targets[0][1].shape[1]), np.float32)
    for start, target in targets:
        placed[start : start + len(target)] = target[: len(placed) - start]
    return np.concatenate(pieces), placed, [(start, piece) for (start, _), piece in zip(targets, pieces)]


def deviation(args) -> dict:
    from voiceemo_jax.arkit import GROUPS
    from voiceemo_jax.inference import pauses
    from voiceemo_jax.inference.predictor import Predictor
    from voiceemo_jax.inference.windows import WindowConfig, WindowEngine, predict_windowed

    predictor = Predictor.from_checkpoint(args.checkpoint, window=None)
    audio, targets, pieces = _long_clip(args.corpus, args.seconds, args.emotion)
    controls = {"level": args.level, "person": args.person}
    full = predictor.predict(audio, **controls)
    # The model's own error floor: every sentence predicted alone, as it was trained.
    alone = np.zeros_like(full.outputs)
    for start, piece in pieces:
        outputs = predictor.predict(piece, **controls).outputs
        alone[start : start + len(outputs)] = outputs[: len(alone) - start]
    alone_mae = float(np.abs(alone - targets).mean())
    spread = float(full.outputs.std(axis=0).mean())
    mouth = np.array(GROUPS["jaw_mouth"])
    rows = []
    for name, (window, context, hop) in GEOMETRIES.items():
        engine = WindowEngine(predictor.model, WindowConfig(window, context, hop))
        outputs, logits = predict_windowed(engine, audio, **controls)
        diff = np.abs(outputs - full.outputs)
        rows.append({"geometry": name, "max_abs": float(diff.max()), "mean_abs": float(diff.mean()),
                     "mouth_max_abs": float(diff[:, mouth].max()), "mouth_mean_abs": float(diff[:, mouth].mean()),
                     "emotion_same": bool(np.argmax(logits) == np.argmax(full.emotion_logits)),
                     "logit_max_abs": float(np.abs(logits - full.emotion_logits).max()),
                     "mae_vs_targets": float(np.abs(outputs - targets).mean())})  # fmt: skip
    full_mae = float(np.abs(full.outputs - targets).mean())
    print(f"{len(audio) / 16000:.1f} s clip; output spread (mean per-channel std) {spread:.4f}; MAE against "
          f"the clips' targets: full sequence {full_mae:.4f}, each sentence alone {alone_mae:.4f}")  # fmt: skip
    print("| geometry | max abs | mean abs | mouth max abs | mouth mean abs | same emotion | MAE vs targets |")
    print("|---|---:|---:|---:|---:|---|---:|")
    for r in rows:
        print(f"| {r['geometry']} | {r['max_abs']:.4f} | {r['mean_abs']:.5f} | {r['mouth_max_abs']:.4f} | "
              f"{r['mouth_mean_abs']:.5f} | {r['emotion_same']} | {r['mae_vs_targets']:.4f} |")  # fmt: skip
    seconds = len(audio) / 16000
    return {"checkpoint": shown_path(args.checkpoint), **pauses.in_use(predictor),
            "seconds": seconds, "emotion": args.emotion, **controls, "output_spread": spread,
            "full_mae_vs_targets": full_mae, "sentences_alone_mae_vs_targets": alone_mae, "rows": rows}  # fmt: skip


def memory(args) -> dict:
    from benchmarks.process_probe import probe

    doc = probe("jax-windowed", args.size, args.minutes * 60, repeats=0)
    if "error" in doc:
        raise SystemExit(f"memory probe failed: {doc['error']}")
    print(f"{args.size}, {args.minutes:g} min: peak RSS {doc['peak_mib'] / 1024:.2f} GiB (before predicting: "
          f"{doc['loaded_mib'] / 1024:.2f} GiB); {doc['frames']} frames in {doc['run_seconds']:.1f} s")  # fmt: skip
    return {"size": args.size, "minutes": args.minutes, **doc}


def stream(args) -> dict:
    from voiceemo_jax.inference.predictor import Predictor
    from voiceemo_jax.inference.streaming import Streamer
    from voiceemo_jax.testing.random_models import random_model

    model = Predictor.from_checkpoint(DEMO_MODEL).model if args.size == "demo" else random_model(args.size, seed=0)
    streamer = Streamer(model)
    chunk = int(args.chunk_ms * 16)
    streamer.warm_up()
    audio = speech_like(int(16000 * args.seconds), seed=2)
    waits, measured = [], []
    for begin in range(0, len(audio), chunk):
        start = time.perf_counter()
        frames = streamer.feed(audio[begin : begin + chunk])
        compute = time.perf_counter() - start
        received = (begin + len(audio[begin : begin + chunk])) / 16000
        first = streamer.num_frames - len(frames)
        for f in range(first, streamer.num_frames):
            waits.append(received - f / 30)
            measured.append(received - f / 30 + compute)
    streamer.finish()
    rtf = args.seconds / streamer.compute_seconds
    doc = {"size": args.size, "seconds": args.seconds, "chunk_ms": args.chunk_ms, "real_time_factor": rtf,
           "algorithmic_latency_bound": streamer.latency_seconds, "latency_mean": float(np.mean(measured)),
           "latency_max": float(np.max(measured)), "algorithmic_wait_max": float(np.max(waits))}  # fmt: skip
    print(f"{args.size}: real-time factor {rtf:.2f}x; latency mean {doc['latency_mean']:.2f} s, max "
          f"{doc['latency_max']:.2f} s (algorithmic bound {streamer.latency_seconds:.2f} s + the chunk's "
          f"{args.chunk_ms} ms + compute)")  # fmt: skip
    return doc


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    dev = sub.add_parser("deviation")
    dev.add_argument("--corpus", type=Path, required=True)
    dev.add_argument("--checkpoint", type=Path, default=DEMO_MODEL)
    dev.add_argument("--seconds", type=float, default=60.0)
    dev.add_argument("--emotion", help="one voice's clips of this emotion instead of mixed test clips")
    dev.add_argument("--level", type=int, default=0, help="model level for every run (0 = the corpus's level 1)")
    dev.add_argument("--person", type=int, default=0, help="person for every run (0 = the first voice's)")
    mem = sub.add_parser("memory")
    mem.add_argument("--size", default="release", choices=("tiny", "demo", "release"))
    mem.add_argument("--minutes", type=float, default=10.0)
    st = sub.add_parser("stream")
    st.add_argument("--size", default="demo", choices=("tiny", "demo", "release"))
    st.add_argument("--seconds", type=float, default=30.0)
    st.add_argument("--chunk-ms", type=int, default=200)
    for p in (dev, mem, st):
        p.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    doc = {"deviation": deviation, "memory": memory, "stream": stream}[args.what](args)
    if args.json:
        write_text(args.json, json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
