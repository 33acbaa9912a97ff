"""The emotion encoder's pre-training: the first stage of the demo recipe (configs/demo.py).

voiceemo train --config configs/emotion_encoder.py --workdir runs/demo --config.data.dir=data/emotion_mix
voiceemo train --config configs/emotion_encoder.py:tiny --workdir /tmp/enc   # tiny model, learnable fixture, CPU

Trains the emotion encoder (wav2vec2 or log-mel CNN + classifier over its pooled frames) of the
model another config builds (the arg names it: `demo`, the default, or `tiny`, `synth`, ...)
alone, as an emotion classifier on random crops of the training clips (2 s, 16 a step, 3500
steps at 1e-3, unless the model's config sets `emotion_stage`: demo.py's are 1.6 s, 32, 3000,
2e-3), and keeps the parameters with the best whole-clip accuracy on the validation split
(validated every `train.eval_every` steps and at the end; a progress line, with the time left,
every `train.log_every` steps in between).
Writes WORKDIR/emotion_encoder: a model folder (every part but the emotion encoder is the fresh
initialisation of `train.seed`) that the main training starts from with `init_from`, the emotion
encoder frozen (configs/demo.py; its content encoder is a wav2vec2 whatever the model's
`model.content_frontend`: voiceemo_jax/training/emotion_encoder.py says why). Where the model's
config sets them (configs/demo.py and configs/real_speech.py do), crops come from between each
clip's first and last sound (`data.trim_silence`), every emotion gets the same share of them
(`data.balance_emotions`), within an emotion every group of speakers the same share
(`data.balance_groups`, demo.py), and they are augmented (`data.augment`, real_speech.py).
Args: the model's config name, `steps=N`, `augment_speed=P` (the probability of speed
perturbation among the augmentations; default the augmentation's own), `speed_range=LO:HI`
(the speed factors it draws from; default 0.9:1.1). Overrides worth knowing:
`--config.init_from=MODEL` fine-tunes that model's emotion encoder (its other parts carried over),
`--config.data.balance_speakers=True` gives every speaker the same share of an emotion's crops,
`--config.data.balance_groups="voiceemo_synth/*,*/ravdess_*,*/tess_*"` every group of speakers
(shell patterns over speaker names; here each corpus of a merged build) the same share,
`--config.model.emotion_size=small` a larger emotion encoder (pass it to the main stage too),
`--config.model.emotion_frontend=logmel_cnn` a log-mel CNN emotion encoder in place of the wav2vec2
(voiceemo_jax/models/logmel_cnn.py; pass it to the main stage too), `--config.train.ema_decay=0.999`
validates and keeps a moving average of the parameters (`emotion_stage.ema_decay` in a model config).
"""

import importlib
import importlib.util

import ml_collections

from configs.common import parse_arg


def get_config(arg: str | None = None):
    options = parse_arg(arg)
    name = options.get("variant", "demo")
    if name == "emotion_encoder" or not importlib.util.find_spec(f"configs.{name}"):
        raise ValueError(f"configs/emotion_encoder.py: {name!r} is not a model config (e.g. demo, tiny, synth)")
    config = importlib.import_module(f"configs.{name}").get_config()
    config.task = "emotion_encoder"  # `train_and_evaluate` dispatches on this
    config.model_config = name
    config.init_from = ""  # the stage starts from scratch: it is what the main training's init_from names
    config.model.freeze_emotion_encoder = False

    # The stage's own hyper-parameters; a model config may set them in `emotion_stage` (demo.py does).
    stage = config.get("emotion_stage") or ml_collections.ConfigDict()
    config.data.crop_seconds = float(stage.get("crop_seconds", 2.0))  # no crop shows a whole sentence
    # Crops from between a clip's first and last sound; every emotion the same share of the crops
    # (configs/demo.py and real_speech.py set both; off where the model's config does not).
    config.data.trim_silence = bool(config.data.get("trim_silence", False))
    config.data.balance_emotions = bool(config.data.get("balance_emotions", False))
    config.data.balance_speakers = bool(config.data.get("balance_speakers", False))  # within each emotion
    config.data.balance_groups = str(config.data.get("balance_groups", ""))  # speaker-name patterns; see above
    augment_options = {}
    if "augment_speed" in options:  # probability of speed perturbation when the config augments
        augment_options["speed_probability"] = float(options["augment_speed"])
    if "speed_range" in options:  # LO:HI, the speed factors drawn from (e.g. 0.8:1.25: wider voices)
        try:
            low, high = (float(v) for v in options["speed_range"].split(":"))
        except ValueError:
            got = options["speed_range"]
            raise ValueError(f"configs/emotion_encoder.py: speed_range must be LO:HI, got {got!r}") from None
        augment_options["speed_factor"] = (low, high)
    config.data.augment_options.update(augment_options)
    config.train.per_process_batch_size = int(stage.get("batch_size", 16))
    config.train.num_steps = int(options.get("steps", stage.get("num_steps", 3500)))
    config.train.learning_rate = float(stage.get("learning_rate", 1e-3))
    # Validate and keep a moving average of the parameters (0: the parameters themselves).
    config.train.ema_decay = float(stage.get("ema_decay", 0.0))
    config.train.warmup_steps = 200
    config.train.weight_decay = 0.01
    config.train.grad_clip_norm = 1.0
    # Whole-clip validation accuracy every `eval_every` steps (and at the last); the best step's
    # parameters are kept. A model config's `emotion_stage.eval_every` = num_steps keeps the last.
    config.train.eval_every = int(stage.get("eval_every", 250))
    config.loss = ml_collections.ConfigDict()
    config.loss.label_smoothing = 0.05
    return config
