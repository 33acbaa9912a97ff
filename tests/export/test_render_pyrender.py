"""`voiceemo render` with pyrender: what the frames show, the MP4's streams, and every bad input."""

import numpy as np
import pytest
import trimesh

from tests.export.export_helpers import (
    BLINK_FRAME,
    JAW_FRAME,
    NEUTRAL_FRAME,
    SMALL,
    decode_video,
    face_regions,
    region_change,
    write_user_glb,
    write_wav,
)
from voiceemo_jax.cli import main
from voiceemo_jax.errors import UserError

SIZE = f"{SMALL[0]}x{SMALL[1]}"


def render(coeffs, audio, out, *extra):
    return main(["render", "--coeffs", str(coeffs), "--audio", str(audio), "--out", str(out), *extra])


def leftovers(folder, keep):
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def test_ten_frames_show_the_jaw_and_the_blink_and_mux_the_audio(clip_npy, wav, tmp_path, capsys):
    out = tmp_path / "video.mp4"
    assert render(clip_npy, wav, out, "--size", SIZE) == 0
    assert "render (pyrender)" in capsys.readouterr().err  # the progress bar
    frames, facts = decode_video(out)
    assert len(frames) == 10 and frames[0].shape == (SMALL[1], SMALL[0], 3)
    assert facts["video_codec"] == "h264" and facts["pix_fmt"] == "yuv420p" and facts["fps"] == 30
    assert facts["audio_codec"] == "aac"
    assert facts["video_seconds"] == pytest.approx(10 / 30, abs=1e-3)
    assert facts["audio_seconds"] == pytest.approx(facts["video_seconds"], abs=0.01)
    regions = face_regions()
    neutral, jaw, blink = frames[NEUTRAL_FRAME], frames[JAW_FRAME], frames[BLINK_FRAME]
    # jawOpen changes the mouth, not the eyes; eyeBlink changes both eyes, not the mouth. (Unchanged
    # regions still differ by H.264 noise of a few levels after a big change elsewhere in the frame.)
    assert region_change(neutral, jaw, regions["mouth"]) > 25
    assert region_change(neutral, blink, regions["eye_left"]) > 20
    assert region_change(neutral, blink, regions["eye_right"]) > 20
    assert region_change(neutral, jaw, regions["eye_left"]) < 5
    assert region_change(neutral, blink, regions["mouth"]) < 5


def test_audio_is_cut_or_padded_to_the_video(clip_npy, tmp_path):
    for seconds, channels, rate in ((1.5, 2, 44100), (0.1, 1, 22050)):
        audio = tmp_path / f"a{seconds}.wav"
        write_wav(audio, seconds, rate=rate, channels=channels)
        out = tmp_path / f"v{seconds}.mp4"
        assert render(clip_npy, audio, out, "--size", "64x96", "--no-progress") == 0
        frames, facts = decode_video(out)
        assert len(frames) == 10
        assert facts["audio_seconds"] == pytest.approx(10 / 30, abs=0.01)


def test_vertex_offsets_render_on_a_template(tmp_path, wav):
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.1)
    template = tmp_path / "template.obj"
    sphere.export(template)
    offsets = np.zeros((10, len(sphere.vertices), 3), np.float32)
    offsets[5:, :, 1] = np.where(sphere.vertices[:, 0] > 0, 0.04, 0.0)  # lift the right half (image right)
    np.save(tmp_path / "offsets.npy", offsets.reshape(10, -1))
    out = tmp_path / "mesh.mp4"
    assert render(tmp_path / "offsets.npy", wav, out, "--template", str(template), "--size", "64x96") == 0
    frames, _ = decode_video(out)
    before, after = frames[2].astype(int), frames[7].astype(int)
    assert np.abs(after[:, 32:] - before[:, 32:]).mean() > 5 * np.abs(after[:, :28] - before[:, :28]).mean()


def test_user_glb_head_renders_and_reports_missing_shapes(clip_npy, wav, tmp_path, capsys):
    head = tmp_path / "user.glb"
    write_user_glb(head, ["jawOpen", "eyeBlinkLeft"])
    out = tmp_path / "user.mp4"
    assert render(clip_npy, wav, out, "--head", str(head), "--size", "64x96", "--no-progress") == 0
    assert "lacks 50 ARKit morph targets" in capsys.readouterr().err
    frames, _ = decode_video(out)
    assert np.abs(frames[JAW_FRAME].astype(int) - frames[NEUTRAL_FRAME]).mean() > 0.5


