"""`voiceemo data inspect OUT`: what a build holds, as a short text report.

Counts per split, label histograms (emotion, level, speaker) from the clip index, the
skip list's size from summary.json, and the shapes of one batch as the training input
pipeline delivers it.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np

from data_pipelines.records import schema
from data_pipelines.records.clip_index import load_clip_index
from voiceemo_jax.errors import UserError


def _histogram_table(title: str, names: tuple[str, ...], columns: dict[str, np.ndarray]) -> list[str]:
    """Rows = label names with at least one clip, columns = splits."""
    counts = {split: Counter(values.tolist()) for split, values in columns.items()}
    width = max([len(title), *(len(n) for n in names)]) + 2
    lines = [title.ljust(width) + "".join(f"{split:>12}" for split in columns)]
    for i, name in enumerate(names):
        if any(counts[split][i] for split in columns):
            lines.append(name.ljust(width) + "".join(f"{counts[split][i]:>12}" for split in columns))
    return lines


def describe(data_dir: str | Path, *, split: str | None = None, batch_size: int = 2, seed: int = 0) -> str:
    """The report printed by `voiceemo data inspect` (see the module docstring)."""
    metadata = schema.load_metadata(data_dir)
    splits = [name for name, n in metadata.split_sizes.items() if n > 0]
    if not splits:
        raise UserError(f"{metadata.builder_dir}: the build has no records")
    indices = {name: load_clip_index(metadata.builder_dir, name) for name in splits}
    lines = [
        f"{metadata.dataset} {metadata.version}  ({metadata.builder_dir})",
        f"targets: {metadata.target_kind} [T, {metadata.target_dim}] at {metadata.fps} fps; "
        f"audio {metadata.sample_rate_hz} Hz" + ("; templates kept per record" if metadata.has_template else ""),
        "",
        f"{'split':<12}{'records':>10}{'speakers':>10}{'hours':>10}{'shards':>8}",
    ]
    for name, n in metadata.split_sizes.items():
        index = indices.get(name)
        speakers = len(set(index.person.tolist())) if index is not None else 0
        hours = index.num_samples.sum() / metadata.sample_rate_hz / 3600 if index is not None else 0.0
        shards = len(index.shards) if index is not None else 0
        lines.append(f"{name:<12}{n:>10}{speakers:>10}{hours:>10.3f}{shards:>8}")
    summary_path = Path(data_dir) / schema.SUMMARY_FILE
    if summary_path.is_file():
        summary = json.loads(summary_path.read_text())
        lines.append(
            f"skipped {len(summary.get('skipped', []))}, excluded {len(summary.get('excluded', []))} "
            f"(details in {summary_path})"
        )
    for title, names, column in (
        ("emotion", metadata.emotions, "emotion"),
        ("level", metadata.levels, "level"),
        ("speaker", metadata.speakers, "person"),
    ):
        lines += ["", *_histogram_table(title, names, {s: getattr(i, column) for s, i in indices.items()})]
    lines += ["", *_batch_shapes(data_dir, split or splits[0], batch_size, seed, metadata)]
    return "\n".join(lines)


def _batch_shapes(data_dir, split: str, batch_size: int, seed: int, metadata: schema.DatasetMetadata) -> list[str]:
    from data_pipelines.loading import input_pipeline

    mode = "triplet" if metadata.has_emotion_pairs else "single"
    try:
        iterator = input_pipeline.make_iterator(
            data_dir, split, batch_size=batch_size, seed=seed, mode=mode, process_index=0, process_count=1
        )
    except UserError as error:
        if mode == "single":
            raise
        mode, note = "single", f"  (no triplet batch: {error})"
        iterator = input_pipeline.make_iterator(
            data_dir, split, batch_size=batch_size, seed=seed, mode=mode, process_index=0, process_count=1
        )
    else:
        note = ""
    batch = next(iterator)
    lines = [f"one {mode} batch of split {split!r} ({iterator.batches_per_epoch()} batches per epoch):{note}"]
    for clip_name, clip in batch.items():
        for key, value in clip.items():
            lines.append(f"  {clip_name}.{key:<12} {str(list(value.shape)):<16} {value.dtype}")
    return lines
