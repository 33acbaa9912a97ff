"""The shipped demo model and `voiceemo demo` (the demo issue): the checkpoint loads and
beats the mean pose on the bundled held-out sentences; the demo writes every promised
file with consistent frame counts, and its MP4 has video and audio of matching length."""

from __future__ import annotations

import json

import numpy as np
import pygltflib
import pytest

from export.formats import read_live_link_csv
from tests.export.gltf_validator import assert_valid
from voiceemo_jax.arkit import GROUPS
from voiceemo_jax.cli import main
from voiceemo_jax.commands.demo import assets_dir, bundled_samples, bundled_swap, demo_model_dir
from voiceemo_jax.inference.predictor import Predictor

KINDS = (".npy", ".json", ".csv", ".glb")
MOUTH = np.array(GROUPS["jaw_mouth"])


def test_shipped_model_is_small_and_beats_the_mean_pose_on_held_out_sentences():
    size = sum(p.stat().st_size for p in demo_model_dir().rglob("*") if p.is_file())
    assert size <= 25 * 1024**2
    predictor = Predictor.from_checkpoint(demo_model_dir())
    samples = bundled_samples()
    mean_pose = np.array(json.loads((assets_dir() / "samples" / "samples.json").read_text())["mean_pose"]["values"])
    assert len(samples) >= 3 and len({s["emotion"] for s in samples}) == len(samples)
    model_errors, baseline_errors = [], []
    from voiceemo_jax.audio import load_audio

    for sample in samples:
        assert sample["split"] == "test"  # sentences the model never trained on
        targets = np.load(sample["targets_path"])
        prediction = predictor.predict(load_audio(sample["path"]), level=sample["level"] - 1, person=0)
        assert prediction.outputs.shape == targets.shape
        model_errors.append(np.abs(prediction.outputs[:, MOUTH] - targets[:, MOUTH]).mean())
        baseline_errors.append(np.abs(mean_pose[MOUTH] - targets[:, MOUTH]).mean())
    assert np.mean(model_errors) < 0.8 * np.mean(baseline_errors), (model_errors, baseline_errors)


def _stream_seconds(path) -> dict[str, float]:
    """{"video": seconds, "audio": seconds} of an MP4's first video and audio streams."""
    import av

    with av.open(str(path)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        return {"video": float(video.duration * video.time_base), "audio": float(audio.duration * audio.time_base)}


def _check_outputs(folder, name, audio_seconds=None):
    coeffs = np.load(folder / f"{name}.npy")
    frames = coeffs.shape[0]
    assert coeffs.shape == (frames, 52) and coeffs.dtype == np.float32
    doc = json.loads((folder / f"{name}.json").read_text())
    assert doc["num_frames"] == frames and doc["emotion"] in doc["emotion_labels"]
    # The .npy stays raw; the CSV and GLB hold the weights clamped to ARKit's [0, 1].
    assert doc["clamped"] == {"npy": False, "csv": True, "glb": True}
    np.testing.assert_allclose(read_live_link_csv(folder / f"{name}.csv"), np.clip(coeffs, 0, 1), atol=1e-5)
    gltf = pygltflib.GLTF2().load(str(folder / f"{name}.glb"))
    times = gltf.accessors[gltf.animations[0].samplers[0].input]
    assert times.count == frames and gltf.animations[0].extras == {"clamped": True}
    if audio_seconds is not None:
        assert frames == int(np.ceil(audio_seconds * 30 - 1e-9))
    return frames


def test_demo_writes_every_file_for_the_bundled_samples(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--no-video"]) == 0
    printed = capsys.readouterr().out
    names = [s["name"] for s in bundled_samples()]
    content, emotion = bundled_swap()
    swap = f"swap_{content['name']}_as_{emotion['emotion']}"
    for name in [*names, swap]:
        _check_outputs(out, name)
        for suffix in KINDS:
            assert str(out / f"{name}{suffix}") in printed
    for sample in bundled_samples():
        _check_outputs(out, sample["name"], sample["seconds"])
    sources = json.loads((out / f"{swap}.json").read_text())["sources"]
    assert sources["audio"].endswith(content["wav"]) and sources["emotion_audio"].endswith(emotion["wav"])


def test_demo_on_a_user_file_renders_an_mp4_with_matching_audio(tmp_path, capsys):
    sample = bundled_samples()[0]
    user = tmp_path / "my voice.wav"
    user.write_bytes(sample["path"].read_bytes())
    assert main(["demo", "--out", str(tmp_path / "mine"), "--audio", str(user), "--size", "192x288"]) == 0
    frames = _check_outputs(tmp_path / "mine", "my voice", sample["seconds"])
    assert_valid(tmp_path / "mine" / "my voice.glb")  # the Khronos glTF Validator: no error, no warning
    video = tmp_path / "mine" / "my voice.mp4"
    assert str(video) in capsys.readouterr().out
    seconds = _stream_seconds(video)
    video_seconds, audio_seconds = seconds["video"], seconds["audio"]
    assert video_seconds == pytest.approx(frames / 30, abs=0.05)
    assert audio_seconds == pytest.approx(video_seconds, abs=0.1)


def test_demo_rejects_bad_input_without_writing(tmp_path, capsys):
    (tmp_path / "empty.wav").write_bytes(b"")
    assert main(["demo", "--out", str(tmp_path / "o"), "--audio", str(tmp_path / "empty.wav")]) == 2
    assert "empty.wav" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    assert main(["demo", "--out", str(tmp_path / "o"), "--emotion-audio", str(tmp_path / "empty.wav")]) == 2


def test_windowed_output_stays_within_the_reported_deviation_on_the_demo_model():
    """BENCHMARKS.md reports a mean absolute windowed-vs-full difference of 0.002-0.007 per
    coefficient for the demo model with the default window on minutes of corpus speech at level 0.
    The bundled samples (four sentences, four emotions, three times over: 37 s) at level 1 move
    more: 0.018 on the shipped model (0.015, 0.016, 0.014 and 0.008 on the four before it). This
    holds it to 0.02."""
    from voiceemo_jax.audio import load_audio
    from voiceemo_jax.inference.predictor import DEFAULT_WINDOW
    from voiceemo_jax.inference.windows import WindowEngine, predict_windowed

    audio = np.concatenate([load_audio(s["path"]) for s in bundled_samples()] * 3)  # 37 s: 3 windows
    predictor = Predictor.from_checkpoint(demo_model_dir(), window=None)
    full = predictor.predict(audio, level=1, person=0)
    windowed, logits = predict_windowed(WindowEngine(predictor.model, DEFAULT_WINDOW), audio, level=1, person=0)
    assert windowed.shape == full.outputs.shape
    assert np.abs(windowed - full.outputs).mean() < 0.02
    assert np.argmax(logits) == np.argmax(full.emotion_logits)
