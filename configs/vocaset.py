"""wav2vec2-base (group-norm variant) with a FLAME vertex-offset head on VOCASET.

No emotion pairs: self-reconstruction + velocity only (the emotion loss is unused).

    voiceemo data build --dataset vocaset --root VOCASET --out data/vocaset
    voiceemo train --config configs/vocaset.py --workdir runs/vocaset --config.data.dir=data/vocaset \
        --config.init_from=converted_wav2vec2_base
"""

from configs.common import base_config, parse_arg


def get_config(arg: str | None = None):
    options = parse_arg(arg)
    config = base_config()
    config.model.size = options.get("size", "base")
    config.model.variant = options.get("variant", "group")
    config.data.mode = "single"
    config.data.bucket_seconds = (2.0, 4.0, 6.0, 8.0)
    config.train.per_process_batch_size = 4
    config.train.num_steps = 30_000
    config.train.learning_rate = 1e-4
    config.loss.emotion = 0.0
    return config
