"""Real recordings with transcripts (`index.tsv`) -> records, targets from offline forced alignment.

    voiceemo data build --dataset speech --root DIR [--root DIR2 ...] --out OUT

Layout of each root:

    DIR/index.tsv   tab-separated, a header row, then one row per recording:
                    file      the audio, relative to DIR (any format the readers decode)
                    speaker   who speaks (the records' person label)
                    text      what is said (numbers are spelled out by festival)
                    emotion   optional: angry disgust fear happy neutral sad surprise (also
                              fearful, surprised, TESS' ps; RAVDESS' calm counts as neutral);
                              empty or no column: no expression overlay, label neutral
                    level     optional: 0 or normal, 1 or strong (default 0); a column named
                              `intensity` (RAVDESS' normal/strong) is read as the level too
                    split     optional: train, validation or test for this recording
    DIR/<file>      the recordings

Targets: every recording is force-aligned to its text (`speech_alignment`, pocketsphinx 5,
offline), in a process pool, and the phones become [T, 52] ARKit targets (`speech_targets`).
Recordings whose audio is unreadable, whose text is empty or does not align are skipped and
listed in summary.json with the reason (`--strict`: the build stops at the first).

Labels: emotions are the synthetic corpus's seven (so builds can be mixed), levels
("normal", "strong"); sentences: one content id per distinct normalised text (its words),
shared by every speaker, emotion and corpus that says it, so the training triplets (same
speaker, same text, another emotion: RAVDESS, TESS) are found; speakers as written, or
`<root folder name>/<speaker>` when several roots are given.

Splits (train, validation, test): the `split` column where a row has one, else
`--validation-speakers` / `--test-speakers` (speaker names as in the records), else train.
"""

from __future__ import annotations

import collections
import csv
import dataclasses
import multiprocessing
import os
import shutil
import tempfile
import weakref
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from data_pipelines.records.builder import ClipDatasetBuilder
from data_pipelines.records.clips import Catalog, ClipSource, SkippedFile
from data_pipelines.sources import pronunciations, speech_targets
from data_pipelines.sources.synth import expressions
from voiceemo_jax.arkit import NUM_BLENDSHAPES
from voiceemo_jax.errors import UserError

INDEX_FILE = "index.tsv"
REQUIRED_COLUMNS = ("file", "speaker", "text")
SPLITS = ("train", "validation", "test")
EMOTIONS = tuple(expressions.EXPRESSIONS)  # angry disgust fear happy neutral sad surprise, as the synthetic corpus
EMOTION_ALIASES = {"fearful": "fear", "surprised": "surprise", "ps": "surprise", "calm": "neutral",
                   "disgusted": "disgust", "anger": "angry", "happiness": "happy", "sadness": "sad"}  # fmt: skip
LEVELS = ("normal", "strong")
LEVEL_NAMES = {"": 0, "0": 0, "normal": 0, "1": 1, "strong": 1}
JOBS_PER_TASK = 8  # recordings per pool task: enough to amortise the hand-off, few enough for a smooth progress bar


@dataclasses.dataclass(frozen=True)
class Recording:
    """One index.tsv row, checked: labels resolved, speaker qualified, words of the text."""

    audio_path: Path
    clip_id: str
    speaker: str
    text: str
    words: tuple[str, ...]
    emotion: str | None
    level: int
    split: str | None


def _resolve_emotion(value: str) -> str | None:
    name = value.strip().lower()
    if not name:
        return None
    name = EMOTION_ALIASES.get(name, name)
    if name not in EMOTIONS:
        raise ValueError(f"unknown emotion {value!r} (known: {', '.join(EMOTIONS)} and {', '.join(EMOTION_ALIASES)})")
    return name


def _resolve_level(value: str) -> int:
    name = value.strip().lower()
    if name not in LEVEL_NAMES:
        raise ValueError(f"unknown level {value!r} (0 or normal, 1 or strong)")
    return LEVEL_NAMES[name]


