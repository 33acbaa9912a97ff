"""RAVDESS: file names, target matching, splits, resampling, the skip list, --strict and re-runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from data_pipelines.records.schema import load_metadata
from data_pipelines.sources import ravdess
from tests.data_pipelines import data_fixtures as fx
from tests.data_pipelines.data_fixtures import build
from voiceemo_jax.cli import main


def test_parse_ravdess_name():
    name = ravdess.parse_ravdess_name("03-01-05-02-01-02-12")
    assert name == ravdess.RavdessName(3, 1, 5, 2, 1, 2, 12)
    assert name.match_key == ravdess.parse_ravdess_name("01-01-05-02-01-02-12").match_key
    assert name.match_key != ravdess.parse_ravdess_name("03-01-05-02-02-02-12").match_key
    for bad in ("03-01-05-02-01-02", "03-01-09-01-01-01-01", "03-01-05-02-01-02-25", "03-01-01-02-01-01-01", "x"):
        with pytest.raises(ValueError, match="malformed"):
            ravdess.parse_ravdess_name(bad)


def test_counts_per_split_and_metadata(ravdess_build):
    # Actors 01, 02 -> train, 21 -> validation, 23 -> test; 14 good clips per actor.
    assert ravdess_build.summary["dataset"] == "ravdess"
    assert ravdess_build.summary["splits"] == {"train": 28, "validation": 14, "test": 14}
    metadata = load_metadata(ravdess_build.out)
    assert metadata.split_sizes == {"train": 28, "validation": 14, "test": 14}
    assert metadata.emotions[4] == "angry" and len(metadata.emotions) == 8
    assert metadata.speakers[22] == "Actor_23" and metadata.levels == ("normal", "strong")
    assert metadata.sentences[2] == "Dogs are sitting by the door"
    assert metadata.target_dim == 52 and metadata.has_emotion_pairs
    # Several shards, so process sharding has something to split.
    info = json.loads((ravdess_build.builder_dir / "dataset_info.json").read_text())
    train = next(s for s in info["splits"] if s["name"] == "train")
    assert len(train["shardLengths"]) >= 3


def test_labels_targets_and_audio_of_every_record(ravdess_build):
    test_records = fx.read_records(ravdess_build.builder_dir, "test")
    assert len(test_records) == 14
    for record in fx.read_records(ravdess_build.builder_dir, "train") + test_records:
        name = ravdess.parse_ravdess_name(record["clip_id"].decode())
        assert name.modality == 3  # the audio-only file is the clip
        assert record["emotion"] == name.emotion - 1
        assert record["level"] == name.intensity - 1
        assert record["content"] == name.statement
        assert record["person"] == name.actor - 1
        assert record["dataset"] == b"ravdess"
        # The target channels carry the labels of the 01-... file it was matched from.
        assert record["targets"][0, 0] == name.emotion - 1
        assert record["targets"][0, 1] == name.intensity - 1
        assert record["targets"][0, 2] == name.statement
        # 48 kHz -> 16 kHz: a third of the samples, frames = ceil(samples * 30 / 16000).
        seconds = fx.clip_seconds(name.emotion, name.intensity, name.statement, name.repetition, name.actor)
        assert record["num_samples"] == round(seconds * 48_000) // 3 == record["audio"].shape[0]
        assert record["num_frames"] == -(-int(record["num_samples"]) * 30 // 16000) == record["targets"].shape[0]
        assert record["audio"].dtype == np.float32 and np.abs(record["audio"]).max() < 0.35


def test_skip_list_names_every_planted_problem(ravdess_build):
    planted = ravdess_build.sources["planted"]
    reasons = {entry["path"]: entry["reason"] for entry in ravdess_build.summary["skipped"]}
    assert len(reasons) == len(ravdess_build.summary["skipped"]) == len(planted)
    assert reasons[str(planted["corrupt"])].startswith("unreadable audio")
    assert reasons[str(planted["missing_target"])].startswith("missing target")
    assert reasons[str(planted["length_mismatch"])].startswith("target length mismatch")
    assert "needs 12" in reasons[str(planted["length_mismatch"])]
    assert reasons[str(planted["malformed_name"])].startswith("malformed")
    assert "shorter than the minimum" in reasons[str(planted["too_short"])]
    ids = {r["clip_id"].decode() for r in fx.read_records(ravdess_build.builder_dir, "train")}
    assert not {p.stem for p in planted.values()} & ids


def test_strict_fails_on_the_first_skip(ravdess_build, tmp_path, capsys):
    argv = ["data", "build", "--dataset", "ravdess", "--audio-root", str(ravdess_build.sources["audio"])]
    argv += ["--targets", str(ravdess_build.sources["targets"]), "--out", str(tmp_path / "out"), "--strict"]
    assert main(argv) == 2
    error = capsys.readouterr().err.strip().splitlines()
    # Name and target problems are found while listing files (in path order), before any decoding.
    assert len(error) == 1 and "--strict" in error[0]
    assert str(ravdess_build.sources["planted"]["missing_target"]) in error[0] and "missing target" in error[0]
    assert not (tmp_path / "out").exists()


def test_rebuild_replaces_the_previous_build_and_a_failed_one_keeps_it(tmp_path, capsys):
    audio, targets = tmp_path / "audio", tmp_path / "targets"
    fx.write_ravdess(audio, targets, actors=(1, 2, 21, 23), emotions=(1, 3))
    out = tmp_path / "out"
    argv = ["--dataset", "ravdess", "--audio-root", str(audio), "--targets", str(targets), "--shard-mb", "0.02"]
    first = build(argv, out)
    first_shards = sorted(p.name for p in first.builder_dir.glob("*.tfrecord*"))
    assert first.summary["splits"]["train"] == 12 and len(first_shards) > 3
    # Second build of fewer clips into one shard per split: nothing of the first may remain.
    for path in (audio / "Actor_02").iterdir():
        path.unlink()
    second = build(argv[:-1] + ["1000"], out)
    assert second.summary["splits"]["train"] == 6
    shards = sorted(p.name for p in second.builder_dir.glob("*.tfrecord*"))
    assert len(shards) == 3 and not set(shards) & set(first_shards)
    assert len(fx.read_records(second.builder_dir, "train")) == 6
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []  # no temporary left over
    # A build that fails (--strict on a corrupt clip) leaves the last good build in place.
    # The clip has its target, so the failure comes from decoding, inside tfds' generation.
    (audio / "Actor_01" / "03-01-03-02-02-01-01.wav").write_bytes(b"junk")
    assert main(["data", "build", *argv, "--out", str(out), "--strict"]) == 2
    assert "unreadable audio" in capsys.readouterr().err
    assert json.loads((out / "summary.json").read_text()) == second.summary
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_refuses_to_replace_a_folder_that_is_not_a_build(tmp_path, capsys):
    audio, targets = tmp_path / "audio", tmp_path / "targets"
    fx.write_ravdess(audio, targets, actors=(1,), emotions=(1,))
    out = tmp_path / "precious"
    out.mkdir()
    (out / "thesis.txt").write_text("do not delete")
    argv = ["data", "build", "--dataset", "ravdess", "--audio-root", str(audio), "--targets", str(targets)]
    assert main(argv + ["--out", str(out)]) == 2
    assert "not a dataset build" in capsys.readouterr().err
    assert (out / "thesis.txt").read_text() == "do not delete"


def test_configurable_actor_split(tmp_path):
    audio, targets = tmp_path / "audio", tmp_path / "targets"
    fx.write_ravdess(audio, targets, actors=(1, 2, 3, 4), emotions=(1,))
    argv = ["--dataset", "ravdess", "--audio-root", str(audio), "--targets", str(targets)]
    result = build(argv + ["--validation-actors", "2", "--test-actors", "Actor_03,4"], tmp_path / "out")
    assert result.summary["splits"] == {"train": 2, "validation": 2, "test": 4}
    test_people = {int(r["person"]) for r in fx.read_records(result.builder_dir, "test")}
    assert test_people == {2, 3}


def test_bad_flags_are_one_line_errors(tmp_path, capsys):
    assert (
        main(["data", "build", "--dataset", "ravdess", "--audio-root", str(tmp_path), "--out", str(tmp_path / "o")])
        == 2
    )
    assert "needs --targets" in capsys.readouterr().err
    argv = ["data", "build", "--dataset", "ravdess", "--audio-root", str(tmp_path / "nope"), "--targets", str(tmp_path)]
    assert main(argv + ["--out", str(tmp_path / "o")]) == 2
    assert "no such folder" in capsys.readouterr().err
    argv = ["data", "build", "--dataset", "ravdess", "--audio-root", str(tmp_path), "--targets", str(tmp_path)]
    assert main(argv + ["--out", str(tmp_path / "o"), "--test-actors", "30"]) == 2
    assert "actors are 1-24" in capsys.readouterr().err
