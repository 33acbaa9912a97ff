"""Helpers for the export tests: a speech-like wav writer, the jaw/blink clip, pixel regions, MP4 decoding."""

from __future__ import annotations

import wave

import numpy as np

from voiceemo_jax.arkit import INDEX

SMALL = (128, 192)  # width, height of test renders: big enough to see the lids, fast on llvmpipe

# The jaw/blink clip's 10 frames: neutral 0-2, jawOpen 3-5, both eyes blinking 6-9.
NEUTRAL_FRAME, JAW_FRAME, BLINK_FRAME = 1, 4, 8


def write_wav(path, seconds: float, rate: int = 16000, channels: int = 1) -> None:
    """A voiced, pitch-gliding tone: enough like speech for the muxer, deterministic."""
    t = np.arange(round(seconds * rate)) / rate
    phase = 2 * np.pi * np.cumsum(140 + 30 * np.sin(2 * np.pi * 2 * t)) / rate
    signal = 0.3 * sum(np.sin(k * phase) / k for k in range(1, 5))
    pcm = (np.clip(signal, -1, 1) * 32767).astype(np.int16)
    pcm = np.repeat(pcm[:, None], channels, axis=1)
    with wave.open(str(path), "wb") as f:
        f.setnchannels(channels)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(pcm.tobytes())


def jaw_blink_clip() -> np.ndarray:
    """[10, 52] float32: neutral, then jawOpen = 1, then eyeBlinkLeft = eyeBlinkRight = 1."""
    coeffs = np.zeros((10, 52), np.float32)
    coeffs[3:6, INDEX["jawOpen"]] = 1.0
    coeffs[6:, INDEX["eyeBlinkLeft"]] = 1.0
    coeffs[6:, INDEX["eyeBlinkRight"]] = 1.0
    return coeffs


def face_regions(size=SMALL) -> dict[str, tuple[slice, slice]]:
    """Pixel boxes (rows, cols) around the mouth and both eyes in frames of the bundled head."""
    from export import head_mesh as hm
    from export.head_model import build_head
    from export.pyrender_preview import frame_box, project

    head = build_head()
    box = frame_box(head.vertices, head.part)
    points = np.array(
        [
            [0.0, hm.MOUTH_Y - 0.005, 0.095],  # mouth, a little below the lip line, where it opens
            hm.EYE_CENTER + [0, 0, 0.012],
            hm.EYE_CENTER * [-1, 1, 1] + [0, 0, 0.012],
        ]
    )
    (mc, mr), (lc, lr), (rc, rr) = project(points, box, size).round().astype(int)
    # Half-sizes in pixels: ~3 cm wide, 2.5 cm tall around the mouth; 2.4 x 1.2 cm per eye.
    scale = size[1] / 192
    mw, mh, ew, eh = (round(v * scale) for v in (9, 8, 7, 4))
    return {
        "mouth": (slice(mr - mh, mr + mh), slice(mc - mw, mc + mw)),
        "eye_left": (slice(lr - eh, lr + eh), slice(lc - ew, lc + ew)),
        "eye_right": (slice(rr - eh, rr + eh), slice(rc - ew, rc + ew)),
    }


def region_change(a: np.ndarray, b: np.ndarray, region) -> float:
    """Mean absolute RGB difference (0-255) between two frames inside a region."""
    rows, cols = region
    return float(np.abs(a[rows, cols].astype(np.float32) - b[rows, cols].astype(np.float32)).mean())


def decode_video(path) -> tuple[list[np.ndarray], dict]:
    """All frames of an MP4 as RGB arrays, plus its stream facts (codec, pix_fmt, rates, durations)."""
    import av

    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        facts = {
            "video_codec": video.codec_context.name,
            "pix_fmt": video.codec_context.pix_fmt,
            "fps": float(video.average_rate),
            "size": (video.codec_context.width, video.codec_context.height),
            "video_seconds": float(video.duration * video.time_base),
            "audio_codec": audio.codec_context.name if audio else None,
            "audio_seconds": float(audio.duration * audio.time_base) if audio else None,
        }
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    return frames, facts


