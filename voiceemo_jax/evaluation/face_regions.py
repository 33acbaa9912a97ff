"""Vertex regions for the vertex metrics (LVE, EVE, FDD): index files and rig-derived regions.

Three regions, named as the metrics use them:
    lip         LVE's lip vertices
    eye         EVE's "emotional" vertices: eyes and forehead
    upper_face  FDD's upper-face vertices

For VOCASET the regions come from the user (FLAME's region masks are not ours to ship):
index files as FaceFormer distributes them (`lve.txt`: "12, 57, ...") or as .npy/.json.
For blendshape outputs the metrics run on a rig's vertices, and the regions are derived
from the rig's own shapes, so any ARKit rig works without hand-made masks: a vertex is in
a region when some shape of the region's family moves it by at least
`RIG_REGION_THRESHOLD` of the largest displacement any shape of that family produces.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from voiceemo_jax.errors import UserError

REGIONS = ("lip", "eye", "upper_face")

# ARKit name prefixes whose shapes define each region on a rig. jaw* is left out of
# "lip": jawOpen swings the whole chin, and FLAME's lip mask is the lips alone.
# upper_face follows CodeTalker's FDD mask (eye region + forehead + nose).
RIG_REGION_SHAPES = {
    "lip": ("mouth",),
    "eye": ("eye", "brow"),
    "upper_face": ("eye", "brow", "nose"),
}
# Fraction of the family's largest displacement a vertex must reach. 0.3 keeps the
# lips and their immediate surround on the bundled head (~1k of 12.6k vertices) and
# drops the cheeks a smile drags along by a few tenths of a millimetre.
RIG_REGION_THRESHOLD = 0.3


def rig_region(
    deltas: np.ndarray, names: Sequence[str], prefixes: Sequence[str], threshold: float = RIG_REGION_THRESHOLD
) -> np.ndarray:
    """Vertices that the shapes named `prefixes*` move by >= threshold x their largest movement.

    deltas: [S, V, 3] shape offsets at weight 1; names: [S] shape names. -> [R] sorted int64.
    Raises ValueError if the rig has no shape of that family or none moves anything.
    """
    deltas = np.asarray(deltas)
    chosen = [i for i, name in enumerate(names) if name.startswith(tuple(prefixes))]
    if not chosen:
        raise ValueError(f"the rig has no shape named {'/'.join(p + '*' for p in prefixes)}")
    movement = np.linalg.norm(deltas[chosen], axis=-1).max(axis=0)  # [V]
    largest = float(movement.max())
    if largest <= 0.0:
        raise ValueError(f"the rig's {'/'.join(p + '*' for p in prefixes)} shapes move no vertex")
    return np.flatnonzero(movement >= threshold * largest).astype(np.int64)


def rig_regions(deltas: np.ndarray, names: Sequence[str]) -> dict[str, np.ndarray]:
    """All three regions of a rig ([S, V, 3] deltas, [S] names); a region the rig cannot define is left out."""
    regions = {}
    for region, prefixes in RIG_REGION_SHAPES.items():
        try:
            regions[region] = rig_region(deltas, names, prefixes)
        except ValueError:
            continue
    return regions


def read_index_file(path: str | os.PathLike, num_vertices: int, flag: str) -> np.ndarray:
    """A vertex index file -> [R] sorted unique int64 indices in [0, num_vertices).

    Accepted: .npy (1-d integer indices, or a boolean mask of length num_vertices), .json
    (a list of integers), anything else as text with integers separated by commas and/or
    whitespace (FaceFormer's `lve.txt`). `flag` names the option in error messages.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{flag} {path}: no such file")
    try:
        if path.suffix.lower() == ".npy":
            values = np.load(path, allow_pickle=False)
            if values.dtype == bool:
                if values.shape != (num_vertices,):
                    raise UserError(
                        f"{flag} {path}: a boolean mask must have {num_vertices} entries, has {values.size}"
                    )
                values = np.flatnonzero(values)
        elif path.suffix.lower() == ".json":
            values = np.asarray(json.loads(path.read_text()))
        else:
            text = path.read_text().replace(",", " ").split()
            values = np.asarray([int(token) for token in text])
    except UserError:
        raise
    except (ValueError, OSError, json.JSONDecodeError) as error:
        raise UserError(f"{flag} {path}: not a vertex index file ({error})") from None
    values = np.asarray(values)
    if values.ndim != 1 or values.size == 0 or values.dtype.kind not in "iu":
        raise UserError(f"{flag} {path}: expected a non-empty list of integer vertex indices")
    if values.min() < 0 or values.max() >= num_vertices:
        raise UserError(
            f"{flag} {path}: indices {int(values.min())}..{int(values.max())} do not fit a mesh of "
            f"{num_vertices} vertices"
        )
    return np.unique(values.astype(np.int64))
