"""The face-emotion classifier: emotion (and level) from ground-truth coefficient sequences.

voiceemo train --config configs/face_emotion.py --workdir runs/face --config.data.dir=data/ravdess
voiceemo train --config configs/face_emotion.py:fixture --workdir /tmp/face   # learnable fixture, CPU

The trained classifier (WORKDIR/face_classifier) is what `voiceemo eval --face-classifier`,
`voiceemo predict --face-classifier` and the main training's `--config.face_classifier`
(with `--config.loss.face_emotion=W`) read. Args: `fixture`, `steps=N`, `hidden=N`.
"""

import ml_collections

from configs.common import base_config, parse_arg


def get_config(arg: str | None = None):
    options = parse_arg(arg)
    base = base_config()
    config = ml_collections.ConfigDict()
    config.task = "face_emotion"  # `train_and_evaluate` dispatches on this

    config.model = ml_collections.ConfigDict()
    config.model.hidden_dim = int(options.get("hidden", 64))
    config.model.num_conv_layers = 2
    config.model.conv_kernel = 5  # frames
    config.model.dropout = 0.1
    config.model.level_head = True  # a second head for the intensity level (datasets with >= 2 levels)

    config.data = ml_collections.ConfigDict()
    config.data.dir = ""  # a `voiceemo data build` output folder: its targets and labels train the classifier
    config.data.fixture = False
    config.data.train_split = "train"
    config.data.eval_split = "validation"
    config.data.bucket_seconds = base.data.bucket_seconds
    config.data.window_speakers = base.data.window_speakers
    config.data.statistics_clips = 512  # training clips that set the input normalisation

    config.train = ml_collections.ConfigDict(base.train.to_dict())
    config.train.per_process_batch_size = 16
    config.train.num_steps = int(options.get("steps", 3000))
    config.train.learning_rate = 1e-3
    config.train.warmup_steps = 100
    config.train.log_every = 50
    config.train.eval_every = 500
    config.train.checkpoint_every = 500

    config.loss = ml_collections.ConfigDict()
    config.loss.emotion = 1.0
    config.loss.level = 0.5  # used only with a level head
    config.loss.label_smoothing = 0.1  # bounded logits: a gentler frozen classifier for the consistency loss

    config.mesh = ml_collections.ConfigDict(base.mesh.to_dict())

    if options.get("variant") == "fixture":
        config.data.fixture = True
        config.data.bucket_seconds = (1.0, 2.0)
        config.data.window_speakers = 2
        config.train.per_process_batch_size = 8
        config.train.num_steps = int(options.get("steps", 150))
        config.train.learning_rate = 3e-3
        config.train.warmup_steps = 10
        config.train.log_every = 10
        config.train.eval_every = 50
        config.train.checkpoint_every = 50
    elif options.get("variant"):
        raise ValueError(f"configs/face_emotion.py: unknown variant {options['variant']!r} (known: fixture)")
    return config
