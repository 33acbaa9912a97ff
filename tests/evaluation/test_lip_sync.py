"""Lip-sync scores of real speech (`voiceemo_jax.evaluation.lip_sync`) and the held-out split."""

from __future__ import annotations

import numpy as np
import pytest

from voiceemo_jax.arkit import INDEX, NUM_BLENDSHAPES
from voiceemo_jax.evaluation import held_out_speech as held
from voiceemo_jax.evaluation import lip_sync

TEXTGRID = """File type = "ooTextFile"
Object class = "TextGrid"

xmin = 0.0
xmax = 0.9
tiers? <exists>
size = 2
item []:
\titem [1]:
\t\tclass = "IntervalTier"
\t\tname = "words"
\t\txmin = 0.0
\t\txmax = 0.9
\t\tintervals: size = 1
\t\t\tintervals [1]:
\t\t\t\txmin = 0.0
\t\t\t\txmax = 0.9
\t\t\t\ttext = "mama"
\titem [2]:
\t\tclass = "IntervalTier"
\t\tname = "phones"
\t\txmin = 0.0
\t\txmax = 0.9
\t\tintervals: size = 5
\t\t\tintervals [1]:
\t\t\t\txmin = 0.0
\t\t\t\txmax = 0.1
\t\t\t\ttext = ""
\t\t\tintervals [2]:
\t\t\t\txmin = 0.1
\t\t\t\txmax = 0.3
\t\t\t\ttext = "M"
\t\t\tintervals [3]:
\t\t\t\txmin = 0.3
\t\t\t\txmax = 0.5
\t\t\t\ttext = "AA1"
\t\t\tintervals [4]:
\t\t\t\txmin = 0.5
\t\t\t\txmax = 0.7
\t\t\t\ttext = "M"
\t\t\tintervals [5]:
\t\t\t\txmin = 0.7
\t\t\t\txmax = 0.9
\t\t\t\ttext = "AH0"
"""


@pytest.fixture
def phones(tmp_path):
    path = tmp_path / "mama.TextGrid"
    path.write_text(TEXTGRID)
    return lip_sync.read_textgrid_phones(path)


def test_textgrid_phones_are_read_and_normalised(phones, tmp_path):
    assert [(p.name, p.start, p.end) for p in phones] == [
        ("", 0.0, 0.1), ("m", 0.1, 0.3), ("aa", 0.3, 0.5), ("m", 0.5, 0.7), ("ah", 0.7, 0.9)
    ]  # fmt: skip
    schwa = lip_sync.read_textgrid_phones(tmp_path / "mama.TextGrid", schwa=True)  # AH0 is ARPAbet's schwa
    assert [p.name for p in schwa] == ["", "m", "aa", "m", "ax"]
    with pytest.raises(ValueError, match="no interval tier named 'syllables'"):
        lip_sync.read_textgrid_phones(tmp_path / "mama.TextGrid", tier="syllables")


def test_reference_and_frame_classes_follow_the_phones(phones):
    reference = lip_sync.openness_reference(phones, 27)
    at = lip_sync.phone_at_frames(phones, 27)
    assert reference[12] > 0.9 and reference[6] < 0.1  # middle of "aa" (0.4 s), middle of "m" (0.2 s)
    assert at[12] == "aa" and at[6] == "m" and at[9] is None  # frame 9 (0.3 s) is at the m/aa edge


def test_opening_scores_separate_a_good_mouth_from_a_bad_one(phones):
    num_frames = 27
    good = np.zeros((num_frames, NUM_BLENDSHAPES), np.float32)
    good[:, INDEX["jawOpen"]] = lip_sync.openness_reference(phones, num_frames)
    bad = good[::-1].copy()
    scores = lip_sync.LipSyncScores()
    scores.add_clip(phones, {"good": lip_sync.mouth_opening(good), "bad": lip_sync.mouth_opening(bad)})
    summary = scores.summary()
    assert summary["good"]["correlation"] == pytest.approx(1.0)
    assert summary["good"]["auc_open_vs_bilabial"] == 1.0 and summary["good"]["auc_open_vs_m"] == 1.0
    assert summary["bad"]["correlation"] < 0.5 and summary["bad"]["auc_open_vs_bilabial"] < 0.5


def test_bootstrap_intervals_say_whether_a_signal_beats_loudness_beyond_the_choice_of_clips(phones):
    """Over 12 clips: a signal that follows the phones against one that is noise (its interval above
    loudness excludes 0), a copy of loudness (its difference is exactly 0), the same draws from the
    same seed, and intervals that hold the whole-set figure."""
    num_frames, rng = 27, np.random.default_rng(3)
    reference = lip_sync.openness_reference(phones, num_frames)
    scores = lip_sync.LipSyncScores()
    for _ in range(12):
        noise = rng.normal(size=num_frames)
        signals = {"model": reference + 0.3 * rng.normal(size=num_frames), "loudness": noise, "copy": noise.copy()}
        scores.add_clip(phones, signals)
    summary = scores.summary(bootstrap=200, seed=1)
    assert summary == scores.summary(bootstrap=200, seed=1)
    assert summary != scores.summary(bootstrap=200, seed=2)
    for signal in ("model", "loudness", "copy"):
        for measure, (low, high) in summary["interval95"][signal].items():
            assert low <= summary[signal][measure] <= high, (signal, measure)
    ahead = summary["minus_loudness95"]["model"]
    assert ahead["correlation"][0] > 0.3 and ahead["auc_open_vs_bilabial"][0] > 0.1
    assert summary["minus_loudness95"]["copy"] == {k: [0.0, 0.0] for k in ahead}
    assert "interval95" not in scores.summary() and "minus_loudness95" not in scores.summary()


def test_mouth_opening_subtracts_mouth_close():
    face = np.zeros((2, NUM_BLENDSHAPES), np.float32)
    face[:, INDEX["jawOpen"]] = 0.4
    face[1, INDEX["mouthClose"]] = 0.3
    np.testing.assert_allclose(lip_sync.mouth_opening(face), [0.4, 0.1], atol=1e-6)


def test_auc_and_loudness():
    assert lip_sync.auc(np.array([2.0, 3.0]), np.array([1.0, 2.0])) == pytest.approx(0.875)  # one tie of four
    audio = np.concatenate([np.zeros(16000), 0.5 * np.ones(16000)]).astype(np.float32)
    loud = lip_sync.loudness(audio, 60)
    assert loud[10] < -70 and loud[50] == pytest.approx(10 * np.log10(0.25), abs=1e-3)


def test_held_out_split_is_fixed():
    names = [f"w{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(200)]  # sorted: waa, wab, ...
    tess = [held.Recording("tess", None, "OAF", f"Say the word {name}.", "angry") for name in names]
    words = held.held_out_tess_words(tess)
    assert len(words) == 20 and names[9] in words and names[10] not in words
    actor = held.Recording("ravdess", None, "19", "Kids are talking by the door", "calm")
    assert held.is_held_out(actor) and held.training_emotion(actor) == "neutral"
    assert not held.is_held_out(held.Recording("ravdess", None, "18", "Kids are talking by the door", "sad"))
    assert held.canonical_emotion("ps") == "surprise" and held.canonical_emotion("fearful") == "fear"
