"""`voiceemo export` to Live Link Face CSV, JSON and .npy, read back with independent readers."""

import csv
import json
import re

import numpy as np
import pytest

from export.formats import LIVE_LINK_CSV_NAMES, parse_timecode, timecode
from voiceemo_jax.arkit import ARKIT_NAMES, LIVE_LINK_NAMES
from voiceemo_jax.cli import main

ROTATIONS = [
    "HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll",
    "RightEyeYaw", "RightEyePitch", "RightEyeRoll",
]  # fmt: skip


def export(coeffs_path, fmt, out, *extra):
    argv = ["export", "--coeffs", str(coeffs_path), "--out", str(out), *extra]
    return main(argv + (["--format", fmt] if fmt else []))


@pytest.fixture
def coeffs_npy(tmp_path, random_coeffs):
    path = tmp_path / "coeffs.npy"
    np.save(path, random_coeffs)
    return path


def test_live_link_csv_header_timecodes_and_values(coeffs_npy, random_coeffs, tmp_path):
    out = tmp_path / "take.csv"
    assert export(coeffs_npy, "csv", out) == 0
    with open(out, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    # The app's layout: Timecode, BlendShapeCount, 52 capitalised names (its own order), 9 rotations.
    assert header[:3] == ["Timecode", "BlendShapeCount", "EyeBlinkLeft"]
    assert header[2:54] == list(LIVE_LINK_CSV_NAMES) and sorted(header[2:54]) == sorted(LIVE_LINK_NAMES)
    assert header[2:9] == ["EyeBlinkLeft", "EyeLookDownLeft", "EyeLookInLeft", "EyeLookOutLeft", "EyeLookUpLeft",
                           "EyeSquintLeft", "EyeWideLeft"]  # fmt: skip
    assert header[16:20] == ["JawForward", "JawRight", "JawLeft", "JawOpen"]
    assert header[53] == "TongueOut" and header[54:] == ROTATIONS
    assert len(body) == len(random_coeffs)
    assert all(re.fullmatch(r"\d\d:\d\d:\d\d:\d\d\.\d\d\d", row[0]) for row in body)
    assert [body[i][0] for i in (0, 1, 29, 30, 36)] == [
        "00:00:00:00.000", "00:00:00:01.000", "00:00:00:29.000", "00:00:01:00.000", "00:00:01:06.000",
    ]  # fmt: skip
    assert {row[1] for row in body} == {"61"}
    for name, arkit in zip(LIVE_LINK_NAMES, ARKIT_NAMES, strict=True):
        column = header.index(name)
        values = np.array([float(row[column]) for row in body], np.float32)
        np.testing.assert_array_equal(values, random_coeffs[:, ARKIT_NAMES.index(arkit)])
    assert all(float(row[c]) == 0.0 for row in body for c in range(54, 63))


def test_timecode_rolls_over_seconds_minutes_and_hours():
    assert timecode(0) == "00:00:00:00.000"
    assert timecode(30 * 3600 + 30 * 61 + 15) == "01:01:01:15.000"
    assert parse_timecode(timecode(12345)) == pytest.approx(12345 / 30)


def test_json_round_trip(coeffs_npy, random_coeffs, tmp_path):
    out = tmp_path / "anim.json"
    assert export(coeffs_npy, "json", out) == 0
    doc = json.loads(out.read_text())
    assert set(doc) == {"fps", "clamped", "names", "frames"}
    assert doc["fps"] == 30 and doc["names"] == list(ARKIT_NAMES) and doc["clamped"] is True
    np.testing.assert_array_equal(np.array(doc["frames"], np.float32), random_coeffs)


def _csv_values(path) -> np.ndarray:
    """[T, 52] in ARKit order from a Live Link CSV, read with the csv module alone."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    columns = [rows[0].index(name) for name in LIVE_LINK_NAMES]
    return np.array([[float(row[c]) for c in columns] for row in rows[1:]], np.float32)


def test_csv_and_json_clamp_to_unit_range_unless_no_clamp(tmp_path):
    raw = np.random.default_rng(3).uniform(-0.3, 1.3, (12, 52)).astype(np.float32)
    raw[0, 0] = -0.0068  # the kind of dip the smoothed model output shows
    np.save(tmp_path / "raw.npy", raw)
    assert export(tmp_path / "raw.npy", "csv", tmp_path / "a.csv") == 0
    assert export(tmp_path / "raw.npy", "json", tmp_path / "a.json") == 0
    assert export(tmp_path / "raw.npy", "csv", tmp_path / "raw.csv", "--no-clamp") == 0
    assert export(tmp_path / "raw.npy", "json", tmp_path / "raw.json", "--no-clamp") == 0
    clamped = np.clip(raw, 0.0, 1.0)
    np.testing.assert_array_equal(_csv_values(tmp_path / "a.csv"), clamped)
    np.testing.assert_array_equal(_csv_values(tmp_path / "raw.csv"), raw)
    doc, raw_doc = (json.loads((tmp_path / name).read_text()) for name in ("a.json", "raw.json"))
    assert doc["clamped"] is True and raw_doc["clamped"] is False
    np.testing.assert_array_equal(np.array(doc["frames"], np.float32), clamped)
    np.testing.assert_array_equal(np.array(raw_doc["frames"], np.float32), raw)
    # The .npy stays raw, and --no-clamp has no meaning there.
    assert export(tmp_path / "raw.npy", "npy", tmp_path / "copy.npy") == 0
    np.testing.assert_array_equal(np.load(tmp_path / "copy.npy"), raw)
    assert export(tmp_path / "raw.npy", "npy", tmp_path / "never.npy", "--no-clamp") == 2
    assert not (tmp_path / "never.npy").exists()


def test_npy_is_emotalk_layout_and_vertex_offsets_pass_through(coeffs_npy, random_coeffs, tmp_path):
    out = tmp_path / "emotalk.npy"
    assert export(coeffs_npy, "npy", out) == 0
    loaded = np.load(out)
    assert loaded.dtype == np.float32 and loaded.shape == (37, 52)
    np.testing.assert_array_equal(loaded, random_coeffs)
    offsets = np.random.default_rng(1).normal(size=(5, 300)).astype(np.float64)
    np.save(tmp_path / "offsets.npy", offsets)
    assert export(tmp_path / "offsets.npy", "npy", tmp_path / "offsets_out.npy") == 0
    np.testing.assert_array_equal(np.load(tmp_path / "offsets_out.npy"), offsets.astype(np.float32))


def test_format_from_suffix(coeffs_npy, tmp_path):
    for suffix in ("csv", "json", "npy", "glb"):
        assert export(coeffs_npy, None, tmp_path / f"auto.{suffix}") == 0
        assert (tmp_path / f"auto.{suffix}").stat().st_size > 0
    assert export(coeffs_npy, None, tmp_path / "auto.txt") == 2
    assert not (tmp_path / "auto.txt").exists()


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((10, 51), np.float32), "51 values per frame"),
        (np.zeros((0, 52), np.float32), "empty"),
        (np.zeros(52, np.float32), "got shape [52]"),
        (np.full((4, 52), np.nan, np.float32), "NaN"),
        (np.array([[np.inf] * 52], np.float32), "NaN/inf"),
        (np.array([["a"] * 52]), "numeric"),
    ],
)
def test_bad_coefficients_fail_clearly_and_write_nothing(tmp_path, capsys, array, message):
    np.save(tmp_path / "bad.npy", array)
    for fmt in ("csv", "json", "glb", "npy"):
        out = tmp_path / f"out.{fmt}"
        assert export(tmp_path / "bad.npy", fmt, out) == 2
        assert message in capsys.readouterr().err
        assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.npy"]


def test_unreadable_inputs_and_offsets_for_blendshape_formats(tmp_path, capsys):
    assert export(tmp_path / "missing.npy", "csv", tmp_path / "a.csv") == 2
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "text.npy").write_text("not an array")
    assert export(tmp_path / "text.npy", "csv", tmp_path / "a.csv") == 2
    assert "not a readable .npy" in capsys.readouterr().err
    np.save(tmp_path / "offsets.npy", np.zeros((3, 90), np.float32))
    assert export(tmp_path / "offsets.npy", "csv", tmp_path / "a.csv") == 2
    assert "needs [frames, 52] ARKit coefficients" in capsys.readouterr().err
    np.save(tmp_path / "ok.npy", np.zeros((3, 52), np.float32))
    assert export(tmp_path / "ok.npy", "csv", tmp_path / "a.csv", "--head", str(tmp_path / "h.glb")) == 2
    assert "--head applies to --format gltf or glb" in capsys.readouterr().err
    assert not (tmp_path / "a.csv").exists()
