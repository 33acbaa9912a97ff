"""First training stage: the emotion encoder alone, as an emotion classifier on random crops.

    python -m voiceemo_jax.training.emotion_encoder --config configs/demo.py \
        --data data/synth --out runs/demo/emotion_encoder

A small wav2vec2 trained from scratch inside the full model learns the emotion from 8
clips per step while the animation losses pull on it too; on the synthetic corpus it
reaches 91% on the training sentences and about 65% on held-out ones: it memorises
sentences. This stage trains the emotion encoder (wav2vec2 + classifier head over its
mean-pooled frames) on its own, on random crops of the training clips (CROP_SECONDS),
so no crop shows a whole sentence and the encoder must rely on the voice's prosody. It
keeps the parameters with the best accuracy on whole clips of the validation split.

Output: a model checkpoint (`voiceemo predict` reads it; everything but the emotion
encoder is the fresh initialisation of `--seed`) that the main training starts from with
`init_from`, keeping the emotion encoder frozen (`configs/demo.py`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from voiceemo_jax import checkpoint_io
from voiceemo_jax.errors import UserError
from voiceemo_jax.models import sequence_ops

CROP_SECONDS = 2.0
BATCH_SIZE = 16
STEPS = 3500
EVAL_EVERY = 250
LEARNING_RATE = 1e-3
WARMUP_STEPS = 200
WEIGHT_DECAY = 0.01
LABEL_SMOOTHING = 0.05


def read_split(data_dir, split: str, labels: tuple[str, ...]) -> tuple[list[np.ndarray], np.ndarray]:
    """-> (each clip's audio [samples] float32, model label index [N]) of a split's clips
    whose emotion the model knows."""
    from data_pipelines.loading.input_pipeline import make_eval_iterator
    from voiceemo_jax.evaluation.labels import emotion_label_map

    iterator = make_eval_iterator(data_dir, split, batch_size=16)
    label_map = emotion_label_map(iterator.metadata.emotions, labels)
    clips, targets = [], []
    for batch in iterator:
        x = batch["x"]
        for audio, n, emotion, valid in zip(x["audio"], x["num_samples"], x["emotion"], x["valid"]):
            if valid and label_map[emotion] >= 0:
                clips.append(np.asarray(audio[:n], np.float32))
                targets.append(label_map[emotion])
    if not clips:
        raise UserError(f"{data_dir}: split {split!r} has no clip with an emotion the model knows")
    return clips, np.asarray(targets, np.int32)


def random_crops(clips, rng: np.random.Generator, rows: np.ndarray, crop: int) -> tuple[np.ndarray, np.ndarray]:
    """A random `crop`-sample window of each chosen clip (the whole clip when shorter,
    zero-padded) -> (audio [B, crop], num_samples [B])."""
    audio = np.zeros((len(rows), crop), np.float32)
    lengths = np.zeros(len(rows), np.int32)
    for i, row in enumerate(rows):
        clip = clips[row]
        start = rng.integers(0, len(clip) - crop + 1) if len(clip) > crop else 0
        piece = clip[start : start + crop]
        audio[i, : len(piece)], lengths[i] = piece, len(piece)
    return audio, lengths


def _logits(encoder, audio, num_samples, *, deterministic=True, rngs=None):
    frames = sequence_ops.frames_for_array(num_samples)
    _, logits = encoder(
        audio, num_samples, frames, sequence_ops.frames_for(audio.shape[1]), deterministic=deterministic, rngs=rngs
    )
    return logits


def accuracy(graphdef, params, clips, targets, batch_size: int = 16, bucket: int = 16000) -> float:
    """Whole-clip accuracy, batches padded to a multiple of `bucket` samples."""
    predict = jax.jit(lambda p, a, n: jnp.argmax(_logits(nnx.merge(graphdef, nnx.State(p)), a, n), axis=-1))
    order = np.argsort([len(c) for c in clips])
    correct = 0
    for begin in range(0, len(order), batch_size):
        rows = order[begin : begin + batch_size]
        width = -(-max(len(clips[r]) for r in rows) // bucket) * bucket
        audio = np.zeros((batch_size, width), np.float32)
        lengths = np.full(batch_size, width, np.int32)
        for i, r in enumerate(rows):
            audio[i, : len(clips[r])], lengths[i] = clips[r], len(clips[r])
        predicted = np.asarray(predict(params, jnp.asarray(audio), jnp.asarray(lengths)))[: len(rows)]
        correct += int(np.sum(predicted == targets[rows]))
    return correct / len(clips)


def pretrain(config, data_dir, out, *, steps: int = STEPS, seed: int = 0, log=print) -> dict:
    from data_pipelines.records.schema import load_metadata
    from voiceemo_jax.training import initialization, model_setup

    metadata = load_metadata(data_dir)
    model_config = model_setup.build_model_config(config, metadata)
    model = initialization.new_model(model_config, seed, **model_setup.model_kwargs(config))
    labels = model_config.emotion_labels
    train_clips, train_targets = read_split(data_dir, "train", labels)
    val_clips, val_targets = read_split(data_dir, "validation", labels)
    log(f"emotion_encoder: {len(train_clips)} training clips, {len(val_clips)} validation clips")

    graphdef, params = nnx.split(model.emotion_encoder, nnx.Param)
    params = nnx.to_pure_dict(params)
    schedule = optax.warmup_cosine_decay_schedule(0.0, LEARNING_RATE, WARMUP_STEPS, max(steps, WARMUP_STEPS + 1))
    opt = optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(schedule, b1=0.9, b2=0.98, weight_decay=WEIGHT_DECAY))
    num_labels = len(labels)

    @jax.jit
    def step(params, opt_state, audio, num_samples, targets, key):
        def loss_fn(p):
            encoder = nnx.merge(graphdef, nnx.State(p))
            logits = _logits(encoder, audio, num_samples, deterministic=False, rngs=nnx.Rngs(dropout=key))
            smoothed = optax.smooth_labels(jax.nn.one_hot(targets, num_labels), LABEL_SMOOTHING)
            return optax.softmax_cross_entropy(logits, smoothed).mean()

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    rng = np.random.default_rng(seed)
    key = jax.random.key(seed)
    opt_state = opt.init(params)
    crop = round(CROP_SECONDS * 16000)
    best = (-1.0, 0, params)
    history, losses, started = [], [], time.perf_counter()
    for i in range(1, steps + 1):
        rows = rng.integers(0, len(train_clips), BATCH_SIZE)
        audio, lengths = random_crops(train_clips, rng, rows, crop)
        params, opt_state, loss = step(
            params, opt_state, jnp.asarray(audio), jnp.asarray(lengths), jnp.asarray(train_targets[rows]),
            jax.random.fold_in(key, i),
        )  # fmt: skip
        losses.append(float(loss))
        if i % EVAL_EVERY == 0 or i == steps:
            val = accuracy(graphdef, params, val_clips, val_targets)
            history.append({"step": i, "loss": float(np.mean(losses)), "validation_accuracy": val})
            log(f"emotion_encoder: step {i}/{steps}  loss {np.mean(losses):.3f}  validation accuracy {val:.1%}  "
                f"({time.perf_counter() - started:.0f} s)")  # fmt: skip
            losses = []
            if val > best[0]:
                best = (val, i, params)
    nnx.update(model.emotion_encoder, nnx.State(best[2]))
    train_acc = accuracy(graphdef, best[2], train_clips, train_targets)
    source = {"kind": "voiceemo-emotion-encoder", "data": str(data_dir), "steps": steps, "best_step": best[1],
              "crop_seconds": CROP_SECONDS, "batch_size": BATCH_SIZE, "seed": seed}  # fmt: skip
    checkpoint_io.save_model(model, out, source=source, overwrite=False)
    return {"best_step": best[1], "validation_accuracy": best[0], "train_accuracy": train_acc, "history": history,
            "seconds": time.perf_counter() - started}  # fmt: skip


def main(argv=None) -> int:
    from voiceemo_jax.training.config_loading import load_config

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, help="the training config whose model this initialises")
    parser.add_argument("--data", required=True, type=Path, help="a `voiceemo data build` output with emotions")
    parser.add_argument("--out", required=True, type=Path, help="new model folder (must not exist)")
    parser.add_argument("--steps", type=int, default=STEPS, help=f"training steps (default {STEPS})")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        if args.out.exists():
            raise UserError(f"{args.out} already exists; choose a new --out")
        report = pretrain(load_config(args.config), args.data, args.out, steps=args.steps, seed=args.seed)
    except UserError as error:
        print(f"emotion_encoder: error: {error}", file=sys.stderr)
        return 2
    print(f"emotion_encoder: best validation accuracy {report['validation_accuracy']:.1%} at step "
          f"{report['best_step']} (train {report['train_accuracy']:.1%}); wrote {args.out}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
