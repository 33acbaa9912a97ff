"""The emotion-separating encoder: a content wav2vec2 and an emotion wav2vec2 + classifier.

Both run the wav2vec2 CNN at ~50 frames/s and change the frame rate before the
transformer (SPEC section 2):
- content: CNN output resampled to `frame_num` (30 fps), then projection + transformer;
- emotion: CNN output resampled to int(T50 / 50 * 30), transformer, then the last hidden
  state resampled to `frame_num`; the classifier pools those frames.

Under a 16-bit compute dtype, resampling (its interpolation weights and the blend) and
pooling run in float32: a bf16 weight is off by up to 0.4%, and a bf16 sum over hundreds
of frames by far more. The resampled float32 features go on into the next layer, which
casts them to the compute dtype itself.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from voiceemo_jax.models import sequence_ops
from voiceemo_jax.models.wav2vec2 import Wav2Vec2Config, Wav2Vec2Model


class ContentEncoder(nnx.Module):
    """audio -> [batch, frames, hidden] content features at 30 fps."""

    def __init__(self, config: Wav2Vec2Config, *, freeze_feature_encoder=True, dtype=None, remat=False, rngs):
        self.wav2vec2 = Wav2Vec2Model(
            config, freeze_feature_encoder=freeze_feature_encoder, dtype=dtype, remat=remat, rngs=rngs
        )

    def __call__(self, audio, num_samples, num_frames, max_frames: int, *, deterministic=True, rngs=None):
        """audio: [batch, samples]; num_samples, num_frames: [batch] int; -> [batch, max_frames, hidden]."""
        features, cnn_lengths = self.wav2vec2.extract_features(audio, num_samples)
        features = sequence_ops.linear_resample(_float32(features), cnn_lengths, num_frames, max_frames)
        return self.wav2vec2.encode(features, num_frames, deterministic=deterministic, rngs=rngs)


class ClassificationHead(nnx.Module):
    """dropout -> dense(H, H) -> tanh -> dropout -> out_proj(H, num_labels)."""

    def __init__(self, config: Wav2Vec2Config, *, dtype=None, rngs):
        self.dense = nnx.Linear(config.hidden_size, config.hidden_size, dtype=dtype, rngs=rngs)
        self.out_proj = nnx.Linear(config.hidden_size, config.num_labels, dtype=dtype, rngs=rngs)
        self.dropout = nnx.Dropout(config.final_dropout)

    def __call__(self, pooled, *, deterministic=True, rngs=None):
        x = self.dropout(pooled, deterministic=deterministic, rngs=rngs)
        x = jnp.tanh(self.dense(x))
        x = self.dropout(x, deterministic=deterministic, rngs=rngs)
        return self.out_proj(x)


def _float32(x: jax.Array) -> jax.Array:
    """x in float32 (or wider): the precision resampling and pooling need."""
    return x.astype(jnp.promote_types(x.dtype, jnp.float32))


def pool_frames(hidden: jax.Array, mask: jax.Array, mode: str) -> jax.Array:
    """Masked temporal pooling. hidden: [batch, frames, H], mask: [batch, frames] -> [batch, H] float32."""
    hidden = _float32(hidden)
    if mode == "mean":
        return sequence_ops.masked_mean(hidden, mask[..., None])
    if mode == "sum":
        return jnp.sum(jnp.where(mask[..., None], hidden, 0.0), axis=1)
    if mode == "max":
        return jnp.max(jnp.where(mask[..., None], hidden, -jnp.inf), axis=1)
    raise ValueError(f"unknown pooling mode {mode!r}")


class EmotionEncoder(nnx.Module):
    """audio -> (emotion features [batch, frames, hidden] at 30 fps, logits [batch, labels])."""

    def __init__(self, config: Wav2Vec2Config, *, freeze_feature_encoder=True, dtype=None, remat=False, rngs):
        if config.num_labels < 1:
            raise ValueError("the emotion encoder's config needs id2label (its emotion labels)")
        self.wav2vec2 = Wav2Vec2Model(
            config, freeze_feature_encoder=freeze_feature_encoder, dtype=dtype, remat=remat, rngs=rngs
        )
        self.classifier = ClassificationHead(config, dtype=dtype, rngs=rngs)
        self.pooling_mode = config.pooling_mode

    def __call__(self, audio, num_samples, num_frames, max_frames: int, *, deterministic=True, rngs=None):
        """audio: [batch, samples]; num_samples, num_frames: [batch] int.

        -> (hidden [batch, max_frames, H] zero past num_frames, logits [batch, num_labels]).
        """
        features, cnn_lengths = self.wav2vec2.extract_features(audio, num_samples)
        mid_lengths = sequence_ops.emotion_mid_length(cnn_lengths)
        mid_max = sequence_ops.emotion_mid_length(features.shape[1])
        features = sequence_ops.linear_resample(_float32(features), cnn_lengths, mid_lengths, mid_max)
        hidden = self.wav2vec2.encode(features, mid_lengths, deterministic=deterministic, rngs=rngs)
        hidden = sequence_ops.linear_resample(_float32(hidden), mid_lengths, num_frames, max_frames)
        mask = sequence_ops.length_mask(num_frames, max_frames)
        logits = self.classifier(pool_frames(hidden, mask, self.pooling_mode), deterministic=deterministic, rngs=rngs)
        return hidden, logits
