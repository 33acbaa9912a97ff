#!/usr/bin/env bash
# Training on a Cloud TPU VM pod slice: the same command runs on every worker; each worker's
# jax.distributed.initialize() finds the others from the TPU VM's metadata.
#
#   TPU_NAME=my-v5p-32 ZONE=us-east5-a bash launch/tpu_pod.sh --config configs/ravdess.py \
#       --workdir gs://bucket/runs/rav --config.data.dir=gs://bucket/data/ravdess
#
# Every worker needs this repository at ~/voiceemo-jax and `pip install -e . "jax[tpu]==<pinned version>"`;
# set REPO to use another folder. --workdir and data must be on storage all workers see (GCS).
set -euo pipefail
: "${TPU_NAME:?set TPU_NAME to the TPU VM name}"
: "${ZONE:?set ZONE to its zone}"
REPO="${REPO:-~/voiceemo-jax}"
args=$(printf ' %q' "$@")
exec gcloud compute tpus tpu-vm ssh "$TPU_NAME" --zone "$ZONE" --worker=all \
  --command "cd $REPO && VOICEEMO_MULTIHOST=1 python -m launch.train$args"
