"""RAVDESS speech with 3D-ETF-style ARKit targets -> records.

Layout (SPEC section 7):

    AUDIO_ROOT/Actor_01/03-01-05-02-01-01-01.wav     48 kHz speech clips, 60 per actor
    TARGETS/.../01-01-05-02-01-01-01.npy             [T, 52] float at 30 fps, one per clip

File names are MM-VV-EE-II-SS-RR-AA: modality (01 audio-video, 02 video, 03 audio),
vocal channel (01 speech, 02 song), emotion (01 neutral ... 08 surprised), intensity
(01 normal, 02 strong; neutral has only normal), statement (01 "Kids are talking by the
door", 02 "Dogs are sitting by the door"), repetition, actor (01-24).

A target is matched to its clip on emotion, intensity, statement, repetition and actor:
3D-ETF's targets were captured from the audio-video files (`01-...`), the audio is the
audio-only file (`03-...`). If two targets claim the same clip (say `01-` and `02-`),
the first by file name is used and the other is listed as excluded.

Labels: emotion = EE - 1, level = II - 1, person = AA - 1 (speakers Actor_01..Actor_24,
whatever subset is present), content = SS (1 or 2). Split by actor, default 01-20
train, 21-22 validation, 23-24 test.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from pathlib import Path

from data_pipelines.records.builder import ClipDatasetBuilder
from data_pipelines.records.clips import Catalog, ClipSource, SkippedFile
from voiceemo_jax.arkit import NUM_BLENDSHAPES
from voiceemo_jax.errors import UserError

EMOTIONS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
LEVELS = ("normal", "strong")
SPEAKERS = tuple(f"Actor_{n:02d}" for n in range(1, 25))
SENTENCES = {1: "Kids are talking by the door", 2: "Dogs are sitting by the door"}
DEFAULT_VALIDATION_ACTORS = (21, 22)
DEFAULT_TEST_ACTORS = (23, 24)

_NAME = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")
_ACTOR_FOLDER = re.compile(r"^Actor_(\d\d)$")
# Valid ranges of the seven fields, in file-name order.
_FIELD_RANGES = (("modality", 1, 3), ("vocal channel", 1, 2), ("emotion", 1, 8), ("intensity", 1, 2),
                 ("statement", 1, 2), ("repetition", 1, 2), ("actor", 1, 24))  # fmt: skip


@dataclasses.dataclass(frozen=True)
class RavdessName:
    """The seven fields of a RAVDESS file name, as the integers written in it (1-based)."""

    modality: int
    vocal_channel: int
    emotion: int
    intensity: int
    statement: int
    repetition: int
    actor: int

    @property
    def match_key(self) -> tuple[int, int, int, int, int]:
        """The fields a target and its clip share (modality differs: targets come from the video)."""
        return (self.emotion, self.intensity, self.statement, self.repetition, self.actor)


def parse_ravdess_name(stem: str) -> RavdessName:
    """'03-01-05-02-01-01-12' -> RavdessName(3, 1, 5, 2, 1, 1, 12).

    Raises:
      ValueError: not seven two-digit fields, a field out of its range, or a neutral
        clip at strong intensity (RAVDESS has none).
    """
    match = _NAME.match(stem)
    if match is None:
        raise ValueError(f"malformed RAVDESS file name {stem!r} (expected MM-VV-EE-II-SS-RR-AA)")
    values = [int(v) for v in match.groups()]
    for value, (field, low, high) in zip(values, _FIELD_RANGES):
        if not low <= value <= high:
            raise ValueError(f"malformed RAVDESS file name {stem!r}: {field} {value:02d} not in {low:02d}-{high:02d}")
    name = RavdessName(*values)
    if name.emotion == 1 and name.intensity == 2:
        raise ValueError(f"malformed RAVDESS file name {stem!r}: neutral has no strong intensity")
    return name


def actor_split(actor: int, validation_actors: Iterable[int], test_actors: Iterable[int]) -> str:
    if actor in set(test_actors):
        return "test"
    if actor in set(validation_actors):
        return "validation"
    return "train"


def scan(
    audio_root: str | Path,
    targets_root: str | Path,
    *,
    validation_actors: Iterable[int] = DEFAULT_VALIDATION_ACTORS,
    test_actors: Iterable[int] = DEFAULT_TEST_ACTORS,
) -> Catalog:
    """Lists the clips under `audio_root` and matches each to its target under `targets_root`."""
    audio_root, targets_root = Path(audio_root), Path(targets_root)
    validation_actors, test_actors = tuple(validation_actors), tuple(test_actors)
    for folder, flag in ((audio_root, "--audio-root"), (targets_root, "--targets")):
        if not folder.is_dir():
            raise UserError(f"{flag} {folder}: no such folder")
    if set(validation_actors) & set(test_actors):
        raise UserError(f"actors {sorted(set(validation_actors) & set(test_actors))} are in validation and test")
    skipped, excluded = [], []
    targets = _index_targets(targets_root, excluded)
    clips = []
    wavs = sorted(p for p in audio_root.rglob("*") if p.is_file() and p.suffix.lower() == ".wav")
    if not wavs:
        raise UserError(f"--audio-root {audio_root}: no .wav files (expected Actor_XX/MM-VV-EE-II-SS-RR-AA.wav)")
    for path in wavs:
        try:
            name = parse_ravdess_name(path.stem)
        except ValueError as error:
            skipped.append(SkippedFile(str(path), str(error)))
            continue
        folder = _ACTOR_FOLDER.match(path.parent.name)
        if folder and int(folder.group(1)) != name.actor:
            reason = f"malformed file name: it says actor {name.actor:02d} but is in {path.parent.name}"
            skipped.append(SkippedFile(str(path), reason))
            continue
        if name.vocal_channel != 1:
            excluded.append(SkippedFile(str(path), "song (vocal channel 02): only speech clips are built"))
            continue
        target = targets.get(name.match_key)
        if target is None:
            fields = "-".join(path.stem.split("-")[2:])
            skipped.append(SkippedFile(str(path), f"missing target: no *-*-{fields}.npy under {targets_root}"))
            continue
        clips.append(
            ClipSource(
                clip_id=path.stem,
                split=actor_split(name.actor, validation_actors, test_actors),
                audio_path=path,
                target_path=target,
                person=name.actor - 1,
                emotion=name.emotion - 1,
                level=name.intensity - 1,
                content=name.statement,
            )
        )
    return Catalog(
        dataset=Ravdess.name,
        split_names=("train", "validation", "test"),
        emotions=EMOTIONS,
        levels=LEVELS,
        speakers=SPEAKERS,
        sentences=dict(SENTENCES),
        target_dim=NUM_BLENDSHAPES,
        target_kind="arkit",
        has_emotion_pairs=True,
        clips=clips,
        skipped=skipped,
        excluded=excluded,
    )


def _index_targets(targets_root: Path, excluded: list) -> dict[tuple, Path]:
    """match key -> target path, for every well-named .npy under `targets_root`.

    Targets are not clips: a badly named one is listed as excluded, and the clip it may
    have belonged to is then skipped as having no target.
    """
    targets: dict[tuple, Path] = {}
    for path in sorted(p for p in targets_root.rglob("*.npy") if p.is_file()):
        try:
            name = parse_ravdess_name(path.stem)
        except ValueError as error:
            excluded.append(SkippedFile(str(path), f"target ignored: {error}"))
            continue
        if name.match_key in targets:
            excluded.append(SkippedFile(str(path), f"duplicate target for the clip of {targets[name.match_key]}"))
            continue
        targets[name.match_key] = path
    return targets


class Ravdess(ClipDatasetBuilder, skip_registration=True):
    """RAVDESS speech + 3D-ETF ARKit targets (see the module docstring)."""

    name = "ravdess"
    DESCRIPTION = "RAVDESS emotional speech (16 kHz) with 52 ARKit blendshape targets at 30 fps."
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Download the RAVDESS speech audio (Audio_Speech_Actors_01-24.zip, zenodo record 1188976)
    and unpack it so that AUDIO_ROOT/Actor_01/03-01-01-01-01-01-01.wav exists. Put the
    3D-ETF (or your own capture's) [T, 52] 30 fps .npy targets under one folder, named
    after their clip (any modality prefix). Then run
    `voiceemo data build --dataset ravdess --audio-root AUDIO_ROOT --targets TARGETS --out OUT`.
    """
