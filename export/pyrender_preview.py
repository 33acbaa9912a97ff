"""Offscreen preview frames with trimesh + pyrender (the default `voiceemo render` engine).

pyrender needs an OpenGL context without a display. EGL (Mesa's libEGL with the llvmpipe
software rasteriser on machines without a GPU; Debian packages libegl1, libegl-mesa0 and
libgl1-mesa-dri) is chosen unless the user set PYOPENGL_PLATFORM; OSMesa would need a
newer PyOpenGL than pyrender 0.1.45 allows.

The camera looks at the face from the front (+z), framing the mesh's bounding box (or,
for the bundled head, the head without most of the neck) in a portrait image. Three
directional lights (key, fill, rim) plus ambient light give a neutral studio look.
"""

from __future__ import annotations

import os

import numpy as np

from voiceemo_jax.errors import UserError

BACKGROUND = (0.16, 0.17, 0.20, 1.0)
SKIN_RGBA = (222, 176, 150, 255)  # used when a mesh has no vertex colours
# (direction the light travels *from*, intensity): key light up-left, fill right, rim from behind.
LIGHTS = (((-0.5, 0.6, 1.0), 2.6), ((0.7, 0.1, 0.6), 1.0), ((0.0, 0.5, -1.0), 1.0))


def _look_from(direction) -> np.ndarray:
    """4x4 pose whose -z axis points against `direction` (pyrender lights and cameras look down -z)."""
    z = np.asarray(direction, np.float64)
    z /= np.linalg.norm(z)
    x = np.cross([0.0, 1.0, 0.0], z)
    x /= np.linalg.norm(x)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2] = x, np.cross(z, x), z
    return pose


def frame_box(vertices: np.ndarray, part=None) -> tuple[np.ndarray, np.ndarray]:
    """(min, max) corners to frame: the whole mesh, or for the bundled head all but the neck."""
    if part is not None:
        from export.head_mesh import NECK

        vertices = vertices[part != NECK]
        low, high = vertices.min(axis=0), vertices.max(axis=0)
        low[1] -= 0.03  # keep a little neck below the chin
        return low, high
    return vertices.min(axis=0), vertices.max(axis=0)


def camera_for_box(box, size, yfov_degrees: float = 24.0) -> tuple[np.ndarray, float]:
    """Camera looking along -z at the box: (position [3] (y-up), vertical field of view in radians).

    The distance fits the box plus a 12% margin both vertically and horizontally, measured
    from the box's front face. Both engines use this camera, so their frames line up.
    """
    low, high = (np.asarray(c, np.float64) for c in box)
    width, height = size
    centre = 0.5 * (low + high)
    yfov = np.deg2rad(yfov_degrees)
    half_height = 0.56 * max(high[1] - low[1], (high[0] - low[0]) * height / width)
    distance = half_height / np.tan(yfov / 2) + high[2] - centre[2]
    return np.array([centre[0], centre[1], centre[2] + distance]), float(yfov)


def project(points, box, size) -> np.ndarray:
    """[N, 3] y-up points -> [N, 2] (column, row) pixel positions in frames rendered for `box`."""
    position, yfov = camera_for_box(box, size)
    width, height = size
    relative = np.asarray(points, np.float64) - position
    focal = (height / 2) / np.tan(yfov / 2)
    depth = -relative[:, 2]
    return np.stack([width / 2 + focal * relative[:, 0] / depth, height / 2 - focal * relative[:, 1] / depth], axis=1)


class PreviewRenderer:
    """Renders posed vertices of one mesh topology to RGB frames.

    faces: [F, 3] int; colors: [V, 4] uint8 or None; size: (width, height) pixels;
    box: (min, max) corners of the region to keep in view.
    """

    def __init__(self, faces, colors, size, box):
        os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
        try:
            import pyrender
        except Exception as error:  # ImportError, or OpenGL failing to find libEGL
            raise UserError(f"pyrender is not usable here ({error}); install it or use --engine blender") from None
        self._pyrender = pyrender
        self.faces = np.asarray(faces)
        self.colors = colors
        self.width, self.height = size
        self.scene = pyrender.Scene(bg_color=BACKGROUND, ambient_light=(0.35, 0.35, 0.35))
        position, yfov = camera_for_box(box, size)
        camera_pose = np.eye(4)
        camera_pose[:3, 3] = position
        camera = pyrender.PerspectiveCamera(yfov=yfov, aspectRatio=self.width / self.height, znear=0.01, zfar=10.0)
        self.scene.add(camera, pose=camera_pose)
        for direction, intensity in LIGHTS:
            self.scene.add(pyrender.DirectionalLight(intensity=intensity), pose=_look_from(direction))
        try:
            self.renderer = pyrender.OffscreenRenderer(self.width, self.height)
        except Exception as error:
            raise UserError(
                f"cannot open an offscreen OpenGL context ({type(error).__name__}: {error}); install the EGL "
                "packages (libegl1 libegl-mesa0 libgl1-mesa-dri) or use --engine blender"
            ) from None
        self.node = None

    def render(self, vertices) -> np.ndarray:
        """vertices: [V, 3] -> [height, width, 3] uint8 RGB."""
        import trimesh

        colors = self.colors if self.colors is not None else np.tile(SKIN_RGBA, (len(vertices), 1))
        mesh = trimesh.Trimesh(np.asarray(vertices), self.faces, vertex_colors=colors, process=False)
        if self.node is not None:
            self.scene.remove_node(self.node)
        self.node = self.scene.add(self._pyrender.Mesh.from_trimesh(mesh, smooth=True))
        color, _ = self.renderer.render(self.scene)
        return np.ascontiguousarray(color[:, :, :3])

    def close(self) -> None:
        self.renderer.delete()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
