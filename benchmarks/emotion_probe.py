"""How well an emotion encoder, trained alone on real emotional speech, reads unseen speakers.

    python -m benchmarks.emotion_probe --data REAL [--frontend logmel_cnn] [--steps 3000] [--json OUT]

REAL is the real-speech folder (`ravdess/` and `tess/`, each with `index.tsv`). The probe trains
the demo-size model's emotion encoder (`--frontend`: "logmel_cnn", models/logmel_cnn.py, or
"wav2vec2", the demo's) from scratch as a 7-class classifier on real speech only: RAVDESS actors
01-16 and TESS's training words (calm trained as neutral), every emotion the same share of the crops
and within it every corpus, crops from between each clip's first and last sound. It reports whole-clip accuracy on
RAVDESS actors 17-18 (validation), the held-out actors 19-20 and the held-out TESS words
(`voiceemo_jax/evaluation/held_out_speech.py`; calm left out of the tests), every `--eval-every`
steps. No synthetic speech and no decoder: it measures the emotion encoder's architecture and
training on the data the demo recipe has, apart from the recipe around it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

VALIDATION_ACTORS = ("17", "18")


def load_sets(data: Path, labels: tuple[str, ...]):
    """-> {"train", "validation", "ravdess_held_out", "tess_held_out"}: (clips, label ids, groups)."""
    from voiceemo_jax.audio import load_audio
    from voiceemo_jax.evaluation import held_out_speech as held
    from voiceemo_jax.training.emotion_encoder import trim_silence

    recordings = held.read_index(data / "ravdess") + held.read_index(data / "tess")
    tess_words = held.held_out_tess_words(recordings)
    sets = {name: ([], [], []) for name in ("train", "validation", "ravdess_held_out", "tess_held_out")}
    for r in recordings:
        if r.corpus == "ravdess" and r.speaker.zfill(2) in held.HELD_OUT_RAVDESS_ACTORS:
            name = None if r.emotion == "calm" else "ravdess_held_out"
        elif r.corpus == "tess" and held.is_held_out(r, tess_words):
            name = "tess_held_out"
        elif r.corpus == "ravdess" and r.speaker.zfill(2) in VALIDATION_ACTORS:
            name = None if r.emotion == "calm" else "validation"
        else:
            name = "train"
        if name is None:
            continue
        audio = load_audio(r.path)
        clips, targets, groups = sets[name]
        clips.append(trim_silence(audio) if name == "train" else audio)
        targets.append(labels.index(held.training_emotion(r)))
        groups.append(r.corpus)
    return {k: (c, np.asarray(t), np.asarray(g)) for k, (c, t, g) in sets.items()}


def probe(data: Path, *, frontend: str, steps: int, batch: int, crop_seconds: float, learning_rate: float,
          eval_every: int, seed: int, log=print) -> dict:  # fmt: skip
    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx
    from tqdm import tqdm

    from voiceemo_jax.evaluation.held_out_speech import EMOTIONS
    from voiceemo_jax.models import presets, sequence_ops
    from voiceemo_jax.models.voiceemo import VoiceEmo
    from voiceemo_jax.training.emotion_encoder import _logits, correct_clips, random_crops, sampling_weights

    labels = tuple(EMOTIONS)
    sets = load_sets(data, labels)
    log("clips: " + ", ".join(f"{k} {len(v[0])}" for k, v in sets.items()))
    model = VoiceEmo(presets.model_config("demo", labels=labels, emotion_frontend=frontend), rngs=nnx.Rngs(seed))
    graphdef, params = nnx.split(model.emotion_encoder, nnx.Param)
    params = nnx.to_pure_dict(params)
    opt = optax.adamw(optax.cosine_decay_schedule(learning_rate, steps), weight_decay=1e-3)
    opt_state = opt.init(params)

    @jax.jit
    def step(params, opt_state, audio, num_samples, targets, key):
        def loss_fn(p):
            logits = _logits(nnx.merge(graphdef, nnx.State(p)), audio, num_samples, deterministic=False,
                             rngs=nnx.Rngs(dropout=key))  # fmt: skip
            return optax.softmax_cross_entropy(logits, jax.nn.one_hot(targets, len(labels))).mean()

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    clips, targets, groups = sets["train"]
    # Every emotion the same share of the crops, and within it every corpus.
    weights = sampling_weights(targets, True, np.unique(groups, return_inverse=True)[1])
    rng, key = np.random.default_rng(seed), jax.random.key(seed)
    crop = round(crop_seconds * sequence_ops.SAMPLE_RATE_HZ)
    history, start = [], time.perf_counter()
    for i in tqdm(range(1, steps + 1), desc="probe", unit="step"):
        rows = rng.choice(len(clips), batch, p=weights)
        audio, lengths = random_crops(clips, rng, rows, crop)
        key, sub = jax.random.split(key)
        params, opt_state, loss = step(params, opt_state, jnp.asarray(audio), jnp.asarray(lengths),
                                       jnp.asarray(targets[rows]), sub)  # fmt: skip
        if i % eval_every == 0 or i == steps:
            row = {"step": i, "loss": float(loss)}
            for name in ("validation", "ravdess_held_out", "tess_held_out"):
                c, t, _ = sets[name]
                row[name] = float(correct_clips(graphdef, params, c, t).mean())
            row["seconds"] = round(time.perf_counter() - start, 1)
            history.append(row)
            log(f"step {i}: loss {row['loss']:.3f}, RAVDESS 17-18 {row['validation']:.1%}, "
                f"RAVDESS 19-20 {row['ravdess_held_out']:.1%}, TESS held-out {row['tess_held_out']:.1%}")  # fmt: skip
    best = max(history, key=lambda r: r["validation"])
    return {"frontend": frontend, "steps": steps, "batch": batch, "crop_seconds": crop_seconds,
            "learning_rate": learning_rate, "seed": seed, "history": history, "best_validation": best}  # fmt: skip


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="real-speech folder with ravdess/ and tess/")
    parser.add_argument("--frontend", choices=("logmel_cnn", "wav2vec2"), default="logmel_cnn")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--crop-seconds", type=float, default=1.6)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    for corpus in ("ravdess", "tess"):
        if not (args.data / corpus / "index.tsv").is_file():
            parser.error(f"{args.data / corpus / 'index.tsv'} not found")
    result = probe(args.data, frontend=args.frontend, steps=args.steps, batch=args.batch,
                   crop_seconds=args.crop_seconds, learning_rate=args.learning_rate,
                   eval_every=args.eval_every, seed=args.seed)  # fmt: skip
    print("\n| step | RAVDESS 17-18 (val) | RAVDESS 19-20 | TESS held-out |\n|---:|---:|---:|---:|")
    for r in result["history"]:
        print(f"| {r['step']} | {r['validation']:.1%} | {r['ravdess_held_out']:.1%} | {r['tess_held_out']:.1%} |")
    b = result["best_validation"]
    held_out = f"RAVDESS 19-20 {b['ravdess_held_out']:.1%}, TESS {b['tess_held_out']:.1%}"
    print(f"best validation at step {b['step']}: {held_out}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
