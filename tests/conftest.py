"""Shared fixtures: tiny random-weight release-layout checkpoints and their PyTorch twins.

Everything is built here from presets (no downloads): a PyTorch reference with the
release's exact state-dict layout, its .pth, two Hugging Face encoder folders
(config.json + preprocessor_config.json) and the converted VoiceEmo-JAX checkpoint.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from release_files import make_release_files

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

VARIANTS = ("layer", "group")


# One XLA compilation cache for the session, unless the caller set one: the same programs
# (the tiny train step, the tiny predictor) compile in many tests, in both pytest-xdist
# workers and in the training subprocesses. Created by the first process (the workers and
# subprocesses inherit the variable) and removed by it. Set before anything imports jax.
_CREATED_CACHE = None
if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):
    _CREATED_CACHE = os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="voiceemo-xla-cache-")
    if "jax" in sys.modules:  # imported already (by a plugin): its config read the environment then
        sys.modules["jax"].config.update("jax_compilation_cache_dir", _CREATED_CACHE)

# Tests compile far more than they run: XLA's CPU backend without LLVM's optimisation passes
# compiles the tiny train step about a third faster (8-9 s a shape against 13-15 s on the 2-core
# machine). A tiny training run printed the same losses at both levels, and the parity tests
# against PyTorch pass at this one; the product runs at XLA's default. Set before any backend
# starts; the workers and subprocesses inherit it (subprocesses.py keeps it).
TEST_XLA_FLAGS = "--xla_backend_optimization_level=0"
if TEST_XLA_FLAGS not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {TEST_XLA_FLAGS}".strip()

# Likewise the user's cache folder (~/.cache/voiceemo: the bundled head, the XLA cache of
# `voiceemo predict`/`demo`): the tests use one temporary folder and never write to the user's.
_CREATED_USER_CACHE = None
if not os.environ.get("VOICEEMO_CACHE"):
    _CREATED_USER_CACHE = os.environ["VOICEEMO_CACHE"] = tempfile.mkdtemp(prefix="voiceemo-user-cache-")


def pytest_collection_modifyitems(config, items):
    """Files marked `heavy` first: pytest-xdist (--dist loadfile) hands out files in collection
    order, and a long file started last would leave the other worker idle at the end."""
    items.sort(key=lambda item: item.get_closest_marker("heavy") is None)


def pytest_unconfigure(config):
    for created in (_CREATED_CACHE, _CREATED_USER_CACHE):
        if created:
            shutil.rmtree(created, ignore_errors=True)


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
    from voiceemo_jax.testing.signals import speech_like as make

    return make
