#!/usr/bin/env bash
# Train on one GPU of this host.
#
#   GPU=0 bash launch/single_gpu.sh --config configs/ravdess.py --workdir runs/rav \
#       --config.data.dir=data/ravdess [--config.FIELD=VALUE ...]
#
# Needs a CUDA build of jaxlib matching the pinned jax (pip install "jax[cuda12]==<pinned version>").
# Re-running the same command on the same --workdir resumes from its latest checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
export CUDA_VISIBLE_DEVICES="${GPU:-0}"
# Let XLA take what it needs instead of pre-allocating 75% of the card (other jobs may share it).
export XLA_PYTHON_CLIENT_PREALLOCATE="${XLA_PYTHON_CLIENT_PREALLOCATE:-false}"
exec python -m launch.train "$@"
