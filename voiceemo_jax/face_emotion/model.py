"""Emotion read from the face: a classifier over per-frame face coefficients.

    coefficients [B, T, D] --normalise--> input_projection --> temporal_convs (residual, masked)
        --> attention pooling + mean pooling over the valid frames --> dense
            --> emotion_head [B, emotions]
            \\-> level_head [B, levels]     (optional)

D is 52 (ARKit blendshapes) or V*3 (vertex offsets). Trained on ground-truth target
sequences (`face_emotion/training.py`), it then reads the emotion a *generated*
animation shows: an evaluation metric, a frozen consistency loss for the synthesizer, and
the "emotion read from the face" of a prediction.

Padding never changes the result: padded frames are zeroed before every convolution
(exactly the zeros SAME padding puts past the end of an unpadded sequence) and excluded
from both poolings, so any length, padded or not, gives the same logits.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from voiceemo_jax.models.sequence_ops import length_mask, masked_mean


@dataclasses.dataclass(frozen=True)
class FaceEmotionConfig:
    """Sizes and label vocabularies; `level_labels` empty means no level head."""

    input_dim: int = 52
    emotion_labels: tuple[str, ...] = ()
    level_labels: tuple[str, ...] = ()
    hidden_dim: int = 64
    num_conv_layers: int = 2
    conv_kernel: int = 5  # frames: 5 at 30 fps sees ~170 ms, about one syllable
    dropout: float = 0.1

    def __post_init__(self):
        object.__setattr__(self, "emotion_labels", tuple(str(x) for x in self.emotion_labels))
        object.__setattr__(self, "level_labels", tuple(str(x) for x in self.level_labels))
        if len(self.emotion_labels) < 2:
            raise ValueError(f"a face-emotion classifier needs at least 2 emotion labels, got {self.emotion_labels}")
        if len(self.level_labels) == 1:
            raise ValueError("a level head needs at least 2 level labels (or none for no level head)")
        if min(self.input_dim, self.hidden_dim, self.conv_kernel) < 1 or self.num_conv_layers < 0:
            raise ValueError(f"invalid face-emotion classifier sizes: {self}")

    @property
    def has_level_head(self) -> bool:
        return bool(self.level_labels)

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["emotion_labels"] = list(self.emotion_labels)
        values["level_labels"] = list(self.level_labels)
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> FaceEmotionConfig:
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown face-emotion classifier config keys {unknown}")
        return cls(**values)


class InputStatistic(nnx.Variable):
    """Input normalisation measured on the training targets; part of the checkpoint, never
    changed by gradients (training differentiates `nnx.Param` only)."""


def attention_pool(hidden: jax.Array, scores: jax.Array, valid: jax.Array) -> jax.Array:
    """Softmax-weighted mean over valid frames. hidden: [B, T, H]; scores, valid: [B, T] -> [B, H].

    Masked scores use the most negative finite float, not -inf: an item with no valid frame
    then gets uniform weights over its (zeroed) frames, i.e. zeros, instead of NaN.
    """
    scores = jnp.where(valid, scores.astype(jnp.float32), jnp.finfo(jnp.float32).min)
    weights = jax.nn.softmax(scores, axis=1)
    return jnp.einsum("bt,bth->bh", weights, hidden)


class FaceEmotionClassifier(nnx.Module):
    def __init__(self, config: FaceEmotionConfig, *, rngs: nnx.Rngs):
        self.config = config
        hidden = config.hidden_dim
        self.input_mean = InputStatistic(jnp.zeros((config.input_dim,), jnp.float32))
        self.input_scale = InputStatistic(jnp.ones((), jnp.float32))
        self.input_projection = nnx.Linear(config.input_dim, hidden, rngs=rngs)
        self.conv_norms = nnx.List([nnx.LayerNorm(hidden, rngs=rngs) for _ in range(config.num_conv_layers)])
        self.temporal_convs = nnx.List(
            [
                nnx.Conv(hidden, hidden, kernel_size=(config.conv_kernel,), padding="SAME", rngs=rngs)
                for _ in range(config.num_conv_layers)
            ]
        )
        self.attention_score = nnx.Linear(hidden, 1, rngs=rngs)
        self.dense = nnx.Linear(2 * hidden, hidden, rngs=rngs)
        self.emotion_head = nnx.Linear(hidden, len(config.emotion_labels), rngs=rngs)
        self.level_head = nnx.Linear(hidden, len(config.level_labels), rngs=rngs) if config.has_level_head else None
        self.dropout = nnx.Dropout(config.dropout)

    def set_input_statistics(self, mean, scale) -> None:
        """mean: [D] per-channel mean of the training targets; scale: scalar spread (> 0)."""
        self.input_mean[...] = jnp.asarray(mean, jnp.float32).reshape(self.config.input_dim)
        self.input_scale[...] = jnp.asarray(scale, jnp.float32).reshape(())

    def __call__(
        self, coefficients: jax.Array, num_frames: jax.Array, *, deterministic: bool = True, rngs=None
    ) -> dict[str, jax.Array]:
        """coefficients: [B, T, D] float; num_frames: [B] int (frames past it are ignored).

        -> {"emotion_logits": [B, emotions]} plus "level_logits": [B, levels] with a level head.
        Always computes in float32 (the classifier is small; bf16 synthesizer outputs are cast).
        """
        kw = dict(deterministic=deterministic, rngs=rngs)
        valid = length_mask(num_frames, coefficients.shape[1])
        valid3 = valid[..., None]
        x = (coefficients.astype(jnp.float32) - self.input_mean[...]) / self.input_scale[...]
        hidden = jnp.where(valid3, self.input_projection(x), 0.0)
        for norm, conv in zip(self.conv_norms, self.temporal_convs):
            # Pre-norm residual block. The convolution's input is zero past each item's end,
            # as SAME padding is past the end of an unpadded sequence: padding cannot leak in.
            update = conv(jnp.where(valid3, jax.nn.gelu(norm(hidden)), 0.0))
            hidden = jnp.where(valid3, hidden + self.dropout(update, **kw), 0.0)
        scores = self.attention_score(hidden)[..., 0]
        pooled = jnp.concatenate([attention_pool(hidden, scores, valid), masked_mean(hidden, valid3)], axis=-1)
        features = self.dropout(jax.nn.relu(self.dense(pooled)), **kw)
        out = {"emotion_logits": self.emotion_head(features)}
        if self.level_head is not None:
            out["level_logits"] = self.level_head(features)
        return out
