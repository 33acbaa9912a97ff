"""VOCASET: 60 -> 30 fps, offsets from the template, the standard split, and a hostile templates.pkl."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from data_pipelines.records.schema import load_metadata
from data_pipelines.sources import vocaset
from tests.data_pipelines import data_fixtures as fx
from tests.data_pipelines.data_fixtures import build
from tests.data_pipelines.test_data_safe_pickle_and_audio import _CreatesFile
from voiceemo_jax.cli import main


def test_parse_vocaset_name():
    assert vocaset.parse_vocaset_name("FaceTalk_170728_03272_TA_sentence07") == ("FaceTalk_170728_03272_TA", 7)
    with pytest.raises(ValueError, match="malformed"):
        vocaset.parse_vocaset_name("FaceTalk_170728_03272_TA_07")


def test_standard_split_and_excluded_sentences(vocaset_build):
    # Two train subjects x sentences 1, 2, 21, 22; the validation and test subject keep 21 and 22 only.
    assert vocaset_build.summary["splits"] == {"train": 8, "validation": 2, "test": 2}
    assert vocaset_build.summary["skipped"] == []
    excluded = vocaset_build.summary["excluded"]
    assert len(excluded) == 4 and all("sentences 21-40 only" in e["reason"] for e in excluded)
    assert {int(e["path"][-6:-4]) for e in excluded} == {1, 2}
    metadata = load_metadata(vocaset_build.out)
    assert metadata.target_kind == "vertex_offsets" and metadata.target_dim == 15 and metadata.has_template
    assert not metadata.has_emotion_pairs
    assert metadata.speakers[:8] == vocaset.TRAIN_SUBJECTS and metadata.speakers[8:10] == vocaset.VALIDATION_SUBJECTS


def test_targets_are_every_second_frame_minus_the_template(vocaset_build):
    metadata = load_metadata(vocaset_build.out)
    templates, vertices = vocaset_build.sources["templates"], vocaset_build.sources["vertices"]
    records = fx.read_records(vocaset_build.builder_dir, "train") + fx.read_records(vocaset_build.builder_dir, "test")
    assert len(records) == 10
    for record in records:
        stem = record["clip_id"].decode()
        subject, sentence = vocaset.parse_vocaset_name(stem)
        assert metadata.speakers[record["person"]] == subject and record["content"] == sentence
        template = templates[subject].reshape(-1).astype(np.float32)
        np.testing.assert_allclose(record["template"], template, atol=1e-6)
        frames30 = record["num_frames"]
        assert frames30 == -(-int(record["num_samples"]) * 30 // 16000)
        expected = vertices[stem][::2] - template  # 60 -> 30 fps keeps frames 0, 2, 4, ...
        n = min(len(expected), frames30)
        np.testing.assert_allclose(record["targets"][:n], expected[:n], atol=1e-5)
        # Offsets encode the 60 fps frame index on x: 2 * (30 fps index) * 1e-3.
        np.testing.assert_allclose(record["targets"][:n, 0], 2e-3 * np.arange(n), atol=1e-5)
        assert abs(len(expected) - frames30) <= 1


def test_hostile_templates_pickle_is_refused_without_running(tmp_path, capsys):
    root = tmp_path / "vocaset"
    fx.write_vocaset(root, sentences=(1,))
    marker = tmp_path / "payload_ran"
    templates = pickle.loads((root / "templates.pkl").read_bytes())
    templates["FaceTalk_170728_03272_TA"] = _CreatesFile(marker)
    (root / "templates.pkl").write_bytes(pickle.dumps(templates, protocol=2))
    assert main(["data", "build", "--dataset", "vocaset", "--root", str(root), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert "refusing to unpickle" in error and "system" in error
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_missing_vertices_and_a_bad_length_are_skipped(tmp_path):
    root = tmp_path / "vocaset"
    fx.write_vocaset(root, sentences=(21,))
    (root / "vertices_npy" / "FaceTalk_170811_03275_TA_sentence21.npy").unlink()
    long = root / "vertices_npy" / "FaceTalk_170809_00138_TA_sentence21.npy"
    np.save(long, np.concatenate([np.load(long)] * 2))  # twice the scans: far more frames than the audio
    result = build(["--dataset", "vocaset", "--root", str(root)], tmp_path / "out")
    assert result.summary["splits"] == {"train": 2, "validation": 0, "test": 0}
    skipped = {e["path"].rsplit("/", 1)[1]: e["reason"] for e in result.summary["skipped"]}
    assert sorted(skipped) == ["FaceTalk_170809_00138_TA_sentence21.wav", "FaceTalk_170811_03275_TA_sentence21.wav"]
    assert skipped["FaceTalk_170811_03275_TA_sentence21.wav"].startswith("missing target")
    assert skipped["FaceTalk_170809_00138_TA_sentence21.wav"].startswith("target length mismatch")
