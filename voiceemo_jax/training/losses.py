"""Training losses (SPEC section 4), all masked by the padding masks.

Shapes: predictions and targets [batch, frames, dim]; num_frames [batch] int.
Every mean is over valid elements only, so padding never changes a loss value.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from voiceemo_jax import arkit
from voiceemo_jax.models.sequence_ops import length_mask


def reconstruction_loss(predictions: jax.Array, targets: jax.Array, num_frames: jax.Array) -> jax.Array:
    """Mean squared error over valid frames and all channels."""
    mask = length_mask(num_frames, predictions.shape[1])[..., None].astype(predictions.dtype)
    squared = jnp.square(predictions.astype(jnp.float32) - targets.astype(jnp.float32)) * mask
    count = jnp.maximum(jnp.sum(mask) * predictions.shape[-1], 1.0)
    return jnp.sum(squared) / count


def velocity_loss(predictions: jax.Array, targets: jax.Array, num_frames: jax.Array) -> jax.Array:
    """MSE between frame differences x[t] - x[t-1], over pairs of valid frames."""
    pred_velocity = jnp.diff(predictions.astype(jnp.float32), axis=1)
    target_velocity = jnp.diff(targets.astype(jnp.float32), axis=1)
    # Pair (t-1, t) is valid when frame t is: num_frames - 1 pairs per item.
    return reconstruction_loss(pred_velocity, target_velocity, jnp.maximum(num_frames - 1, 0))


def mouth_opening_loss(predictions: jax.Array, targets: jax.Array, num_frames: jax.Array) -> jax.Array:
    """MSE of the mouth opening (`arkit.MOUTH_OPENING_WEIGHTS`, the read-out lip sync is scored on)
    over valid frames; ARKit outputs only ([..., 52])."""
    weights = jnp.asarray(arkit.MOUTH_OPENING_VECTOR, jnp.float32)[:, None]
    return reconstruction_loss(
        predictions.astype(jnp.float32) @ weights, targets.astype(jnp.float32) @ weights, num_frames
    )


def emotion_loss(logits: jax.Array, labels: jax.Array, weights: jax.Array | None = None) -> jax.Array:
    """Cross-entropy of emotion logits [batch, labels] against integer labels [batch]."""
    losses = optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), labels)
    if weights is None:
        return jnp.mean(losses)
    weights = weights.astype(jnp.float32)
    return jnp.sum(losses * weights) / jnp.maximum(jnp.sum(weights), 1.0)


def emotion_accuracy(logits: jax.Array, labels: jax.Array, weights: jax.Array | None = None) -> jax.Array:
    correct = (jnp.argmax(logits, axis=-1) == labels).astype(jnp.float32)
    if weights is None:
        return jnp.mean(correct)
    weights = weights.astype(jnp.float32)
    return jnp.sum(correct * weights) / jnp.maximum(jnp.sum(weights), 1.0)


def masked_mae(predictions: jax.Array, targets: jax.Array, num_frames: jax.Array) -> jax.Array:
    """Mean absolute error over valid frames and channels (the coefficient MAE metric)."""
    mask = length_mask(num_frames, predictions.shape[1])[..., None].astype(jnp.float32)
    absolute = jnp.abs(predictions.astype(jnp.float32) - targets.astype(jnp.float32)) * mask
    return jnp.sum(absolute) / jnp.maximum(jnp.sum(mask) * predictions.shape[-1], 1.0)


def face_emotion_consistency_loss(logits: jax.Array, labels: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Cross-entropy (and accuracy) of a frozen face classifier's logits [B, labels] on the
    predicted coefficients against each clip's classifier label [B] (-1: no label, no loss).

    -> (loss, accuracy), both averaged over the labelled clips.
    """
    weights = (labels >= 0).astype(jnp.float32)
    labels = jnp.maximum(labels, 0)
    return emotion_loss(logits, labels, weights), emotion_accuracy(logits, labels, weights)
