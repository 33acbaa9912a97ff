"""Training checkpoints: one Orbax CheckpointManager per workdir.

Each step folder holds two items: "state" (params, optimizer state, step; sharded
arrays, saved asynchronously) and "data" (the input iterator's JSON position: one global epoch and batch, the same on
every process), so a resumed run continues on exactly the batches an uninterrupted run
would have seen, on every process.
Orbax writes a step under a temporary name and renames it when complete: a checkpoint
half-written when the process died is never listed, hence never restored.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp


class TrainCheckpoints:
    def __init__(self, directory: str | os.PathLike, *, keep: int, every_steps: int, async_save: bool = True):
        self.directory = Path(directory).absolute()
        options = ocp.CheckpointManagerOptions(
            max_to_keep=keep,
            save_interval_steps=every_steps,
            enable_async_checkpointing=async_save,
            cleanup_tmp_directories=True,  # partial saves of a killed run are removed, never read
        )
        self.manager = ocp.CheckpointManager(self.directory, options=options, item_names=("state", "data"))

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def due(self, step: int) -> bool:
        """Whether `save(step)` (without force) will save: the interval is due and the step is new."""
        return self.manager.should_save(step) and step not in self.manager.all_steps()

    def save(self, step: int, state, data_state: dict[str, Any], *, force: bool = False) -> bool:
        """Saves (asynchronously) if `step` is due or `force`; returns whether it saved.

        A step already saved (the periodic save of the last step, then the final one) is
        not saved twice.
        """
        if step in self.manager.all_steps():
            return False
        args = ocp.args.Composite(state=ocp.args.StandardSave(state), data=ocp.args.JsonSave(data_state))
        return self.manager.save(step, args=args, force=force)

    def restore(self, step: int, abstract_state) -> tuple[Any, dict[str, Any]]:
        """Restores `step` into the shardings/dtypes of `abstract_state` (ShapeDtypeStructs)."""
        args = ocp.args.Composite(state=ocp.args.StandardRestore(abstract_state), data=ocp.args.JsonRestore())
        restored = self.manager.restore(step, args=args)
        return restored["state"], restored["data"]

    def wait(self) -> None:
        self.manager.wait_until_finished()

    def close(self) -> None:
        self.manager.wait_until_finished()
        self.manager.close()


def abstract_like(tree, shardings):
    """ShapeDtypeStructs with the given shardings, the restore target Orbax wants."""
    return jax.tree.map(lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s), tree, shardings)
