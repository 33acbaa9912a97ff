"""The training objective: cross-reconstruction triplets (SPEC section 4) or single clips.

Triplet (X11: c1 e1, X12: c1 e2, X21: c2 e1, one speaker):
    out11 = decode(content(X12) -> len(X11), emotion(X21) -> len(X11))  vs targets(X11)  [cross]
    out12 = decode(content(X12), emotion(X12))                           vs targets(X12)  [self]
    emotion classifier on X21                                            vs e1            [emotion]
    + velocity losses on out11 and out12.
Single clips (datasets without emotion pairs, e.g. VOCASET): self + velocity.
Optional emotion consistency (`face_emotion`, a `face_emotion.loading.FrozenFaceEmotion`): the
frozen face classifier reads each predicted animation (out11 should show e1, out12 e2, a
single clip its own emotion) and cross-entropy against that label pushes the synthesizer
to make the emotion visible; gradients stop at the classifier.

Each encoder runs once per clip at the clip's own length; "-> len(X11)" resamples the
encoded features (linear, align_corners) to X11's frame count, the same operation the
model uses to change frame rates.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from voiceemo_jax.models import sequence_ops
from voiceemo_jax.training import losses


def _encode(model, clip, *, deterministic, rngs):
    frames = clip["targets"].shape[1]
    kw = dict(deterministic=deterministic, rngs=rngs)
    content = model.content_encoder(clip["audio"], clip["num_samples"], clip["num_frames"], frames, **kw)
    return content, frames


def _emotion_input(clip):
    """The audio the emotion encoder reads: the clean recording when augmentation kept it
    (`augmentation.CLEAN_KEYS`), else the clip's audio."""
    return clip.get("emotion_audio", clip["audio"]), clip.get("emotion_num_samples", clip["num_samples"])


def _float32(x: jax.Array) -> jax.Array:
    return x.astype(jnp.promote_types(x.dtype, jnp.float32))


def _velocity_and_recon(outputs, clip):
    return (
        losses.reconstruction_loss(outputs, clip["targets"], clip["num_frames"]),
        losses.velocity_loss(outputs, clip["targets"], clip["num_frames"]),
    )


def _add_mouth_opening(total, metrics, weights, outputs, clips):
    """Adds the weighted mouth-opening term over (outputs, clip) pairs when its weight is > 0."""
    weight = weights.get("mouth_opening", 0.0)
    if weight == 0:
        return total
    opening = sum(losses.mouth_opening_loss(out, c["targets"], c["num_frames"]) for out, c in zip(outputs, clips))
    metrics["loss/mouth_opening"] = opening
    return total + weight * opening


def _add_face_emotion(total, metrics, weights, face_emotion, outputs, num_frames, emotions):
    """Adds the weighted emotion-consistency term (and its metrics) when a classifier is given."""
    if face_emotion is None:
        return total
    logits = face_emotion.emotion_logits(outputs, num_frames)
    labels = face_emotion.classifier_labels(emotions)
    consistency, accuracy = losses.face_emotion_consistency_loss(logits, labels)
    metrics["loss/face_emotion"] = consistency
    metrics["face_emotion_accuracy"] = accuracy
    return total + weights.get("face_emotion", 0.0) * consistency


