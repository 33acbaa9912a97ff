"""`voiceemo render --engine blender`: really runs Blender headless (skipped only where it is not installed)."""

import json
import shutil
import subprocess

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
    jaw_blink_clip,
    region_change,
)
from voiceemo_jax.cli import main

pytestmark = pytest.mark.skipif(
    shutil.which("blender") is None, reason="Blender is not installed (Debian: apt-get install blender); CI has it"
)

# Builds a scene with four mesh objects and no camera, then saves it to argv[-1]:
# "face" (shape keys Basis, jawOpen, EyeBlinkLeft, smirk), "plain" (no keys), "other" (non-ARKit keys),
# "facecap" (keys in other naming conventions, one only a name map can place).
MAKE_BLEND = """
import bpy, sys
for obj in list(bpy.data.objects):
    bpy.data.objects.remove(obj, do_unlink=True)
def sphere(name, location, keys):
    bpy.ops.mesh.primitive_uv_sphere_add(radius=0.1, location=location)
    obj = bpy.context.active_object
    obj.name = name
    if keys:
        obj.shape_key_add(name="Basis")
        for k, key in enumerate(keys):
            block = obj.shape_key_add(name=key, from_mix=False)
            for point in block.data:
                if point.co.z < 0:
                    point.co.z -= 0.05 * (k + 1)
    return obj
sphere("face", (0, 0, 0), ["jawOpen", "EyeBlinkLeft", "smirk"])
sphere("plain", (1, 0, 0), [])
sphere("other", (2, 0, 0), ["smile", "frown"])
sphere("facecap", (3, 0, 0), ["blendShape1.jaw_open", "eyeBlink_L", "Lid_Close_Rt", "smirk"])
bpy.ops.wm.save_as_mainfile(filepath=sys.argv[-1])
"""

# Prints the keyframes of the saved scene's shape-key action as JSON.
READ_KEYS = """
import bpy, json, sys
key = bpy.data.objects[sys.argv[-1] if "--" in sys.argv else "face"].data.shape_keys
curves = {c.data_path: [list(p.co) for p in c.keyframe_points] for c in key.animation_data.action.fcurves}
print("KEYS " + json.dumps(curves))
"""


