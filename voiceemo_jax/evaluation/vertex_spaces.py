"""Where LVE / EVE / FDD are measured: a rig's vertices (blendshape datasets) or the dataset's own.

    space = rig_space(rig=None, region_files={"lip": None, ...})   # the bundled head
    space.displacement(outputs [T, 52], "lip")  -> [T, R, 3]

Regions come from the rig's own shapes (`face_regions.rig_regions`) and, where given, the
user's index files (`face_regions.read_index_file`), which replace them.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any, TypeAlias

import numpy as np

from voiceemo_jax.errors import UserError
from voiceemo_jax.evaluation import face_regions

# The command-line flag that names each region's index file (for error messages).
REGION_FLAGS = {"lip": "--lip-mask", "eye": "--eye-mask", "upper_face": "--upper-face-mask"}
# Region name ("lip", "eye", "upper_face") -> the user's index file, or None.
RegionFiles: TypeAlias = "Mapping[str, str | os.PathLike | None]"


@dataclasses.dataclass
class VertexSpace:
    """Vertices and regions the vertex metrics are measured on.

    `displacement(outputs, region)`: outputs [T, D] -> [T, R, 3] displacement of the
    region's vertices from the neutral/template mesh (a shared template cancels in every
    metric, so displacements are all the metrics need).
    """

    description: str
    num_vertices: int
    regions: dict[str, np.ndarray]
    region_sources: dict[str, str]
    # Rigs: region -> [S, R * 3] shape deltas, and the coefficient -> shape-weight map.
    bases: dict[str, np.ndarray] | None = None
    weights_fn: Any = None
    missing_shapes: tuple[str, ...] = ()

    def displacement(self, outputs: np.ndarray, region: str) -> np.ndarray:
        indices = self.regions[region]
        if self.bases is None:
            return outputs.reshape(len(outputs), self.num_vertices, 3)[:, indices]
        return (self.weights_fn(outputs) @ self.bases[region]).reshape(len(outputs), len(indices), 3)


def user_regions(region_files: RegionFiles, num_vertices: int) -> dict[str, tuple[np.ndarray, str]]:
    """region -> (vertex indices [R], source) for every region the user gave an index file for."""
    return {
        region: (face_regions.read_index_file(path, num_vertices, REGION_FLAGS[region]), str(path))
        for region, path in region_files.items()
        if path is not None
    }


def rig_space(rig: str | os.PathLike | None, region_files: RegionFiles) -> VertexSpace:
    """The rig the blendshape metrics pose: `rig` (.glb/.gltf) or the bundled head, with its regions."""
    if rig is None:
        from export.head_model import build_head

        head, missing, description = build_head(), (), "bundled procedural ARKit head"
    else:
        from export.gltf import read_head

        head, missing = read_head(rig)
        description = f"rig {rig}"
    num_vertices = len(head.vertices)
    regions = {name: (indices, "derived from the rig's shapes") for name, indices in
               face_regions.rig_regions(head.deltas, head.names).items()}  # fmt: skip
    regions.update(user_regions(region_files, num_vertices))
    flat = head.deltas.reshape(len(head.names), num_vertices, 3)
    return VertexSpace(
        description=f"{description} ({num_vertices} vertices, {len(head.names)} shapes)",
        num_vertices=num_vertices,
        regions={name: indices for name, (indices, _) in regions.items()},
        region_sources={name: source for name, (_, source) in regions.items()},
        bases={name: flat[:, indices].reshape(len(head.names), -1) for name, (indices, _) in regions.items()},
        weights_fn=head.arkit_weights,
        missing_shapes=tuple(missing),
    )


def offset_space(rig: str | os.PathLike | None, region_files: RegionFiles, target_dim: int) -> VertexSpace:
    """The dataset's own vertices (targets are [T, V * 3] offsets), regions from the user's files."""
    if rig is not None:
        raise UserError("--rig applies to blendshape datasets; this dataset's targets are vertex offsets")
    num_vertices = target_dim // 3
    regions = user_regions(region_files, num_vertices)
    return VertexSpace(
        description=f"dataset vertices ({num_vertices})",
        num_vertices=num_vertices,
        regions={name: indices for name, (indices, _) in regions.items()},
        region_sources={name: source for name, (_, source) in regions.items()},
    )
