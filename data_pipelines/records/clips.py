"""A dataset's clips before they become records: the catalog, and loading one clip.

Each dataset module scans its folder layout into a `Catalog`: one `ClipSource` per clip
(paths plus labels plus split), the files it had to skip (malformed name, missing
target ...) and the files it left out on purpose (outside the standard split). The
builder then calls `load_example` per clip; the checks that need the data itself
(unreadable audio, too short, target length) raise `ClipSkip` with the reason that
goes into `summary.json`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from data_pipelines.records import preprocessing
from data_pipelines.records.schema import DatasetMetadata
from voiceemo_jax.audio import AudioReadError, NonFiniteAudioError, load_audio
from voiceemo_jax.timebase import FPS, SAMPLE_RATE_HZ, frames_for

# The shortest clip the model accepts: wav2vec2's CNN (kernels 10,3,3,3,3,2,2, strides
# 5,2,2,2,2,2,2) needs 400 samples for one 50 fps frame, and the emotion encoder's
# int(T50 * 3 / 5) resampling needs two of them: 400 + 320 = 720 samples (45 ms).
MIN_AUDIO_SAMPLES = 720


class ClipSkip(Exception):
    """This clip cannot become a record; the message is the reason listed in summary.json."""


@dataclasses.dataclass(frozen=True)
class SkippedFile:
    """A file that did not become a record, and why."""

    path: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}


@dataclasses.dataclass(frozen=True)
class ClipSource:
    """Where one clip's audio and target are, and its labels (indices into the catalog's vocabularies)."""

    clip_id: str
    split: str
    audio_path: Path
    target_path: Path
    person: int
    emotion: int
    level: int
    content: int
    # VOCASET: the key of this clip's subject in `Catalog.templates`.
    template_key: str | None = None


@dataclasses.dataclass
class Catalog:
    """Everything a builder needs: vocabularies, target format, clips and what was set aside.

    `clips` is in the order records are written: by speaker, then clip id, so one
    speaker's records sit together in the shards (the input pipeline relies on it to
    read one speaker at a time).
    """

    dataset: str
    split_names: tuple[str, ...]
    emotions: tuple[str, ...]
    levels: tuple[str, ...]
    speakers: tuple[str, ...]
    sentences: dict[int, str]
    target_dim: int
    target_kind: str
    has_emotion_pairs: bool
    clips: list[ClipSource]
    skipped: list[SkippedFile] = dataclasses.field(default_factory=list)
    excluded: list[SkippedFile] = dataclasses.field(default_factory=list)
    # Frame rate of the target files on disk (VOCASET scans are 60 fps).
    target_fps: int = FPS
    # VOCASET: subject -> flattened [3V] template; targets become offsets from it.
    templates: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        self.clips = sorted(self.clips, key=lambda clip: (clip.person, clip.clip_id))
        ids = [clip.clip_id for clip in self.clips]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{self.dataset}: duplicate clip ids in the catalog")

    def clips_in(self, split: str) -> list[ClipSource]:
        return [clip for clip in self.clips if clip.split == split]

    def metadata(self) -> DatasetMetadata:
        """The vocabularies as written to the build's metadata.json (split sizes filled after the build)."""
        return DatasetMetadata(
            dataset=self.dataset,
            version="",
            builder_dir=Path(),
            emotions=self.emotions,
            levels=self.levels,
            speakers=self.speakers,
            sentences=dict(self.sentences),
            target_dim=self.target_dim,
            target_kind=self.target_kind,
            has_emotion_pairs=self.has_emotion_pairs,
            has_template=bool(self.templates),
            split_sizes={},
        )


def load_example(
    clip: ClipSource,
    catalog: Catalog,
    *,
    min_samples: int = MIN_AUDIO_SAMPLES,
    frame_tolerance: int = preprocessing.FRAME_TOLERANCE,
) -> dict[str, Any]:
    """Decodes and checks one clip -> the record dict of `schema.record_features`.

    Raises:
      ClipSkip: unreadable or non-finite audio or target, audio shorter than
        `min_samples`, a target of the wrong width, or a target length more than
        `frame_tolerance` frames (at 30 fps) away from the audio's.
    """
    # The reader inference uses too: the model trains on exactly the samples it will be served.
    try:
        audio = load_audio(clip.audio_path)
    except NonFiniteAudioError:
        raise ClipSkip("audio has non-finite samples") from None
    except AudioReadError as error:
        raise ClipSkip(f"unreadable audio: {error.reason}") from None
    if audio.shape[0] < min_samples:
        raise ClipSkip(
            f"audio is {audio.shape[0] / SAMPLE_RATE_HZ:.3f} s long, shorter than the minimum "
            f"{min_samples / SAMPLE_RATE_HZ:.3f} s ({min_samples} samples at 16 kHz)"
        )
    targets = _load_target(clip.target_path, catalog.target_dim)
    if catalog.target_fps != FPS:
        targets = preprocessing.decimate_frames(targets, catalog.target_fps, FPS)
    if clip.template_key is not None:
        targets = preprocessing.template_offsets(targets, catalog.templates[clip.template_key])
    num_frames = frames_for(audio.shape[0])
    try:
        targets = preprocessing.fit_frames(targets, num_frames, frame_tolerance)
    except preprocessing.FrameMismatchError as error:
        raise ClipSkip(f"target length mismatch: {error}") from None
    example = {
        "audio": audio,
        "targets": np.ascontiguousarray(targets, dtype=np.float32),
        "num_samples": np.int32(audio.shape[0]),
        "num_frames": np.int32(num_frames),
        "emotion": clip.emotion,
        "level": clip.level,
        "person": clip.person,
        "content": np.int32(clip.content),
        "clip_id": clip.clip_id,
        "dataset": catalog.dataset,
    }
    if catalog.templates:
        example["template"] = catalog.templates[clip.template_key]
    return example


def _load_target(path: Path, target_dim: int) -> np.ndarray:
    """[T, D] float32 from a .npy file; [T, V, 3] vertex arrays are flattened to [T, 3V]."""
    try:
        # allow_pickle=False: a target file is data, never code.
        targets = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ClipSkip(f"missing target {path}") from None
    except (OSError, ValueError, EOFError) as error:
        raise ClipSkip(f"unreadable target {path}: {error}") from None
    if targets.ndim == 3 and targets.shape[2] == 3:
        targets = targets.reshape(targets.shape[0], -1)
    if targets.ndim != 2 or targets.shape[1] != target_dim or targets.dtype.kind not in "fiu":
        raise ClipSkip(f"target {path} has shape {list(targets.shape)} ({targets.dtype}), expected [T, {target_dim}]")
    targets = targets.astype(np.float32)
    if not np.isfinite(targets).all():
        raise ClipSkip(f"target {path} has non-finite values")
    return targets
