"""The training half of the real-speech folder, as one `index.tsv` the speech builder reads.

    python -m data_pipelines.sources.real_speech_training --data REAL_SPEECH --out DIR [--corpora tess ravdess]

REAL_SPEECH holds one folder per corpus (`tess/`, `ravdess/`, `cmu_arctic/`, `cathy_arctic/`, each with
`index.tsv`: `file`, `speaker`, `text`, optional `emotion`, `intensity`). DIR gets a link to each chosen
corpus folder (nothing is copied) and one `index.tsv` over them for `voiceemo data build --dataset speech
--root DIR`, without the recordings `voiceemo_jax.evaluation.held_out_speech` keeps for testing
(RAVDESS actors 19-20, 20 TESS words, ARCTIC slt and bdl, LJSpeech). Speakers are prefixed with their
corpus (`ravdess_01`), emotions mapped onto the model's 7 (RAVDESS calm -> neutral, no label ->
neutral), RAVDESS intensity kept as the level (normal/strong; TESS: normal).

`--tess-word-step K` keeps every K-th TESS training word (all emotions and both speakers of it) and
`--ravdess-repetitions 1` the first take of each RAVDESS line: a smaller build that aligns faster.

The default corpora are the emotional ones: the training pairs a clip with the same sentence in
another emotion (SPEC section 4), which only TESS and RAVDESS have; read speech in one emotion
(ARCTIC, Cathy) would be built but never drawn.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from data_pipelines.sources.corpus_index import write_tsv
from voiceemo_jax.errors import UserError
from voiceemo_jax.evaluation import held_out_speech as held

CORPORA = ("tess", "ravdess", "cmu_arctic", "cathy_arctic")
DEFAULT_CORPORA = ("tess", "ravdess")


def training_rows(
    data: Path, corpora: list[str], tess_word_step: int = 1, ravdess_repetitions: int = 2
) -> tuple[list[dict], int]:
    """(index.tsv rows of the training recordings, number held out)."""
    rows, held_out = [], 0
    for corpus in corpora:
        if not (data / corpus / "index.tsv").is_file():
            raise UserError(f"--data {data}: no {corpus}/index.tsv")
        recordings = held.read_index(data / corpus)
        tess_words = held.held_out_tess_words(recordings) if corpus == "tess" else frozenset()
        kept_words = None
        if corpus == "tess":
            training_words = sorted({held.tess_word(r.text) for r in recordings} - tess_words)
            kept_words = frozenset(training_words[::tess_word_step])
        for recording in recordings:
            if held.is_held_out(recording, tess_words):
                held_out += 1
                continue
            if kept_words is not None and held.tess_word(recording.text) not in kept_words:
                continue
            # RAVDESS names end in -RR-AA: RR is the take (repetition) of the line.
            if corpus == "ravdess" and int(recording.path.stem.split("-")[5]) > ravdess_repetitions:
                continue
            rows.append({
                "file": f"{corpus}/{recording.path.relative_to(data / corpus).as_posix()}",
                "speaker": f"{corpus}_{recording.speaker}",
                "text": recording.text,
                "emotion": held.training_emotion(recording),
                "level": recording.intensity or "normal",
            })  # fmt: skip
    return rows, held_out


def write_training_root(
    data: str | Path, out: str | Path, corpora: list[str], tess_word_step: int = 1, ravdess_repetitions: int = 2
) -> dict:
    """Links the corpora into OUT and writes OUT/index.tsv; returns {"recordings", "held_out"}."""
    if tess_word_step < 1 or ravdess_repetitions not in (1, 2):
        raise UserError("--tess-word-step must be >= 1 and --ravdess-repetitions 1 or 2")
    data, out = Path(data).resolve(), Path(out)
    rows, held_out = training_rows(data, corpora, tess_word_step, ravdess_repetitions)
    out.mkdir(parents=True, exist_ok=True)
    for corpus in corpora:
        link = out / corpus
        if link.is_symlink() and link.resolve() != (data / corpus):
            link.unlink()
        if not link.exists():
            link.symlink_to(data / corpus, target_is_directory=True)
    write_tsv(out / "index.tsv", rows, ("file", "speaker", "text", "emotion", "level"))
    return {"recordings": len(rows), "held_out": held_out}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, type=Path, help="the real-speech folder (corpora with index.tsv)")
    parser.add_argument("--out", required=True, type=Path, help="folder for the links and index.tsv")
    parser.add_argument("--corpora", nargs="+", choices=CORPORA, default=list(DEFAULT_CORPORA))
    parser.add_argument("--tess-word-step", type=int, default=1, help="keep every K-th TESS training word")
    parser.add_argument("--ravdess-repetitions", type=int, default=2, help="RAVDESS takes per line to keep (1 or 2)")
    args = parser.parse_args(argv)
    try:
        counts = write_training_root(args.data, args.out, args.corpora, args.tess_word_step, args.ravdess_repetitions)
    except UserError as error:
        print(f"real_speech_training: error: {error}", file=sys.stderr)
        return 2
    print(f"{args.out / 'index.tsv'}: {counts['recordings']} training recordings ({counts['held_out']} held out)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
