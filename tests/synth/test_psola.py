"""TD-PSOLA on a synthetic voiced signal with a known F0 (no festival needed)."""

from __future__ import annotations

import numpy as np
import pytest

from data_pipelines.sources.synth import psola
from tests.synth.conftest import synthetic_vowel

SR = 16000


def test_analysis_finds_f0_and_silence():
    x = synthetic_vowel(120.0)
    track = psola.analyse_pitch(x, SR)
    assert track.median_hz() == pytest.approx(120.0, rel=0.02)
    frames = np.arange(len(track.voiced)) * psola.HOP / SR
    assert not track.voiced[frames < 0.15].any() and not track.voiced[frames > 1.25].any()
    assert track.voiced[(frames > 0.3) & (frames < 1.1)].mean() > 0.95


@pytest.mark.parametrize("semitones", [-4.0, 5.0, 9.0])
def test_pitch_shift_keeps_duration_and_level(semitones):
    x = synthetic_vowel(120.0)
    track = psola.analyse_pitch(x, SR)
    ratio = np.full(len(track.f0_hz), 2 ** (semitones / 12))
    y = psola.psola(x, SR, track, ratio)
    assert len(y) == len(x)
    assert psola.analyse_pitch(y, SR).median_hz() == pytest.approx(120.0 * 2 ** (semitones / 12), rel=0.03)
    voiced = slice(int(0.3 * SR), int(1.1 * SR))
    assert np.sqrt(np.mean(y[voiced] ** 2)) == pytest.approx(np.sqrt(np.mean(x[voiced] ** 2)), rel=0.35)
    # The formants stay put: the spectral peak near 700 Hz does not move with the pitch.
    spectrum = np.abs(np.fft.rfft(y[voiced] * np.hanning(len(y[voiced]))))
    freqs = np.fft.rfftfreq(len(y[voiced]), 1 / SR)
    band = (freqs > 300) & (freqs < 1000)
    assert abs(freqs[band][np.argmax(spectrum[band])] - 700.0) < 120.0


def test_time_scale_and_creak():
    x = synthetic_vowel(150.0)
    track = psola.analyse_pitch(x, SR)
    ones = np.ones(len(track.f0_hz))
    longer = psola.psola(x, SR, track, ones, time_scale=1.25)
    assert len(longer) == round(1.25 * len(x))
    assert psola.analyse_pitch(longer, SR).median_hz() == pytest.approx(150.0, rel=0.03)
    creaky = psola.psola(x, SR, track, ones, creak=1.0)
    # Period doubling: the autocorrelation peak moves to two periods.
    assert psola.analyse_pitch(creaky, SR).median_hz() == pytest.approx(75.0, rel=0.1)
