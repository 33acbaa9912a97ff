"""Scaled dot-product attention whose logits never outgrow the CPU's cache.

The plain form materialises `[batch, heads, queries, keys]` float32 logits and walks them
four times (mask, max, exp, normalise). At 60 s of audio one wav2vec2-large layer's
logits are 16 x 1800 x 1800 x 4 bytes = 207 MB: every pass goes to main memory, and on a
2-core CPU the attention of one layer took 0.40 s against 0.22 s for PyTorch's fused
`scaled_dot_product_attention`. Here the computation is split into pieces whose logits
fit in `block_bytes` (a share of a typical L3 cache): batch items one or several at a
time, and, when one item's logits are still too large, blocks of query rows. Each piece
is exact (every query row sees all its keys; no online-softmax rescaling), so the result
equals the plain form up to float rounding, and the normalisation is applied to the
[queries, head_dim] output instead of the [queries, keys] weights (one pass fewer).

Only inference on the CPU uses this (`use_blocked_attention`): training applies dropout
to the normalised weights, which needs them whole. Inference on a GPU goes through
`jax.nn.dot_product_attention` instead (`use_fused_attention`, `fused_attention`): cuDNN's
fused flash-attention kernel for bf16/fp16 inputs (it has none for fp32, where XLA's form
runs). XLA's cost analysis counts a loop body once, so FLOP counts are taken on the plain
form (`whole_attention`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

import jax
import jax.numpy as jnp

# 16 MiB of float32 logits per piece: half of the 32 MiB L3 of the benchmark machine.
# Measured at 60 s (1800 frames, one clip): 0.16-0.22 s per layer at 8-16 MiB, 0.39 s for
# the whole 207 MB at once; 64-row blocks (4 MiB) lose to loop overhead.
DEFAULT_BLOCK_BYTES = 16 * 2**20

_blocking_enabled = True
# None: decide by backend; else the `implementation` every inference attention traced now
# uses through jax.nn.dot_product_attention ("xla" tests the fused path on a CPU).
_forced_implementation: str | None = None


def use_blocked_attention(deterministic: bool) -> bool:
    """Whether a model attention traced now takes the blocked form: inference on the CPU."""
    if _forced_implementation is not None:
        return False
    return deterministic and _blocking_enabled and jax.default_backend() == "cpu"


def use_fused_attention(deterministic: bool) -> bool:
    """Whether a model attention traced now goes through `fused_attention`: inference on a GPU."""
    if not deterministic:  # dropout acts on the normalised weights, which the fused kernel never forms
        return False
    return _forced_implementation is not None or (_blocking_enabled and jax.default_backend() == "gpu")


def fused_implementation(dtype) -> str | None:
    """`implementation` for jax.nn.dot_product_attention: cuDNN's fused kernel on a GPU for
    16-bit inputs (it takes no fp32), else None (XLA's own form)."""
    if _forced_implementation is not None:
        return _forced_implementation
    if jax.default_backend() == "gpu" and jnp.dtype(dtype) in (jnp.dtype(jnp.bfloat16), jnp.dtype(jnp.float16)):
        return "cudnn"
    return None


@contextlib.contextmanager
def forced_fused_attention(implementation: str = "xla"):
    """Model attentions traced inside take `fused_attention` with this implementation, on any
    backend (tests of the GPU path on a CPU use "xla")."""
    global _forced_implementation
    previous, _forced_implementation = _forced_implementation, implementation
    try:
        yield
    finally:
        _forced_implementation = previous


@contextlib.contextmanager
def whole_attention():
    """Functions traced inside use the plain attention (for XLA FLOP counts; see above)."""
    global _blocking_enabled
    previous, _blocking_enabled = _blocking_enabled, False
    try:
        yield
    finally:
        _blocking_enabled = previous


def blocked_attention(
    q: jax.Array,
    k: jax.Array,
    v: jax.Array,
    key_mask: jax.Array | None = None,
    *,
    position_bias: Callable[[jax.Array], jax.Array] | None = None,
    block_bytes: int | None = None,
) -> jax.Array:
    """Softmax attention over the valid keys, in cache-sized pieces.

    q: [batch, queries, heads, head_dim], already scaled by head_dim**-0.5;
    k, v: [batch, keys, heads, head_dim]; key_mask: [batch, keys] bool (True = valid), or
    None for all valid; position_bias: query positions [rows] int -> an additive
    [heads, rows, keys] float32 bias (the decoder's periodic ALiBi), evaluated per block so
    that the whole [heads, queries, keys] table never exists either; block_bytes: the
    logits budget of one piece (DEFAULT_BLOCK_BYTES, read at trace time).
    -> [batch, queries, heads, head_dim] in v's dtype. Logits are float32.
    """
    block_bytes = block_bytes or DEFAULT_BLOCK_BYTES
    batch, num_queries, heads, _ = q.shape
    num_keys = k.shape[1]
    row_bytes = heads * num_keys * 4  # float32 logits of one query row of one item
    if key_mask is None:
        key_mask = jnp.ones((batch, num_keys), bool)
    # Additive mask: finfo.min keeps a fully masked row finite (uniform weights, as
    # jnp.where(mask, logits, finfo.min) gives), and exp(min - max) is exactly 0 otherwise.
    key_bias = jnp.where(key_mask, 0.0, jnp.finfo(jnp.float32).min)[:, None, None, :]  # [B, 1, 1, keys]
    if position_bias is None:
        position_bias = lambda positions: jnp.zeros((1, 1, 1), jnp.float32)  # noqa: E731
    q, k_t, v = q.transpose(0, 2, 1, 3), k.transpose(0, 2, 3, 1), v.transpose(0, 2, 1, 3)  # heads first

    if batch * num_queries * row_bytes <= block_bytes:
        out = _attend(q, k_t, v, key_bias + position_bias(jnp.arange(num_queries)))
    elif num_queries * row_bytes <= block_bytes:
        items = max(1, block_bytes // (num_queries * row_bytes))
        shared = position_bias(jnp.arange(num_queries))
        out = jax.lax.map(lambda a: _attend(a[0], a[1], a[2], a[3] + shared), (q, k_t, v, key_bias), batch_size=items)
    else:
        rows = max(1, block_bytes // row_bytes)
        out = jax.lax.map(lambda a: _attend_in_row_blocks(*a, position_bias, rows), (q, k_t, v, key_bias))
    return out.transpose(0, 2, 1, 3)


def fused_attention(
    q: jax.Array,
    k: jax.Array,
    v: jax.Array,
    key_lengths: jax.Array | None = None,
    *,
    bias: jax.Array | None = None,
    implementation: str | None = None,
) -> jax.Array:
    """`jax.nn.dot_product_attention` in this module's conventions (see `blocked_attention`).

    q: [batch, queries, heads, head_dim], already scaled by head_dim**-0.5; k, v: [batch,
    keys, heads, head_dim]; key_lengths: [batch] int, the valid keys are a prefix (padding
    masks here always are; cuDNN takes lengths natively); bias: additive, broadcastable to
    [batch, heads, queries, keys] (the decoder's periodic ALiBi). implementation: "cudnn",
    "xla" or None (see `fused_implementation`). Logits and softmax are float32 whatever the
    input dtype. -> [batch, queries, heads, head_dim] in v's dtype.
    """
    if key_lengths is not None:
        key_lengths = key_lengths.astype(jnp.int32)

    def attend(implementation):
        b = None if bias is None else jnp.asarray(bias, q.dtype if implementation == "cudnn" else jnp.float32)
        return jax.nn.dot_product_attention(
            q, k, v, bias=b, scale=1.0, key_value_seq_lengths=key_lengths, implementation=implementation
        ).astype(v.dtype)

    if implementation != "cudnn":
        return attend(implementation)
    try:
        return attend("cudnn")
    except (ValueError, NotImplementedError, RuntimeError) as error:
        # cuDNN's checks run at trace time (its version, head size, layout): XLA's form instead.
        logging.warning("cuDNN attention unavailable (%s); using XLA's attention", str(error).splitlines()[0])
        return attend("xla")


def _attend(q, k_t, v, bias):
    """q: [..., queries, d]; k_t: [..., d, keys]; v: [..., keys, d]; bias broadcasts to the logits."""
    logits = jnp.matmul(q, k_t, preferred_element_type=jnp.float32) + bias  # float32 even for bf16 inputs
    weights = jnp.exp(logits - jnp.max(logits, axis=-1, keepdims=True))
    total = jnp.sum(weights, axis=-1, keepdims=True)
    return (jnp.matmul(weights.astype(v.dtype), v, preferred_element_type=jnp.float32) / total).astype(v.dtype)


def _attend_in_row_blocks(q, k_t, v, key_bias, position_bias, rows: int):
    """One item, its queries in equal blocks of at most `rows` (padded, then cut).

    q: [heads, queries, d]; key_bias: [1, 1, keys] -> [heads, queries, d]."""
    num_queries = q.shape[1]
    num_blocks = -(-num_queries // rows)
    block = -(-num_queries // num_blocks)  # equal blocks: at most num_blocks - 1 rows of padding
    q = jnp.pad(q, ((0, 0), (0, num_blocks * block - num_queries), (0, 0)))
    blocks = q.reshape(q.shape[0], num_blocks, block, q.shape[2]).transpose(1, 0, 2, 3)
    starts = jnp.arange(num_blocks) * block

    def one_block(args):
        q_block, start = args
        return _attend(q_block, k_t, v, key_bias + position_bias(start + jnp.arange(block)))

    out = jax.lax.map(one_block, (blocks, starts))  # [blocks, heads, block, d]
    return out.transpose(1, 0, 2, 3).reshape(q.shape[0], num_blocks * block, -1)[:, :num_queries]
