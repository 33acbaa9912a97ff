"""The built-in sentence list and its fixed split."""

from __future__ import annotations

import collections
import re

import pytest

from data_pipelines.sources.synth.sentences import SENTENCES, sentence_records, split_of


def test_at_least_200_distinct_plain_sentences_of_4_to_12_words():
    assert len(SENTENCES) >= 200
    assert len({s.lower() for s in SENTENCES}) == len(SENTENCES)
    for sentence in SENTENCES:
        assert 4 <= len(sentence.split()) <= 12, sentence
        # festival reads digits, abbreviations and quotes unpredictably: none allowed.
        assert re.fullmatch(r"[A-Z][A-Za-z ,'\-]*[.?!]", sentence), sentence


def test_split_is_80_10_10_and_every_prefix_of_ten_holds_all_splits():
    counts = collections.Counter(split_of(i) for i in range(len(SENTENCES)))
    assert counts["validation"] >= 20 and counts["test"] >= 20
    assert abs(counts["train"] / len(SENTENCES) - 0.8) < 0.02
    for n in range(10, len(SENTENCES) + 1):
        assert {split_of(i) for i in range(n)} == {"train", "validation", "test"}


def test_split_depends_only_on_the_id():
    assert [r["split"] for r in sentence_records([9, 8, 0])] == ["test", "validation", "train"]
    assert sentence_records([5])[0]["text"] == SENTENCES[5]
    with pytest.raises(ValueError):
        split_of(len(SENTENCES))
