"""The 52 ARKit shape deltas of the bundled head, each built to do what its name says.

Every shape is a displacement field over the neutral vertices, written in terms of the
facial layout of `head_mesh` (eye and mouth outlines, jaw pivot) and smooth masks, so a
shape moves only its own region: `jawOpen` rotates everything below the lip parting line
about the jaw joint, `eyeBlinkLeft` slides the subject's left upper lid down over the
eyeball until it meets the lower lid, `browInnerUp` lifts the inner brow ends, and so on.
Lids slide along the skin (re-projected onto it) instead of moving in straight lines, so
a full blink closes without a gap and never cuts into the eyeball.

Amplitudes are in metres at weight 1 and follow the ranges seen on captured ARKit faces
(a wide-open jaw parts the lips by about 3 cm, a full smile lifts the corners ~6 mm).
"""

from __future__ import annotations

import numpy as np

from export import head_mesh as hm
from export.head_mesh import smoothstep
from voiceemo_jax.arkit import ARKIT_NAMES

JAW_OPEN_RADIANS = 0.30
EYE_TURN_RADIANS = {"Down": 0.38, "Up": -0.34, "In": 0.42, "Out": 0.42}


def _rotation_x(angle):
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _rotation_y(angle):
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _bulge(t):
    """Lid motion profile along the eye: full at the middle, zero at the corners (|t| = 1)."""
    return np.clip(1.0 - t * t, 0.0, None)


def _gauss(x, y, cx, cy, rx, ry):
    return np.exp(-(((x - cx) / rx) ** 2) - ((y - cy) / ry) ** 2)


class _Face:
    """Masks over the neutral vertices, computed once and shared by all shapes.

    v: [V, 3] neutral vertices; part: [V] labels.
    """

    def __init__(self, v, part):
        self.v, self.part = v, part
        self.x, self.y, self.z = v[:, 0], v[:, 1], v[:, 2]
        self.skin = (part == hm.SKIN) * smoothstep(0.025, 0.055, self.z)
        self.side = {"Left": smoothstep(-0.004, 0.004, self.x), "Right": smoothstep(0.004, -0.004, self.x)}
        self.sign = {"Left": 1.0, "Right": -1.0}
        self._mouth()
        self._jaw()

    # --- mouth -------------------------------------------------------------------------------
    def _mouth(self):
        x, y = self.x, self.y
        upper_rim, lower_rim = hm.mouth_outline(x)
        self.parting = 0.5 * (upper_rim + lower_rim)
        within = np.abs(x) < hm.MOUTH_HALF_WIDTH * 1.3
        # Lower-lip side of the parting line: sharp across the lips, broad beyond the corners.
        self.lower_side = smoothstep(self.parting + 0.0006, self.parting - 0.0006, y) * within
        self.upper_side = (1.0 - self.lower_side) * within
        # The lips and the skin right around them.
        self.lips = np.exp(-((x / 0.028) ** 4) - ((y - hm.MOUTH_Y) / 0.012) ** 4) * self.skin
        self.mouth_area = _gauss(x, y, 0.0, hm.MOUTH_Y - 0.004, 0.036, 0.024) * self.skin
        self.upper_lip = self.lips * self.upper_side
        self.lower_lip = self.lips * self.lower_side

    def corner(self, side, radius=0.011):
        cx = self.sign[side] * hm.MOUTH_HALF_WIDTH
        return _gauss(self.x, self.y, cx, hm.MOUTH_Y + 0.0012, radius, radius * 0.9) * self.skin

    # --- jaw ---------------------------------------------------------------------------------
    def _jaw(self):
        x, y, z = self.x, self.y, self.z
        beyond_corner = np.clip(np.abs(x) - hm.MOUTH_HALF_WIDTH, 0.0, None)
        # The boundary follows the parting line, then climbs from the mouth corners to the jaw joint.
        boundary = np.where(beyond_corner > 0, hm.MOUTH_Y + 0.0012, self.parting) + 1.05 * beyond_corner
        near_lips = np.hypot(beyond_corner, np.clip(np.abs(y - hm.MOUTH_Y) - 0.003, 0.0, None))
        width = 0.0006 + 0.012 * smoothstep(0.0, 0.02, near_lips)
        weight = smoothstep(boundary + width, boundary - width, y) * smoothstep(-0.03, 0.0, z)
        weight = np.where(self.part == hm.SKIN, weight, 0.0)
        weight = np.where(np.isin(self.part, (hm.TEETH_LOWER, hm.TONGUE)), 1.0, weight)
        cavity = smoothstep(hm.MOUTH_Y + 0.004, hm.MOUTH_Y - 0.008, y)
        self.jaw = np.where(self.part == hm.MOUTH_CAVITY, cavity, weight)

    # --- eyes --------------------------------------------------------------------------------
    def lid_weights(self, side, upper_reach=0.013, lower_reach=0.006):
        """(upper, lower) lid weights of one eye: 1 on the rim, fading over `reach` metres away."""
        sign = self.sign[side]
        t = (sign * self.x - hm.EYE_CENTER[0]) / hm.EYE_HALF_WIDTH
        upper, lower = hm.eye_outline(t)
        dy = self.y - hm.EYE_CENTER[1]
        across = smoothstep(1.35, 0.95, np.abs(t)) * self.skin * (sign * self.x > 0.004)
        w_up = (1.0 - smoothstep(0.0, upper_reach, dy - upper)) * (dy >= upper - 1e-7) * across
        w_low = (1.0 - smoothstep(0.0, lower_reach, lower - dy)) * (dy <= lower + 1e-7) * across
        return t, w_up, w_low

    def slide_lids(self, side, upper_shift, lower_shift, upper_reach=0.013, lower_reach=0.006):
        """Delta moving one eye's lids vertically along the skin.

        upper_shift / lower_shift: callables t -> metres (positive is up) for the rims.
        """
        t, w_up, w_low = self.lid_weights(side, upper_reach, lower_reach)
        shift = w_up * upper_shift(t) + w_low * lower_shift(t)
        moving = np.flatnonzero(np.abs(shift) > 1e-7)
        delta = np.zeros_like(self.v)
        if len(moving):
            xy = self.v[moving, :2] + np.stack([np.zeros(len(moving)), shift[moving]], axis=1)
            delta[moving] = hm.skin_point_at(xy, self.z[moving]) - self.v[moving]
        return delta

    def eyeball(self, side):
        return self.part == (hm.EYE_LEFT if side == "Left" else hm.EYE_RIGHT)


