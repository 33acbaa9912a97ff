"""The mouth gated by the audio's level (inference/pauses.py): at rest in pauses and closing in the
level's dips, each gate alone, and a model whose config sets `rest_in_pauses` or `close_in_dips`, run
whole, windowed and streamed."""

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
    rested = pauses.gate_mouth(outputs, audio)
    moved = np.flatnonzero(np.abs(rested - outputs).max(axis=0))
    assert set(moved) == set(pauses.OPENING) and INDEX["jawOpen"] in moved
    assert np.all(rested[3:26, list(pauses.OPENING)] == 0.0)  # inside the pause, past the ramp
    np.testing.assert_array_equal(rested[30:], outputs[30:])
    np.testing.assert_array_equal(pauses.gate_mouth(outputs[20:], audio, first_frame=20), rested[20:])
    with pytest.raises(ValueError, match="ARKit"):
        pauses.gate_mouth(outputs[:, :15], audio)


def test_the_dip_gate_follows_each_frames_drop_below_its_loudest_neighbour():
    levels = np.full(40, -20.0)
    levels[8], levels[12], levels[16] = -23.0, -40.0, -90.0  # 3, 20 and 70 dB below the rest
    levels[30] = 0.0  # 20 dB above the rest: the frames within 5 of it lie 20 dB below it
    gate = pauses.dip_gate(levels)
    assert gate.dtype == np.float32 and gate[8] == 1.0 and gate[16] == 0.0
    np.testing.assert_allclose(gate[12], 1 - (20 - pauses.DIP_FREE_DB) / pauses.DIP_SPAN_DB)
    np.testing.assert_allclose(gate[25:30], 0.75)
    np.testing.assert_allclose(gate[31:36], 0.75)
    assert gate[30] == 1.0 and gate[24] == 1.0 and gate[36] == 1.0 and gate[0] == 1.0


def closure(gap_seconds: float = 0.1) -> np.ndarray:
    """Speech, a stop's closure (digital silence, too short to be a pause), speech."""
    return np.concatenate([speech_like(SR, seed=5), noise(gap_seconds, None), speech_like(SR, seed=6)])


