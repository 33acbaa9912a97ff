"""Hugging Face wav2vec2 folder -> encoder checkpoint, and loading it into a VoiceEmo model.

An encoder checkpoint initialises the content or the emotion encoder before training
(`--config.init_from`). Layout:

    OUT/voiceemo_encoder.json  {"format": "voiceemo-jax-encoder", "version": 1, "wav2vec2": {...}, "classifier": bool}
    OUT/params/                Orbax tree {"wav2vec2": ..., ["classifier": ...]}

Accepted key layouts: bare `Wav2Vec2Model` keys, `wav2vec2.`-prefixed keys (ForCTC,
pretraining and the release's emotion model) and the release emotion head
`classifier.{dense,out_proj}`. Anything else is an error that lists the keys.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import jax
import numpy as np
from flax import nnx

from voiceemo_jax.atomic_files import atomic_path
from voiceemo_jax.conversion import state_dicts
from voiceemo_jax.errors import UserError
from voiceemo_jax.models.encoders import ClassificationHead
from voiceemo_jax.models.wav2vec2 import Wav2Vec2Config, Wav2Vec2Model

FORMAT = "voiceemo-jax-encoder"
VERSION = 1
META_FILE = "voiceemo_encoder.json"


class EncoderBundle(nnx.Module):
    """A wav2vec2 and, for emotion models, its classification head."""

    def __init__(self, config: Wav2Vec2Config, with_classifier: bool, *, rngs: nnx.Rngs):
        self.wav2vec2 = Wav2Vec2Model(config, rngs=rngs)
        self.classifier = ClassificationHead(config, rngs=rngs) if with_classifier else None


def _module_path(key: str):
    if key.startswith("classifier."):
        module, _ = state_dicts.torch_key_to_path(key)
        return module
    if key.startswith("wav2vec2."):
        key = key[len("wav2vec2.") :]
    if key.split(".")[0] in ("feature_extractor", "feature_projection", "encoder"):
        module, _ = state_dicts.torch_key_to_path(key)
        return ("wav2vec2",) + module
    return None


def params_from_hf_folder(model_dir: str | os.PathLike) -> tuple[Wav2Vec2Config, dict, bool]:
    """Reads an HF folder with weights -> (config, params {"wav2vec2": ..., ["classifier"]}, has_classifier)."""
    hf_config, preprocessor, weights = state_dicts.load_hf_folder(model_dir, need_weights=True)
    try:
        config = Wav2Vec2Config.from_hf(hf_config, preprocessor)
    except (TypeError, ValueError) as error:
        raise UserError(f"unsupported wav2vec2 config in {model_dir}: {error}") from None
    with_classifier = any(k.startswith("classifier.") for k in weights)
    if with_classifier and config.num_labels == 0:
        raise UserError(f"{model_dir} has classifier weights but its config.json has no id2label")
    bundle = nnx.eval_shape(lambda: EncoderBundle(config, with_classifier, rngs=nnx.Rngs(0)))
    state_dicts.load_into(bundle, weights, _module_path, what=f"weights in {model_dir}")
    return config, jax.tree.map(np.asarray, nnx.to_pure_dict(nnx.state(bundle, nnx.Param))), with_classifier


def convert_folder(model_dir: str | os.PathLike, out_dir: str | os.PathLike) -> tuple[Path, Wav2Vec2Config]:
    """Converts an HF folder with weights; returns (output folder, config)."""
    out_dir = Path(out_dir).absolute()
    if out_dir.exists():
        raise UserError(f"{out_dir} already exists; choose another --out or remove it")
    config, params, with_classifier = params_from_hf_folder(model_dir)
    meta = {"format": FORMAT, "version": VERSION, "wav2vec2": config.to_dict(), "classifier": with_classifier}
    import orbax.checkpoint as ocp

    with atomic_path(out_dir, suffix="") as tmp:
        tmp.mkdir()
        checkpointer = ocp.StandardCheckpointer()
        checkpointer.save(tmp / "params", params)
        checkpointer.wait_until_finished()
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return out_dir, config


def read_encoder(ckpt_dir: str | os.PathLike) -> tuple[Wav2Vec2Config, dict]:
    """Reads an encoder checkpoint -> (config, params pure dict)."""
    ckpt_dir = Path(ckpt_dir).absolute()
    meta_path = ckpt_dir / META_FILE
    if not meta_path.is_file():
        raise UserError(f"{ckpt_dir} is not a VoiceEmo-JAX encoder checkpoint (no {META_FILE})")
    meta = json.loads(meta_path.read_text())
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise UserError(f"{meta_path} is not a version-{VERSION} {FORMAT} file")
    config = Wav2Vec2Config.from_dict(meta["wav2vec2"])
    abstract = nnx.eval_shape(lambda: EncoderBundle(config, meta["classifier"], rngs=nnx.Rngs(0)))
    target = nnx.to_pure_dict(nnx.state(abstract, nnx.Param))
    import orbax.checkpoint as ocp

    return config, ocp.StandardCheckpointer().restore(ckpt_dir / "params", target)


def load_encoder_into(model, which: str, ckpt_dir: str | os.PathLike) -> None:
    """Overwrites `model.content_encoder` or `model.emotion_encoder` with an encoder checkpoint.

    The checkpoint's architecture must equal the model's encoder config (layout and
    sizes); the emotion head is loaded when both have it with the same labels.
    """
    config, params = read_encoder(ckpt_dir)
    encoder = {"content": model.content_encoder, "emotion": model.emotion_encoder}[which]
    ours = getattr(model.config, which)
    arch = ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "conv_dim",
            "conv_kernel", "conv_stride", "conv_bias", "feat_extract_norm", "do_stable_layer_norm",
            "num_conv_pos_embeddings", "num_conv_pos_embedding_groups")  # fmt: skip
    differ = [f for f in arch if getattr(config, f) != getattr(ours, f)]
    if differ:
        raise UserError(f"encoder checkpoint {ckpt_dir} does not fit the {which} encoder: {', '.join(differ)} differ")
    nnx.update(encoder.wav2vec2, params["wav2vec2"])
    if which == "emotion" and "classifier" in params and config.id2label == ours.id2label:
        nnx.update(encoder.classifier, params["classifier"])
