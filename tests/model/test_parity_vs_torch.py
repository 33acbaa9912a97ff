"""fp32 parity of the Flax model with the PyTorch reference (transformers' Wav2Vec2Model
+ the release's resampling and decoder), both wav2vec2 variants, random weights
everywhere (the output head included, so every detail matters)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from flax import nnx
from release_files import max_rel_error

from voiceemo_jax import checkpoint_io
from voiceemo_jax.models import sequence_ops

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def converted(release):
    model, _ = checkpoint_io.load_model(release.checkpoint)
    return model


@nnx.jit(static_argnums=(4,))
def _encoders(model, audio, num_samples, num_frames, max_frames):
    content = model.content_encoder(audio, num_samples, num_frames, max_frames)
    emotion, logits = model.emotion_encoder(audio, num_samples, num_frames, max_frames)
    return content, emotion, logits


@pytest.mark.parametrize("num_samples", [7200, 20123])
def test_encoder_hidden_states_and_logits_vs_torch(release, converted, speech_like, num_samples):
    audio = speech_like(num_samples, seed=3)
    frames = sequence_ops.frames_for(num_samples)
    content, emotion, logits = _encoders(
        converted, jnp.asarray(audio)[None], jnp.array([num_samples]), jnp.array([frames]), frames
    )
    with torch.no_grad():
        ref_content = release.reference.content_features(audio, frames)[0].numpy()
        ref_emotion, ref_logits = release.reference.emotion_features(audio, frames)
    assert max_rel_error(content[0], ref_content) <= TOLERANCE
    assert max_rel_error(emotion[0], ref_emotion[0].numpy()) <= TOLERANCE
    assert max_rel_error(logits[0], ref_logits[0].numpy()) <= TOLERANCE


def test_end_to_end_outputs_vs_torch_with_level_person_and_emotion_swap(release, converted, speech_like):
    from voiceemo_jax.inference.predictor import Predictor

    predictor = Predictor(converted)
    content, other = speech_like(17000, seed=5), speech_like(25000, seed=9)
    for level, person, emotion_audio in [(0, 0, None), (1, 17, None), (1, 3, other)]:
        ours = predictor.predict(content, level=level, person=person, emotion_audio=emotion_audio)
        ref_out, ref_logits = release.reference(content, level, person, emotion_audio)
        assert ours.outputs.shape == (sequence_ops.frames_for(17000), 52)
        assert np.abs(ref_out).max() > 0.1  # the head is random, not the zero head
        assert max_rel_error(ours.outputs, ref_out) <= TOLERANCE
        assert max_rel_error(ours.emotion_logits, ref_logits) <= TOLERANCE


def test_predict_cli_output_vs_torch(release, speech_like, tmp_path):
    import soundfile

    from voiceemo_jax.audio import load_audio
    from voiceemo_jax.cli import main

    wav = tmp_path / "speech.wav"
    soundfile.write(wav, speech_like(30011, seed=2), 16000, subtype="FLOAT")
    out = tmp_path / "pred.npy"
    argv = ["predict", "--checkpoint", str(release.checkpoint), "--audio", str(wav), "--out", str(out)]
    assert main(argv + ["--level", "0", "--person", "2", "--no-post-processing"]) == 0
    ref_out, _ = release.reference(load_audio(wav), 0, 2)
    got = np.load(out)
    assert got.dtype == np.float32 and got.shape == (57, 52)
    assert max_rel_error(got, ref_out) <= TOLERANCE


def test_parity_is_not_vacuous(release, converted, speech_like):
    """Perturbing one converted weight must break parity: the comparison can fail."""
    from voiceemo_jax.inference.predictor import Predictor

    audio = speech_like(9000, seed=1)
    ref_out, _ = release.reference(audio, 1, 1)
    params = nnx.state(converted, nnx.Param)
    kernel = params["morph_synthesizer"]["transformer_decoder"]["norm3"]["scale"]
    broken = jax.tree.map(lambda x: x, params)
    broken["morph_synthesizer"]["transformer_decoder"]["norm3"]["scale"] = kernel[...] * 1.01
    graphdef, _ = nnx.split(converted, nnx.Param)
    model = nnx.merge(graphdef, broken)
    assert max_rel_error(Predictor(model).predict(audio).outputs, ref_out) > TOLERANCE
