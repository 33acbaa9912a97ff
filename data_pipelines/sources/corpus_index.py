"""`index.tsv` for a speech corpus as its publishers distribute it, from the corpus' own file names.

    python -m data_pipelines.sources.corpus_index --corpus ravdess --root Audio_Speech_Actors_01-24
    python -m data_pipelines.sources.corpus_index --corpus tess --root TESS
    python -m data_pipelines.sources.corpus_index --corpus cmu_arctic --root cmu_arctic

writes ROOT/index.tsv (`file`, `speaker`, `text`, `emotion`, `intensity`; the layout
`voiceemo data build --dataset speech` and `real_speech_training` read) without touching the audio:

- ravdess: `Actor_XX/03-01-EE-II-SS-RR-AA.wav` (RAVDESS speech, Zenodo): EE the emotion (01 neutral,
  02 calm, 03 happy, 04 sad, 05 angry, 06 fear(ful), 07 disgust, 08 surprise(d)), II the intensity (01
  normal, 02 strong), SS the statement (01 "Kids are talking by the door", 02 "Dogs are sitting by the
  door"), AA the actor. Song files (vocal channel 02) are left out.
- tess: `[folder/]OAF_back_angry.wav` (TESS, University of Toronto Dataverse): speaker, word, emotion
  (angry, disgust, fear, happy, neutral, ps = pleasant surprise, sad); text "Say the word WORD."
- cmu_arctic: `cmu_us_SPK_arctic/wav/arctic_a0001.wav` with `etc/txt.done.data` (festvox.org): the
  prompt of each recording; the speaker from the folder name.

Files whose names do not follow the corpus' scheme are reported and left out.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path

from voiceemo_jax.atomic_files import atomic_path
from voiceemo_jax.errors import UserError

AUDIO_SUFFIXES = (".wav", ".ogg", ".flac", ".mp3", ".m4a")
FIELDS = ("file", "speaker", "text", "emotion", "intensity")
RAVDESS_EMOTIONS = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry", "06": "fear",
                    "07": "disgust", "08": "surprise"}  # fmt: skip
RAVDESS_STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
RAVDESS_INTENSITY = {"01": "normal", "02": "strong"}
TESS_EMOTIONS = ("angry", "disgust", "fear", "happy", "neutral", "ps", "sad")
ARCTIC_PROMPT = re.compile(r'^\(\s*(\S+)\s+"(.*)"\s*\)\s*$')


def write_tsv(path: str | Path, rows: list[dict], fields) -> None:
    """An index.tsv (tab-separated, a header row of `fields`), written whole or not at all."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(fields), delimiter="\t")
        writer.writeheader()
        writer.writerows(rows)


def _audio_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)


def ravdess_rows(root: Path) -> tuple[list[dict], list[str]]:
    rows, unmatched = [], []
    for path in _audio_files(root):
        parts = path.stem.split("-")
        if len(parts) != 7 or parts[1] not in ("01", "02") or parts[2] not in RAVDESS_EMOTIONS:
            unmatched.append(path.relative_to(root).as_posix())
            continue
        if parts[1] == "02":  # song
            continue
        if parts[3] not in RAVDESS_INTENSITY or parts[4] not in RAVDESS_STATEMENTS:
            unmatched.append(path.relative_to(root).as_posix())
            continue
        rows.append({"file": path.relative_to(root).as_posix(), "speaker": parts[6],
                     "text": RAVDESS_STATEMENTS[parts[4]], "emotion": RAVDESS_EMOTIONS[parts[2]],
                     "intensity": RAVDESS_INTENSITY[parts[3]]})  # fmt: skip
    return rows, unmatched


def tess_rows(root: Path) -> tuple[list[dict], list[str]]:
    rows, unmatched = [], []
    for path in _audio_files(root):
        parts = path.stem.split("_")
        emotion = parts[-1].lower() if len(parts) >= 3 else ""
        if emotion not in TESS_EMOTIONS:
            unmatched.append(path.relative_to(root).as_posix())
            continue
        word = " ".join(parts[1:-1]).lower()
        speaker = parts[0].upper()
        speaker = {"OA": "OAF", "YA": "YAF"}.get(speaker, speaker)  # TESS ships one "OA_bite_neutral"
        rows.append({"file": path.relative_to(root).as_posix(), "speaker": speaker,
                     "text": f"Say the word {word}.", "emotion": emotion, "intensity": ""})  # fmt: skip
    return rows, unmatched


def arctic_rows(root: Path) -> tuple[list[dict], list[str]]:
    rows, unmatched = [], []
    prompt_files = sorted(root.rglob("txt.done.data"))
    if not prompt_files:
        raise UserError(f"--root {root}: no etc/txt.done.data (the ARCTIC prompts) under it")
    for prompts in prompt_files:
        voice = prompts.parent.parent  # cmu_us_SPK_arctic/etc/txt.done.data
        match = re.match(r"cmu_us_([a-z0-9]+)_arctic", voice.name)
        speaker = match.group(1) if match else voice.name
        text = {}
        for line in prompts.read_text(encoding="utf-8", errors="replace").splitlines():
            m = ARCTIC_PROMPT.match(line.strip())
            if m:
                text[m.group(1)] = m.group(2)
        for path in _audio_files(voice):
            if path.stem not in text:
                unmatched.append(path.relative_to(root).as_posix())
                continue
            rows.append({"file": path.relative_to(root).as_posix(), "speaker": speaker, "text": text[path.stem],
                         "emotion": "", "intensity": ""})  # fmt: skip
    return rows, unmatched


CORPORA = {"ravdess": ravdess_rows, "tess": tess_rows, "cmu_arctic": arctic_rows}


def write_index(corpus: str, root: str | Path) -> dict:
    """Writes ROOT/index.tsv for `corpus`; -> {"recordings": n, "unmatched": [file, ...]}."""
    root = Path(root)
    if corpus not in CORPORA:
        raise UserError(f"--corpus must be one of {sorted(CORPORA)}, got {corpus!r}")
    if not root.is_dir():
        raise UserError(f"--root {root}: not a folder")
    rows, unmatched = CORPORA[corpus](root)
    if not rows:
        raise UserError(f"--root {root}: no {corpus} recording found (names as the corpus ships them)")
    write_tsv(root / "index.tsv", rows, FIELDS)
    return {"recordings": len(rows), "unmatched": unmatched}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", required=True, choices=sorted(CORPORA))
    parser.add_argument("--root", required=True, type=Path, help="the corpus folder as downloaded")
    args = parser.parse_args(argv)
    try:
        result = write_index(args.corpus, args.root)
    except UserError as error:
        print(f"corpus_index: error: {error}", file=sys.stderr)
        return 2
    for name in result["unmatched"][:10]:
        print(f"  left out (name not in the {args.corpus} scheme): {name}", file=sys.stderr)
    if len(result["unmatched"]) > 10:
        print(f"  ... and {len(result['unmatched']) - 10} more", file=sys.stderr)
    print(f"{args.root / 'index.tsv'}: {result['recordings']} recordings ({len(result['unmatched'])} left out)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
