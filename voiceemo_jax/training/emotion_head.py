"""Second training stage: refit the emotion classifier head on frozen, pooled features.

    python -m voiceemo_jax.training.emotion_head --checkpoint runs/demo/model \
        --data data/synth --out runs/demo/model_refit

During the main training the head (dropout -> dense -> tanh -> dropout -> out_proj over
the mean-pooled emotion features) learns from 8 noisy clips per step while the encoder
under it moves. Once the encoder is trained, this stage pools its features for every
clip of the training split once and fits the head alone on all of them: full-batch
AdamW from the trained head, cross-entropy with label smoothing, keeping the iteration
with the best accuracy on the validation split. Only the head's parameters change, so
the animation (which reads the features, not the logits) is untouched. Deterministic.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from voiceemo_jax import checkpoint_io
from voiceemo_jax.errors import UserError
from voiceemo_jax.models import sequence_ops
from voiceemo_jax.models.encoders import pool_frames

STEPS = 3000
EVAL_EVERY = 25
LEARNING_RATE = 3e-3
WEIGHT_DECAY = 1e-3
LABEL_SMOOTHING = 0.05


def pooled_features(model, data_dir, split: str, batch_size: int = 16):
    """-> (pooled emotion features [N, H] float32, model label index [N] int) of a split."""
    from data_pipelines.loading.input_pipeline import make_eval_iterator
    from data_pipelines.records.schema import load_metadata
    from voiceemo_jax.evaluation.report import emotion_label_map

    metadata = load_metadata(data_dir)
    label_map = emotion_label_map(metadata.emotions, model.config.emotion_labels)
    graphdef, state = nnx.split(model.emotion_encoder)
    pooling = model.config.emotion.pooling_mode

    @jax.jit
    def pool(state, audio, num_samples):
        encoder = nnx.merge(graphdef, state)
        frames = sequence_ops.frames_for_array(num_samples)
        hidden, _ = encoder(audio, num_samples, frames, sequence_ops.frames_for(audio.shape[1]))
        return pool_frames(hidden, sequence_ops.length_mask(frames, hidden.shape[1]), pooling)

    features, labels = [], []
    for batch in make_eval_iterator(data_dir, split, batch_size=batch_size):
        clip = batch["x"]
        valid = np.asarray(clip["valid"], bool)
        num_samples = np.where(valid, clip["num_samples"], model.config.min_samples)  # padding rows: any length
        pooled = np.asarray(pool(state, jnp.asarray(clip["audio"]), jnp.asarray(num_samples, jnp.int32)))
        features.append(pooled[valid])
        labels.append(label_map[np.asarray(clip["emotion"])[valid]])
    features, labels = np.concatenate(features), np.concatenate(labels)
    known = labels >= 0
    if not known.any():
        raise UserError(f"no clip of split {split!r} has an emotion this model's classifier knows")
    return features[known], labels[known]


def fit_head(head_params: dict, head_apply, train, validation, *, steps: int = STEPS):
    """Full-batch AdamW on the head alone -> (best params, history [(step, train acc, val acc)])."""
    x_train, y_train = (jnp.asarray(a) for a in train)
    x_val, y_val = (jnp.asarray(a) for a in validation)
    num_labels = head_apply(head_params, x_train[:1]).shape[-1]
    opt = optax.adamw(LEARNING_RATE, weight_decay=WEIGHT_DECAY)

    def loss_fn(params):
        logits = head_apply(params, x_train)
        targets = optax.smooth_labels(jax.nn.one_hot(y_train, num_labels), LABEL_SMOOTHING)
        return optax.softmax_cross_entropy(logits, targets).mean()

    @jax.jit
    def step(params, opt_state):
        grads = jax.grad(loss_fn)(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    def accuracy(params, x, y):
        return float(jnp.mean(jnp.argmax(head_apply(params, x), axis=-1) == y))

    params, opt_state = head_params, opt.init(head_params)
    best = (accuracy(params, x_val, y_val), 0, params)
    history = [(0, accuracy(params, x_train, y_train), best[0])]
    for i in range(1, steps + 1):
        params, opt_state = step(params, opt_state)
        if i % EVAL_EVERY == 0:
            val = accuracy(params, x_val, y_val)
            history.append((i, accuracy(params, x_train, y_train), val))
            if val > best[0]:
                best = (val, i, params)
    return best[2], history


def refit(checkpoint, data_dir, out, *, train_split="train", eval_split="validation", steps: int = STEPS) -> dict:
    model, meta = checkpoint_io.load_model(checkpoint)
    train = pooled_features(model, data_dir, train_split)
    validation = pooled_features(model, data_dir, eval_split)
    head_graphdef, head_state = nnx.split(model.emotion_encoder.classifier, nnx.Param)

    def head_apply(params, x):
        return nnx.merge(head_graphdef, nnx.State(params))(x)

    params, history = fit_head(nnx.to_pure_dict(head_state), head_apply, train, validation, steps=steps)
    nnx.update(model.emotion_encoder.classifier, nnx.State(params))
    source = {**meta.get("source", {}), "emotion_head_refit": {"data": str(data_dir), "train_split": train_split,
              "eval_split": eval_split, "steps": steps}}  # fmt: skip
    checkpoint_io.save_model(model, out, source=source, overwrite=False)
    best = max(history, key=lambda h: h[2])
    return {"before": {"train": history[0][1], "validation": history[0][2]},
            "after": {"step": best[0], "train": best[1], "validation": best[2]},
            "train_clips": len(train[1]), "validation_clips": len(validation[1])}  # fmt: skip


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, type=Path, help="model folder (e.g. WORKDIR/model)")
    parser.add_argument("--data", required=True, type=Path, help="the `voiceemo data build` output it trained on")
    parser.add_argument("--out", required=True, type=Path, help="new model folder (must not exist)")
    parser.add_argument("--steps", type=int, default=STEPS, help=f"full-batch steps (default {STEPS})")
    args = parser.parse_args(argv)
    try:
        report = refit(args.checkpoint, args.data, args.out, steps=args.steps)
    except UserError as error:
        print(f"emotion_head: error: {error}", file=sys.stderr)
        return 2
    print(f"emotion accuracy, train {report['before']['train']:.1%} -> {report['after']['train']:.1%}, "
          f"validation {report['before']['validation']:.1%} -> {report['after']['validation']:.1%} "
          f"(step {report['after']['step']}; {report['train_clips']} / {report['validation_clips']} clips); "
          f"wrote {args.out}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
