"""MEAD: m4a decoding, mirrored target trees, labels and the default actor split."""

from __future__ import annotations

from pathlib import Path

import pytest

from data_pipelines.records.schema import load_metadata
from data_pipelines.sources import mead
from tests.data_pipelines import data_fixtures as fx
from tests.data_pipelines.data_fixtures import build


def test_parse_mead_path():
    assert mead.parse_mead_path(Path("M003/audio/angry/level_2/014.m4a")) == ("M003", "angry", 1, 14)
    bad_paths = (
        "M003/video/angry/level_2/014.m4a",
        "M003/audio/bored/level_1/001.m4a",
        "M003/audio/angry/level_4/001.m4a",
        "M003/audio/angry/level_1/1.m4a",
        "X03/audio/sad/level_1/001.m4a",
    )
    for bad in bad_paths:
        with pytest.raises(ValueError, match="malformed MEAD path"):
            mead.parse_mead_path(Path(bad))


def test_default_actor_split_takes_the_last_two_of_each_gender():
    actors = ["M003", "M005", "M007", "W009", "W011"]
    assert mead.default_actor_split(actors) == (("M005", "W009"), ("M007", "W011"))
    assert mead.default_actor_split(["M003", "W009"]) == ((), ("M003", "W009"))


def test_counts_labels_and_decoded_lengths(mead_build):
    # 10 clips per actor: angry and happy at levels 1-2, neutral at level 1, sentences 1-2.
    assert mead_build.summary["splits"] == {"train": 10, "validation": 20, "test": 20}
    assert mead_build.summary["skipped"] == []
    metadata = load_metadata(mead_build.out)
    assert metadata.speakers == ("M003", "M005", "M007", "W009", "W011")
    assert metadata.emotions == mead.EMOTIONS and metadata.levels == ("level_1", "level_2", "level_3")
    people = set()
    for record in fx.read_records(mead_build.builder_dir, "validation"):
        actor, emotion, _, level, sentence = record["clip_id"].decode().split("_")
        people.add(metadata.speakers[record["person"]])
        assert metadata.emotions[record["emotion"]] == emotion
        assert record["level"] == int(level) - 1 and record["content"] == int(sentence)
        assert record["targets"][0, 0] == mead.EMOTIONS.index(emotion) and record["targets"][0, 2] == int(sentence)
        # The m4a decoded to exactly the written duration: no AAC priming or padding survives.
        seconds = fx.clip_seconds(mead.EMOTIONS.index(emotion), int(level), int(sentence))
        assert record["num_samples"] == round(seconds * 48_000) // 3
    assert people == {"M005", "W009"}


def test_targets_without_the_audio_folder_level_and_a_missing_one(tmp_path):
    audio, targets = tmp_path / "audio", tmp_path / "targets"
    layout = dict(actors=("M003", "W009"), emotions=("sad",), sentences=(1, 2), mirror_audio_folder=False)
    paths = fx.write_mead(audio, targets, **layout)
    missing = targets / "W009" / "sad" / "level_2" / "002.npy"
    missing.unlink()
    argv = ["--dataset", "mead", "--audio-root", str(audio), "--targets", str(targets)]
    result = build(argv + ["--validation-actors", "", "--test-actors", "W009"], tmp_path / "out")
    assert result.summary["splits"] == {"train": 4, "validation": 0, "test": 3}
    assert result.summary["skipped"] == [
        {"path": str(p), "reason": result.summary["skipped"][0]["reason"]}
        for p in paths
        if "W009/audio/sad/level_2/002" in str(p)
    ]
    assert result.summary["skipped"][0]["reason"].startswith("missing target")
