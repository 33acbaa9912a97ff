"""Release-size model on MEAD (8 emotions x 3 levels) with captured coefficient targets.

voiceemo data build --dataset mead --audio-root MEAD --targets MEAD_COEFFS --out data/mead
voiceemo train --config configs/mead.py --workdir runs/mead --config.data.dir=data/mead
"""

from configs.common import base_config, parse_arg


def get_config(arg: str | None = None):
    options = parse_arg(arg)
    config = base_config()
    config.model.size = options.get("size", "release")
    config.model.variant = options.get("variant", "layer")
    config.model.num_levels = 3  # MEAD has three intensity levels
    config.data.bucket_seconds = (2.0, 4.0, 6.0, 8.0, 12.0)
    config.train.per_process_batch_size = 8
    config.train.num_steps = 40_000
    config.train.learning_rate = 5e-5
    config.model.remat = True
    return config
