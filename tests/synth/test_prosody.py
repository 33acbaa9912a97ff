"""Emotions sound different: recipe arithmetic, and measured F0, rate, loudness and spectra of the tiny corpus."""

from __future__ import annotations

import json
import re
import subprocess

import numpy as np
import pytest
import soundfile as sf

from data_pipelines.sources.synth import festival_tts, prosody, psola
from data_pipelines.sources.synth.sentences import SENTENCES
from data_pipelines.sources.synth.visemes import DIPHTHONGS, POSES, canonical
from data_pipelines.sources.synth.voices import VOICES_BY_NAME
from tests.synth.conftest import needs_festival, synthetic_vowel


def test_recipes_scale_with_level_and_jitter_is_seeded():
    rng = np.random.default_rng
    strong = [prosody.prosody_for("angry", 2, rng(i)) for i in range(200)]
    mild = [prosody.prosody_for("angry", 1, rng(i)) for i in range(200)]
    recipe = prosody.RECIPES["angry"]
    assert np.mean([p.gain_db for p in strong]) == pytest.approx(recipe.gain_db, rel=0.05)
    assert np.mean([p.gain_db for p in mild]) == pytest.approx(0.6 * recipe.gain_db, rel=0.05)
    assert np.mean([p.duration_stretch for p in mild]) > np.mean([p.duration_stretch for p in strong])
    assert 0 < np.std([p.pitch_shift_semitones for p in strong]) < 1.0
    assert prosody.prosody_for("sad", 2, rng(7)) == prosody.prosody_for("sad", 2, rng(7))
    assert prosody.prosody_for("neutral", 1, rng(0)).gain_db == 0.0
    with pytest.raises(ValueError, match="unknown emotion"):
        prosody.prosody_for("bored", 1, rng(0))
    with pytest.raises(ValueError, match="level"):
        prosody.prosody_for("sad", 3, rng(0))


def _render_vowel(emotion: str, voice_name: str = "kal") -> tuple[np.ndarray, psola.PitchTrack]:
    """A synthetic 1.5 s vowel through an emotion's level-2 recipe (no jitter): (audio, its pitch track)."""
    x = synthetic_vowel(120.0, seconds=1.5).astype(np.float32)
    tts = festival_tts.TtsResult(x, (festival_tts.Phone("pau", 0.0, 0.2), festival_tts.Phone("aa", 0.2, 1.7),
                                     festival_tts.Phone("pau", 1.7, 1.9)))  # fmt: skip
    audio, _ = prosody.render_clip_audio(tts, VOICES_BY_NAME[voice_name], prosody.RECIPES[emotion],
                                         np.random.default_rng(0))  # fmt: skip
    return audio, psola.analyse_pitch(audio.astype(np.float64), 16000)


def test_voice_quality_cues_on_a_synthetic_vowel():
    steady = slice(80, 300)  # 0.4-1.5 s on the 5 ms grid
    neutral, neutral_track = _render_vowel("neutral")
    fear, fear_track = _render_vowel("fear")
    assert len(fear) == len(neutral) == int(1.9 * 16000)
    # Fear: F0 trembles by about a semitone.
    assert np.std(12 * np.log2(fear_track.f0_hz[steady])) > 0.4
    assert np.std(12 * np.log2(neutral_track.f0_hz[steady])) < 0.15
    # Creaky disgust: alternate periods, so the waveform repeats at half the F0.
    _, disgust_track = _render_vowel("disgust")
    assert np.median(disgust_track.f0_hz[steady]) < 0.7 * np.median(neutral_track.f0_hz[steady])

    # Breathy sadness: noise fills the band above 2 kHz relative to the harmonics below 1 kHz.
    def high_share(audio):
        spectrum, freqs = np.abs(np.fft.rfft(audio)) ** 2, np.fft.rfftfreq(len(audio), 1 / 16000)
        return spectrum[(freqs > 2500) & (freqs < 6000)].sum() / spectrum[freqs < 1000].sum()

    assert high_share(_render_vowel("sad")[0]) > 3 * high_share(neutral)
    assert high_share(_render_vowel("angry")[0]) > 3 * high_share(neutral)  # pressed, bright voice
    # Loudness follows gain_db on the speech-active part; the silence stays silent.
    assert 20 * np.log10(prosody._active_rms(neutral)) == pytest.approx(prosody.REFERENCE_RMS_DBFS, abs=0.5)
    assert np.abs(neutral[: int(0.15 * 16000)]).max() < 1e-3
    # A variant voice carries its pitch shift (kal_high: +4 semitones).
    _, high_track = _render_vowel("neutral", "kal_high")
    assert 12 * np.log2(np.median(high_track.f0_hz[steady]) / 120.0) == pytest.approx(4.0, abs=0.5)


