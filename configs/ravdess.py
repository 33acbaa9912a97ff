"""Release-size model on RAVDESS speech + 3D-ETF-style targets (SPEC sections 4 and 7).

    voiceemo data build --dataset ravdess --audio-root RAVDESS --targets ETF --out data/ravdess
    voiceemo train --config configs/ravdess.py --workdir runs/ravdess --config.data.dir=data/ravdess \
        [--config.init_from=converted_release_checkpoint]
Variants: `configs/ravdess.py:size=tiny`, `:variant=group`.
"""

from configs.common import base_config, parse_arg


def get_config(arg: str | None = None):
    options = parse_arg(arg)
    config = base_config()
    config.model.size = options.get("size", "release")
    config.model.variant = options.get("variant", "layer")
    config.data.bucket_seconds = (3.0, 4.0, 5.0, 6.0)  # RAVDESS clips are 3-5 s
    config.train.per_process_batch_size = 8
    config.train.num_steps = 20_000
    config.train.learning_rate = 5e-5
    config.model.remat = True
    return config
