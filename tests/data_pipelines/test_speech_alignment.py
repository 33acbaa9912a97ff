"""The offline forced aligner against festival speech whose phone timings festival reports."""

from __future__ import annotations

import numpy as np
import pytest

from data_pipelines.sources import pronunciations, speech_alignment
from data_pipelines.sources.synth import festival_tts
from tests.synth.conftest import needs_festival

pytestmark = needs_festival
SENTENCES = ("The birch canoe slid on the smooth planks.", "Kids are talking by the door.")
VOICES = ("kal_diphone", "cmu_us_slt_arctic_hts")
# festival's radio phone set where CMUdict (the aligner's) differs.
FESTIVAL_NAMES = {"pau": "sil", "ax": "ah", "axr": "er"}
# Stated tolerance: festival's own boundaries are exact; the aligner works on 10 ms frames.
MEDIAN_ERROR_S, P90_ERROR_S, MIN_MATCHED = 0.020, 0.050, 0.85


@pytest.fixture(scope="module")
def festival_speech():
    """[(request, festival result)] for each sentence in each voice (one festival run)."""
    requests = [festival_tts.TtsRequest(text, voice) for text in SENTENCES for voice in VOICES]
    return list(zip(requests, festival_tts.synthesise_batch(requests)))


@pytest.fixture(scope="module")
def aligner():
    return speech_alignment.Aligner()


def test_phone_boundaries_agree_with_festivals_within_tolerance(festival_speech, aligner):
    for request, tts in festival_speech:
        reference = [(FESTIVAL_NAMES.get(p.name, p.name), p.start, p.end) for p in tts.phones]
        result = aligner.align(tts.samples, request.text)
        errors, matched, total = speech_alignment.boundary_errors(result.phones, reference)
        absolute = np.abs(errors)
        assert matched >= MIN_MATCHED * total, (request, [p.name for p in result.phones])
        assert np.median(absolute) <= MEDIAN_ERROR_S and np.percentile(absolute, 90) <= P90_ERROR_S, (
            request,
            np.median(absolute),
            np.percentile(absolute, 90),
        )
        assert [w.name for w in result.words] == pronunciations.words_of([request.text])[0]
        assert result.match_score > speech_alignment.MIN_MATCH_SCORE


def test_align_gives_contiguous_phone_tuples_over_the_clip(festival_speech):
    request, tts = festival_speech[0]
    phones = speech_alignment.align(tts.samples, request.text)
    name, start, end = phones[1]  # plain (phone, start_s, end_s) tuples
    assert (name, start, end) == (phones[1].name, phones[1].start, phones[1].end)
    assert phones[0].start == 0.0 and phones[-1].end == pytest.approx(len(tts.samples) / 16000, abs=1e-4)
    assert all(a.end == b.start for a, b in zip(phones, phones[1:]))
    assert phones[0].name == phones[-1].name == "sil"
    assert {p.name for p in phones} <= {n.lower() for n in pronunciations.ARPABET} | {"sil"}
    assert [p.name for p in phones if p.name != "sil"][:4] == ["dh", "ah", "b", "er"]


def test_a_text_that_is_not_in_the_audio_does_not_align(festival_speech, aligner):
    _, tts = festival_speech[0]  # "The birch canoe slid on the smooth planks."
    for wrong in ("Please bring me my bag of apples from the market.", "Kids are talking by the door."):
        with pytest.raises(speech_alignment.AlignmentError, match="does not match"):
            aligner.align(tts.samples, wrong)
    with pytest.raises(speech_alignment.AlignmentError, match="empty text"):
        aligner.align(tts.samples, " ... ")


def test_words_spell_numbers_and_unknown_words_get_festival_pronunciations():
    assert pronunciations.words_of(["At sea, March 16, 1908.", "A rifle-shot; don't!"]) == [
        ["at", "sea", "march", "sixteen", "nineteen", "o", "eight"],
        ["a", "rifle", "shot", "don't"],
    ]
    found, unpronounceable = pronunciations.missing_pronunciations(["hello", "zzgrobble", "whittemore's"])
    assert set(found) == {"zzgrobble", "whittemore's"} and not unpronounceable  # hello is in CMUdict
    assert found["zzgrobble"].split()[-3:] == ["B", "AH", "L"]
    assert all(phone in pronunciations.ARPABET for p in found.values() for phone in p.split())


def test_contiguous_fills_gaps_with_silence_and_cuts_at_the_end():
    phones = speech_alignment.contiguous([("ah", 2, 3), ("sil", 5, 2), ("m", 9, 10)], duration=0.15)
    assert phones == (
        ("sil", 0.0, 0.02),
        ("ah", 0.02, 0.05),
        ("sil", 0.05, 0.09),
        ("m", 0.09, 0.15),
    )
