"""Many files in one run: `voiceemo predict --audio DIR_OR_GLOB... --out-dir OUT`.

Inputs: each `--audio` value is a folder (every audio file under it, recursively), a
file, or a glob pattern. Outputs are named after the inputs: OUT/<path below the folder,
or the file's stem>.npy and .json, the same pair a single-file run writes.

Shapes: files are sorted by length and run in batches of `batch_size` rows padded to one
of a few static lengths (`BUCKET_SECONDS`, up to the window), with short batches filled
by repeating a row, so a folder of any mix of lengths compiles at most one program per
bucket. Each batch is split over every local device (`Predictor.predict_batch`), so
`batch_size` is rounded up to a multiple of the device count. Files longer than the
window run windowed, one at a time.

Resumable: a file whose .npy and .json both exist is skipped (both are written
atomically, so either both are whole or neither is there). A file that cannot be read
or is too short is reported and the rest carry on; the summary at the end lists it.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from voiceemo_jax.audio import audio_seconds, check_audio, load_audio
from voiceemo_jax.errors import UserError
from voiceemo_jax.timebase import SAMPLE_RATE_HZ

AUDIO_SUFFIXES = frozenset(
    {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".aif", ".aiff", ".mp4", ".webm"}
)
BUCKET_SECONDS = (2.0, 4.0, 8.0, 12.0, 16.0, 20.0)


@dataclasses.dataclass(frozen=True)
class Job:
    source: Path
    out_npy: Path

    @property
    def out_json(self) -> Path:
        return self.out_npy.with_suffix(".json")

    def done(self) -> bool:
        if not (self.out_npy.is_file() and self.out_json.is_file()):
            return False
        try:
            json.loads(self.out_json.read_text())
        except (OSError, ValueError):
            return False
        return True


@dataclasses.dataclass
class BatchSummary:
    predicted: list[Path] = dataclasses.field(default_factory=list)
    skipped: list[Path] = dataclasses.field(default_factory=list)
    failed: dict[Path, str] = dataclasses.field(default_factory=dict)
    windowed: int = 0

    def lines(self) -> list[str]:
        lines = [
            f"{len(self.predicted)} predicted ({self.windowed} windowed), {len(self.skipped)} skipped "
            f"(already done), {len(self.failed)} failed"
        ]
        lines += [f"  failed: {path}: {reason}" for path, reason in self.failed.items()]
        return lines


def _expand(pattern: str) -> list[tuple[Path, Path]]:
    """One --audio value -> [(file, output stem relative to the out dir)]."""
    path = Path(pattern)
    if path.is_dir():
        files = sorted(f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES)
        return [(f, f.relative_to(path).with_suffix("")) for f in files]
    if path.is_file():
        return [(path, Path(path.stem))]
    matches = sorted(Path(m) for m in glob.glob(pattern, recursive=True))
    return [(m, Path(m.stem)) for m in matches if m.is_file()]


def collect_jobs(patterns: Sequence[str], out_dir: str | os.PathLike) -> list[Job]:
    """Every input file with its output path; UserError for a pattern matching nothing or
    two inputs that would write the same output."""
    out_dir = Path(out_dir)
    jobs: list[Job] = []
    owners: dict[Path, Path] = {}
    for pattern in patterns:
        found = _expand(pattern)
        if not found:
            raise UserError(f"--audio {pattern}: no such file or folder, and no audio file matches it")
        for source, stem in found:
            out_npy = out_dir / stem.with_name(stem.name + ".npy")
            if out_npy in owners and owners[out_npy].resolve() != source.resolve():
                raise UserError(f"{owners[out_npy]} and {source} would both write {out_npy}; rename one or run "
                                "them into different --out-dir folders")  # fmt: skip
            if out_npy not in owners:
                owners[out_npy] = source
                jobs.append(Job(source, out_npy))
    return jobs


def bucket_samples(num_samples: int, window_samples: int | None) -> int:
    """The static padded length for a clip: the smallest bucket that fits it."""
    for seconds in BUCKET_SECONDS:
        samples = int(seconds * SAMPLE_RATE_HZ)
        if window_samples is not None and samples >= window_samples:
            return window_samples
        if num_samples <= samples:
            return samples
    return window_samples or -(-num_samples // SAMPLE_RATE_HZ) * SAMPLE_RATE_HZ


def run_batch(
    predictor,
    jobs: Sequence[Job],
    write: Callable,
    *,
    level: int,
    person: int,
    batch_size: int = 8,
    emotion_audio: np.ndarray | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> BatchSummary:
    """Predicts every job not yet done. `write(job, prediction)` writes its two files.

    batch_size: files per batch, rounded up to a multiple of `predictor.num_devices` (every
    device gets the same number of rows)."""
    from tqdm import tqdm

    batch_size = predictor.batch_rows(batch_size)
    summary = BatchSummary()
    todo = []
    for job in jobs:
        if not overwrite and job.done():
            summary.skipped.append(job.source)
        else:
            todo.append(job)
    todo.sort(key=lambda job: (audio_seconds(job.source), str(job.source)))
    window_samples = predictor.window.window_samples if predictor.window is not None else None
    min_samples = predictor.config.min_samples
    # A long emotion clip makes every prediction windowed (see Predictor.predict).
    one_at_a_time = emotion_audio is not None and predictor.needs_window(len(emotion_audio))

    def fail(job: Job, error: Exception) -> None:
        summary.failed[job.source] = str(error)
        tqdm.write(f"failed: {job.source}: {error}")

    with tqdm(total=len(todo), unit="file", desc="predict", disable=not progress or not todo) as bar:
        pending: list[tuple[Job, np.ndarray]] = []

        def flush() -> None:
            if not pending:
                return
            rows = [audio for _, audio in pending]
            pad_to = bucket_samples(max(len(r) for r in rows), window_samples)
            fill = batch_size - len(rows)
            rows = rows + [rows[-1]] * fill
            emotion = None if emotion_audio is None else [emotion_audio] * batch_size
            try:
                predictions = predictor.predict_batch(
                    rows,
                    levels=[level] * batch_size,
                    persons=[person] * batch_size,
                    emotion_clips=emotion,
                    names=[str(job.source) for job, _ in pending] + ["(fill)"] * fill,
                    pad_to=pad_to,
                    emotion_pad_to=None if emotion_audio is None else bucket_samples(len(emotion_audio), None),
                )
            except UserError as error:
                predictions = None
                for job, _ in pending:
                    fail(job, error)
            for (job, _), prediction in zip(pending, predictions or []):
                try:
                    write(job, prediction)
                    summary.predicted.append(job.source)
                except (UserError, OSError) as error:  # e.g. the disk filled up: this file only
                    fail(job, error)
            bar.update(len(pending))
            pending.clear()

        for job in todo:
            try:
                audio = load_audio(job.source)
                check_audio(audio, min_samples=min_samples, name=str(job.source))
            except UserError as error:
                fail(job, error)
                bar.update(1)
                continue
            if one_at_a_time or predictor.needs_window(len(audio)):
                flush()
                try:
                    prediction = predictor.predict(
                        audio, level=level, person=person, emotion_audio=emotion_audio, name=str(job.source)
                    )
                    write(job, prediction)
                    summary.predicted.append(job.source)
                    summary.windowed += int(prediction.windowed)
                except (UserError, OSError) as error:
                    fail(job, error)
                bar.update(1)
                continue
            if pending and bucket_samples(len(audio), window_samples) != bucket_samples(
                max(len(a) for _, a in pending), window_samples
            ):
                flush()
            pending.append((job, audio))
            if len(pending) == batch_size:
                flush()
        flush()
    return summary
