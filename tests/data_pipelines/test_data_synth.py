"""The synthetic corpus builder: splits by sentence plus the held-out voice, labels, and bad entries."""

from __future__ import annotations

import json

import pytest

from data_pipelines.records.schema import load_metadata
from data_pipelines.sources import synth_corpus
from tests.data_pipelines import data_fixtures as fx
from tests.data_pipelines.data_fixtures import build
from voiceemo_jax.errors import UserError


def test_splits_follow_sentences_and_the_held_out_voice(synth_build):
    # 14 clips (7 emotions x 2 levels) per voice and sentence; sentences 0-2 train, 3 validation, 4 test.
    assert synth_build.summary["splits"] == {"train": 84, "validation": 28, "test": 28, "test_voice": 70}
    metadata = load_metadata(synth_build.out)
    assert metadata.speakers == ("kal", "ked", "slt") and metadata.levels == ("level_1", "level_2")
    assert metadata.emotions == fx.SYNTH_EMOTIONS and metadata.sentences[3] == "sentence number 3"
    held_out = fx.read_records(synth_build.builder_dir, "test_voice")
    assert {int(r["person"]) for r in held_out} == {2} and {int(r["content"]) for r in held_out} == {0, 1, 2, 3, 4}
    for record in fx.read_records(synth_build.builder_dir, "validation"):
        assert record["content"] == 3 and record["person"] in (0, 1)
        assert record["targets"][0, 0] == record["emotion"] and record["targets"][0, 1] == record["level"]
        voice, emotion, _, level, sentence = record["clip_id"].decode().split("_")
        assert metadata.emotions[record["emotion"]] == emotion and record["level"] == int(level) - 1


def test_bad_entries_are_skipped_with_reasons(tmp_path):
    root = tmp_path / "corpus"
    corpus = fx.write_synth_corpus(root, voices=(("kal", False),), emotions=("angry", "sad"), sentences=((0, "train"),))
    clips = corpus["clips"]
    (root / clips[0]["target"]).unlink()
    (root / clips[1]["wav"]).write_bytes(b"garbage")
    clips[2]["voice"] = "nobody"
    (root / "corpus.json").write_text(json.dumps(corpus))
    result = build(["--dataset", "synth", "--root", str(root)], tmp_path / "out")
    assert result.summary["splits"] == {"train": 1, "validation": 0, "test": 0, "test_voice": 0}
    reasons = {entry["path"]: entry["reason"] for entry in result.summary["skipped"]}
    assert reasons[str(root / clips[0]["wav"])].startswith("missing target")
    assert reasons[str(root / clips[1]["wav"])].startswith("unreadable audio")
    assert (
        reasons[str(root / clips[2]["wav"])].startswith("malformed clip entry")
        and "nobody" in reasons[str(root / clips[2]["wav"])]
    )


def test_corpus_json_is_checked(tmp_path):
    with pytest.raises(UserError, match="no corpus.json"):
        synth_corpus.read_corpus(tmp_path)
    (tmp_path / "corpus.json").write_text(json.dumps({"name": "something-else"}))
    with pytest.raises(UserError, match="not a voiceemo-synth corpus"):
        synth_corpus.read_corpus(tmp_path)
