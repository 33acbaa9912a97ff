"""The generated corpus: layout contract, file consistency, triplets, timings, determinism, re-runs."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest
import soundfile as sf

from data_pipelines.sources.synth import expressions, generate, prosody
from data_pipelines.sources.synth.sentences import SENTENCES
from data_pipelines.sources.synth.visemes import BILABIALS, VOWELS, canonical, frame_of
from data_pipelines.sources.synth.voices import select_voices
from tests.synth.conftest import TINY_SEED, TINY_SENTENCES, TINY_VOICES, needs_festival
from voiceemo_jax.arkit import INDEX
from voiceemo_jax.errors import UserError
from voiceemo_jax.timebase import frames_for

pytestmark = needs_festival
CLIP_KEYS = {"wav", "target", "phones", "voice", "emotion", "level", "sentence"}


def _phones(root, clip) -> list[dict]:
    return json.loads((root / clip["phones"]).read_text())["phones"]


def test_corpus_json_follows_the_contract(tiny_corpus):
    root, corpus = tiny_corpus
    assert corpus["name"] == "voiceemo-synth" and corpus["version"] == "1.2.0"
    assert corpus["seed"] == TINY_SEED and corpus["sample_rate_hz"] == 16000 and corpus["fps"] == 30
    assert corpus["emotions"] == ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
    assert corpus["levels"] == [1, 2]
    assert [v["name"] for v in corpus["voices"]] == list(TINY_VOICES)
    assert [v["held_out"] for v in corpus["voices"]] == [False, False, True]
    assert corpus["sentences"] == [
        {"id": 0, "text": SENTENCES[0], "split": "train"},
        {"id": 8, "text": SENTENCES[8], "split": "validation"},
        {"id": 9, "text": SENTENCES[9], "split": "test"},
    ]
    assert len(corpus["clips"]) == len(TINY_VOICES) * len(TINY_SENTENCES) * 7
    for clip in corpus["clips"]:
        assert set(clip) == CLIP_KEYS
        stem = f"{clip['voice']}/{clip['emotion']}/level_{clip['level']}/{clip['sentence']:03d}"
        assert (clip["wav"], clip["target"], clip["phones"]) == (
            f"wav/{stem}.wav",
            f"targets/{stem}.npy",
            f"phones/{stem}.json",
        )


def test_every_file_is_consistent_with_its_clip(tiny_corpus):
    root, corpus = tiny_corpus
    for clip in corpus["clips"]:
        info = sf.info(root / clip["wav"])
        assert (info.samplerate, info.channels, info.subtype, info.format) == (16000, 1, "PCM_16", "WAV")
        target = np.load(root / clip["target"])
        assert target.dtype == np.float32
        assert target.shape == (-(-info.frames * 30 // 16000), 52) == (frames_for(info.frames), 52)
        assert target.min() >= 0.0 and target.max() <= 1.0
        record = json.loads((root / clip["phones"]).read_text())
        assert record["text"] == SENTENCES[clip["sentence"]] and record["sample_rate_hz"] == 16000
        phones = record["phones"]
        assert phones[0]["start"] == 0.0 and phones[0]["phone"] == "pau"
        assert all(a["end"] == b["start"] for a, b in zip(phones, phones[1:], strict=False))
        assert all(p["end"] > p["start"] for p in phones)
        assert phones[-1]["end"] == pytest.approx(info.frames / 16000, abs=2e-4)
    on_disk = {
        p.relative_to(root).as_posix() for f in generate.DATA_FOLDERS for p in (root / f).rglob("*") if p.is_file()
    }
    assert on_disk == {c[k] for c in corpus["clips"] for k in ("wav", "target", "phones")}


def test_triplet_structure(tiny_corpus):
    _, corpus = tiny_corpus
    spoken = {(c["voice"], c["sentence"], c["emotion"]) for c in corpus["clips"]}
    for voice in TINY_VOICES:
        for sentence in TINY_SENTENCES:
            assert {e for v, s, e in spoken if (v, s) == (voice, sentence)} == set(prosody.EMOTIONS)
    for voice, s1, e1 in spoken:
        assert any((voice, s1, e2) in spoken for e2 in prosody.EMOTIONS if e2 != e1)  # X12
        assert any((voice, s2, e1) in spoken for s2 in TINY_SENTENCES if s2 != s1)  # X21
    levels = {(c["emotion"], c["level"]) for c in corpus["clips"]}
    assert levels == {(e, lv) for e in prosody.EMOTIONS for lv in (1, 2) if e != "neutral"} | {("neutral", 1)}


def test_jaw_and_audio_follow_the_phone_timings(tiny_corpus):
    root, corpus = tiny_corpus
    vowel_jaw, bilabial_jaw = [], []
    for clip in corpus["clips"]:
        target = np.load(root / clip["target"])
        audio, _ = sf.read(root / clip["wav"])
        jaw = target[:, INDEX["jawOpen"]]
        clip_vowels, clip_bilabials, pause_rms, vowel_rms = [], [], [], []
        for phone in _phones(root, clip):
            name, mid, length = (
                canonical(phone["phone"]),
                0.5 * (phone["start"] + phone["end"]),
                phone["end"] - phone["start"],
            )
            window = audio[int((mid - 0.02) * 16000) : int((mid + 0.02) * 16000)]
            if name in VOWELS and length >= 0.06:
                clip_vowels.append(jaw[frame_of(mid)])
                vowel_rms.append(np.sqrt(np.mean(window**2)))
            elif name in BILABIALS:
                clip_bilabials.append(jaw[frame_of(mid)])
            elif name == "pau" and length >= 0.2:
                core = jaw[frame_of(phone["start"] + 0.08) : frame_of(phone["end"] - 0.08) + 1]
                # A closed mouth in silence; fear and surprise keep their slightly dropped jaw.
                held_jaw = expressions.EXPRESSIONS[clip["emotion"]][INDEX["jawOpen"]]
                assert core.max() < 0.04 + 1.4 * held_jaw * expressions.LEVEL_SCALE[clip["level"]]
                pause_rms.append(np.sqrt(np.mean(window**2)))
        if clip_bilabials:  # sentence 8 has none
            assert np.mean(clip_vowels) > np.mean(clip_bilabials) + 0.1, clip["wav"]
        # The audio is silent where the phones say pause and loud where they say vowel.
        assert max(pause_rms) < 0.05 * np.median(vowel_rms), clip["wav"]
        vowel_jaw += clip_vowels
        bilabial_jaw += clip_bilabials
    assert len(bilabial_jaw) > 50 and np.median(vowel_jaw) > 0.2 and np.median(bilabial_jaw) < 0.1


def _read_all(root, corpus) -> dict[str, bytes]:
    return {c[k]: (root / c[k]).read_bytes() for c in corpus["clips"] for k in ("wav", "target", "phones")}


def test_same_seed_gives_identical_files_whatever_the_worker_count(tiny_corpus, tmp_path, monkeypatch):
    root, corpus = tiny_corpus
    monkeypatch.setattr(generate, "CLIPS_PER_JOB", 7)  # two jobs, so the pool really runs
    voices = select_voices(["kal", "slt"])
    generate.synthesise_corpus(tmp_path / "again", TINY_SEED, voices, prosody.EMOTIONS, [8], workers=2, progress=False)
    again = json.loads((tmp_path / "again" / "corpus.json").read_text())
    assert len(again["clips"]) == 14
    reference = _read_all(root, corpus)
    for path, content in _read_all(tmp_path / "again", again).items():
        assert content == reference[path], path

    generate.synthesise_corpus(tmp_path / "other", TINY_SEED + 1, voices, ["happy"], [8], progress=False)
    other = json.loads((tmp_path / "other" / "corpus.json").read_text())
    for path, content in _read_all(tmp_path / "other", other).items():
        if not path.startswith("phones/"):  # festival's phone timings can coincide
            assert content != reference[path], path


def test_rerun_resumes_same_seed_and_rebuilds_another(tmp_path):
    root, voices = tmp_path / "corpus", select_voices(["ked"])
    first = generate.synthesise_corpus(root, 1, voices, ["angry", "sad"], [1], progress=False)
    assert (first.clips, first.synthesised) == (2, 2)
    corpus = json.loads((root / "corpus.json").read_text())
    before = _read_all(root, corpus)
    (root / corpus["clips"][0]["target"]).unlink()
    resumed = generate.synthesise_corpus(root, 1, voices, ["angry", "sad"], [1], progress=False)
    assert resumed.synthesised == 1
    assert _read_all(root, corpus) == before

    # Fewer emotions, same seed: the dropped clip's files go, the kept clip is not redone.
    shrunk = generate.synthesise_corpus(root, 1, voices, ["sad"], [1], progress=False)
    assert shrunk.synthesised == 0
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert files == [".synth_state.json", "corpus.json"] + sorted(p for p in before if "/sad/" in p)

    # Another seed: everything is regenerated, nothing of seed 1 survives.
    generate.synthesise_corpus(root, 2, voices, ["angry", "sad"], [1], progress=False)
    rebuilt = json.loads((root / "corpus.json").read_text())
    assert rebuilt["seed"] == 2
    after = _read_all(root, rebuilt)
    assert all(after[p] != before[p] for p in before if p.startswith("wav/"))


def test_refuses_to_write_into_foreign_folders(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="not a synth corpus"):
        generate.synthesise_corpus(tmp_path, 0, select_voices(["kal"]), ["sad"], [0], progress=False)
    with pytest.raises(UserError, match="not a folder"):
        generate.synthesise_corpus(tmp_path / "notes.txt", 0, select_voices(["kal"]), ["sad"], [0], progress=False)
    assert re.fullmatch("mine", (tmp_path / "notes.txt").read_text())


def test_a_worker_that_dies_is_an_error_not_a_hang(tmp_path, monkeypatch):
    """A synthesis worker killed mid-job (here by a fake festival that kills the process
    that ran it) stops the run with a UserError; before, the pool waited forever."""
    fake = tmp_path / "bin" / "festival"
    fake.parent.mkdir()
    voices = " ".join(v.festival_voice for v in select_voices(None))
    fake.write_text(f'#!/bin/sh\nif [ "$1" = "--pipe" ]; then echo "({voices})"; exit 0; fi\nkill -9 $PPID\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    monkeypatch.setattr(generate, "CLIPS_PER_JOB", 1)
    with pytest.raises(UserError, match="worker died"):
        generate.synthesise_corpus(
            tmp_path / "corpus", 0, select_voices(["kal"]), ["angry", "sad"], [1], workers=2, progress=False
        )
    assert not (tmp_path / "corpus" / "corpus.json").exists()
