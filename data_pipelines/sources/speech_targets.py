"""A real recording and its transcript -> [T, 52] ARKit targets at 30 fps.

The phones of the forced alignment (`speech_alignment`) drive the synthetic corpus's viseme
rules (`synth/visemes.py`); a labelled emotion adds its expression overlay at the level's
strength and changes articulation as in the synthetic corpus (`synth/expressions.py`);
seeded blinks go on the eyelids. A recording without an emotion label gets visemes and
blinks only. The overlay and blinks are seeded by the clip id, so a rebuild gives the same
targets.

TensorFlow-free: `align_batch` runs in the builder's worker processes.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from data_pipelines.sources import speech_alignment
from data_pipelines.sources.synth import expressions, visemes
from voiceemo_jax.arkit import NUM_BLENDSHAPES
from voiceemo_jax.errors import UserError
from voiceemo_jax.timebase import frames_for

# Level index (0 normal, 1 strong) -> the synthetic corpus's expression level (55% and 100% of the pose).
EXPRESSION_LEVELS = (1, 2)


@dataclasses.dataclass(frozen=True)
class TargetJob:
    """One recording to align: its audio, words (dictionary spellings), labels and where the target goes."""

    clip_id: str
    audio_path: Path
    words: tuple[str, ...]
    emotion: str | None  # one of expressions.EXPRESSIONS, or None for no overlay
    level: int  # 0 normal, 1 strong
    target_path: Path


def clip_seed(clip_id: str) -> int:
    """A stable seed from the clip id (crc32: the same on every machine and Python run)."""
    return zlib.crc32(clip_id.encode("utf-8"))


def targets_from_phones(
    phones: Sequence[speech_alignment.Phone], num_frames: int, emotion: str | None, level: int, seed: int
) -> np.ndarray:
    """Phones (contiguous, seconds) + labels -> [num_frames, 52] float32 in [0, 1]."""
    rng = np.random.default_rng(seed)
    if emotion is None:
        articulation, face = 1.0, np.zeros((num_frames, NUM_BLENDSHAPES), np.float32)
    else:
        expression_level = EXPRESSION_LEVELS[level]
        articulation = expressions.articulation_for(emotion, expression_level)
        face = expressions.expression_curves(emotion, expression_level, num_frames, rng)
    mouth, closure = visemes.mouth_and_closure(phones, num_frames, articulation)
    return expressions.compose_targets(mouth, closure, face, expressions.blink_curve(num_frames, rng))


def make_target(job: TargetJob, aligner: speech_alignment.Aligner) -> None:
    """Aligns one recording and saves its targets to job.target_path.

    Raises:
      speech_alignment.AlignmentError: the transcript does not align to the audio.
      UserError: the audio cannot be read.
    """
    from voiceemo_jax.audio import load_audio

    audio = load_audio(job.audio_path)
    phones = aligner.align_words(audio, job.words).phones
    targets = targets_from_phones(phones, frames_for(len(audio)), job.emotion, job.level, clip_seed(job.clip_id))
    job.target_path.parent.mkdir(parents=True, exist_ok=True)
    np.save(job.target_path, targets)


_WORKER_ALIGNER: speech_alignment.Aligner | None = None


def init_worker(pronunciations: Mapping[str, str], check_match: bool) -> None:
    """Process-pool initializer: one aligner per worker, with the build's extra pronunciations."""
    global _WORKER_ALIGNER
    _WORKER_ALIGNER = speech_alignment.Aligner(check_match=check_match)
    _WORKER_ALIGNER.add_pronunciations(pronunciations)


def align_batch(jobs: Sequence[TargetJob]) -> list[str | None]:
    """Makes each job's target in this worker; per job None (done) or the reason it was skipped."""
    reasons: list[str | None] = []
    for job in jobs:
        try:
            make_target(job, _WORKER_ALIGNER)
            reasons.append(None)
        except speech_alignment.AlignmentError as error:
            reasons.append(f"alignment failed: {error}")
        except UserError as error:
            reasons.append(f"unreadable audio: {error}")
    return reasons
