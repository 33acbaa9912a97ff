"""`voiceemo predict` on real file formats, its JSON, controls, and every bad input."""

import json

import numpy as np
import pytest
import soundfile

from voiceemo_jax.cli import main


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from release_files import make_release_files

    root = tmp_path_factory.mktemp("predict_cli")
    _, _, pth, content_dir, emotion_dir = make_release_files(root, "layer", seed=2)
    out = root / "ckpt"
    argv = ["convert", "emotalk", "--checkpoint", str(pth), "--content-encoder", str(content_dir)]
    assert main(argv + ["--emotion-encoder", str(emotion_dir), "--out", str(out)]) == 0
    return out


def predict(checkpoint, audio, out, *extra):
    return main(["predict", "--checkpoint", str(checkpoint), "--audio", str(audio), "--out", str(out), *extra])


def write_m4a(path, audio, rate):
    """AAC in MP4; the encoder is opened before muxing, so its priming is declared in the edit list."""
    import av

    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=rate)
        stream.layout = "mono"
        stream.codec_context.open()
        frame = av.AudioFrame.from_ndarray(audio[None].astype(np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = rate, 0
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def test_stereo_44k_wav_flac_and_m4a_give_t_frames_and_json(checkpoint, speech_like, tmp_path):
    mono = speech_like(44100 * 2, seed=1)
    stereo = np.stack([mono, 0.5 * mono], axis=1)
    soundfile.write(tmp_path / "a.wav", stereo, 44100)
    soundfile.write(tmp_path / "a.flac", mono, 44100)
    write_m4a(tmp_path / "a.m4a", mono, 44100)
    for name in ("a.wav", "a.flac", "a.m4a"):
        out = tmp_path / f"{name}.npy"
        assert predict(checkpoint, tmp_path / name, out) == 0
        coeffs = np.load(out)
        # m4a too: its priming and last-frame padding are trimmed, so exactly ceil(2 s * 30) frames.
        assert coeffs.dtype == np.float32 and coeffs.shape == (60, 52)
        doc = json.loads(out.with_suffix(".json").read_text())
        assert doc["fps"] == 30 and len(doc["channel_names"]) == 52 and doc["channel_names"][24] == "jawOpen"
        assert set(doc["emotion_probabilities"]) == set(doc["emotion_logits"]) == set(doc["emotion_labels"])
        assert sum(doc["emotion_probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert doc["level"] == 1 and doc["person"] == 1 and doc["sources"]["audio"].endswith(name)


def test_post_processing_is_seeded_and_emotion_audio_changes_output(checkpoint, speech_like, tmp_path):
    soundfile.write(tmp_path / "c.wav", speech_like(16000 * 8, seed=2), 16000)
    soundfile.write(tmp_path / "e.wav", speech_like(16000 * 3, seed=7) * 3, 16000)
    runs = {
        "s1": ["--seed", "3"],
        "s2": ["--seed", "3"],
        "s3": ["--seed", "4"],
        "raw": ["--no-post-processing"],
        "swap": ["--emotion-audio", str(tmp_path / "e.wav")],
    }
    for name, extra in runs.items():
        assert predict(checkpoint, tmp_path / "c.wav", tmp_path / f"{name}.npy", *extra) == 0
    s1, s2, s3, raw, swap = (np.load(tmp_path / f"{n}.npy") for n in ("s1", "s2", "s3", "raw", "swap"))
    np.testing.assert_array_equal(s1, s2)
    assert not np.array_equal(s1[:, 8], s3[:, 8])  # different blink schedule
    assert s1[:, 8].max() == pytest.approx(1.0) and np.array_equal(s1[:, 8], s1[:, 9])
    assert not np.allclose(s1[:, 24], raw[:, 24])  # smoothed
    assert swap.shape == raw.shape
    swap_doc = json.loads((tmp_path / "swap.json").read_text())
    assert swap_doc["sources"]["emotion_audio"].endswith("e.wav")
    raw_doc = json.loads((tmp_path / "raw.json").read_text())
    assert swap_doc["emotion_logits"] != raw_doc["emotion_logits"]


def _bad_inputs(tmp_path, speech_like):
    (tmp_path / "text.wav").write_text("this is not audio")
    soundfile.write(tmp_path / "empty.wav", np.zeros(0, np.float32), 16000)
    soundfile.write(tmp_path / "short.wav", speech_like(300), 16000)
    nan = speech_like(16000)
    nan[100] = np.nan
    soundfile.write(tmp_path / "nan.wav", nan, 16000, subtype="FLOAT")
    soundfile.write(tmp_path / "ok.wav", speech_like(16000), 16000)
    return {
        "missing": ("missing.wav", [], "does not exist"),
        "not audio": ("text.wav", [], "not a readable audio file"),
        "empty": ("empty.wav", [], "no audio samples"),
        "too short": ("short.wav", [], "too short"),
        "nan": ("nan.wav", [], "NaN"),
        "level": ("ok.wav", ["--level", "2"], "--level 2 is out of range"),
        "person": ("ok.wav", ["--person", "-1"], "--person -1 is out of range"),
    }


@pytest.mark.parametrize("case", ["missing", "not audio", "empty", "too short", "nan", "level", "person"])
def test_bad_input_one_line_error_nonzero_exit_and_no_output(checkpoint, speech_like, tmp_path, capsys, case):
    name, extra, message = _bad_inputs(tmp_path, speech_like)[case]
    out = tmp_path / "out" / "pred.npy"
    assert predict(checkpoint, tmp_path / name, out, *extra) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("voiceemo predict: error:") and message in err
    assert not out.exists() and not out.with_suffix(".json").exists()
    assert not out.parent.exists() or not any(out.parent.iterdir())


def test_checkpoint_folder_that_is_not_ours(speech_like, tmp_path, capsys):
    soundfile.write(tmp_path / "ok.wav", speech_like(16000), 16000)
    (tmp_path / "notckpt").mkdir()
    (tmp_path / "notckpt" / "config.json").write_text("{}")
    assert predict(tmp_path / "notckpt", tmp_path / "ok.wav", tmp_path / "o.npy") == 2
    assert "not a VoiceEmo-JAX checkpoint" in capsys.readouterr().err
    assert predict(tmp_path / "nowhere", tmp_path / "ok.wav", tmp_path / "o.npy") == 2
    assert not (tmp_path / "o.npy").exists()


def test_help_explains_every_flag(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--checkpoint", "--audio", "--out", "--level", "--person", "--emotion-audio",
                 "--post-processing", "--no-post-processing", "--seed"):  # fmt: skip
        assert flag in text
