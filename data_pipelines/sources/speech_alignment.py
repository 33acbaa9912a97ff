"""Offline forced alignment of a recording to its transcript: phone intervals in seconds.

    from data_pipelines.sources.speech_alignment import align
    phones = align(audio_16k, "Kids are talking by the door")  # [Phone("sil", 0.0, 0.31), Phone("k", ...), ...]

pocketsphinx 5 (its en-us acoustic model and CMUdict, no network) aligns in two passes, as
its own alignment tests do: `set_align_text` + a decode gives the word segmentation,
`set_alignment` + a second decode over the same audio gives the phone (and state) alignment.
Words CMUdict lacks get festival's letter-to-sound pronunciations (`pronunciations.py`).

A transcript that does not belong to the audio is caught two ways: the aligner's beam finds
no path through the words at all, or the forced path scores far below a free phone loop over
the same audio (`match_score`, the log-score difference per second in pocketsphinx's scaled
log units; measured on real speech: correct transcripts 0.02-0.33 over 345 clips of RAVDESS,
TESS, ARCTIC, Cathy and LJSpeech, other sentences of the same corpus -0.14-0.09 where they
align). A sentence differing in a word or two (RAVDESS' "Kids are talking" and "Dogs are
sitting") cannot be told apart this way; it aligns.

Phones are lower-case ARPAbet without stress ("aa", "p", ...), silence and noise "sil"; the
list covers the whole clip without gaps, from 0 to its duration. Timing: pocketsphinx's 10 ms
frames; see BENCHMARKS.md ("Forced aligner") for the error against LJSpeech's reference alignment.
"""

from __future__ import annotations

import difflib
import functools
import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np

from data_pipelines.sources import pronunciations
from voiceemo_jax.timebase import SAMPLE_RATE_HZ

FRAME_SECONDS = 0.01  # pocketsphinx's frame rate: 100 frames per second
SILENCE = "sil"
# Correct transcripts scored at least 0.017 on the real corpora; other sentences mostly below 0.
MIN_MATCH_SCORE = 0.0


class Phone(NamedTuple):
    """One phone interval: (name, start seconds, end seconds); unpacks like a plain tuple."""

    name: str
    start: float
    end: float


class AlignmentError(Exception):
    """The transcript could not be aligned to the audio; the message says why."""


class Alignment(NamedTuple):
    """phones: contiguous from 0 to the clip's end; words: (word, start, end) of the spoken words;
    match_score: forced path against the free phone loop, per second (None when not checked)."""

    phones: tuple[Phone, ...]
    words: tuple[Phone, ...]
    match_score: float | None


