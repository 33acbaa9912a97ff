"""Shared fixtures: tiny random-weight release-layout checkpoints and their PyTorch twins.

Everything is built here from presets (no downloads): a PyTorch reference with the
release's exact state-dict layout, its .pth, two Hugging Face encoder folders
(config.json + preprocessor_config.json) and the converted VoiceEmo-JAX checkpoint.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest
from release_files import make_release_files

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

VARIANTS = ("layer", "group")


@dataclasses.dataclass
class ReleaseFixture:
    variant: str
    config: object  # VoiceEmoConfig
    reference: object  # torch_reference.ReleaseReference
    pth: Path
    content_dir: Path
    emotion_dir: Path
    checkpoint: Path  # converted VoiceEmo-JAX folder


@pytest.fixture(scope="session", params=VARIANTS)
def release(request, tmp_path_factory) -> ReleaseFixture:
    """A converted tiny release checkpoint, once per wav2vec2 variant."""
    from voiceemo_jax.cli import main

    root = tmp_path_factory.mktemp(f"release_{request.param}")
    config, reference, pth, content_dir, emotion_dir = make_release_files(root, request.param)
    checkpoint = root / "converted"
    argv = ["convert", "emotalk", "--checkpoint", str(pth), "--content-encoder", str(content_dir)]
    assert main(argv + ["--emotion-encoder", str(emotion_dir), "--out", str(checkpoint)]) == 0
    return ReleaseFixture(request.param, config, reference, pth, content_dir, emotion_dir, checkpoint)


@pytest.fixture(scope="session")
def speech_like():
    """Deterministic speech-like test signals at 16 kHz (harmonics with a moving pitch + noise)."""

    def make(num_samples: int, seed: int = 0) -> np.ndarray:
        rng = np.random.default_rng(seed)
        t = np.arange(num_samples) / 16000.0
        pitch = 120 + 40 * np.sin(2 * np.pi * 0.7 * t + seed)
        phase = 2 * np.pi * np.cumsum(pitch) / 16000.0
        voiced = sum(np.sin(k * phase) / k for k in range(1, 6))
        envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3.0 * t) ** 2
        return (0.2 * voiced * envelope + 0.02 * rng.standard_normal(num_samples)).astype(np.float32)

    return make
