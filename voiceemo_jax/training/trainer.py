"""`train_and_evaluate(config, workdir)`: the training loop.

Start-up order: workdir checkpoint (resume) -> `config.resume_from` (another run's
checkpoint folder) -> `config.init_from` (converted release checkpoint, encoder
checkpoint or Hugging Face wav2vec2 folder) -> scratch. With `config.loss.face_emotion > 0`
the frozen face classifier `config.face_classifier` adds the emotion-consistency loss.
A config with `task = "face_emotion"` (configs/face_emotion.py) trains that classifier instead,
one with `task = "emotion_encoder"` (configs/emotion_encoder.py) pre-trains the emotion encoder.
State is created abstract-first (`jax.eval_shape` -> shardings -> `jit(init,
out_shardings=...)`), the step is `jit`-compiled with explicit in/out shardings and
donates the train state.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import signal
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from voiceemo_jax import arkit
from voiceemo_jax.errors import UserError
from voiceemo_jax.training import checkpointing, initialization, objective, optimizer, sharding
from voiceemo_jax.training.model_setup import build_model_config, model_kwargs
from voiceemo_jax.training.monitoring import MetricWriter, check_finite, validation_sums


class _Preemption:
    """SIGTERM (preemption, scancel) asks the loop to checkpoint and stop, at one step agreed by all processes.

    One process: a Python SIGTERM handler sets a flag. Several processes: JAX's preemption
    service (started by `jax.distributed.initialize`) catches SIGTERM on whichever process
    gets it and tells the others; `multihost_utils.reached_preemption_sync_point(step)`,
    called at every step by every process, turns True on all of them at the same step (the
    largest step any process had reached, plus one), so all enter the collective save
    together instead of deadlocking at different steps.
    """

    def __init__(self):
        self.requested = False
        self._previous = None
        self._multiprocess = jax.process_count() > 1

    def __enter__(self):
        if self._multiprocess:  # JAX's notifier owns SIGTERM; a Python handler would replace it
            return self
        try:
            self._previous = signal.signal(signal.SIGTERM, self._handle)
        except ValueError:  # not the main thread: no handler, nothing to restore
            self._previous = None
        return self

    def _handle(self, signum, frame):
        self.requested = True

    def reached(self, step: int) -> bool:
        """Whether to save at `step` and stop; multi-process: call at every step on every process."""
        if self._multiprocess:
            from jax.experimental import multihost_utils

            return multihost_utils.reached_preemption_sync_point(step)
        return self.requested

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)


def _loss_weights(config) -> dict[str, float]:
    weights = {k: float(config.loss[k]) for k in ("cross", "self", "velocity", "emotion")}
    weights["face_emotion"] = float(config.loss.get("face_emotion", 0.0))
    weights["mouth_opening"] = float(config.loss.get("mouth_opening", 0.0))
    return weights


def _check_mouth_opening(config, output_dim: int) -> None:
    weight = _loss_weights(config)["mouth_opening"]
    if weight < 0:
        raise UserError(f"config.loss.mouth_opening must be >= 0, got {weight}")
    if weight > 0 and output_dim != arkit.NUM_BLENDSHAPES:
        raise UserError(
            f"config.loss.mouth_opening reads {arkit.NUM_BLENDSHAPES} ARKit coefficients; this model emits {output_dim}"
        )


def face_emotion_term(config, metadata, output_dim: int, mesh):
    """The frozen face classifier of the consistency loss, replicated on `mesh`; None when off."""
    from voiceemo_jax.face_emotion import loading as face_loading

    weight = float(config.loss.get("face_emotion", 0.0))
    if weight < 0:
        raise UserError(f"config.loss.face_emotion must be >= 0, got {weight}")
    if weight == 0:
        return None
    path = config.get("face_classifier", "")
    if not path:
        raise UserError(
            "config.loss.face_emotion > 0 needs a trained face classifier: --config.face_classifier=DIR "
            "(WORKDIR/face_classifier of `voiceemo train --config configs/face_emotion.py`)"
        )
    term = face_loading.frozen_face_emotion(path, metadata.emotions, output_dim)
    # Closed over by the jitted step as constants: place them where the step runs.
    return dataclasses.replace(term, state=jax.device_put(term.state, sharding.replicated(mesh)))


def make_train_step(graphdef, opt, schedule, config, *, triplets: bool, face_emotion=None, frozen=(), mesh=None):
    """The pure train step: (state, batch, rng) -> (state, metrics).

    mesh: where the batch is sharded (batch axis over every device); gradient-accumulation
    micro-batches are then cut so that each device keeps its own rows.
    face_emotion: a `FrozenFaceEmotion` for the emotion-consistency loss, or None.
    frozen: parameter-path prefixes the optimizer keeps fixed (`optimizer.frozen_prefixes`);
    they enter the loss through stop_gradient, so no backward pass runs through a frozen
    encoder (their gradients are zero, as the optimizer would make them anyway).
    """
    weights = _loss_weights(config)
    objective_fn = objective.triplet_objective if triplets else objective.single_objective
    accumulation = int(config.train.grad_accum_steps)
    deterministic = not bool(config.train.get("dropout", True))

    def loss_fn(params, batch, key):
        if frozen:
            labels = optimizer.parameter_labels(params, frozen)
            params = jax.tree.map(
                lambda p, label: jax.lax.stop_gradient(p) if label == optimizer.FROZEN else p, params, labels
            )
        model = nnx.merge(graphdef, nnx.State(params))
        return objective_fn(
            model, batch, weights, deterministic=deterministic, rngs=nnx.Rngs(dropout=key), face_emotion=face_emotion
        )

    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    def train_step(state, batch, rng):
        step_key = jax.random.fold_in(rng, state["step"])
        if accumulation == 1:
            (_, metrics), grads = grad_fn(state["params"], batch, step_key)
        else:
            # Micro-batch k: rows k, k + A, k + 2A, ... (gradients averaged). Device d holds a
            # contiguous block of rows, a multiple of A long, so every micro-batch takes B/(A*D)
            # rows from every device and no row moves between devices (contiguous row ranges
            # as micro-batches would gather each one onto a few devices).
            def split(x):
                x = x.reshape(x.shape[0] // accumulation, accumulation, *x.shape[1:])
                x = jnp.moveaxis(x, 1, 0)  # [A, B/A, ...]
                if mesh is None:
                    return x
                return jax.lax.with_sharding_constraint(x, NamedSharding(mesh, P(None, sharding.BATCH_AXES)))

            micro = jax.tree.map(split, batch)

            def accumulate(carry, inputs):
                index, micro_batch = inputs
                (_, m), g = grad_fn(state["params"], micro_batch, jax.random.fold_in(step_key, index))
                return jax.tree.map(jnp.add, carry, (g, m)), None

            (_, metrics_shape), grads_shape = jax.eval_shape(
                grad_fn, state["params"], jax.tree.map(lambda x: x[0], micro), step_key
            )
            zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), (grads_shape, metrics_shape))
            (grads, metrics), _ = jax.lax.scan(accumulate, zeros, (jnp.arange(accumulation), micro))
            grads, metrics = jax.tree.map(lambda x: x / accumulation, (grads, metrics))
        updates, opt_state = opt.update(grads, state["opt_state"], state["params"])
        params = optax.apply_updates(state["params"], updates)
        metrics = dict(metrics, grad_norm=optax.global_norm(grads), learning_rate=schedule(state["step"]))
        return {"params": params, "opt_state": opt_state, "step": state["step"] + 1}, metrics

    return train_step


def make_eval_step(graphdef, has_emotions: bool, face_emotion=None):
    def eval_step(params, clip):
        model = nnx.merge(graphdef, nnx.State(params))
        return objective.eval_metrics(model, clip, has_emotions=has_emotions, face_emotion=face_emotion)

    return eval_step


def _evaluate(eval_step, params, config, metadata, mesh) -> dict[str, float]:
    def run_batch(clip):
        clip = {k: v for k, v in clip.items() if k != "template"}
        return eval_step(params, sharding.global_batch(clip, mesh))

    totals = validation_sums(config, run_batch)
    frames = max(totals.get("count/frames", 0.0), 1.0)
    out = {"eval/mse": totals.get("sum/squared_error", 0.0) / frames,
           "eval/coefficient_mae": totals.get("sum/absolute_error", 0.0) / frames}  # fmt: skip
    if "sum/emotion_correct" in totals:
        out["eval/emotion_accuracy"] = totals["sum/emotion_correct"] / max(totals["count/clips"], 1.0)
    if totals.get("count/face_emotion_clips"):
        out["eval/face_emotion_accuracy"] = totals["sum/face_emotion_correct"] / totals["count/face_emotion_clips"]
    return out


def _train_iterator(config, metadata):
    from data_pipelines.loading import augmentation
    from data_pipelines.loading.input_pipeline import make_iterator

    iterator = make_iterator(
        config.data.dir,
        config.data.train_split,
        batch_size=config.train.per_process_batch_size,
        seed=config.train.seed,
        mode="triplet" if metadata.has_emotion_pairs and config.data.mode != "single" else "single",
        bucket_seconds=tuple(config.data.bucket_seconds),
        window_speakers=config.data.window_speakers,
        self_pairs=config.data.get("self_pairs", False),
        keep_in_memory=config.data.get("keep_in_memory", False),
    )
    return augmentation.for_training(iterator, config)  # unchanged unless config.data.augment


@dataclasses.dataclass
class TrainFunctions:
    graphdef: Any
    init_state: Any  # seed -> state (pure dicts: params, opt_state, step)
    abstract_state: Any
    state_shardings: Any
    train_step: Any  # jitted (state, global batch, rng) -> (state, metrics); donates state
    eval_step: Any  # jitted (params, clip) -> metric sums


def build_train_functions(
    config, model_config, mesh, *, triplets: bool, has_emotions: bool, face_emotion=None
) -> TrainFunctions:
    """Abstract-first state, shardings from the mesh, and the compiled step functions.

    face_emotion: the frozen classifier of the consistency loss (`face_emotion_term`), or None.
    """
    abstract_model = nnx.eval_shape(lambda: _new_model(model_config, config, 0))
    graphdef, abstract_params = nnx.split(abstract_model, nnx.Param)
    prefixes = optimizer.frozen_prefixes(
        feature_encoder=config.model.freeze_feature_encoder,
        content_encoder=config.model.freeze_content_encoder,
        emotion_encoder=config.model.freeze_emotion_encoder,
    )
    opt, schedule = optimizer.make_optimizer(config.train, nnx.to_pure_dict(abstract_params), prefixes)

    def init_state(seed):
        params = nnx.to_pure_dict(nnx.state(_new_model(model_config, config, seed), nnx.Param))
        return {"params": params, "opt_state": opt.init(params), "step": jnp.zeros((), jnp.int32)}

    abstract_state = jax.eval_shape(lambda: init_state(int(config.train.seed)))
    state_shardings = sharding.state_shardings(mesh, abstract_state)
    replicated, batch = sharding.replicated(mesh), sharding.batch_sharding(mesh)
    train_step = jax.jit(
        make_train_step(
            graphdef, opt, schedule, config, triplets=triplets, face_emotion=face_emotion, frozen=prefixes, mesh=mesh
        ),
        in_shardings=(state_shardings, batch, replicated),
        out_shardings=(state_shardings, replicated),
        donate_argnums=(0,),
    )
    eval_step = jax.jit(
        make_eval_step(graphdef, has_emotions, face_emotion),
        in_shardings=(state_shardings["params"], batch),
        out_shardings=replicated,
    )
    return TrainFunctions(graphdef, init_state, abstract_state, state_shardings, train_step, eval_step)


def train_and_evaluate(config, workdir: str | Path) -> dict[str, Any]:
    """Trains per `config`, checkpointing into `workdir`; returns the last logged metrics."""
    from data_pipelines.records.schema import load_metadata

    if config.get("task", "voiceemo") == "face_emotion":
        from voiceemo_jax.face_emotion import training as face_training

        return face_training.train_and_evaluate(config, workdir)
    if config.get("task", "voiceemo") == "emotion_encoder":
        from voiceemo_jax.training import emotion_encoder

        return emotion_encoder.train_and_evaluate(config, workdir)

    workdir = Path(workdir).absolute()
    workdir.mkdir(parents=True, exist_ok=True)
    if config.data.get("fixture", False):
        from data_pipelines.sources.learnable_fixture import ensure_fixture_build

        config.data.dir = str(ensure_fixture_build(workdir / "fixture_data", seed=config.train.seed))
    if not config.data.dir:
        raise UserError(
            "config.data.dir is empty: build a dataset with `voiceemo data build` and pass --config.data.dir"
        )
    metadata = load_metadata(config.data.dir)
    mesh = sharding.make_mesh(config.mesh.data, config.mesh.fsdp)
    global_batch = config.train.per_process_batch_size * jax.process_count()
    if global_batch % (mesh.size * config.train.grad_accum_steps):
        raise UserError(
            f"global batch {global_batch} must be divisible by devices ({mesh.size}) x grad_accum_steps "
            f"({config.train.grad_accum_steps})"
        )
    model_config = build_model_config(config, metadata)
    train_iter = _train_iterator(config, metadata)
    triplets = train_iter.mode == "triplet"
    face_emotion = face_emotion_term(config, metadata, model_config.synthesizer.output_dim, mesh)
    _check_mouth_opening(config, model_config.synthesizer.output_dim)
    fns = build_train_functions(
        config, model_config, mesh, triplets=triplets, has_emotions=metadata.has_emotion_pairs,
        face_emotion=face_emotion,
    )  # fmt: skip
    checkpoints = checkpointing.TrainCheckpoints(
        workdir / "checkpoints", keep=config.train.keep_checkpoints, every_steps=config.train.checkpoint_every
    )
    writer = MetricWriter(workdir / "tensorboard", enabled=jax.process_index() == 0)
    if face_emotion is not None:
        unread = [e for e, label in zip(metadata.emotions, face_emotion.label_map) if label < 0]
        writer.print(
            f"emotion-consistency loss (weight {config.loss.face_emotion}) from {face_emotion.path}"
            + (f"; no classifier label for {', '.join(unread)} (those clips get none)" if unread else "")
        )
    state, start_step = initialization.initial_state(
        config, workdir, checkpoints, fns.init_state, fns.abstract_state, fns.state_shardings, train_iter,
        model_config, writer,
    )  # fmt: skip
    step_fn, eval_fn = fns.train_step, fns.eval_step
    rng = jax.random.key(config.train.seed)
    num_steps = int(config.train.num_steps)
    examples_per_step = global_batch * (3 if triplets else 1)
    last: dict[str, Any] = {}
    # Metrics stay on the device until a step that needs them (log, checkpoint, end): fetching
    # every step would block the host on every step instead of queueing the next one.
    pending: list[tuple[int, dict]] = []
    # closing: the input pipeline's threads stop when the loop ends, not at interpreter exit.
    with _Preemption() as preemption, contextlib.closing(train_iter):
        window_start, window_steps = time.perf_counter(), 0
        for step in range(start_step, num_steps):
            batch = next(train_iter)
            data_state = train_iter.get_state()
            state, metrics = step_fn(state, sharding.global_batch(batch, mesh), rng)
            window_steps += 1
            done = step + 1
            pending.append((done, metrics))
            preempted = preemption.reached(done)
            log_now = done % config.train.log_every == 0 or done == num_steps
            if log_now or preempted or checkpoints.due(done):
                fetched = jax.device_get([m for _, m in pending])
                for (at, _), values in zip(pending, fetched):
                    check_finite({k: float(v) for k, v in values.items()}, at, checkpoints)
                metrics, pending = {k: float(v) for k, v in fetched[-1].items()}, []
            checkpoints.save(done, state, data_state)
            if log_now:
                elapsed = time.perf_counter() - window_start
                metrics["perf/steps_per_second"] = window_steps / elapsed
                metrics["perf/examples_per_second"] = window_steps * examples_per_step / elapsed
                writer.write(done, metrics, total_steps=num_steps)
                last = metrics
                window_start, window_steps = time.perf_counter(), 0
            if config.train.eval_every and (done % config.train.eval_every == 0 or done == num_steps):
                eval_metrics = _evaluate(eval_fn, state["params"], config, metadata, mesh)
                writer.write(done, eval_metrics, total_steps=num_steps)
                last.update(eval_metrics)
            if preempted:
                checkpoints.save(done, state, data_state, force=True)
                checkpoints.close()
                # Every process says so: each one's log shows the step it saved.
                print(f"SIGTERM: saved checkpoint at step {done} in {checkpoints.directory}; exiting", flush=True)
                return {"preempted_at": done, **last}
        final_step = max(num_steps, start_step)
        if start_step < num_steps:
            checkpoints.save(final_step, state, data_state, force=True)
    checkpoints.close()
    initialization.export_model(state["params"], model_config, workdir / "model", step=final_step, config=config)
    writer.print(f"training done at step {final_step}; model for `voiceemo predict`: {workdir / 'model'}")
    writer.close()
    if jax.process_index() == 0:
        (workdir / "final_metrics.json").write_text(json.dumps({"step": final_step, **last}, indent=2) + "\n")
    return {"step": final_step, **last}


def _new_model(model_config, config, seed: int):
    return initialization.new_model(model_config, seed, **model_kwargs(config))
