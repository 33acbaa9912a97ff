"""Each loss term against a hand-computed value, and padding invariance."""

import jax.numpy as jnp
import numpy as np
import pytest

from voiceemo_jax.training import losses


def test_reconstruction_loss_hand_computed_and_ignores_padding():
    pred = np.zeros((1, 4, 2), np.float32)
    target = np.zeros((1, 4, 2), np.float32)
    target[0, 0] = [1.0, 2.0]  # squared errors 1, 4
    target[0, 1] = [0.0, 3.0]  # 0, 9
    target[0, 3] = [100.0, 100.0]  # padding (num_frames = 2 of 4... plus frame 2)
    # valid frames 0..2: (1 + 4 + 0 + 9 + 0 + 0) / (3 frames * 2 channels) = 14 / 6
    got = losses.reconstruction_loss(jnp.asarray(pred), jnp.asarray(target), jnp.array([3]))
    assert float(got) == pytest.approx(14 / 6)


def test_velocity_loss_hand_computed():
    pred = np.array([[[0.0], [1.0], [3.0], [9.0]]], np.float32)  # velocities 1, 2, (6 padded)
    target = np.array([[[0.0], [0.0], [0.0], [0.0]]], np.float32)
    got = losses.velocity_loss(jnp.asarray(pred), jnp.asarray(target), jnp.array([3]))
    assert float(got) == pytest.approx((1.0 + 4.0) / 2)
    # A constant offset has zero velocity error.
    assert float(losses.velocity_loss(jnp.asarray(pred), jnp.asarray(pred + 5.0), jnp.array([4]))) == 0.0


def test_emotion_loss_is_cross_entropy():
    logits = jnp.array([[0.0, np.log(3.0)], [2.0, 2.0]])
    labels = jnp.array([1, 0])
    # item 0: p(label) = 3/4 ; item 1: 1/2
    expected = -(np.log(0.75) + np.log(0.5)) / 2
    assert float(losses.emotion_loss(logits, labels)) == pytest.approx(expected, rel=1e-6)
    assert float(losses.emotion_accuracy(logits, labels)) == pytest.approx(1.0)  # argmax ties pick index 0


def test_losses_equal_for_padded_and_unpadded_batches():
    rng = np.random.default_rng(0)
    a_pred, a_tgt = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    b_pred, b_tgt = rng.standard_normal((8, 3)), rng.standard_normal((8, 3))
    pred = np.zeros((2, 8, 3)), np.zeros((2, 8, 3))
    pred[0][0, :5], pred[1][0, :5] = a_pred, a_tgt
    pred[0][1], pred[1][1] = b_pred, b_tgt
    pred[0][0, 5:] = 42.0
    lengths = jnp.array([5, 8])
    batch_loss = losses.reconstruction_loss(jnp.asarray(pred[0]), jnp.asarray(pred[1]), lengths)
    manual = (np.sum((a_pred - a_tgt) ** 2) + np.sum((b_pred - b_tgt) ** 2)) / (13 * 3)
    assert float(batch_loss) == pytest.approx(manual, rel=1e-5)
    mae = losses.masked_mae(jnp.asarray(pred[0]), jnp.asarray(pred[1]), lengths)
    assert float(mae) == pytest.approx((np.abs(a_pred - a_tgt).sum() + np.abs(b_pred - b_tgt).sum()) / 39, rel=1e-5)
