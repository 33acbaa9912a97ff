"""Emotion expressions, blinks and target composition (no festival needed)."""

from __future__ import annotations

import numpy as np
import pytest

from data_pipelines.sources.synth import expressions
from data_pipelines.sources.synth.prosody import EMOTIONS
from voiceemo_jax.arkit import EYE_BLINK_LEFT, EYE_BLINK_RIGHT, INDEX, NUM_BLENDSHAPES

# The channel that most identifies each emotion (mean over the clip, level 2).
SIGNATURE = {
    "angry": "browDownLeft",
    "disgust": "noseSneerLeft",
    "fear": "mouthStretchLeft",
    "happy": "mouthSmileLeft",
    "sad": "mouthFrownLeft",
    "surprise": "browOuterUpLeft",
}


def _mean_face(emotion: str, level: int, seed: int = 0) -> np.ndarray:
    return expressions.expression_curves(emotion, level, 120, np.random.default_rng(seed)).mean(axis=0)


@pytest.mark.parametrize("emotion", sorted(SIGNATURE))
def test_each_emotion_owns_its_signature_channel(emotion):
    channel = INDEX[SIGNATURE[emotion]]
    means = {e: _mean_face(e, 2)[channel] for e in EMOTIONS}
    assert max(means, key=means.get) == emotion
    assert means[emotion] > 0.3
    assert _mean_face(emotion, 2)[channel] > 1.4 * _mean_face(emotion, 1)[channel]


def test_neutral_is_nearly_blank_and_expressions_are_seeded():
    assert _mean_face("neutral", 1).max() < 0.1
    a = expressions.expression_curves("happy", 2, 90, np.random.default_rng(5))
    b = expressions.expression_curves("happy", 2, 90, np.random.default_rng(5))
    c = expressions.expression_curves("happy", 2, 90, np.random.default_rng(6))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # Held, not flat: builds up over the first half second, then drifts gently.
    smile = a[:, INDEX["mouthSmileLeft"]]
    assert smile[0] < 0.7 * smile[20:].mean()
    assert 0 < np.std(smile[20:]) < 0.1 * smile[20:].mean()


def test_brows_follow_pitch_peaks():
    f0 = np.full(600, 120.0)  # 3 s on the 5 ms grid
    f0[200:260] = 200.0  # a pitch accent at 1.0-1.3 s
    face = expressions.expression_curves("neutral", 1, 90, np.random.default_rng(0), f0)
    brow = face[:, INDEX["browInnerUp"]]
    assert brow[33:38].mean() > brow[60:].mean() + 0.05


def test_blinks_are_seven_frames_every_two_to_six_seconds():
    curve = expressions.blink_curve(30 * 60, np.random.default_rng(1))
    starts = np.flatnonzero((curve > 0) & (np.concatenate([[0.0], curve[:-1]]) == 0))
    gaps = np.diff(starts)
    assert len(starts) >= 10
    assert gaps.min() >= 60 and gaps.max() <= 180
    np.testing.assert_array_equal(curve[starts[0] : starts[0] + 7], expressions.BLINK_CURVE)
    np.testing.assert_array_equal(curve, expressions.blink_curve(30 * 60, np.random.default_rng(1)))


def test_compose_clips_and_puts_blinks_on_both_eyelids():
    visemes = np.zeros((40, NUM_BLENDSHAPES), np.float32)
    visemes[:, INDEX["jawOpen"]] = 0.9
    visemes[20:, INDEX["mouthPucker"]] = 0.8
    face = expressions.expression_curves("surprise", 2, 40, np.random.default_rng(0))
    face[:, INDEX["mouthSmileLeft"]] = 0.5
    blinks = expressions.blink_curve(40, np.random.default_rng(2))
    targets = expressions.compose_targets(visemes, np.zeros(40), face, blinks)
    assert targets.dtype == np.float32 and targets.min() >= 0 and targets.max() <= 1
    assert targets[:, INDEX["jawOpen"]].max() == 1.0  # 0.9 + the surprised jaw drop, clipped
    np.testing.assert_array_equal(targets[:, EYE_BLINK_LEFT], blinks)
    np.testing.assert_array_equal(targets[:, EYE_BLINK_RIGHT], blinks)
    # The smile gives way while the lips round.
    assert targets[30, INDEX["mouthSmileLeft"]] < 0.6 * targets[10, INDEX["mouthSmileLeft"]]
    assert expressions.articulation_for("sad", 2) < expressions.articulation_for("sad", 1) < 1.0


@pytest.mark.parametrize("emotion", ["surprise", "fear"])
def test_lips_still_meet_for_bilabials_when_the_expression_drops_the_jaw(emotion):
    from data_pipelines.sources.synth.festival_tts import Phone
    from data_pipelines.sources.synth.visemes import mouth_and_closure
    from voiceemo_jax.evaluation.lip_sync import mouth_opening

    phones, t = [], 0.0
    spec = [("pau", 0.4), ("aa", 0.15), ("m", 0.12), ("aa", 0.15), ("b", 0.1), ("aa", 0.15), ("pau", 0.4)]
    for name, duration in spec:
        phones.append(Phone(name, t, t + duration))
        t += duration
    n = int(np.ceil(t * 30))
    mouth, closure = mouth_and_closure(phones, n, expressions.articulation_for(emotion, 2))
    face = expressions.expression_curves(emotion, 2, n, np.random.default_rng(0))
    blinks = np.zeros(n, np.float32)
    sealed = mouth_opening(expressions.compose_targets(mouth, closure, face, blinks))
    unsealed = mouth_opening(expressions.compose_targets(mouth, np.zeros(n), face, blinks))
    mouth_alone = mouth_opening(mouth)
    middle = lambda p: round((p.start + p.end) / 2 * 30)  # noqa: E731
    for phone in (phones[2], phones[4]):
        assert closure[middle(phone)] == pytest.approx(1.0)
        assert unsealed[middle(phone)] > 0.04  # the expression's jaw drop opened the lips
        # mouthClose seals it: the lips are as near closed as the visemes alone leave them.
        assert sealed[middle(phone)] < mouth_alone[middle(phone)] + 0.005 < 0.05
    # Away from the bilabials the expression is untouched; the vowels stay open.
    assert closure[middle(phones[1])] == 0.0 and closure[middle(phones[0])] == 0.0
    np.testing.assert_allclose(sealed[closure == 0], unsealed[closure == 0])
    assert sealed[middle(phones[3])] > 0.4
