"""The bundled head: deterministic, sound geometry, and every ARKit shape doing what its name says."""

import numpy as np
import pytest

from export import head_mesh as hm
from export.head_model import _generate, build_head
from voiceemo_jax.arkit import ARKIT_NAMES


@pytest.fixture(scope="module")
def head():
    return build_head()


def test_build_is_deterministic_and_the_cache_matches_a_fresh_build(head):
    fresh = _generate()
    np.testing.assert_array_equal(fresh.vertices, head.vertices)
    np.testing.assert_array_equal(fresh.faces, head.faces)
    np.testing.assert_array_equal(fresh.deltas, head.deltas)
    np.testing.assert_array_equal(fresh.colors, head.colors)


def test_geometry_is_sound(head):
    v, f = head.vertices, head.faces
    assert head.names == ARKIT_NAMES and head.deltas.shape == (52, len(v), 3)
    assert 5000 < len(v) < 20000 and np.isfinite(v).all() and np.isfinite(head.deltas).all()
    assert f.min() == 0 and f.max() == len(v) - 1
    tri = v[f]
    areas = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    assert areas.min() > 0
    # Skin triangles face outward (away from the head's centre): no fold-overs. The lip edges,
    # which roll into the mouth on purpose, are the exception.
    centre = tri.mean(axis=1)
    lip_edges = (np.abs(centre[:, 0]) < hm.MOUTH_HALF_WIDTH + 0.002) & (np.abs(centre[:, 1] - hm.MOUTH_Y) < 0.006)
    skin = np.all(head.part[f] == hm.SKIN, axis=1) & ~lip_edges
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    outward = np.einsum("ij,ij->i", normals[skin], centre[skin])
    assert np.mean(outward > 0) > 0.9995
    # The head is head-sized: ~15 cm wide, ~24 cm tall without the neck, nose tip in front.
    no_neck = v[head.part != hm.NECK]
    size = no_neck.max(axis=0) - no_neck.min(axis=0)
    assert (
        0.13 < size[0] < 0.17
        and 0.22 < size[1] < 0.26
        and no_neck[:, 2].argmax() in np.flatnonzero(np.abs(no_neck[:, 1] - hm.NOSE_TIP[1]) < 0.01)
    )
    # Every shape moves something by at least half a millimetre.
    assert (np.linalg.norm(head.deltas, axis=2).max(axis=1) > 5e-4).all()
    assert list(head.shapes) == list(ARKIT_NAMES) and head.mesh.vertices.shape == v.shape
    posed = head.to_trimesh(np.eye(52)[ARKIT_NAMES.index("jawOpen")])
    np.testing.assert_allclose(posed.vertices, v + head.shape("jawOpen"), atol=1e-6)


def _moving(head, name, fraction=0.3):
    """(mask of vertices moving more than `fraction` of the shape's largest move, delta [V, 3])."""
    delta = head.shape(name)
    size = np.linalg.norm(delta, axis=1)
    return size > fraction * size.max(), delta


def _mean(head, name, mask=None):
    """Displacement-weighted centroid (x, y) and the mean displacement of a shape's moving vertices."""
    moving, delta = _moving(head, name)
    if mask is not None:
        moving &= mask
    weights = np.linalg.norm(delta[moving], axis=1)
    centroid = (head.vertices[moving] * weights[:, None]).sum(0) / weights.sum()
    return centroid, delta[moving].mean(axis=0)


EYE_Y, EYE_X = hm.EYE_CENTER[1], hm.EYE_CENTER[0]


def test_sided_shapes_act_on_their_own_side(head):
    x = head.vertices[:, 0]
    for name in ARKIT_NAMES:
        if not name.endswith(("Left", "Right")) or name in ("jawLeft", "jawRight", "mouthLeft", "mouthRight"):
            continue  # (those four shift the jaw or the whole mouth sideways)
        size = np.linalg.norm(head.shape(name), axis=1)
        left, right = size[x > 0.002].sum(), size[x < -0.002].sum()
        # ARKit's Left is the subject's left: +x in glTF axes (the right of a front view).
        assert (left > 4 * right) if name.endswith("Left") else (right > 4 * left), name


