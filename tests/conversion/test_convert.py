"""Release and Hugging Face conversion: strictness, weight-norm spellings, safe loading."""

import json
import pickle

import numpy as np
import pytest
import torch
from release_files import make_release_files, max_rel_error, write_hf_folder

from voiceemo_jax.cli import main
from voiceemo_jax.errors import UserError


@pytest.fixture(scope="module")
def layer_release(tmp_path_factory):
    root = tmp_path_factory.mktemp("conv")
    config, reference, pth, content_dir, emotion_dir = make_release_files(root, "layer", seed=4)
    return root, config, reference, pth, content_dir, emotion_dir


def _convert(pth, content_dir, emotion_dir, out):
    return main(
        ["convert", "emotalk", "--checkpoint", str(pth), "--content-encoder", str(content_dir),
         "--emotion-encoder", str(emotion_dir), "--out", str(out)]
    )  # fmt: skip


def _save_variant(layer_release, name, edit):
    root, _, reference, *_ = layer_release
    state = dict(reference.state_dict())
    edit(state)
    path = root / f"{name}.pth"
    torch.save(state, path)
    return path


def test_renamed_key_is_refused_and_named(layer_release, tmp_path, capsys):
    _, _, _, _, content_dir, emotion_dir = layer_release

    def rename(state):
        state["bs_map_r.weights"] = state.pop("bs_map_r.weight")

    pth = _save_variant(layer_release, "renamed", rename)
    assert _convert(pth, content_dir, emotion_dir, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "bs_map_r.weights" in err and "morph_synthesizer.bs_map_r.kernel" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_shape_mismatch_and_missing_layer_are_listed(layer_release, tmp_path, capsys):
    _, _, _, _, content_dir, emotion_dir = layer_release

    def break_shapes(state):
        state["audio_encoder_cont.encoder.layers.0.attention.q_proj.bias"] = torch.zeros(7)
        for key in [k for k in state if k.startswith("audio_encoder_emo.wav2vec2.encoder.layers.1.")]:
            del state[key]

    pth = _save_variant(layer_release, "broken", break_shapes)
    assert _convert(pth, content_dir, emotion_dir, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "shape mismatches" in err and "q_proj.bias" in err
    assert "missing parameters" in err and "emotion_encoder.wav2vec2.encoder.layers.1" in err


def test_unused_keys_ignored_and_old_weight_norm_spelling_loads(layer_release, tmp_path, speech_like):
    _, _, reference, _, content_dir, emotion_dir = layer_release

    def old_spelling(state):
        for prefix in ("audio_encoder_cont.", "audio_encoder_emo.wav2vec2."):
            base = prefix + "encoder.pos_conv_embed.conv."
            state[base + "weight_g"] = state.pop(base + "parametrizations.weight.original0")
            state[base + "weight_v"] = state.pop(base + "parametrizations.weight.original1")
        state["audio_encoder_cont.lm_head.weight"] = torch.zeros(32, 32)
        state["audio_encoder_cont.lm_head.bias"] = torch.zeros(32)
        state["audio_encoder_cont.masked_spec_embed"] = torch.rand(32)
        state["audio_encoder_emo.wav2vec2.masked_spec_embed"] = torch.rand(32)

    pth = _save_variant(layer_release, "old", old_spelling)
    assert _convert(pth, content_dir, emotion_dir, tmp_path / "out") == 0
    from voiceemo_jax.inference.predictor import Predictor

    audio = speech_like(8000, seed=8)
    ours = Predictor.from_checkpoint(tmp_path / "out").predict(audio, level=0, person=0)
    ref_out, _ = reference(audio, 0, 0)
    assert max_rel_error(ours.outputs, ref_out) <= 1e-4


def test_sizes_come_from_tensor_shapes_and_labels_from_config(layer_release, tmp_path):
    _, config, _, pth, content_dir, emotion_dir = layer_release
    assert _convert(pth, content_dir, emotion_dir, tmp_path / "out") == 0
    meta = json.loads((tmp_path / "out" / "voiceemo_model.json").read_text())
    assert meta["model"]["synthesizer"]["emotion_dim"] == 64
    assert meta["model"]["synthesizer"]["num_persons"] == 24
    assert meta["model"]["emotion"]["id2label"] == list(config.emotion.id2label)
    assert meta["model"]["content"]["do_stable_layer_norm"] is True


def test_label_count_mismatch_is_refused(layer_release, tmp_path):
    _, _, _, pth, content_dir, _ = layer_release
    from voiceemo_jax.conversion import emotalk
    from voiceemo_jax.models import presets

    labels = ("a", "b", "c")
    emo = write_hf_folder(tmp_path / "emo3", presets.hf_wav2vec2_dict("layer", size="tiny", labels=labels))
    with pytest.raises(UserError, match="7 outputs but .* 3 labels"):
        emotalk.convert_release(pth, content_dir, emo)


def test_malicious_pickle_is_not_executed(tmp_path, layer_release):
    _, _, _, _, content_dir, emotion_dir = layer_release
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {marker}",))

    evil = tmp_path / "evil.pth"
    with open(evil, "wb") as f:
        pickle.dump({"x": Payload()}, f)
    assert _convert(evil, content_dir, emotion_dir, tmp_path / "out") == 2
    assert not marker.exists()


def test_output_folder_is_never_overwritten(layer_release, tmp_path, capsys):
    _, _, _, pth, content_dir, emotion_dir = layer_release
    (tmp_path / "out").mkdir()
    assert _convert(pth, content_dir, emotion_dir, tmp_path / "out") == 2
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["safetensors", "bin"])
def test_convert_wav2vec2_folder_initialises_encoder(tmp_path, speech_like, fmt):
    """An HF ForCTC-style folder (wav2vec2. prefix + lm_head) -> encoder checkpoint ->
    our encoder gives transformers' hidden states at 50 fps (no resampling)."""
    import jax.numpy as jnp
    from flax import nnx
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    from voiceemo_jax.conversion import hf_wav2vec2
    from voiceemo_jax.models import presets
    from voiceemo_jax.models.voiceemo import VoiceEmo

    hf_dict = presets.hf_wav2vec2_dict("group", size="tiny")
    torch.manual_seed(0)
    hf = Wav2Vec2Model(Wav2Vec2Config(**hf_dict)).eval()
    weights = {f"wav2vec2.{k}": v for k, v in hf.state_dict().items()}
    weights["lm_head.weight"] = torch.zeros(32, 32)
    folder = tmp_path / "hf"
    if fmt == "safetensors":
        write_hf_folder(folder, hf_dict, weights)
    else:
        write_hf_folder(folder, hf_dict)
        torch.save(weights, folder / "pytorch_model.bin")
    assert main(["convert", "wav2vec2", "--model", str(folder), "--out", str(tmp_path / "enc")]) == 0

    model = VoiceEmo(presets.model_config("tiny", variant="group"), rngs=nnx.Rngs(3))
    hf_wav2vec2.load_encoder_into(model, "content", tmp_path / "enc")
    audio = speech_like(9600, seed=4)
    from voiceemo_jax.testing.torch_reference import hf_normalize

    with torch.no_grad():
        expected = hf(torch.from_numpy(hf_normalize(audio))[None]).last_hidden_state[0].numpy()
    w2v = model.content_encoder.wav2vec2
    features, lengths = w2v.extract_features(jnp.asarray(audio)[None], jnp.array([len(audio)]))
    got = np.asarray(w2v.encode(features, lengths))[0]
    assert max_rel_error(got, expected) <= 1e-4


def test_convert_wav2vec2_refuses_folder_without_weights(tmp_path, capsys):
    from voiceemo_jax.models import presets

    folder = write_hf_folder(tmp_path / "hf", presets.hf_wav2vec2_dict("layer", size="tiny"))
    assert main(["convert", "wav2vec2", "--model", str(folder), "--out", str(tmp_path / "enc")]) == 2
    assert "no weights" in capsys.readouterr().err
