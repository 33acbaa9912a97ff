"""VOCASET in FaceFormer's layout -> records of FLAME vertex offsets.

Layout (SPEC section 7):

    ROOT/wav/FaceTalk_170728_03272_TA_sentence01.wav
    ROOT/vertices_npy/FaceTalk_170728_03272_TA_sentence01.npy    [T60, 3V] at 60 fps
    ROOT/templates.pkl                                            {subject: [V, 3]} pickle

Targets: every 2nd scan (60 -> 30 fps), minus the subject's template, flattened to
[T30, 3V] (V = 5023 in the real data, 15069 values per frame; the builder takes V from
templates.pkl). The template is also stored in every record (`template`, [3V]) so
evaluation can rebuild vertices. templates.pkl is read with `safe_pickle.load_templates`
(numpy arrays only, never arbitrary code).

Standard split (FaceFormer): 8 training subjects use sentences 1-40; the 2 validation
and 2 test subjects use sentences 21-40. Sentences 1-20 of validation/test subjects and
subjects outside the lists are left out and listed under "excluded" in summary.json.
No emotions: every record has emotion "neutral", level 0; content = the sentence number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from data_pipelines.records.builder import ClipDatasetBuilder
from data_pipelines.records.clips import Catalog, ClipSource, SkippedFile
from data_pipelines.sources import safe_pickle
from voiceemo_jax.errors import UserError

TRAIN_SUBJECTS = tuple(
    f"FaceTalk_{s}_TA"
    for s in (
        "170728_03272", "170904_00128", "170725_00137", "170915_00223",
        "170811_03274", "170913_03279", "170904_03276", "170912_03278",
    )
)  # fmt: skip
VALIDATION_SUBJECTS = ("FaceTalk_170811_03275_TA", "FaceTalk_170908_03277_TA")
TEST_SUBJECTS = ("FaceTalk_170809_00138_TA", "FaceTalk_170731_00024_TA")
TRAIN_SENTENCES = range(1, 41)
HELD_OUT_SENTENCES = range(21, 41)
SOURCE_FPS = 60

_NAME = re.compile(r"^(?P<subject>.+)_sentence(?P<sentence>\d\d)$")


def parse_vocaset_name(stem: str) -> tuple[str, int]:
    """'FaceTalk_170728_03272_TA_sentence01' -> ('FaceTalk_170728_03272_TA', 1).

    Raises:
      ValueError: the name is not <subject>_sentenceNN.
    """
    match = _NAME.match(stem)
    if match is None:
        raise ValueError(f"malformed VOCASET file name {stem!r} (expected <subject>_sentenceNN)")
    return match.group("subject"), int(match.group("sentence"))


def scan(
    root: str | Path,
    *,
    validation_subjects: Iterable[str] = VALIDATION_SUBJECTS,
    test_subjects: Iterable[str] = TEST_SUBJECTS,
) -> Catalog:
    """Lists ROOT/wav clips, pairs them with vertices_npy, and loads the templates safely."""
    root = Path(root)
    wav_dir, vertices_dir, templates_path = root / "wav", root / "vertices_npy", root / "templates.pkl"
    for path in (wav_dir, vertices_dir):
        if not path.is_dir():
            raise UserError(f"--root {root}: no {path.name}/ folder (expected FaceFormer's VOCASET layout)")
    if not templates_path.is_file():
        raise UserError(f"--root {root}: no templates.pkl")
    templates = safe_pickle.load_templates(templates_path)
    validation_subjects, test_subjects = tuple(validation_subjects), tuple(test_subjects)
    if set(validation_subjects) & set(test_subjects):
        raise UserError(f"subjects {sorted(set(validation_subjects) & set(test_subjects))} in validation and test")
    held_out = set(validation_subjects) | set(test_subjects)
    train_subjects = tuple(s for s in (*TRAIN_SUBJECTS, *sorted(templates)) if s not in held_out)
    speakers = tuple(dict.fromkeys((*train_subjects, *validation_subjects, *test_subjects)))
    skipped, excluded, clips = [], [], []
    for path in sorted(p for p in wav_dir.iterdir() if p.is_file() and p.suffix.lower() == ".wav"):
        try:
            subject, sentence = parse_vocaset_name(path.stem)
        except ValueError as error:
            skipped.append(SkippedFile(str(path), str(error)))
            continue
        if subject in test_subjects or subject in validation_subjects:
            split = "test" if subject in test_subjects else "validation"
            if sentence not in HELD_OUT_SENTENCES:
                excluded.append(SkippedFile(str(path), f"{split} subjects use sentences 21-40 only"))
                continue
        elif subject in train_subjects and sentence in TRAIN_SENTENCES:
            split = "train"
        else:
            excluded.append(SkippedFile(str(path), f"subject {subject} / sentence {sentence} is in no split"))
            continue
        if subject not in templates:
            skipped.append(SkippedFile(str(path), f"no template for {subject} in templates.pkl"))
            continue
        target = vertices_dir / f"{path.stem}.npy"
        if not target.is_file():
            skipped.append(SkippedFile(str(path), f"missing target {target}"))
            continue
        clips.append(
            ClipSource(
                clip_id=path.stem,
                split=split,
                audio_path=path,
                target_path=target,
                person=speakers.index(subject),
                emotion=0,
                level=0,
                content=sentence,
                template_key=subject,
            )
        )
    num_vertices = next(iter(templates.values())).shape[0]
    return Catalog(
        dataset=Vocaset.name,
        split_names=("train", "validation", "test"),
        emotions=("neutral",),
        levels=("normal",),
        speakers=speakers,
        sentences={},
        target_dim=3 * num_vertices,
        target_kind="vertex_offsets",
        has_emotion_pairs=False,
        clips=clips,
        skipped=skipped,
        excluded=excluded,
        target_fps=SOURCE_FPS,
        templates={subject: template.reshape(-1) for subject, template in templates.items()},
    )


class Vocaset(ClipDatasetBuilder, skip_registration=True):
    """VOCASET (FaceFormer layout) as FLAME vertex offsets (see the module docstring)."""

    name = "vocaset"
    DESCRIPTION = "VOCASET speech (16 kHz) with FLAME vertex offsets from the subject template at 30 fps."
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Obtain VOCASET (voca.is.tue.mpg.de, registration required) and prepare it in
    FaceFormer's layout: ROOT/wav/<Subject>_sentenceNN.wav, ROOT/vertices_npy/<same>.npy
    ([T, 15069] at 60 fps) and ROOT/templates.pkl. Then run
    `voiceemo data build --dataset vocaset --root ROOT --out OUT`.
    """
