"""Visemes from phone timings, on hand-made phone sequences (no festival needed)."""

from __future__ import annotations

import numpy as np
import pytest

from data_pipelines.sources.synth.festival_tts import Phone
from data_pipelines.sources.synth.visemes import FPS, POSES, frame_of, phone_at, viseme_curves
from voiceemo_jax.arkit import INDEX, NUM_BLENDSHAPES
from voiceemo_jax.timebase import frames_for


def _phones(spec: str, durations: dict[str, float] | None = None) -> list[Phone]:
    """'pau m aa p uw' -> contiguous phones of 100 ms (pau 400 ms) unless `durations` says otherwise."""
    durations = {"pau": 0.4, **(durations or {})}
    phones, t = [], 0.0
    for name in spec.split():
        d = durations.get(name, 0.1)
        phones.append(Phone(name, t, t + d))
        t += d
    return phones


def _at(curves: np.ndarray, phone: Phone, channel: str) -> float:
    return float(curves[frame_of(0.5 * (phone.start + phone.end)), INDEX[channel]])


def test_frames_for_is_exact_ceil():
    assert frames_for(16000) == 30
    assert frames_for(16001) == 31
    assert frames_for(1) == 1
    assert frames_for(533) == 1 and frames_for(534) == 2  # 533.33 samples per frame
    assert all(frames_for(n) == int(np.ceil(n * 30 / 16000)) for n in range(0, 50000, 7))


def test_jaw_opens_on_vowels_closes_on_bilabials_and_silence():
    phones = _phones("pau m aa m aa p iy b aa pau")
    curves = viseme_curves(phones, frames_for(int(phones[-1].end * 16000)))
    assert curves.shape == (frames_for(int(phones[-1].end * 16000)), NUM_BLENDSHAPES)
    assert curves.dtype == np.float32 and curves.min() >= 0.0 and curves.max() <= 1.0
    vowels = [p for p in phones if p.name == "aa"]
    bilabials = [p for p in phones if p.name in ("m", "p", "b")]
    assert min(_at(curves, p, "jawOpen") for p in vowels) > 0.3
    assert max(_at(curves, p, "jawOpen") for p in bilabials) < 0.08
    # The lips press on every bilabial.
    assert min(_at(curves, p, "mouthPressLeft") for p in bilabials) > 0.15
    # Deep inside the leading and trailing pauses the mouth is closed and neutral.
    for pause in (phones[0], phones[-1]):
        assert np.abs(curves[frame_of(pause.start + 0.15) : frame_of(pause.end - 0.15)]).max() < 0.02


def test_rounding_spreading_and_tongue():
    phones = _phones("pau s uw pau th iy pau w aa pau")
    curves = viseme_curves(phones, frames_for(int(phones[-1].end * 16000)))
    uw, th, iy = phones[2], phones[4], phones[5]
    assert _at(curves, uw, "mouthPucker") > 0.4
    assert _at(curves, th, "tongueOut") > 0.15
    assert _at(curves, iy, "mouthStretchLeft") > 0.25
    assert _at(curves, iy, "mouthPucker") < 0.05
    # Anticipatory rounding: the s before uw is already rounded.
    assert _at(curves, phones[1], "mouthPucker") > 0.2


def test_diphthong_glides_and_articulation_scales():
    phones = _phones("pau ay pau", {"ay": 0.3})
    n = frames_for(int(phones[-1].end * 16000))
    curves = viseme_curves(phones, n)
    ay = phones[1]
    early, late = frame_of(ay.start + 0.08), frame_of(ay.end - 0.04)
    assert curves[early, INDEX["jawOpen"]] > curves[late, INDEX["jawOpen"]] + 0.15  # aa -> iy closes the jaw
    assert curves[late, INDEX["mouthStretchLeft"]] > curves[early, INDEX["mouthStretchLeft"]]
    louder = viseme_curves(phones, n, articulation=1.3)
    assert louder[early, INDEX["jawOpen"]] == pytest.approx(1.3 * curves[early, INDEX["jawOpen"]], rel=1e-4)


def test_only_mouth_jaw_tongue_channels_move():
    phones = _phones("pau hh ae l ow w er l d pau")
    curves = viseme_curves(phones, 60)
    moving = {name for name, i in INDEX.items() if curves[:, i].max() > 0}
    assert moving and all(name.startswith(("jaw", "mouth", "tongue")) for name in moving)
    assert "pau" in POSES and not POSES["pau"].any()
    assert phone_at(phones, 0.45) == "hh" and phone_at(phones, 99.0) is None
    assert FPS == 30
