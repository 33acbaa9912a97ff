"""glTF 2.0 / GLB export: a morph-target animation on the bundled head or on a user's head.

The animation is one `weights` channel per animated node, sampled with LINEAR
interpolation at one key per frame (t = i / 30 s). Morph targets are identified by name
through `mesh.extras.targetNames`, the convention Blender, three.js, Babylon.js and
Unreal's importer share.

On a user's file, each ARKit name is looked up among the target names in the common
naming conventions (`export/target_names.py`: ARKit ignoring case, Face Cap `browDown_L`,
`Left`/`Right` words, snake_case, Maya-style `blendShape1.jawOpen` prefixes), or through an
explicit name map. ARKit names with no target, and targets no ARKit name drives, are
reported back, never guessed from look-alikes; targets that are not ARKit shapes keep their
mesh default weight. The user's scene, materials and existing animations are kept.

Weights are clamped to ARKit's [0, 1] unless `clamp=False`; the animation's `extras`
records which (`{"clamped": true}`).

Output: `.glb` is binary glTF; `.gltf` is JSON with the buffer embedded as a data URI,
so either is a single self-contained file.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pygltflib

from export.formats import clamp_weights
from export.head_model import HeadModel
from export.target_names import match_targets, unmatched_targets
from voiceemo_jax.arkit import ARKIT_NAMES
from voiceemo_jax.atomic_files import atomic_path
from voiceemo_jax.errors import UserError
from voiceemo_jax.timebase import FPS

ANIMATION_NAME = "voiceemo"

_COMPONENTS = {
    pygltflib.BYTE: np.int8,
    pygltflib.UNSIGNED_BYTE: np.uint8,
    pygltflib.SHORT: np.int16,
    pygltflib.UNSIGNED_SHORT: np.uint16,
    pygltflib.UNSIGNED_INT: np.uint32,
    pygltflib.FLOAT: np.float32,
}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}


@dataclasses.dataclass(frozen=True)
class GltfReport:
    """What an export animated: ARKit names found on the head, those it lacks, and the head's
    morph targets that no ARKit name drives."""

    path: Path
    matched: tuple[str, ...]
    missing: tuple[str, ...]
    frames: int
    unmatched_targets: tuple[str, ...] = ()


class _Blob:
    """Appends aligned byte chunks to a single glTF buffer and records their views and accessors."""

    def __init__(self, gltf: pygltflib.GLTF2, data: bytes = b""):
        self.gltf, self.data = gltf, bytearray(data)

    def accessor(self, array: np.ndarray, kind: str, target: int | None = None, bounds=False, normalized=False) -> int:
        array = np.ascontiguousarray(array)
        component = {np.dtype(v): k for k, v in _COMPONENTS.items()}[array.dtype]
        self.data += b"\0" * (-len(self.data) % 4)  # accessors must start 4-byte aligned
        view = pygltflib.BufferView(buffer=0, byteOffset=len(self.data), byteLength=array.nbytes, target=target)
        self.data += array.tobytes()
        self.gltf.bufferViews.append(view)
        flat = array.reshape(len(array), -1)
        accessor = pygltflib.Accessor(
            bufferView=len(self.gltf.bufferViews) - 1,
            componentType=component,
            count=len(array),
            type=kind,
            normalized=normalized or None,
            # POSITION accessors (morph targets too) and animation inputs must carry bounds.
            min=flat.min(axis=0).tolist() if bounds else None,
            max=flat.max(axis=0).tolist() if bounds else None,
        )
        self.gltf.accessors.append(accessor)
        return len(self.gltf.accessors) - 1

    def sparse_accessor(self, array: np.ndarray, target: int | None = None) -> int:
        """A float32 VEC3 accessor stored sparsely: zero rows are implicit.

        Each shape moves a small part of the head, so this shrinks a 52-target file ~5x;
        the rows kept are those with any component above 1e-7 m (a tenth of a micron).
        """
        array = np.ascontiguousarray(array, dtype=np.float32)
        rows = np.flatnonzero(np.abs(array).max(axis=1) > 1e-7).astype(np.uint32)
        if len(rows) == 0:
            rows = np.zeros(1, np.uint32)  # glTF needs at least one sparse entry
        kept = array.copy()
        kept[np.setdiff1d(np.arange(len(array)), rows)] = 0.0
        views = []
        for chunk in (rows, kept[rows]):
            self.data += b"\0" * (-len(self.data) % 4)
            views.append(len(self.gltf.bufferViews))
            self.gltf.bufferViews.append(
                pygltflib.BufferView(buffer=0, byteOffset=len(self.data), byteLength=chunk.nbytes)
            )
            self.data += chunk.tobytes()
        sparse = pygltflib.Sparse(
            count=len(rows),
            indices=pygltflib.AccessorSparseIndices(bufferView=views[0], componentType=pygltflib.UNSIGNED_INT),
            values=pygltflib.AccessorSparseValues(bufferView=views[1]),
        )
        self.gltf.accessors.append(
            pygltflib.Accessor(
                # No bufferView, so no byteOffset either (pygltflib defaults it to 0, which the
                # glTF schema forbids without a bufferView).
                byteOffset=None,
                componentType=pygltflib.FLOAT,
                count=len(array),
                type="VEC3",
                sparse=sparse,
                min=kept.min(axis=0).tolist(),
                max=kept.max(axis=0).tolist(),
            )
        )
        return len(self.gltf.accessors) - 1

    def finish(self) -> None:
        self.data += b"\0" * (-len(self.data) % 4)
        if self.gltf.buffers:
            self.gltf.buffers[0].byteLength = len(self.data)
            self.gltf.buffers[0].uri = None
        else:
            self.gltf.buffers.append(pygltflib.Buffer(byteLength=len(self.data)))
        self.gltf.set_binary_blob(bytes(self.data))


def _vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    tri = vertices[faces]
    face_normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(normals, faces[:, k], face_normals)
    return (normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def head_to_gltf(head: HeadModel, node_name: str = "face") -> tuple[pygltflib.GLTF2, _Blob]:
    """A glTF scene holding `head` as one mesh with a morph target per shape (no animation yet)."""
    gltf = pygltflib.GLTF2(asset=pygltflib.Asset(generator="VoiceEmo-JAX export", version="2.0"))
    blob = _Blob(gltf)
    attributes = pygltflib.Attributes(
        POSITION=blob.accessor(head.vertices.astype(np.float32), "VEC3", pygltflib.ARRAY_BUFFER, bounds=True),
        NORMAL=blob.accessor(_vertex_normals(head.vertices, head.faces), "VEC3", pygltflib.ARRAY_BUFFER),
    )
    if head.colors is not None:
        attributes.COLOR_0 = blob.accessor(
            head.colors.astype(np.uint8), "VEC4", pygltflib.ARRAY_BUFFER, normalized=True
        )
    indices = blob.accessor(head.faces.astype(np.uint32).reshape(-1), "SCALAR", pygltflib.ELEMENT_ARRAY_BUFFER)
    targets = [{"POSITION": blob.sparse_accessor(delta)} for delta in head.deltas]
    material = pygltflib.Material(
        name="skin",
        pbrMetallicRoughness=pygltflib.PbrMetallicRoughness(
            baseColorFactor=[1.0, 1.0, 1.0, 1.0], metallicFactor=0.0, roughnessFactor=0.6
        ),
    )
    gltf.materials.append(material)
    primitive = pygltflib.Primitive(attributes=attributes, indices=indices, material=0, targets=targets)
    gltf.meshes.append(
        pygltflib.Mesh(
            name=node_name,
            primitives=[primitive],
            weights=[0.0] * len(head.names),
            extras={"targetNames": list(head.names)},
        )
    )
    gltf.nodes.append(pygltflib.Node(name=node_name, mesh=0))
    gltf.scenes.append(pygltflib.Scene(name="voiceemo", nodes=[0]))
    gltf.scene = 0
    return gltf, blob


def target_names(gltf: pygltflib.GLTF2, mesh: pygltflib.Mesh) -> list[str]:
    """A mesh's morph target names (mesh.extras.targetNames, else its first primitive's extras)."""
    for extras in (mesh.extras, mesh.primitives[0].extras if mesh.primitives else None):
        if isinstance(extras, dict) and isinstance(extras.get("targetNames"), list):
            return [str(name) for name in extras["targetNames"]]
    return []


def _load_user_gltf(path: Path) -> pygltflib.GLTF2:
    if not path.is_file():
        raise UserError(f"{path}: no such head file")
    if path.suffix.lower() not in (".glb", ".gltf"):
        raise UserError(f"{path}: the head must be a .glb or .gltf file")
    try:
        gltf = pygltflib.GLTF2().load(str(path))
        if gltf is None:
            raise ValueError("not glTF")
        # Gather every buffer (external .bin, data URI or GLB chunk) into the binary blob.
        gltf.convert_buffers(pygltflib.BufferFormat.BINARYBLOB)
        for accessor in gltf.accessors:
            if accessor.bufferView is None:  # pygltflib fills in byteOffset=0, invalid without a bufferView
                accessor.byteOffset = None
    except UserError:
        raise
    except Exception as error:  # pygltflib raises assorted types on malformed files
        raise UserError(f"{path}: cannot read the glTF file ({error})") from None
    if len(gltf.buffers) > 1:
        raise UserError(f"{path}: files with {len(gltf.buffers)} buffers are not supported; re-export as one .glb")
    return gltf


def match_arkit_names(names: list[str], name_map: dict[str, str] | None = None) -> dict[str, int]:
    """ARKit name -> index into `names` for every ARKit shape present (see `export/target_names.py`)."""
    return match_targets(ARKIT_NAMES, names, name_map)


def load_name_map(path: str | os.PathLike | None) -> dict[str, str] | None:
    """`--name-map FILE.json` ({"jawOpen": "Mouth_Open", ...}: ARKit name -> target name) -> dict."""
    from export.target_names import parse_name_map

    if path is None:
        return None
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise UserError(f"--name-map {path}: {error.strerror}") from None
    try:
        return parse_name_map(text, ARKIT_NAMES, source=f"--name-map {path}")
    except ValueError as error:
        raise UserError(str(error)) from None


def _animate(
    gltf: pygltflib.GLTF2,
    blob: _Blob,
    coefficients: np.ndarray,
    fps: int,
    name_map: dict[str, str] | None,
    clamped: bool,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Adds the weights animation to every node whose mesh has ARKit targets; returns (the ARKit
    names matched, the animated meshes' targets left undriven)."""
    times = np.arange(len(coefficients), dtype=np.float32) / np.float32(fps)
    time_accessor = None
    samplers, channels, matched, undriven, seen_meshes = [], [], set(), [], set()
    for node_index, node in enumerate(gltf.nodes):
        if node.mesh is None:
            continue
        mesh = gltf.meshes[node.mesh]
        names = target_names(gltf, mesh)
        found = match_arkit_names(names, name_map)
        if not found:
            continue
        matched |= set(found)
        if node.mesh not in seen_meshes:
            seen_meshes.add(node.mesh)
            undriven += [name for name in unmatched_targets(names, found) if name not in undriven]
        defaults = np.asarray(mesh.weights or [0.0] * len(names), dtype=np.float32)
        weights = np.tile(defaults, (len(coefficients), 1))
        for arkit, target in found.items():
            weights[:, target] = coefficients[:, ARKIT_NAMES.index(arkit)]
        if time_accessor is None:
            time_accessor = blob.accessor(times, "SCALAR", bounds=True)
        samplers.append(
            pygltflib.AnimationSampler(
                input=time_accessor, output=blob.accessor(weights.reshape(-1), "SCALAR"), interpolation="LINEAR"
            )
        )
        channels.append(
            pygltflib.AnimationChannel(
                sampler=len(samplers) - 1, target=pygltflib.AnimationChannelTarget(node=node_index, path="weights")
            )
        )
    if channels:
        gltf.animations.append(
            pygltflib.Animation(
                name=ANIMATION_NAME, samplers=samplers, channels=channels, extras={"clamped": bool(clamped)}
            )
        )
    return tuple(name for name in ARKIT_NAMES if name in matched), tuple(undriven)