# name -> (region test on the centroid (x, y), test on the mean displacement (dx, dy, dz)), for the left side;
# the right side mirrors x.
EXPECTED = {
    "browDown": (lambda c: c[1] > EYE_Y + 0.012, lambda d: d[1] < 0),
    "browOuterUp": (lambda c: c[1] > EYE_Y + 0.012 and abs(c[0]) > 0.03, lambda d: d[1] > 0),
    "cheekSquint": (lambda c: -0.04 < c[1] < EYE_Y, lambda d: d[1] > 0),
    "eyeSquint": (lambda c: abs(c[1] - EYE_Y) < 0.02, lambda d: d[1] > 0),
    "eyeWide": (lambda c: abs(c[1] - EYE_Y) < 0.02, lambda d: d[1] > 0),
    "mouthDimple": (lambda c: c[1] < -0.03, lambda d: d[2] < 0),
    "mouthFrown": (lambda c: c[1] < -0.03, lambda d: d[1] < 0),
    "mouthSmile": (lambda c: c[1] < -0.03, lambda d: d[1] > 0 and d[0] > 0),
    "mouthStretch": (lambda c: c[1] < -0.03, lambda d: d[0] > abs(d[1])),
    "mouthLowerDown": (lambda c: c[1] < hm.MOUTH_Y, lambda d: d[1] < 0),
    "mouthUpperUp": (lambda c: hm.MOUTH_Y < c[1] < -0.025, lambda d: d[1] > 0),
    "noseSneer": (lambda c: abs(c[0]) < 0.025 and -0.04 < c[1] < 0.01, lambda d: d[1] > 0),
}
EXPECTED_CENTRAL = {
    "browInnerUp": (lambda c: c[1] > EYE_Y + 0.012 and abs(c[0]) < 0.03, lambda d: d[1] > 0),
    "jawOpen": (lambda c: c[1] < hm.MOUTH_Y, lambda d: d[1] < -0.01),
    "jawForward": (lambda c: c[1] < hm.MOUTH_Y + 0.005, lambda d: d[2] > 0),
    "jawLeft": (lambda c: c[1] < hm.MOUTH_Y + 0.005, lambda d: d[0] > 0),
    "jawRight": (lambda c: c[1] < hm.MOUTH_Y + 0.005, lambda d: d[0] < 0),
    "mouthLeft": (lambda c: abs(c[1] - hm.MOUTH_Y) < 0.015, lambda d: d[0] > 0),
    "mouthRight": (lambda c: abs(c[1] - hm.MOUTH_Y) < 0.015, lambda d: d[0] < 0),
    "mouthClose": (lambda c: c[1] < hm.MOUTH_Y, lambda d: d[1] > 0),
    "mouthPucker": (lambda c: c[1] < -0.03, lambda d: d[2] > 0),
    "mouthFunnel": (lambda c: c[1] < -0.03, lambda d: d[2] > 0),
    "mouthRollLower": (lambda c: c[1] < hm.MOUTH_Y, lambda d: d[2] < 0),
    "mouthRollUpper": (lambda c: c[1] > hm.MOUTH_Y, lambda d: d[2] < 0),
    "mouthShrugLower": (lambda c: c[1] < hm.MOUTH_Y, lambda d: d[1] > 0),
    "mouthShrugUpper": (lambda c: c[1] > hm.MOUTH_Y, lambda d: d[1] > 0),
}


@pytest.mark.parametrize("name", sorted(set(EXPECTED) | set(EXPECTED_CENTRAL)))
def test_each_shape_moves_its_region_the_named_way(head, name):
    if name in EXPECTED_CENTRAL:
        cases = [(name, *EXPECTED_CENTRAL[name], 1.0)]
    else:
        cases = [(name + side, *EXPECTED[name], sign) for side, sign in (("Left", 1.0), ("Right", -1.0))]
    for shape, region, motion, sign in cases:
        centroid, mean = _mean(head, shape)
        mirror = np.array([sign, 1.0, 1.0])
        assert region(centroid * mirror), (shape, centroid)
        assert motion(mean * mirror), (shape, mean)


