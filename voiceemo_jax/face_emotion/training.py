"""`train_and_evaluate(config, workdir)` for the face-emotion classifier (configs/face_emotion.py).

Trains `models.face_emotion.FaceEmotionClassifier` on a build's ground-truth target
sequences with their emotion (and level) labels:

1. input statistics: per-channel mean and one global scale of the first
   `data.statistics_clips` training clips, read unsharded so every process agrees;
2. single-clip batches from the input pipeline (only targets, lengths and labels reach the
   device), AdamW with warm-up + cosine (`optimizer.make_optimizer`), label-smoothed
   cross-entropy on the emotion plus `loss.level` x that on the level;
3. validation accuracy every `train.eval_every` steps and at the end; Orbax checkpoints in
   WORKDIR/checkpoints (re-running the command resumes); finally WORKDIR/face_classifier,
   the folder `--face-classifier` and `--config.face_classifier` take.

One global scale rather than a per-channel one: channels that barely move in the training
targets (tongueOut, say) must not be blown up by a tiny std when a generated animation
moves them; a global scale keeps ARKit coefficients and metre-sized vertex offsets alike
near unit size. Label smoothing keeps the logits bounded: the frozen classifier of the
consistency loss then gives a generated face that shows the wrong emotion a large but not
explosive loss (an unsmoothed classifier reaches logits of 20+ on the fixture).
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from voiceemo_jax.errors import UserError
from voiceemo_jax.face_emotion.model import FaceEmotionClassifier, FaceEmotionConfig
from voiceemo_jax.training import checkpointing, losses, optimizer, sharding
from voiceemo_jax.training.monitoring import MetricWriter, check_finite, validation_sums

BATCH_KEYS = ("targets", "num_frames", "emotion", "level")


def classifier_config(config, metadata) -> FaceEmotionConfig:
    """The dataset decides the input width and both label sets; the config the sizes."""
    if len(metadata.emotions) < 2:
        raise UserError(
            f"{metadata.dataset} has emotions {list(metadata.emotions)}: a face-emotion classifier needs at least two"
        )
    with_levels = bool(config.model.level_head) and len(metadata.levels) >= 2
    m = config.model
    return FaceEmotionConfig(
        input_dim=int(metadata.target_dim),
        emotion_labels=tuple(metadata.emotions),
        level_labels=tuple(metadata.levels) if with_levels else (),
        hidden_dim=int(m.hidden_dim),
        num_conv_layers=int(m.num_conv_layers),
        conv_kernel=int(m.conv_kernel),
        dropout=float(m.dropout),
    )


def target_statistics(data_dir, split: str, *, max_clips: int, bucket_seconds) -> tuple[np.ndarray, float]:
    """-> (per-channel mean [D], global scale) over the valid frames of the first `max_clips` clips."""
    from data_pipelines.loading.input_pipeline import make_eval_iterator

    iterator = make_eval_iterator(
        data_dir, split, batch_size=16, bucket_seconds=bucket_seconds, process_index=0, process_count=1
    )
    total = squares = None
    frames, clips = 0, 0
    for batch in iterator:
        x = batch["x"]
        for row in np.flatnonzero(x["valid"])[: max(0, max_clips - clips)]:
            targets = x["targets"][row, : x["num_frames"][row]].astype(np.float64)
            total = targets.sum(0) if total is None else total + targets.sum(0)
            squares = (targets**2).sum(0) if squares is None else squares + (targets**2).sum(0)
            frames += len(targets)
            clips += 1
        if clips >= max_clips:
            break
    if not frames:
        raise UserError(f"{data_dir}: split {split!r} has no target frames to learn from")
    mean = total / frames
    variance = np.maximum(squares / frames - mean**2, 0.0)
    return mean.astype(np.float32), float(max(np.sqrt(variance.mean()), 1e-6))


def new_classifier(model_config: FaceEmotionConfig, seed: int, statistics=None) -> FaceEmotionClassifier:
    classifier = FaceEmotionClassifier(model_config, rngs=nnx.Rngs(seed))
    if statistics is not None:
        classifier.set_input_statistics(*statistics)
    return classifier


def _merge(graphdef, params, statistics) -> FaceEmotionClassifier:
    return nnx.merge(graphdef, nnx.State(params), nnx.State(statistics))


def smoothed_cross_entropy(logits: jax.Array, labels: jax.Array, smoothing: float) -> jax.Array:
    """Mean cross-entropy of logits [B, C] against integer labels [B] smoothed by `smoothing`."""
    targets = optax.smooth_labels(jax.nn.one_hot(labels, logits.shape[-1]), smoothing)
    return jnp.mean(optax.softmax_cross_entropy(logits.astype(jnp.float32), targets))


def _objective(model, batch, weights, *, deterministic, rngs=None):
    out = model(batch["targets"], batch["num_frames"], deterministic=deterministic, rngs=rngs)
    smoothing = weights["label_smoothing"]
    emotion_ce = smoothed_cross_entropy(out["emotion_logits"], batch["emotion"], smoothing)
    metrics = {
        "loss/emotion": emotion_ce,
        "emotion_accuracy": losses.emotion_accuracy(out["emotion_logits"], batch["emotion"]),
    }
    total = weights["emotion"] * emotion_ce
    if "level_logits" in out:
        level_ce = smoothed_cross_entropy(out["level_logits"], batch["level"], smoothing)
        metrics["loss/level"] = level_ce
        metrics["level_accuracy"] = losses.emotion_accuracy(out["level_logits"], batch["level"])
        total = total + weights["level"] * level_ce
    metrics["loss/total"] = total
    return total, metrics


def make_train_step(graphdef, opt, schedule, weights: dict[str, float]):
    """(state, batch, rng) -> (state, metrics); gradients for `params` only, never the statistics."""

    def loss_fn(params, statistics, batch, key):
        model = _merge(graphdef, params, statistics)
        return _objective(model, batch, weights, deterministic=False, rngs=nnx.Rngs(dropout=key))

    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    def train_step(state, batch, rng):
        key = jax.random.fold_in(rng, state["step"])
        (_, metrics), grads = grad_fn(state["params"], state["statistics"], batch, key)
        updates, opt_state = opt.update(grads, state["opt_state"], state["params"])
        params = optax.apply_updates(state["params"], updates)
        metrics = dict(metrics, grad_norm=optax.global_norm(grads), learning_rate=schedule(state["step"]))
        new_state = {"params": params, "statistics": state["statistics"], "opt_state": opt_state}
        return {**new_state, "step": state["step"] + 1}, metrics

    return train_step


def make_eval_step(graphdef):
    """(params, statistics, batch with `valid`) -> per-split sums, reduced on the host."""

    def eval_step(params, statistics, batch):
        out = _merge(graphdef, params, statistics)(batch["targets"], batch["num_frames"])
        valid = batch["valid"].astype(jnp.float32)
        sums = {"count/clips": jnp.sum(valid)}
        for head, label in (("emotion_logits", "emotion"), ("level_logits", "level")):
            if head in out:
                correct = (jnp.argmax(out[head], axis=-1) == batch[label]).astype(jnp.float32)
                sums[f"sum/{label}_correct"] = jnp.sum(correct * valid)
        return sums

    return eval_step


def _evaluate(eval_step, state, config, mesh) -> dict[str, float]:
    def run_batch(clip):
        local = {key: clip[key] for key in (*BATCH_KEYS, "valid")}
        return eval_step(state["params"], state["statistics"], sharding.global_batch(local, mesh))

    totals = validation_sums(config, run_batch)
    clips = max(totals.get("count/clips", 0.0), 1.0)
    out = {"eval/emotion_accuracy": totals.get("sum/emotion_correct", 0.0) / clips}
    if "sum/level_correct" in totals:
        out["eval/level_accuracy"] = totals["sum/level_correct"] / clips
    return out


def train_and_evaluate(config, workdir: str | Path) -> dict[str, Any]:
    """Trains the face-emotion classifier per `config` in `workdir`; returns the last metrics."""
    from data_pipelines.loading.input_pipeline import make_iterator
    from data_pipelines.records.schema import load_metadata
    from voiceemo_jax.face_emotion.loading import save_face_classifier

    workdir = Path(workdir).absolute()
    workdir.mkdir(parents=True, exist_ok=True)
    if config.data.get("fixture", False):
        from data_pipelines.sources.learnable_fixture import ensure_fixture_build

        config.data.dir = str(ensure_fixture_build(workdir / "fixture_data", seed=config.train.seed))
    if not config.data.dir:
        raise UserError("config.data.dir is empty: pass --config.data.dir=DIR (a `voiceemo data build` output)")
    metadata = load_metadata(config.data.dir)
    model_config = classifier_config(config, metadata)
    mesh = sharding.make_mesh(config.mesh.data, config.mesh.fsdp)
    global_batch = config.train.per_process_batch_size * jax.process_count()
    if global_batch % mesh.size:
        raise UserError(f"global batch {global_batch} must be divisible by the {mesh.size} devices")
    bucket_seconds = tuple(config.data.bucket_seconds)
    train_iter = make_iterator(
        config.data.dir, config.data.train_split, batch_size=config.train.per_process_batch_size,
        seed=config.train.seed, mode="single", bucket_seconds=bucket_seconds,
        window_speakers=config.data.window_speakers,
    )  # fmt: skip

    graphdef, abstract_params, abstract_statistics = nnx.split(
        nnx.eval_shape(lambda: new_classifier(model_config, 0)), nnx.Param, ...
    )
    opt, schedule = optimizer.make_optimizer(config.train, nnx.to_pure_dict(abstract_params), prefixes=())

    def init_state(seed, statistics):
        classifier = new_classifier(model_config, seed, statistics)
        _, params, rest = nnx.split(classifier, nnx.Param, ...)
        params, rest = nnx.to_pure_dict(params), nnx.to_pure_dict(rest)
        return {"params": params, "statistics": rest, "opt_state": opt.init(params), "step": jnp.zeros((), jnp.int32)}

    dummy_statistics = (np.zeros(model_config.input_dim, np.float32), np.float32(1.0))
    abstract_state = jax.eval_shape(lambda: init_state(int(config.train.seed), dummy_statistics))
    state_shardings = sharding.state_shardings(mesh, abstract_state)
    replicated, batch_sharding = sharding.replicated(mesh), sharding.batch_sharding(mesh)
    weights = {k: float(config.loss[k]) for k in ("emotion", "level", "label_smoothing")}
    train_step = jax.jit(
        make_train_step(graphdef, opt, schedule, weights),
        in_shardings=(state_shardings, batch_sharding, replicated),
        out_shardings=(state_shardings, replicated),
        donate_argnums=(0,),
    )
    eval_step = jax.jit(
        make_eval_step(graphdef),
        in_shardings=(state_shardings["params"], state_shardings["statistics"], batch_sharding),
        out_shardings=replicated,
    )

    checkpoints = checkpointing.TrainCheckpoints(
        workdir / "checkpoints", keep=config.train.keep_checkpoints, every_steps=config.train.checkpoint_every
    )
    writer = MetricWriter(workdir / "tensorboard", enabled=jax.process_index() == 0)
    latest = checkpoints.latest_step()
    if latest is not None:
        state, data_state = checkpoints.restore(latest, checkpointing.abstract_like(abstract_state, state_shardings))
        train_iter.set_state(data_state)
        writer.print(f"resuming from step {latest} ({checkpoints.directory / str(latest)})")
        start_step = latest
    else:
        statistics = target_statistics(
            config.data.dir, config.data.train_split, max_clips=int(config.data.statistics_clips),
            bucket_seconds=bucket_seconds,
        )  # fmt: skip
        init = jax.jit(init_state, static_argnums=0, out_shardings=state_shardings)
        state, start_step = init(int(config.train.seed), statistics), 0
        levels = f", levels {list(model_config.level_labels)}" if model_config.has_level_head else ""
        writer.print(
            f"face-emotion classifier on {metadata.dataset} targets [T, {model_config.input_dim}]: "
            f"emotions {list(model_config.emotion_labels)}{levels}"
        )

    num_steps = int(config.train.num_steps)
    rng = jax.random.key(config.train.seed)
    last: dict[str, Any] = {}
    window_start, window_steps = time.perf_counter(), 0
    data_state = train_iter.get_state()
    # closing: the input pipeline's threads stop when the loop ends, not at interpreter exit (as in
    # trainer.py), also when a non-finite loss stops it.
    with contextlib.closing(train_iter):
        for step in range(start_step, num_steps):
            clip = next(train_iter)["x"]
            data_state = train_iter.get_state()
            batch = sharding.global_batch({key: clip[key] for key in BATCH_KEYS}, mesh)
            state, metrics = train_step(state, batch, rng)
            metrics = {k: float(v) for k, v in jax.device_get(metrics).items()}
            done = step + 1
            check_finite(metrics, done, checkpoints)
            window_steps += 1
            checkpoints.save(done, state, data_state)
            if done % config.train.log_every == 0 or done == num_steps:
                metrics["perf/steps_per_second"] = window_steps / (time.perf_counter() - window_start)
                writer.write(done, metrics, total_steps=num_steps)
                last = metrics
                window_start, window_steps = time.perf_counter(), 0
            if config.train.eval_every and done % config.train.eval_every == 0 and done != num_steps:
                eval_metrics = _evaluate(eval_step, state, config, mesh)
                writer.write(done, eval_metrics, total_steps=num_steps)
                last.update(eval_metrics)
    final_step = max(num_steps, start_step)
    if start_step < num_steps:
        checkpoints.save(final_step, state, data_state, force=True)
    checkpoints.close()
    eval_metrics = _evaluate(eval_step, state, config, mesh)
    writer.write(final_step, eval_metrics, total_steps=num_steps)
    last.update(eval_metrics)

    host_state = jax.device_get({"params": state["params"], "statistics": state["statistics"]})
    classifier = _merge(graphdef, host_state["params"], host_state["statistics"])
    out_dir = save_face_classifier(
        nnx.to_pure_dict(nnx.state(classifier)), model_config, workdir / "face_classifier", overwrite=True,
        source={"kind": "voiceemo-train-face-emotion", "step": final_step, "data": str(config.data.dir),
                "train_split": config.data.train_split, "eval": {k: float(v) for k, v in eval_metrics.items()}},
    )  # fmt: skip
    writer.print(f"face classifier done at step {final_step}; for --face-classifier: {out_dir}")
    writer.close()
    result = {"step": final_step, **last}
    if jax.process_index() == 0:
        (workdir / "final_metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    return result