def _translate(mask, dx=0.0, dy=0.0, dz=0.0):
    return mask[:, None] * np.array([dx, dy, dz])


def _shapes(face: _Face) -> dict[str, np.ndarray]:
    f, v = face, face.v
    out: dict[str, np.ndarray] = {}

    # Jaw: rotation about the joint, side shifts and protrusion of everything jaw-bound.
    rotated = (v - hm.JAW_PIVOT) @ _rotation_x(JAW_OPEN_RADIANS).T + hm.JAW_PIVOT
    # An opening mouth also narrows: the corners come in ~3 mm, which rounds the opening.
    narrowing = f.corner("Left", 0.014) - f.corner("Right", 0.014)
    out["jawOpen"] = f.jaw[:, None] * (rotated - v) + _translate(narrowing, dx=-0.0030)
    out["jawForward"] = _translate(f.jaw, dz=0.0065)
    out["jawLeft"] = _translate(f.jaw, dx=0.0070)
    out["jawRight"] = _translate(f.jaw, dx=-0.0070)
    # mouthClose brings the lips back together against an open jaw (used with jawOpen).
    # The lower lip carries the full correction; the skin down to the chin shares the stretch.
    below = np.clip((f.parting - f.y) / 0.030, 0.0, 1.0)
    close_mask = np.exp(-((f.x / 0.030) ** 4)) * (1.0 - smoothstep(0.15, 1.0, below)) * (f.part == hm.SKIN)
    out["mouthClose"] = -(f.jaw * close_mask * f.lower_side)[:, None] * (rotated - v) * 0.95

    for side in ("Left", "Right"):
        s, sgn = f.side[side], f.sign[side]
        opposite = "Right" if side == "Left" else "Left"
        # Eyes: the upper lid comes down to meet a slightly raised lower lid.
        out[f"eyeBlink{side}"] = f.slide_lids(
            side,
            lambda t: hm.eye_closure_line(t) - hm.eye_outline(t)[0] - 0.0002 * (np.abs(t) < 1),
            lambda t: hm.eye_closure_line(t) - hm.eye_outline(t)[1],
        )
        out[f"eyeSquint{side}"] = f.slide_lids(
            side, lambda t: -0.0012 * _bulge(t), lambda t: 0.0024 * _bulge(t)
        ) + _translate(_gauss(f.x, f.y, sgn * 0.034, -0.018, 0.016, 0.010) * f.skin, dy=0.0015, dz=0.0006)
        out[f"eyeWide{side}"] = f.slide_lids(
            side, lambda t: 0.0030 * _bulge(t), lambda t: -0.0008 * _bulge(t), upper_reach=0.011
        )
        # Gaze: rotate the eyeball about its centre; the lids follow vertical gaze a little.
        centre = hm.EYE_CENTER * np.array([sgn, 1.0, 1.0])
        eye = f.eyeball(side)
        turns = {
            "Down": _rotation_x(EYE_TURN_RADIANS["Down"]),
            "Up": _rotation_x(EYE_TURN_RADIANS["Up"]),
            # "In" turns the cornea towards the nose (-x for the left eye), "Out" away from it.
            "In": _rotation_y(-sgn * EYE_TURN_RADIANS["In"]),
            "Out": _rotation_y(sgn * EYE_TURN_RADIANS["Out"]),
        }
        for direction, rotation in turns.items():
            delta = np.zeros_like(v)
            delta[eye] = (v[eye] - centre) @ rotation.T + centre - v[eye]
            if direction == "Down":
                delta += f.slide_lids(side, lambda t: -0.0030 * _bulge(t), lambda t: -0.0008 * _bulge(t))
            if direction == "Up":
                delta += f.slide_lids(side, lambda t: 0.0016 * _bulge(t), lambda t: 0.0006 * _bulge(t))
            out[f"eyeLook{direction}{side}"] = delta

        # Brows: a band along the brow, strongest on it and fading up the forehead.
        u = np.clip((sgn * f.x - 0.010) / 0.046, 0.0, 1.0)
        brow_line = hm.BROW_Y + 0.0075 * np.sin(np.pi * u**0.8) - 0.003 * u + 0.0025
        band = np.exp(-(((f.y - brow_line) / 0.012) ** 2)) * smoothstep(0.001, 0.012, f.y) * f.skin
        band *= smoothstep(0.0, 0.006, sgn * f.x) * smoothstep(0.075, 0.055, sgn * f.x)
        out[f"browDown{side}"] = _translate(band * (1.0 - 0.5 * u), dx=-sgn * 0.0025, dy=-0.0045, dz=0.0008)
        out[f"browOuterUp{side}"] = _translate(band * smoothstep(0.018, 0.045, sgn * f.x), dy=0.0060)

        # Cheeks.
        cheek = _gauss(f.x, f.y, sgn * 0.036, -0.016, 0.015, 0.011) * f.skin
        out[f"cheekSquint{side}"] = _translate(cheek, dy=0.0030, dz=0.0008) + f.slide_lids(
            side, lambda t: 0.0 * t, lambda t: 0.0012 * _bulge(t)
        )
        # The ala and the skin beside it hitch up; the upper lip on that side follows a little.
        out[f"noseSneer{side}"] = (
            _translate(_gauss(f.x, f.y, sgn * 0.012, -0.027, 0.009, 0.009) * f.skin, dy=0.0042, dz=-0.0004)
            + _translate(_gauss(f.x, f.y, sgn * 0.009, -0.006, 0.008, 0.010) * f.skin, dx=-sgn * 0.0008, dy=0.0020)
            + _translate(f.upper_lip * s, dy=0.0012)
        )

        # Mouth corners.
        corner = f.corner(side)
        wide_corner = f.corner(side, radius=0.015)
        smile_cheek = _gauss(f.x, f.y, sgn * 0.036, -0.032, 0.015, 0.014) * f.skin
        out[f"mouthSmile{side}"] = _translate(corner, dx=sgn * 0.0035, dy=0.0058, dz=-0.0025) + _translate(
            smile_cheek, dx=sgn * 0.0008, dy=0.0022, dz=0.0012
        )
        out[f"mouthFrown{side}"] = _translate(corner, dx=sgn * 0.0005, dy=-0.0055, dz=-0.0005)
        out[f"mouthDimple{side}"] = _translate(corner, dx=sgn * 0.0015, dy=0.0005, dz=-0.0038)
        out[f"mouthStretch{side}"] = _translate(wide_corner, dx=sgn * 0.0058, dy=-0.0016, dz=-0.0020)
        # One side of one lip.
        half = s * (1.0 - 0.6 * f.side[opposite])
        out[f"mouthLowerDown{side}"] = _translate(f.lower_lip * half, dy=-0.0048, dz=0.0008)
        out[f"mouthUpperUp{side}"] = _translate(f.upper_lip * half, dy=0.0045, dz=0.0005)
        out[f"mouthPress{side}"] = _translate(f.upper_lip * half, dy=-0.0008, dz=-0.0012) + _translate(
            f.lower_lip * half, dy=0.0008, dz=-0.0012
        )
        out[f"mouth{side}"] = _translate(f.mouth_area, dx=sgn * 0.0075, dz=-0.0010)

    inner = np.exp(-(((np.abs(f.x) - 0.013) / 0.013) ** 2))
    brow_line = hm.BROW_Y + 0.0035
    brow_band = np.exp(-(((f.y - brow_line) / 0.012) ** 2)) * smoothstep(0.001, 0.012, f.y) * f.skin
    out["browInnerUp"] = _translate(brow_band * inner, dy=0.0080, dz=0.0004)
    # Out and a little forward, not along the normals: those turn inward where the lips roll in.
    outward = np.stack([np.sign(f.x) * 0.85, np.full_like(f.x, -0.1), np.full_like(f.x, 0.5)], axis=1)
    puff = _gauss(np.abs(f.x), f.y, 0.042, -0.042, 0.018, 0.018) * f.skin * (f.part == hm.SKIN)
    out["cheekPuff"] = puff[:, None] * outward / np.linalg.norm(outward[0]) * 0.0120
    # Whole-lip shapes.
    out["mouthPucker"] = np.stack([-0.35 * f.x * f.lips, np.zeros_like(f.x), 0.0070 * f.lips], axis=1)
    gap = np.clip(1.0 - (f.x / hm.MOUTH_HALF_WIDTH) ** 2, 0.0, None)
    out["mouthFunnel"] = np.stack(
        [
            -0.18 * f.x * f.lips,
            (0.0026 * f.upper_lip - 0.0032 * f.lower_lip) * gap,
            0.0050 * f.lips,
        ],
        axis=1,
    )
    out["mouthRollLower"] = _translate(f.lower_lip, dy=0.0016, dz=-0.0035)
    out["mouthRollUpper"] = _translate(f.upper_lip, dy=-0.0012, dz=-0.0030)
    chin = _gauss(f.x, f.y, 0.0, -0.068, 0.022, 0.016) * f.skin
    out["mouthShrugLower"] = _translate(np.maximum(f.lower_lip, chin), dy=0.0030, dz=0.0025)
    out["mouthShrugUpper"] = _translate(f.upper_lip, dy=0.0022, dz=0.0020)
    # Tongue: slides out past the lips, its tip travelling furthest.
    tongue = f.part == hm.TONGUE
    reach = smoothstep(0.050, 0.088, f.z) * tongue
    out["tongueOut"] = _translate(0.4 * tongue + 0.6 * reach, dy=-0.0030, dz=0.030) + _translate(
        f.lower_lip, dy=-0.0020
    )
    return out


def build_shape_deltas(vertices, part) -> np.ndarray:
    """Neutral head (vertices [V, 3], part labels [V]) -> [52, V, 3] deltas in ARKit order."""
    shapes = _shapes(_Face(np.asarray(vertices, np.float64), np.asarray(part)))
    missing = set(ARKIT_NAMES) - set(shapes)
    assert not missing, f"shapes without a definition: {sorted(missing)}"
    return np.stack([shapes[name] for name in ARKIT_NAMES])