def gltf_accessor(gltf, index: int) -> np.ndarray:
    """A test-side accessor decoder (dense and sparse float/uint data), independent of export.gltf."""
    dtypes = {5126: np.float32, 5125: np.uint32, 5123: np.uint16, 5121: np.uint8}
    widths = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}
    accessor = gltf.accessors[index]
    dtype, width = np.dtype(dtypes[accessor.componentType]), widths[accessor.type]
    blob = gltf.binary_blob()
    values = np.zeros((accessor.count, width), dtype)
    if accessor.bufferView is not None:
        view = gltf.bufferViews[accessor.bufferView]
        assert view.byteStride in (None, 0, dtype.itemsize * width)
        start = (view.byteOffset or 0) + (accessor.byteOffset or 0)
        values = np.frombuffer(blob, dtype, accessor.count * width, start).reshape(-1, width).copy()
    if accessor.sparse is not None:
        sparse = accessor.sparse
        index_view = gltf.bufferViews[sparse.indices.bufferView]
        rows = np.frombuffer(blob, dtypes[sparse.indices.componentType], sparse.count, index_view.byteOffset or 0)
        value_view = gltf.bufferViews[sparse.values.bufferView]
        values[rows] = np.frombuffer(blob, dtype, sparse.count * width, value_view.byteOffset or 0).reshape(-1, width)
    return values


def write_user_glb(path, target_names, with_extra_node=True) -> None:
    """A small user head: an icosphere whose morph targets carry `target_names`, plus an unrelated hat node."""
    import pygltflib
    import trimesh

    sphere = trimesh.creation.icosphere(subdivisions=2, radius=0.1)
    vertices = np.asarray(sphere.vertices, np.float32)
    faces = np.asarray(sphere.faces, np.uint32)
    chunks, views, accessors = bytearray(), [], []

    def add(array, kind, bounds=False):
        array = np.ascontiguousarray(array)
        views.append(pygltflib.BufferView(buffer=0, byteOffset=len(chunks), byteLength=array.nbytes))
        chunks.extend(array.tobytes())
        component = pygltflib.FLOAT if array.dtype == np.float32 else pygltflib.UNSIGNED_INT
        flat = array.reshape(len(array), -1)
        accessors.append(
            pygltflib.Accessor(
                bufferView=len(views) - 1, componentType=component, count=len(array), type=kind,
                min=flat.min(0).tolist() if bounds else None, max=flat.max(0).tolist() if bounds else None,
            )
        )  # fmt: skip
        return len(accessors) - 1

    position = add(vertices, "VEC3", bounds=True)
    indices = add(faces.reshape(-1), "SCALAR")
    targets = []
    for k in range(len(target_names)):
        delta = np.zeros_like(vertices)
        delta[:, 1] = -0.01 * (k + 1) * (vertices[:, 1] < 0)  # each target pulls the lower half down
        targets.append({"POSITION": add(delta, "VEC3", bounds=True)})
    primitive = pygltflib.Primitive(
        attributes=pygltflib.Attributes(POSITION=position), indices=indices, targets=targets
    )
    meshes = [
        pygltflib.Mesh(
            name="user_head", primitives=[primitive], weights=[0.25] * len(target_names),
            extras={"targetNames": list(target_names)},
        )
    ]  # fmt: skip
    nodes = [pygltflib.Node(name="user_head", mesh=0)]
    if with_extra_node:
        hat = pygltflib.Primitive(attributes=pygltflib.Attributes(POSITION=position), indices=indices)
        meshes.append(pygltflib.Mesh(name="hat", primitives=[hat]))
        nodes.append(pygltflib.Node(name="hat", mesh=1, translation=[0.0, 0.12, 0.0]))
    gltf = pygltflib.GLTF2(
        scene=0,
        scenes=[pygltflib.Scene(nodes=list(range(len(nodes))))],
        nodes=nodes,
        meshes=meshes,
        accessors=accessors,
        bufferViews=views,
        buffers=[pygltflib.Buffer(byteLength=len(chunks))],
    )
    gltf.set_binary_blob(bytes(chunks))
    gltf.save_binary(str(path))
