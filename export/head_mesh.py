"""The bundled head's neutral geometry, modelled procedurally (no scanned or third-party data).

The skin is the zero set of a signed distance field (a smooth union of ellipsoids for the
cranium, jaw, cheekbones, chin, brow ridge, nose, lids and ears) sampled by casting rays
from the head's centre. The ray directions are blue-noise points on the unit sphere, denser
where the face needs detail, so their convex hull is a clean triangulation; removing the
triangles inside the eye and mouth outlines leaves the openings the lids and lips move
around. Eyeballs, a mouth cavity, teeth, a tongue and a neck are separate closed parts of
the same vertex list, told apart by `part`.

Units are metres. Axes follow glTF: +y up, the face looks along +z, and +x is the
subject's left (so ARKit's "Left" shapes act on x > 0, which a camera in front of the face
sees on the right of the image).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.spatial import ConvexHull, cKDTree

# Part labels: the shape deltas use them to decide what moves with the jaw, the eyes...
SKIN, EYE_LEFT, EYE_RIGHT, MOUTH_CAVITY, TEETH_UPPER, TEETH_LOWER, TONGUE, NECK = range(8)

# Facial layout (metres). Eye and mouth openings are outlines in the x-y "front plane";
# the rim vertices are placed on the skin exactly above these outlines.
EYE_CENTER = np.array([0.0315, 0.0, 0.0684])  # left eye; the right one mirrors x
EYEBALL_RADIUS = 0.0125
LID_RADIUS = 0.0134  # the lids are a shell 0.9 mm outside the eyeball
EYE_HALF_WIDTH = 0.0127  # < LID_RADIUS: the corners stay on the lid shell, in front of the eyeball
EYE_UPPER_HEIGHT = 0.0052  # upper lid height above the eye centre at its peak
EYE_LOWER_HEIGHT = 0.0046
MOUTH_Y = -0.0500
MOUTH_HALF_WIDTH = 0.0240
MOUTH_HALF_GAP = 0.0011  # lips part by ~2 mm at rest, so the parting line reads as dark
NOSE_TIP = np.array([0.0, -0.0250, 0.1070])
BROW_Y = 0.0215  # lower edge of the brow hair at its inner end
JAW_PIVOT = np.array([0.0, -0.0050, -0.0150])  # temporomandibular joint, both sides

SKIN_COLOR = (222, 176, 150)
LIP_COLOR = (188, 108, 106)
BROW_COLOR = (92, 64, 48)
LASH_COLOR = (70, 50, 42)
HAIR_COLOR = (66, 46, 36)
SCLERA_COLOR = (238, 234, 226)
IRIS_COLOR = (92, 118, 140)
PUPIL_COLOR = (18, 16, 16)
CAVITY_COLOR = (60, 20, 24)
TEETH_COLOR = (236, 230, 214)
TONGUE_COLOR = (178, 86, 90)


@dataclasses.dataclass(frozen=True)
class NeutralHead:
    """vertices: [V, 3] float64 metres; faces: [F, 3] int32 (counter-clockwise seen from outside);
    colors: [V, 4] uint8 RGBA; part: [V] int8 part label (SKIN, EYE_LEFT, ...)."""

    vertices: np.ndarray
    faces: np.ndarray
    colors: np.ndarray
    part: np.ndarray


def smoothstep(edge0, edge1, x):
    """Hermite step from 0 at edge0 to 1 at edge1 (edges may be in either order)."""
    t = np.clip((np.asarray(x, dtype=np.float64) - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def eye_outline(t):
    """Lid rim heights over the eye centre at t = (|x| - eye_x) / half_width in [-1, 1] (t > 0 is lateral).

    Returns (upper, lower) offsets in metres: an almond whose upper peak sits slightly medial
    and whose outer corner is 1 mm higher than the inner one (a positive canthal tilt).
    """
    t = np.clip(t, -1.0, 1.0)
    bulge = np.clip(1.0 - t * t, 0.0, None)
    tilt = 0.0010 * t
    upper = EYE_UPPER_HEIGHT * bulge**0.75 * (1.0 - 0.18 * t) + tilt
    lower = -EYE_LOWER_HEIGHT * bulge**0.9 * (1.0 + 0.12 * t) + tilt
    return upper, lower


def eye_closure_line(t):
    """Where the lids meet in a blink: a fifth of the way up from the lower rim."""
    upper, lower = eye_outline(t)
    return lower + 0.2 * (upper - lower)


def mouth_outline(x):
    """Upper and lower lip rim heights (absolute y) along the mouth; they meet at the corners."""
    t = np.clip(np.asarray(x) / MOUTH_HALF_WIDTH, -1.0, 1.0)
    gap = MOUTH_HALF_GAP * (1.0 - t * t)
    # The parting line curves up a little towards the corners, as relaxed lips do.
    line = MOUTH_Y + 0.0012 * t * t
    return line + gap, line - gap


def inside_eye(x, y):
    """[N] bool: front-plane points inside either eye opening."""
    t = (np.abs(x) - EYE_CENTER[0]) / EYE_HALF_WIDTH
    upper, lower = eye_outline(t)
    dy = y - EYE_CENTER[1]
    return (np.abs(t) < 1.0) & (dy < upper) & (dy > lower)


def inside_mouth(x, y):
    upper, lower = mouth_outline(x)
    return (np.abs(x) < MOUTH_HALF_WIDTH) & (y < upper) & (y > lower)


# ----------------------------------------------------------------------------------------------
# Signed distance field of the skin.


def _ellipsoid(p, center, radii):
    """Approximate signed distance to an ellipsoid (exact on the surface, good enough off it)."""
    q = (p - center) / radii
    k0 = np.linalg.norm(q, axis=-1)
    k1 = np.linalg.norm(q / radii, axis=-1)
    return k0 * (k0 - 1.0) / np.maximum(k1, 1e-12)


def _capsule(p, a, b, radius_a, radius_b):
    """Distance to a cone-like capsule whose radius goes linearly from radius_a to radius_b."""
    ab = b - a
    h = np.clip(((p - a) @ ab) / (ab @ ab), 0.0, 1.0)
    return np.linalg.norm(p - a - h[:, None] * ab, axis=-1) - (radius_a + (radius_b - radius_a) * h)


def _smooth_union(a, b, k):
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b + (a - b) * h - k * h * (1.0 - h)


def _smooth_subtract(a, b, k):
    """a minus b, with a fillet of size k."""
    return -_smooth_union(-a, b, k)


def _mirror(p):
    """Folds x to |x| so each paired feature is written once (for the subject's left)."""
    return np.concatenate([np.abs(p[:, :1]), p[:, 1:]], axis=1)


def skin_sdf(p):
    """[N, 3] points -> [N] signed distance (negative inside) of the neutral skin."""
    m = _mirror(p)
    d = _ellipsoid(p, np.array([0.0, 0.022, -0.012]), np.array([0.0725, 0.097, 0.100]))  # cranium
    d = _smooth_union(d, _ellipsoid(p, np.array([0.0, -0.046, 0.020]), np.array([0.053, 0.068, 0.072])), 0.014)
    d = _smooth_union(d, _ellipsoid(m, np.array([0.040, -0.014, 0.050]), np.array([0.022, 0.018, 0.029])), 0.012)
    d = _smooth_union(d, _ellipsoid(m, np.array([0.033, -0.044, 0.050]), np.array([0.018, 0.020, 0.024])), 0.012)
    d = _smooth_union(d, _ellipsoid(p, np.array([0.0, -0.087, 0.063]), np.array([0.020, 0.019, 0.020])), 0.012)
    d = _smooth_union(d, _ellipsoid(p, np.array([0.0, 0.029, 0.060]), np.array([0.057, 0.017, 0.031])), 0.012)
    # Eye sockets, then the lid shells that fill them.
    d = _smooth_subtract(d, np.linalg.norm(m - np.array([0.0315, 0.004, 0.083]), axis=-1) - 0.0165, 0.008)
    d = _smooth_union(d, np.linalg.norm(m - EYE_CENTER, axis=-1) - LID_RADIUS, 0.0035)
    # Nose: a tapered bridge, a rounded tip and two alae.
    nose = _capsule(p, np.array([0.0, 0.022, 0.081]), np.array([0.0, -0.019, 0.101]), 0.0055, 0.0080)
    nose = _smooth_union(nose, np.linalg.norm(p - NOSE_TIP, axis=-1) - 0.0092, 0.006)
    alae = _ellipsoid(m, np.array([0.0106, -0.0282, 0.0912]), np.array([0.0066, 0.0058, 0.0074]))
    nose = _smooth_union(nose, alae, 0.009)
    d = _smooth_union(d, nose, 0.006)
    # Ears: flat ovals on the sides, enough to read as ears from the front.
    d = _smooth_union(d, _ellipsoid(m, np.array([0.0705, 0.004, -0.010]), np.array([0.009, 0.027, 0.015])), 0.006)
    return d


def cast_rays(directions, t_max=0.20):
    """[N, 3] unit directions from the origin -> [N, 3] outermost skin points along them.

    t_max (scalar or [N]) is where marching starts; it must lie outside the head.

    Marches inward from t_max by half the (approximate) distance to the skin, never less than
    0.25 mm so rays grazing the nose's flanks do not step over them, then bisects; the result
    is the ray's last exit from the head, what a viewer outside sees.
    """
    n = len(directions)
    outside_t = np.broadcast_to(np.asarray(t_max, np.float64), (n,)).copy()
    inside_t = np.full(n, np.nan)
    active = np.arange(n)
    t = outside_t.copy()
    while len(active):
        d = skin_sdf(directions[active] * t[active, None])
        hit = d < 0.0
        inside_t[active[hit]] = t[active[hit]]
        outside_t[active[~hit]] = t[active[~hit]]
        active = active[~hit]
        t[active] -= np.maximum(0.5 * d[~hit], 0.00025)
        active = active[t[active] > 0.0]
    lo, hi = inside_t, outside_t
    for _ in range(20):
        mid = 0.5 * (lo + hi)
        inside = skin_sdf(directions * mid[:, None]) < 0.0
        lo = np.where(inside, mid, lo)
        hi = np.where(inside, hi, mid)
    return directions * (0.5 * (lo + hi))[:, None]


def _normalize(v):
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def skin_point_at(xy, depth_guess):
    """[N, 2] front-plane (x, y) -> [N, 3] points of the neutral skin with exactly that (x, y).

    Aims a ray at (x, y, depth) and re-aims at the depth it hit; four rounds leave ~1e-6 m of
    error on the face, where the skin is close to a height field over the front plane.
    """
    xy = np.asarray(xy, dtype=np.float64)
    depth = np.broadcast_to(np.asarray(depth_guess, dtype=np.float64), (len(xy),)).copy()
    for _ in range(4):
        aim = np.concatenate([xy, depth[:, None]], axis=1)
        # Start 3 cm outside the aimed point: nothing on the face stands further out than that.
        points = cast_rays(_normalize(aim), t_max=np.minimum(np.linalg.norm(aim, axis=1) + 0.03, 0.2))
        depth = points[:, 2]
    points[:, :2] = xy
    return points


def _front_plane_spacing(directions):
    """Target distance (radians) between neighbouring sample directions: fine on the features."""
    d = directions
    front = smoothstep(0.05, 0.6, d[:, 2])
    spacing = 0.070 + (0.030 - 0.070) * front
    # Approximate front-plane metres at the face's depth.
    depth = 0.088
    safe_z = np.maximum(d[:, 2], 0.2)
    x, y = d[:, 0] / safe_z * depth, d[:, 1] / safe_z * depth
    ax = np.abs(x)
    near_eye = np.hypot((ax - EYE_CENTER[0]) / 1.3, y - EYE_CENTER[1])
    near_mouth = np.hypot(x / 1.6, (y - MOUTH_Y) * 1.2)
    near_nose = np.hypot(x * 1.1, np.clip(y - NOSE_TIP[1], -0.01, None) * 0.35)
    near_brow = np.hypot((ax - 0.032) / 2.0, (y - BROW_Y - 0.006) * 1.4)
    fine = np.minimum.reduce([
        0.011 + smoothstep(0.020, 0.032, near_eye) * 0.03,
        0.011 + smoothstep(0.022, 0.034, near_mouth) * 0.03,
        0.0075 + smoothstep(0.016, 0.028, near_nose) * 0.03,
        0.016 + smoothstep(0.012, 0.022, near_brow) * 0.03,
    ])  # fmt: skip
    fine = np.where(d[:, 2] > 0.3, fine, 1.0)
    return np.minimum(spacing, fine)


def _rim_points(depth_guess):
    """Ray directions whose skin hits lie exactly on the eye and mouth outlines.

    Returns (directions [R, 3], hole id per point: 0 left eye, 1 right eye, 2 mouth, and the
    wanted front-plane (x, y) of each point).
    """
    wanted, hole = [], []
    # Eye rims: ~0.9 mm apart, denser at the corners where the lids meet.
    s = np.sin(np.linspace(-np.pi / 2, np.pi / 2, 34)[1:-1])
    for side, hole_id in ((1.0, 0), (-1.0, 1)):
        upper, lower = eye_outline(s)
        x = side * (EYE_CENTER[0] + s * EYE_HALF_WIDTH)
        corners = side * (EYE_CENTER[0] + np.array([-1.0, 1.0]) * EYE_HALF_WIDTH)
        xs = np.concatenate([x, x, corners])
        ys = np.concatenate([upper, lower, eye_outline(np.array([-1.0, 1.0]))[0]]) + EYE_CENTER[1]
        wanted.append(np.stack([xs, ys], axis=1))
        hole += [hole_id] * len(xs)
    s = np.sin(np.linspace(-np.pi / 2, np.pi / 2, 56)[1:-1])
    x = s * MOUTH_HALF_WIDTH
    upper, lower = mouth_outline(x)
    corners = np.array([-MOUTH_HALF_WIDTH, MOUTH_HALF_WIDTH])
    xs = np.concatenate([x, x, corners])
    ys = np.concatenate([upper, lower, mouth_outline(corners)[0]])
    wanted.append(np.stack([xs, ys], axis=1))
    hole += [2] * len(xs)
    wanted = np.concatenate(wanted)
    return _normalize(skin_point_at(wanted, depth_guess)), np.asarray(hole), wanted


def _sample_directions(seed=0):
    """Blue-noise unit directions (Poisson-disk elimination over a Fibonacci sphere), rim points first.

    Returns (directions [N, 3], hole id of each rim point [R], rim front-plane (x, y) [R, 2]).
    """
    rim_dirs, rim_hole, rim_xy = _rim_points(depth_guess=0.085)
    n = 200_000
    i = np.arange(n) + 0.5
    phi = np.arccos(1.0 - 2.0 * i / n)
    theta = np.pi * (1.0 + 5**0.5) * i
    cand = np.stack([np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)], axis=1)
    # No candidate inside an opening. Openings are outlines in the front plane, so the
    # candidates that could fall in one are cast onto the skin to learn their (x, y).
    near = (cand[:, 2] > 0.5) & (np.abs(cand[:, 0]) < 0.7 * cand[:, 2]) & (np.abs(cand[:, 1] + 0.25) < 0.6)
    xy = cast_rays(cand[near])[:, :2]
    grow = 0.0008  # keep a margin so no interior point sits right on a rim
    x, y = xy[:, 0], xy[:, 1]
    in_hole = np.zeros(len(cand), bool)
    in_hole[near] = (
        inside_eye(x, y) | inside_eye(x, y + grow) | inside_eye(x, y - grow) | inside_mouth(x, y)
        | inside_mouth(x, y + grow) | inside_mouth(x, y - grow)
    )  # fmt: skip
    cand = cand[~in_hole]
    radius = _front_plane_spacing(cand)
    alive = np.ones(len(cand), bool)
    tree = cKDTree(cand)
    # Rim points claim their neighbourhood first.
    for p, r in zip(rim_dirs, _front_plane_spacing(rim_dirs) * 0.9, strict=True):
        alive[tree.query_ball_point(p, r)] = False
    accepted = []
    for idx in np.random.default_rng(seed).permutation(len(cand)):
        if alive[idx]:
            accepted.append(idx)
            alive[tree.query_ball_point(cand[idx], radius[idx])] = False
    return np.concatenate([rim_dirs, cand[np.asarray(accepted)]]), rim_hole, rim_xy