def write_gltf_animation(
    coefficients,
    out_path: str | os.PathLike,
    head=None,
    fps: int = FPS,
    binary: bool | None = None,
    strict: bool = False,
    clamp: bool = True,
    name_map: dict[str, str] | None = None,
) -> GltfReport:
    """Writes [T, 52] ARKit coefficients as a morph-target animation to `out_path`.

    head: None for the bundled head, a path to the user's .glb/.gltf, or a `HeadModel`.
    binary: GLB (True) or .gltf JSON (False); None decides by the suffix (.glb / .gltf).
    clamp: weights clipped to [0, 1] (ARKit's range); False keeps the raw values.
    name_map: ARKit name -> the head's target name, tried before the naming conventions.
    Raises UserError when the head has no ARKit-named morph targets at all, or (strict) lacks
    any; otherwise the names it lacks are listed in the returned report's `missing`.
    """
    from export.head_model import build_head

    coefficients = np.asarray(coefficients, dtype=np.float32)
    if coefficients.ndim != 2 or coefficients.shape[1] != len(ARKIT_NAMES) or len(coefficients) == 0:
        raise UserError(f"expected [frames, 52] ARKit coefficients, got shape {list(coefficients.shape)}")
    coefficients = clamp_weights(coefficients, clamp)
    out_path = Path(out_path)
    if binary is None:
        if out_path.suffix.lower() not in (".glb", ".gltf"):
            raise UserError(f"{out_path}: glTF output must end in .glb or .gltf")
        binary = out_path.suffix.lower() == ".glb"
    if head is None or isinstance(head, HeadModel):
        gltf, blob = head_to_gltf(build_head() if head is None else head)
        source = "the bundled head"
    else:
        source = str(head)
        gltf = _load_user_gltf(Path(head))
        blob = _Blob(gltf, gltf.binary_blob() or b"")
    matched, undriven = _animate(gltf, blob, coefficients, fps, name_map, clamp)
    if not matched:
        raise UserError(
            f"{source}: no morph target carries an ARKit blendshape name in a known convention (e.g. jawOpen, "
            "jaw_open, eyeBlink_L); map the names with --name-map FILE.json"
        )
    missing = tuple(name for name in ARKIT_NAMES if name not in matched)
    if strict and missing:
        raise UserError(f"{source}: lacks {len(missing)} of 52 ARKit morph targets: {' '.join(missing)}")
    blob.finish()
    with atomic_path(out_path) as tmp:
        if binary:
            gltf.save_binary(str(tmp))
        else:
            gltf.convert_buffers(pygltflib.BufferFormat.DATAURI)
            gltf.save_json(str(tmp))
    return GltfReport(
        path=out_path, matched=matched, missing=missing, frames=len(coefficients), unmatched_targets=undriven
    )


