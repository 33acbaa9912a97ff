"""The inference fast paths equal the plain computation they replace.

- `blocked_attention` (wav2vec2 attention on CPU in cache-sized pieces) against the plain
  masked softmax, through each of its three splittings, with padded keys.
- The decoder's cross-attention shortcut against the masked softmax over the alignment mask.
- The morph synthesizer decoded block by block through its key/value cache (windowed and
  streaming inference) against the whole sequence at once, and against its training path.
- A Predictor holds its parameters on the device even when the model was built from a
  host (numpy) state dict, as the converter and the benchmark build them.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from voiceemo_jax.models import sequence_ops
from voiceemo_jax.models.attention import blocked_attention
from voiceemo_jax.models.morph_synthesizer import DecoderLayer, KVCache, MorphSynthesizer, MorphSynthesizerConfig

SMALL_SYNTHESIZER = dict(content_dim=16, emotion_dim=40, emotion_tgt_dim=8, level_dim=8, person_dim=8, num_heads=4,
                         feedforward_dim=24)  # fmt: skip


def plain_attention(q, k, v, key_mask):
    logits = jnp.einsum("bqhd,bkhd->bhqk", q, k)
    logits = jnp.where(key_mask[:, None, None, :], logits, jnp.finfo(jnp.float32).min)
    return jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(logits, axis=-1), v)


@pytest.mark.parametrize(
    "block_bytes, how",
    [
        (1 << 30, "whole batch at once"),
        (4 * 2 * 37 * 37 * 4, "two items per piece (lax.map over the batch)"),
        (4 * 37 * 4 * 5, "5-row query blocks of one item (last block padded)"),
        (1, "one query row per block"),
    ],
)
def test_blocked_attention_equals_plain_softmax_attention(block_bytes, how):
    rng = np.random.default_rng(0)
    batch, length, heads, dim = 3, 37, 4, 8
    q, k, v = (jnp.asarray(rng.standard_normal((batch, length, heads, dim), np.float32)) for _ in range(3))
    key_mask = sequence_ops.length_mask(jnp.array([37, 20, 1]), length)  # padded keys, one single-key item
    got = jax.jit(lambda *a: blocked_attention(*a, block_bytes=block_bytes))(q, k, v, key_mask)
    want = plain_attention(q, k, v, key_mask)
    assert got.shape == (batch, length, heads, dim)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=2e-6, err_msg=how)
    # The single-key item: every query returns exactly that key's value.
    only_value = np.broadcast_to(np.asarray(v[2, :1]), (length, heads, dim))
    np.testing.assert_allclose(np.asarray(got[2]), only_value, atol=1e-6)


def test_blocked_attention_keeps_bfloat16_inputs_in_bfloat16():
    rng = np.random.default_rng(1)
    q, k, v = (jnp.asarray(rng.standard_normal((2, 9, 2, 4), np.float32)) for _ in range(3))
    mask = jnp.ones((2, 9), bool)
    got = blocked_attention(q.astype(jnp.bfloat16), k.astype(jnp.bfloat16), v.astype(jnp.bfloat16), mask)
    assert got.dtype == jnp.bfloat16
    np.testing.assert_allclose(np.asarray(got, np.float32), np.asarray(plain_attention(q, k, v, mask)), atol=0.05)


def test_decoder_cross_attention_shortcut_equals_the_alignment_masked_softmax():
    config = MorphSynthesizerConfig(**SMALL_SYNTHESIZER)
    layer = DecoderLayer(config, rngs=nnx.Rngs(0))
    rng = np.random.default_rng(2)
    tgt, memory = (jnp.asarray(rng.standard_normal((2, 13, 40), np.float32)) for _ in range(2))
    self_bias = sequence_ops.periodic_alibi_bias(4, 13, config.period)[None]
    cross_bias = jnp.where(sequence_ops.alignment_mask(13, 13), 0.0, -jnp.inf)[None, None]
    masked = layer(tgt, memory, self_bias, cross_bias)
    shortcut = layer(tgt, memory, self_bias, None)
    np.testing.assert_allclose(np.asarray(shortcut), np.asarray(masked), atol=1e-6)
    # The shortcut really reads memory frame t at query t: permuting memory changes it.
    permuted = layer(tgt, memory[:, ::-1], self_bias, None)
    assert np.abs(np.asarray(permuted) - np.asarray(shortcut)).max() > 1e-3


def test_synthesizer_with_a_cache_decodes_blocks_as_the_whole_sequence_and_training_does():
    """Windowed and streaming inference feed the synthesizer blocks through its key/value cache
    (`WindowedRun.decode`): each item continues at its own length, padded rows are scratch the
    next block overwrites, and a grown cache keeps its frames. Outputs equal one call on the
    whole sequence, which (without dropout) equals the training path's masked softmax."""
    config = MorphSynthesizerConfig(**SMALL_SYNTHESIZER, period=5, dropout=0.0)  # several ALiBi periods in 23 frames
    # Compiled whole (construction included): op-by-op dispatch compiles a program per op.
    synth = nnx.jit(lambda: MorphSynthesizer(config, content_hidden=12, emotion_hidden=20, rngs=nnx.Rngs(0)))()
    rng = np.random.default_rng(4)
    synth.bs_map_r.kernel.value = jnp.asarray(rng.standard_normal((40, 52), np.float32))  # not the zero head
    frames, block = 23, 8
    content = rng.standard_normal((2, frames, 12), np.float32)
    emotion = rng.standard_normal((2, frames, 20), np.float32)
    level, person = jnp.array([0, 1]), jnp.array([3, 5])

    @nnx.jit(static_argnums=(1,))
    def whole_sequence(m, deterministic):
        args = (jnp.asarray(content), jnp.asarray(emotion), level, person, jnp.array([frames, frames]))
        return m(*args, deterministic=deterministic, rngs=nnx.Rngs(1))

    whole = np.asarray(whole_sequence(synth, True))
    assert np.abs(whole).max() > 0.1
    np.testing.assert_allclose(np.asarray(whole_sequence(synth, False)), whole, atol=1e-5)  # training path

    counts = [[8, 5, 8, 2], [3, 8, 8, 4]]  # frames per call of each item; short calls are padded
    decode = nnx.jit(lambda m, c, e, n, cache: m(c, e, level, person, n, cache=cache))
    cache = KVCache.empty(config, batch=2, capacity=16)
    decoded = [[], []]
    for call in range(4):
        if int(cache.length.max()) + block > cache.capacity:
            cache = cache.grown(2 * cache.capacity)
        # Padding rows hold noise, not zeros: they must not leak into later frames.
        block_c = rng.standard_normal((2, block, 12), np.float32)
        block_e = rng.standard_normal((2, block, 20), np.float32)
        for item in range(2):
            start, count = sum(counts[item][:call]), counts[item][call]
            block_c[item, :count] = content[item, start : start + count]
            block_e[item, :count] = emotion[item, start : start + count]
        num = jnp.array([counts[0][call], counts[1][call]])
        out, cache = decode(synth, jnp.asarray(block_c), jnp.asarray(block_e), num, cache)
        assert out.shape == (2, block, 52)
        for item in range(2):
            count = counts[item][call]
            decoded[item].append(np.asarray(out[item, :count]))
            assert not np.asarray(out[item, count:]).any()  # zero past num_frames
    assert cache.capacity == 32 and cache.length.tolist() == [frames, frames]
    for item in range(2):
        np.testing.assert_allclose(np.concatenate(decoded[item]), whole[item], atol=1e-5, err_msg=f"item {item}")


