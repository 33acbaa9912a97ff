"""Retargeting onto users' heads: morph targets named in the common conventions, and --name-map."""

import json

import numpy as np
import pygltflib
import pytest

from export.gltf import read_head
from export.target_names import match_targets, name_key
from tests.export.export_helpers import gltf_accessor, write_user_glb
from voiceemo_jax.arkit import ARKIT_NAMES, INDEX
from voiceemo_jax.cli import main

# The ARKit shapes each test head carries, in this order, then one target that is no ARKit shape.
SHAPES = ("jawOpen", "eyeBlinkLeft", "browDownRight", "mouthSmileLeft", "eyeLookInRight")
CONVENTIONS = {
    "arkit, any case": ["JawOpen", "EYEBLINKLEFT", "browdownright", "MouthSmileLeft", "eyeLookInRight"],
    "face cap _L/_R": ["jawOpen", "eyeBlink_L", "browDown_R", "mouthSmile_L", "eyeLookIn_R"],
    "Left/Right words": ["jawOpen", "eyeBlink_Left", "browDown_Right", "mouthSmile Left", "EyeLookIn-Right"],
    "snake_case": ["jaw_open", "eye_blink_left", "brow_down_right", "mouth_smile_left", "eye_look_in_r"],
    "maya prefixes": ["blendShape1.jawOpen", "blendShape1.eyeBlink_L", "head:browDownRight",
                      "face_GEO|blendShape2.mouth_smile_left", "blendShape1.eyeLookIn_R"],
}  # fmt: skip


def export(coeffs_path, out, *extra):
    return main(["export", "--coeffs", str(coeffs_path), "--out", str(out), *extra])


@pytest.fixture
def coeffs_npy(tmp_path, random_coeffs):
    path = tmp_path / "coeffs.npy"
    np.save(path, random_coeffs)
    return path


def _animated_weights(path, frames: int) -> np.ndarray:
    gltf = pygltflib.GLTF2().load(str(path))
    gltf.convert_buffers(pygltflib.BufferFormat.BINARYBLOB)  # a .gltf carries its buffer as a data URI
    (animation,) = gltf.animations
    weights = gltf_accessor(gltf, animation.samplers[0].output)
    return weights.reshape(frames, -1)


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_heads_in_each_naming_convention_animate(convention, coeffs_npy, random_coeffs, tmp_path, capsys):
    names = [*CONVENTIONS[convention], "smirk"]
    user = tmp_path / "head.glb"
    write_user_glb(user, names)
    assert export(coeffs_npy, tmp_path / "anim.glb", "--head", str(user)) == 0
    captured = capsys.readouterr()
    assert f"({len(SHAPES)} ARKit targets)" in captured.out
    assert f"lacks {52 - len(SHAPES)} of 52" in captured.err and "tongueOut" in captured.err
    assert "1 morph targets of" in captured.err and captured.err.rstrip().endswith(": smirk")
    weights = _animated_weights(tmp_path / "anim.glb", len(random_coeffs))
    for column, arkit in enumerate(SHAPES):
        np.testing.assert_array_equal(weights[:, column], random_coeffs[:, INDEX[arkit]], err_msg=names[column])
    np.testing.assert_array_equal(weights[:, -1], 0.25)  # "smirk" keeps the mesh's default weight


def test_look_alikes_never_match_and_exact_names_win():
    assert name_key("blendShape3.Eye_Blink_L") == name_key("eyeBlinkLeft") == "eyeblinkleft"
    names = ["mouthSmile", "eyeBlink", "mouth_smile_l", "jaw", "open", "jawOpen_old"]
    assert match_targets(ARKIT_NAMES, names) == {"mouthSmileLeft": 2}
    # Both spellings present: the exact ARKit name drives the channel, the other is left over.
    assert match_targets(ARKIT_NAMES, ["jaw_open", "JawOpen"]) == {"jawOpen": 1}


def test_name_map_drives_custom_targets_first(coeffs_npy, random_coeffs, tmp_path, capsys):
    user = tmp_path / "custom.glb"
    write_user_glb(user, ["MouthOpenWide", "jaw_open", "Lid_Close_Lf", "grin"], with_extra_node=False)
    name_map = tmp_path / "map.json"
    name_map.write_text(json.dumps({"jawOpen": "MouthOpenWide", "EyeBlinkLeft": "Lid_Close_Lf"}))
    assert export(coeffs_npy, tmp_path / "anim.gltf", "--head", str(user), "--name-map", str(name_map)) == 0
    err = capsys.readouterr().err
    assert "lacks 50 of 52" in err
    assert "2 morph targets of" in err and err.rstrip().endswith(": jaw_open grin")  # the map won over the convention
    weights = _animated_weights(tmp_path / "anim.gltf", len(random_coeffs))
    np.testing.assert_array_equal(weights[:, 0], random_coeffs[:, INDEX["jawOpen"]])
    np.testing.assert_array_equal(weights[:, 2], random_coeffs[:, INDEX["eyeBlinkLeft"]])
    np.testing.assert_array_equal(weights[:, [1, 3]], 0.25)
    # `voiceemo render --head` reads heads through the same matching.
    head, missing = read_head(user, {"jawOpen": "MouthOpenWide"})
    assert head.names == ("jawOpen",) and len(missing) == 51
    original = pygltflib.GLTF2().load(str(user))
    np.testing.assert_array_equal(
        head.deltas[0], gltf_accessor(original, original.meshes[0].primitives[0].targets[0]["POSITION"])
    )


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not JSON"),
        ('["jawOpen"]', "expected a JSON object of ARKit name -> target name"),
        ('{"jawOpen": 3}', "expected a JSON object"),
        ('{"jawOpened": "Jaw"}', "not ARKit blendshape names: jawOpened"),
    ],
)
def test_bad_name_maps_fail_clearly_and_write_nothing(coeffs_npy, tmp_path, capsys, content, message):
    user = tmp_path / "head.glb"
    write_user_glb(user, ["jaw_open"], with_extra_node=False)
    (tmp_path / "map.json").write_text(content)
    out = tmp_path / "anim.glb"
    assert export(coeffs_npy, out, "--head", str(user), "--name-map", str(tmp_path / "map.json")) == 2
    err = capsys.readouterr().err
    assert message in err and "map.json" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_name_map_needs_a_head(coeffs_npy, tmp_path, capsys):
    (tmp_path / "map.json").write_text("{}")
    assert export(coeffs_npy, tmp_path / "a.glb", "--name-map", str(tmp_path / "map.json")) == 2
    assert "--name-map goes with --head" in capsys.readouterr().err
    assert not (tmp_path / "a.glb").exists()