def read_accessor(gltf: pygltflib.GLTF2, index: int) -> np.ndarray:
    """Accessor -> numpy array [count, width] (float32 if normalized), honouring strides and sparse data."""
    accessor = gltf.accessors[index]
    dtype = np.dtype(_COMPONENTS[accessor.componentType])
    width = _WIDTH[accessor.type]
    out = np.zeros((accessor.count, width), dtype)
    blob = gltf.binary_blob()
    if accessor.bufferView is not None:
        view = gltf.bufferViews[accessor.bufferView]
        start = (view.byteOffset or 0) + (accessor.byteOffset or 0)
        stride = view.byteStride or dtype.itemsize * width
        raw = np.frombuffer(blob, np.uint8, count=stride * (accessor.count - 1) + dtype.itemsize * width, offset=start)
        rows = np.lib.stride_tricks.as_strided(raw, (accessor.count, dtype.itemsize * width), (stride, 1))
        out = np.ascontiguousarray(rows).view(dtype).reshape(accessor.count, width).copy()
    if accessor.sparse is not None:
        sparse = accessor.sparse
        index_view = gltf.bufferViews[sparse.indices.bufferView]
        index_dtype = np.dtype(_COMPONENTS[sparse.indices.componentType])
        idx = np.frombuffer(
            blob, index_dtype, sparse.count, (index_view.byteOffset or 0) + (sparse.indices.byteOffset or 0)
        )
        value_view = gltf.bufferViews[sparse.values.bufferView]
        values = np.frombuffer(
            blob, dtype, sparse.count * width, (value_view.byteOffset or 0) + (sparse.values.byteOffset or 0)
        )
        out[idx.astype(np.int64)] = values.reshape(sparse.count, width)
    if accessor.normalized and dtype != np.float32:
        out = out.astype(np.float32) / np.iinfo(dtype).max
    return out