def test_predictor_moves_host_parameters_to_the_device_once():
    from voiceemo_jax.conversion.emotalk import build_with_weights, release_module_path
    from voiceemo_jax.inference.predictor import Predictor
    from voiceemo_jax.models import presets
    from voiceemo_jax.testing.torch_reference import build_reference

    config = presets.model_config("tiny")
    state = {k: v.detach().numpy() for k, v in build_reference(config).state_dict().items()}
    model = build_with_weights(config, state, release_module_path, what="tiny reference")
    leaves = jax.tree.leaves(nnx.state(model, nnx.Param))
    assert leaves and all(isinstance(x, jax.Array) for x in leaves)  # the converter's own output
    nnx.update(model, jax.tree.map(np.asarray, nnx.state(model)))  # as a user's host-built model
    predictor = Predictor(model)
    assert all(isinstance(x, jax.Array) for x in jax.tree.leaves(predictor.params))


@pytest.mark.parametrize("block_bytes", [1 << 30, 2 * 4 * 29 * 4, 1])
def test_blocked_attention_with_a_position_bias_equals_the_whole_bias_table(block_bytes):
    rng = np.random.default_rng(3)
    q, k, v = (jnp.asarray(rng.standard_normal((2, 29, 4, 8), np.float32)) for _ in range(3))
    keys = jnp.arange(29)
    alibi = lambda rows: sequence_ops.periodic_alibi_bias_at(4, rows, keys, 5)  # noqa: E731
    got = blocked_attention(q, k, v, position_bias=alibi, block_bytes=block_bytes)
    logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) + sequence_ops.periodic_alibi_bias(4, 29, 5)[None]
    want = jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(logits, axis=-1), v)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=2e-6)


@pytest.mark.parametrize("block_bytes", [None, 64])  # the default, and pieces of one or two rows
def test_model_output_with_blocked_attention_equals_whole_attention(block_bytes, monkeypatch, speech_like):
    from voiceemo_jax.models import attention
    from voiceemo_jax.testing.random_models import random_model

    model = random_model("tiny", seed=4)
    clips = [speech_like(n, seed=i) for i, n in enumerate([24000, 9000])]
    audio = np.zeros((2, 24000), np.float32)
    for row, clip in zip(audio, clips):
        row[: len(clip)] = clip
    args = (jnp.asarray(audio), jnp.array([24000, 9000]), jnp.array([0, 1]), jnp.array([3, 5]))

    def run():
        return nnx.jit(lambda m, *a: m(*a)["outputs"])(model, *args)

    if block_bytes:
        monkeypatch.setattr(attention, "DEFAULT_BLOCK_BYTES", block_bytes)
    blocked = run()
    with attention.whole_attention():
        whole = run()
    assert np.abs(np.asarray(whole)).max() > 0.1
    np.testing.assert_allclose(np.asarray(blocked), np.asarray(whole), atol=1e-5)
