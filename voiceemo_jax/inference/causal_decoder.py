"""Exact incremental evaluation of the morph synthesizer, with a key/value cache.

The morph synthesizer (SPEC section 3) is causal: self-attention sees frames j <= i,
cross-attention sees memory frame i only, and everything else is per frame. So output
frame i is final as soon as encoder features up to frame i exist, and the decoder can
run block by block, each block attending to the cached keys/values of all earlier
frames. That is what long-file (windowed) and streaming inference both do.

The whole history is kept, not a sliding window: the periodic ALiBi bias decays by
only `slope * floor(distance / 30)`, and with the smallest slope 1/256 a frame one minute
back is down-weighted by exp(-60/256) = 0.79, so truncating the history would change
outputs. The cost is 2 * d_model float32 per frame (6.7 KB at the release's d_model
832: 0.12 GB per 10 minutes, 0.72 GB per hour), the only state that grows with length.

The math below mirrors `morph_synthesizer.DecoderLayer` / `TorchMultiheadAttention` on
that module's own parameters; `tests/inference/test_causal_decoder.py` checks it
against the module on a whole sequence.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from voiceemo_jax.models import sequence_ops

# Cache capacities are powers of two times this many frames (68 s): a stream compiles
# one attention program per capacity, so log2(hours) programs in all.
MIN_CACHE_FRAMES = 2048


@functools.partial(jax.jit, static_argnums=(0,), donate_argnums=(2, 3))
def _decode_block(graphdef, params, key_cache, value_cache, start, content, emotion, level, person):
    """One block of Q frames starting at frame `start`.

    key_cache, value_cache: [capacity, heads, head_dim] (frames >= start are unused);
    content: [Q, Hc]; emotion: [Q, He]; level, person: [] int.
    -> (outputs [Q, output_dim], updated caches). Rows past the valid frames of a short
    final block are computed on zeros and overwritten by the next block's keys.
    """
    synth = nnx.merge(graphdef, params)
    c = synth.config
    layer = synth.transformer_decoder
    frames = content.shape[0]
    heads, head_dim = c.num_heads, c.d_model // c.num_heads

    # Fusion, as MorphSynthesizer.__call__ does for a batch of one.
    level_vec = synth.obj_vector_level(jax.nn.one_hot(level, c.num_levels, dtype=content.dtype))
    person_vec = synth.obj_vector_person(jax.nn.one_hot(person, c.num_persons, dtype=content.dtype))
    emo_memory = synth.audio_feature_map_emo(emotion)
    emo_tgt = jax.nn.relu(synth.audio_feature_map_emo2(emo_memory))
    tgt = jnp.concatenate(
        [
            synth.audio_feature_map_cont(content),
            emo_tgt,
            jnp.broadcast_to(level_vec, (frames, c.level_dim)),
            jnp.broadcast_to(person_vec, (frames, c.person_dim)),
        ],
        axis=-1,
    )

    # Causal self-attention over everything decoded so far plus this block.
    attention = layer.self_attn
    q = (attention.project(tgt, 0) * head_dim**-0.5).reshape(frames, heads, head_dim)
    k = attention.project(tgt, 1).reshape(frames, heads, head_dim)
    v = attention.project(tgt, 2).reshape(frames, heads, head_dim)
    key_cache = jax.lax.dynamic_update_slice(key_cache, k, (start, 0, 0))
    value_cache = jax.lax.dynamic_update_slice(value_cache, v, (start, 0, 0))
    positions = start + jnp.arange(frames)
    bias = sequence_ops.periodic_alibi_bias_at(heads, positions, jnp.arange(key_cache.shape[0]), c.period)
    logits = jnp.einsum("qhd,khd->hqk", q, key_cache).astype(jnp.float32) + bias
    weights = jax.nn.softmax(logits, axis=-1).astype(tgt.dtype)
    attended = jnp.einsum("hqk,khd->qhd", weights, value_cache).reshape(frames, c.d_model)
    x = layer.norm1(tgt + attention.out_proj(attended))

    # The alignment mask leaves one key per query: cross-attention is its exact shortcut.
    x = layer.norm2(x + layer.multihead_attn.aligned(emo_memory))
    x = layer.norm3(x + layer.linear2(jax.nn.relu(layer.linear1(x))))
    return synth.bs_map_r(x), key_cache, value_cache


class CausalDecoder:
    """Decodes one clip or stream frame by frame in blocks; output i depends on frames <= i.

    Feed encoder features in time order with `__call__`; each call returns the decoder
    outputs of exactly the frames it was given. Not thread-safe.
    """

    def __init__(self, model, *, level: int, person: int, block_frames: int):
        """model: a VoiceEmo; block_frames: the static block size Q (calls are padded to it)."""
        self.graphdef, self.params = nnx.split(model.morph_synthesizer)
        self.config = model.config.synthesizer
        self.block_frames = int(block_frames)
        self.level = jnp.asarray(level, jnp.int32)
        self.person = jnp.asarray(person, jnp.int32)
        self.num_frames = 0  # frames decoded so far
        self._keys = self._values = None

    @property
    def cache_frames(self) -> int:
        return 0 if self._keys is None else int(self._keys.shape[0])

    def _ensure_capacity(self, frames: int) -> None:
        """Grows the caches (doubling) so that `frames` rows fit."""
        capacity = max(self.cache_frames, MIN_CACHE_FRAMES)
        while capacity < frames:
            capacity *= 2
        if capacity == self.cache_frames:
            return
        heads = self.config.num_heads
        shape = (capacity, heads, self.config.d_model // heads)
        keys, values = jnp.zeros(shape, jnp.float32), jnp.zeros(shape, jnp.float32)
        if self._keys is not None:
            keys = keys.at[: self.cache_frames].set(self._keys)
            values = values.at[: self.cache_frames].set(self._values)
        self._keys, self._values = keys, values

    def __call__(self, content: np.ndarray, emotion: np.ndarray) -> np.ndarray:
        """content: [n, Hc], emotion: [n, He] for the next n frames -> [n, output_dim] float32."""
        if len(content) != len(emotion):
            raise ValueError(f"content has {len(content)} frames but emotion has {len(emotion)}")
        outputs = []
        for begin in range(0, len(content), self.block_frames):
            count = min(self.block_frames, len(content) - begin)
            block_c = np.zeros((self.block_frames, content.shape[1]), np.float32)
            block_e = np.zeros((self.block_frames, emotion.shape[1]), np.float32)
            block_c[:count], block_e[:count] = content[begin : begin + count], emotion[begin : begin + count]
            self._ensure_capacity(self.num_frames + self.block_frames)
            out, self._keys, self._values = _decode_block(
                self.graphdef,
                self.params,
                self._keys,
                self._values,
                jnp.asarray(self.num_frames, jnp.int32),
                jnp.asarray(block_c),
                jnp.asarray(block_e),
                self.level,
                self.person,
            )
            outputs.append(np.asarray(out)[:count])
            self.num_frames += count
        if not outputs:
            return np.zeros((0, self.config.output_dim), np.float32)
        return np.concatenate(outputs)
