"""The mouth at rest in pauses (inference/pauses.py): the gate from the audio's level, and a model
whose config sets `rest_in_pauses`, run whole, windowed and streamed."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from voiceemo_jax.arkit import INDEX, NUM_BLENDSHAPES
from voiceemo_jax.evaluation import lip_sync
from voiceemo_jax.inference import pauses
from voiceemo_jax.inference.predictor import Predictor
from voiceemo_jax.inference.streaming import STREAM_WINDOW, Streamer
from voiceemo_jax.inference.windows import WindowConfig, WindowEngine, predict_windowed
from voiceemo_jax.models import presets
from voiceemo_jax.models.voiceemo import VoiceEmoConfig
from voiceemo_jax.testing.random_models import random_model
from voiceemo_jax.testing.signals import speech_like

SR = 16000


def noise(seconds: float, dbfs: float | None, seed: int = 0) -> np.ndarray:
    """White noise at `dbfs` RMS, or digital silence (None)."""
    n = int(seconds * SR)
    if dbfs is None:
        return np.zeros(n, np.float32)
    return (np.random.default_rng(seed).standard_normal(n) * 10 ** (dbfs / 20)).astype(np.float32)


def speech_pause_speech(pause_seconds: float, dbfs: float | None = None) -> np.ndarray:
    return np.concatenate([speech_like(SR * 2, seed=1), noise(pause_seconds, dbfs), speech_like(SR * 2, seed=2)])


def test_a_pause_is_gated_with_ramps_and_speech_is_not():
    audio = speech_pause_speech(1.0)
    weights = pauses.pause_weights(audio, 150)
    # Frames 61-89 hear only the pause (a frame's level is over +-1/60 s); 60 and 90 hear speech too.
    assert weights[:61].max() == 0.0 and weights[90:].max() == 0.0
    inside = weights[61:90]
    assert inside.min() > 0.0 and np.all(inside[3:-3] == 1.0)
    np.testing.assert_allclose(inside[:3], [0.25, 0.5, 0.75])
    np.testing.assert_allclose(inside[-3:], [0.75, 0.5, 0.25])


@pytest.mark.parametrize(
    "seconds, dbfs, gated",
    [(1.0, -60.0, True), (1.0, -40.0, False), (0.25, None, False), (0.4, None, True)],
)
def test_only_quiet_stretches_of_at_least_0_3_s_count(seconds, dbfs, gated):
    weights = pauses.pause_weights(speech_pause_speech(seconds, dbfs), 120 + int(seconds * 30))
    assert bool(weights.max() == 1.0) is gated and bool(weights.max() == 0.0) is (not gated)


def test_a_windows_frames_get_the_whole_clips_levels():
    audio = speech_pause_speech(1.0, -60.0)
    whole = pauses.frame_levels_db(audio, 150)
    first_frame = 42  # a window starting on a 0.1 s step: sample 22400
    local = pauses.frame_levels_db(audio[first_frame * SR // 30 :], 150 - first_frame)
    np.testing.assert_allclose(local[1:], whole[first_frame + 1 :], rtol=1e-12)  # frame 0 is cut at the start


def test_only_the_articulation_channels_move():
    audio = np.concatenate([noise(1.0, None), speech_like(SR, seed=3)])
    outputs = np.random.default_rng(0).uniform(0.1, 0.9, (60, NUM_BLENDSHAPES)).astype(np.float32)
    rested = pauses.rest_in_pauses(outputs, audio)
    moved = np.flatnonzero(np.abs(rested - outputs).max(axis=0))
    assert set(moved) == set(pauses.OPENING) and INDEX["jawOpen"] in moved
    assert np.all(rested[3:26, list(pauses.OPENING)] == 0.0)  # inside the pause, past the ramp
    np.testing.assert_array_equal(rested[30:], outputs[30:])
    np.testing.assert_array_equal(pauses.rest_in_pauses(outputs[20:], audio, first_frame=20), rested[20:])
    with pytest.raises(ValueError, match="ARKit"):
        pauses.rest_in_pauses(outputs[:, :15], audio)


@pytest.fixture(scope="module")
def models():
    """(plain, resting): the same random weights, without and with `rest_in_pauses`."""
    config = presets.model_config("tiny")
    return random_model(config, seed=4), random_model(dataclasses.replace(config, rest_in_pauses=True), seed=4)


def test_a_resting_model_closes_the_mouth_in_pauses_whole_windowed_and_streamed(models):
    plain, resting = models
    audio = speech_pause_speech(3.0)
    frames = len(audio) * 30 // SR
    weights = pauses.pause_weights(audio, frames)
    speech, pause = weights == 0.0, weights == 1.0
    plain_out = Predictor(plain, window=None).predict(audio).outputs
    whole = Predictor(resting, window=None).predict(audio).outputs
    assert np.abs(lip_sync.mouth_opening(plain_out)[pause]).mean() > 0.01  # the random model opens it
    assert np.all(whole[pause][:, list(pauses.OPENING)] == 0.0)
    np.testing.assert_array_equal(whole[speech], plain_out[speech])

    windowed, _ = predict_windowed(WindowEngine(resting, WindowConfig(window_seconds=2.0, context_seconds=0.6)), audio,
                                   level=1, person=1)  # fmt: skip
    plain_windowed, _ = predict_windowed(WindowEngine(plain, WindowConfig(window_seconds=2.0, context_seconds=0.6)),
                                         audio, level=1, person=1)  # fmt: skip
    np.testing.assert_allclose(windowed, pauses.rest_in_pauses(plain_windowed, audio), atol=1e-6)

    streamer = Streamer(resting, level=1, person=1)
    streamed = np.concatenate([streamer.feed(audio[i : i + 1600]) for i in range(0, len(audio), 1600)]
                              + [streamer.finish()])  # fmt: skip
    offline, _ = predict_windowed(WindowEngine(plain, STREAM_WINDOW), audio, level=1, person=1)
    np.testing.assert_allclose(streamed, pauses.rest_in_pauses(offline, audio), atol=1e-5)


def test_the_option_is_stored_and_old_configs_read_without_it():
    config = dataclasses.replace(presets.model_config("tiny"), rest_in_pauses=True)
    stored = config.to_dict()
    assert stored["rest_in_pauses"] is True and VoiceEmoConfig.from_dict(stored).rest_in_pauses
    del stored["rest_in_pauses"]
    assert VoiceEmoConfig.from_dict(stored).rest_in_pauses is False
    with pytest.raises(ValueError, match="ARKit"):
        dataclasses.replace(presets.model_config("tiny", output_dim=15), rest_in_pauses=True)


def test_predict_and_stream_follow_the_checkpoint_and_the_flag(models, tmp_path, capsys):
    import json

    import soundfile

    from voiceemo_jax import checkpoint_io
    from voiceemo_jax.cli import main

    _, resting = models
    checkpoint = checkpoint_io.save_model(resting, tmp_path / "ckpt")
    audio = speech_pause_speech(1.5)
    soundfile.write(tmp_path / "talk.wav", audio, SR, subtype="FLOAT")
    pause = pauses.pause_weights(audio, len(audio) * 30 // SR) == 1.0
    argv = ["--checkpoint", str(checkpoint), "--no-post-processing"]
    for flag, rests in (([], True), (["--no-rest-in-pauses"], False)):
        out = tmp_path / f"talk{len(flag)}.npy"
        assert main(["predict", *argv, "--audio", str(tmp_path / "talk.wav"), "--out", str(out), *flag]) == 0
        opening = np.abs(lip_sync.mouth_opening(np.load(out))[pause])
        assert json.loads(out.with_suffix(".json").read_text())["rest_in_pauses"] is rests
        assert bool(opening.max() == 0.0) is rests
    capsys.readouterr()
    assert main(["stream", "--checkpoint", str(checkpoint), "--input", str(tmp_path / "talk.wav"),
                 "--no-rest-in-pauses"]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out.splitlines()[0])["rest_in_pauses"] is False

    vertices = checkpoint_io.save_model(random_model(presets.model_config("tiny", output_dim=15)), tmp_path / "v")
    code = main(["predict", "--checkpoint", str(vertices), "--audio", str(tmp_path / "talk.wav"),
                 "--out", str(tmp_path / "v.npy"), "--rest-in-pauses"])  # fmt: skip
    error = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in error and "ARKit" in error and not (tmp_path / "v.npy").exists()
