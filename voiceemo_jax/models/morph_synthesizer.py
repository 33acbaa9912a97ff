"""The voice-to-face morph synthesizer: feature fusion + one transformer decoder layer.

SPEC section 3. The decoder layer reproduces PyTorch's post-norm
`nn.TransformerDecoderLayer(batch_first=True, activation="relu")`, with the periodic
ALiBi bias on self-attention and the one-to-one alignment mask on cross-attention,
both computed for the length at hand (the release's 4 x 5000 x 5000 table is gone).

One module serves every path: training, whole-clip inference, and, with a key/value
cache (`KVCache`), block-by-block decoding of long clips and streams.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx, struct

from voiceemo_jax.models import sequence_ops
from voiceemo_jax.models.attention import blocked_attention, use_blocked_attention


@dataclasses.dataclass(frozen=True)
class MorphSynthesizerConfig:
    """Sizes of the fusion and decoder. Release defaults; a checkpoint's shapes decide."""

    content_dim: int = 512  # audio_feature_map_cont output
    emotion_dim: int = 832  # audio_feature_map_emo output = decoder d_model = memory width
    emotion_tgt_dim: int = 256  # audio_feature_map_emo2 output
    level_dim: int = 32
    person_dim: int = 32
    num_levels: int = 2
    num_persons: int = 24
    num_heads: int = 4
    feedforward_dim: int = 832
    period: int = 30
    dropout: float = 0.1
    layer_norm_eps: float = 1e-5
    output_dim: int = 52  # 52 ARKit coefficients, or V*3 vertex offsets

    def __post_init__(self):
        tgt = self.content_dim + self.emotion_tgt_dim + self.level_dim + self.person_dim
        if tgt != self.emotion_dim:
            raise ValueError(
                f"decoder widths disagree: content {self.content_dim} + emotion {self.emotion_tgt_dim} + level "
                f"{self.level_dim} + person {self.person_dim} = {tgt}, but d_model (emotion_dim) is {self.emotion_dim}"
            )
        if self.emotion_dim % self.num_heads:
            raise ValueError(f"d_model {self.emotion_dim} is not divisible by {self.num_heads} heads")

    @property
    def d_model(self) -> int:
        return self.emotion_dim

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class KVCache(struct.PyTreeNode):
    """The decoder's self-attention keys and values of the frames decoded so far.

    The morph synthesizer is causal: self-attention sees frames j <= i, cross-attention
    memory frame i only, everything else is per frame. So output frame i is final as soon
    as the features up to frame i exist, and a clip or stream can be decoded block by block,
    each block attending to the cached keys/values of every earlier frame (windowed and
    streaming inference, `inference/windows.py`).

    The whole history is kept, not a sliding window: the periodic ALiBi bias decays by only
    `slope * floor(distance / 30)`, and with the smallest slope 1/256 a frame one minute back
    is down-weighted by exp(-60/256) = 0.79, so truncating the history would change outputs.
    The cost is 2 * d_model float32 per frame (6.7 KB at the release's d_model 832: 0.12 GB
    per 10 minutes, 0.72 GB per hour), the only decoder state that grows with length.

    keys, values: [B, capacity, heads, head_dim]; rows at and past `length` are unused.
    length: [B] int32, the frames each item holds.
    """

    keys: jax.Array
    values: jax.Array
    length: jax.Array

    @classmethod
    def empty(cls, config: MorphSynthesizerConfig, batch: int, capacity: int, dtype=jnp.float32) -> KVCache:
        shape = (batch, capacity, config.num_heads, config.d_model // config.num_heads)
        return cls(jnp.zeros(shape, dtype), jnp.zeros(shape, dtype), jnp.zeros((batch,), jnp.int32))

    @property
    def capacity(self) -> int:
        return self.keys.shape[1]

    def grown(self, capacity: int) -> KVCache:
        """The same frames in a cache of `capacity` rows (>= the current one)."""
        pad = ((0, 0), (0, capacity - self.capacity), (0, 0), (0, 0))
        return self.replace(keys=jnp.pad(self.keys, pad), values=jnp.pad(self.values, pad))

    def write(self, keys: jax.Array, values: jax.Array) -> KVCache:
        """keys, values: [B, T, heads, head_dim] stored at rows length .. length + T - 1 of each
        item (`length` unchanged: the caller advances it by the frames that are valid). The
        capacity must hold length + T rows: dynamic_update_slice would shift a write that
        does not fit."""

        def store(cache, new, start):
            return jax.lax.dynamic_update_slice(cache, new.astype(cache.dtype), (start, 0, 0))

        return self.replace(
            keys=jax.vmap(store)(self.keys, keys, self.length),
            values=jax.vmap(store)(self.values, values, self.length),
        )


class TorchMultiheadAttention(nnx.Module):
    """nn.MultiheadAttention (batch_first): packed q/k/v `in_proj`, then `out_proj`."""

    def __init__(self, d_model: int, num_heads: int, dropout: float, *, dtype=None, rngs):
        self.num_heads = num_heads
        self.in_proj = nnx.Linear(d_model, 3 * d_model, dtype=dtype, rngs=rngs)
        self.out_proj = nnx.Linear(d_model, d_model, dtype=dtype, rngs=rngs)
        self.dropout = nnx.Dropout(dropout)

    def project(self, x, part: int):
        """One of the packed projections (0 q, 1 k, 2 v). x: [B, T, D] -> [B, T, D]."""
        d_model = x.shape[-1]
        columns = slice(part * d_model, (part + 1) * d_model)
        kernel, in_bias = self.in_proj.kernel[...], self.in_proj.bias[...]
        return x @ kernel[:, columns].astype(x.dtype) + in_bias[columns].astype(x.dtype)

    def __call__(self, query, memory, bias, *, cache: KVCache | None = None, deterministic=True, rngs=None):
        """query: [B, Tq, D], memory: [B, Tk, D], bias: additive, broadcastable to [B, heads, Tq, Tk],
        or a function of query positions [rows] -> [heads, rows, Tk] (blocked attention, inference).

        cache (self-attention): memory's keys/values are written into it after its cached
        frames, and the queries attend over all its rows (Tk = its capacity; `bias` masks
        the unused ones) -> ([B, Tq, D], the updated cache). Without one -> [B, Tq, D].
        """
        head_dim = query.shape[-1] // self.num_heads

        def project(x, part):
            return self.project(x, part).reshape(*x.shape[:2], self.num_heads, head_dim)

        q = project(query, 0) * head_dim**-0.5
        k, v = project(memory, 1), project(memory, 2)
        if cache is not None:
            cache = cache.write(k, v)
            k, v = cache.keys.astype(k.dtype), cache.values.astype(v.dtype)
        if callable(bias):
            out = blocked_attention(q, k, v, position_bias=bias)
        else:
            logits = jnp.einsum("bqhd,bkhd->bhqk", q, k).astype(jnp.float32) + bias
            weights = jax.nn.softmax(logits, axis=-1).astype(query.dtype)
            weights = self.dropout(weights, deterministic=deterministic, rngs=rngs)
            out = jnp.einsum("bhqk,bkhd->bqhd", weights, v)
        out = self.out_proj(out.reshape(query.shape))
        return out if cache is None else (out, cache)

    def aligned(self, memory):
        """Attention under the one-to-one alignment mask, without dropout: each query's only
        visible key gets softmax weight exactly 1, so the result is out_proj(v(memory)),
        bit for bit what the masked softmax gives, at none of its [Tq, Tk] cost."""
        return self.out_proj(self.project(memory, 2))


class DecoderLayer(nnx.Module):
    """Post-norm decoder layer: self-attn, cross-attn, ReLU feed-forward, each + residual + LN."""

    def __init__(self, config: MorphSynthesizerConfig, *, dtype=None, rngs):
        d, eps = config.d_model, config.layer_norm_eps
        self.self_attn = TorchMultiheadAttention(d, config.num_heads, config.dropout, dtype=dtype, rngs=rngs)
        self.multihead_attn = TorchMultiheadAttention(d, config.num_heads, config.dropout, dtype=dtype, rngs=rngs)
        self.linear1 = nnx.Linear(d, config.feedforward_dim, dtype=dtype, rngs=rngs)
        self.linear2 = nnx.Linear(config.feedforward_dim, d, dtype=dtype, rngs=rngs)
        self.norm1 = nnx.LayerNorm(d, epsilon=eps, dtype=dtype, rngs=rngs)
        self.norm2 = nnx.LayerNorm(d, epsilon=eps, dtype=dtype, rngs=rngs)
        self.norm3 = nnx.LayerNorm(d, epsilon=eps, dtype=dtype, rngs=rngs)
        self.dropout = nnx.Dropout(config.dropout)

    def __call__(self, tgt, memory, self_bias, cross_bias, *, cache: KVCache | None = None, deterministic=True,
                 rngs=None):  # fmt: skip
        """tgt, memory: [B, T, D]; self_bias: see TorchMultiheadAttention; cross_bias: the alignment
        mask as an additive bias, or None for its exact shortcut; cache: the self-attention's
        KVCache -> [B, T, D], or ([B, T, D], the updated cache) when given one."""
        kw = dict(deterministic=deterministic, rngs=rngs)
        attended = self.self_attn(tgt, tgt, self_bias, cache=cache, **kw)
        if cache is not None:
            attended, cache = attended
        x = self.norm1(tgt + self.dropout(attended, **kw))
        if cross_bias is None:  # the alignment mask, at inference (see `aligned`)
            x = self.norm2(x + self.multihead_attn.aligned(memory))
        else:
            x = self.norm2(x + self.dropout(self.multihead_attn(x, memory, cross_bias, **kw), **kw))
        hidden = self.dropout(jax.nn.relu(self.linear1(x)), **kw)
        x = self.norm3(x + self.dropout(self.linear2(hidden), **kw))
        return x if cache is None else (x, cache)


class MorphSynthesizer(nnx.Module):
    """Fuses content, emotion, level and person, decodes per-frame outputs.

    Names mirror the release (audio_feature_map_cont, obj_vector_level, bs_map_r ...).
    """

    def __init__(self, config: MorphSynthesizerConfig, content_hidden: int, emotion_hidden: int, *, dtype=None, rngs):
        self.config = config
        self.audio_feature_map_cont = nnx.Linear(content_hidden, config.content_dim, dtype=dtype, rngs=rngs)
        self.audio_feature_map_emo = nnx.Linear(emotion_hidden, config.emotion_dim, dtype=dtype, rngs=rngs)
        self.audio_feature_map_emo2 = nnx.Linear(config.emotion_dim, config.emotion_tgt_dim, dtype=dtype, rngs=rngs)
        self.obj_vector_level = nnx.Linear(config.num_levels, config.level_dim, dtype=dtype, rngs=rngs)
        self.obj_vector_person = nnx.Linear(config.num_persons, config.person_dim, dtype=dtype, rngs=rngs)
        self.transformer_decoder = DecoderLayer(config, dtype=dtype, rngs=rngs)
        # The release zero-initialises the head: training starts from the neutral face.
        self.bs_map_r = nnx.Linear(
            config.d_model, config.output_dim, kernel_init=nnx.initializers.zeros, dtype=dtype, rngs=rngs
        )

    def fuse(self, content, emotion, level, person):
        """The decoder's inputs. content: [B, T, Hc]; emotion: [B, T, He]; level, person: [B] int
        or [B, n] one-hot weights -> (tgt [B, T, d_model]: content, emotion, level and person
        side by side; memory [B, T, d_model]: the emotion alone, for cross-attention)."""
        batch, frames = content.shape[:2]
        c = self.config
        level = jax.nn.one_hot(level, c.num_levels, dtype=content.dtype) if level.ndim == 1 else level
        person = jax.nn.one_hot(person, c.num_persons, dtype=content.dtype) if person.ndim == 1 else person
        memory = self.audio_feature_map_emo(emotion)
        emo_tgt = jax.nn.relu(self.audio_feature_map_emo2(memory))
        level_vec = jnp.broadcast_to(self.obj_vector_level(level)[:, None], (batch, frames, c.level_dim))
        person_vec = jnp.broadcast_to(self.obj_vector_person(person)[:, None], (batch, frames, c.person_dim))
        tgt = jnp.concatenate([self.audio_feature_map_cont(content), emo_tgt, level_vec, person_vec], axis=-1)
        return tgt, memory

    def __call__(
        self, content, emotion, level, person, num_frames, *, cache: KVCache | None = None, deterministic=True,
        rngs=None,
    ):  # fmt: skip
        """content: [B, T, Hc]; emotion: [B, T, He]; level, person: [B] int or [B, n] one-hot
        weights; num_frames: [B] int -> [B, T, output_dim], zero past each item's frames.

        cache: the KVCache of each item's earlier frames (block-by-block decoding): these T
        frames continue them, and the result is (outputs, the cache advanced by num_frames).
        Frames past num_frames are scratch: the next call's frames overwrite their keys.
        """
        frames = content.shape[1]
        c = self.config
        tgt, memory = self.fuse(content, emotion, level, person)

        if cache is not None:  # each item's next positions, against every cache row (unused ones masked)
            keys = jnp.arange(cache.capacity)
            positions = cache.length[:, None] + jnp.arange(frames)
            self_bias = jax.vmap(lambda rows: sequence_ops.periodic_alibi_bias_at(c.num_heads, rows, keys, c.period))(
                positions
            )
        elif use_blocked_attention(deterministic):  # the bias per block of queries, never [heads, T, T]
            keys = jnp.arange(frames)
            self_bias = lambda rows: sequence_ops.periodic_alibi_bias_at(c.num_heads, rows, keys, c.period)  # noqa: E731
        else:
            self_bias = sequence_ops.periodic_alibi_bias(c.num_heads, frames, c.period)[None]
        cross_bias = None  # inference: the alignment mask's exact shortcut (DecoderLayer)
        if not deterministic:  # training keeps the masked softmax: dropout acts on its weights
            cross_bias = jnp.where(sequence_ops.alignment_mask(frames, frames), 0.0, -jnp.inf)[None, None]
        decoded = self.transformer_decoder(
            tgt, memory, self_bias, cross_bias, cache=cache, deterministic=deterministic, rngs=rngs
        )
        if cache is not None:
            decoded, cache = decoded
        out = self.bs_map_r(decoded)
        valid = sequence_ops.length_mask(num_frames, frames)[..., None]
        out = jnp.where(valid, out, jnp.zeros((), out.dtype))
        return out if cache is None else (out, cache.replace(length=(cache.length + num_frames).astype(jnp.int32)))