def _skin():
    """-> (vertices [V, 3], faces [F, 3]) of the skin with open eyes and mouth."""
    directions, rim_hole, rim_xy = _sample_directions()
    hull = ConvexHull(directions)
    faces = hull.simplices.astype(np.int64)
    # Orient every triangle outward (the hull's own order is arbitrary).
    a, b, c = (directions[faces[:, k]] for k in range(3))
    flip = np.einsum("ij,ij->i", np.cross(b - a, c - a), a + b + c) < 0
    faces[flip] = faces[flip][:, ::-1]
    # Drop triangles spanning an opening: all three corners on the same rim, centre inside.
    hole_of = np.full(len(directions), -1)
    hole_of[: len(rim_hole)] = rim_hole
    same = (hole_of[faces[:, 0]] >= 0) & (hole_of[faces[:, 0]] == hole_of[faces[:, 1]])
    same &= hole_of[faces[:, 1]] == hole_of[faces[:, 2]]
    vertices = cast_rays(directions)
    centre = vertices[faces].mean(axis=1)
    inside = inside_eye(centre[:, 0], centre[:, 1]) | inside_mouth(centre[:, 0], centre[:, 1])
    faces = faces[~(same & inside)]
    # Snap rims onto the exact outlines (ray aiming leaves ~1e-5 m of error).
    vertices[: len(rim_xy), :2] = rim_xy
    return _sculpt(vertices), faces


