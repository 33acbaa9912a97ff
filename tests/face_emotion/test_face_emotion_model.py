"""The coefficient-space classifier: padding and length never change its logits."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from voiceemo_jax.face_emotion.model import FaceEmotionClassifier, FaceEmotionConfig, attention_pool

LABELS = ("angry", "happy", "neutral", "sad")


def _classifier(input_dim=52, levels=("weak", "strong"), seed=0):
    config = FaceEmotionConfig(input_dim=input_dim, emotion_labels=LABELS, level_labels=levels, hidden_dim=16)
    classifier = FaceEmotionClassifier(config, rngs=nnx.Rngs(seed))
    classifier.set_input_statistics(np.full(input_dim, 0.2), 0.3)
    return classifier


@pytest.mark.parametrize("input_dim", [52, 5 * 3])  # ARKit coefficients or V*3 vertex offsets
def test_padded_and_unpadded_inputs_give_the_same_logits(input_dim):
    classifier = _classifier(input_dim)
    forward = jax.jit(lambda x, n: classifier(x, n))
    rng = np.random.default_rng(0)
    lengths = [1, 2, 7, 30, 61]  # any length, down to one frame
    sequences = [rng.uniform(0, 1, (n, input_dim)).astype(np.float32) for n in lengths]
    alone = [forward(jnp.asarray(s[None]), jnp.array([len(s)])) for s in sequences]
    # One padded batch, with garbage (not zeros) past each item's end.
    batch = rng.uniform(-5, 5, (len(lengths), 80, input_dim)).astype(np.float32)
    for row, s in zip(batch, sequences):
        row[: len(s)] = s
    together = forward(jnp.asarray(batch), jnp.array(lengths))
    for i, single in enumerate(alone):
        for key in ("emotion_logits", "level_logits"):
            np.testing.assert_allclose(together[key][i], single[key][0], atol=2e-5, rtol=1e-5)
    # The logits really depend on the valid frames (the comparison above could not pass trivially).
    changed = batch.copy()
    changed[2, 3] += 1.0
    moved = forward(jnp.asarray(changed), jnp.array(lengths))["emotion_logits"]
    assert np.abs(np.asarray(moved[2] - together["emotion_logits"][2])).max() > 1e-4
    np.testing.assert_array_equal(moved[3], together["emotion_logits"][3])  # other items are untouched


def test_a_sequence_without_valid_frames_gives_finite_logits():
    out = _classifier()(jnp.ones((2, 6, 52)), jnp.array([0, 6]))
    assert np.all(np.isfinite(np.asarray(out["emotion_logits"])))


def test_attention_pool_ignores_masked_frames_even_with_huge_scores():
    hidden = jnp.arange(2 * 4 * 3, dtype=jnp.float32).reshape(2, 4, 3)
    scores = jnp.array([[0.0, 0.0, 1e9, 1e9], [1.0, 2.0, 3.0, 4.0]])
    valid = jnp.array([[True, True, False, False], [True, True, True, True]])
    pooled = attention_pool(hidden, scores, valid)
    np.testing.assert_allclose(pooled[0], hidden[0, :2].mean(0), rtol=1e-6)
    weights = np.exp([1.0, 2.0, 3.0, 4.0]) / np.exp([1.0, 2.0, 3.0, 4.0]).sum()
    np.testing.assert_allclose(pooled[1], weights @ np.asarray(hidden[1]), rtol=1e-5)


def test_the_level_head_is_optional_and_labels_are_checked():
    out = _classifier(levels=())(jnp.zeros((1, 4, 52)), jnp.array([4]))
    assert set(out) == {"emotion_logits"} and out["emotion_logits"].shape == (1, len(LABELS))
    with pytest.raises(ValueError, match="at least 2 emotion labels"):
        FaceEmotionConfig(emotion_labels=("neutral",))
    config = FaceEmotionConfig(emotion_labels=LABELS, level_labels=("1", "2"))
    assert FaceEmotionConfig.from_dict(config.to_dict()) == config