def test_the_mouth_closes_in_a_dip_and_only_the_opening_channels_move():
    audio = closure()
    outputs = np.random.default_rng(1).uniform(0.1, 0.9, (len(audio) * 30 // SR, NUM_BLENDSHAPES)).astype(np.float32)
    assert pauses.pause_weights(audio, len(outputs)).max() == 0.0  # no pause: only the dip gate acts
    closed = pauses.gate_mouth(outputs, audio, rest=False, dips=True)
    moved = np.flatnonzero(np.abs(closed - outputs).max(axis=0))
    assert set(moved) == set(pauses.OPENING)
    assert np.all(closed[31:33, list(pauses.OPENING)] == 0.0)  # frames hearing only the gap
    np.testing.assert_array_equal(pauses.gate_mouth(outputs, audio, rest=False), outputs)
    # A window from frame 21 of the clip (0.7 s, on a 0.1 s step) gates its frames as the whole clip does,
    # but for those within DIP_RADIUS_FRAMES of its first frame, whose level is cut at the window's start.
    window = pauses.gate_mouth(outputs[21:], audio[21 * SR // 30 :], rest=False, dips=True)
    np.testing.assert_array_equal(window[1 + pauses.DIP_RADIUS_FRAMES :], closed[22 + pauses.DIP_RADIUS_FRAMES :])


@pytest.fixture(scope="module")
def models():
    """(plain, resting, closing): the same random weights, without any gate, with `rest_in_pauses`,
    with `close_in_dips`."""
    config = presets.model_config("tiny")
    return (
        random_model(config, seed=4),
        random_model(dataclasses.replace(config, rest_in_pauses=True), seed=4),
        random_model(dataclasses.replace(config, close_in_dips=True), seed=4),
    )


def test_a_closing_model_gates_the_same_frames_whole_windowed_and_streamed(models):
    plain, _, closing = models
    audio = np.concatenate([closure(), closure(0.06), speech_like(SR, seed=7)])
    gated = {"rest": False, "dips": True}
    plain_out = Predictor(plain, window=None).predict(audio).outputs
    whole = Predictor(closing, window=None).predict(audio).outputs
    np.testing.assert_allclose(whole, pauses.gate_mouth(plain_out, audio, **gated), atol=1e-6)
    assert np.abs(whole - plain_out).max() > 0.01

    geometry = WindowConfig(window_seconds=2.0, context_seconds=0.6)
    windowed, _ = predict_windowed(WindowEngine(closing, geometry), audio, level=1, person=1)
    plain_windowed, _ = predict_windowed(WindowEngine(plain, geometry), audio, level=1, person=1)
    np.testing.assert_allclose(windowed, pauses.gate_mouth(plain_windowed, audio, **gated), atol=1e-6)

    streamer = Streamer(closing, level=1, person=1)
    streamed = np.concatenate([streamer.feed(audio[i : i + 1600]) for i in range(0, len(audio), 1600)]
                              + [streamer.finish()])  # fmt: skip
    offline, _ = predict_windowed(WindowEngine(plain, STREAM_WINDOW), audio, level=1, person=1)
    np.testing.assert_allclose(streamed, pauses.gate_mouth(offline, audio, **gated), atol=1e-5)


def test_a_windowed_predictor_takes_the_gate_from_its_argument_over_the_checkpoint(models):
    plain, _, closing = models
    audio = np.concatenate([closure(), closure(0.06)])  # 4.16 s: past the 2 s window, so run windowed
    window = WindowConfig(window_seconds=2.0, context_seconds=0.6)
    reference = Predictor(plain, window=window).predict(audio)
    assert reference.windowed
    off = Predictor(closing, window=window, close_in_dips=False).predict(audio).outputs
    on = Predictor(plain, window=window, close_in_dips=True).predict(audio).outputs
    np.testing.assert_allclose(off, reference.outputs, atol=1e-6)
    np.testing.assert_allclose(on, pauses.gate_mouth(reference.outputs, audio, rest=False, dips=True), atol=1e-6)
    assert np.abs(on - off).max() > 0.01


def test_a_resting_model_closes_the_mouth_in_pauses_whole_windowed_and_streamed(models):
    plain, resting, _ = models
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
    np.testing.assert_allclose(windowed, pauses.gate_mouth(plain_windowed, audio), atol=1e-6)

    streamer = Streamer(resting, level=1, person=1)
    streamed = np.concatenate([streamer.feed(audio[i : i + 1600]) for i in range(0, len(audio), 1600)]
                              + [streamer.finish()])  # fmt: skip
    offline, _ = predict_windowed(WindowEngine(plain, STREAM_WINDOW), audio, level=1, person=1)
    np.testing.assert_allclose(streamed, pauses.gate_mouth(offline, audio), atol=1e-5)


@pytest.mark.parametrize("name", ["rest_in_pauses", "close_in_dips"])
def test_the_option_is_stored_and_old_configs_read_without_it(name):
    config = dataclasses.replace(presets.model_config("tiny"), **{name: True})
    stored = config.to_dict()
    assert stored[name] is True and getattr(VoiceEmoConfig.from_dict(stored), name)
    del stored[name]
    assert getattr(VoiceEmoConfig.from_dict(stored), name) is False
    with pytest.raises(ValueError, match="ARKit"):
        dataclasses.replace(presets.model_config("tiny", output_dim=15), **{name: True})


def test_predict_and_stream_follow_the_checkpoint_and_the_flag(models, tmp_path, capsys):
    import json

    import soundfile

    from voiceemo_jax import checkpoint_io
    from voiceemo_jax.cli import main

    _, resting, _ = models
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

    assert_a_vertex_model_refuses("--rest-in-pauses", tmp_path, capsys)


def test_predict_and_stream_close_in_dips_as_the_checkpoint_or_the_flag_says(models, tmp_path, capsys):
    import json

    import soundfile

    from voiceemo_jax import checkpoint_io
    from voiceemo_jax.cli import main

    plain, _, closing = models
    checkpoint = checkpoint_io.save_model(closing, tmp_path / "ckpt")
    audio = closure()
    soundfile.write(tmp_path / "talk.wav", audio, SR, subtype="FLOAT")
    argv = ["predict", "--checkpoint", str(checkpoint), "--no-post-processing", "--audio", str(tmp_path / "talk.wav")]
    runs = {}
    for flag in ([], ["--no-close-in-dips"]):
        out = tmp_path / f"talk{len(flag)}.npy"
        assert main([*argv, "--out", str(out), *flag]) == 0
        runs[not flag] = np.load(out)
        assert json.loads(out.with_suffix(".json").read_text())["close_in_dips"] is (not flag)
    np.testing.assert_allclose(runs[True], pauses.gate_mouth(runs[False], audio, rest=False, dips=True), atol=1e-6)
    assert np.abs(runs[True] - runs[False]).max() > 0.01
    capsys.readouterr()
    assert main(["stream", "--checkpoint", str(checkpoint), "--input", str(tmp_path / "talk.wav")]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[0])["close_in_dips"] is True
    plain_checkpoint = checkpoint_io.save_model(plain, tmp_path / "plain")
    assert main(["stream", "--checkpoint", str(plain_checkpoint), "--input", str(tmp_path / "talk.wav"),
                 "--close-in-dips"]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out.splitlines()[0])["close_in_dips"] is True

    assert_a_vertex_model_refuses("--close-in-dips", tmp_path, capsys)


def assert_a_vertex_model_refuses(flag: str, tmp_path, capsys) -> None:
    """`voiceemo predict FLAG` on a vertex model: exit 2, a one-line error naming ARKit, nothing written
    (tmp_path holds talk.wav)."""
    from voiceemo_jax import checkpoint_io
    from voiceemo_jax.cli import main

    capsys.readouterr()
    vertices = checkpoint_io.save_model(random_model(presets.model_config("tiny", output_dim=15)), tmp_path / "v")
    code = main(["predict", "--checkpoint", str(vertices), "--audio", str(tmp_path / "talk.wav"),
                 "--out", str(tmp_path / "v.npy"), flag])  # fmt: skip
    error = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in error and "ARKit" in error and not (tmp_path / "v.npy").exists()
