"""Cross-reconstruction triplets (SPEC section 4): the sampler alone, and through the input pipeline."""

from __future__ import annotations

import numpy as np
import pytest

from data_pipelines.loading.input_pipeline import make_iterator
from data_pipelines.loading.triplets import draw_triplets


def random_speaker(rng, n=40):
    return rng.integers(0, 4, n), rng.integers(0, 2, n), rng.integers(0, 5, n)


def eligible_anchors(emotion, level, content):
    x12 = (content[:, None] == content[None]) & (emotion[:, None] != emotion[None])
    x21 = (emotion[:, None] == emotion[None]) & (content[:, None] != content[None])
    return set(np.flatnonzero(x12.any(1) & x21.any(1)).tolist())


def test_invariants_over_many_draws():
    rng = np.random.default_rng(0)
    for _ in range(200):
        emotion, level, content = random_speaker(rng)
        rows = draw_triplets(emotion, level, content, rng)
        x11, x12, x21 = rows.T
        assert np.all(content[x11] == content[x12]) and np.all(emotion[x11] != emotion[x12])
        assert np.all(emotion[x21] == emotion[x11]) and np.all(content[x21] != content[x11])
        # Each eligible clip is the anchor exactly once.
        assert sorted(x11.tolist()) == sorted(eligible_anchors(emotion, level, content))
        # X21 has X11's level whenever the speaker has such a clip.
        for a, c in zip(x11, x21):
            same_level_exists = np.any((emotion == emotion[a]) & (content != content[a]) & (level == level[a]))
            assert level[c] == level[a] or not same_level_exists


def test_level_falls_back_only_when_needed():
    # Clip 0: happy/strong, sentence 1. The only happy clip of another sentence is normal-intensity.
    emotion = np.array([2, 2, 4])
    level = np.array([1, 0, 0])
    content = np.array([1, 2, 1])
    rows = draw_triplets(emotion, level, content, np.random.default_rng(0), shuffle=False)
    assert rows.tolist() == [[0, 2, 1]]  # clip 1 has no X12 (no other emotion says sentence 2); clip 2 no X21


def test_partners_are_drawn_uniformly_and_deterministically():
    emotion = np.array([0, 1, 2, 3, 0, 0, 0])
    content = np.array([0, 0, 0, 0, 1, 2, 3])
    level = np.zeros(7, int)
    seen_x12, seen_x21 = set(), set()
    for seed in range(60):
        rows = draw_triplets(emotion, level, content, np.random.default_rng(seed), shuffle=False)
        seen_x12.add(int(rows[0, 1]))
        seen_x21.add(int(rows[0, 2]))
        again = draw_triplets(emotion, level, content, np.random.default_rng(seed), shuffle=False)
        np.testing.assert_array_equal(rows, again)
    assert seen_x12 == {1, 2, 3} and seen_x21 == {4, 5, 6}


def test_no_pairs_no_triplets():
    rows = draw_triplets(np.zeros(5, int), np.zeros(5, int), np.arange(5), np.random.default_rng(0))
    assert rows.shape == (0, 3)


def triplet_signature(batch):
    fields = [batch[k][f] for k in ("x11", "x12", "x21") for f in ("person", "emotion", "level", "content")]
    return [tuple(int(column[i]) for column in fields) for i in range(len(fields[0]))]


def test_pipeline_triplets_hold_the_invariants_over_epochs(synth_build):
    options = dict(bucket_seconds=(0.4, 0.5, 0.7), process_index=0, process_count=1)
    it = make_iterator(synth_build.out, "train", batch_size=4, seed=3, **options)
    per_epoch = it.batches_per_epoch(0)
    assert per_epoch >= 15
    epochs = {0: [], 1: []}
    for _ in range(it.batches_per_epoch(0) + it.batches_per_epoch(1)):
        epoch = it.get_state()["epoch"]
        batch = next(it)
        x11, x12, x21 = batch["x11"], batch["x12"], batch["x21"]
        np.testing.assert_array_equal(x11["person"], x12["person"])
        np.testing.assert_array_equal(x11["person"], x21["person"])
        np.testing.assert_array_equal(x11["content"], x12["content"])
        assert np.all(x11["emotion"] != x12["emotion"])
        np.testing.assert_array_equal(x11["emotion"], x21["emotion"])
        assert np.all(x11["content"] != x21["content"])
        # Every sentence exists at both levels in the synth fixture, so X21's level always matches.
        np.testing.assert_array_equal(x11["level"], x21["level"])
        # The audio and targets are those of the labelled clips (target channel 0 = emotion, 2 = sentence).
        for clip in (x11, x12, x21):
            np.testing.assert_array_equal(clip["targets"][:, 0, 0], clip["emotion"])
            np.testing.assert_array_equal(clip["targets"][:, 0, 2], clip["content"])
            np.testing.assert_array_equal(clip["targets"][:, 0, 1], clip["level"])
        epochs[epoch].extend(triplet_signature(batch))
    assert it.get_state()["epoch"] == 2
    # Drawn afresh: the second epoch pairs differently (and in another order).
    assert epochs[0] != epochs[1] and sorted(epochs[0]) != sorted(epochs[1])


@pytest.mark.parametrize("other_seed", [5])
def test_pipeline_is_deterministic_under_the_seed(synth_build, other_seed):
    def first(seed, n=6):
        it = make_iterator(synth_build.out, "train", batch_size=4, seed=seed, process_index=0, process_count=1)
        return [next(it) for _ in range(n)]

    a, b, c = first(1), first(1), first(other_seed)
    for batch_a, batch_b in zip(a, b):
        for name in batch_a:
            for key in batch_a[name]:
                np.testing.assert_array_equal(batch_a[name][key], batch_b[name][key])
    assert [triplet_signature(x) for x in a] != [triplet_signature(x) for x in c]


def test_self_pairs_train_read_speech_in_one_emotion():
    # Read speech: one emotion, every sentence once, except sentence 3 also read sad.
    emotion = np.array([0, 0, 0, 0, 1])
    content = np.array([0, 1, 2, 3, 3])
    level = np.zeros(5, np.int64)
    assert len(draw_triplets(emotion, level, content, np.random.default_rng(0))) == 1  # only clip 3 (X12: clip 4)
    rows = draw_triplets(emotion, level, content, np.random.default_rng(0), self_pairs=True)
    x11, x12, x21 = rows.T
    assert sorted(x11.tolist()) == [0, 1, 2, 3]  # clip 4 (the only sad clip) has no X21
    for a, b, c in rows:
        assert b == (4 if a == 3 else a)  # a real X12 where one exists, else the anchor itself
        assert emotion[c] == emotion[a] and content[c] != content[a]