def _sculpt(v):
    """Details too fine for the distance field: lip volume, rolled lip and lid edges, nostrils."""
    v = v.copy()
    x, y = v[:, 0], v[:, 1]
    front = smoothstep(0.03, 0.06, v[:, 2])
    t = np.clip(x / (MOUTH_HALF_WIDTH * 1.15), -1.0, 1.0)
    across = np.sqrt(np.clip(1.0 - t * t, 0.0, None))
    upper_rim, lower_rim = mouth_outline(x)
    # Lips: a rounded ridge above and below the parting line, fading at the corners.
    above = (y - upper_rim) / 0.0075
    below = (lower_rim - y) / 0.0095
    upper_lip = np.where(above >= 0, np.exp(-(((above - 0.35) / 0.45) ** 2)), 0.0) * 0.0045
    lower_lip = np.where(below >= 0, np.exp(-(((below - 0.40) / 0.45) ** 2)), 0.0) * 0.0055
    v[:, 2] += (upper_lip + lower_lip) * across * front
    # Roll the lip edges into the mouth over the last 3 mm so the lips look thick.
    rim_dist = np.minimum(np.abs(y - upper_rim), np.abs(y - lower_rim))
    near_mouth = np.abs(x) < MOUTH_HALF_WIDTH * 1.05
    roll = np.where(near_mouth, (1.0 - smoothstep(0.0, 0.003, rim_dist)) ** 2, 0.0)
    v[:, 2] -= 0.0030 * roll * front
    # Nostrils: shallow dents under the tip.
    for side in (-1.0, 1.0):
        nostril = np.array([side * 0.0062, -0.0335, 0.0985])
        dist = np.linalg.norm(v - nostril, axis=1)
        v[:, 1] += 0.0018 * (1.0 - smoothstep(0.0, 0.0045, dist))
    return v


