"""The offline synthetic speech corpus (`voiceemo data synth`), built with its own builder.

    voiceemo data synth --out corpus --hours 1.5
    voiceemo data build --dataset synth --root corpus --out data/synth
    voiceemo train --config configs/synth.py --workdir runs/synth --config.data.dir=data/synth
Variants: `configs/synth.py:size=tiny` (default `demo`: small encoders trained from scratch),
`:size=release` (two wav2vec2-large encoders), `:variant=group`.
"""

from configs.common import base_config, parse_arg


def get_config(arg: str | None = None):
    options = parse_arg(arg)
    config = base_config()
    config.model.size = options.get("size", "demo")
    config.model.variant = options.get("variant", "layer")
    # Encoders trained from scratch learn their CNN too (there is no pre-trained one to keep).
    config.model.freeze_feature_encoder = config.model.size == "release"
    config.model.num_persons = 8
    config.data.bucket_seconds = (2.0, 3.0, 4.0, 6.0)  # clips are 1.5-5 s with edge pauses
    config.data.window_speakers = 6
    config.train.per_process_batch_size = 8
    config.train.num_steps = 4000
    config.train.learning_rate = 1e-3 if config.model.size != "release" else 5e-5
    config.train.warmup_steps = 200
    config.train.log_every = 25
    config.train.eval_every = 500
    config.train.checkpoint_every = 250
    return config
