"""Which real recordings are held out of training, and how their emotion labels map to the model's 7.

The real-speech folder (each corpus a folder with `index.tsv`: `file`, `speaker`, `text`, optional
`emotion`) is split once, here, so training data preparation and `benchmarks/real_speech.py` agree:

- RAVDESS: actors HELD_OUT_RAVDESS_ACTORS (19 and 20) are never trained on; emotion test set.
- TESS: the words at positions 9, 19, 29, ... of the sorted list of the 200 TESS words (20 words,
  both speakers, all 7 emotions: 280 clips) are never trained on; emotion test set.
- CMU ARCTIC: speakers HELD_OUT_ARCTIC_SPEAKERS (slt, bdl) are never trained on; lip-sync test set
  (phones from the forced aligner).
- LJSpeech: never trained on; lip-sync test set (its phone TextGrids).

Emotions: the 7 classes are angry, disgust, fear, happy, neutral, sad, surprise. RAVDESS "calm"
has no class of its own: it is trained as neutral (RAVDESS describes it as a subdued neutral) and
left out of the emotion test (it would only measure the calm/neutral merge). Synonyms ("fearful",
"surprised", TESS "ps") map onto the 7 names.
"""

from __future__ import annotations

import csv
import dataclasses
import re
from pathlib import Path

EMOTIONS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
EMOTION_SYNONYMS = {"fearful": "fear", "surprised": "surprise", "ps": "surprise", "disgusted": "disgust"}
HELD_OUT_RAVDESS_ACTORS = ("19", "20")
HELD_OUT_ARCTIC_SPEAKERS = ("slt", "bdl")
TESS_HELD_OUT_EVERY = 10  # every 10th word of the sorted word list, starting at index 9


@dataclasses.dataclass(frozen=True)
class Recording:
    """One row of a corpus' index.tsv; `path` is absolute, `emotion` one of EMOTIONS, "calm" or None."""

    corpus: str
    path: Path
    speaker: str
    text: str
    emotion: str | None
    intensity: str | None = None


def canonical_emotion(label: str | None) -> str | None:
    """An index.tsv emotion -> one of EMOTIONS, "calm", or None (no label)."""
    if not label:
        return None
    label = EMOTION_SYNONYMS.get(label.strip().lower(), label.strip().lower())
    if label not in (*EMOTIONS, "calm"):
        raise ValueError(f"unknown emotion {label!r}")
    return label


def read_index(folder: str | Path) -> list[Recording]:
    """FOLDER/index.tsv -> its recordings (the folder's name is the corpus name)."""
    folder = Path(folder)
    with open(folder / "index.tsv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [
        Recording(
            corpus=folder.name,
            path=folder / row["file"],
            speaker=row["speaker"],
            text=row["text"],
            emotion=canonical_emotion(row.get("emotion")),
            intensity=row.get("intensity") or None,
        )
        for row in rows
    ]


def tess_word(text: str) -> str:
    """ "Say the word back." -> "back"."""
    words = re.findall(r"[a-z']+", text.lower())
    if not words:
        raise ValueError(f"no word in TESS text {text!r}")
    return words[-1]


def held_out_tess_words(recordings: list[Recording]) -> frozenset[str]:
    """The fixed TESS test words: every TESS_HELD_OUT_EVERY-th of the sorted distinct words."""
    words = sorted({tess_word(r.text) for r in recordings})
    return frozenset(words[TESS_HELD_OUT_EVERY - 1 :: TESS_HELD_OUT_EVERY])


def is_held_out(recording: Recording, tess_test_words: frozenset[str] = frozenset()) -> bool:
    """True for a recording that training must not see (module docstring)."""
    corpus = recording.corpus
    if corpus == "ravdess":
        return recording.speaker.zfill(2) in HELD_OUT_RAVDESS_ACTORS
    if corpus == "tess":
        return tess_word(recording.text) in tess_test_words
    if corpus == "cmu_arctic":
        return recording.speaker in HELD_OUT_ARCTIC_SPEAKERS
    return corpus == "ljspeech"


def training_emotion(recording: Recording) -> str:
    """The emotion a training record gets: calm -> neutral, no label -> neutral (read speech)."""
    if recording.emotion in (None, "calm"):
        return "neutral"
    return recording.emotion