def _measure(root, clip) -> dict[str, float]:
    """F0 median (semitones re 1 Hz), speaking rate (phones per second of speech), active RMS (dBFS)
    and high/low band energy (dB)."""
    audio, sr = sf.read(root / clip["wav"])
    phones = json.loads((root / clip["phones"]).read_text())["phones"]
    speech = [p for p in phones if p["phone"] != "pau"]
    track = psola.analyse_pitch(audio, sr)
    spectrum, freqs = np.abs(np.fft.rfft(audio)) ** 2, np.fft.rfftfreq(len(audio), 1 / sr)
    return {
        "f0": float(np.median(12 * np.log2(track.f0_hz[track.voiced]))),
        "rate": len(speech) / sum(p["end"] - p["start"] for p in speech),
        "rms": 20 * np.log10(prosody._active_rms(audio)),
        "bright": 10 * np.log10(spectrum[(freqs > 2000) & (freqs < 6000)].sum() / spectrum[freqs < 1000].sum()),
    }


@pytest.fixture(scope="module")
def measured(tiny_corpus) -> list[tuple[dict, dict[str, float]]]:
    """(clip entry, _measure of it) for every clip of the tiny corpus."""
    root, corpus = tiny_corpus
    return [(clip, _measure(root, clip)) for clip in corpus["clips"]]


@needs_festival
def test_emotions_differ_measurably_from_neutral(measured):
    stats = {}
    for clip, values in measured:
        stats.setdefault(clip["emotion"], []).append(values)
    mean = {e: {k: np.mean([s[k] for s in rows]) for k in rows[0]} for e, rows in stats.items()}
    neutral = mean["neutral"]
    for emotion in ("angry", "fear", "happy", "surprise"):
        assert mean[emotion]["f0"] > neutral["f0"] + 1.5, emotion  # semitones
    for emotion in ("sad", "disgust"):
        assert mean[emotion]["f0"] < neutral["f0"] - 1.5, emotion
        assert mean[emotion]["rate"] < 0.88 * neutral["rate"], emotion
    for emotion in ("angry", "fear"):
        assert mean[emotion]["rate"] > 1.08 * neutral["rate"], emotion
    assert mean["surprise"]["f0"] > mean["happy"]["f0"] + 1.5
    assert mean["angry"]["rms"] > neutral["rms"] + 4 > mean["sad"]["rms"] + 8
    assert mean["angry"]["bright"] > neutral["bright"] + 5


@needs_festival
def test_emotions_are_separable_from_simple_acoustic_features(measured):
    """Nearest-centroid over four per-voice standardised features, leaving each sentence out:
    a floor for what a trained classifier sees (the issue asks >= 85% of a learned model)."""
    keys = ("f0", "rate", "rms", "bright")
    clips = [clip for clip, _ in measured]
    features = np.array([[values[k] for k in keys] for _, values in measured])
    voices = np.array([c["voice"] for c in clips])
    for voice in set(voices):
        rows = voices == voice
        features[rows] = (features[rows] - features[rows].mean(0)) / features[rows].std(0)
    labels, sentences = np.array([c["emotion"] for c in clips]), np.array([c["sentence"] for c in clips])
    correct = 0
    for i in range(len(clips)):
        known = sentences != sentences[i]
        centroids = {e: features[known & (labels == e)].mean(0) for e in prosody.EMOTIONS}
        correct += min(centroids, key=lambda e: np.sum((features[i] - centroids[e]) ** 2)) == labels[i]
    assert correct / len(clips) >= 0.8


@needs_festival
def test_every_phone_festival_can_emit_has_a_pose():
    """Looks every word of the sentence list up in each voice's lexicon (no waveforms: fast)."""
    words = sorted({w for s in SENTENCES for w in re.findall(r"[a-z']+", s.lower())})
    script = []
    for voice in festival_tts.FESTIVAL_VOICES:
        script.append(f"(voice_{voice})")
        script += [f'(print (lex.lookup "{w}" nil))' for w in words]
    out = subprocess.run(
        [festival_tts.festival_binary(), "--pipe"], input="\n".join(script) + "\n", capture_output=True, text=True
    ).stdout
    phones = set()
    for line in out.splitlines():
        for syllable in re.findall(r"\(\(([a-z0-9@ ]+)\)", line):
            phones.update(syllable.split())
    assert len(phones) > 35
    known = set(POSES) | set(DIPHTHONGS)
    assert {p for p in phones if canonical(p) not in known} == set()
