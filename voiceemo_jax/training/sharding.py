"""Device mesh and sharding rules (axes `data` and `fsdp`, maxtext vocabulary).

- Batch: the leading (batch) axis is split over every device, ("data", "fsdp"), so FSDP
  replicas do not duplicate work; each process feeds its own rows.
- Parameters and optimizer state: the largest dimension divisible by the `fsdp` size is
  split over `fsdp` (ZeRO-3 style); everything else is replicated. With fsdp = 1 this is
  plain data parallelism.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

BATCH_AXES = ("data", "fsdp")


def make_mesh(data: int = -1, fsdp: int = 1, devices=None) -> Mesh:
    """Mesh over `devices` (default: all); -1 for `data` takes what `fsdp` leaves."""
    count = len(devices) if devices is not None else jax.device_count()
    if fsdp < 1 or count % fsdp:
        raise ValueError(f"mesh.fsdp={fsdp} does not divide the {count} devices")
    if data == -1:
        data = count // fsdp
    if data * fsdp != count:
        raise ValueError(f"mesh {data} x {fsdp} does not cover the {count} devices")
    return jax.make_mesh((data, fsdp), ("data", "fsdp"), axis_types=(jax.sharding.AxisType.Auto,) * 2, devices=devices)


def parameter_spec(shape: tuple[int, ...], fsdp: int, min_size: int = 2**12) -> P:
    """Shard the largest fsdp-divisible dimension of arrays worth sharding."""
    if fsdp == 1 or not shape or int(np.prod(shape)) < min_size:
        return P()
    order = sorted(range(len(shape)), key=lambda d: -shape[d])
    for dim in order:
        if shape[dim] % fsdp == 0:
            spec = [None] * len(shape)
            spec[dim] = "fsdp"
            return P(*spec)
    return P()


def state_shardings(mesh: Mesh, abstract_tree):
    """NamedShardings for a pytree of arrays / ShapeDtypeStructs (params, optimizer state)."""
    fsdp = mesh.shape["fsdp"]
    return jax.tree.map(lambda x: NamedSharding(mesh, parameter_spec(tuple(x.shape), fsdp)), abstract_tree)


def batch_sharding(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P(BATCH_AXES))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def global_batch(local_batch, mesh: Mesh):
    """Per-process numpy batch (nested dict) -> global jax arrays sharded over the batch axes."""
    sharding = batch_sharding(mesh)
    return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)), local_batch)
