"""Shared fixtures: the learnable RAVDESS-layout fixture build (each emotion sets its own
upper-face pattern, scaled by intensity) and a face classifier trained on it in-process,
through `voiceemo train --config configs/face_emotion.py`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.face_emotion.face_fixtures import train_classifier

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(scope="session")
def fixture_build(tmp_path_factory) -> Path:
    from data_pipelines.sources.learnable_fixture import ensure_fixture_build

    return ensure_fixture_build(tmp_path_factory.mktemp("face_fixture"))


@pytest.fixture(scope="session")
def trained_classifier(fixture_build, tmp_path_factory) -> dict:
    """{"workdir", "classifier" (the folder), "metrics" (final_metrics.json)} of a short run."""
    workdir = tmp_path_factory.mktemp("face_train") / "run"
    assert train_classifier(fixture_build, workdir) == 0
    metrics = json.loads((workdir / "final_metrics.json").read_text())
    return {"workdir": workdir, "classifier": workdir / "face_classifier", "metrics": metrics}
