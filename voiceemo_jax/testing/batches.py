"""Synthetic training batches: the trainer's triplet layout filled with random data (no dataset).

    batch = synthetic_triplet_batch(8, samples=12800)   # {"x11", "x12", "x21"}: one clip batch each

Each clip batch has what `data_pipelines.loading` yields for a triplet: audio [B, S] float32
(zero past each clip's random length), num_samples [B], targets [B, T, 52] (zero past
num_frames), num_frames [B], emotion / content labels [B] (0..6), level [B] (alternating
0/1) and person [B] (0). The training-step tests and the training benchmark run on it, so
a step's cost and correctness are measured apart from the input pipeline.
"""

from __future__ import annotations

import numpy as np

from voiceemo_jax.timebase import FPS, SAMPLE_RATE_HZ


def synthetic_triplet_batch(batch_size: int, samples: int = 12800, seed: int = 0) -> dict:
    """{"x11", "x12", "x21"} -> clip batch of `batch_size` clips padded to `samples` samples."""
    rng = np.random.default_rng(seed)
    frames = -(-samples * FPS // SAMPLE_RATE_HZ)

    def clip(offset):
        lengths = rng.integers(samples // 2, samples + 1, batch_size).astype(np.int32)
        audio = rng.standard_normal((batch_size, samples)).astype(np.float32) * 0.1
        audio[np.arange(samples)[None] >= lengths[:, None]] = 0.0
        num_frames = (-(-lengths * FPS // SAMPLE_RATE_HZ)).astype(np.int32)
        targets = rng.uniform(0, 1, (batch_size, frames, 52)).astype(np.float32)
        targets[np.arange(frames)[None] >= num_frames[:, None]] = 0.0
        labels = {k: rng.integers(0, 7, batch_size).astype(np.int32) for k in ("emotion", "content")}
        return {"audio": audio, "num_samples": lengths, "targets": targets, "num_frames": num_frames,
                "level": (np.arange(batch_size) % 2).astype(np.int32), "person": np.zeros(batch_size, np.int32),
                **labels}  # fmt: skip

    return {"x11": clip(0), "x12": clip(1), "x21": clip(2)}