def _target_position(primitive: pygltflib.Primitive, j: int) -> int:
    target = primitive.targets[j]
    return target["POSITION"] if isinstance(target, dict) else target.POSITION


def read_head(path: str | os.PathLike, name_map: dict[str, str] | None = None) -> tuple[HeadModel, tuple[str, ...]]:
    """A user's .glb/.gltf head -> (HeadModel with its ARKit targets, ARKit names it lacks).

    Targets are matched as in `write_gltf_animation` (`name_map` first, then the naming conventions).
    Takes the first mesh with ARKit-named targets (all its primitives merged) in its own
    mesh coordinates (node transforms are not applied: heads are expected at the origin).
    """
    path = Path(path)
    gltf = _load_user_gltf(path)
    for mesh in gltf.meshes:
        found = match_arkit_names(target_names(gltf, mesh), name_map)
        if not found:
            continue
        vertices, faces, deltas, offset = [], [], [], 0
        for primitive in mesh.primitives:
            if primitive.mode not in (None, pygltflib.TRIANGLES) or not primitive.targets:
                continue
            positions = read_accessor(gltf, primitive.attributes.POSITION).astype(np.float32)
            if primitive.indices is None:
                tris = np.arange(len(positions)).reshape(-1, 3)
            else:
                tris = read_accessor(gltf, primitive.indices).reshape(-1, 3).astype(np.int64)
            vertices.append(positions)
            faces.append(tris + offset)
            offset += len(positions)
            deltas.append(np.stack([read_accessor(gltf, _target_position(primitive, j)) for j in found.values()]))
        if not vertices:
            continue
        head = HeadModel(
            vertices=np.concatenate(vertices),
            faces=np.concatenate(faces).astype(np.int32),
            colors=None,
            names=tuple(found),
            deltas=np.concatenate(deltas, axis=1).astype(np.float32),
        )
        return head, tuple(name for name in ARKIT_NAMES if name not in found)
    raise UserError(f"{path}: no mesh has morph targets with ARKit blendshape names (e.g. jawOpen, eyeBlinkLeft)")
