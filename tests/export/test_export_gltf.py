"""glTF/GLB export: structure, values through pygltflib and trimesh, and users' heads matched by name."""

import json

import numpy as np
import pygltflib
import pytest
import trimesh

from export.gltf import read_head
from export.head_model import build_head
from tests.export.export_helpers import gltf_accessor, write_user_glb
from voiceemo_jax.arkit import ARKIT_NAMES, INDEX
from voiceemo_jax.cli import main


def export(coeffs_path, fmt, out, *extra):
    return main(["export", "--coeffs", str(coeffs_path), "--format", fmt, "--out", str(out), *extra])


@pytest.fixture
def coeffs_npy(tmp_path, random_coeffs):
    path = tmp_path / "coeffs.npy"
    np.save(path, random_coeffs)
    return path


def test_glb_structure_targets_and_weights_animation(coeffs_npy, random_coeffs, tmp_path):
    out = tmp_path / "anim.glb"
    assert export(coeffs_npy, "glb", out) == 0
    assert out.read_bytes()[:4] == b"glTF"
    gltf = pygltflib.GLTF2().load(str(out))
    head = build_head()
    # One scene -> one node "face" -> one mesh with 52 named morph targets.
    assert len(gltf.scenes) == 1 and gltf.scenes[gltf.scene].nodes == [0]
    node = gltf.nodes[0]
    assert node.name == "face" and node.mesh == 0
    mesh = gltf.meshes[0]
    assert mesh.extras["targetNames"] == list(ARKIT_NAMES) and mesh.weights == [0.0] * 52
    primitive = mesh.primitives[0]
    assert len(primitive.targets) == 52
    positions = gltf_accessor(gltf, primitive.attributes.POSITION)
    np.testing.assert_allclose(positions, head.vertices, atol=0)
    assert gltf.accessors[primitive.attributes.POSITION].min is not None
    for name in ("jawOpen", "eyeBlinkLeft", "mouthSmileRight", "browInnerUp"):
        delta = gltf_accessor(gltf, primitive.targets[INDEX[name]]["POSITION"])
        np.testing.assert_allclose(delta, head.shape(name), atol=1.5e-7)  # the sparse writer drops < 1e-7 m
    # The animation: one LINEAR sampler on node 0's weights, one key per frame at i/30 s.
    (animation,) = gltf.animations
    (channel,) = animation.channels
    assert channel.target.node == 0 and channel.target.path == "weights"
    sampler = animation.samplers[channel.sampler]
    assert sampler.interpolation == "LINEAR"
    times = gltf_accessor(gltf, sampler.input)[:, 0]
    np.testing.assert_allclose(times, np.arange(37) / 30, rtol=0, atol=1e-6)
    assert gltf.accessors[sampler.input].min == [0.0] and gltf.accessors[sampler.input].max[0] == pytest.approx(36 / 30)
    weights = gltf_accessor(gltf, sampler.output)[:, 0]
    assert weights.shape == (37 * 52,)
    np.testing.assert_array_equal(weights.reshape(37, 52), random_coeffs)


def test_trimesh_reads_the_head_and_the_gltf_variant_is_self_contained(coeffs_npy, random_coeffs, tmp_path):
    assert export(coeffs_npy, "glb", tmp_path / "anim.glb") == 0
    assert export(coeffs_npy, "gltf", tmp_path / "anim.gltf") == 0
    head = build_head()
    scene = trimesh.load(tmp_path / "anim.glb")
    (mesh,) = scene.geometry.values()
    assert len(mesh.faces) == len(head.faces)
    np.testing.assert_allclose(np.sort(mesh.vertices, axis=0), np.sort(head.vertices, axis=0), atol=1e-6)
    doc = json.loads((tmp_path / "anim.gltf").read_text())
    assert doc["asset"]["version"] == "2.0" and doc["buffers"][0]["uri"].startswith("data:")
    gltf = pygltflib.GLTF2().load(str(tmp_path / "anim.gltf"))
    gltf.convert_buffers(pygltflib.BufferFormat.BINARYBLOB)
    sampler = gltf.animations[0].samplers[0]
    np.testing.assert_array_equal(gltf_accessor(gltf, sampler.output).reshape(37, 52), random_coeffs)
    # Our own reader gets the head back with its shapes (what `render --head` uses).
    reread, missing = read_head(tmp_path / "anim.gltf")
    assert missing == () and reread.names == ARKIT_NAMES
    np.testing.assert_allclose(reread.deltas, head.deltas, atol=1.5e-7)


def test_user_head_targets_matched_by_name_and_missing_names_reported(coeffs_npy, random_coeffs, tmp_path, capsys):
    user = tmp_path / "user.glb"
    write_user_glb(user, ["jawOpen", "EyeBlinkLeft", "smirk"])
    out = tmp_path / "user_anim.glb"
    assert export(coeffs_npy, "glb", out, "--head", str(user)) == 0
    err = capsys.readouterr().err
    assert "lacks 50 of 52 ARKit morph targets" in err
    assert "browDownLeft" in err and "tongueOut" in err and "jawOpen" not in err and "eyeBlinkLeft" not in err
    gltf = pygltflib.GLTF2().load(str(out))
    assert [n.name for n in gltf.nodes] == ["user_head", "hat"]  # the user's scene is kept
    (animation,) = gltf.animations
    (channel,) = animation.channels  # only the node whose mesh has ARKit targets is animated
    assert channel.target.node == 0 and channel.target.path == "weights"
    weights = gltf_accessor(gltf, animation.samplers[0].output).reshape(37, 3)
    np.testing.assert_array_equal(weights[:, 0], random_coeffs[:, INDEX["jawOpen"]])
    np.testing.assert_array_equal(weights[:, 1], random_coeffs[:, INDEX["eyeBlinkLeft"]])  # case-insensitive
    np.testing.assert_array_equal(weights[:, 2], 0.25)  # not an ARKit name: keeps the mesh default weight
    # The user's geometry and targets survive the rewrite.
    original = pygltflib.GLTF2().load(str(user))
    np.testing.assert_array_equal(
        gltf_accessor(gltf, gltf.meshes[0].primitives[0].targets[1]["POSITION"]),
        gltf_accessor(original, original.meshes[0].primitives[0].targets[1]["POSITION"]),
    )
    assert export(coeffs_npy, "glb", tmp_path / "strict.glb", "--head", str(user), "--strict") == 2
    assert "lacks 50 of 52" in capsys.readouterr().err and not (tmp_path / "strict.glb").exists()


def test_heads_without_arkit_targets_or_unreadable_fail(coeffs_npy, tmp_path, capsys):
    write_user_glb(tmp_path / "none.glb", ["smile", "frown"], with_extra_node=False)
    assert export(coeffs_npy, "glb", tmp_path / "a.glb", "--head", str(tmp_path / "none.glb")) == 2
    assert "no morph target carries an ARKit blendshape name" in capsys.readouterr().err
    (tmp_path / "junk.glb").write_bytes(b"not a gltf file at all")
    assert export(coeffs_npy, "glb", tmp_path / "a.glb", "--head", str(tmp_path / "junk.glb")) == 2
    assert "junk.glb" in capsys.readouterr().err
    assert export(coeffs_npy, "gltf", tmp_path / "a.gltf", "--head", str(tmp_path / "absent.glb")) == 2
    assert "no such head file" in capsys.readouterr().err
    assert not (tmp_path / "a.glb").exists() and not (tmp_path / "a.gltf").exists()
    assert not list(tmp_path.glob(".*partial*"))
