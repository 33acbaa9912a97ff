"""Defaults every experiment config starts from (override per config or on the command line)."""

from __future__ import annotations

import ml_collections


def parse_arg(arg: str | None) -> dict[str, str]:
    """'size=large,variant=group' -> {'size': 'large', 'variant': 'group'}; a bare word -> {'variant': word}."""
    out = {}
    for part in (arg or "").split(","):
        if not part:
            continue
        key, sep, value = part.partition("=")
        out[key.strip() if sep else "variant"] = value.strip() if sep else key.strip()
    return out


def base_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()

    config.model = ml_collections.ConfigDict()
    config.model.size = "tiny"  # presets: tiny | demo | release
    config.model.emotion_size = ""  # the emotion encoder's wav2vec2 size when not model.size (e.g. small)
    # The emotion encoder: "wav2vec2" (the release's) | "logmel_cnn" (a log-mel CNN, for training
    # from scratch on little data: models/logmel_cnn.py)
    config.model.emotion_frontend = "wav2vec2"
    # The content encoder's front end: "wav2vec2" (its CNN over the waveform, the release's) |
    # "logmel_cnn" (a log-mel CNN keeping 100 frames/s, then the wav2vec2's transformer)
    config.model.content_frontend = "wav2vec2"
    config.model.variant = "layer"  # wav2vec2: "layer" (large/XLSR) | "group" (base)
    config.model.num_persons = 24  # at least this many; more if the dataset has more speakers
    config.model.num_levels = 2
    config.model.freeze_feature_encoder = True  # the wav2vec2 CNNs stay frozen (SPEC section 2); a log-mel CNN trains
    config.model.freeze_content_encoder = False
    config.model.freeze_emotion_encoder = False
    config.model.dtype = "float32"  # compute dtype; "bfloat16" keeps float32 master parameters
    config.model.remat = False  # rematerialise encoder layers (saves activation memory)
    # Inference: jaw and mouth opening at rest in long quiet stretches, and closing in the level's dips
    # (voiceemo_jax/inference/pauses.py; ARKit outputs only). Stored in the checkpoint; training ignores them.
    config.model.rest_in_pauses = False
    config.model.close_in_dips = False

    config.data = ml_collections.ConfigDict()
    config.data.dir = ""  # a `voiceemo data build` output folder
    config.data.fixture = False  # generate a small learnable fixture build inside the workdir
    config.data.train_split = "train"
    config.data.eval_split = "validation"
    config.data.mode = "auto"  # triplets where the dataset has emotion pairs, else single clips
    config.data.bucket_seconds = (2.0, 4.0, 6.0, 8.0)
    config.data.window_speakers = 4
    config.data.self_pairs = False  # read speech in one emotion trains as its own X12 (loading/triplets.py)
    # Keep the training records in memory after the first epoch (builds that fit: the synthetic
    # corpus's is ~0.5 GB); the batches are the same either way.
    config.data.keep_in_memory = False
    config.data.augment = False  # seeded waveform augmentation of training batches (loading/augmentation.py)
    # When augmenting: false gives the emotion encoder each clip's clean audio (the content
    # encoder still reads the augmented audio).
    config.data.augment_emotion = True
    # Each op's probability and range, settable one by one on the command line
    # (--config.data.augment_options.noise_probability=0); the defaults of
    # loading/augmentation.py's AugmentOptions (a test keeps them equal).
    config.data.augment_options = ml_collections.ConfigDict(
        {
            "speed_probability": 0.5, "speed_factor": (0.9, 1.1),
            "reverb_probability": 0.3, "rt60_seconds": (0.15, 0.8), "reverb_wet": (0.1, 0.8),
            "band_probability": 0.3, "low_hz": (50.0, 400.0), "high_hz": (2800.0, 7500.0),
            "noise_probability": 0.5, "snr_db": (10.0, 40.0),
            "gain_probability": 0.5, "gain_db": (-6.0, 6.0),
            "silence_probability": 0.0, "silence_level_db": (-90.0, -45.0),
        }
    )  # fmt: skip

    config.train = ml_collections.ConfigDict()
    config.train.seed = 0
    config.train.per_process_batch_size = 8
    config.train.num_steps = 10_000
    config.train.learning_rate = 1e-4
    config.train.warmup_steps = 500
    config.train.weight_decay = 0.01
    config.train.grad_clip_norm = 1.0
    config.train.grad_accum_steps = 1
    config.train.optimizer = "adamw"  # "adamw" | "sgd" (update proportional to the gradient)
    config.train.dropout = True  # False: deterministic forward pass in training (no dropout)
    config.train.log_every = 50
    config.train.eval_every = 1000
    config.train.eval_batches = 0  # 0: the whole validation split
    config.train.checkpoint_every = 1000
    config.train.keep_checkpoints = 3

    # Loss weights are not published; these are the starting point of SPEC section 4.
    config.loss = ml_collections.ConfigDict()
    config.loss.cross = 1.0
    config.loss.self = 1.0
    config.loss.velocity = 0.5
    config.loss.emotion = 0.1
    # Emotion consistency: a frozen face classifier (configs/face_emotion.py) reads the
    # predicted animation; cross-entropy against the clip's emotion. Off by default.
    config.loss.face_emotion = 0.0
    # The mouth opening (arkit.MOUTH_OPENING_WEIGHTS, what lip sync is scored on) fitted as one
    # more MSE term on the cross and self outputs; ARKit outputs only. Off by default.
    config.loss.mouth_opening = 0.0

    config.mesh = ml_collections.ConfigDict()
    config.mesh.data = -1  # all devices not used by fsdp
    config.mesh.fsdp = 1

    config.init_from = ""  # converted release checkpoint, encoder checkpoint or HF wav2vec2 folder
    config.resume_from = ""  # another run's checkpoints/ folder
    config.face_classifier = ""  # WORKDIR/face_classifier of a face_emotion run; used when loss.face_emotion > 0
    return config
