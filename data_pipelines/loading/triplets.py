"""Cross-reconstruction triplets of one speaker (SPEC section 4).

A triplet (X11, X12, X21) of clips by the same speaker:
  X11: content c1, emotion e1 (the anchor)
  X12: content c1, emotion e2 != e1          -> shares what is said with X11
  X21: content c2 != c1, emotion e1          -> shares how it is said with X11

X21 also matches X11's level (intensity) whenever the speaker has such a clip, so the
emotion features being swapped carry the same intensity; only when no clip of that
emotion and level exists with another sentence does X21 fall back to another level of
the same emotion. X12's level is free (it is the "other emotion" anyway).

Every clip is tried as the anchor once per draw; anchors with no X12 or no X21
candidate (e.g. a sentence recorded in a single emotion) are left out of that draw,
unless `self_pairs` is set: then an anchor with no X12 is its own X12 (read speech in
one emotion, as in CMU ARCTIC, still trains through X21's emotion and the content
path: out11 decodes X11's content with X21's emotion, out12 reconstructs X11 itself).
Partners are drawn uniformly among the candidates with the given generator, so a draw
is a pure function of the labels and the generator state.
"""

from __future__ import annotations

import numpy as np


def _pick(candidates: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each row of a boolean [N, N] matrix, a uniformly random True column (-1 if none)."""
    scores = rng.random(candidates.shape)
    scores[~candidates] = -1.0
    choice = scores.argmax(axis=1)
    return np.where(candidates.any(axis=1), choice, -1)


def draw_triplets(
    emotion: np.ndarray,
    level: np.ndarray,
    content: np.ndarray,
    rng: np.random.Generator,
    *,
    shuffle: bool = True,
    self_pairs: bool = False,
) -> np.ndarray:
    """Triplets over one speaker's clips.

    Args:
      emotion, level, content: [N] int labels of the speaker's clips.
      rng: the draw's generator (advanced by the call).
      shuffle: permute the anchors; otherwise they come in clip order.
      self_pairs: an anchor without an X12 candidate is its own X12.
    Returns:
      [M, 3] int64 clip indices (x11, x12, x21), M <= N, one row per usable anchor.
    """
    emotion, level, content = (np.asarray(a).reshape(-1) for a in (emotion, level, content))
    same_content = content[:, None] == content[None, :]
    same_emotion = emotion[:, None] == emotion[None, :]
    same_level = level[:, None] == level[None, :]
    x12_candidates = same_content & ~same_emotion
    x21_any_level = same_emotion & ~same_content
    x21_same_level = x21_any_level & same_level
    # Same level where the speaker has one, otherwise any level of the same emotion.
    x21_candidates = np.where(x21_same_level.any(axis=1, keepdims=True), x21_same_level, x21_any_level)
    x12 = _pick(x12_candidates, rng)
    x21 = _pick(x21_candidates, rng)
    if self_pairs:
        x12 = np.where(x12 >= 0, x12, np.arange(emotion.shape[0]))
    anchors = np.arange(emotion.shape[0])
    if shuffle:
        anchors = rng.permutation(anchors)
    usable = anchors[(x12[anchors] >= 0) & (x21[anchors] >= 0)]
    return np.stack([usable, x12[usable], x21[usable]], axis=1).astype(np.int64)
