"""Deterministic speech-like test signals at 16 kHz (no jax, no files).

    audio = speech_like(16000 * 2, seed=3)   # [32000] float32, 2 s

Harmonics of a pitch that glides around 120 Hz under a syllable-rate envelope, plus a
little noise: enough spectral structure for wav2vec2's features to vary over time (a pure
tone or white noise would not), and reproducible per seed. The parity tests, the speed
benchmarks and the long-audio benchmarks all feed the model this signal.
"""

from __future__ import annotations

import numpy as np

from voiceemo_jax.timebase import SAMPLE_RATE_HZ


def speech_like(num_samples: int, seed: int = 0) -> np.ndarray:
    """Harmonics with a moving pitch under a syllable envelope, plus noise: [samples] float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(num_samples) / SAMPLE_RATE_HZ
    phase = 2 * np.pi * np.cumsum(120 + 40 * np.sin(2 * np.pi * 0.7 * t + seed)) / SAMPLE_RATE_HZ
    voiced = sum(np.sin(k * phase) / k for k in range(1, 6))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3.0 * t) ** 2
    return (0.2 * voiced * envelope + 0.02 * rng.standard_normal(num_samples)).astype(np.float32)
