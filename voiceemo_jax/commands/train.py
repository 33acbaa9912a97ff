"""`voiceemo train`: flags in, `train_and_evaluate(config, workdir)` out."""

from __future__ import annotations

import argparse

EPILOG = """\
examples:
  voiceemo train --config configs/tiny.py --workdir /tmp/tiny
  voiceemo train --config configs/ravdess.py --workdir runs/rav --config.data.dir=data/ravdess \\
      --config.train.per_process_batch_size=16 --config.mesh.fsdp=4
  voiceemo train --config configs/ravdess.py:size=tiny --workdir runs/x \\
      --coordinator 10.0.0.1:1234 --num-processes 2 --process-id 0
  voiceemo train --config configs/face_emotion.py --workdir runs/face --config.data.dir=data/ravdess
  voiceemo train --config configs/emotion_encoder.py --workdir runs/demo --config.data.dir=data/emotion_mix
  voiceemo train --config configs/ravdess.py --workdir runs/rav2 --config.data.dir=data/ravdess \\
      --config.loss.face_emotion=0.1 --config.face_classifier=runs/face/face_classifier

Re-running the same command on the same --workdir resumes from its latest checkpoint.
Any config field can be overridden with --config.FIELD=VALUE (see configs/common.py).
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train (or fine-tune) a model: sharded, checkpointed, resumable",
        description=(
            "Trains the model with the cross-reconstruction objective (self-reconstruction + velocity "
            "for datasets without emotion pairs) on a `voiceemo data build` output. Writes Orbax "
            "checkpoints and TensorBoard logs under --workdir and, at the end, WORKDIR/model for "
            "`voiceemo predict`. configs/face_emotion.py instead trains the face-emotion classifier on the "
            "ground-truth targets (WORKDIR/face_classifier, for --face-classifier and the emotion-consistency "
            "loss --config.loss.face_emotion); configs/emotion_encoder.py pre-trains the emotion encoder alone "
            "(WORKDIR/emotion_encoder, what configs/demo.py starts from)."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(handler=run, accepts_overrides=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="configs/NAME.py[:arg], e.g. configs/tiny.py or tiny")
    parser.add_argument("--workdir", required=True, help="checkpoints, TensorBoard logs and the final model go here")
    parser.add_argument("--coordinator", help="multi-host: coordinator HOST:PORT (else read from SLURM/TPU env)")
    parser.add_argument("--num-processes", type=int, help="multi-host: total number of processes")
    parser.add_argument("--process-id", type=int, help="multi-host: index of this process")


def run(args, overrides: list[str] | None = None) -> int:
    from voiceemo_jax.training import distributed

    distributed.initialize(args.coordinator, args.num_processes, args.process_id)
    from voiceemo_jax.training.config_loading import apply_overrides, load_config
    from voiceemo_jax.training.trainer import train_and_evaluate

    config = apply_overrides(load_config(args.config), overrides or [])
    train_and_evaluate(config, args.workdir)
    distributed.shutdown()
    return 0