# ----------------------------------------------------------------------------------------------
# Separate parts.


def _uv_sphere(center, radii, rings, segments, polar_angles=None, inward=False):
    """A sphere with its pole on +z; polar_angles [rings+1] lets callers put rings where colour changes."""
    theta = np.linspace(0.0, np.pi, rings + 1) if polar_angles is None else np.asarray(polar_angles)
    phi = np.linspace(0.0, 2.0 * np.pi, segments, endpoint=False)
    st, ct = np.sin(theta[1:-1])[:, None], np.cos(theta[1:-1])[:, None]
    ring_points = np.stack([st * np.cos(phi), st * np.sin(phi), np.broadcast_to(ct, (len(ct), segments))], axis=-1)
    unit = np.concatenate([[[0.0, 0.0, 1.0]], ring_points.reshape(-1, 3), [[0.0, 0.0, -1.0]]])
    faces = []
    n_rings = len(theta) - 2
    ring = lambda r, s: 1 + r * segments + s % segments
    for s in range(segments):
        faces.append((0, ring(0, s), ring(0, s + 1)))
        faces.append((len(unit) - 1, ring(n_rings - 1, s + 1), ring(n_rings - 1, s)))
        for r in range(n_rings - 1):
            faces.append((ring(r, s), ring(r + 1, s), ring(r + 1, s + 1)))
            faces.append((ring(r, s), ring(r + 1, s + 1), ring(r, s + 1)))
    faces = np.asarray(faces, dtype=np.int64)
    # Pole on +z with phi growing counter-clockwise makes these faces point outward.
    faces = faces[:, ::-1] if inward else faces
    return unit * radii + center, faces, np.concatenate([[0.0], np.repeat(theta[1:-1], segments), [np.pi]])


