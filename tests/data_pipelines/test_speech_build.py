"""`voiceemo data build --dataset speech`: index.tsv reading, targets from phones, skip list and --strict."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import soundfile as sf

from data_pipelines.records.clip_index import load_clip_index
from data_pipelines.sources import speech, speech_targets
from data_pipelines.sources.speech_alignment import Phone
from data_pipelines.sources.synth import festival_tts
from tests.synth.conftest import needs_festival
from voiceemo_jax.arkit import INDEX
from voiceemo_jax.cli import main
from voiceemo_jax.errors import UserError

KIDS, BIRCH = "Kids are talking by the door.", "The birch canoe slid on the smooth planks."
COLUMNS = ("file", "speaker", "text", "emotion", "intensity")


def _write_index(root, rows) -> None:
    with open(root / "index.tsv", "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, delimiter="\t", lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)


@pytest.fixture(scope="module")
def speech_root(tmp_path_factory):
    """Two festival voices as speakers; three planted problems listed first-to-last in index order."""
    root = tmp_path_factory.mktemp("speech")
    requests = [festival_tts.TtsRequest(KIDS, "kal_diphone"), festival_tts.TtsRequest(BIRCH, "kal_diphone"),
                festival_tts.TtsRequest(KIDS, "cmu_us_slt_arctic_hts")]  # fmt: skip
    results = festival_tts.synthesise_batch(requests)
    # wrong_text and no_text: copies of good recordings, listed with a wrong and with no transcript.
    for name, tts in zip(("kal_kids", "kal_birch", "slt_kids", "wrong_text", "no_text"), results + results[1:]):
        sf.write(root / f"{name}.wav", tts.samples, 16000, subtype="PCM_16")
    (root / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot audio at all")
    _write_index(root, [
        ("kal_kids.wav", "kal", KIDS, "happy", "strong"),
        ("kal_birch.wav", "kal", BIRCH, "fearful", "normal"),
        ("slt_kids.wav", "slt", KIDS, "", ""),
        ("wrong_text.wav", "kal", "Please bring me my bag of apples from the market.", "sad", "normal"),
        ("no_text.wav", "slt", "", "", ""),
        ("broken.wav", "slt", KIDS, "", ""),
    ])  # fmt: skip
    return root


@pytest.fixture(scope="module")
def speech_build(speech_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("speech_out") / "out"
    argv = ["data", "build", "--dataset", "speech", "--root", str(speech_root), "--out", str(out)]
    assert main([*argv, "--test-speakers", "slt", "--workers", "1"]) == 0
    return out, json.loads((out / "summary.json").read_text())


@needs_festival
def test_build_lists_each_planted_problem_with_its_reason(speech_build, speech_root):
    _, summary = speech_build
    assert summary["dataset"] == "voiceemo_speech" and summary["splits"] == {"train": 2, "validation": 0, "test": 1}
    reasons = {entry["path"].rsplit("/", 1)[-1]: entry["reason"] for entry in summary["skipped"]}
    assert set(reasons) == {"wrong_text.wav", "no_text.wav", "broken.wav"}
    assert reasons["wrong_text.wav"].startswith("alignment failed:") and "does not match" in reasons["wrong_text.wav"]
    assert reasons["no_text.wav"].startswith("empty text")
    assert reasons["broken.wav"].startswith("unreadable audio:")


@needs_festival
def test_records_share_a_sentence_id_per_text_and_carry_the_labels(speech_build):
    out, summary = speech_build
    builder_dir = out / summary["builder_dir"]
    metadata = json.loads((builder_dir / "metadata.json").read_text())
    assert metadata["emotions"] == list(speech.EMOTIONS) and metadata["levels"] == ["normal", "strong"]
    assert metadata["speakers"] == ["kal", "slt"]
    kids = [int(k) for k, text in metadata["sentences"].items() if text == KIDS]
    assert len(kids) == 1 and len(metadata["sentences"]) == 2
    train, test = load_clip_index(builder_dir, "train"), load_clip_index(builder_dir, "test")
    rows = {c: (p, e, lv, s) for c, p, e, lv, s in zip(train.clip_id, train.person, train.emotion, train.level,
                                                           train.content)}  # fmt: skip
    assert rows["kal_kids"] == (0, speech.EMOTIONS.index("happy"), 1, kids[0])
    assert rows["kal_birch"][1:3] == (speech.EMOTIONS.index("fear"), 0) and rows["kal_birch"][3] != kids[0]
    assert list(test.clip_id) == ["slt_kids"] and int(test.content[0]) == kids[0]
    assert int(test.emotion[0]) == speech.EMOTIONS.index("neutral")  # no label: neutral


@needs_festival
def test_strict_stops_at_the_first_problem_and_writes_nothing(speech_root, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["data", "build", "--dataset", "speech", "--root", str(speech_root), "--out", str(out), "--strict"]
    assert main(argv) != 0 and not out.exists()
    assert "no_text.wav: empty text (no words to align) (--strict)" in capsys.readouterr().err
    # A transcript that does not fit its audio: found while aligning.
    root = tmp_path / "wrong"
    root.mkdir()
    for name in ("kal_kids.wav", "wrong_text.wav"):
        (root / name).symlink_to(speech_root / name)
    _write_index(root, [("kal_kids.wav", "kal", KIDS, "", ""), ("wrong_text.wav", "kal", KIDS + " Twice.", "", "")])
    with pytest.raises(UserError, match=r"wrong_text\.wav: alignment failed.*--strict"):
        speech.scan([root], strict=True, workers=1, progress=False)


def test_index_columns_labels_and_bad_rows(tmp_path):
    (tmp_path / "index.tsv").write_text(
        "file\tspeaker\ttext\temotion\tlevel\tsplit\n"
        "a.wav\ts1\tHello there\tSurprised\t1\t\n"
        "b.wav\ts1\tHello there\tps\tnormal\tvalidation\n"
        "c.wav\ts2\tHello\t\t\t\n"
        "d.wav\ts2\tHello\tbored\t0\t\n"
        "e.wav\ts2\tHello\tcalm\t3\t\n"
    )
    rows, skipped = speech.read_index(tmp_path)
    assert [(r["clip_id"], r["emotion"], r["level"], r["split"]) for r in rows] == [
        ("a", "surprise", 1, None),
        ("b", "surprise", 0, "validation"),
        ("c", None, 0, None),
    ]
    reasons = [s.reason.split(": ", 1)[1] for s in skipped]
    assert reasons[0].startswith("unknown emotion 'bored'") and reasons[1].startswith("unknown level '3'")
    (tmp_path / "index.tsv").write_text("file\ttext\na.wav\tHello\n")
    with pytest.raises(UserError, match="missing column.*speaker"):
        speech.read_index(tmp_path)


def test_targets_close_the_lips_on_m_and_add_the_emotion_overlay():
    phones = [Phone("sil", 0.0, 0.2), Phone("aa", 0.2, 0.4), Phone("m", 0.4, 0.55), Phone("aa", 0.55, 0.8),
              Phone("sil", 0.8, 1.0)]  # fmt: skip
    plain = speech_targets.targets_from_phones(phones, 30, emotion=None, level=0, seed=1)
    happy = speech_targets.targets_from_phones(phones, 30, emotion="happy", level=1, seed=1)
    mild = speech_targets.targets_from_phones(phones, 30, emotion="happy", level=0, seed=1)
    jaw, smile = INDEX["jawOpen"], INDEX["mouthSmileLeft"]
    assert plain.shape == (30, 52) and plain.dtype == np.float32
    assert plain[9, jaw] > 0.3 and plain[14, jaw] < 0.1  # open on /aa/ (0.3 s), nearly shut on /m/ (0.47 s)
    assert np.all(plain[:, smile] == 0) and happy[15:, smile].mean() > mild[15:, smile].mean() > 0.1
    np.testing.assert_array_equal(happy, speech_targets.targets_from_phones(phones, 30, "happy", 1, seed=1))


def test_several_roots_qualify_speakers_and_clip_ids(tmp_path, capsys):
    for corpus, speaker in (("tess", "OAF"), ("arctic", "bdl")):
        (tmp_path / corpus).mkdir()
        (tmp_path / corpus / "index.tsv").write_text(f"file\tspeaker\ttext\nx/a.ogg\t{speaker}\tSay the word 16.\n")
    recordings, skipped = speech.read_recordings([tmp_path / "tess", tmp_path / "arctic"])
    assert not skipped
    assert [(r.clip_id, r.speaker) for r in recordings] == [("tess/x/a", "tess/OAF"), ("arctic/x/a", "arctic/bdl")]
    assert recordings[0].words == ("say", "the", "word", "sixteen")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "tess").mkdir()
    with pytest.raises(UserError, match="distinct names"):
        speech.read_recordings([tmp_path / "tess", tmp_path / "other" / "tess"])
    argv = ["data", "build", "--dataset", "synth", "--root", "a", "--root", "b", "--out", str(tmp_path / "out")]
    assert main(argv) != 0 and not (tmp_path / "out").exists()
    assert "--dataset synth takes one --root" in capsys.readouterr().err
