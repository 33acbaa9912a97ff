"""Where a run's first state comes from, and where its final model goes.

Order: this workdir's latest checkpoint (resume) -> `config.resume_from` (another run's
checkpoints) -> fresh state, optionally overwritten by `config.init_from` (a converted
model checkpoint, an encoder checkpoint, or a Hugging Face wav2vec2 folder with weights).
Fine-tuning loads every parameter whose path and shape match; parameters that differ
(e.g. an emotion head over another label set, a person embedding for more speakers)
keep their fresh initialisation and are listed.
"""

from __future__ import annotations

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


def _source_params(path: Path) -> dict[tuple, np.ndarray]:
    """Flat {our parameter path: array} from any supported init_from source."""
    if (path / checkpoint_io.CONFIG_FILE).is_file():
        model, _ = checkpoint_io.load_model(path)
        params = nnx.to_pure_dict(nnx.state(model, nnx.Param))
        return {k: np.asarray(v) for k, v in _flatten(params).items()}
    if (path / hf_wav2vec2.META_FILE).is_file():
        _, params = hf_wav2vec2.read_encoder(path)
    elif (path / "config.json").is_file():
        _, params, _ = hf_wav2vec2.params_from_hf_folder(path)
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
    return flat


def load_init_from(params: dict, path: str | Path) -> tuple[dict, list[str], list[str]]:
    """Overwrites matching leaves of a (host) params tree. -> (params, loaded, kept fresh)."""
    path = Path(path).absolute()
    source = _source_params(path)
    flat_target = _flatten(params)
    loaded, fresh = [], []
    for key, value in flat_target.items():
        incoming = source.get(key)
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


def initial_state(
    config, workdir, checkpoints, init_state, abstract_state, shardings, train_iter, model_config, writer
):
    """-> (train state placed with `shardings`, first step to run)."""
    target = checkpointing.abstract_like(abstract_state, shardings)
    latest = checkpoints.latest_step()
    if latest is not None:
        state, data_state = checkpoints.restore(latest, target)
        train_iter.set_state(data_state)
        writer.print(f"resuming from step {latest} ({checkpoints.directory / str(latest)})")
        return state, latest
    if config.get("resume_from"):
        other = checkpointing.TrainCheckpoints(config.resume_from, keep=1, every_steps=1)
        step = other.latest_step()
        if step is None:
            raise UserError(f"resume_from {config.resume_from}: no checkpoint there")
        state, data_state = other.restore(step, target)
        other.close()
        train_iter.set_state(data_state)
        writer.print(f"resuming from step {step} of {config.resume_from}")
        return state, step
    state = jax.jit(init_state, static_argnums=0, out_shardings=shardings)(int(config.train.seed))
    if config.get("init_from"):
        host_params = jax.tree.map(np.asarray, jax.device_get(state["params"]))
        params, loaded, fresh = load_init_from(host_params, config.init_from)
        state["params"] = jax.device_put(params, shardings["params"])  # optimizer moments start at zero anyway
        writer.print(
            f"initialised {len(loaded)} parameters from {config.init_from}"
            + (f"; {len(fresh)} kept fresh: {', '.join(fresh[:8])}{' ...' if len(fresh) > 8 else ''}" if fresh else "")
        )
    else:
        writer.print("starting from scratch (random initialisation)")
    return state, 0


def export_model(params, model_config, out_dir: Path, *, step: int, config) -> Path:
    """Writes the trained parameters as a model checkpoint for `voiceemo predict`."""
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
