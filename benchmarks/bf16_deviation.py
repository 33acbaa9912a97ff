"""How far bf16 inference (`voiceemo predict --dtype bfloat16`) is from fp32, same weights, same audio.

    python -m benchmarks.bf16_deviation [--release-seconds 5] [--release-clips 3] [--json OUT]

Two models: the release architecture with random weights (`testing.random_models`; its output
head is random, so its outputs have no natural unit and the relative figures are the ones to
read) and the shipped demo model (`voiceemo_jax/demo_assets/model`) on the four bundled demo
sentences, whose outputs are ARKit coefficients in [0, 1]. Each clip runs alone, in one pass
(no windows), through `Predictor(model)` and `Predictor(model, dtype="bfloat16")`; the raw
outputs are compared (no smoothing or blinks).

Per model: max and mean |bf16 - fp32| of the coefficients, the relative RMS error (RMS of the
difference over RMS of the fp32 outputs), the lowest per-clip correlation, the largest
emotion-probability difference and how many clips keep their emotion (argmax).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

DEMO_MODEL = Path(__file__).resolve().parents[1] / "voiceemo_jax" / "demo_assets" / "model"
DEMO_SAMPLES = DEMO_MODEL.parent / "samples"


def compare(model, clips: list[np.ndarray]) -> dict:
    """fp32 vs bf16 predictions of `model` on each clip -> the deviation figures."""
    from voiceemo_jax.inference.predictor import Predictor

    fp32, bf16 = Predictor(model, window=None), Predictor(model, window=None, dtype="bfloat16")
    diffs, refs, correlations, prob_diffs, same_emotion = [], [], [], [], 0
    for clip in clips:
        a, b = fp32.predict(clip), bf16.predict(clip)
        diffs.append((b.outputs - a.outputs).ravel())
        refs.append(a.outputs.ravel())
        correlations.append(float(np.corrcoef(a.outputs.ravel(), b.outputs.ravel())[0, 1]))
        prob_diffs.append(float(np.abs(a.emotion_probabilities - b.emotion_probabilities).max()))
        same_emotion += int(a.emotion == b.emotion)
    diff, ref = np.concatenate(diffs), np.concatenate(refs)
    return {
        "clips": len(clips),
        "audio_seconds": [len(c) / 16000 for c in clips],
        "max_abs_difference": float(np.abs(diff).max()),
        "mean_abs_difference": float(np.abs(diff).mean()),
        "fp32_output_range": [float(ref.min()), float(ref.max())],
        "relative_rms_error": float(np.sqrt(np.mean(diff**2)) / np.sqrt(np.mean(ref**2))),
        "min_correlation": min(correlations),
        "max_emotion_probability_difference": max(prob_diffs),
        "same_emotion": same_emotion,
    }


def run(release_seconds: float, release_clips: int, json_path: str | None) -> dict:
    import jax

    from voiceemo_jax import checkpoint_io
    from voiceemo_jax.audio import load_audio
    from voiceemo_jax.testing.random_models import random_model
    from voiceemo_jax.testing.signals import speech_like

    demo_model, _ = checkpoint_io.load_model(DEMO_MODEL)
    demo_clips = [load_audio(p) for p in sorted(DEMO_SAMPLES.glob("*.wav"))]
    results = {"demo": compare(demo_model, demo_clips)}
    del demo_model
    release_audio = [speech_like(int(release_seconds * 16000), seed=i) for i in range(release_clips)]
    results["release_random"] = compare(random_model("release", seed=0), release_audio)
    result = {
        "benchmark": "bf16_deviation",
        "backend": jax.default_backend(),
        "device_kind": jax.devices()[0].device_kind,
        "jax": jax.__version__,
        "results": results,
    }
    print(format_table(results))
    if json_path:
        from voiceemo_jax.atomic_files import write_text

        write_text(json_path, json.dumps(result, indent=2) + "\n")
        print(f"wrote {json_path}")
    return result


def format_table(results: dict) -> str:
    lines = [
        "| model | clips | fp32 output range | max abs diff | mean abs diff | relative RMS error | min correlation "
        "| max emotion prob diff | same emotion |",
        "|" + " --- |" * 9,
    ]
    for name, r in results.items():
        low, high = r["fp32_output_range"]
        lines.append(
            f"| {name} | {r['clips']} | [{low:.3f}, {high:.3f}] | {r['max_abs_difference']:.2e} | "
            f"{r['mean_abs_difference']:.2e} | {100 * r['relative_rms_error']:.2f}% | {r['min_correlation']:.5f} | "
            f"{r['max_emotion_probability_difference']:.2e} | {r['same_emotion']}/{r['clips']} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--release-seconds", type=float, default=5.0, help="clip length for the release size")
    parser.add_argument("--release-clips", type=int, default=3, help="clips for the release size")
    parser.add_argument("--json", metavar="OUT", help="write the results as JSON here")
    args = parser.parse_args(argv)
    if args.release_seconds <= 0 or args.release_clips < 1:
        parser.error("--release-seconds must be positive and --release-clips at least 1")
    run(args.release_seconds, args.release_clips, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