def test_a_failure_mid_render_leaves_no_video(clip_npy, wav, tmp_path, monkeypatch):
    from export.preview_process import IsolatedPreviewRenderer

    original, calls = IsolatedPreviewRenderer.render, []

    def flaky(self, vertices):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("GPU fell off the bus")
        return original(self, vertices)

    monkeypatch.setattr(IsolatedPreviewRenderer, "render", flaky)
    out = tmp_path / "video.mp4"
    with pytest.raises(RuntimeError, match="fell off"):
        render(clip_npy, wav, out, "--size", "64x96", "--no-progress")
    assert leftovers(tmp_path, {"clip.npy"}) == []


def test_missing_offscreen_renderer_is_a_clear_error(tmp_path, monkeypatch):
    # In-process: the OpenGL context cannot be created (no frame is drawn, so this is safe
    # beside TensorFlow).
    import pyrender

    from export.pyrender_preview import PreviewRenderer

    def no_context(*args, **kwargs):
        raise RuntimeError("eglInitialize failed")

    monkeypatch.setattr(pyrender, "OffscreenRenderer", no_context)
    faces, box = np.array([[0, 1, 2]]), (np.zeros(3), np.ones(3))
    with pytest.raises(UserError, match="offscreen OpenGL context.*eglInitialize failed.*--engine blender"):
        PreviewRenderer(faces, None, (64, 96), box)


def test_an_unusable_opengl_platform_in_the_render_process_is_a_clear_error(
    clip_npy, wav, tmp_path, monkeypatch, capsys
):
    # The preview process inherits the environment: a platform without its library (OSMesa is
    # not installed) fails there, and the error comes back as one line, with no video left.
    monkeypatch.setenv("PYOPENGL_PLATFORM", "osmesa")
    assert render(clip_npy, wav, tmp_path / "v.mp4", "--size", "64x96") == 2
    err = capsys.readouterr().err
    assert "pyrender is not usable here" in err and "--engine blender" in err
    assert leftovers(tmp_path, {"clip.npy"}) == []


def _bad_cases(tmp_path, wav):
    """(argv after `render`, expected message) for each kind of bad input."""
    good = tmp_path / "good.npy"
    np.save(good, np.zeros((10, 52), np.float32))
    arrays = {
        "wrong_width.npy": (np.zeros((10, 51), np.float32), "51 values per frame"),
        "nan.npy": (np.where(np.eye(10, 52) > 0, np.nan, 0).astype(np.float32), "NaN/inf value(s), first at frame 0"),
        "empty.npy": (np.zeros((0, 52), np.float32), "empty"),
        "flat.npy": (np.zeros(520, np.float32), "got shape [520]"),
        "offsets.npy": (np.zeros((10, 300), np.float32), "pass --template"),
    }
    cases = []
    for name, (array, message) in arrays.items():
        np.save(tmp_path / name, array)
        cases.append((["--coeffs", tmp_path / name, "--audio", wav], message))
    (tmp_path / "noise.wav").write_text("this is not audio")
    sphere = tmp_path / "sphere.obj"
    trimesh.creation.icosphere(subdivisions=1).export(sphere)
    cases += [
        (["--coeffs", tmp_path / "absent.npy", "--audio", wav], "no such file"),
        (["--coeffs", good, "--audio", tmp_path / "absent.wav"], "no such audio file"),
        (["--coeffs", good, "--audio", tmp_path / "noise.wav"], "cannot decode the audio"),
        (["--coeffs", good, "--audio", wav, "--size", "512x"], "expected WIDTHxHEIGHT"),
        (["--coeffs", good, "--audio", wav, "--size", "513x768"], "even numbers"),
        (["--coeffs", tmp_path / "offsets.npy", "--audio", wav, "--template", sphere], "the template has 42"),
        (["--coeffs", good, "--audio", wav, "--template", sphere], "--template is for vertex offsets"),
        (["--coeffs", good, "--audio", wav, "--engine", "blender", "--blend", tmp_path / "no.blend"], "no such .blend"),
        (
            ["--coeffs", good, "--audio", wav, "--engine", "pyrender", "--blend", sphere],
            "--blend needs --engine blender",
        ),
        (["--coeffs", good, "--audio", wav, "--engine", "blender", "--blender", "/no/blender"], "Blender not found"),
    ]
    return cases


def test_bad_inputs_exit_2_with_a_clear_message_and_no_video(tmp_path, wav, capsys):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    for argv, message in _bad_cases(inputs, wav):
        code = main(["render", *map(str, argv), "--out", str(outputs / "video.mp4")])
        err = capsys.readouterr().err
        assert code == 2 and message in err and err.startswith("voiceemo render: error:"), (argv, err)
        assert list(outputs.iterdir()) == []
    assert (
        main(["render", "--coeffs", str(inputs / "good.npy"), "--audio", str(wav), "--out", str(outputs / "v.avi")])
        == 2
    )
    assert "must be an .mp4" in capsys.readouterr().err
