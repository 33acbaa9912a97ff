"""A padded batch gives each item what it gets alone (both wav2vec2 variants)."""

import jax.numpy as jnp
import numpy as np
from flax import nnx

from voiceemo_jax import checkpoint_io
from voiceemo_jax.inference.predictor import Predictor
from voiceemo_jax.models import sequence_ops


def test_padded_batch_equals_per_item_runs(release, speech_like):
    model, _ = checkpoint_io.load_model(release.checkpoint)
    clips = [speech_like(n, seed=i) for i, n in enumerate([16000, 6400, 11111])]
    levels, persons = [0, 1, 1], [4, 0, 23]
    batched = Predictor(model, bucket_seconds=2.0).predict_batch(clips, levels=levels, persons=persons)
    single = Predictor(model, bucket_seconds=1e-4)  # no padding at all
    for clip, level, person, got in zip(clips, levels, persons, batched):
        alone = single.predict(clip, level=level, person=person)
        assert got.outputs.shape == (sequence_ops.frames_for(len(clip)), 52)
        np.testing.assert_allclose(got.outputs, alone.outputs, atol=2e-5)
        np.testing.assert_allclose(got.emotion_logits, alone.emotion_logits, atol=2e-5)


def test_model_zeroes_padded_frames_and_is_shape_static(release):
    model, _ = checkpoint_io.load_model(release.checkpoint)
    audio = jnp.asarray(np.random.default_rng(0).standard_normal((2, 16000)).astype(np.float32))
    out = nnx.jit(lambda m, a: m(a, jnp.array([16000, 5000]), jnp.array([0, 1]), jnp.array([1, 2])))(model, audio)
    assert out["outputs"].shape == (2, 30, 52)
    np.testing.assert_array_equal(np.asarray(out["num_frames"]), [30, 10])
    assert np.all(np.asarray(out["outputs"])[1, 10:] == 0)
    assert np.abs(np.asarray(out["outputs"])[1, :10]).max() > 0
