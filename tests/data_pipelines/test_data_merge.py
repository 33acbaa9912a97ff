"""Merging builds (`data_pipelines.records.merge`): one vocabulary, every record, labels remapped."""

from __future__ import annotations

import numpy as np
import pytest

from data_pipelines.records import merge, schema
from tests.data_pipelines.data_fixtures import build, read_records, write_synth_corpus
from voiceemo_jax.errors import UserError


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory):
    root = tmp_path_factory.mktemp("merge")
    sentences = ((0, "train"), (1, "train"), (2, "validation"))
    write_synth_corpus(root / "a", voices=(("kal", False),), emotions=("angry", "neutral"), sentences=sentences)
    # The second build knows another emotion, first in its vocabulary, and has a test split of its own.
    write_synth_corpus(root / "b", voices=(("ked", False),), emotions=("sad", "neutral"),
                       sentences=((0, "train"), (1, "test")), levels=(1,))  # fmt: skip
    a = build(["--dataset", "synth", "--root", str(root / "a")], root / "build_a")
    b = build(["--dataset", "synth", "--root", str(root / "b")], root / "build_b")
    summary = merge.merge([a.out, b.out], root / "merged")
    return a, b, root / "merged", summary


def test_merged_vocabularies_and_splits(two_builds):
    a, b, merged, summary = two_builds
    meta = schema.load_metadata(merged)
    assert meta.emotions == ("angry", "neutral", "sad")
    assert meta.levels == ("level_1", "level_2")  # by position: b's only level is its level 0
    assert meta.speakers == ("voiceemo_synth/kal", "voiceemo_synth/ked")
    # b's sentence ids are shifted past a's (0-2): its 0 and 1 become 3 and 4, texts kept.
    assert meta.sentences[3] == "sentence number 0" and meta.sentences[4] == "sentence number 1"
    assert summary["splits"] == {"train": 2 * 2 * 2 + 2, "validation": 2 * 2, "test": 2}
    assert meta.has_emotion_pairs


def test_merged_records_keep_data_and_remap_labels(two_builds):
    a, b, merged, _ = two_builds
    records = {r["clip_id"].decode(): r for r in read_records(schema.find_builder_dir(merged), "train")}
    meta_b = schema.load_metadata(b.out)
    for source in read_records(b.builder_dir, "train"):
        out = records[f"voiceemo_synth/{source['clip_id'].decode()}"]
        np.testing.assert_array_equal(out["audio"], source["audio"])
        np.testing.assert_array_equal(out["targets"], source["targets"])
        assert ("angry", "neutral", "sad")[out["emotion"]] == meta_b.emotions[source["emotion"]]
        assert out["level"] == source["level"] == 0 and out["person"] == 1 and out["content"] == 3 + source["content"]
    assert len(records) == 10


def test_merge_refuses_a_single_build(two_builds, tmp_path):
    a, *_ = two_builds
    with pytest.raises(UserError, match="at least two"):
        merge.merge([a.out], tmp_path / "out")
    assert not (tmp_path / "out").exists()
