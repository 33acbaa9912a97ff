"""Training and evaluation batches from a build's TFRecords.

    it = make_iterator(OUT, "train", batch_size=8, seed=0)          # triplets (VOCASET: single), endless
    batch = next(it)          # {"x11": clip, "x12": clip, "x21": clip}
    state = it.get_state()    # JSON-able; store it with the checkpoint
    it.set_state(state)       # continue exactly where that state was taken

    for batch in make_eval_iterator(OUT, "test", batch_size=8):   # {"x": clip, "clip_id": [B] str}
        ...

A clip is a dict of numpy arrays, all rows padded to the batch's bucket length S:
    audio        [B, S] float32          16 kHz, zero-padded
    num_samples  [B] int32               true lengths
    targets      [B, T, D] float32       T = ceil(S * 30 / 16000), zero-padded
    num_frames   [B] int32               true frame counts (= ceil(num_samples * 30 / 16000))
    emotion, level, person, content  [B] int32
    template     [B, D] float32          only for builds that keep templates (VOCASET)
    valid        [B] bool                eval batches only: False for padding rows
In a triplet batch X11, X12 and X21 share one S, so the three clips' features can be
mixed position by position after resampling to X11's length.

Several processes (multi-host training): every process plans the same epoch from the
whole split's clip index and the shared seed (`epoch_plan.py`) for the global batch
(`batch_size` x process count), then feeds its own slice of every global batch (rows
[p * batch_size, (p + 1) * batch_size)) and reads with tf.data (TFRecordDataset -> parse
in parallel -> prefetch) only the records its rows need, a few speakers at a time. Every
process thus has the same bucket (shape) at every step and the same number of steps per
epoch, and the position is one global (epoch, batch), valid on every process. Evaluation
likewise splits each global batch of the split (index order, last batch padded with
invalid rows), so every process runs the same number of steps.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from data_pipelines.loading import bucketing, epoch_plan
from data_pipelines.records import schema
from data_pipelines.records.clip_index import ClipIndex, load_clip_index
from voiceemo_jax.errors import UserError

LABELS = ("emotion", "level", "person", "content")
STATE_FORMAT = 2  # 2: one global position for all processes (1 was per process)


# ----------------------------------------------------------------------------- tf.data ops


def labels_to_int32(record: dict) -> dict:
    """tf.data op: label and length scalars (tfds stores ClassLabels as int64) -> int32; drops `dataset`."""
    import tensorflow as tf

    out = {key: value for key, value in record.items() if key != "dataset"}
    for key in (*LABELS, "num_samples", "num_frames"):
        out[key] = tf.cast(record[key], tf.int32)
    return out


def runs_of(shards: np.ndarray, positions: np.ndarray) -> list[tuple[int, int, int]]:
    """Consecutive records as (shard, first position, count) runs, so each is one skip+take over a file.

    shards, positions: [N] int, in read order.
    """
    runs: list[list[int]] = []
    for shard, position in zip(shards.tolist(), positions.tolist()):
        if runs and runs[-1][0] == shard and runs[-1][1] + runs[-1][2] == position:
            runs[-1][2] += 1
        else:
            runs.append([shard, position, 1])
    return [tuple(run) for run in runs]


class RecordReader:
    """Reads chosen records of one split, in the order asked, through tf.data.

    keep_in_memory: keep every record read (parsed, as numpy) and serve it from memory from then
    on, so later epochs read no file. For builds that fit in memory (the synthetic corpus's is
    about 0.5 GB): where the system evicts cold file pages between epochs, each epoch's first
    window otherwise waits on the disk again.
    """

    def __init__(self, builder_dir: Path, index: ClipIndex, *, keep_in_memory: bool = False):
        import tensorflow_datasets as tfds

        from data_pipelines import tf_setup

        self._tf = tf_setup.tensorflow()
        self._features = tfds.builder_from_directory(str(builder_dir)).info.features
        self._paths = [str(builder_dir / shard) for shard in index.shards]
        self._index = index
        self._memory: dict[int, dict[str, np.ndarray]] | None = {} if keep_in_memory else None

    def parse(self, serialized):
        """tf.data op: one serialized record -> dict of tensors (schema of `schema.py`, labels int32)."""
        return labels_to_int32(self._features.deserialize_example(serialized))

    def dataset(self, rows: np.ndarray):
        """tf.data.Dataset of the records `rows` (row ids into the index), in that order."""
        tf = self._tf
        runs = runs_of(self._index.shard[rows], self._index.position[rows])
        if not runs:
            return tf.data.Dataset.from_tensor_slices(tf.zeros([0], tf.string)).map(self.parse)
        paths = tf.constant([self._paths[shard] for shard, _, _ in runs])
        starts = tf.constant([start for _, start, _ in runs], tf.int64)
        counts = tf.constant([count for _, _, count in runs], tf.int64)
        files = tf.data.Dataset.from_tensor_slices((paths, starts, counts))
        serialized = files.flat_map(lambda path, start, count: tf.data.TFRecordDataset(path).skip(start).take(count))
        parsed = serialized.map(self.parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return parsed.prefetch(tf.data.AUTOTUNE)

    def read(self, rows: np.ndarray) -> Iterator[dict[str, np.ndarray]]:
        """Yields the records `rows` as numpy dicts, checking each is the record the index names."""
        if self._memory is None:
            yield from self._read_files(rows)
            return
        memory = self._memory
        # Rows not yet in memory, each once, in the order first asked: read lazily, one by one.
        missing = np.fromiter(dict.fromkeys(int(r) for r in rows if int(r) not in memory), np.int64)
        fresh = zip(missing, self._read_files(missing))
        for row in rows:
            row = int(row)
            if row not in memory:
                read_row, memory[row] = next(fresh)
                assert read_row == row
            yield memory[row]

    def _read_files(self, rows: np.ndarray) -> Iterator[dict[str, np.ndarray]]:
        expected = self._index.clip_id[rows]
        for row, want, record in zip(rows, expected, self.dataset(rows).as_numpy_iterator()):
            if record["clip_id"].decode() != want:
                raise UserError(
                    f"clip index and shards disagree at row {row} ({want} vs {record['clip_id'].decode()}); "
                    f"delete {schema.CLIP_INDEX_FILE} or rebuild"
                )
            yield record


# ----------------------------------------------------------------------------- batches


def assemble_clip(clips: Sequence[dict[str, np.ndarray]], length: int, target_dim: int) -> dict[str, np.ndarray]:
    """Stacks parsed records into one padded clip batch (shapes in the module docstring)."""
    num_frames = bucketing.padded_frames(length)
    batch = {
        "audio": bucketing.pad_audio([c["audio"] for c in clips], length),
        "num_samples": np.array([c["num_samples"] for c in clips], np.int32),
        "targets": bucketing.pad_frames([c["targets"] for c in clips], num_frames, target_dim),
        "num_frames": np.array([c["num_frames"] for c in clips], np.int32),
    }
    for key in LABELS:
        batch[key] = np.array([c[key] for c in clips], np.int32)
    if clips and "template" in clips[0]:
        batch["template"] = np.stack([c["template"] for c in clips]).astype(np.float32)
    return batch


def _process(process_index: int | None, process_count: int | None) -> tuple[int, int]:
    if process_index is None or process_count is None:
        import jax

        process_index = jax.process_index() if process_index is None else process_index
        process_count = jax.process_count() if process_count is None else process_count
    return int(process_index), int(process_count)


def _open_split(data_dir, split: str) -> tuple[schema.DatasetMetadata, ClipIndex]:
    metadata = schema.load_metadata(data_dir)
    if metadata.split_sizes.get(split, 0) == 0:
        available = ", ".join(f"{name} ({n})" for name, n in metadata.split_sizes.items())
        raise UserError(f"{metadata.builder_dir}: split {split!r} is empty or absent (has {available})")
    return metadata, load_clip_index(metadata.builder_dir, split)


class BatchIterator:
    """Endless (or one-epoch) training batches with a restorable position.

    State is the global {"epoch", "batch"} plus the settings it was made with; restoring
    it recomputes that epoch's plan and continues at that batch. The process count is
    recorded but not compared: the plan depends only on the global batch, so a position
    taken with 2 processes x 8 rows is valid for 1 process x 16 rows.
    """

    def __init__(
        self,
        *,
        metadata: schema.DatasetMetadata,
        index: ClipIndex,
        rows: np.ndarray,
        mode: str,
        batch_size: int,
        buckets: tuple[int, ...],
        seed: int,
        shuffle: bool,
        repeat: bool,
        window_speakers: int,
        process_index: int,
        process_count: int,
        self_pairs: bool = False,
        keep_in_memory: bool = False,
    ):
        self.metadata, self.index, self.mode = metadata, index, mode
        self._rows = rows
        self.process_index, self.process_count = process_index, process_count
        self.global_batch_size = batch_size * process_count
        self._plan_kwargs = dict(
            mode=mode,
            batch_size=self.global_batch_size,
            buckets=buckets,
            seed=seed,
            shuffle=shuffle,
            window_speakers=window_speakers,
            self_pairs=self_pairs,
        )
        self._repeat = repeat
        self._settings = {
            "split": index.split,
            "mode": mode,
            "global_batch_size": self.global_batch_size,
            "buckets": list(buckets),
            "seed": seed,
            "shuffle": shuffle,
            "repeat": repeat,
            "window_speakers": window_speakers,
            "num_records": int(len(rows)),
        }
        if self_pairs:  # only when set, so states saved before the option still resume
            self._settings["self_pairs"] = True
        self._reader = RecordReader(metadata.builder_dir, index, keep_in_memory=keep_in_memory)
        self._plans: dict[int, tuple[epoch_plan.EpochPlan, epoch_plan.EpochPlan]] = {}
        self._epoch, self._batch = 0, 0
        self._batches: Iterator[dict] | None = None
        if not self.plan(0).batches:
            plan = self.plan(0)
            across = f" ({process_count} processes x {batch_size})" if process_count > 1 else ""
            raise UserError(
                f"split {index.split!r} gives no full {mode} batch of {self.global_batch_size}{across} "
                f"({len(rows)} records, {plan.num_items} items, {plan.unpaired} clips without partners, "
                f"{plan.dropped_too_long} longer than the largest bucket); lower the batch size"
                + (" or use mode='single'" if mode == "triplet" else "")
            )

    def plan(self, epoch: int) -> epoch_plan.EpochPlan:
        """The global batches of `epoch`, the same on every process."""
        return self._plan_pair(epoch)[0]

    def local_plan(self, epoch: int) -> epoch_plan.EpochPlan:
        """This process's slice of `plan(epoch)`: its rows of every batch, the records they need."""
        return self._plan_pair(epoch)[1]

    def _plan_pair(self, epoch: int) -> tuple[epoch_plan.EpochPlan, epoch_plan.EpochPlan]:
        """(global, local) plans of `epoch`, cached for the current and the next epoch."""
        if epoch not in self._plans:
            self._plans = {e: p for e, p in self._plans.items() if e >= epoch - 1}
            plan = epoch_plan.plan_epoch(self.index, self._rows, epoch=epoch, **self._plan_kwargs)
            self._plans[epoch] = (plan, epoch_plan.process_slice(plan, self.process_index, self.process_count))
        return self._plans[epoch]

    def batches_per_epoch(self, epoch: int = 0) -> int:
        return len(self.plan(epoch).batches)

    def __iter__(self) -> BatchIterator:
        return self

    def __next__(self) -> dict[str, dict[str, np.ndarray]]:
        empty_epochs = 0
        while True:
            if self._batches is None:
                self._batches = self._epoch_batches(self._epoch, self._batch)
            try:
                batch = next(self._batches)
            except StopIteration:
                if not self._repeat:
                    raise
                empty_epochs = empty_epochs + 1 if self._batch == 0 else 0
                if empty_epochs > 1:
                    raise UserError(f"split {self.index.split!r}: an epoch produced no batch") from None
                self._epoch, self._batch, self._batches = self._epoch + 1, 0, None
                continue
            self._batch += 1
            if self._repeat and self._batch >= len(self.plan(self._epoch).batches):
                # The epoch is done: the position is the start of the next one.
                self._epoch, self._batch, self._batches = self._epoch + 1, 0, None
            return batch

    def close(self) -> None:
        """Stops reading now: the open epoch's tf.data pipeline (its prefetch threads) is released
        here instead of at interpreter exit, where it kept a finished run waiting. The position is kept:
        a later `next` reopens the epoch there."""
        if self._batches is not None:
            self._batches.close()
            self._batches = None

    def get_state(self) -> dict[str, Any]:
        """JSON-serialisable position: the next global batch is batch `batch` of epoch `epoch`
        (the same on every process; `process_count` is for the record)."""
        position = {"format": STATE_FORMAT, "epoch": self._epoch, "batch": self._batch}
        return {**position, **self._settings, "process_count": self.process_count}

    def set_state(self, state: dict[str, Any]) -> None:
        """Continues from a `get_state()` of an iterator made with the same settings.

        Raises:
          ValueError: the state was taken with other settings (split, global batch size,
            seed ...), where its position would name different batches. Another process
            count with the same global batch is no such change.
        """
        different = {k: (state.get(k), v) for k, v in self._settings.items() if state.get(k) != v}
        if state.get("format") != STATE_FORMAT or different:
            raise ValueError(f"iterator state does not match this iterator: (state, iterator) differ in {different}")
        self._epoch, self._batch, self._batches = int(state["epoch"]), int(state["batch"]), None

    def _epoch_batches(self, epoch: int, start: int) -> Iterator[dict]:
        """This process's slice of batches `start`, `start + 1`, ... of `epoch`, reading only
        the records (and windows) they need."""
        plan = self.local_plan(epoch)
        if start >= len(plan.batches):
            return
        first_window = plan.first_window_for(start)
        last_use = plan.last_use()
        to_read = np.concatenate(plan.windows[first_window:])
        stream = self._reader.read(to_read)
        held: dict[int, dict] = {}
        next_batch = start
        for w in range(first_window, len(plan.windows)):
            for row in plan.windows[w]:
                record = next(stream)
                # Keep a record only if a batch still to come needs it.
                if last_use.get(int(row), -1) >= next_batch:
                    held[int(row)] = record
            while next_batch < len(plan.batches) and plan.batches[next_batch].window == w:
                yield self._assemble(plan.batches[next_batch], held)
                next_batch += 1
                held = {row: r for row, r in held.items() if last_use[row] >= next_batch}

    def _assemble(self, planned: epoch_plan.PlannedBatch, held: dict[int, dict]) -> dict[str, dict[str, np.ndarray]]:
        names = ("x11", "x12", "x21") if self.mode == "triplet" else ("x",)
        return {
            name: assemble_clip([held[int(r)] for r in planned.records[:, k]], planned.bucket, self.metadata.target_dim)
            for k, name in enumerate(names)
        }


