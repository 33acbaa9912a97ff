"""Release checkpoint (EmoTalk-style .pth) -> VoiceEmo-JAX checkpoint.

Sizes the tensors can tell come from the tensors; the rest (conv strides and kernels,
norm variant, stable layer norm, attention heads, pooling, labels, input normalisation)
from the two encoders' Hugging Face config.json / preprocessor_config.json (SPEC section 5).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
from flax import nnx

from voiceemo_jax.conversion import state_dicts
from voiceemo_jax.errors import UserError
from voiceemo_jax.models.morph_synthesizer import MorphSynthesizerConfig
from voiceemo_jax.models.voiceemo import VoiceEmo, VoiceEmoConfig
from voiceemo_jax.models.wav2vec2 import Wav2Vec2Config

# Release prefix -> our module path.
PREFIXES = (
    ("audio_encoder_cont.", ("content_encoder", "wav2vec2")),
    ("audio_encoder_emo.wav2vec2.", ("emotion_encoder", "wav2vec2")),
    ("audio_encoder_emo.classifier.", ("emotion_encoder", "classifier")),
    ("transformer_decoder.layers.0.", ("morph_synthesizer", "transformer_decoder")),
    ("audio_feature_map_cont.", ("morph_synthesizer", "audio_feature_map_cont")),
    ("audio_feature_map_emo2.", ("morph_synthesizer", "audio_feature_map_emo2")),
    ("audio_feature_map_emo.", ("morph_synthesizer", "audio_feature_map_emo")),
    ("obj_vector_level.", ("morph_synthesizer", "obj_vector_level")),
    ("obj_vector_person.", ("morph_synthesizer", "obj_vector_person")),
    ("bs_map_r.", ("morph_synthesizer", "bs_map_r")),
)


_OURS = {prefix: ".".join(path) + "." for prefix, path in PREFIXES}


def release_module_path(key: str):
    """Our module path for a release key, or None if the key belongs to nothing we know."""
    for prefix, ours in PREFIXES:
        if key.startswith(prefix):
            module, _ = state_dicts.torch_key_to_path(key[len(prefix) :])
            return ours + module
    return None


def _shape(state: Mapping[str, np.ndarray], key: str) -> tuple[int, ...]:
    if key not in state:
        module = key.rsplit(".", 1)[0] + "."
        near = sorted(k for k in state if k.startswith(module))
        hint = f"; unexpected keys there: {', '.join(near)}" if near else "; is it a release (EmoTalk) state dict?"
        raise UserError(f"the checkpoint has no {key!r} (needed for model.{_OURS.get(module, module)}kernel){hint}")
    return tuple(state[key].shape)


def synthesizer_config_from_state(
    state: Mapping[str, np.ndarray], *, num_heads: int = 4, period: int = 30
) -> MorphSynthesizerConfig:
    """Decoder sizes read off the tensor shapes ([out, in] Linear weights)."""
    content_dim, _ = _shape(state, "audio_feature_map_cont.weight")
    emotion_dim, _ = _shape(state, "audio_feature_map_emo.weight")
    emotion_tgt_dim, _ = _shape(state, "audio_feature_map_emo2.weight")
    level_dim, num_levels = _shape(state, "obj_vector_level.weight")
    person_dim, num_persons = _shape(state, "obj_vector_person.weight")
    feedforward_dim, _ = _shape(state, "transformer_decoder.layers.0.linear1.weight")
    output_dim, _ = _shape(state, "bs_map_r.weight")
    try:
        return MorphSynthesizerConfig(
            content_dim=content_dim,
            emotion_dim=emotion_dim,
            emotion_tgt_dim=emotion_tgt_dim,
            level_dim=level_dim,
            person_dim=person_dim,
            num_levels=num_levels,
            num_persons=num_persons,
            num_heads=num_heads,
            feedforward_dim=feedforward_dim,
            period=period,
            output_dim=output_dim,
        )
    except ValueError as error:
        raise UserError(f"inconsistent decoder shapes in the checkpoint: {error}") from None


def convert_release(
    checkpoint: str | os.PathLike,
    content_encoder_dir: str | os.PathLike,
    emotion_encoder_dir: str | os.PathLike,
    *,
    num_heads: int = 4,
    period: int = 30,
) -> VoiceEmo:
    """Builds a VoiceEmo model holding the release checkpoint's weights (strictly checked)."""
    state = state_dicts.load_torch_state_dict(checkpoint)
    content_hf, content_pre, _ = state_dicts.load_hf_folder(content_encoder_dir, need_weights=False)
    emotion_hf, emotion_pre, _ = state_dicts.load_hf_folder(emotion_encoder_dir, need_weights=False)
    try:
        content = Wav2Vec2Config.from_hf(content_hf, content_pre)
        emotion = Wav2Vec2Config.from_hf(emotion_hf, emotion_pre)
    except (TypeError, ValueError) as error:
        raise UserError(f"unsupported encoder config: {error}") from None
    if emotion.num_labels == 0:
        raise UserError(f"{emotion_encoder_dir}/config.json has no id2label: the emotion encoder needs its labels")
    out_proj = "audio_encoder_emo.classifier.out_proj.weight"
    if out_proj in state and state[out_proj].shape[0] != emotion.num_labels:
        raise UserError(
            f"the emotion classifier has {state[out_proj].shape[0]} outputs but "
            f"{emotion_encoder_dir}/config.json lists {emotion.num_labels} labels"
        )
    config = VoiceEmoConfig(
        content=content,
        emotion=emotion,
        synthesizer=synthesizer_config_from_state(state, num_heads=num_heads, period=period),
    )
    return build_with_weights(config, state, release_module_path, what=f"checkpoint {checkpoint}")


def build_with_weights(config: VoiceEmoConfig, state, module_path_fn, *, what: str) -> VoiceEmo:
    """A model for `config` whose parameters all come from `state` via `module_path_fn`."""
    # Shapes only: every parameter is overwritten (strictly), so no random init is spent.
    abstract = nnx.eval_shape(lambda: VoiceEmo(config, rngs=nnx.Rngs(0)))
    return state_dicts.load_into(abstract, state, module_path_fn, what=what)
