"""Session-wide dataset builds for the data tests: each fixture tree is written and built once.

Builds go through the real CLI (`voiceemo data build`), so every test that reads one
also exercises the command.
"""

from __future__ import annotations

import os

import pytest

from tests.data_pipelines import data_fixtures as fx
from tests.data_pipelines.data_fixtures import Build, build

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(scope="session")
def ravdess_build(tmp_path_factory) -> Build:
    """Actors 01, 02 (train), 21 (validation), 23 (test), 14 clips each, plus five planted bad clips in
    Actor_01; small shards so train spans several."""
    root = tmp_path_factory.mktemp("ravdess")
    audio, targets = root / "Audio_Speech_Actors_01-24", root / "3DETF"
    ids = fx.write_ravdess(audio, targets)
    planted = fx.plant_ravdess_problems(audio, targets)
    argv = ["--dataset", "ravdess", "--audio-root", str(audio), "--targets", str(targets), "--shard-mb", "0.15"]
    return build(argv, root / "out", audio=audio, targets=targets, ids=ids, planted=planted)


@pytest.fixture(scope="session")
def mead_build(tmp_path_factory) -> Build:
    """Four actors (default split: M003, W011 train; M005 validation... see test), m4a audio."""
    root = tmp_path_factory.mktemp("mead")
    audio, targets = root / "MEAD", root / "MEAD_arkit"
    paths = fx.write_mead(audio, targets, actors=("M003", "M005", "M007", "W009", "W011"), sentences=(1, 2))
    argv = ["--dataset", "mead", "--audio-root", str(audio), "--targets", str(targets)]
    return build(argv, root / "out", audio=audio, targets=targets, paths=paths)


@pytest.fixture(scope="session")
def vocaset_build(tmp_path_factory) -> Build:
    root = tmp_path_factory.mktemp("vocaset")
    written = fx.write_vocaset(root / "vocaset")
    argv = ["--dataset", "vocaset", "--root", str(root / "vocaset")]
    return build(argv, root / "out", root=root / "vocaset", **written)


@pytest.fixture(scope="session")
def synth_build(tmp_path_factory) -> Build:
    """3 voices (slt held out) x 7 emotions x 2 levels x 5 sentences; ~30 train shards."""
    root = tmp_path_factory.mktemp("synth")
    corpus = fx.write_synth_corpus(root / "corpus")
    argv = ["--dataset", "synth", "--root", str(root / "corpus"), "--shard-mb", "0.1"]
    return build(argv, root / "out", root=root / "corpus", corpus=corpus)
