"""Model checkpoints: an Orbax parameter tree plus a readable model config.

Layout of a model checkpoint folder (what `convert` writes and `predict` reads):

    CKPT_DIR/
      voiceemo_model.json   {"format": "voiceemo-jax", "version": 1, "model": {...}, "source": {...}}
      params/               Orbax StandardCheckpointer tree of the model's nnx.Param state

The folder is written under a temporary name and renamed when complete, so a crash never
leaves something `load_model` would accept.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import jax
from flax import nnx

from voiceemo_jax.errors import UserError
from voiceemo_jax.models.voiceemo import VoiceEmo, VoiceEmoConfig

FORMAT = "voiceemo-jax"
VERSION = 1
CONFIG_FILE = "voiceemo_model.json"
PARAMS_DIR = "params"


def _checkpointer():
    import orbax.checkpoint as ocp

    return ocp.StandardCheckpointer()


def save_model(
    model: VoiceEmo, out_dir: str | os.PathLike, *, source: dict[str, Any] | None = None, overwrite: bool = False
) -> Path:
    """Writes `model`'s parameters and config to `out_dir` atomically; returns the path."""
    params = nnx.to_pure_dict(nnx.state(model, nnx.Param))
    return save_params(params, model.config, out_dir, source=source, overwrite=overwrite)


def save_params(
    params,
    config: VoiceEmoConfig,
    out_dir: str | os.PathLike,
    *,
    source: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Writes a parameter tree (numpy or jax arrays, sharded across hosts too) as a model checkpoint.

    Every process must call this (Orbax saves sharded arrays collectively); process 0
    writes the JSON and renames the finished folder into place, so `out_dir` appears
    complete or not at all.
    """
    meta = {"format": FORMAT, "version": VERSION, "model": config.to_dict(), "source": source or {}}
    return save_tree_folder(params, meta, out_dir, config_file=CONFIG_FILE, overwrite=overwrite, name="params")


def save_tree_folder(
    tree, meta: dict[str, Any], out_dir: str | os.PathLike, *, config_file: str, overwrite: bool, name: str
) -> Path:
    """OUT_DIR/params (an Orbax tree) + OUT_DIR/`config_file` (`meta` as JSON), atomically and
    collectively: every process calls it, process 0 writes the JSON and renames the finished
    folder into place. `name` tells the processes' barriers of different savers apart."""
    out_dir = Path(out_dir).absolute()
    if out_dir.exists() and not overwrite:
        raise UserError(f"{out_dir} already exists; choose another folder or remove it")
    partial = out_dir.with_name(f".{out_dir.name}.partial")
    if jax.process_index() == 0 and partial.exists():
        shutil.rmtree(partial)
    _sync(f"voiceemo_save_{name}_start")
    checkpointer = _checkpointer()
    checkpointer.save(partial / PARAMS_DIR, tree, force=True)
    checkpointer.wait_until_finished()
    _sync(f"voiceemo_save_{name}_done")
    if jax.process_index() == 0:
        (partial / config_file).write_text(json.dumps(meta, indent=2) + "\n")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(partial, out_dir)
    _sync(f"voiceemo_save_{name}_renamed")
    return out_dir


def _sync(name: str) -> None:
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def read_model_meta(ckpt_dir: str | os.PathLike) -> dict[str, Any]:
    """Reads and validates `voiceemo_model.json`; raises UserError if the folder is not ours."""
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        raise UserError(f"checkpoint {ckpt_dir} is not a folder (expected a VoiceEmo-JAX checkpoint folder)")
    config_path = ckpt_dir / CONFIG_FILE
    if not config_path.is_file() or not (ckpt_dir / PARAMS_DIR).is_dir():
        raise UserError(
            f"{ckpt_dir} is not a VoiceEmo-JAX checkpoint (no {CONFIG_FILE} and {PARAMS_DIR}/); "
            "convert a release .pth with `voiceemo convert emotalk` first"
        )
    return read_meta_json(config_path, FORMAT, VERSION, "a VoiceEmo-JAX checkpoint")


def read_meta_json(config_path: Path, fmt: str, version: int, what: str) -> dict[str, Any]:
    """A checkpoint folder's JSON -> dict; UserError unless it parses and has this format and version."""
    try:
        meta = json.loads(config_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{config_path} is not valid JSON: {error}") from None
    if not isinstance(meta, dict) or meta.get("format") != fmt:
        raise UserError(f"{config_path} does not describe {what} (format != {fmt!r})")
    if meta.get("version") != version:
        raise UserError(f"{config_path} has checkpoint version {meta.get('version')}, this build reads {version}")
    return meta


def load_model(ckpt_dir: str | os.PathLike, **model_kwargs) -> tuple[VoiceEmo, dict[str, Any]]:
    """Restores a model from a checkpoint folder -> (model, meta)."""
    ckpt_dir = Path(ckpt_dir).absolute()
    meta = read_model_meta(ckpt_dir)
    try:
        config = VoiceEmoConfig.from_dict(meta["model"])
    except (KeyError, TypeError, ValueError) as error:
        raise UserError(f"{ckpt_dir / CONFIG_FILE} has an invalid model config: {error}") from None
    abstract = nnx.eval_shape(lambda: VoiceEmo(config, rngs=nnx.Rngs(0), **model_kwargs))
    graphdef, abstract_params, rest = nnx.split(abstract, nnx.Param, ...)
    target = nnx.to_pure_dict(abstract_params)
    try:
        restored = _checkpointer().restore(ckpt_dir / PARAMS_DIR, target)
    except Exception as error:  # Orbax raises many types for a damaged or mismatched tree
        raise UserError(
            f"cannot restore parameters from {ckpt_dir / PARAMS_DIR}: {str(error).splitlines()[0]}"
        ) from None
    nnx.replace_by_pure_dict(abstract_params, restored)
    model = nnx.merge(graphdef, abstract_params, rest)
    return model, meta