def _pcm16(samples: np.ndarray) -> bytes:
    """[num_samples] float32 in [-1, 1] -> 16-bit little-endian PCM, what pocketsphinx decodes."""
    return (np.clip(np.asarray(samples, np.float32), -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def _phone_name(name: str) -> str:
    name = name.lower()
    # SIL, and the noise phones of the filler dictionary (+NSN+, +SPN+ ...), are all silence to a face.
    return SILENCE if name == "sil" or name.startswith("+") else name


def contiguous(segments: Sequence[tuple[str, int, int]], duration: float) -> tuple[Phone, ...]:
    """(name, start frame, frame count) segments -> phones covering [0, duration] without gaps.

    Gaps become silence; a segment running past the end is cut; a final gap is silence too.
    """
    phones: list[Phone] = []

    def extend(name: str, start: float, end: float) -> None:
        if phones and phones[-1].name == SILENCE == name:
            phones[-1] = Phone(SILENCE, phones[-1].start, round(end, 5))  # one silence, not several
        else:
            phones.append(Phone(name, round(start, 5), round(end, 5)))

    cursor = 0.0
    for name, start_frame, frames in segments:
        start = min(start_frame * FRAME_SECONDS, duration)
        end = min((start_frame + frames) * FRAME_SECONDS, duration)
        if end <= cursor:
            continue
        if start > cursor + 1e-9:
            extend(SILENCE, cursor, start)
        extend(name, max(start, cursor), end)
        cursor = end
    if cursor < duration - 1e-9:
        extend(SILENCE, cursor, duration)
    return tuple(phones)


class Aligner:
    """One pocketsphinx decoder pair (forced alignment, and the phone loop for `match_score`).

    Loading the models costs about 0.3 s, so make one per process and align many clips with it.
    Not thread-safe.
    """

    def __init__(self, *, check_match: bool = True, min_match_score: float = MIN_MATCH_SCORE):
        from pocketsphinx import Decoder, get_model_path

        # bestpath=False: pocketsphinx's phone alignment needs it (see its own alignment tests).
        self._decoder = Decoder(lm=None, bestpath=False, loglevel="FATAL")
        self._loop = None
        if check_match:
            phone_lm = get_model_path("en-us/en-us-phone.lm.bin")
            self._loop = Decoder(lm=None, allphone=phone_lm, bestpath=False, loglevel="FATAL")
        self.min_match_score = min_match_score
        self._pronunciations: dict[str, str | None] = {}

    def add_pronunciations(self, pronunciations: Mapping[str, str]) -> None:
        """Adds {word: "PH PH ..."} for words the dictionary lacks (words it has keep their own)."""
        for word, phones in pronunciations.items():
            if self._decoder.lookup_word(word) is None:
                self._decoder.add_word(word, phones, True)

    def _ensure_pronunciations(self, words: Sequence[str]) -> None:
        unknown = sorted({w for w in words if self._decoder.lookup_word(w) is None} - set(self._pronunciations))
        if unknown:
            found = pronunciations.festival_pronunciations(unknown)
            self._pronunciations.update({word: found.get(word) for word in unknown})
            self.add_pronunciations(found)

    def align(self, samples: np.ndarray, text: str) -> Alignment:
        """Aligns a transcript (numbers spelled out, unknown words through festival) to [num_samples] 16 kHz audio."""
        words = pronunciations.words_of([text])[0]
        self._ensure_pronunciations(words)
        return self.align_words(samples, words)

    @staticmethod
    def _decode(decoder, pcm: bytes, hypothesis: bool = True):
        decoder.start_utt()
        decoder.process_raw(pcm, no_search=False, full_utt=True)
        decoder.end_utt()
        # After the phone-alignment pass there is no word hypothesis: asking for one crashes pocketsphinx 5.1.
        return decoder.hyp() if hypothesis else None

    def align_words(self, samples: np.ndarray, words: Sequence[str]) -> Alignment:
        """Aligns dictionary words (see `add_pronunciations`) to [num_samples] float32 audio at 16 kHz.

        Raises:
          AlignmentError: no words, a word without pronunciation, no alignment path, or a
            match score below `min_match_score`.
        """
        if not words:
            raise AlignmentError("empty text: no words to align")
        unknown = sorted({w for w in words if self._decoder.lookup_word(w) is None})
        if unknown:
            raise AlignmentError(f"no pronunciation for {', '.join(unknown)}")
        duration = len(samples) / SAMPLE_RATE_HZ
        pcm = _pcm16(samples)
        self._decoder.set_align_text(" ".join(words))
        forced = self._decode(self._decoder, pcm)
        if forced is None:
            raise AlignmentError("no alignment path (the text does not match the audio, or it is not speech)")
        match = None
        if self._loop is not None:
            free = self._decode(self._loop, pcm)
            if free is not None:
                # Hypothesis scores come back as probabilities (logmath.exp of the scaled log score).
                match = (math.log(max(forced.best_score, 1e-300)) - math.log(max(free.best_score, 1e-300))) / duration
                if match < self.min_match_score:
                    raise AlignmentError(
                        f"the text does not match the audio (match score {match:.3f} per second, "
                        f"below {self.min_match_score})"
                    )
        self._decoder.set_alignment()
        self._decode(self._decoder, pcm, hypothesis=False)
        alignment = self._decoder.get_alignment()
        if alignment is None:
            raise AlignmentError("pocketsphinx returned no phone alignment")
        segments = [(_phone_name(p.name), p.start, p.duration) for p in alignment.phones()]
        word_spans = [
            Phone(
                w.name.split("(")[0],
                round(w.start * FRAME_SECONDS, 5),
                round((w.start + w.duration) * FRAME_SECONDS, 5),
            )
            for w in alignment.words()
            if not w.name.startswith(("<", "[", "+"))
        ]
        return Alignment(contiguous(segments, duration), tuple(word_spans), match)


def boundary_errors(hypothesis, reference) -> tuple[np.ndarray, int, int]:
    """How far an alignment's phone boundaries are from a reference's (benchmarks, tests).

    hypothesis, reference: (name, start_s, end_s) sequences, silence "sil". The speech phones
    of the two are matched by label (difflib, so a word pronounced differently leaves only its
    unmatched phones out). Returns (signed errors in seconds, hypothesis minus reference, of
    the starts and ends of the matched phones; matched phones; reference speech phones).
    """
    hyp = [p for p in hypothesis if p[0] != SILENCE]
    ref = [p for p in reference if p[0] != SILENCE]
    matcher = difflib.SequenceMatcher(a=[p[0] for p in ref], b=[p[0] for p in hyp], autojunk=False)
    errors, matched = [], 0
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            r, h = ref[block.a + k], hyp[block.b + k]
            errors += [h[1] - r[1], h[2] - r[2]]
            matched += 1
    return np.asarray(errors), matched, len(ref)


@functools.cache
def _default_aligner() -> Aligner:
    return Aligner()


def align(audio_16k: np.ndarray, text: str) -> list[Phone]:
    """Phones of `text` spoken in `audio_16k` ([num_samples] float32 at 16 kHz, mono).

    Returns [Phone(name, start_s, end_s)] (plain (phone, start, end) tuples too), contiguous
    from 0 to the clip's duration, lower-case ARPAbet without stress and "sil" for silence.
    One aligner is kept per process (the first call loads the models).

    Raises:
      AlignmentError: empty text, a word nobody can pronounce, or audio the text does not fit.
    """
    return list(_default_aligner().align(audio_16k, text).phones)
