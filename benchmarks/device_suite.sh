#!/usr/bin/env bash
# One accelerator benchmark run: release-size inference (batched, bf16 and fp32; windowed
# 10 minutes) and the release-size training step, in under 8 minutes on one H100/H200.
#
#   bash benchmarks/device_suite.sh --size {tiny,release} --out DIR [--budget-seconds S]
#
# Writes DIR/device_suite.json and DIR/device_suite.md (see benchmarks/device_suite.py).
# --size tiny runs every stage on the tiny model with small shapes (a CPU check, ~1 minute).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-3}"
# Let XLA take what it needs on the GPU rather than a fixed 75%: the training batch search
# wants the device's whole memory.
export XLA_PYTHON_CLIENT_MEM_FRACTION="${XLA_PYTHON_CLIENT_MEM_FRACTION:-0.95}"
exec python -m benchmarks.device_suite "$@"
