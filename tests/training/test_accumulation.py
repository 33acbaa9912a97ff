"""Gradient accumulation: micro-batch k takes rows k, k + A, k + 2A, ... (so each device keeps
its own rows); with rows of equal length the A micro-batches' mean gradient is the full
batch's, so two SGD steps land on the same parameters as without accumulation."""

from __future__ import annotations

import jax
import numpy as np

from voiceemo_jax.testing.batches import synthetic_triplet_batch


def _two_steps(batch, accumulation: int):
    from configs.tiny import get_config
    from voiceemo_jax.models import presets
    from voiceemo_jax.training import sharding, trainer

    config = get_config()
    config.train.update(optimizer="sgd", learning_rate=0.1, warmup_steps=0, grad_clip_norm=1e6, dropout=False)
    config.train.grad_accum_steps = accumulation
    mesh = sharding.make_mesh(1, 1, devices=jax.devices()[:1])
    fns = trainer.build_train_functions(config, presets.model_config("tiny"), mesh, triplets=True, has_emotions=True)
    state = jax.jit(fns.init_state, static_argnums=0, out_shardings=fns.state_shardings)(0)
    initial = jax.device_get(state["params"])
    for _ in range(2):
        state, metrics = fns.train_step(state, sharding.global_batch(batch, mesh), jax.random.key(0))
    return initial, jax.device_get(state["params"]), float(metrics["loss/total"])


def test_accumulated_micro_batches_take_the_full_batch_step():
    batch = synthetic_triplet_batch(4, samples=8000)
    for clip in batch.values():  # equal lengths: every row weighs the same in every mean
        clip["num_samples"][:] = clip["audio"].shape[1]
        clip["num_frames"][:] = clip["targets"].shape[1]
    initial, whole, loss = _two_steps(batch, 1)
    _, accumulated, accumulated_loss = _two_steps(batch, 2)
    moved = max(float(np.abs(a - b).max()) for a, b in zip(jax.tree.leaves(whole), jax.tree.leaves(initial)))
    worst = max(float(np.abs(a - b).max()) for a, b in zip(jax.tree.leaves(whole), jax.tree.leaves(accumulated)))
    assert moved > 1e-2 and worst <= 1e-5, (moved, worst)
    assert abs(accumulated_loss - loss) <= 1e-5 * abs(loss)