def _eyeball(center):
    """A sphere looking along +z with iris and pupil rings doubled so their edges stay crisp."""
    angles = [0.0, 0.12, 0.24, 0.245, 0.36, 0.47, 0.50, 0.505, 0.62, 0.8, 1.0, 1.25, 1.5, 1.8, 2.2, 2.7, np.pi]
    vertices, faces, polar = _uv_sphere(center, EYEBALL_RADIUS, 0, 28, polar_angles=angles)
    colors = np.where(
        (polar <= 0.24)[:, None], PUPIL_COLOR, np.where((polar <= 0.50)[:, None], IRIS_COLOR, SCLERA_COLOR)
    )
    # The iris darkens towards its rim (a limbal ring), which makes the eye read at a distance.
    colors = np.where(((polar > 0.40) & (polar <= 0.50))[:, None], np.asarray(IRIS_COLOR) * 0.7, colors)
    return vertices, faces, colors


def _teeth(upper):
    """A curved band of teeth following the dental arch, just behind the lips."""
    angles = np.linspace(-1.1, 1.1, 25)
    arch_x = 0.021 * np.sin(angles)
    arch_z = 0.083 + 0.014 * (np.cos(angles) - 1.0)
    top, bottom = (MOUTH_Y + 0.0105, MOUTH_Y + 0.0030) if upper else (MOUTH_Y - 0.0035, MOUTH_Y - 0.0105)
    rows = []
    for z_offset, y in ((0.0, top), (0.0, bottom), (-0.004, bottom), (-0.004, top)):
        rows.append(np.stack([arch_x * (1 + z_offset * 10), np.full_like(arch_x, y), arch_z + z_offset], axis=1))
    vertices = np.concatenate(rows)
    n = len(angles)
    faces = []
    for r in range(4):
        a, b = r * n, ((r + 1) % 4) * n
        for i in range(n - 1):
            faces += [(a + i, a + i + 1, b + i + 1), (a + i, b + i + 1, b + i)]
    faces = np.asarray(faces, dtype=np.int64)
    # The rows run top-front, bottom-front, bottom-back, top-back: reversed, the faces point outward.
    return vertices, faces[:, ::-1], np.tile(TEETH_COLOR, (len(vertices), 1))


