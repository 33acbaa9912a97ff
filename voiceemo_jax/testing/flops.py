"""FLOP counts from XLA's cost analysis, for the speed benchmarks' FLOP/s and MFU.

    xla_flops(jax.jit(f).lower(*args).compile())   # FLOPs of one call
    predictor_gflop(predictor, clips)               # GFLOP of one `predict_batch` forward

XLA counts a loop body once, not once per iteration: the forward is therefore traced with
whole (unblocked) attention, whose FLOPs equal the blocked form's, so the count does not
depend on the attention's block size.
"""

from __future__ import annotations

# Dense TFLOP/s per chip (NVIDIA data sheets; the sparse figures are twice these):
# (substrings of jax's device_kind, {dtype: peak}). First match wins: NVL/PCIe before SXM.
DENSE_PEAK_TFLOPS = (
    (("h200", "nvl"), {"bfloat16": 835.5, "float32": 417.5}),
    (("h200",), {"bfloat16": 989.4, "float32": 494.7}),
    (("h100", "nvl"), {"bfloat16": 835.5, "float32": 417.5}),
    (("h100", "pcie"), {"bfloat16": 756.0, "float32": 378.0}),
    (("h100",), {"bfloat16": 989.4, "float32": 494.7}),  # SXM ("NVIDIA H100 80GB HBM3")
)


def xla_flops(compiled) -> float:
    """FLOPs XLA counts in a compiled program (0 where the backend gives no cost analysis)."""
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    return float((cost or {}).get("flops", 0.0))


def predictor_gflop(predictor, clips) -> float:
    """GFLOP of the predictor's whole-clip forward for this batch (clips: [samples] arrays),
    traced with whole attention: the blocked form's loops would be counted once, not once per block."""
    import jax
    import jax.numpy as jnp

    from voiceemo_jax.inference.predictor import _forward, pad_batch
    from voiceemo_jax.models.attention import whole_attention

    audio, lengths = pad_batch(clips, predictor.bucket_samples)
    ones = jnp.ones(len(clips), jnp.int32)
    args = (jnp.asarray(audio), jnp.asarray(lengths), ones, ones, jnp.asarray(audio), jnp.asarray(lengths))

    def forward(*a):  # a new function object: JAX's trace caches would hand back the blocked trace
        return _forward.__wrapped__(*a)

    with whole_attention():
        lowered = jax.jit(forward, static_argnums=(0,)).lower(predictor.graphdef, predictor.params, *args)
    return xla_flops(lowered.compile()) / 1e9


def dense_peak_tflops(device_kind: str, dtype: str) -> float | None:
    """The chip's dense peak for `dtype` ("bfloat16" or "float32"), or None when unknown."""
    kind = device_kind.lower()
    for keys, peaks in DENSE_PEAK_TFLOPS:
        if all(key in kind for key in keys):
            return peaks[dtype]
    return None
