"""bf16 inference (`Predictor(..., dtype="bfloat16")`, `voiceemo predict --dtype bfloat16`):
parameters and activations really are bf16, float32 is kept where the numerics need it, and
the result is finite and near the float32 one. The deviation itself is measured in
`benchmarks/bf16_deviation.py` (BENCHMARKS.md), not bounded here."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import soundfile

from voiceemo_jax import checkpoint_io
from voiceemo_jax.cli import main
from voiceemo_jax.inference.predictor import Predictor, compute_dtype
from voiceemo_jax.testing.random_models import random_model


@pytest.fixture(scope="module")
def model():
    return random_model("tiny", seed=6)


def test_bf16_parameters_activations_and_a_finite_nearby_result(model, speech_like):
    audio = speech_like(32000, seed=2)
    bf16 = Predictor(model, dtype="bfloat16")
    floats = {x.dtype for x in jax.tree.leaves(bf16.params) if jnp.issubdtype(x.dtype, jnp.floating)}
    assert floats == {jnp.dtype(jnp.bfloat16)}
    # The model computes in bf16: the encoders' hidden states and the decoder's output are bf16.
    batch, lengths = jnp.zeros((1, 32000), jnp.float32), jnp.array([32000])
    content = jax.eval_shape(lambda a, n: bf16.model.content_encoder(a, n, n // 533, 60), batch, lengths)
    result = jax.eval_shape(lambda a, n: bf16.model(a, n, n * 0, n * 0), batch, lengths)
    assert content.dtype == jnp.bfloat16 and result["outputs"].dtype == jnp.bfloat16
    assert result["emotion_logits"].dtype == jnp.bfloat16  # the head too (its input pool is float32)

    reference = Predictor(model).predict(audio)
    ours = bf16.predict(audio)
    assert ours.outputs.dtype == np.float32 and ours.outputs.shape == reference.outputs.shape
    assert np.isfinite(ours.outputs).all() and np.isfinite(ours.emotion_logits).all()
    # Loose: bf16 keeps ~3 significant digits; a broken cast (e.g. float32 softmax lost) is far off.
    scale = np.abs(reference.outputs).max()
    assert np.abs(ours.outputs - reference.outputs).max() < 0.1 * scale
    assert np.corrcoef(ours.outputs.ravel(), reference.outputs.ravel())[0, 1] > 0.99
    assert ours.outputs.tobytes() != reference.outputs.tobytes()  # it did not silently run float32
    # The float32 model is left as it was (the bf16 predictor holds a cast copy).
    assert {x.dtype for x in jax.tree.leaves(Predictor(model).params)} == {jnp.dtype(jnp.float32)}


def test_dtype_choices():
    assert compute_dtype(None) == compute_dtype("float32") == jnp.float32
    assert compute_dtype(jnp.bfloat16) == compute_dtype("bfloat16") == jnp.bfloat16
    with pytest.raises(ValueError, match="bfloat16"):
        compute_dtype("float16")


def test_predict_command_dtype_flag(model, speech_like, tmp_path):
    checkpoint = checkpoint_io.save_model(model, tmp_path / "ckpt")
    audio = speech_like(32000, seed=2)
    soundfile.write(tmp_path / "a.wav", audio, 16000, subtype="FLOAT")
    out = tmp_path / "a.npy"
    argv = ["predict", "--checkpoint", str(checkpoint), "--audio", str(tmp_path / "a.wav"), "--out", str(out)]
    assert main([*argv, "--dtype", "bfloat16", "--no-post-processing"]) == 0
    doc = json.loads(out.with_suffix(".json").read_text())
    assert doc["dtype"] == "bfloat16"
    expected = Predictor(model, dtype="bfloat16").predict(audio).outputs
    written = np.load(out)
    assert written.dtype == np.float32 and written.shape == expected.shape
    inside = (expected >= 0) & (expected <= 1)  # untouched by any range clamp the command may apply
    np.testing.assert_array_equal(written[inside], expected[inside])
