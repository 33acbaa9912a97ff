"""The tfds builder every dataset shares, and `build_dataset`, which runs one into OUT.

A dataset module (ravdess, mead, vocaset, synth_corpus) scans its folders into a
`clips.Catalog` and subclasses `ClipDatasetBuilder` for its name, version and
MANUAL_DOWNLOAD_INSTRUCTIONS. The builder writes TFRecord shards through tfds
(GeneratorBasedBuilder, manual-download style: nothing is downloaded) with shuffling
disabled, so records are stored in catalog order (by speaker) and the clip index can be
written from the generation order.

`build_dataset` makes a re-run safe: everything is built in a fresh temporary folder
beside OUT and swapped in only when complete, so OUT never mixes two builds and a failed
build leaves the previous one untouched.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from data_pipelines import tf_setup
from data_pipelines.records import clips as clips_lib
from data_pipelines.records import schema
from data_pipelines.records.clip_index import LABEL_COLUMNS, ClipIndex, write_clip_index
from voiceemo_jax.atomic_files import atomic_path
from voiceemo_jax.errors import UserError

# Before anything can touch a device: TensorFlow must leave the GPU to JAX.
tf_setup.tensorflow()
import tensorflow_datasets as tfds  # noqa: E402
from tensorflow_datasets.core.utils import shard_utils  # noqa: E402

# Shard size: small enough that a multi-host job can hand every process several shards.
DEFAULT_SHARD_MB = 32.0


class ClipDatasetBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Writes a `Catalog`'s clips as records (schema in `schema.py`).

    Not registered in tfds' global registry (our names could shadow tfds' own);
    construct it directly with the catalog.
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "16 kHz audio, 30 fps targets, emotion/level/person/content labels."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = "Point the builder at the dataset folders you obtained yourself."
    DESCRIPTION = "VoiceEmo clips."
    # tfds looks for url checksums beside the builder's source via `code_path`, which
    # needs the optional `importlib_resources` package; manual-download builders have no
    # urls, so there is nothing to find.
    code_path = None

    def __init__(
        self,
        *,
        catalog: clips_lib.Catalog,
        strict: bool = False,
        min_samples: int = clips_lib.MIN_AUDIO_SAMPLES,
        frame_tolerance: int = 3,
        **kwargs,
    ):
        if catalog.dataset != self.name:
            raise ValueError(f"catalog of {catalog.dataset!r} given to the {self.name!r} builder")
        self.catalog = catalog
        self.strict = strict
        self.min_samples = min_samples
        self.frame_tolerance = frame_tolerance
        # Filled while generating: clips that failed a data check, and the rows of
        # the records written, per split, in write order.
        self.skipped: list[clips_lib.SkippedFile] = []
        self.rows: dict[str, dict[str, list]] = {}
        super().__init__(**kwargs)

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            description=self.DESCRIPTION,
            features=schema.record_features(
                target_dim=self.catalog.target_dim,
                emotions=self.catalog.emotions,
                levels=self.catalog.levels,
                speakers=self.catalog.speakers,
                with_template=bool(self.catalog.templates),
            ),
            metadata=tfds.core.MetadataDict(self.catalog.metadata().to_json()),
            # Keep catalog order (speaker-major) in the shards; see module docstring.
            disable_shuffling=True,
        )

    def _split_generators(self, dl_manager):
        generators = {}
        for split in self.catalog.split_names:
            generator = self._generate_examples(self.catalog.clips_in(split), split)
            # tfds refuses an empty split; look ahead for one good clip, and leave the
            # split out (0 records in the summary) if there is none.
            first = next(generator, None)
            if first is not None:
                generators[split] = itertools.chain([first], generator)
        if not generators:
            raise UserError(f"{self.name}: no usable clip in any split (see the skipped files)")
        return generators

    def _generate_examples(self, split_clips: list[clips_lib.ClipSource], split: str) -> Iterator[tuple[str, Any]]:
        rows = self.rows.setdefault(split, {name: [] for name in ("clip_id", *LABEL_COLUMNS)})
        for clip in split_clips:
            try:
                example = clips_lib.load_example(
                    clip, self.catalog, min_samples=self.min_samples, frame_tolerance=self.frame_tolerance
                )
            except clips_lib.ClipSkip as skip:
                self.skipped.append(clips_lib.SkippedFile(str(clip.audio_path), str(skip)))
                if self.strict:
                    raise UserError(f"{clip.audio_path}: {skip} (--strict)") from None
                continue
            rows["clip_id"].append(clip.clip_id)
            for name in LABEL_COLUMNS:
                rows[name].append(int(example[name]))
            yield clip.clip_id, example

    def clip_indices(self) -> dict[str, ClipIndex]:
        """The written splits' clip indices (call after download_and_prepare)."""
        indices = {}
        for split, split_info in self.info.splits.items():
            shards = [Path(name).name for name in split_info.filenames]
            indices[split] = ClipIndex.from_columns(split, shards, split_info.shard_lengths, self.rows[split])
        return indices