def run_blender(*args):
    result = subprocess.run(["blender", "-b", *args], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result.stdout


@pytest.fixture(scope="module")
def user_blend(tmp_path_factory):
    path = tmp_path_factory.mktemp("blend") / "scene.blend"
    script = path.with_name("make.py")
    script.write_text(MAKE_BLEND)
    run_blender("--factory-startup", "--python-exit-code", "1", "-P", str(script), "--", str(path))
    return path


def render(coeffs, audio, out, *extra):
    return main(["render", "--coeffs", str(coeffs), "--audio", str(audio), "--out", str(out), "--no-progress", *extra])


def test_bundled_head_in_blender_shows_the_jaw_and_the_blink(clip_npy, wav, tmp_path):
    out = tmp_path / "blender.mp4"
    assert render(clip_npy, wav, out, "--engine", "blender", "--size", f"{SMALL[0]}x{SMALL[1]}") == 0
    frames, facts = decode_video(out)
    assert len(frames) == 10 and facts["size"] == SMALL
    assert facts["video_codec"] == "h264" and facts["pix_fmt"] == "yuv420p" and facts["fps"] == 30
    assert facts["audio_codec"] == "aac" and facts["audio_seconds"] == pytest.approx(facts["video_seconds"], abs=0.01)
    assert facts["video_seconds"] == pytest.approx(10 / 30, abs=1e-3)
    # Blender gets the pyrender preview's camera, so the same pixel regions hold the mouth and eyes.
    regions = face_regions()
    neutral, jaw, blink = frames[NEUTRAL_FRAME], frames[JAW_FRAME], frames[BLINK_FRAME]
    assert region_change(neutral, jaw, regions["mouth"]) > 25
    assert region_change(neutral, blink, regions["eye_left"]) > 15
    assert region_change(neutral, blink, regions["eye_right"]) > 15
    assert region_change(neutral, jaw, regions["eye_right"]) < 5
    assert region_change(neutral, blink, regions["mouth"]) < 5


def test_user_blend_object_is_keyframed_and_rendered(user_blend, clip_npy, wav, tmp_path, capsys):
    out, saved = tmp_path / "user.mp4", tmp_path / "keyed.blend"
    # --blend alone selects the Blender engine; the object defaults to "face".
    assert render(clip_npy, wav, out, "--blend", str(user_blend), "--size", "64x96", "--save-blend", str(saved)) == 0
    err = capsys.readouterr().err
    assert "lacks 50 ARKit shape keys" in err and "browDownLeft" in err and " jawOpen" not in err
    frames, _ = decode_video(out)
    assert len(frames) == 10
    assert np.abs(frames[JAW_FRAME].astype(int) - frames[NEUTRAL_FRAME]).mean() > 1.0
    # The saved scene holds one key per frame on each matched shape key, with the clip's values.
    stdout = run_blender(str(saved), "--factory-startup", "--python-expr", READ_KEYS)
    curves = json.loads(next(line for line in stdout.splitlines() if line.startswith("KEYS "))[5:])
    assert set(curves) == {'key_blocks["jawOpen"].value', 'key_blocks["EyeBlinkLeft"].value'}
    clip = jaw_blink_clip()
    jaw = np.array(curves['key_blocks["jawOpen"].value'])
    np.testing.assert_allclose(jaw[:, 0], np.arange(1, 11))
    np.testing.assert_allclose(jaw[:, 1], clip[:, 24])
    np.testing.assert_allclose(np.array(curves['key_blocks["EyeBlinkLeft"].value'])[:, 1], clip[:, 8])


def test_shape_keys_in_other_conventions_and_a_name_map(user_blend, clip_npy, wav, tmp_path, capsys):
    out, saved, name_map = tmp_path / "facecap.mp4", tmp_path / "facecap.blend", tmp_path / "map.json"
    name_map.write_text(json.dumps({"eyeBlinkRight": "Lid_Close_Rt"}))
    extra = ["--object", "facecap", "--name-map", str(name_map), "--save-blend", str(saved)]
    assert render(clip_npy, wav, out, "--blend", str(user_blend), "--size", "32x48", *extra) == 0
    err = capsys.readouterr().err
    assert "lacks 49 ARKit shape keys" in err and "1 shape keys of 'facecap' match no ARKit name: smirk" in err
    stdout = run_blender(str(saved), "--factory-startup", "--python-expr", READ_KEYS, "--", "facecap")
    curves = json.loads(next(line for line in stdout.splitlines() if line.startswith("KEYS "))[5:])
    clip = jaw_blink_clip()
    expected = {"blendShape1.jaw_open": 24, "eyeBlink_L": 8, "Lid_Close_Rt": 9}  # ARKit-order columns
    assert set(curves) == {f'key_blocks["{name}"].value' for name in expected}
    for name, column in expected.items():
        np.testing.assert_allclose(np.array(curves[f'key_blocks["{name}"].value'])[:, 1], clip[:, column])


@pytest.mark.parametrize(
    "obj, message",
    [
        ("nobody", "has no object named 'nobody' (mesh objects: face, facecap, other, plain)"),
        ("plain", "object 'plain' has no shape keys"),
        ("other", "has no shape key named after an ARKit blendshape"),
    ],
)
def test_blend_without_the_needed_shape_keys_fails_clearly(user_blend, clip_npy, wav, tmp_path, capsys, obj, message):
    out = tmp_path / "video.mp4"
    assert render(clip_npy, wav, out, "--blend", str(user_blend), "--object", obj, "--size", "64x96") == 2
    err = capsys.readouterr().err
    assert err.startswith("voiceemo render: error:") and message in err and str(user_blend) in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.npy"]


def test_vertex_offsets_render_on_a_template_in_blender(tmp_path, wav):
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.1)
    sphere.export(tmp_path / "template.ply")
    offsets = np.zeros((6, len(sphere.vertices), 3), np.float32)
    offsets[3:, :, 1] = np.where(sphere.vertices[:, 0] > 0, 0.04, 0.0)  # lift the right half (image right)
    np.save(tmp_path / "offsets.npy", offsets.reshape(6, -1))
    out = tmp_path / "mesh.mp4"
    template = ["--template", str(tmp_path / "template.ply")]
    assert render(tmp_path / "offsets.npy", wav, out, "--engine", "blender", "--size", "64x96", *template) == 0
    frames, _ = decode_video(out)
    assert len(frames) == 6
    before, after = frames[1].astype(int), frames[4].astype(int)
    assert np.abs(after[:, 32:] - before[:, 32:]).mean() > 5 * np.abs(after[:, :28] - before[:, :28]).mean()