def _neck():
    """An open tube under the jaw. Its top edge slants (low in front, high at the back) so it
    stays inside the head without reaching the mouth cavity, which a wide-open jaw swings back."""
    angles = np.linspace(0.0, 2.0 * np.pi, 40, endpoint=False)
    forward = np.cos(angles)
    top = -0.055 - 0.040 * np.clip(forward, 0.0, None) ** 2 + 0.015 * np.clip(-forward, 0.0, None)
    ring = np.stack([0.047 * np.sin(angles), np.zeros_like(angles), -0.015 + 0.045 * forward], axis=1)
    rows = np.linspace(0.0, 1.0, 8)
    vertices = np.concatenate([ring + np.stack([0 * top, -0.24 + (top + 0.24) * r, 0 * top], axis=1) for r in rows])
    n = len(angles)
    faces = []
    for r in range(len(rows) - 1):
        for i in range(n):
            a, b, c, d = r * n + i, r * n + (i + 1) % n, (r + 1) * n + (i + 1) % n, (r + 1) * n + i
            faces += [(a, b, c), (a, c, d)]
    return vertices, np.asarray(faces, dtype=np.int64), np.tile(SKIN_COLOR, (len(vertices), 1))


def _skin_colors(v):
    """Vertex colours of the skin: lips, brows, lash lines and hair painted by position."""
    x, y, z = v[:, 0], v[:, 1], v[:, 2]
    color = np.tile(np.asarray(SKIN_COLOR, dtype=np.float64), (len(v), 1))
    paint = lambda weight, rgb: color.__isub__(weight[:, None] * (color - np.asarray(rgb, dtype=np.float64)))
    front = smoothstep(0.05, 0.07, z)
    # Lips: the vermilion band, with a cupid's bow dip on the upper lip.
    t = np.clip(x / MOUTH_HALF_WIDTH, -1.0, 1.0)
    upper_rim, lower_rim = mouth_outline(x)
    bow = 0.0072 - 0.0016 * np.exp(-((x / 0.0035) ** 2)) + 0.0006 * np.exp(-(((np.abs(x) - 0.006) / 0.004) ** 2))
    upper_edge = upper_rim + bow * np.sqrt(np.clip(1.0 - t**2, 0.0, None)) ** 0.7
    lower_edge = lower_rim - 0.0092 * np.sqrt(np.clip(1.0 - t**2, 0.0, None)) ** 0.8
    soft = 0.0014  # a soft vermilion border hides the irregular triangulation
    lips = smoothstep(upper_edge + soft, upper_edge - soft, y) * smoothstep(lower_edge - soft, lower_edge + soft, y)
    lips *= (np.abs(x) < MOUTH_HALF_WIDTH * 1.02) * front
    paint(lips, LIP_COLOR)
    # Brows: an arched band, thick at the inner end and tapering outward.
    ax = np.abs(x)
    u = np.clip((ax - 0.010) / 0.046, 0.0, 1.0)
    brow_low = BROW_Y + 0.0075 * np.sin(np.pi * u**0.8) - 0.003 * u
    thickness = 0.0052 * (1.0 - 0.55 * u)
    inside_band = smoothstep(brow_low - 0.0009, brow_low + 0.0009, y) * smoothstep(
        brow_low + thickness + 0.0010, brow_low + thickness - 0.0010, y
    )
    along = smoothstep(0.007, 0.012, ax) * smoothstep(0.058, 0.052, ax)
    paint(inside_band * along * front * 0.92, BROW_COLOR)
    # Lash lines: a dark edge on both lid rims, heavier on the upper lid.
    te = (ax - EYE_CENTER[0]) / EYE_HALF_WIDTH
    upper, lower = eye_outline(te)
    dy = y - EYE_CENTER[1]
    in_width = smoothstep(1.15, 0.95, np.abs(te)) * front
    paint((1.0 - smoothstep(0.0, 0.0011, dy - upper)) * (dy >= upper - 1e-6) * in_width, LASH_COLOR)
    paint((1.0 - smoothstep(0.0, 0.0006, lower - dy)) * (dy <= lower + 1e-6) * in_width * 0.6, LASH_COLOR)
    # Short hair: everything above a hairline that runs high on the forehead and low at the back.
    hairline = 0.080 - 0.045 * smoothstep(0.06, -0.04, z) - 0.012 * smoothstep(0.03, 0.07, ax)
    paint(smoothstep(hairline - 0.007, hairline + 0.007, y), HAIR_COLOR)
    return color