def make_iterator(
    data_dir: str | Path,
    split: str,
    *,
    batch_size: int,
    seed: int = 0,
    mode: str = "auto",
    bucket_seconds: Sequence[float] = bucketing.DEFAULT_BUCKET_SECONDS,
    shuffle: bool = True,
    repeat: bool = True,
    window_speakers: int = 4,
    process_index: int | None = None,
    process_count: int | None = None,
    self_pairs: bool = False,
    keep_in_memory: bool = False,
) -> BatchIterator:
    """Training batches of `split` of the build in `data_dir` (the `--out` folder or its tfds version folder).

    Args:
      batch_size: rows per batch on this process; the global batch (what the epoch is
        planned for) is batch_size x process_count.
      seed: with the epoch number, decides speaker order, triplet partners and item order.
      mode: "triplet" ({"x11", "x12", "x21"}), "single" ({"x"}), or "auto" (the default:
        triplets when the dataset has emotion pairs, single clips otherwise, i.e. VOCASET).
      bucket_seconds: padded lengths on offer; longer items are dropped (and counted in
        the epoch plan), so keep the largest above the longest clip.
      shuffle, repeat: shuffle each epoch; cycle epochs forever.
      window_speakers: speakers held in memory together (mixing vs memory).
      self_pairs: triplet anchors with no clip of their sentence in another emotion
        (read speech) are their own X12 instead of being left out.
      keep_in_memory: keep the records read in memory for the next epochs (`RecordReader`);
        the batches are the same either way.
      process_index, process_count: default to jax.process_index() / process_count().
    """
    metadata, index = _open_split(data_dir, split)
    if mode == "auto":
        mode = "triplet" if metadata.has_emotion_pairs else "single"
    if mode not in epoch_plan.MODES:
        raise UserError(f"mode must be 'triplet', 'single' or 'auto', got {mode!r}")
    if batch_size < 1:
        raise UserError(f"batch_size must be >= 1, got {batch_size}")
    process_index, process_count = _process(process_index, process_count)
    if not 0 <= process_index < process_count:
        raise ValueError(f"process_index {process_index} out of range for {process_count} processes")
    return BatchIterator(
        metadata=metadata,
        index=index,
        rows=np.arange(len(index)),
        mode=mode,
        batch_size=batch_size,
        buckets=bucketing.bucket_lengths(bucket_seconds, metadata.sample_rate_hz),
        seed=int(seed),
        shuffle=shuffle,
        repeat=repeat,
        window_speakers=window_speakers,
        process_index=process_index,
        process_count=process_count,
        self_pairs=self_pairs,
        keep_in_memory=keep_in_memory,
    )


