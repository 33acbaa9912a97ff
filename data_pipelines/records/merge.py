"""Several builds -> one build with one label vocabulary (e.g. the synthetic corpus plus real speech).

    python -m data_pipelines.records.merge --out OUT BUILD [BUILD ...]

Training reads one build (`config.data.dir`); this writes the records of several `voiceemo data
build` outputs into one, in the same schema, so the triplet pipeline draws from all of them.
Vocabularies: emotions are the union by name (the first build's order, then new names); levels
are 0-based intensities, so they merge by position (the synthetic corpus' level_1/level_2 and the
speech builder's normal/strong are the same two), named as in the build that has the most of them;
speakers are kept apart (`<dataset>/<speaker>`: two builds' "01" are different people); sentence ids
of later builds are shifted past the earlier ones' so content ids stay unique, with their texts.
Splits are merged by name (a split only some builds have holds only their records). Records keep
their audio, targets and `dataset` name; clip ids become `<dataset>/<clip id>`. Target width and kind
must agree. Like every build, OUT is written in a temporary folder and swapped in when complete.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from data_pipelines.records import builder as builder_lib
from data_pipelines.records import clips as clips_lib
from data_pipelines.records import schema
from data_pipelines.records.clip_index import LABEL_COLUMNS
from voiceemo_jax.errors import UserError


@dataclasses.dataclass(frozen=True)
class Source:
    """One input build and how its labels map into the merged vocabularies."""

    metadata: schema.DatasetMetadata
    emotion_map: np.ndarray  # source emotion index -> merged index
    level_map: np.ndarray
    person_offset: int
    content_offset: int


def plan_sources(metadatas: list[schema.DatasetMetadata]) -> tuple[list[Source], dict[str, Any]]:
    """The label maps of each build and the merged vocabularies {"emotions", "levels", "speakers", "sentences"}."""
    first = metadatas[0]
    for m in metadatas[1:]:
        if (m.target_dim, m.target_kind) != (first.target_dim, first.target_kind):
            raise UserError(
                f"{m.builder_dir}: targets are {m.target_kind} [T, {m.target_dim}], "
                f"{first.builder_dir}: {first.target_kind} [T, {first.target_dim}]; cannot merge"
            )
        if m.has_template or first.has_template:
            raise UserError("builds with vertex templates (VOCASET) cannot be merged")
    emotions: list[str] = []
    for m in metadatas:
        emotions += [e for e in m.emotions if e not in emotions]
    levels = list(max((m.levels for m in metadatas), key=len))
    sources, speakers, sentences, content_offset = [], [], {}, 0
    for m in metadatas:
        sources.append(Source(
            metadata=m,
            emotion_map=np.array([emotions.index(e) for e in m.emotions], np.int64),
            level_map=np.arange(len(m.levels), dtype=np.int64),
            person_offset=len(speakers),
            content_offset=content_offset,
        ))  # fmt: skip
        speakers += [merged_name(m.dataset, s) for s in m.speakers]
        sentences.update({content_offset + k: v for k, v in m.sentences.items()})
        content_offset += max(m.sentences, default=-1) + 1
    vocab = {"emotions": tuple(emotions), "levels": tuple(levels), "speakers": tuple(speakers), "sentences": sentences}
    return sources, vocab


def merged_name(dataset: str, name: str) -> str:
    """A speaker or clip id of a merged build: `<dataset>/<name>`."""
    return f"{dataset}/{name}"


def source_dataset(name: str) -> str:
    """The build a merged build's speaker or clip id came from (`merged_name`); "" for an unmerged one."""
    dataset, separator, _ = name.partition("/")
    return dataset if separator else ""


def read_records(builder_dir: Path, split: str) -> Iterator[dict[str, Any]]:
    """A build's split as numpy records, in stored order."""
    import tensorflow_datasets as tfds

    from data_pipelines import tf_setup

    tf_setup.tensorflow()
    dataset = tfds.builder_from_directory(str(builder_dir)).as_dataset(split=split, shuffle_files=False)
    yield from tfds.as_numpy(dataset)


