"""Where a run's first state comes from, and where its final model goes.

Order: this workdir's latest checkpoint (resume) -> `config.resume_from` (another run's
checkpoints) -> fresh state, optionally overwritten by `config.init_from` (a converted
model checkpoint, an encoder checkpoint, or a Hugging Face wav2vec2 folder with weights).
Fine-tuning loads every parameter whose path and shape match; parameters that differ
(e.g. an emotion head over another label set, a person embedding for more speakers)
keep their fresh initialisation and are listed. The source's label vocabulary is
compared with the dataset's: the same emotions in another order are refused (the
classifier's shape would fit and its classes silently mean other emotions).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import numpy as np
from flax import nnx

from voiceemo_jax import checkpoint_io
from voiceemo_jax.conversion import hf_wav2vec2
from voiceemo_jax.errors import UserError
from voiceemo_jax.models.voiceemo import VoiceEmo
from voiceemo_jax.training import checkpointing


def new_model(model_config, seed: int, **kwargs) -> VoiceEmo:
    return VoiceEmo(model_config, rngs=nnx.Rngs(seed), **kwargs)


def _flatten(tree, prefix=()):
    if isinstance(tree, dict):
        out = {}
        for key, value in tree.items():
            out.update(_flatten(value, prefix + (key,)))
        return out
    return {prefix: tree}


@dataclasses.dataclass(frozen=True)
class _Source:
    """An init_from source: flat {our parameter path: array}, its emotion labels (classifier
    order; () when it has none) and its person count (None when it has no synthesizer)."""

    params: dict[tuple, np.ndarray]
    emotions: tuple[str, ...]
    num_persons: int | None


def _source_params(path: Path) -> _Source:
    """Parameters and label vocabulary of any supported init_from source."""
    if (path / checkpoint_io.CONFIG_FILE).is_file():
        model, _ = checkpoint_io.load_model(path)
        params = nnx.to_pure_dict(nnx.state(model, nnx.Param))
        flat = {k: np.asarray(v) for k, v in _flatten(params).items()}
        return _Source(flat, tuple(model.config.emotion_labels), int(model.config.synthesizer.num_persons))
    if (path / hf_wav2vec2.META_FILE).is_file():
        encoder_config, params = hf_wav2vec2.read_encoder(path)
    elif (path / "config.json").is_file():
        encoder_config, params, _ = hf_wav2vec2.params_from_hf_folder(path)
    else:
        raise UserError(
            f"init_from {path}: not a VoiceEmo-JAX model checkpoint, an encoder checkpoint "
            "or a Hugging Face wav2vec2 folder"
        )
    # One pretrained wav2vec2 initialises both encoders (where their shapes fit).
    flat = {}
    for key, value in _flatten(params).items():
        if key[0] == "classifier":
            flat[("emotion_encoder",) + key] = np.asarray(value)
        else:
            flat[("content_encoder",) + key] = flat[("emotion_encoder",) + key] = np.asarray(value)
    return _Source(flat, tuple(encoder_config.id2label), None)


CLASSIFIER_OUTPUT = ("emotion_encoder", "classifier", "out_proj")
PERSON_EMBEDDING = ("morph_synthesizer", "obj_vector_person")


def _vocabulary_skips(path: Path, source: _Source, emotions, num_persons) -> list[tuple]:
    """Compares the source's label vocabulary with the dataset's -> parameter prefixes not to load.

    The same emotions in another order would load a classifier whose outputs mean other
    emotions (its shape fits): refused. Other emotions: the classifier's output layer starts
    fresh. Another person count: the person embedding starts fresh (its shape differs).
    """
    skip = []
    has_classifier = any(key[: len(CLASSIFIER_OUTPUT)] == CLASSIFIER_OUTPUT for key in source.params)
    if emotions is not None and source.emotions and has_classifier and tuple(emotions) != source.emotions:
        if sorted(emotions) == sorted(source.emotions):
            raise UserError(
                f"init_from {path}: its emotion classifier orders the labels ({', '.join(source.emotions)}) "
                f"differently from the dataset ({', '.join(emotions)}); loading it would shuffle the classes"
            )
        skip.append(CLASSIFIER_OUTPUT)
    if num_persons is not None and source.num_persons is not None and source.num_persons != num_persons:
        skip.append(PERSON_EMBEDDING)
    return skip


def load_init_from(
    params: dict, path: str | Path, *, emotions=None, num_persons: int | None = None
) -> tuple[dict, list[str], list[str]]:
    """Overwrites matching leaves of a (host) params tree. -> (params, loaded, kept fresh).

    emotions, num_persons: the dataset's emotion labels (classifier order) and the model's
    person count; given, they are compared with the source's (`_vocabulary_skips`).
    """
    path = Path(path).absolute()
    source = _source_params(path)
    skip = _vocabulary_skips(path, source, emotions, num_persons)
    flat_target = _flatten(params)
    loaded, fresh = [], []
    for key, value in flat_target.items():
        incoming = None if any(key[: len(p)] == p for p in skip) else source.params.get(key)
        if incoming is not None and tuple(incoming.shape) == tuple(value.shape):
            flat_target[key] = incoming.astype(value.dtype)
            loaded.append(".".join(map(str, key)))
        else:
            fresh.append(".".join(map(str, key)))
    if not loaded:
        raise UserError(f"init_from {path}: no parameter matches this model's names and shapes")
    rebuilt: dict = {}
    for key, value in flat_target.items():
        node = rebuilt
        for part in key[:-1]:
            node = node.setdefault(part, {})
        node[key[-1]] = value
    return rebuilt, loaded, fresh


def restore_data_position(train_iter, data_state: dict, where: str) -> None:
    """Continues `train_iter` at a checkpoint's global data position.

    The position is one (epoch, batch) of the global plan, so it holds for any process
    count with the same global batch (e.g. 2 processes x 8 rows resumed as 1 x 16). A
    different global batch (or split, seed, buckets ...) plans other batches: stop, naming
    what changed, rather than silently train on another data order.
    """
    try:
        train_iter.set_state(data_state)
    except ValueError:
        then, now = data_state, train_iter.get_state()
        if then.get("global_batch_size") != now["global_batch_size"]:
            raise UserError(
                f"{where}: the data position was saved with a global batch of {then.get('global_batch_size')} "
                f"({then.get('process_count')} process(es)); this run's is {now['global_batch_size']} "
                f"({now['process_count']} process(es) x {now['global_batch_size'] // now['process_count']}): keep "
                "per_process_batch_size x processes the same to resume, or train in a new workdir"
            ) from None
        changed = sorted(k for k in now if k not in ("epoch", "batch", "process_count") and then.get(k) != now[k])
        raise UserError(
            f"{where}: the data position was saved with other data settings "
            f"({', '.join(f'{k}: {then.get(k)!r} -> {now[k]!r}' for k in changed)}); "
            "restore them to resume, or train in a new workdir"
        ) from None


def initial_state(
    config, workdir, checkpoints, init_state, abstract_state, shardings, train_iter, model_config, writer
):
    """-> (train state placed with `shardings`, first step to run)."""
    target = checkpointing.abstract_like(abstract_state, shardings)
    latest = checkpoints.latest_step()
    if latest is not None:
        state, data_state = checkpoints.restore(latest, target)
        restore_data_position(train_iter, data_state, f"checkpoint {checkpoints.directory / str(latest)}")
        # Every process says so (each one restored the same global position).
        print(f"resuming from step {latest} ({checkpoints.directory / str(latest)})", flush=True)
        return state, latest
    if config.get("resume_from"):
        other = checkpointing.TrainCheckpoints(config.resume_from, keep=1, every_steps=1)
        step = other.latest_step()
        if step is None:
            raise UserError(f"resume_from {config.resume_from}: no checkpoint there")
        state, data_state = other.restore(step, target)
        other.close()
        restore_data_position(train_iter, data_state, f"resume_from {config.resume_from} (step {step})")
        print(f"resuming from step {step} of {config.resume_from}", flush=True)
        return state, step
    state = jax.jit(init_state, static_argnums=0, out_shardings=shardings)(int(config.train.seed))
    if config.get("init_from"):
        host_params = jax.tree.map(np.asarray, jax.device_get(state["params"]))
        params, loaded, fresh = load_init_from(
            host_params, config.init_from, emotions=model_config.emotion_labels,
            num_persons=model_config.synthesizer.num_persons,
        )  # fmt: skip
        state["params"] = jax.device_put(params, shardings["params"])  # optimizer moments start at zero anyway
        writer.print(
            f"initialised {len(loaded)} parameters from {config.init_from}"
            + (f"; {len(fresh)} kept fresh: {', '.join(fresh[:8])}{' ...' if len(fresh) > 8 else ''}" if fresh else "")
        )
    else:
        writer.print("starting from scratch (random initialisation)")
    return state, 0


def export_model(params, model_config, out_dir: Path, *, step: int, config) -> Path:
    """Writes the trained parameters as a model checkpoint for `voiceemo predict` (every process calls it).

    The parameters go in as whole host arrays: saved as the job's sharded arrays, the folder
    would name this job's devices and processes, and a single process (`voiceemo predict`)
    could not restore it.
    """
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        params = multihost_utils.process_allgather(params, tiled=True)
    else:
        params = jax.device_get(params)
    source = {
        "kind": "voiceemo-train",
        "step": int(step),
        "config": config.to_dict() if hasattr(config, "to_dict") else {},
    }
    return checkpoint_io.save_params(params, model_config, out_dir, source=_jsonable(source), overwrite=True)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
