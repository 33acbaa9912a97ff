"""The shipped demo model: small encoders trained from scratch on the synthetic corpus.

Reproduces `voiceemo_jax/demo_assets/model` (what `voiceemo demo` runs) on a 2-core CPU:

    voiceemo data synth --out corpus --hours 2 --seed 0
    voiceemo data build --dataset synth --root corpus --out data/synth
    voiceemo train --config configs/emotion_encoder.py --workdir runs/demo --config.data.dir=data/synth
    voiceemo train --config configs/demo.py --workdir runs/demo --config.data.dir=data/synth

runs/demo/model is the shipped model. Two stages: the first (configs/emotion_encoder.py,
which builds this config's model) trains the emotion encoder alone as a classifier on
random 2 s crops into runs/demo/emotion_encoder (`voiceemo_jax/training/emotion_encoder.py`:
trained inside the full model it memorised the training sentences and recognised 67% of
held-out ones); the second is the usual cross-reconstruction training of the rest, which
starts from that checkpoint (`init_from`) with the emotion encoder frozen, so the decoder
learns the features the classifier reads. It differs from `configs/synth.py` (the general
synth config) only where an hour of CPU asks for it: a step budget that fits, and the
two-stage emotion encoder, because a from-scratch encoder has no pre-training to lean on.
"""

from configs import synth


def get_config(arg: str | None = None):
    config = synth.get_config(arg)
    config.model.size = "demo"
    config.model.freeze_feature_encoder = False
    config.init_from = "runs/demo/emotion_encoder"
    config.model.freeze_emotion_encoder = True
    config.train.num_steps = 2400
    config.train.learning_rate = 1e-3
    config.train.warmup_steps = 200
    config.train.eval_every = 500
    config.train.checkpoint_every = 250
    # The emotion encoder is frozen: its classification loss would move nothing. Its accuracy
    # is still logged.
    config.loss.emotion = 0.0
    return config
