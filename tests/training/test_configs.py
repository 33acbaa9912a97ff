"""Every experiment config loads, takes command-line overrides, and gives a model config
that fits its dataset's metadata (labels, speakers, output width)."""

from types import SimpleNamespace

import pytest

from voiceemo_jax.training.config_loading import apply_overrides, load_config
from voiceemo_jax.training.model_setup import build_model_config

SEVEN = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def _metadata(target_dim=52, emotions=SEVEN, speakers=6):
    return SimpleNamespace(
        emotions=emotions, levels=("1", "2"), speakers=tuple(f"s{i}" for i in range(speakers)), target_dim=target_dim
    )


@pytest.mark.parametrize(
    "spec, size", [("configs/tiny.py", "tiny"), ("configs/ravdess.py", "release"), ("configs/mead.py", "release"),
                   ("configs/vocaset.py", "base"), ("configs/synth.py", "demo"), ("configs/synth.py:size=tiny", "tiny"),
                   ("configs/ravdess.py:size=tiny", "tiny")],
)  # fmt: skip
def test_configs_load_with_their_sizes(spec, size):
    config = load_config(spec)
    assert config.model.size == size
    assert config.train.per_process_batch_size > 0 and config.train.num_steps > 0


def test_overrides_change_typed_fields_and_refuse_unknown_ones():
    config = apply_overrides(load_config("configs/synth.py"), ["--config.train.num_steps=7", "--config.mesh.fsdp=2"])
    assert config.train.num_steps == 7 and config.mesh.fsdp == 2
    with pytest.raises(Exception, match="no_such_field"):
        apply_overrides(load_config("configs/tiny.py"), ["--config.train.no_such_field=1"])


def test_model_config_follows_the_dataset():
    config = load_config("configs/synth.py:size=tiny")
    model_config = build_model_config(config, _metadata(speakers=12))
    assert model_config.emotion.id2label == SEVEN
    assert model_config.synthesizer.output_dim == 52
    assert model_config.synthesizer.num_persons == 12  # more speakers than the config's 8
    vertex = build_model_config(load_config("configs/vocaset.py:size=tiny"), _metadata(target_dim=5023 * 3))
    assert vertex.synthesizer.output_dim == 5023 * 3


def test_emotion_encoder_can_have_a_size_of_its_own(tmp_path):
    import jax
    import numpy as np
    from flax import nnx

    from voiceemo_jax import checkpoint_io
    from voiceemo_jax.models.voiceemo import VoiceEmo

    config = apply_overrides(load_config("configs/synth.py:size=tiny"), ["--config.model.emotion_size=demo"])
    model_config = build_model_config(config, _metadata())
    assert (model_config.content.hidden_size, model_config.emotion.hidden_size) == (32, 96)
    assert build_model_config(load_config("configs/synth.py:size=tiny"), _metadata()).emotion.hidden_size == 32
    model = VoiceEmo(model_config, rngs=nnx.Rngs(0))
    # The decoder reads 96-wide emotion features and 32-wide content features.
    assert model.morph_synthesizer.audio_feature_map_emo.kernel.value.shape[0] == 96
    assert model.morph_synthesizer.audio_feature_map_cont.kernel.value.shape[0] == 32
    checkpoint_io.save_model(model, tmp_path / "model")
    restored, _ = checkpoint_io.load_model(tmp_path / "model")
    assert restored.config.emotion.hidden_size == 96 and restored.config.content.hidden_size == 32
    before, after = (jax.tree.map(np.asarray, nnx.to_pure_dict(nnx.state(m, nnx.Param))) for m in (model, restored))
    jax.tree.map(np.testing.assert_array_equal, after, before)


@pytest.mark.parametrize("option, field, other", [("emotion_frontend", "emotion_cnn", "content_cnn"),
                                                   ("content_frontend", "content_cnn", "emotion_cnn")])  # fmt: skip
def test_frontend_options_select_their_log_mel_cnn(option, field, other):
    from voiceemo_jax.models.logmel_cnn import LogMelCNNConfig, content_config

    expected = {"emotion_cnn": LogMelCNNConfig(), "content_cnn": content_config()}[field]
    config = apply_overrides(load_config("configs/synth.py:size=tiny"), [f"--config.model.{option}=logmel_cnn"])
    model_config = build_model_config(config, _metadata())
    assert getattr(model_config, field) == expected and getattr(model_config, other) is None
    assert getattr(build_model_config(load_config("configs/synth.py:size=tiny"), _metadata()), field) is None
    bad = apply_overrides(load_config("configs/synth.py:size=tiny"), [f"--config.model.{option}=mfcc"])
    with pytest.raises(ValueError, match=option):
        build_model_config(bad, _metadata())
