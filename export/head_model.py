"""The bundled blendshape head: neutral mesh + 52 ARKit shape deltas, built by code, cached.

`build_head()` is deterministic. Building takes a few seconds, so the result is kept in
memory and in a small on-disk cache (`$VOICEEMO_CACHE`, else `~/.cache/voiceemo`) keyed
by a hash of the modelling code; editing `head_mesh.py` or `head_shapes.py` rebuilds it.
Nothing generated is committed to the repository.

A `HeadModel` is also what a user's GLB head becomes (see `export.gltf.read_head_glb`),
so renderers take either.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from pathlib import Path

import numpy as np

from voiceemo_jax.arkit import ARKIT_NAMES
from voiceemo_jax.atomic_files import atomic_path

_SOURCES = ("head_mesh.py", "head_shapes.py", "head_model.py")


@dataclasses.dataclass(frozen=True)
class HeadModel:
    """A blendshape mesh.

    vertices: [V, 3] float32 metres (y up, face towards +z); faces: [F, 3] int32;
    colors: [V, 4] uint8 RGBA or None; names: shape names, one per delta;
    deltas: [S, V, 3] float32 offsets at weight 1; part: [V] int8 labels or None.
    """

    vertices: np.ndarray
    faces: np.ndarray
    colors: np.ndarray | None
    names: tuple[str, ...]
    deltas: np.ndarray
    part: np.ndarray | None = None

    def pose(self, weights) -> np.ndarray:
        """weights: [S] (or [T, S]) -> vertices [V, 3] (or [T, V, 3]) float32."""
        weights = np.asarray(weights, dtype=np.float32)
        flat = self.deltas.reshape(len(self.names), -1)
        posed = self.vertices.reshape(-1) + weights @ flat
        return posed.reshape(*weights.shape[:-1], -1, 3)

    def arkit_weights(self, coefficients) -> np.ndarray:
        """[T, 52] ARKit coefficients -> [T, S] weights for this head's shapes (by name)."""
        index = {name: i for i, name in enumerate(ARKIT_NAMES)}
        coefficients = np.asarray(coefficients, dtype=np.float32)
        weights = np.zeros((len(coefficients), len(self.names)), np.float32)
        for j, name in enumerate(self.names):
            if name in index:
                weights[:, j] = coefficients[:, index[name]]
        return weights

    def shape(self, name: str) -> np.ndarray:
        """[V, 3] delta of one named shape."""
        return self.deltas[self.names.index(name)]

    @property
    def shapes(self) -> dict[str, np.ndarray]:
        """Shape name -> [V, 3] delta, in the head's order."""
        return dict(zip(self.names, self.deltas, strict=True))

    def to_trimesh(self, weights=None):
        """The mesh posed with `weights` ([S] per shape, default neutral) as a trimesh.Trimesh."""
        import trimesh

        vertices = self.vertices if weights is None else self.pose(weights)
        return trimesh.Trimesh(vertices, self.faces, vertex_colors=self.colors, process=False)

    @property
    def mesh(self):
        """The neutral mesh as a trimesh.Trimesh (vertex colours included)."""
        return self.to_trimesh()


def _source_hash() -> str:
    digest = hashlib.sha256()
    here = Path(__file__).parent
    for name in _SOURCES:
        digest.update((here / name).read_bytes())
    return digest.hexdigest()[:16]


def _cache_dir() -> Path:
    from voiceemo_jax.inference.compile_cache import user_cache_dir

    return user_cache_dir()


def _generate() -> HeadModel:
    from export.head_mesh import build_neutral_head
    from export.head_shapes import build_shape_deltas

    neutral = build_neutral_head()
    deltas = build_shape_deltas(neutral.vertices, neutral.part)
    return HeadModel(
        vertices=neutral.vertices.astype(np.float32),
        faces=neutral.faces.astype(np.int32),
        colors=neutral.colors,
        names=tuple(ARKIT_NAMES),
        deltas=deltas.astype(np.float32),
        part=neutral.part,
    )


@functools.lru_cache(maxsize=1)
def build_head() -> HeadModel:
    """The bundled head with its 52 ARKit shapes (about 9k vertices), in ARKit order."""
    path = _cache_dir() / f"bundled_head-{_source_hash()}.npz"
    if path.exists():
        try:
            with np.load(path) as data:
                return HeadModel(
                    vertices=data["vertices"],
                    faces=data["faces"],
                    colors=data["colors"],
                    names=tuple(ARKIT_NAMES),
                    deltas=data["deltas"],
                    part=data["part"],
                )
        except (OSError, KeyError, ValueError):
            pass  # a damaged cache entry is rebuilt below
    head = _generate()
    try:
        with atomic_path(path) as tmp:
            arrays = {"vertices": head.vertices, "faces": head.faces, "colors": head.colors, "part": head.part}
            with open(tmp, "wb") as f:
                np.savez(f, deltas=head.deltas, **arrays)
    except OSError:
        pass  # a read-only home only costs the rebuild next time
    return head
