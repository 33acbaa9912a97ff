#!/usr/bin/env bash
# Train on all GPUs of this host: one process drives every local GPU; the mesh
# (config.mesh.data x config.mesh.fsdp) spans them, data-parallel by default.
#
#   bash launch/multi_gpu.sh --config configs/ravdess.py --workdir runs/rav \
#       --config.data.dir=data/ravdess --config.train.per_process_batch_size=64 [--config.mesh.fsdp=8]
#
# The per-process batch must be divisible by the number of GPUs x grad_accum_steps.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v nvidia-smi >/dev/null 2>&1; then
  echo "GPUs on this host: $(nvidia-smi --list-gpus | wc -l)"
fi
export XLA_PYTHON_CLIENT_PREALLOCATE="${XLA_PYTHON_CLIENT_PREALLOCATE:-false}"
exec python -m launch.train "$@"
