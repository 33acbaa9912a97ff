"""The GPU attention path (`jax.nn.dot_product_attention`, cuDNN on a GPU) against the
CPU's blocked path, on the CPU (implementation "xla" / None): the same results for the
masks and biases the model uses (wav2vec2's key padding, the decoder's periodic ALiBi)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from voiceemo_jax.models import sequence_ops
from voiceemo_jax.models.attention import (
    blocked_attention,
    forced_fused_attention,
    fused_attention,
    use_blocked_attention,
    use_fused_attention,
)
from voiceemo_jax.testing.random_models import random_model


def _qkv(batch, length, heads=4, head_dim=16, seed=0):
    rng = np.random.default_rng(seed)
    q, k, v = (jnp.asarray(rng.standard_normal((batch, length, heads, head_dim)), jnp.float32) for _ in range(3))
    return q * head_dim**-0.5, k, v


@pytest.mark.parametrize("implementation", ["xla", None])
def test_fused_equals_blocked_with_key_padding(implementation):
    q, k, v = _qkv(3, 50)
    lengths = jnp.array([50, 31, 7])
    # A tiny block budget makes the blocked side take its per-row-block form too.
    for block_bytes in (None, 4 * 16 * 50 * 4):
        blocked = blocked_attention(q, k, v, sequence_ops.length_mask(lengths, 50), block_bytes=block_bytes)
        fused = fused_attention(q, k, v, lengths, implementation=implementation)
        np.testing.assert_allclose(np.asarray(fused), np.asarray(blocked), rtol=0, atol=2e-6)


def test_fused_equals_blocked_with_the_decoders_periodic_alibi():
    q, k, v = _qkv(2, 70, seed=1)
    heads, period = 4, 30
    keys = jnp.arange(70)
    blocked = blocked_attention(
        q, k, v, position_bias=lambda rows: sequence_ops.periodic_alibi_bias_at(heads, rows, keys, period)
    )
    bias = sequence_ops.periodic_alibi_bias(heads, 70, period)[None]
    fused = fused_attention(q, k, v, bias=bias, implementation="xla")
    np.testing.assert_allclose(np.asarray(fused), np.asarray(blocked), rtol=0, atol=2e-6)


def test_bf16_inputs_keep_float32_logits():
    q, k, v = (x.astype(jnp.bfloat16) for x in _qkv(2, 40, seed=2))
    reference = fused_attention(*(x.astype(jnp.float32) for x in (q, k, v)), jnp.array([40, 23]))
    for out in (
        fused_attention(q, k, v, jnp.array([40, 23]), implementation="xla"),
        blocked_attention(q, k, v, sequence_ops.length_mask(jnp.array([40, 23]), 40)),
    ):
        assert out.dtype == jnp.bfloat16
        np.testing.assert_allclose(np.asarray(out, np.float32), np.asarray(reference), atol=3e-2)


def test_wav2vec2_encoder_through_the_fused_path_equals_the_blocked_path():
    encoder = random_model("tiny", seed=7).content_encoder.wav2vec2
    rng = np.random.default_rng(3)
    features = jnp.asarray(rng.standard_normal((2, 45, encoder.config.conv_dim[-1])), jnp.float32)
    lengths = jnp.array([45, 28])
    assert use_blocked_attention(True) and not use_fused_attention(True)  # the CPU's default
    blocked = jax.jit(lambda f, n: encoder.encode(f, n))(features, lengths)
    with forced_fused_attention("xla"):
        assert use_fused_attention(True) and not use_blocked_attention(True) and not use_fused_attention(False)
        fused = jax.jit(lambda f, n: encoder.encode(f, n))(features, lengths)
    np.testing.assert_allclose(np.asarray(fused), np.asarray(blocked), rtol=0, atol=1e-5)
    assert np.abs(np.asarray(blocked)).max() > 0.1
