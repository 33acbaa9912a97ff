"""Runs train steps of the tiny model on a fixed synthetic batch under a given mesh and
prints the losses and a parameter fingerprint as JSON. Used by the sharding and
multi-process tests, in subprocesses (device count and jax.distributed are per process).

    python tests/training/sharded_step.py --mesh 4x2 --steps 2 --out result.npz
    python tests/training/sharded_step.py --mesh 2x1 --steps 2 --out r.npz \
        --coordinator 127.0.0.1:PORT --num-processes 2 --process-id 0
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from voiceemo_jax.testing.batches import synthetic_triplet_batch


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mesh", default="1x1", help="DATAxFSDP[,DATAxFSDP...]: one result file per mesh")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8, help="global batch")
    parser.add_argument("--accum", type=int, default=1)
    parser.add_argument("--out", required=True, help="output prefix: OUT_<mesh>.npz (+ losses in OUT_<mesh>.json)")
    parser.add_argument("--coordinator")
    parser.add_argument("--num-processes", type=int)
    parser.add_argument("--process-id", type=int)
    args = parser.parse_args(argv)

    from voiceemo_jax.training import distributed

    distributed.initialize(args.coordinator, args.num_processes, args.process_id)
    import jax
    from jax.experimental import multihost_utils

    from configs.tiny import get_config
    from voiceemo_jax.models import presets
    from voiceemo_jax.training import sharding, trainer

    config = get_config()
    config.train.grad_accum_steps = args.accum
    config.train.num_steps = 100
    # Plain SGD from the first step: the update is proportional to the gradient, so gradients
    # summed (not averaged) over devices or processes would show as a doubled step.
    config.train.optimizer = "sgd"
    config.train.learning_rate = 0.1
    config.train.warmup_steps = 0
    config.train.grad_clip_norm = 1e6
    config.train.dropout = False
    model_config = presets.model_config("tiny")
    full = synthetic_triplet_batch(args.batch)
    # Each process feeds its own contiguous rows of the global batch.
    per_process = args.batch // jax.process_count()
    rows = slice(jax.process_index() * per_process, (jax.process_index() + 1) * per_process)
    local = jax.tree.map(lambda x: x[rows], full)
    for mesh_text in args.mesh.split(","):
        data, fsdp = (int(x) for x in mesh_text.split("x"))
        devices = jax.devices()[: data * fsdp] if jax.process_count() == 1 else None
        mesh = sharding.make_mesh(data, fsdp, devices=devices)
        fns = trainer.build_train_functions(config, model_config, mesh, triplets=True, has_emotions=True)
        state = jax.jit(fns.init_state, static_argnums=0, out_shardings=fns.state_shardings)(0)
        initial = jax.tree.map(np.asarray, multihost_utils.process_allgather(state["params"], tiled=True))
        losses = []
        for _ in range(args.steps):
            state, metrics = fns.train_step(state, sharding.global_batch(local, mesh), jax.random.key(0))
            losses.append(float(metrics["loss/total"]))
        params = multihost_utils.process_allgather(state["params"], tiled=True)
        flat = {"/".join(str(getattr(k, "key", k)) for k in path): np.asarray(v)
                for path, v in jax.tree_util.tree_leaves_with_path(params)}  # fmt: skip
        if jax.process_index() == 0:
            np.savez(f"{args.out}_{mesh_text}.npz", **flat)
            with open(f"{args.out}_{mesh_text}.json", "w") as f:
                moved = max(
                    float(np.abs(np.asarray(a) - b).max())
                    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(initial))
                )
                json.dump({"losses": losses, "devices": mesh.size, "processes": jax.process_count(), "moved": moved}, f)
    distributed.shutdown()  # as `voiceemo train` does: both processes leave together, at once
    return 0


if __name__ == "__main__":
    sys.exit(main())
