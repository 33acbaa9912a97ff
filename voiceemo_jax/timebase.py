"""The project's two clocks and the rule that ties them: 16 kHz audio, 30 fps coefficients.

Everything that counts samples or frames (the model, the data builders, the exporters,
the benchmarks) imports `SAMPLE_RATE_HZ`, `FPS` and `frames_for` from here. The module
imports nothing heavy (no jax, no TensorFlow) so data builds and exporters can use it.
"""

from __future__ import annotations

import numbers

SAMPLE_RATE_HZ = 16_000
FPS = 30


def frames_for(num_samples, sample_rate_hz: int = SAMPLE_RATE_HZ, fps: int = FPS):
    """Output frames for a clip of `num_samples`: ceil(seconds * fps), in exact integer arithmetic.

    The release computes `math.ceil(n / 16000 * 30)` in floating point, which rounds up
    one frame too many for a handful of lengths (e.g. 132800 samples); the exact value is
    what a user expects and what this project uses everywhere.

    Args:
      num_samples: an int (Python or numpy scalar) -> int; or an integer array
        `[batch]` (numpy, or jax, traced under `jit` too) -> `[batch]` of the same type.
    """
    if isinstance(num_samples, numbers.Integral):
        num_samples = int(num_samples)  # numpy int32 * 30 could overflow for long clips
    return -(-num_samples * fps // sample_rate_hz)
