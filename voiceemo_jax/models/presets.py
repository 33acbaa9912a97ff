"""Named model sizes: Hugging Face-style wav2vec2 config dicts and whole-model configs.

`release` mirrors the released model (two wav2vec2-large encoders, 832-wide decoder);
`tiny` keeps the real CNN strides (so frame rates and lengths are realistic) with a few
channels, for tests and CPU smoke runs. The dicts have the keys of an HF config.json, so
the same code path builds a model from a preset or from a downloaded folder.
"""

from __future__ import annotations

from typing import Any

from voiceemo_jax.models import logmel_cnn
from voiceemo_jax.models.logmel_cnn import LogMelCNNConfig
from voiceemo_jax.models.morph_synthesizer import MorphSynthesizerConfig
from voiceemo_jax.models.voiceemo import VoiceEmoConfig
from voiceemo_jax.models.wav2vec2 import Wav2Vec2Config

# The emotion encoders model_config can build: the release's wav2vec2, or a log-mel CNN.
FRONTENDS = ("wav2vec2", "logmel_cnn")  # model.emotion_frontend, model.content_frontend
# Believed order of the release's emotion encoder labels; real conversions read config.json.
RELEASE_EMOTIONS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")

_CNN = {
    "conv_kernel": [10, 3, 3, 3, 3, 2, 2],
    "conv_stride": [5, 2, 2, 2, 2, 2, 2],
}


def hf_wav2vec2_dict(
    variant: str = "layer",
    *,
    size: str = "tiny",
    labels: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A wav2vec2 config.json dict. variant: "layer" (large/XLSR style) or "group" (base)."""
    if variant not in ("layer", "group"):
        raise ValueError(f"variant must be 'layer' or 'group', got {variant!r}")
    if size == "release":
        dims = dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096)
        conv_dim, pos_kernel, pos_groups = 512, 128, 16
    elif size == "base":
        dims = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072)
        conv_dim, pos_kernel, pos_groups = 512, 128, 16
    elif size == "small":
        # An encoder a few times the demo's, still trainable from scratch on a CPU (an emotion
        # encoder that must tell emotions apart across many real voices: model.emotion_size).
        dims = dict(hidden_size=192, num_hidden_layers=4, num_attention_heads=4, intermediate_size=384)
        conv_dim, pos_kernel, pos_groups = 48, 32, 8
    elif size == "demo":
        # Small enough to train from scratch on 2 CPU cores in under an hour.
        dims = dict(hidden_size=96, num_hidden_layers=3, num_attention_heads=4, intermediate_size=192)
        conv_dim, pos_kernel, pos_groups = 48, 32, 8
    elif size == "tiny":
        dims = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)
        conv_dim, pos_kernel, pos_groups = 16, 16, 4
    else:
        raise ValueError(f"unknown size {size!r}")
    config: dict[str, Any] = {
        "model_type": "wav2vec2",
        **dims,
        **_CNN,
        "conv_dim": [conv_dim] * 7,
        "conv_bias": variant == "layer",
        "feat_extract_norm": variant,
        "do_stable_layer_norm": variant == "layer",
        "feat_extract_activation": "gelu",
        "hidden_act": "gelu",
        "num_conv_pos_embeddings": pos_kernel,
        "num_conv_pos_embedding_groups": pos_groups,
        "layer_norm_eps": 1e-5,
        "hidden_dropout": 0.1,
        "attention_dropout": 0.1,
        "activation_dropout": 0.05,
        "feat_proj_dropout": 0.05,
        "final_dropout": 0.1,
        "layerdrop": 0.0,
        "mask_time_prob": 0.0,
        "vocab_size": 32,
    }
    if labels:
        config["id2label"] = {str(i): name for i, name in enumerate(labels)}
        config["label2id"] = {name: i for i, name in enumerate(labels)}
        config["pooling_mode"] = "mean"
    return config


PREPROCESSOR = {"do_normalize": True, "sampling_rate": 16000, "feature_size": 1, "padding_value": 0.0}


def synthesizer_config(size: str = "tiny", output_dim: int = 52, **overrides) -> MorphSynthesizerConfig:
    if size in ("release", "base"):
        values = {}
    elif size in ("demo", "small"):
        values = dict(
            content_dim=64, emotion_dim=128, emotion_tgt_dim=32, level_dim=16, person_dim=16, feedforward_dim=128
        )
    elif size == "tiny":
        values = dict(content_dim=32, emotion_dim=64, emotion_tgt_dim=16, level_dim=8, person_dim=8, feedforward_dim=64)
    else:
        raise ValueError(f"unknown size {size!r}")
    return MorphSynthesizerConfig(output_dim=output_dim, **{**values, **overrides})


def model_config(
    size: str = "tiny",
    *,
    variant: str = "layer",
    labels: tuple[str, ...] = RELEASE_EMOTIONS,
    output_dim: int = 52,
    emotion_size: str | None = None,
    emotion_frontend: str = "wav2vec2",
    content_frontend: str = "wav2vec2",
    **synthesizer_overrides,
) -> VoiceEmoConfig:
    """Whole-model config at a named size: "tiny", "demo", "base" (wav2vec2-base encoders)
    or "release" (two wav2vec2-large encoders). `emotion_size` gives the emotion encoder a
    wav2vec2 size of its own (any of those, or "small"); by default it is `size`.
    `emotion_frontend` "logmel_cnn" makes the emotion encoder a log-mel CNN (models/logmel_cnn.py)
    whose output width is that wav2vec2's hidden size; `content_frontend` "logmel_cnn" puts a log-mel
    CNN in place of the content wav2vec2's CNN (`logmel_cnn.LogMelContentEncoder`)."""
    for name, value in (("emotion_frontend", emotion_frontend), ("content_frontend", content_frontend)):
        if value not in FRONTENDS:
            raise ValueError(f"{name} must be one of {', '.join(FRONTENDS)}, got {value!r}")
    emotion_size = emotion_size or size
    return VoiceEmoConfig(
        content=Wav2Vec2Config.from_hf(hf_wav2vec2_dict(variant, size=size), PREPROCESSOR),
        emotion=Wav2Vec2Config.from_hf(hf_wav2vec2_dict(variant, size=emotion_size, labels=labels), PREPROCESSOR),
        synthesizer=synthesizer_config(size, output_dim, **synthesizer_overrides),
        emotion_cnn=LogMelCNNConfig() if emotion_frontend == "logmel_cnn" else None,
        content_cnn=logmel_cnn.content_config() if content_frontend == "logmel_cnn" else None,
    )
