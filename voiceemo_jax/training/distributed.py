"""Multi-process start-up (`jax.distributed.initialize` from flags or the cluster's environment) and shut-down."""

from __future__ import annotations

import os

# Environment variables that mean "a cluster launched us": SLURM, TPU VM pod slices,
# JAX's own coordinator variables, and VOICEEMO_MULTIHOST=1 (set by launch/tpu_pod.sh: TPU
# VMs are found through their metadata server, which sets no variable of its own).
_CLUSTER_VARIABLES = (
    "SLURM_NTASKS", "TPU_WORKER_HOSTNAMES", "JAX_COORDINATOR_ADDRESS", "MEGASCALE_COORDINATOR_ADDRESS",
    "VOICEEMO_MULTIHOST",
)  # fmt: skip


def initialize(coordinator: str | None, num_processes: int | None, process_id: int | None) -> bool:
    """Initialises multi-process JAX when asked for (flags) or launched by a cluster (env).

    Returns True when running multi-process. Must run before any other JAX call.
    """
    import jax

    explicit = coordinator is not None
    if explicit and (num_processes is None or process_id is None):
        raise ValueError("--coordinator needs --num-processes and --process-id")
    slurm_multi = int(os.environ.get("SLURM_NTASKS", "1")) > 1
    from_env = any(v in os.environ for v in _CLUSTER_VARIABLES if v != "SLURM_NTASKS") or slurm_multi
    if not explicit and not from_env:
        return False
    # CPU processes need a collectives implementation to talk to each other (tests, CPU clusters).
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    if explicit:
        jax.distributed.initialize(coordinator, num_processes=num_processes, process_id=process_id)
    else:
        jax.distributed.initialize()
    return True


def shutdown() -> None:
    """Leaves the job together with the other processes; call it after a run's last collective.

    Left to interpreter exit, JAX's own shutdown kept two local CPU processes waiting about
    40 s after their last line (both, every run); called here it takes milliseconds. A no-op
    in a single-process run."""
    import jax

    if jax.process_count() > 1:
        jax.distributed.shutdown()