def build_neutral_head() -> NeutralHead:
    """Builds the neutral head (about 9k vertices); deterministic, ~2 s on one CPU core."""
    skin_vertices, skin_faces = _skin()
    parts = [(skin_vertices, skin_faces, _skin_colors(skin_vertices), SKIN)]
    for side, label in ((1.0, EYE_LEFT), (-1.0, EYE_RIGHT)):
        parts.append((*_eyeball(EYE_CENTER * [side, 1.0, 1.0]), label))
    # Wider than the mouth so lips pulled sideways (mouthLeft, mouthStretch) still show the cavity.
    cavity = _uv_sphere(np.array([0.0, MOUTH_Y - 0.004, 0.060]), np.array([0.032, 0.017, 0.029]), 12, 24, inward=True)
    parts.append((cavity[0], cavity[1], np.tile(CAVITY_COLOR, (len(cavity[0]), 1)), MOUTH_CAVITY))
    parts.append((*_teeth(upper=True), TEETH_UPPER))
    parts.append((*_teeth(upper=False), TEETH_LOWER))
    tongue = _uv_sphere(np.array([0.0, MOUTH_Y - 0.0085, 0.068]), np.array([0.016, 0.005, 0.020]), 8, 16)
    parts.append((tongue[0], tongue[1], np.tile(TONGUE_COLOR, (len(tongue[0]), 1)), TONGUE))
    parts.append((*_neck(), NECK))
    vertices, faces, colors, labels, offset = [], [], [], [], 0
    for v, f, c, label in parts:
        vertices.append(v)
        faces.append(f + offset)
        colors.append(c)
        labels.append(np.full(len(v), label, np.int8))
        offset += len(v)
    rgb = np.clip(np.rint(np.concatenate(colors)), 0, 255).astype(np.uint8)
    rgba = np.concatenate([rgb, np.full((len(rgb), 1), 255, np.uint8)], axis=1)
    return NeutralHead(
        vertices=np.concatenate(vertices),
        faces=np.concatenate(faces).astype(np.int32),
        colors=rgba,
        part=np.concatenate(labels),
    )
