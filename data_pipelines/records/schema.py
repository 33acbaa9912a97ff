"""The record schema every builder writes, and the metadata that travels with it.

One record is one clip:

    audio        float32 [num_samples]        16 kHz mono
    targets      float32 [num_frames, D]      30 fps; D = 52 ARKit coefficients, or 3 * V
                                              FLAME vertex offsets from the subject template
    num_samples  int32                         len(audio)
    num_frames   int32                         len(targets) == frames_for(num_samples)
    emotion      int64 (ClassLabel)           index into metadata["emotions"]
    level        int64 (ClassLabel)           0-based intensity, index into metadata["levels"]
    person       int64 (ClassLabel)           speaker, index into metadata["speakers"]
    content      int32                         sentence id as the dataset numbers it
                                              (metadata["sentences"] maps id -> text when known)
    clip_id      string                        unique within the build
    dataset      string                        builder name ("ravdess", "mead", ...)
    template     float32 [D]                   VOCASET only: the subject's neutral template,
                                              flattened (x, y, z per vertex), so evaluation
                                              can turn offsets back into vertices

The vocabularies (emotion, level and speaker names, sentence texts, target kind) live in
tfds' `metadata.json` beside the shards; `load_metadata(data_dir)` reads them without
importing TensorFlow.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from voiceemo_jax.timebase import FPS, SAMPLE_RATE_HZ

# "arkit": 52 blendshape coefficients; "vertex_offsets": FLAME vertices minus the template.
TARGET_KINDS = ("arkit", "vertex_offsets")

METADATA_FILE = "metadata.json"
DATASET_INFO_FILE = "dataset_info.json"
CLIP_INDEX_FILE = "clip_index.json"
SUMMARY_FILE = "summary.json"


def record_features(
    *,
    target_dim: int,
    emotions: tuple[str, ...],
    levels: tuple[str, ...],
    speakers: tuple[str, ...],
    with_template: bool = False,
):
    """The tfds `FeaturesDict` of one record (see the module docstring)."""
    import numpy as np
    import tensorflow_datasets as tfds

    features = {
        "audio": tfds.features.Tensor(shape=(None,), dtype=np.float32),
        "targets": tfds.features.Tensor(shape=(None, target_dim), dtype=np.float32),
        "num_samples": tfds.features.Scalar(dtype=np.int32),
        "num_frames": tfds.features.Scalar(dtype=np.int32),
        "emotion": tfds.features.ClassLabel(names=list(emotions)),
        "level": tfds.features.ClassLabel(names=list(levels)),
        "person": tfds.features.ClassLabel(names=list(speakers)),
        "content": tfds.features.Scalar(dtype=np.int32),
        "clip_id": tfds.features.Text(),
        "dataset": tfds.features.Text(),
    }
    if with_template:
        features["template"] = tfds.features.Tensor(shape=(target_dim,), dtype=np.float32)
    return tfds.features.FeaturesDict(features)


@dataclasses.dataclass(frozen=True)
class DatasetMetadata:
    """What a consumer needs to know about a build, read from its folder.

    `builder_dir` is the tfds version folder (`OUT/<name>/<version>`), which holds the
    shards, `dataset_info.json`, `features.json`, `metadata.json` and `clip_index.json`.
    """

    dataset: str
    version: str
    builder_dir: Path
    emotions: tuple[str, ...]
    levels: tuple[str, ...]
    speakers: tuple[str, ...]
    sentences: dict[int, str]
    target_dim: int
    target_kind: str
    has_emotion_pairs: bool
    has_template: bool
    split_sizes: dict[str, int]
    sample_rate_hz: int = SAMPLE_RATE_HZ
    fps: int = FPS

    def to_json(self) -> dict[str, Any]:
        """The dict stored in tfds' metadata.json (everything but what tfds keeps itself)."""
        return {
            "dataset": self.dataset,
            "emotions": list(self.emotions),
            "levels": list(self.levels),
            "speakers": list(self.speakers),
            "sentences": {str(k): v for k, v in sorted(self.sentences.items())},
            "target_dim": self.target_dim,
            "target_kind": self.target_kind,
            "has_emotion_pairs": self.has_emotion_pairs,
            "has_template": self.has_template,
            "sample_rate_hz": self.sample_rate_hz,
            "fps": self.fps,
        }


def find_builder_dir(data_dir: str | Path) -> Path:
    """The tfds version folder of a build: `data_dir` itself, or the only `*/*/` below it.

    Accepts the `--out` folder of `voiceemo data build` (`OUT/<name>/<version>/...`) or
    the version folder directly. Raises UserError when there is none or more than one.
    """
    from voiceemo_jax.errors import UserError

    data_dir = Path(data_dir)
    if (data_dir / DATASET_INFO_FILE).is_file():
        return data_dir
    if not data_dir.is_dir():
        raise UserError(f"{data_dir}: no such dataset folder")
    found = sorted(p.parent for p in data_dir.glob(f"*/*/{DATASET_INFO_FILE}"))
    if not found:
        raise UserError(f"{data_dir}: not a dataset build (no */*/{DATASET_INFO_FILE}); run `voiceemo data build`")
    if len(found) > 1:
        raise UserError(f"{data_dir}: holds several builds ({', '.join(str(p) for p in found)}); pass one of them")
    return found[0]


def split_sizes_from_info(builder_dir: Path) -> dict[str, int]:
    """Examples per split, read from tfds' dataset_info.json (shard lengths are strings there)."""
    info = json.loads((builder_dir / DATASET_INFO_FILE).read_text())
    return {split["name"]: sum(int(n) for n in split.get("shardLengths", [])) for split in info.get("splits", [])}


def load_metadata(data_dir: str | Path) -> DatasetMetadata:
    """Vocabularies, target kind and split sizes of a build; no TensorFlow import.

    Args:
      data_dir: the build's `--out` folder, or its tfds version folder.
    """
    from voiceemo_jax.errors import UserError

    builder_dir = find_builder_dir(data_dir)
    path = builder_dir / METADATA_FILE
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise UserError(f"{path}: unreadable dataset metadata ({error})") from None
    try:
        return DatasetMetadata(
            dataset=raw["dataset"],
            version=builder_dir.name,
            builder_dir=builder_dir,
            emotions=tuple(raw["emotions"]),
            levels=tuple(raw["levels"]),
            speakers=tuple(raw["speakers"]),
            sentences={int(k): v for k, v in raw.get("sentences", {}).items()},
            target_dim=int(raw["target_dim"]),
            target_kind=raw["target_kind"],
            has_emotion_pairs=bool(raw["has_emotion_pairs"]),
            has_template=bool(raw.get("has_template", False)),
            split_sizes=split_sizes_from_info(builder_dir),
            sample_rate_hz=int(raw.get("sample_rate_hz", SAMPLE_RATE_HZ)),
            fps=int(raw.get("fps", FPS)),
        )
    except KeyError as error:
        raise UserError(f"{path}: dataset metadata lacks {error}; rebuild with `voiceemo data build`") from None
