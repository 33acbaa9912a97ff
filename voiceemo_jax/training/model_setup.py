"""From a training config and a dataset's metadata to a model config.

The dataset decides what the model must emit: its emotion vocabulary becomes the
classifier's labels, its speakers and intensity levels size the person / level
embeddings, its target width (52 blendshapes or V*3 vertex offsets) the output head.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp

from voiceemo_jax.models import presets
from voiceemo_jax.models.voiceemo import VoiceEmoConfig

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def build_model_config(config, metadata) -> VoiceEmoConfig:
    m = config.model
    num_persons = max(int(m.num_persons), len(metadata.speakers))
    num_levels = max(int(m.num_levels), len(metadata.levels))
    model_config = presets.model_config(
        m.size,
        variant=m.variant,
        labels=tuple(metadata.emotions),
        output_dim=int(metadata.target_dim),
        num_persons=num_persons,
        num_levels=num_levels,
        emotion_size=str(m.get("emotion_size", "")) or None,
        emotion_frontend=str(m.get("emotion_frontend", "wav2vec2")),
        content_frontend=str(m.get("content_frontend", "wav2vec2")),
    )
    # Inference behaviour the checkpoint carries (inference/pauses.py); no parameter depends on it.
    return dataclasses.replace(
        model_config,
        rest_in_pauses=bool(m.get("rest_in_pauses", False)),
        close_in_dips=bool(m.get("close_in_dips", False)),
    )


def model_kwargs(config) -> dict:
    """Constructor options that do not change parameter shapes."""
    m = config.model
    if m.dtype not in DTYPES:
        raise ValueError(f"model.dtype must be one of {sorted(DTYPES)}, got {m.dtype!r}")
    return {
        "freeze_feature_encoder": bool(m.freeze_feature_encoder),
        "dtype": None if m.dtype == "float32" else DTYPES[m.dtype],
        "remat": bool(m.remat),
    }
