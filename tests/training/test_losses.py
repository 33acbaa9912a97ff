"""Each loss term against a hand-computed value, and padding invariance."""

import jax
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


def test_mouth_opening_loss_fits_the_lip_sync_read_out_only():
    from voiceemo_jax.arkit import INDEX, NUM_BLENDSHAPES
    from voiceemo_jax.evaluation import lip_sync

    rng = np.random.default_rng(1)
    target = rng.uniform(0, 1, (2, 5, NUM_BLENDSHAPES)).astype(np.float32)
    pred = target.copy()
    # Opening the jaw and closing the lips by as much keeps the opening: no loss, though MSE sees it.
    pred[:, :, INDEX["jawOpen"]] += 0.2
    pred[:, :, INDEX["mouthClose"]] += 0.2
    pred[:, :, INDEX["browInnerUp"]] += 0.5
    lengths = jnp.array([5, 3])
    unchanged = losses.mouth_opening_loss(jnp.asarray(pred), jnp.asarray(target), lengths)
    assert float(unchanged) == pytest.approx(0, abs=1e-10)
    assert float(losses.reconstruction_loss(jnp.asarray(pred), jnp.asarray(target), lengths)) > 0
    # One valid frame off by 0.3 in jawOpen and 0.4 in the lower lips (0.25 each: +0.2); padding ignored.
    pred = target.copy()
    pred[0, 1, INDEX["jawOpen"]] += 0.3
    pred[0, 1, [INDEX["mouthLowerDownLeft"], INDEX["mouthLowerDownRight"]]] += 0.4
    pred[1, 4, INDEX["jawOpen"]] += 9.0  # padding of the 3-frame clip
    got = losses.mouth_opening_loss(jnp.asarray(pred), jnp.asarray(target), lengths)
    assert float(got) == pytest.approx(0.5**2 / 8, rel=1e-5)
    # The same read-out lip sync is scored on.
    difference = lip_sync.mouth_opening(pred[0]) - lip_sync.mouth_opening(target[0])
    assert np.abs(difference).max() == pytest.approx(0.5, rel=1e-5)


def test_the_objective_adds_the_weighted_mouth_opening_term():
    from flax import nnx

    from voiceemo_jax.models import presets
    from voiceemo_jax.models.voiceemo import VoiceEmo
    from voiceemo_jax.testing.batches import synthetic_triplet_batch
    from voiceemo_jax.training import objective

    model = VoiceEmo(presets.model_config("tiny"), rngs=nnx.Rngs(0))
    batch = jax.tree.map(jnp.asarray, synthetic_triplet_batch(2, samples=4000))
    weights = {"cross": 1.0, "self": 1.0, "velocity": 0.5, "emotion": 0.1}
    off, off_metrics = objective.triplet_objective(model, batch, weights, deterministic=True)
    on, on_metrics = objective.triplet_objective(model, batch, dict(weights, mouth_opening=2.0), deterministic=True)
    assert "loss/mouth_opening" not in off_metrics
    term = float(on_metrics["loss/mouth_opening"])
    assert term > 0
    assert float(on) - float(off) == pytest.approx(2.0 * term, rel=1e-4)


def test_a_mouth_opening_weight_needs_arkit_outputs():
    from configs.tiny import get_config
    from voiceemo_jax.errors import UserError
    from voiceemo_jax.training import trainer

    config = get_config()
    config.loss.mouth_opening = 1.0
    trainer._check_mouth_opening(config, 52)
    with pytest.raises(UserError, match="52 ARKit"):
        trainer._check_mouth_opening(config, 5023 * 3)
    config.loss.mouth_opening = -1.0
    with pytest.raises(UserError, match=">= 0"):
        trainer._check_mouth_opening(config, 52)


def test_the_emotion_encoder_reads_the_clean_audio_that_augmentation_kept():
    from flax import nnx

    from voiceemo_jax.models import presets
    from voiceemo_jax.models.voiceemo import VoiceEmo
    from voiceemo_jax.testing.batches import synthetic_triplet_batch
    from voiceemo_jax.training import objective

    model = VoiceEmo(presets.model_config("tiny"), rngs=nnx.Rngs(0))
    clean = jax.tree.map(jnp.asarray, synthetic_triplet_batch(2, samples=4000))
    noise = jax.random.normal(jax.random.key(0), clean["x21"]["audio"].shape) * 0.3
    weights = {"cross": 1.0, "self": 1.0, "velocity": 0.5, "emotion": 1.0}

    def loss_with_noisy_x21(keep_clean: bool):
        x21 = dict(clean["x21"], audio=clean["x21"]["audio"] + noise)
        if keep_clean:
            x21.update(emotion_audio=clean["x21"]["audio"], emotion_num_samples=clean["x21"]["num_samples"])
        _, metrics = objective.triplet_objective(model, dict(clean, x21=x21), weights, deterministic=True)
        return float(metrics["loss/emotion"])

    _, reference = objective.triplet_objective(model, clean, weights, deterministic=True)
    # X21 feeds the emotion encoder only: with its clean audio kept, the loss is the clean batch's.
    assert loss_with_noisy_x21(True) == pytest.approx(float(reference["loss/emotion"]), rel=1e-6)
    assert loss_with_noisy_x21(False) != pytest.approx(float(reference["loss/emotion"]), rel=1e-3)

    # A freshly built synthesizer ignores its emotion input (zero-initialised projection): perturb it.
    graph, params, rest = nnx.split(model, nnx.Param, ...)
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.key(1), len(leaves))
    leaves = [leaf + 0.05 * jax.random.normal(k, leaf.shape, leaf.dtype) for leaf, k in zip(leaves, keys)]
    model = nnx.merge(graph, jax.tree.unflatten(tree, leaves), rest)
    x = dict(clean["x12"], audio=clean["x12"]["audio"] + noise)
    kept = dict(x, emotion_audio=clean["x12"]["audio"], emotion_num_samples=clean["x12"]["num_samples"])
    outputs = model(x["audio"], x["num_samples"], x["level"], x["person"], emotion_audio=clean["x12"]["audio"],
                    emotion_num_samples=clean["x12"]["num_samples"], num_frames=x["num_frames"],
                    max_frames=x["targets"].shape[1])["outputs"]  # fmt: skip
    expected = losses.reconstruction_loss(outputs, x["targets"], x["num_frames"]) + 0.5 * losses.velocity_loss(
        outputs, x["targets"], x["num_frames"]
    )
    total_kept, _ = objective.single_objective(model, {"x": kept}, weights, deterministic=True)
    total_noisy, _ = objective.single_objective(model, {"x": x}, weights, deterministic=True)
    assert float(total_kept) == pytest.approx(float(expected), rel=1e-6)
    assert float(total_noisy) != pytest.approx(float(expected), rel=1e-4)