@dataclasses.dataclass(frozen=True)
class _SizedShardConfig(shard_utils.ShardConfig):
    """Shards of at most `max_shard_size` bytes, as few as that allows (at least one record each).

    tfds' own rule reads the class defaults (64 MiB - 1 GiB) instead of the configured
    sizes and only picks powers of two, so small builds always end up in one shard.
    """

    def get_number_shards(self, total_size: int, num_examples: int, uses_precise_sharding: bool = True) -> int:
        total_size += num_examples * self.overhead
        return max(1, min(num_examples, math.ceil(total_size / self.max_shard_size)))


@dataclasses.dataclass
class _SizedShardsDownloadConfig(tfds.download.DownloadConfig):
    def get_shard_config(self) -> shard_utils.ShardConfig:
        return _SizedShardConfig(max_shard_size=self.max_shard_size)


def build_dataset(
    builder_cls,
    catalog: clips_lib.Catalog,
    out: str | Path,
    *,
    strict: bool = False,
    shard_mb: float = DEFAULT_SHARD_MB,
    min_samples: int = clips_lib.MIN_AUDIO_SAMPLES,
    frame_tolerance: int = 3,
    options: dict | None = None,
) -> dict[str, Any]:
    """Builds `catalog` with `builder_cls` into `out`; returns the summary also written to OUT/summary.json.

    Layout of OUT: `summary.json` and `<name>/<version>/` (tfds shards, dataset_info.json,
    features.json, metadata.json with the vocabularies, clip_index.json).

    Raises:
      UserError: OUT exists and is not a previous build; `strict` and a file was skipped.
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / schema.SUMMARY_FILE).is_file())):
        raise UserError(f"{out}: exists and is not a dataset build (no {schema.SUMMARY_FILE}); refusing to replace it")
    if strict and catalog.skipped:
        first = catalog.skipped[0]
        raise UserError(f"{first.path}: {first.reason} (--strict)")
    if shard_mb <= 0:
        raise UserError(f"--shard-mb must be positive, got {shard_mb}")
    download_config = _SizedShardsDownloadConfig(
        max_shard_size=max(1, int(shard_mb * 2**20)),
        # Never look for a pre-built copy on tfds' servers: these builds are local only.
        try_download_gcs=False,
    )
    with atomic_path(out, suffix="") as tmp:
        tmp.mkdir()
        builder = builder_cls(
            catalog=catalog,
            strict=strict,
            min_samples=min_samples,
            frame_tolerance=frame_tolerance,
            data_dir=str(tmp),
        )
        scratch = tmp / ".tfds_downloads"
        builder.download_and_prepare(download_dir=str(scratch), download_config=download_config)
        shutil.rmtree(scratch, ignore_errors=True)
        builder_dir = Path(builder.data_dir)
        write_clip_index(builder_dir, builder.clip_indices())
        summary = _summary(builder, catalog, builder_dir.relative_to(tmp), options or {})
        (tmp / schema.SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _summary(builder, catalog: clips_lib.Catalog, builder_dir: Path, options: dict) -> dict[str, Any]:
    splits = {split: 0 for split in catalog.split_names}
    for split, split_info in builder.info.splits.items():
        splits[split] = int(split_info.num_examples)
    skipped = [*catalog.skipped, *builder.skipped]
    return {
        "dataset": catalog.dataset,
        "version": str(builder.version),
        "builder_dir": str(builder_dir),
        "splits": splits,
        "num_records": sum(splits.values()),
        "skipped": [s.to_json() for s in skipped],
        "excluded": [s.to_json() for s in catalog.excluded],
        "target_dim": catalog.target_dim,
        "target_kind": catalog.target_kind,
        "options": options,
    }
