"""Fixtures for the export tests: a per-session head cache, a 10-frame wav, coefficient clips."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tests.export.export_helpers import jaw_blink_clip, write_wav
from voiceemo_jax.timebase import FPS


@pytest.fixture(scope="session", autouse=True)
def head_cache(tmp_path_factory):
    """Builds the bundled head into a per-session cache, never into the user's ~/.cache."""
    previous = os.environ.get("VOICEEMO_CACHE")
    os.environ["VOICEEMO_CACHE"] = str(tmp_path_factory.mktemp("head_cache"))
    yield
    if previous is None:
        os.environ.pop("VOICEEMO_CACHE", None)
    else:
        os.environ["VOICEEMO_CACHE"] = previous


@pytest.fixture(scope="session")
def wav(tmp_path_factory):
    """0.33 s of audio at 16 kHz: exactly the length of a 10-frame clip."""
    path = tmp_path_factory.mktemp("audio") / "speech.wav"
    write_wav(path, 10 / FPS)
    return path


@pytest.fixture
def clip_npy(tmp_path):
    path = tmp_path / "clip.npy"
    np.save(path, jaw_blink_clip())
    return path


@pytest.fixture(scope="session")
def random_coeffs():
    """[37, 52] float32 in [0, 1]: an odd length, so nothing lines up with a second by chance."""
    return np.random.default_rng(7).random((37, 52)).astype(np.float32)