def remap(record: dict[str, Any], source: Source) -> dict[str, Any]:
    """A source record with merged labels and a prefixed clip id."""
    dataset = record["dataset"].decode() if isinstance(record["dataset"], bytes) else str(record["dataset"])
    clip_id = record["clip_id"].decode() if isinstance(record["clip_id"], bytes) else str(record["clip_id"])
    return {
        **record,
        "emotion": int(source.emotion_map[int(record["emotion"])]),
        "level": int(source.level_map[int(record["level"])]),
        "person": int(source.person_offset + int(record["person"])),
        "content": np.int32(source.content_offset + int(record["content"])),
        "clip_id": merged_name(source.metadata.dataset, clip_id),
        "dataset": dataset,
    }


class MergedBuilder(builder_lib.ClipDatasetBuilder, skip_registration=True):
    """Writes the records of several builds (`sources`) under one vocabulary."""

    name = "voiceemo_merged"
    DESCRIPTION = "Several VoiceEmo builds merged under one label vocabulary."
    MANUAL_DOWNLOAD_INSTRUCTIONS = "Nothing to download: merges `voiceemo data build` outputs."

    def __init__(self, *, sources: list[Source], **kwargs):
        self.sources = sources
        super().__init__(**kwargs)

    def _split_generators(self, dl_manager):
        generators = {}
        for split in self.catalog.split_names:
            if any(split in s.metadata.split_sizes and s.metadata.split_sizes[split] for s in self.sources):
                generators[split] = self._generate_examples([], split)
        return generators

    def _generate_examples(self, split_clips, split: str):
        rows = self.rows.setdefault(split, {name: [] for name in ("clip_id", *LABEL_COLUMNS)})
        for source in self.sources:
            if not source.metadata.split_sizes.get(split):
                continue
            for record in read_records(source.metadata.builder_dir, split):
                example = remap(record, source)
                rows["clip_id"].append(example["clip_id"])
                for name in LABEL_COLUMNS:
                    rows[name].append(int(example[name]))
                yield example["clip_id"], example


def merge(builds: list[str | Path], out: str | Path, *, shard_mb: float = builder_lib.DEFAULT_SHARD_MB) -> dict:
    """Merges `builds` into `out`; returns the summary written to OUT/summary.json."""
    if len(builds) < 2:
        raise UserError("give at least two builds to merge")
    metadatas = [schema.load_metadata(b) for b in builds]
    sources, vocab = plan_sources(metadatas)
    split_names = []
    for m in metadatas:
        split_names += [s for s in m.split_sizes if s not in split_names]
    catalog = clips_lib.Catalog(
        dataset=MergedBuilder.name,
        split_names=tuple(split_names),
        emotions=vocab["emotions"],
        levels=vocab["levels"],
        speakers=vocab["speakers"],
        sentences=vocab["sentences"],
        target_dim=metadatas[0].target_dim,
        target_kind=metadatas[0].target_kind,
        has_emotion_pairs=any(m.has_emotion_pairs for m in metadatas),
        clips=[],
    )
    builder_cls = functools.partial(MergedBuilder, sources=sources)
    options = {"builds": [str(m.builder_dir) for m in metadatas]}
    return builder_lib.build_dataset(builder_cls, catalog, out, shard_mb=shard_mb, options=options)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("builds", nargs="+", help="`voiceemo data build` outputs")
    parser.add_argument("--out", required=True, help="the merged build (replaced if a previous build)")
    parser.add_argument("--shard-mb", type=float, default=builder_lib.DEFAULT_SHARD_MB)
    args = parser.parse_args(argv)
    try:
        summary = merge(args.builds, args.out, shard_mb=args.shard_mb)
    except UserError as error:
        print(f"merge: error: {error}", file=sys.stderr)
        return 2
    print(f"{args.out}: {summary['num_records']} records ({summary['splits']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