def triplet_objective(model, batch, weights, *, deterministic=False, rngs=None, face_emotion=None):
    """-> (weighted total loss, metrics). batch: {"x11", "x12", "x21"} clip dicts."""
    x11, x12, x21 = batch["x11"], batch["x12"], batch["x21"]
    kw = dict(deterministic=deterministic, rngs=rngs)
    content12, frames = _encode(model, x12, **kw)
    # Emotion of X12 (self) and X21 (cross) in one encoder call.
    (audio12, samples12), (audio21, samples21) = _emotion_input(x12), _emotion_input(x21)
    emotion, logits = model.emotion_encoder(
        jnp.concatenate([audio12, audio21]), jnp.concatenate([samples12, samples21]),
        jnp.concatenate([x12["num_frames"], x21["num_frames"]]), frames, **kw,
    )  # fmt: skip
    batch_size = x12["audio"].shape[0]
    emotion12, emotion21, logits21 = emotion[:batch_size], emotion[batch_size:], logits[batch_size:]

    to_x11 = dict(out_lengths=x11["num_frames"], out_max=frames)
    # Resampled in float32 under a 16-bit compute dtype (bf16 interpolation weights are off
    # by up to 0.4%); the synthesizer's first layer casts back to its compute dtype.
    content12_as_11 = sequence_ops.linear_resample(_float32(content12), x12["num_frames"], **to_x11)
    emotion21_as_11 = sequence_ops.linear_resample(_float32(emotion21), x21["num_frames"], **to_x11)
    synth = model.morph_synthesizer
    out11 = synth(content12_as_11, emotion21_as_11, x11["level"], x11["person"], x11["num_frames"], **kw)
    out12 = synth(content12, emotion12, x12["level"], x12["person"], x12["num_frames"], **kw)

    cross, velocity11 = _velocity_and_recon(out11, x11)
    self_recon, velocity12 = _velocity_and_recon(out12, x12)
    emotion_ce = losses.emotion_loss(logits21, x21["emotion"])
    metrics = {
        "loss/cross_reconstruction": cross,
        "loss/self_reconstruction": self_recon,
        "loss/velocity": velocity11 + velocity12,
        "loss/emotion": emotion_ce,
        "emotion_accuracy": losses.emotion_accuracy(logits21, x21["emotion"]),
    }
    total = (
        weights["cross"] * cross
        + weights["self"] * self_recon
        + weights["velocity"] * (velocity11 + velocity12)
        + weights["emotion"] * emotion_ce
    )
    total = _add_mouth_opening(total, metrics, weights, (out11, out12), (x11, x12))
    # X11 and X12 share one padded length: the classifier reads both outputs in one call.
    total = _add_face_emotion(
        total, metrics, weights, face_emotion, jnp.concatenate([out11, out12]),
        jnp.concatenate([x11["num_frames"], x12["num_frames"]]), jnp.concatenate([x11["emotion"], x12["emotion"]]),
    )  # fmt: skip
    metrics["loss/total"] = total
    return total, metrics


def single_objective(model, batch, weights, *, deterministic=False, rngs=None, face_emotion=None):
    """-> (weighted total loss, metrics). batch: {"x": clip}: self-reconstruction + velocity."""
    x = batch["x"]
    emotion_audio, emotion_num_samples = _emotion_input(x)
    result = model(
        x["audio"], x["num_samples"], x["level"], x["person"], emotion_audio=emotion_audio,
        emotion_num_samples=emotion_num_samples, num_frames=x["num_frames"], max_frames=x["targets"].shape[1],
        deterministic=deterministic, rngs=rngs,
    )  # fmt: skip
    self_recon, velocity = _velocity_and_recon(result["outputs"], x)
    total = weights["self"] * self_recon + weights["velocity"] * velocity
    metrics = {"loss/self_reconstruction": self_recon, "loss/velocity": velocity}
    total = _add_mouth_opening(total, metrics, weights, (result["outputs"],), (x,))
    total = _add_face_emotion(total, metrics, weights, face_emotion, result["outputs"], x["num_frames"], x["emotion"])
    metrics["loss/total"] = total
    return total, metrics


def eval_metrics(model, clip, *, has_emotions: bool, face_emotion=None) -> dict[str, jax.Array]:
    """Validation metrics on single clips with a `valid` row mask: per-row sums, to be
    reduced on the host (so padding rows and uneven batches weigh correctly)."""
    result = model(clip["audio"], clip["num_samples"], clip["level"], clip["person"],
                   num_frames=clip["num_frames"], max_frames=clip["targets"].shape[1])  # fmt: skip
    outputs, targets = result["outputs"], clip["targets"]
    valid = clip["valid"].astype(jnp.float32)
    mask = sequence_ops.length_mask(clip["num_frames"], outputs.shape[1])[..., None].astype(jnp.float32)
    error = (outputs - targets) * mask
    frames = jnp.sum(mask[..., 0], axis=1) * valid
    out = {
        "count/frames": jnp.sum(frames),
        "count/clips": jnp.sum(valid),
        "sum/squared_error": jnp.sum(jnp.sum(jnp.square(error), axis=(1, 2)) * valid) / outputs.shape[-1],
        "sum/absolute_error": jnp.sum(jnp.sum(jnp.abs(error), axis=(1, 2)) * valid) / outputs.shape[-1],
    }
    if has_emotions:
        correct = (jnp.argmax(result["emotion_logits"], axis=-1) == clip["emotion"]).astype(jnp.float32)
        out["sum/emotion_correct"] = jnp.sum(correct * valid)
    if face_emotion is not None:
        labels = face_emotion.classifier_labels(clip["emotion"])
        read = jnp.argmax(face_emotion.emotion_logits(outputs, clip["num_frames"]), axis=-1)
        labelled = valid * (labels >= 0).astype(jnp.float32)
        out["sum/face_emotion_correct"] = jnp.sum((read == labels).astype(jnp.float32) * labelled)
        out["count/face_emotion_clips"] = jnp.sum(labelled)
    return out
