"""One epoch's batches, decided from the clip index alone (no audio is read here).

The plan for (seed, epoch) is a pure function of the split's clip index, so it is the
same after a restart and on every process: an iterator restored to "epoch e, batch b"
recomputes the plan and continues at batch b, producing exactly what an uninterrupted run
would have. With several processes the plan is made once for the global batch (the same
plan on every process, hence the same bucket at every step and the same number of steps
per epoch); `process_slice` then keeps process p's rows [p * B, (p + 1) * B) of every
batch and only the records those rows need.

Order of work (STYLE's tf.data order, with pairing and bucketing done on the index):
  1. speakers, shuffled per epoch, are grouped into reading windows of a few speakers;
  2. within a window, each speaker's clips form items: triplets (`triplets.py`) or
     single clips; the window's items are shuffled together;
  3. each item goes to the smallest bucket that holds its longest clip; a bucket that
     reaches the batch size becomes a batch (items longer than the largest bucket are
     dropped and counted). Buckets fill across windows; partial buckets left at the end
     of the epoch are dropped (each epoch redraws, so no clip is lost for good).
The reader then reads window after window and emits each batch once the window that
completes it is in memory: at most a few speakers' clips are held at a time.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from data_pipelines.loading import bucketing, triplets
from data_pipelines.records.clip_index import ClipIndex

MODES = ("triplet", "single")
# Items per batch row: X11, X12, X21 or one clip.
ITEM_SIZE = {"triplet": 3, "single": 1}


@dataclasses.dataclass(frozen=True)
class PlannedBatch:
    """records: [B, k] row ids into the ClipIndex (k = 3 for triplets); bucket: padded samples;
    window: the reading window after which all its records are in memory."""

    records: np.ndarray
    bucket: int
    window: int


@dataclasses.dataclass(frozen=True)
class EpochPlan:
    """windows: per reading window, the row ids to read, ascending (shard order)."""

    windows: tuple[np.ndarray, ...]
    batches: tuple[PlannedBatch, ...]
    num_items: int
    dropped_too_long: int
    dropped_partial: int
    unpaired: int

    def first_window_for(self, batch: int) -> int:
        """The earliest window holding a record that batch `batch` or a later one needs."""
        needed = {int(r) for b in self.batches[batch:] for r in b.records.reshape(-1)}
        for w, rows in enumerate(self.windows):
            if needed.intersection(rows.tolist()):
                return w
        return len(self.windows)

    def last_use(self) -> dict[int, int]:
        """row id -> index of the last batch that needs it (rows no batch needs are absent)."""
        last = {}
        for b, batch in enumerate(self.batches):
            for row in batch.records.reshape(-1):
                last[int(row)] = b
        return last


def process_slice(plan: EpochPlan, process_index: int, process_count: int) -> EpochPlan:
    """Process `process_index`'s part of a global plan: rows [p * B, (p + 1) * B) of every
    batch (B = global batch / process_count), and reading windows cut down to the records
    those rows use. The counts (items, drops) stay the global plan's."""
    if process_count == 1:
        return plan
    batches = []
    for batch in plan.batches:
        if len(batch.records) % process_count:
            raise ValueError(f"a batch of {len(batch.records)} rows does not split over {process_count} processes")
        size = len(batch.records) // process_count
        records = batch.records[process_index * size : (process_index + 1) * size]
        batches.append(PlannedBatch(records, batch.bucket, batch.window))
    needed = np.unique(np.concatenate([b.records.reshape(-1) for b in batches])) if batches else np.zeros(0, np.int64)
    windows = tuple(rows[np.isin(rows, needed)] for rows in plan.windows)
    return dataclasses.replace(plan, windows=windows, batches=tuple(batches))


def epoch_rng(seed: int, epoch: int) -> np.random.Generator:
    """The epoch's generator: independent streams per (seed, epoch), no state carried between epochs."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(epoch)]))


def plan_epoch(
    index: ClipIndex,
    rows: np.ndarray,
    *,
    mode: str,
    batch_size: int,
    buckets: tuple[int, ...],
    seed: int,
    epoch: int,
    shuffle: bool = True,
    window_speakers: int = 4,
    self_pairs: bool = False,
) -> EpochPlan:
    """Plans one epoch over `rows` (row ids into `index`: the whole split for training).

    Args:
      mode: "triplet" (rows of [x11, x12, x21]) or "single".
      batch_size: rows per batch (the global batch: all processes together).
      buckets: ascending padded lengths in samples.
      shuffle: shuffle speakers and items; without it both keep index order (triplet
        partners are still drawn at random, deterministically).
      window_speakers: speakers read together; larger mixes batches better, costs memory.
      self_pairs: triplet anchors without an X12 (one emotion per sentence) use
        themselves as X12 (`triplets.draw_triplets`).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if batch_size < 1 or window_speakers < 1:
        raise ValueError("batch_size and window_speakers must be >= 1")
    rng = epoch_rng(seed, epoch)
    rows = np.sort(np.asarray(rows, dtype=np.int64))
    persons = index.person[rows]
    speakers = np.array(list(dict.fromkeys(persons.tolist())), dtype=np.int64)
    if shuffle:
        speakers = rng.permutation(speakers)
    windows, batches = [], []
    pending: dict[int, list[np.ndarray]] = {bucket: [] for bucket in buckets}
    num_items = dropped_too_long = unpaired = 0
    for w, start in enumerate(range(0, len(speakers), window_speakers)):
        window_speakers_ids = speakers[start : start + window_speakers]
        windows.append(rows[np.isin(persons, window_speakers_ids)])
        items = []
        for person in window_speakers_ids:
            speaker_rows = rows[persons == person]
            if mode == "triplet":
                local = triplets.draw_triplets(
                    index.emotion[speaker_rows],
                    index.level[speaker_rows],
                    index.content[speaker_rows],
                    rng,
                    shuffle=shuffle,
                    self_pairs=self_pairs,
                )
                unpaired += len(speaker_rows) - len(local)
                items.append(speaker_rows[local])
            else:
                items.append(speaker_rows[:, None])
        items = np.concatenate(items, axis=0) if items else np.zeros((0, ITEM_SIZE[mode]), np.int64)
        if shuffle:
            items = items[rng.permutation(len(items))]
        num_items += len(items)
        for item in items:
            bucket = bucketing.bucket_for(int(index.num_samples[item].max()), buckets)
            if bucket is None:
                dropped_too_long += 1
                continue
            pending[bucket].append(item)
            if len(pending[bucket]) == batch_size:
                batches.append(PlannedBatch(np.stack(pending[bucket]), bucket, w))
                pending[bucket] = []
    return EpochPlan(
        windows=tuple(windows),
        batches=tuple(batches),
        num_items=num_items,
        dropped_too_long=dropped_too_long,
        dropped_partial=sum(len(p) for p in pending.values()),
        unpaired=unpaired,
    )
