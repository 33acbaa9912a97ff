"""Writing a prediction: OUT.npy ([T, D] float32) and OUT.json beside it, both or neither."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from voiceemo_jax.arkit import ARKIT_NAMES
from voiceemo_jax.atomic_files import atomic_path
from voiceemo_jax.inference.postprocess import post_process
from voiceemo_jax.inference.predictor import Prediction
from voiceemo_jax.timebase import FPS


def describe(
    prediction: Prediction, *, level: int, person: int, post_processing: bool, seed: int, sources: dict[str, Any]
) -> dict[str, Any]:
    """The JSON document for one prediction."""
    frames, channels = prediction.outputs.shape
    probabilities = prediction.emotion_probabilities
    return {
        "fps": FPS,
        "num_frames": frames,
        "num_channels": channels,
        "output_kind": "arkit_blendshapes" if channels == len(ARKIT_NAMES) else "vertex_offsets",
        "channel_names": list(ARKIT_NAMES) if channels == len(ARKIT_NAMES) else None,
        "emotion": prediction.emotion,
        "emotion_labels": list(prediction.emotion_labels),
        "emotion_probabilities": {k: float(p) for k, p in zip(prediction.emotion_labels, probabilities)},
        "emotion_logits": {k: float(x) for k, x in zip(prediction.emotion_labels, prediction.emotion_logits)},
        "level": level,
        "person": person,
        "post_processing": post_processing,
        "seed": seed,
        "sources": sources,
    }


def write_prediction(
    out_npy: str | Path,
    prediction: Prediction,
    *,
    level: int,
    person: int,
    post_processing: bool,
    seed: int,
    sources: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Writes OUT.npy and OUT.json atomically (a failure leaves neither). Returns the paths, the
    shape and the array written ("outputs": post-processed when asked)."""
    out_npy = Path(out_npy)
    outputs = prediction.outputs.astype(np.float32)
    post_processing = post_processing and outputs.shape[1] == len(ARKIT_NAMES)  # blinks are blendshape channels
    if post_processing:
        outputs = post_process(outputs, seed=seed)
    doc = describe(prediction, level=level, person=person, post_processing=post_processing, seed=seed, sources=sources)
    doc.update(extra or {})
    out_json = out_npy.with_suffix(".json")
    with atomic_path(out_npy) as tmp_npy, atomic_path(out_json) as tmp_json:
        np.save(tmp_npy, outputs)
        tmp_json.write_text(json.dumps(doc, indent=2) + "\n")
    return {"npy": out_npy, "json": out_json, "frames": outputs.shape[0], "channels": outputs.shape[1],
            "outputs": outputs}  # fmt: skip
