"""wav2vec2 in Flax NNX, both published variants, with padding masks.

- "layer" CNN + stable (pre-)layer-norm transformer: large / XLSR checkpoints.
- "group" CNN (GroupNorm on the first conv only) + post-layer-norm transformer: base.

Parameter names mirror Hugging Face's `Wav2Vec2Model` (feature_extractor.conv_layers,
feature_projection, encoder.pos_conv_embed, encoder.layers.{i}.attention.q_proj ...), so
conversion is a name mapping plus a layout change (see `voiceemo_jax/conversion`).

Every op that mixes time steps is masked, so a padded batch gives each item exactly the
result it gets alone: the first GroupNorm normalises over valid steps only, padded steps
are zeroed before the positional convolution (as HF does), and attention never reads
padded keys.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from voiceemo_jax.models import sequence_ops
from voiceemo_jax.models.attention import (
    blocked_attention,
    fused_attention,
    fused_implementation,
    use_blocked_attention,
    use_fused_attention,
)

_ACTIVATIONS = {
    "gelu": lambda x: jax.nn.gelu(x, approximate=False),
    "gelu_new": lambda x: jax.nn.gelu(x, approximate=True),
    "gelu_pytorch_tanh": lambda x: jax.nn.gelu(x, approximate=True),
    "relu": jax.nn.relu,
    "swish": jax.nn.silu,
    "silu": jax.nn.silu,
}


def activation(name: str):
    try:
        return _ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unsupported activation {name!r}; known: {sorted(_ACTIVATIONS)}") from None


@dataclasses.dataclass(frozen=True)
class Wav2Vec2Config:
    """The subset of a Hugging Face wav2vec2 `config.json` that decides the computation."""

    hidden_size: int = 1024
    num_hidden_layers: int = 24
    num_attention_heads: int = 16
    intermediate_size: int = 4096
    hidden_act: str = "gelu"
    conv_dim: tuple[int, ...] = (512,) * 7
    conv_kernel: tuple[int, ...] = (10, 3, 3, 3, 3, 2, 2)
    conv_stride: tuple[int, ...] = (5, 2, 2, 2, 2, 2, 2)
    conv_bias: bool = True
    feat_extract_norm: str = "layer"
    feat_extract_activation: str = "gelu"
    do_stable_layer_norm: bool = True
    num_conv_pos_embeddings: int = 128
    num_conv_pos_embedding_groups: int = 16
    layer_norm_eps: float = 1e-5
    hidden_dropout: float = 0.1
    attention_dropout: float = 0.1
    activation_dropout: float = 0.0
    feat_proj_dropout: float = 0.0
    final_dropout: float = 0.0
    # Classification head (emotion encoder only).
    pooling_mode: str = "mean"
    id2label: tuple[str, ...] = ()
    # preprocessor_config.json
    do_normalize: bool = True
    sampling_rate: int = 16_000

    def __post_init__(self):
        if self.feat_extract_norm not in ("layer", "group"):
            raise ValueError(f"feat_extract_norm must be 'layer' or 'group', got {self.feat_extract_norm!r}")
        if not len(self.conv_dim) == len(self.conv_kernel) == len(self.conv_stride):
            raise ValueError("conv_dim, conv_kernel and conv_stride must have the same length")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError("hidden_size must be divisible by num_attention_heads")
        if self.pooling_mode not in ("mean", "sum", "max"):
            raise ValueError(f"pooling_mode must be mean, sum or max, got {self.pooling_mode!r}")

    @property
    def num_labels(self) -> int:
        return len(self.id2label)

    @property
    def receptive_field(self) -> int:
        return sequence_ops.receptive_field(self.conv_kernel, self.conv_stride)

    def cnn_frames(self, num_samples):
        return sequence_ops.conv_output_length(num_samples, self.conv_kernel, self.conv_stride)

    @classmethod
    def from_hf(
        cls, config: Mapping[str, Any], preprocessor: Mapping[str, Any] | None = None, **overrides
    ) -> Wav2Vec2Config:
        """Builds from the dicts of an HF `config.json` (+ `preprocessor_config.json`)."""
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in config.items() if k in fields}
        for key in ("conv_dim", "conv_kernel", "conv_stride"):
            if key in values:
                values[key] = tuple(int(v) for v in values[key])
        id2label = config.get("id2label")
        if id2label:
            values["id2label"] = tuple(str(id2label[k]) for k in sorted(id2label, key=int))
        else:
            values.pop("id2label", None)
        if preprocessor:
            for key in ("do_normalize", "sampling_rate"):
                if key in preprocessor:
                    values[key] = preprocessor[key]
        values.update(overrides)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for key in ("conv_dim", "conv_kernel", "conv_stride", "id2label"):
            out[key] = list(out[key])
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Wav2Vec2Config:
        values = dict(values)
        for key in ("conv_dim", "conv_kernel", "conv_stride", "id2label"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)


class MaskedGroupNorm(nnx.Module):
    """GroupNorm with one group per channel (HF's first conv in the "group" variant),
    normalising each channel over valid time steps only. [batch, time, channels]."""

    def __init__(self, num_channels: int, epsilon: float = 1e-5, *, rngs: nnx.Rngs):
        del rngs
        self.epsilon = epsilon
        self.scale = nnx.Param(jnp.ones((num_channels,), jnp.float32))
        self.bias = nnx.Param(jnp.zeros((num_channels,), jnp.float32))

    def __call__(self, x: jax.Array, mask: jax.Array) -> jax.Array:
        dtype = x.dtype
        # Statistics in float32 whatever the compute dtype: bf16 sums over thousands of steps
        # (a 10 s clip is 3199 steps after the first conv) lose most of their digits.
        x = x.astype(jnp.promote_types(dtype, jnp.float32))
        mask = mask[..., None].astype(x.dtype)
        count = jnp.maximum(jnp.sum(mask, axis=1, keepdims=True), 1.0)
        mean = jnp.sum(x * mask, axis=1, keepdims=True) / count
        variance = jnp.sum(jnp.square(x - mean) * mask, axis=1, keepdims=True) / count
        normed = (x - mean) * jax.lax.rsqrt(variance + self.epsilon)
        return (normed * self.scale[...].astype(x.dtype) + self.bias[...].astype(x.dtype)).astype(dtype)


class ConvLayer(nnx.Module):
    """One CNN block: conv -> (LayerNorm | GroupNorm | nothing) -> activation."""

    def __init__(self, config: Wav2Vec2Config, index: int, *, dtype=None, rngs: nnx.Rngs):
        in_dim = config.conv_dim[index - 1] if index > 0 else 1
        out_dim = config.conv_dim[index]
        self.conv = nnx.Conv(
            in_dim,
            out_dim,
            kernel_size=(config.conv_kernel[index],),
            strides=(config.conv_stride[index],),
            padding="VALID",
            use_bias=config.conv_bias,
            dtype=dtype,
            rngs=rngs,
        )
        self.norm_kind = config.feat_extract_norm if (config.feat_extract_norm == "layer" or index == 0) else None
        if self.norm_kind == "layer":
            self.layer_norm = nnx.LayerNorm(out_dim, epsilon=1e-5, dtype=dtype, rngs=rngs)
        elif self.norm_kind == "group":
            self.layer_norm = MaskedGroupNorm(out_dim, rngs=rngs)
        self.act = config.feat_extract_activation

    def __call__(self, x: jax.Array, mask: jax.Array) -> jax.Array:
        x = self.conv(x)
        if self.norm_kind == "layer":
            x = self.layer_norm(x)
        elif self.norm_kind == "group":
            x = self.layer_norm(x, mask)
        return activation(self.act)(x)


class FeatureEncoder(nnx.Module):
    """The CNN: raw audio [batch, samples] -> [batch, cnn_frames, conv_dim[-1]]."""

    def __init__(self, config: Wav2Vec2Config, *, dtype=None, rngs: nnx.Rngs):
        self.config = config
        self.conv_layers = nnx.List([ConvLayer(config, i, dtype=dtype, rngs=rngs) for i in range(len(config.conv_dim))])

    def __call__(self, audio: jax.Array, num_samples: jax.Array) -> tuple[jax.Array, jax.Array]:
        x = audio[..., None]
        lengths = num_samples
        for layer, kernel, stride in zip(self.conv_layers, self.config.conv_kernel, self.config.conv_stride):
            lengths = (lengths - kernel) // stride + 1
            # Only the output mask matters: valid outputs read valid inputs only.
            padded_frames = (x.shape[1] - kernel) // stride + 1
            x = layer(x, sequence_ops.length_mask(lengths, padded_frames))
        return x, lengths


class FeatureProjection(nnx.Module):
    def __init__(self, config: Wav2Vec2Config, *, dtype=None, rngs: nnx.Rngs):
        self.layer_norm = nnx.LayerNorm(config.conv_dim[-1], epsilon=config.layer_norm_eps, dtype=dtype, rngs=rngs)
        self.projection = nnx.Linear(config.conv_dim[-1], config.hidden_size, dtype=dtype, rngs=rngs)
        self.dropout = nnx.Dropout(config.feat_proj_dropout)

    def __call__(self, features, *, deterministic: bool, rngs=None):
        return self.dropout(self.projection(self.layer_norm(features)), deterministic=deterministic, rngs=rngs)


class WeightNormConv1d(nnx.Module):
    """Grouped Conv1d under `weight_norm(dim=2)`, parameters kept in PyTorch layout.

    weight = weight_g * weight_v / ||weight_v|| with the norm over (out, in) for each
    kernel tap, exactly as `torch.nn.utils.weight_norm(conv, dim=2)`.
    weight_g: [1, 1, K]; weight_v: [out, in/groups, K].
    """

    def __init__(self, channels: int, kernel: int, groups: int, *, rngs: nnx.Rngs):
        self.groups = groups
        self.kernel = kernel
        v = jax.random.normal(rngs.params(), (channels, channels // groups, kernel), jnp.float32)
        v = v * (2.0 / (kernel * channels)) ** 0.5
        self.weight_v = nnx.Param(v)
        self.weight_g = nnx.Param(jnp.sqrt(jnp.sum(v * v, axis=(0, 1), keepdims=True)))
        self.bias = nnx.Param(jnp.zeros((channels,), jnp.float32))

    def __call__(self, x: jax.Array) -> jax.Array:
        v = self.weight_v[...].astype(jnp.float32)  # the norm in float32 (bf16 parameters too)
        norm = jnp.sqrt(jnp.sum(v * v, axis=(0, 1), keepdims=True))
        weight = (self.weight_g[...].astype(jnp.float32) / norm) * v
        pad = self.kernel // 2
        y = jax.lax.conv_general_dilated(
            x,
            weight.astype(x.dtype),
            window_strides=(1,),
            padding=[(pad, pad)],
            dimension_numbers=("NWC", "OIW", "NWC"),
            feature_group_count=self.groups,
        )
        return y + self.bias[...].astype(x.dtype)


class PositionalConvEmbedding(nnx.Module):
    def __init__(self, config: Wav2Vec2Config, *, rngs: nnx.Rngs):
        self.conv = WeightNormConv1d(
            config.hidden_size, config.num_conv_pos_embeddings, config.num_conv_pos_embedding_groups, rngs=rngs
        )
        # HF's SamePad drops the last step when the kernel is even.
        self.trim = 1 if config.num_conv_pos_embeddings % 2 == 0 else 0
        self.act = config.feat_extract_activation

    def __call__(self, x: jax.Array) -> jax.Array:
        y = self.conv(x)
        if self.trim:
            y = y[:, : -self.trim]
        return activation(self.act)(y)


class SelfAttention(nnx.Module):
    """HF Wav2Vec2Attention: separate q/k/v/out projections, scaled dot product."""

    def __init__(self, config: Wav2Vec2Config, *, dtype=None, rngs: nnx.Rngs):
        h = config.hidden_size
        self.num_heads = config.num_attention_heads
        self.q_proj = nnx.Linear(h, h, dtype=dtype, rngs=rngs)
        self.k_proj = nnx.Linear(h, h, dtype=dtype, rngs=rngs)
        self.v_proj = nnx.Linear(h, h, dtype=dtype, rngs=rngs)
        self.out_proj = nnx.Linear(h, h, dtype=dtype, rngs=rngs)
        self.dropout = nnx.Dropout(config.attention_dropout)

    def __call__(self, x, key_mask, *, deterministic: bool, rngs=None):
        batch, length, hidden = x.shape
        head_dim = hidden // self.num_heads

        def heads(t):
            return t.reshape(batch, length, self.num_heads, head_dim)

        q, k, v = heads(self.q_proj(x)), heads(self.k_proj(x)), heads(self.v_proj(x))
        if use_blocked_attention(deterministic):  # inference on CPU: cache-sized pieces
            out = blocked_attention(q * head_dim**-0.5, k, v, key_mask)
            return self.out_proj(out.reshape(batch, length, hidden))
        if use_fused_attention(deterministic):  # inference on GPU: cuDNN's fused kernel (bf16)
            # key_mask is a length mask (a prefix of valid keys), so its count is the length.
            key_lengths = jnp.sum(key_mask, axis=-1, dtype=jnp.int32)
            implementation = fused_implementation(q.dtype)
            out = fused_attention(q * head_dim**-0.5, k, v, key_lengths, implementation=implementation)
            return self.out_proj(out.reshape(batch, length, hidden))
        # float32 logits straight from the matmul: bf16 logits would round before the softmax.
        logits = jnp.einsum("bqhd,bkhd->bhqk", q * head_dim**-0.5, k, preferred_element_type=jnp.float32)
        logits = jnp.where(key_mask[:, None, None, :], logits, jnp.finfo(jnp.float32).min)
        weights = jax.nn.softmax(logits, axis=-1).astype(x.dtype)
        weights = self.dropout(weights, deterministic=deterministic, rngs=rngs)
        out = jnp.einsum("bhqk,bkhd->bqhd", weights, v).reshape(batch, length, hidden)
        return self.out_proj(out)


class FeedForward(nnx.Module):
    def __init__(self, config: Wav2Vec2Config, *, dtype=None, rngs: nnx.Rngs):
        self.intermediate_dense = nnx.Linear(config.hidden_size, config.intermediate_size, dtype=dtype, rngs=rngs)
        self.output_dense = nnx.Linear(config.intermediate_size, config.hidden_size, dtype=dtype, rngs=rngs)
        self.intermediate_dropout = nnx.Dropout(config.activation_dropout)
        self.output_dropout = nnx.Dropout(config.hidden_dropout)
        self.act = config.hidden_act

    def __call__(self, x, *, deterministic: bool, rngs=None):
        x = activation(self.act)(self.intermediate_dense(x))
        x = self.intermediate_dropout(x, deterministic=deterministic, rngs=rngs)
        x = self.output_dense(x)
        return self.output_dropout(x, deterministic=deterministic, rngs=rngs)


class EncoderLayer(nnx.Module):
    """One transformer layer; `stable` selects pre-LN (large/XLSR) over post-LN (base)."""

    def __init__(self, config: Wav2Vec2Config, *, dtype=None, rngs: nnx.Rngs):
        self.stable = config.do_stable_layer_norm
        self.attention = SelfAttention(config, dtype=dtype, rngs=rngs)
        self.dropout = nnx.Dropout(config.hidden_dropout)
        self.layer_norm = nnx.LayerNorm(config.hidden_size, epsilon=config.layer_norm_eps, dtype=dtype, rngs=rngs)
        self.feed_forward = FeedForward(config, dtype=dtype, rngs=rngs)
        self.final_layer_norm = nnx.LayerNorm(config.hidden_size, epsilon=config.layer_norm_eps, dtype=dtype, rngs=rngs)

    def __call__(self, x, key_mask, *, deterministic: bool, rngs=None):
        kwargs = dict(deterministic=deterministic, rngs=rngs)
        if self.stable:
            attended = self.attention(self.layer_norm(x), key_mask, **kwargs)
            x = x + self.dropout(attended, **kwargs)
            return x + self.feed_forward(self.final_layer_norm(x), **kwargs)
        attended = self.attention(x, key_mask, **kwargs)
        x = self.layer_norm(x + self.dropout(attended, **kwargs))
        return self.final_layer_norm(x + self.feed_forward(x, **kwargs))


class Encoder(nnx.Module):
    """Positional conv + transformer stack (HF Wav2Vec2Encoder / ...StableLayerNorm)."""

    def __init__(self, config: Wav2Vec2Config, *, dtype=None, remat: bool = False, rngs: nnx.Rngs):
        self.stable = config.do_stable_layer_norm
        self.remat = remat
        self.pos_conv_embed = PositionalConvEmbedding(config, rngs=rngs)
        self.layer_norm = nnx.LayerNorm(config.hidden_size, epsilon=config.layer_norm_eps, dtype=dtype, rngs=rngs)
        self.dropout = nnx.Dropout(config.hidden_dropout)
        self.layers = nnx.List([EncoderLayer(config, dtype=dtype, rngs=rngs) for _ in range(config.num_hidden_layers)])

    def __call__(self, x, mask, *, deterministic: bool, rngs=None):
        """x: [batch, frames, hidden]; mask: [batch, frames] bool -> [batch, frames, hidden]."""
        x = jnp.where(mask[..., None], x, jnp.zeros((), x.dtype))
        x = x + self.pos_conv_embed(x)
        if not self.stable:
            x = self.layer_norm(x)
        x = self.dropout(x, deterministic=deterministic, rngs=rngs)
        for layer in self.layers:
            if self.remat:
                # The Rngs go in as an argument: a closed-over Rngs would be mutated (its
                # counter advanced by dropout) from inside the remat trace, which NNX refuses.
                x = nnx.remat(lambda module, h, m, r: module(h, m, deterministic=deterministic, rngs=r))(
                    layer, x, mask, rngs
                )
            else:
                x = layer(x, mask, deterministic=deterministic, rngs=rngs)
        if self.stable:
            x = self.layer_norm(x)
        return x


class Wav2Vec2Model(nnx.Module):
    """wav2vec2 with the frame-rate change of the reference model.

    `extract_features` runs the CNN (frozen when `freeze_feature_encoder`), `encode`
    runs feature projection + transformer. Callers resample in between.
    """

    def __init__(
        self,
        config: Wav2Vec2Config,
        *,
        freeze_feature_encoder: bool = True,
        feature_extractor: bool = True,
        dtype=None,
        remat: bool = False,
        rngs: nnx.Rngs,
    ):
        self.config = config
        self.freeze_feature_encoder = freeze_feature_encoder
        # False: no CNN (another front end gives `encode` its features: models/logmel_cnn.py).
        self.feature_extractor = FeatureEncoder(config, dtype=dtype, rngs=rngs) if feature_extractor else None
        self.feature_projection = FeatureProjection(config, dtype=dtype, rngs=rngs)
        self.encoder = Encoder(config, dtype=dtype, remat=remat, rngs=rngs)

    def extract_features(self, audio: jax.Array, num_samples: jax.Array) -> tuple[jax.Array, jax.Array]:
        """audio: [batch, samples] float32 at 16 kHz, num_samples: [batch] int
        -> ([batch, cnn_frames, conv_dim[-1]], [batch] cnn frame counts)."""
        if self.feature_extractor is None:
            raise ValueError("this wav2vec2 was built without its CNN (feature_extractor=False)")
        if self.config.do_normalize:
            audio = sequence_ops.normalize_waveform(audio, num_samples)
        features, lengths = self.feature_extractor(audio, num_samples)
        if self.freeze_feature_encoder:
            features = jax.lax.stop_gradient(features)
        return features, lengths

    def encode(self, features, lengths, *, deterministic: bool = True, rngs=None) -> jax.Array:
        """features: [batch, frames, conv_dim[-1]], lengths: [batch] -> [batch, frames, hidden]."""
        mask = sequence_ops.length_mask(lengths, features.shape[1])
        hidden = self.feature_projection(features, deterministic=deterministic, rngs=rngs)
        hidden = self.encoder(hidden, mask, deterministic=deterministic, rngs=rngs)
        return jnp.where(mask[..., None], hidden, jnp.zeros((), hidden.dtype))
