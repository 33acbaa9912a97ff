"""The shipped demo model: small encoders trained from scratch on the synthetic corpus.

Reproduces `voiceemo_jax/demo_assets/model` (what `voiceemo demo` runs) on a 2-core CPU:

    voiceemo data synth --out corpus --hours 2 --seed 0
    voiceemo data build --dataset synth --root corpus --out data/synth
    voiceemo train --config configs/demo.py --workdir runs/demo --config.data.dir=data/synth
    python -m voiceemo_jax.training.emotion_head --checkpoint runs/demo/model --data data/synth \
        --out runs/demo/model_refit

runs/demo/model_refit is the shipped model: the second command refits the emotion
classifier head alone on the pooled features of the whole training split (a minute;
see `voiceemo_jax/training/emotion_head.py`). It differs from `configs/synth.py` (the general synth
config) only where an hour of CPU asks for it: a step budget that fits and a larger
emotion-loss weight, because the from-scratch emotion encoder has no pre-training to
lean on.
"""

from configs import synth


def get_config(arg: str | None = None):
    config = synth.get_config(arg)
    config.model.size = "demo"
    config.model.freeze_feature_encoder = False
    config.train.num_steps = 3000
    config.train.learning_rate = 1e-3
    config.train.warmup_steps = 200
    config.train.eval_every = 500
    config.train.checkpoint_every = 250
    config.loss.emotion = 0.5
    return config
