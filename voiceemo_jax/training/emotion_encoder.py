"""First training stage: the emotion encoder alone, as an emotion classifier on random crops.

    voiceemo train --config configs/emotion_encoder.py --workdir runs/demo --config.data.dir=data/emotion_mix

A small wav2vec2 trained from scratch inside the full model learns the emotion from 8
clips per step while the animation losses pull on it too; on the synthetic corpus it
reaches 91% on the training sentences and about 65% on held-out ones: it memorises
sentences. This stage trains the emotion encoder (wav2vec2 + classifier head over its
mean-pooled frames) on its own, on random crops of the training clips
(`config.data.crop_seconds`), so no crop shows a whole sentence and the encoder must rely
on the voice's prosody. It keeps the parameters with the best accuracy on whole clips of
the validation split. Options (config.data): `trim_silence` crops only between a training
clip's first and last sound, `balance_emotions` gives every emotion the same share of the
crops (read speech is all neutral), `balance_speakers` every speaker the same share within an
emotion (TESS's two speakers have thousands of clips, RAVDESS's actors sixty each),
`balance_groups` (comma-separated shell patterns over speaker names, e.g.
"voiceemo_synth/*,*/ravdess_*,*/tess_*") every group of speakers the same share within an
emotion, so one corpus of 16 actors gets as many crops as one of 2 speakers or of 6 voices
(a speaker no pattern matches is a group of its own; overrides `balance_speakers`), `augment`
runs the training augmentation (`data_pipelines/loading/augmentation.py`) on every crop,
seeded by (seed, step, row). `config.train.ema_decay` (0 = off) validates and keeps an exponential
moving average of the parameters instead of the parameters themselves (`averaged`): with a noisy
validation split, an average over the last thousand steps generalises more evenly than one step's.

With `config.init_from` (a model folder) the stage fine-tunes that model's emotion encoder
instead of training one from scratch, and every other part of the model comes along unchanged.

Output: WORKDIR/emotion_encoder, a model checkpoint (`voiceemo predict` reads it; everything
but the emotion encoder is init_from's, or else the fresh initialisation of `config.train.seed`)
that the main training starts from with `init_from`, keeping the emotion encoder frozen
(`configs/demo.py`).
The hyper-parameters are configs/emotion_encoder.py's; `trainer.train_and_evaluate` hands
configs with `task = "emotion_encoder"` to `train_and_evaluate` here.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from voiceemo_jax import checkpoint_io
from voiceemo_jax.errors import UserError
from voiceemo_jax.models import sequence_ops

OUTPUT_FOLDER = "emotion_encoder"  # inside the workdir


def trim_silence(audio: np.ndarray, top_db: float = 35.0) -> np.ndarray:
    """The clip without its leading and trailing silence (quieter than `top_db` below its peak):
    RAVDESS clips open with up to a second of room noise, which a crop would label as an emotion."""
    import librosa

    trimmed, _ = librosa.effects.trim(audio, top_db=top_db, frame_length=1024, hop_length=256)
    return trimmed if len(trimmed) >= sequence_ops.SAMPLE_RATE_HZ // 4 else audio


def read_split(
    data_dir, split: str, labels: tuple[str, ...], *, trim: bool = False
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """-> (each clip's audio [samples] float32, model label index [N], speaker index [N]) of a
    split's clips whose emotion the model knows; `trim`: without leading and trailing silence."""
    from data_pipelines.loading.input_pipeline import make_eval_iterator
    from voiceemo_jax.evaluation.labels import emotion_label_map

    iterator = make_eval_iterator(data_dir, split, batch_size=16)
    label_map = emotion_label_map(iterator.metadata.emotions, labels)
    clips, targets, speakers = [], [], []
    for batch in iterator:
        x = batch["x"]
        rows = zip(x["audio"], x["num_samples"], x["emotion"], x["person"], x["valid"])
        for audio, n, emotion, person, valid in rows:
            if valid and label_map[emotion] >= 0:
                clip = np.asarray(audio[:n], np.float32)
                clips.append(trim_silence(clip) if trim else clip)
                targets.append(label_map[emotion])
                speakers.append(int(person))
    if not clips:
        raise UserError(f"{data_dir}: split {split!r} has no clip with an emotion the model knows")
    return clips, np.asarray(targets, np.int32), np.asarray(speakers, np.int32)


def random_crops(clips, rng: np.random.Generator, rows: np.ndarray, crop: int) -> tuple[np.ndarray, np.ndarray]:
    """A random `crop`-sample window of each chosen clip (the whole clip when shorter,
    zero-padded) -> (audio [B, crop], num_samples [B])."""
    audio = np.zeros((len(rows), crop), np.float32)
    lengths = np.zeros(len(rows), np.int32)
    for i, row in enumerate(rows):
        clip = clips[row]
        start = rng.integers(0, len(clip) - crop + 1) if len(clip) > crop else 0
        piece = clip[start : start + crop]
        audio[i, : len(piece)], lengths[i] = piece, len(piece)
    return audio, lengths


def sampling_weights(targets: np.ndarray, balance: bool, speakers: np.ndarray | None = None) -> np.ndarray | None:
    """Row probabilities (None: uniform). `balance`: every emotion the same share of the crops
    (read speech in one emotion, ARCTIC or audiobooks, would otherwise make most crops neutral).
    `speakers` (each row's speaker): within each emotion (or overall, without `balance`) every
    speaker the same share, so two speakers with thousands of clips (TESS) do not outweigh
    sixteen with sixty each (RAVDESS)."""
    if not balance and speakers is None:
        return None
    groups = targets if balance else np.zeros_like(targets)
    cells = groups.astype(np.int64)
    if speakers is not None:
        cells = cells * (int(speakers.max()) + 1) + speakers
    weights = np.zeros(len(targets))
    for group in np.unique(groups):
        in_group = np.unique(cells[groups == group])
        for cell in in_group:
            rows = cells == cell
            weights[rows] = 1.0 / (len(in_group) * rows.sum())
    return weights / weights.sum()


def augmented(audio: np.ndarray, lengths: np.ndarray, seed: int, step: int, options) -> tuple[np.ndarray, np.ndarray]:
    """The training augmentation (speed, room, band-limit, noise, gain) of each crop, seeded by (seed, step, row)."""
    from data_pipelines.loading import augmentation

    frames = sequence_ops.frames_for(audio.shape[1])
    clip = {"audio": audio, "num_samples": lengths, "num_frames": np.full(len(audio), frames, np.int32),
            "targets": np.zeros((len(audio), frames, 1), np.float32)}  # fmt: skip
    out = augmentation.augment_batch({"x": clip}, seed, (step,), options)["x"]
    return out["audio"], out["num_samples"]


def _logits(encoder, audio, num_samples, *, deterministic=True, rngs=None):
    frames = sequence_ops.frames_for_array(num_samples)
    _, logits = encoder(
        audio, num_samples, frames, sequence_ops.frames_for(audio.shape[1]), deterministic=deterministic, rngs=rngs
    )
    return logits


def correct_clips(graphdef, params, clips, targets, batch_size: int = 16, bucket: int = 16000) -> np.ndarray:
    """[N] bool: whether each whole clip is classified right (batches padded to a multiple of `bucket` samples)."""
    predict = jax.jit(lambda p, a, n: jnp.argmax(_logits(nnx.merge(graphdef, nnx.State(p)), a, n), axis=-1))
    order = np.argsort([len(c) for c in clips])
    correct = np.zeros(len(clips), bool)
    for begin in range(0, len(order), batch_size):
        rows = order[begin : begin + batch_size]
        width = -(-max(len(clips[r]) for r in rows) // bucket) * bucket
        audio = np.zeros((batch_size, width), np.float32)
        lengths = np.full(batch_size, width, np.int32)
        for i, r in enumerate(rows):
            audio[i, : len(clips[r])], lengths[i] = clips[r], len(clips[r])
        predicted = np.asarray(predict(params, jnp.asarray(audio), jnp.asarray(lengths)))[: len(rows)]
        correct[rows] = predicted == targets[rows]
    return correct


def accuracy(graphdef, params, clips, targets, batch_size: int = 16, bucket: int = 16000) -> float:
    """Whole-clip accuracy."""
    return float(correct_clips(graphdef, params, clips, targets, batch_size, bucket).mean())


def source_names(speakers: np.ndarray, speaker_names) -> np.ndarray:
    """Each clip's source build in a merged build (`voiceemo_synth/kal` -> voiceemo_synth,
    `voiceemo_speech/ravdess_17` -> voiceemo_speech; `merge.source_dataset`), else ""."""
    from data_pipelines.records.merge import source_dataset

    return np.asarray([source_dataset(speaker_names[s]) for s in speakers])


def speaker_groups(speakers: np.ndarray, speaker_names, patterns: str) -> tuple[np.ndarray, list[str]]:
    """-> ([N] group index of each row, the patterns that match no speaker). A row's group is the
    first of the comma-separated shell `patterns` its speaker's name matches (`fnmatch`), else a
    group of that speaker alone. A pattern that matches nothing is returned, not an error: the
    demo config names the corpora of its merged build, and the stage also runs on a build of one."""
    from fnmatch import fnmatchcase

    globs = [g.strip() for g in patterns.split(",") if g.strip()]
    unmatched = [g for g in globs if not any(fnmatchcase(name, g) for name in speaker_names)]
    group_of = [next((i for i, g in enumerate(globs) if fnmatchcase(name, g)), len(globs) + s)
                for s, name in enumerate(speaker_names)]  # fmt: skip
    return np.unique(np.asarray(group_of)[speakers], return_inverse=True)[1], unmatched


def by_source(correct: np.ndarray, sources: np.ndarray) -> dict[str, float]:
    """Accuracy of each source of a merged build ({} for a build of one source)."""
    names = sorted(set(sources.tolist()) - {""})
    return {name: float(correct[sources == name].mean()) for name in names} if len(names) > 1 else {}


def averaged(average, params, decay: float, step):
    """The moving average after `step` (1-based) updates: the decay ramps up as
    min(decay, (1 + step) / (10 + step)), so the first steps' parameters do not linger in it."""
    rate = jnp.minimum(decay, (1.0 + step) / (10.0 + step))
    return jax.tree.map(lambda a, p: rate * a + (1.0 - rate) * p, average, params)


def pretrain(config, data_dir, out, *, log=print) -> dict:
    """Trains the emotion encoder of `config`'s model on `data_dir` and saves the model to `out`.

    -> {"best_step", "validation_accuracy", "train_accuracy", "history", "seconds"}."""
    from data_pipelines.records.schema import load_metadata
    from voiceemo_jax.training import initialization, model_setup

    train = config.train
    steps, seed, batch_size = int(train.num_steps), int(train.seed), int(train.per_process_batch_size)
    if steps < 1 or batch_size < 1 or train.eval_every < 1:
        raise UserError("config.train.num_steps, per_process_batch_size and eval_every must be >= 1")
    ema_decay = float(train.get("ema_decay", 0.0))
    if not 0.0 <= ema_decay < 1.0:
        raise UserError(f"config.train.ema_decay must be in [0, 1), got {ema_decay}")
    augment_options = None  # checked before any data is read
    if config.data.get("augment", False):
        from data_pipelines.loading import augmentation

        augment_options = augmentation.options_from_config(config)
        if augment_options.silence_probability > 0:
            raise UserError(
                "the emotion stage cannot augment with pauses (a pause has no emotion): "
                "set --config.data.augment_options.silence_probability=0"
            )
    metadata = load_metadata(data_dir)
    model_config = model_setup.build_model_config(config, metadata)
    if not config.get("init_from"):
        # Trained from scratch, the stage trains the emotion encoder alone: the content encoder in the
        # folder it writes is the wav2vec2's fresh initialisation whatever `model.content_frontend`
        # says (the main stage's init_from loads what fits and initialises the rest). So one stage's
        # output serves a main stage with either content front end, and the emotion encoder's
        # initialisation, which follows the content encoder's in the model's seeded order, does not
        # depend on it.
        model_config = dataclasses.replace(model_config, content_cnn=None)
    model = initialization.new_model(model_config, seed, **model_setup.model_kwargs(config))
    if config.get("init_from"):  # fine-tunes an existing model's emotion encoder; its other parts come along
        params, loaded, fresh = initialization.load_init_from(
            nnx.to_pure_dict(nnx.state(model, nnx.Param)), config.init_from,
            emotions=model_config.emotion_labels, num_persons=model_config.synthesizer.num_persons,
        )  # fmt: skip
        nnx.update(model, nnx.State(params))
        log(f"emotion_encoder: initialised {len(loaded)} parameters from {config.init_from} ({len(fresh)} kept fresh)")
    labels = model_config.emotion_labels
    trim = bool(config.data.get("trim_silence", False))
    train_clips, train_targets, train_speakers = read_split(data_dir, config.data.train_split, labels, trim=trim)
    val_clips, val_targets, val_speakers = read_split(data_dir, config.data.eval_split, labels)
    val_sources = source_names(val_speakers, metadata.speakers)
    log(f"emotion_encoder: {len(train_clips)} training clips, {len(val_clips)} validation clips")

    graphdef, params = nnx.split(model.emotion_encoder, nnx.Param)
    params = nnx.to_pure_dict(params)
    warmup = int(train.warmup_steps)
    schedule = optax.warmup_cosine_decay_schedule(0.0, train.learning_rate, warmup, max(steps, warmup + 1))
    opt = optax.chain(
        optax.clip_by_global_norm(train.grad_clip_norm),
        optax.adamw(schedule, b1=0.9, b2=0.98, weight_decay=train.weight_decay),
    )
    label_smoothing = float(config.loss.label_smoothing)
    num_labels = len(labels)

    @jax.jit
    def step(params, opt_state, audio, num_samples, targets, key):
        def loss_fn(p):
            encoder = nnx.merge(graphdef, nnx.State(p))
            logits = _logits(encoder, audio, num_samples, deterministic=False, rngs=nnx.Rngs(dropout=key))
            smoothed = optax.smooth_labels(jax.nn.one_hot(targets, num_labels), label_smoothing)
            return optax.softmax_cross_entropy(logits, smoothed).mean()

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    rng = np.random.default_rng(seed)
    key = jax.random.key(seed)
    opt_state = opt.init(params)
    crop = round(config.data.crop_seconds * sequence_ops.SAMPLE_RATE_HZ)
    groups = None
    if config.data.get("balance_groups", ""):
        groups, unmatched = speaker_groups(train_speakers, metadata.speakers, config.data.balance_groups)
        log(f"emotion_encoder: {groups.max() + 1} speaker groups share the crops ({config.data.balance_groups})"
            + (f"; no speaker matches {', '.join(unmatched)}" if unmatched else ""))  # fmt: skip
    elif config.data.get("balance_speakers", False):
        groups = train_speakers
    probabilities = sampling_weights(train_targets, bool(config.data.get("balance_emotions", False)), groups)
    average = jax.jit(lambda a, p, i: averaged(a, p, ema_decay, i)) if ema_decay else None
    kept = params  # what is validated and kept: the parameters, or their moving average
    best = (-1.0, 0, params, {})
    history, losses, started = [], [], time.perf_counter()
    log_every = max(int(train.get("log_every", 0)) or steps, 1)
    for i in range(1, steps + 1):
        rows = rng.choice(len(train_clips), batch_size, p=probabilities)
        audio, lengths = random_crops(train_clips, rng, rows, crop)
        if augment_options is not None:
            audio, lengths = augmented(audio, lengths, seed, i, augment_options)
        params, opt_state, loss = step(
            params, opt_state, jnp.asarray(audio), jnp.asarray(lengths), jnp.asarray(train_targets[rows]),
            jax.random.fold_in(key, i),
        )  # fmt: skip
        kept = params if average is None else average(kept, params, i)
        losses.append(float(loss))
        if i % train.eval_every == 0 or i == steps:
            correct = correct_clips(graphdef, kept, val_clips, val_targets)
            val, sources = float(correct.mean()), by_source(correct, val_sources)
            history.append({"step": i, "loss": float(np.mean(losses)), "validation_accuracy": val,
                            "validation_by_source": sources})  # fmt: skip
            detail = f" ({', '.join(f'{k} {v:.1%}' for k, v in sources.items())})" if sources else ""
            log(f"emotion_encoder: step {i}/{steps}  loss {np.mean(losses):.3f}  validation accuracy {val:.1%}"
                f"{detail}  ({time.perf_counter() - started:.0f} s)")  # fmt: skip
            losses = []
            if val > best[0]:
                best = (val, i, kept, sources)
        elif i % log_every == 0:  # between validations, a progress line: the stage runs for tens of minutes
            elapsed = time.perf_counter() - started
            log(
                f"emotion_encoder: step {i}/{steps}  loss {np.mean(losses[-log_every:]):.3f}  "
                f"{i / elapsed:.2f} steps/s  ({elapsed:.0f} s, about {(steps - i) * elapsed / i:.0f} s left)"
            )
    nnx.update(model.emotion_encoder, nnx.State(best[2]))
    train_acc = accuracy(graphdef, best[2], train_clips, train_targets)
    source = {"kind": "voiceemo-emotion-encoder", "data": str(data_dir), "init_from": str(config.get("init_from", "")),
              "steps": steps, "best_step": best[1],
              "crop_seconds": config.data.crop_seconds, "batch_size": batch_size, "seed": seed,
              "augment": augment_options is not None, "ema_decay": ema_decay,
              "balance_emotions": bool(config.data.get("balance_emotions", False)),
              "balance_speakers": bool(config.data.get("balance_speakers", False)),
              "balance_groups": str(config.data.get("balance_groups", ""))}  # fmt: skip
    checkpoint_io.save_model(model, out, source=source, overwrite=False)
    return {"best_step": best[1], "validation_accuracy": best[0], "validation_by_source": best[3],
            "train_accuracy": train_acc, "history": history, "seconds": time.perf_counter() - started}  # fmt: skip


def train_and_evaluate(config, workdir: str | Path) -> dict:
    """`voiceemo train --config configs/emotion_encoder.py`: pre-trains into WORKDIR/emotion_encoder.

    Raises UserError when that folder exists (a finished stage is not re-run over), with no
    data, or under more than one process (the stage runs on one host)."""
    if jax.process_count() > 1:
        raise UserError("the emotion-encoder stage runs in one process: drop --num-processes/--coordinator")
    workdir = Path(workdir).absolute()
    out = workdir / OUTPUT_FOLDER
    if out.exists():
        raise UserError(f"{out} already exists: the emotion encoder is trained; choose another --workdir")
    workdir.mkdir(parents=True, exist_ok=True)
    if config.data.get("fixture", False):
        from data_pipelines.sources.learnable_fixture import ensure_fixture_build

        config.data.dir = str(ensure_fixture_build(workdir / "fixture_data", seed=config.train.seed))
    if not config.data.dir:
        raise UserError("config.data.dir is empty: pass --config.data.dir=DIR (a `voiceemo data build` output)")
    report = pretrain(config, config.data.dir, out)
    sources = ", ".join(f"{k} {v:.1%}" for k, v in report["validation_by_source"].items())
    print(f"emotion_encoder: best validation accuracy {report['validation_accuracy']:.1%}"
          f"{f' ({sources})' if sources else ''} at step {report['best_step']} "
          f"(train {report['train_accuracy']:.1%}); wrote {out}")  # fmt: skip
    return report