def read_index(root: str | Path, prefix: str = "") -> tuple[list[dict], list[SkippedFile]]:
    """ROOT/index.tsv -> (rows as dicts with the path resolved, rows skipped for malformed labels).

    Raises:
      UserError: no index.tsv, or it lacks a required column.
    """
    root = Path(root)
    path = root / INDEX_FILE
    try:
        with open(path, newline="", encoding="utf-8") as file:
            reader = csv.DictReader(file, delimiter="\t", quoting=csv.QUOTE_NONE)
            columns = reader.fieldnames or []
            raw = list(reader)
    except FileNotFoundError:
        raise UserError(
            f"--root {root}: no {INDEX_FILE} (tab-separated: file, speaker, text[, emotion, level])"
        ) from None
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise UserError(f"{path}: unreadable ({error})") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise UserError(f"{path}: missing column(s) {', '.join(missing)} (has {', '.join(columns) or 'none'})")
    level_column = "level" if "level" in columns else "intensity" if "intensity" in columns else None
    rows, skipped = [], []
    for line, row in enumerate(raw, start=2):
        file = (row.get("file") or "").strip()
        audio_path = root / file
        try:
            if not file or not (row.get("speaker") or "").strip():
                raise ValueError("empty file or speaker")
            split = (row.get("split") or "").strip() or None
            if split is not None and split not in SPLITS:
                raise ValueError(f"unknown split {split!r} (train, validation or test)")
            rows.append({
                "audio_path": audio_path,
                "clip_id": prefix + Path(file).with_suffix("").as_posix(),
                "speaker": prefix + row["speaker"].strip(),
                "text": (row.get("text") or "").strip(),
                "emotion": _resolve_emotion(row.get("emotion") or ""),
                "level": _resolve_level(row.get(level_column) or "") if level_column else 0,
                "split": split,
            })  # fmt: skip
        except ValueError as error:
            skipped.append(SkippedFile(str(audio_path), f"{INDEX_FILE} line {line}: {error}"))
    return rows, skipped


def read_recordings(roots: Sequence[str | Path]) -> tuple[list[Recording], list[SkippedFile]]:
    """Every root's rows with their words (numbers spelled out); empty texts are skipped here."""
    names = [Path(root).resolve().name for root in roots]
    if len(set(names)) != len(names):
        raise UserError(f"--root folders need distinct names (they qualify the speakers), got {names}")
    rows, skipped = [], []
    for root, name in zip(roots, names):
        root_rows, root_skipped = read_index(root, prefix=f"{name}/" if len(roots) > 1 else "")
        rows += root_rows
        skipped += root_skipped
    duplicates = sorted(i for i, n in collections.Counter(row["clip_id"] for row in rows).items() if n > 1)
    if duplicates:
        raise UserError(f"{INDEX_FILE}: recordings listed twice: {', '.join(duplicates[:5])}")
    recordings = []
    for row, words in zip(rows, pronunciations.words_of([row["text"] for row in rows])):
        if not words:
            skipped.append(SkippedFile(str(row["audio_path"]), "empty text (no words to align)"))
            continue
        recordings.append(Recording(words=tuple(words), **row))
    return recordings, skipped


def _split_of(recording: Recording, validation: frozenset[str], test: frozenset[str]) -> str:
    if recording.split is not None:
        return recording.split
    return "validation" if recording.speaker in validation else "test" if recording.speaker in test else "train"


