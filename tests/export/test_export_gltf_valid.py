"""Every glTF/GLB the exporter writes passes the Khronos glTF Validator with no error and no warning."""

import json

import numpy as np
import pygltflib
import pytest

from tests.export.export_helpers import gltf_accessor, write_user_glb
from tests.export.gltf_validator import assert_valid, validate
from voiceemo_jax.cli import main


def export(coeffs_path, out, *extra):
    return main(["export", "--coeffs", str(coeffs_path), "--out", str(out), *extra])


@pytest.fixture
def raw_npy(tmp_path):
    """Coefficients slightly outside [0, 1], as the smoothed model output can be."""
    path = tmp_path / "raw.npy"
    np.save(path, np.random.default_rng(5).uniform(-0.05, 1.05, (23, 52)).astype(np.float32))
    return path


def test_bundled_and_user_heads_validate_as_glb_and_gltf(raw_npy, tmp_path):
    user = tmp_path / "user.glb"
    write_user_glb(user, ["jaw_open", "eyeBlink_L", "blendShape1.browDownRight", "smirk"])
    written = []
    for suffix in ("glb", "gltf"):
        bundled = tmp_path / f"bundled.{suffix}"
        assert export(raw_npy, bundled) == 0
        assert export(raw_npy, tmp_path / f"user_head.{suffix}", "--head", str(user)) == 0
        # Our own output as a user's head: its sparse morph targets are read back and written again.
        assert export(raw_npy, tmp_path / f"again.{suffix}", "--head", str(bundled)) == 0
        written += [bundled, tmp_path / f"user_head.{suffix}", tmp_path / f"again.{suffix}"]
    assert export(raw_npy, tmp_path / "raw.glb", "--no-clamp") == 0
    assert_valid(*written, tmp_path / "raw.glb")


def test_the_validator_catches_the_sparse_accessor_byte_offset_error(raw_npy, tmp_path):
    """The original defect (sparse accessors with byteOffset but no bufferView) is reported as an error,
    so the check above can fail."""
    assert export(raw_npy, tmp_path / "good.gltf") == 0
    doc = json.loads((tmp_path / "good.gltf").read_text())
    sparse = [a for a in doc["accessors"] if "sparse" in a]
    assert sparse and all("byteOffset" not in a and "bufferView" not in a for a in sparse)
    for accessor in sparse:
        accessor["byteOffset"] = 0
    (tmp_path / "bad.gltf").write_text(json.dumps(doc))
    (report,) = validate(tmp_path / "bad.gltf")
    assert report["errors"] == len(sparse) == 52
    assert {m["code"] for m in report["messages"] if m["severity"] == 0} == {"UNSATISFIED_DEPENDENCY"}


def test_gltf_weights_are_clamped_unless_no_clamp(raw_npy, tmp_path):
    raw = np.load(raw_npy)
    assert export(raw_npy, tmp_path / "clamped.glb") == 0
    assert export(raw_npy, tmp_path / "raw.glb", "--no-clamp") == 0
    for name, expected, clamped in (("clamped.glb", np.clip(raw, 0, 1), True), ("raw.glb", raw, False)):
        gltf = pygltflib.GLTF2().load(str(tmp_path / name))
        (animation,) = gltf.animations
        assert animation.extras == {"clamped": clamped}
        weights = gltf_accessor(gltf, animation.samplers[0].output).reshape(raw.shape)
        np.testing.assert_array_equal(weights, expected)
