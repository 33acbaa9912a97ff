"""Runs train steps of the tiny model on a fixed synthetic batch under a given mesh and
writes the losses and the parameters. Used by the sharding tests, in a subprocess (the device
count is per process).

    python tests/training/sharded_step.py --mesh 1x1,4x2 --steps 2 --out result
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
    args = parser.parse_args(argv)

    import jax

    from configs.tiny import get_config
    from voiceemo_jax.models import presets
    from voiceemo_jax.training import sharding, trainer

    config = get_config()
    config.train.grad_accum_steps = args.accum
    config.train.num_steps = 100
    # Plain SGD from the first step: the update is proportional to the gradient, so gradients
    # summed (not averaged) over devices would show as a doubled step.
    config.train.optimizer = "sgd"
    config.train.learning_rate = 0.1
    config.train.warmup_steps = 0
    config.train.grad_clip_norm = 1e6
    config.train.dropout = False
    model_config = presets.model_config("tiny")
    batch = synthetic_triplet_batch(args.batch)
    for mesh_text in args.mesh.split(","):
        data, fsdp = (int(x) for x in mesh_text.split("x"))
        mesh = sharding.make_mesh(data, fsdp, devices=jax.devices()[: data * fsdp])
        fns = trainer.build_train_functions(config, model_config, mesh, triplets=True, has_emotions=True)
        state = jax.jit(fns.init_state, static_argnums=0, out_shardings=fns.state_shardings)(0)
        initial = jax.tree.map(np.array, state["params"])  # a copy: the step donates the state
        losses = []
        for _ in range(args.steps):
            state, metrics = fns.train_step(state, sharding.global_batch(batch, mesh), jax.random.key(0))
            losses.append(float(metrics["loss/total"]))
        params = jax.tree.map(np.asarray, state["params"])
        flat = {"/".join(str(getattr(k, "key", k)) for k in path): np.asarray(v)
                for path, v in jax.tree_util.tree_leaves_with_path(params)}  # fmt: skip
        np.savez(f"{args.out}_{mesh_text}.npz", **flat)
        moved = max(float(np.abs(a - b).max()) for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(initial)))
        with open(f"{args.out}_{mesh_text}.json", "w") as f:
            json.dump({"losses": losses, "devices": mesh.size, "moved": moved}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
