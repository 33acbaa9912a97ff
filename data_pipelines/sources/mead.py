"""MEAD audio with captured ARKit targets -> records.

Layout (SPEC section 7):

    AUDIO_ROOT/M003/audio/angry/level_1/001.m4a      AAC, 48 kHz
    TARGETS/M003/audio/angry/level_1/001.npy         [T, 52] at 30 fps (exact mirror), or
    TARGETS/M003/angry/level_1/001.npy               (the same without the audio/ level)

8 emotions (angry, contempt, disgusted, fear, happy, neutral, sad, surprised), 3
levels (neutral has level_1 only). MEAD ships no 3D targets: they come from a capture
tool, one file per clip, found by mirroring the clip's path.

Labels: emotion = index in EMOTIONS, level = n - 1, person = index of the actor in the
sorted list of actors found, content = NNN as numbered in the file name. MEAD numbers
sentences per emotion (a few shared, most emotion-specific), so "same content" pairs
are only as good as that numbering; the triplet sampler pairs equal numbers.

Default split by actor: actors are grouped by gender (the M / W prefix) and sorted; in
each group the last actor is test and the one before it validation, the rest train
(with the full 48 actors: 44 train, 2 validation, 2 test). --validation-actors and
--test-actors override it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from data_pipelines.records.builder import ClipDatasetBuilder
from data_pipelines.records.clips import Catalog, ClipSource, SkippedFile
from voiceemo_jax.arkit import NUM_BLENDSHAPES
from voiceemo_jax.errors import UserError

EMOTIONS = ("angry", "contempt", "disgusted", "fear", "happy", "neutral", "sad", "surprised")
LEVELS = ("level_1", "level_2", "level_3")
AUDIO_SUFFIX = ".m4a"

_ACTOR = re.compile(r"^[MW]\d{3}$")
_LEVEL = re.compile(r"^level_([123])$")
_SENTENCE = re.compile(r"^(\d{3})$")


def parse_mead_path(relative: Path) -> tuple[str, str, int, int]:
    """'M003/audio/angry/level_2/014.m4a' -> ('M003', 'angry', 1, 14): actor, emotion, 0-based level, sentence.

    Raises:
      ValueError: the path does not have MEAD's layout, or a part is out of vocabulary.
    """
    parts = relative.parts
    if len(parts) != 5 or parts[1] != "audio" or relative.suffix.lower() != AUDIO_SUFFIX:
        raise ValueError(f"malformed MEAD path {relative} (expected <actor>/audio/<emotion>/level_<n>/<NNN>.m4a)")
    actor, _, emotion, level, _ = parts
    if not _ACTOR.match(actor):
        raise ValueError(f"malformed MEAD path {relative}: actor {actor!r} is not M/W + 3 digits")
    if emotion not in EMOTIONS:
        raise ValueError(f"malformed MEAD path {relative}: unknown emotion {emotion!r}")
    level_match = _LEVEL.match(level)
    if level_match is None:
        raise ValueError(f"malformed MEAD path {relative}: {level!r} is not level_1, level_2 or level_3")
    sentence = _SENTENCE.match(relative.stem)
    if sentence is None:
        raise ValueError(f"malformed MEAD path {relative}: file name {relative.name!r} is not NNN{AUDIO_SUFFIX}")
    return actor, emotion, int(level_match.group(1)) - 1, int(sentence.group(1))


def default_actor_split(actors: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(validation, test) actors: per gender group, the second-last and the last (see module docstring)."""
    validation, test = [], []
    for gender in ("M", "W"):
        group = sorted(a for a in actors if a.startswith(gender))
        if group:
            test.append(group[-1])
        if len(group) >= 2:
            validation.append(group[-2])
    return tuple(validation), tuple(test)


def scan(
    audio_root: str | Path,
    targets_root: str | Path,
    *,
    validation_actors: Iterable[str] | None = None,
    test_actors: Iterable[str] | None = None,
) -> Catalog:
    """Lists MEAD clips under `audio_root` and finds each one's target under `targets_root`."""
    audio_root, targets_root = Path(audio_root), Path(targets_root)
    for folder, flag in ((audio_root, "--audio-root"), (targets_root, "--targets")):
        if not folder.is_dir():
            raise UserError(f"{flag} {folder}: no such folder")
    files = sorted(p for p in audio_root.rglob(f"*{AUDIO_SUFFIX}") if p.is_file())
    if not files:
        raise UserError(f"--audio-root {audio_root}: no {AUDIO_SUFFIX} files (expected <actor>/audio/<emotion>/...)")
    skipped, parsed = [], []
    for path in files:
        try:
            parsed.append((path, *parse_mead_path(path.relative_to(audio_root))))
        except ValueError as error:
            skipped.append(SkippedFile(str(path), str(error)))
    speakers = tuple(sorted({actor for _, actor, *_ in parsed}))
    default_validation, default_test = default_actor_split(speakers)
    validation_actors = default_validation if validation_actors is None else tuple(validation_actors)
    test_actors = default_test if test_actors is None else tuple(test_actors)
    if set(validation_actors) & set(test_actors):
        raise UserError(f"actors {sorted(set(validation_actors) & set(test_actors))} are in validation and test")
    clips = []
    for path, actor, emotion, level, sentence in parsed:
        relative = path.relative_to(audio_root).with_suffix(".npy")
        candidates = (targets_root / relative, targets_root / actor / Path(*relative.parts[2:]))
        target = next((c for c in candidates if c.is_file()), None)
        if target is None:
            skipped.append(SkippedFile(str(path), f"missing target: neither {candidates[0]} nor {candidates[1]}"))
            continue
        split = "test" if actor in test_actors else "validation" if actor in validation_actors else "train"
        clips.append(
            ClipSource(
                clip_id=f"{actor}_{emotion}_level_{level + 1}_{sentence:03d}",
                split=split,
                audio_path=path,
                target_path=target,
                person=speakers.index(actor),
                emotion=EMOTIONS.index(emotion),
                level=level,
                content=sentence,
            )
        )
    return Catalog(
        dataset=Mead.name,
        split_names=("train", "validation", "test"),
        emotions=EMOTIONS,
        levels=LEVELS,
        speakers=speakers,
        sentences={},
        target_dim=NUM_BLENDSHAPES,
        target_kind="arkit",
        has_emotion_pairs=True,
        clips=clips,
        skipped=skipped,
    )


class Mead(ClipDatasetBuilder, skip_registration=True):
    """MEAD audio + captured ARKit targets (see the module docstring)."""

    name = "mead"
    DESCRIPTION = "MEAD emotional speech (16 kHz, from AAC) with 52 ARKit blendshape targets at 30 fps."
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Download MEAD's per-actor audio archives (M003/audio.tar ...) and unpack them so that
    AUDIO_ROOT/M003/audio/angry/level_1/001.m4a exists. Capture [T, 52] 30 fps ARKit
    coefficients for each clip and save them mirroring the audio tree with .npy files.
    Then run `voiceemo data build --dataset mead --audio-root AUDIO_ROOT --targets TARGETS --out OUT`.
    """