class EvalIterator:
    """Every clip of a split once, in index order, as single-clip batches with a `valid` mask.

    The split is cut into global batches of batch_size x process_count clips; each process
    yields its rows [p * batch_size, (p + 1) * batch_size) of every global batch, padded
    to the global batch's length, with invalid rows where the last global batch runs out.
    Every process therefore runs the same number of steps with the same shapes.
    """

    def __init__(
        self, metadata, index: ClipIndex, batch_size: int, buckets, process_index: int = 0, process_count: int = 1
    ):
        self.metadata, self.index = metadata, index
        self._batch_size, self._buckets = batch_size, buckets
        self._process_index = process_index
        global_batch = batch_size * process_count
        self.num_batches = -(-len(index) // global_batch)
        # batch b, process p: rows [b * G + p * B, b * G + (p + 1) * B) of the index, clipped to N.
        starts = np.arange(self.num_batches) * global_batch
        self._global_rows = [np.arange(start, min(start + global_batch, len(index))) for start in starts]
        self._rows = [rows[process_index * batch_size : (process_index + 1) * batch_size] for rows in self._global_rows]

    def __len__(self) -> int:
        return self.num_batches

    def __iter__(self) -> Iterator[dict[str, Any]]:
        wanted = np.concatenate(self._rows) if self._rows else np.zeros(0, np.int64)
        stream = RecordReader(self.metadata.builder_dir, self.index).read(wanted)
        for global_rows, rows in zip(self._global_rows, self._rows):
            clips = [next(stream) for _ in rows]
            # The global batch's longest clip sets the length, so every process has the same shape.
            length = bucketing.eval_length(int(self.index.num_samples[global_rows].max()), self._buckets)
            batch = assemble_clip(clips, length, self.metadata.target_dim)
            padding = self._batch_size - len(clips)
            if padding:
                batch = _pad_rows(batch, padding, self.metadata)
            batch["valid"] = np.arange(self._batch_size) < len(clips)
            clip_ids = [c["clip_id"].decode() for c in clips] + [""] * padding
            yield {"x": batch, "clip_id": np.array(clip_ids, dtype=str)}


def _pad_rows(batch: dict[str, np.ndarray], padding: int, metadata) -> dict[str, np.ndarray]:
    """Appends `padding` all-zero rows (zero lengths, label 0) to every array of a clip batch."""
    if metadata.has_template and "template" not in batch:  # an all-padding batch has no record to copy from
        batch["template"] = np.zeros((0, metadata.target_dim), np.float32)
    return {key: np.concatenate([v, np.zeros((padding, *v.shape[1:]), v.dtype)]) for key, v in batch.items()}


def make_eval_iterator(
    data_dir: str | Path,
    split: str,
    *,
    batch_size: int,
    bucket_seconds: Sequence[float] = bucketing.DEFAULT_BUCKET_SECONDS,
    process_index: int | None = None,
    process_count: int | None = None,
) -> EvalIterator:
    """Evaluation batches: {"x": clip with `valid` [B] bool, "clip_id": [B] str ("" for padding)}.

    batch_size: rows per process (B); each process yields its slice of every global batch.
    No shuffling, no repetition, no clip dropped: clips longer than the largest bucket
    are padded to a multiple of it.
    """
    metadata, index = _open_split(data_dir, split)
    if batch_size < 1:
        raise UserError(f"batch_size must be >= 1, got {batch_size}")
    process_index, process_count = _process(process_index, process_count)
    if not 0 <= process_index < process_count:
        raise ValueError(f"process_index {process_index} out of range for {process_count} processes")
    buckets = bucketing.bucket_lengths(bucket_seconds, metadata.sample_rate_hz)
    return EvalIterator(metadata, index, batch_size, buckets, process_index, process_count)
