"""Tiny model on a learnable fixture it generates itself: tests and CPU smoke runs.

voiceemo train --config configs/tiny.py --workdir /tmp/tiny
"""

from configs.common import base_config, parse_arg


def get_config(arg: str | None = None):
    options = parse_arg(arg)
    config = base_config()
    config.model.size = "tiny"
    config.model.variant = options.get("variant", "layer")
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
    return config