def scan(
    roots: Sequence[str | Path],
    *,
    validation_speakers: Sequence[str] = (),
    test_speakers: Sequence[str] = (),
    strict: bool = False,
    workers: int | None = None,
    check_match: bool = True,
    progress: bool = True,
) -> Catalog:
    """Reads the roots' indices, aligns every recording (in `workers` processes) and lists the clips.

    The targets are written to a temporary folder that lives as long as the returned catalog.

    Raises:
      UserError: a malformed index, an unknown speaker in the split lists, or (`strict`) the
        first recording that would be skipped.
    """
    from tqdm import tqdm

    recordings, skipped = read_recordings(roots)
    if strict and skipped:
        raise UserError(f"{skipped[0].path}: {skipped[0].reason} (--strict)")
    speakers = tuple(sorted({r.speaker for r in recordings}))
    validation, test = frozenset(validation_speakers), frozenset(test_speakers)
    unknown = sorted((validation | test) - set(speakers))
    if unknown:
        raise UserError(f"speaker(s) {', '.join(unknown)} not in the index (speakers: {', '.join(speakers[:20])})")
    if validation & test:
        raise UserError(f"speaker(s) {', '.join(sorted(validation & test))} both in validation and test")

    extra, unpronounceable = pronunciations.missing_pronunciations(w for r in recordings for w in r.words)
    work = Path(tempfile.mkdtemp(prefix="voiceemo-speech-targets-"))
    jobs = [
        speech_targets.TargetJob(
            clip_id=r.clip_id,
            audio_path=r.audio_path,
            words=r.words,
            emotion=r.emotion,
            level=r.level,
            target_path=work / f"{i:06d}.npy",
        )
        for i, r in enumerate(recordings)
    ]
    reasons: list[str | None] = [None] * len(jobs)
    todo = []
    for i, recording in enumerate(recordings):
        lacking = sorted(set(recording.words) & set(unpronounceable))
        if lacking:
            reasons[i] = f"alignment failed: no pronunciation for {', '.join(lacking)}"
        else:
            todo.append(i)
    try:
        _align_all(jobs, todo, reasons, extra, check_match, workers, strict, progress, tqdm)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise

    # One content id per distinct word sequence among the aligned recordings (punctuation and case aside).
    sentence_texts = {}
    for recording, reason in zip(recordings, reasons):
        if reason is None:
            sentence_texts.setdefault(" ".join(recording.words), recording.text)
    sentence_ids = {key: i for i, key in enumerate(sorted(sentence_texts))}
    clips = []
    for recording, job, reason in zip(recordings, jobs, reasons):
        if reason is not None:
            skipped.append(SkippedFile(str(recording.audio_path), reason))
            continue
        clips.append(
            ClipSource(
                clip_id=recording.clip_id,
                split=_split_of(recording, validation, test),
                audio_path=recording.audio_path,
                target_path=job.target_path,
                person=speakers.index(recording.speaker),
                emotion=EMOTIONS.index(recording.emotion or "neutral"),
                level=recording.level,
                content=sentence_ids[" ".join(recording.words)],
            )
        )
    if strict and skipped:
        shutil.rmtree(work, ignore_errors=True)
        raise UserError(f"{skipped[0].path}: {skipped[0].reason} (--strict)")
    catalog = Catalog(
        dataset=SpeechCorpus.name,
        split_names=SPLITS,
        emotions=EMOTIONS,
        levels=LEVELS,
        speakers=speakers,
        sentences={sentence_ids[key]: text for key, text in sentence_texts.items()},
        target_dim=NUM_BLENDSHAPES,
        target_kind="arkit",
        has_emotion_pairs=True,
        clips=clips,
        skipped=skipped,
    )
    # The targets are needed until the build has read them: delete them with the catalog.
    weakref.finalize(catalog, shutil.rmtree, work, True)
    return catalog


def _align_all(jobs, todo, reasons, extra, check_match, workers, strict, progress, tqdm) -> None:
    """Fills reasons[i] for each i in todo (None: the target was written); stops at a failure when strict."""
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
    batches = [todo[i : i + JOBS_PER_TASK] for i in range(0, len(todo), JOBS_PER_TASK)]
    with tqdm(total=len(todo), unit="clip", desc="align", disable=not progress or not todo) as bar:

        def record(batch, batch_reasons):
            for i, reason in zip(batch, batch_reasons):
                reasons[i] = reason
                if strict and reason is not None:
                    raise UserError(f"{jobs[i].audio_path}: {reason} (--strict)")
            bar.update(len(batch))

        if workers == 1:
            speech_targets.init_worker(extra, check_match)
            for batch in batches:
                record(batch, speech_targets.align_batch([jobs[i] for i in batch]))
            return
        # spawn: workers start clean (no TensorFlow or threads inherited from this process).
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=speech_targets.init_worker,
                                 initargs=(extra, check_match)) as pool:  # fmt: skip
            futures = [(batch, pool.submit(speech_targets.align_batch, [jobs[i] for i in batch])) for batch in batches]
            try:
                for batch, future in futures:
                    record(batch, future.result())
            except BaseException:
                for _, future in futures:
                    future.cancel()
                raise


class SpeechCorpus(ClipDatasetBuilder, skip_registration=True):
    """Real recordings with transcripts, targets from forced alignment (see the module docstring)."""

    name = "voiceemo_speech"
    DESCRIPTION = "Real speech (16 kHz) with ARKit targets at 30 fps from forced-aligned phones and emotion labels."
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Put the recordings and an index.tsv (file, speaker, text[, emotion, level]) in a folder, then run
    `voiceemo data build --dataset speech --root DIR --out OUT`.
    """
