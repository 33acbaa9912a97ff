"""Shared fixtures: tiny random-weight release-layout checkpoints and their PyTorch twins.

Everything is built here from presets (no downloads): a PyTorch reference with the
release's exact state-dict layout, its .pth, two Hugging Face encoder folders
(config.json + preprocessor_config.json) and the converted VoiceEmo-JAX checkpoint.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

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
    """Deterministic speech-like test signals at 16 kHz (harmonics with a moving pitch + noise):
    `speech_like(num_samples, seed=0) -> [samples] float32`, the benchmarks' signal."""
    from benchmarks.inference_bench import speech_like as make

    return make
