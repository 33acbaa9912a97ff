"""Shared fixtures of the synth tests: one tiny corpus built once per session.

Tests that need festival are skipped, with the packages to install, where it is absent
(CI installs them, so there they run).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from scipy import signal

from data_pipelines.sources.synth import festival_tts

TINY_VOICES = ("kal", "slt", "ked_bright")  # one per festival voice, one of them a variant and held out
TINY_SENTENCES = (0, 8, 9)  # one train, one validation, one test sentence
TINY_SEED = 3


def _festival_ready() -> bool:
    if shutil.which("festival") is None:
        return False
    return set(festival_tts.FESTIVAL_VOICES) <= festival_tts.available_voices()


def synthetic_vowel(f0_hz: float, seconds: float = 1.0, silence: float = 0.2, sr: int = 16000) -> np.ndarray:
    """A glottal pulse train at f0 through formant resonators at 700 and 1200 Hz, with silence
    around it: [samples] float64, peak 0.5. A festival-free stand-in for voiced speech."""
    pulses = np.zeros(int(seconds * sr))
    pulses[:: int(round(sr / f0_hz))] = 1.0
    x = pulses
    for formant, bandwidth in ((700.0, 110.0), (1200.0, 120.0)):
        r = np.exp(-np.pi * bandwidth / sr)
        x = signal.lfilter([1.0], [1.0, -2 * r * np.cos(2 * np.pi * formant / sr), r * r], x)
    pad = np.zeros(int(silence * sr))
    return np.concatenate([pad, x / np.abs(x).max() * 0.5, pad])


FESTIVAL_READY = _festival_ready()
needs_festival = pytest.mark.skipif(
    not FESTIVAL_READY,
    reason="festival or its voices are missing: apt-get install " + " ".join(festival_tts.DEBIAN_PACKAGES),
)


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory):
    """(root, corpus.json dict) of 3 voices x 3 sentences x 7 emotions (63 clips, ~3 minutes of audio)."""
    if not FESTIVAL_READY:
        pytest.skip("festival or its voices are missing: apt-get install " + " ".join(festival_tts.DEBIAN_PACKAGES))
    import json

    from data_pipelines.sources.synth import generate, prosody
    from data_pipelines.sources.synth.voices import select_voices

    root = tmp_path_factory.mktemp("synth") / "corpus"
    generate.synthesise_corpus(
        root, TINY_SEED, select_voices(list(TINY_VOICES)), prosody.EMOTIONS, TINY_SENTENCES, workers=1, progress=False
    )
    return root, json.loads((root / "corpus.json").read_text())