def test_jaw_opens_the_mouth_by_centimetres(head):
    front_skin = (head.part == hm.SKIN) & (head.vertices[:, 2] > 0.05)
    lips = front_skin & (np.abs(head.vertices[:, 0]) < 0.01) & (np.abs(head.vertices[:, 1] - hm.MOUTH_Y) < 0.004)
    lower, upper = lips & (head.vertices[:, 1] < hm.MOUTH_Y), lips & (head.vertices[:, 1] > hm.MOUTH_Y)
    open_mouth = head.pose(np.eye(52)[ARKIT_NAMES.index("jawOpen")])
    gap = open_mouth[upper, 1].min() - open_mouth[lower, 1].max()
    assert 0.02 < gap < 0.045
    closed = head.pose(np.eye(52)[ARKIT_NAMES.index("jawOpen")] + np.eye(52)[ARKIT_NAMES.index("mouthClose")])
    assert closed[upper, 1].min() - closed[lower, 1].max() < 0.006


@pytest.mark.parametrize("side, sign", [("Left", 1.0), ("Right", -1.0)])
def test_blink_brings_the_lid_rims_together(head, side, sign):
    v = head.vertices
    t = (sign * v[:, 0] - hm.EYE_CENTER[0]) / hm.EYE_HALF_WIDTH
    upper, lower = hm.eye_outline(t)
    on_side = (head.part == hm.SKIN) & (sign * v[:, 0] > 0) & (np.abs(t) < 0.9)
    upper_rim = on_side & (np.abs(v[:, 1] - hm.EYE_CENTER[1] - upper) < 1e-6)
    lower_rim = on_side & (np.abs(v[:, 1] - hm.EYE_CENTER[1] - lower) < 1e-6)
    assert upper_rim.sum() > 15 and lower_rim.sum() > 15
    closed = head.pose(np.eye(52)[ARKIT_NAMES.index(f"eyeBlink{side}")])
    line = hm.EYE_CENTER[1] + hm.eye_closure_line(t)
    # Both rims end on the closure line (the upper one just past it), so no eyeball shows.
    assert np.abs(closed[lower_rim, 1] - line[lower_rim]).max() < 2e-4
    assert np.all(closed[upper_rim, 1] <= line[upper_rim] + 1e-4)
    # ...and the lids stay in front of the eyeball.
    eye = head.part == (hm.EYE_LEFT if side == "Left" else hm.EYE_RIGHT)
    centre = hm.EYE_CENTER * [sign, 1.0, 1.0]
    assert np.linalg.norm(closed[upper_rim | lower_rim] - centre, axis=1).min() > hm.EYEBALL_RADIUS
    assert np.allclose(closed[eye], v[eye])


@pytest.mark.parametrize("side, sign", [("Left", 1.0), ("Right", -1.0)])
def test_gaze_turns_the_pupil(head, side, sign):
    eye = head.part == (hm.EYE_LEFT if side == "Left" else hm.EYE_RIGHT)
    pupil = np.flatnonzero(eye)[np.argmax(head.vertices[eye, 2])]  # the front pole
    moves = {d: head.shape(f"eyeLook{d}{side}")[pupil] for d in ("Up", "Down", "In", "Out")}
    assert moves["Up"][1] > 0.003 and moves["Down"][1] < -0.003
    # "In" is towards the nose: -x for the left eye, +x for the right one.
    assert sign * moves["In"][0] < -0.003 and sign * moves["Out"][0] > 0.003


def test_tongue_out_moves_the_tongue_past_the_lips(head):
    tongue = head.part == hm.TONGUE
    posed = head.pose(np.eye(52)[ARKIT_NAMES.index("tongueOut")] + np.eye(52)[ARKIT_NAMES.index("jawOpen")])
    lips_front = head.vertices[(head.part == hm.SKIN) & (np.abs(head.vertices[:, 1] - hm.MOUTH_Y) < 0.005), 2].max()
    assert posed[tongue, 2].max() > lips_front


def test_cheek_puff_pushes_both_cheeks_outward(head):
    moving, delta = _moving(head, "cheekPuff")
    x = head.vertices[moving, 0]
    assert (x > 0).sum() > 20 and (x < 0).sum() > 20
    assert np.all(np.sign(x) * delta[moving, 0] > 0)
