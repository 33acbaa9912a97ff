"""A small per-split table of every record's labels, lengths and place in the shards.

The input pipeline plans each epoch (which triplets, which batches, which bucket) from
this table alone, without touching audio, and then reads exactly the records the plan
needs: `shard` and `position` say where record i lives. The builder writes the table
(`clip_index.json` beside the shards) from the order it generated records in; for a
build without one, `scan_clip_index` reads it back from the shards.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from data_pipelines.records.schema import CLIP_INDEX_FILE

LABEL_COLUMNS = ("person", "emotion", "level", "content", "num_samples", "num_frames")


@dataclasses.dataclass(frozen=True)
class ClipIndex:
    """One split's records in shard order.

    shards: shard file names (relative to the builder folder), in order.
    shard_lengths: records per shard.
    clip_id: [N] str; person, emotion, level, content, num_samples, num_frames: [N] int64.
    """

    split: str
    shards: tuple[str, ...]
    shard_lengths: tuple[int, ...]
    clip_id: np.ndarray
    person: np.ndarray
    emotion: np.ndarray
    level: np.ndarray
    content: np.ndarray
    num_samples: np.ndarray
    num_frames: np.ndarray

    def __post_init__(self):
        if sum(self.shard_lengths) != len(self.clip_id) or len(self.shards) != len(self.shard_lengths):
            raise ValueError(f"clip index of {self.split!r}: shard lengths do not add up to the records")
        for name in LABEL_COLUMNS:
            if len(getattr(self, name)) != len(self.clip_id):
                raise ValueError(f"clip index of {self.split!r}: column {name} has the wrong length")

    def __len__(self) -> int:
        return len(self.clip_id)

    @property
    def shard(self) -> np.ndarray:
        """[N] int: which shard each record is in."""
        return np.repeat(np.arange(len(self.shards)), self.shard_lengths)

    @property
    def position(self) -> np.ndarray:
        """[N] int: each record's position within its shard."""
        starts = np.cumsum((0, *self.shard_lengths[:-1]))
        return np.arange(len(self)) - np.repeat(starts, self.shard_lengths)

    def to_json(self) -> dict:
        return {
            "shards": list(self.shards),
            "shard_lengths": [int(n) for n in self.shard_lengths],
            "clip_id": [str(c) for c in self.clip_id],
            **{name: [int(v) for v in getattr(self, name)] for name in LABEL_COLUMNS},
        }

    @classmethod
    def from_columns(cls, split: str, shards, shard_lengths, rows: dict) -> ClipIndex:
        return cls(
            split=split,
            shards=tuple(shards),
            shard_lengths=tuple(int(n) for n in shard_lengths),
            clip_id=np.asarray(rows["clip_id"], dtype=str),
            **{name: np.asarray(rows[name], dtype=np.int64) for name in LABEL_COLUMNS},
        )


def write_clip_index(builder_dir: str | Path, indices: dict[str, ClipIndex]) -> None:
    """Writes `clip_index.json` (one table per split) into the builder folder."""
    from voiceemo_jax.atomic_files import write_text

    payload = {"format": 1, "splits": {split: index.to_json() for split, index in indices.items()}}
    write_text(Path(builder_dir) / CLIP_INDEX_FILE, json.dumps(payload))


def load_clip_index(builder_dir: str | Path, split: str) -> ClipIndex:
    """The split's table from `clip_index.json`, or scanned from the shards if the file is absent."""
    from voiceemo_jax.errors import UserError

    path = Path(builder_dir) / CLIP_INDEX_FILE
    if not path.is_file():
        return scan_clip_index(builder_dir, split)
    splits = json.loads(path.read_text())["splits"]
    if split not in splits:
        raise UserError(f"{builder_dir}: no split {split!r} in this build (it has {', '.join(sorted(splits))})")
    raw = splits[split]
    return ClipIndex.from_columns(split, raw["shards"], raw["shard_lengths"], raw)


def scan_clip_index(builder_dir: str | Path, split: str) -> ClipIndex:
    """Reads the labels of every record of `split` from its shards (slow path: reads all data once)."""
    import tensorflow_datasets as tfds

    from data_pipelines import tf_setup
    from voiceemo_jax.errors import UserError

    tf = tf_setup.tensorflow()
    builder = tfds.builder_from_directory(str(builder_dir))
    if split not in builder.info.splits:
        raise UserError(f"{builder_dir}: no split {split!r} in this build")
    split_info = builder.info.splits[split]
    shards = [Path(name).name for name in split_info.filenames]
    features = builder.info.features
    paths = [str(Path(builder_dir) / name) for name in shards]
    dataset = tf.data.TFRecordDataset(paths).map(features.deserialize_example)
    rows = {name: [] for name in ("clip_id", *LABEL_COLUMNS)}
    for record in dataset.as_numpy_iterator():
        rows["clip_id"].append(record["clip_id"].decode())
        for name in LABEL_COLUMNS:
            rows[name].append(int(record[name]))
    return ClipIndex.from_columns(split, shards, split_info.shard_lengths, rows)
