"""Safe reading of PyTorch / Hugging Face weight files, and the strict name mapping to Flax.

PyTorch files are read with `torch.load(weights_only=True)`, which refuses arbitrary
pickled objects; safetensors files need no unpickling at all. The mapping from PyTorch
names to our parameter paths is mechanical because our modules mirror PyTorch's names:
`a.b.3.c.weight` -> ("a", "b", 3, "c", "kernel" | "scale"), plus layout changes
(Linear [out, in] -> [in, out]; Conv1d [out, in, k] -> [k, in, out]).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np

from voiceemo_jax.errors import UserError

Path_ = tuple[str | int, ...]

# Release keys that carry no weights the model uses.
IGNORED_SUFFIXES = ("masked_spec_embed",)
IGNORED_PREFIXES = ("lm_head.",)
# Weight-norm spellings: old `weight_g/weight_v` and newer parametrizations.
WEIGHT_NORM_ALIASES = {
    "parametrizations.weight.original0": "weight_g",
    "parametrizations.weight.original1": "weight_v",
}


def load_torch_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Reads a .pth/.bin/.safetensors state dict into float32 numpy arrays, safely."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint file {path} does not exist")
    if path.suffix == ".safetensors":
        from safetensors.numpy import load_file

        try:
            return {k: np.asarray(v, np.float32) for k, v in load_file(str(path)).items()}
        except Exception as error:
            raise UserError(f"{path} is not a readable safetensors file: {error}") from None
    try:
        import torch
    except ImportError:
        raise UserError("reading .pth/.bin checkpoints needs PyTorch: pip install 'voiceemo-jax[convert]'") from None
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(
            f"{path} is not a loadable PyTorch state dict (loaded with weights_only=True): {first}"
        ) from None
    for wrapper in ("state_dict", "model"):
        if isinstance(state, Mapping) and wrapper in state and isinstance(state[wrapper], Mapping):
            state = state[wrapper]
    if not isinstance(state, Mapping) or not all(hasattr(v, "shape") for v in state.values()):
        raise UserError(f"{path} does not hold a state dict of tensors")
    return {k: v.detach().to(torch.float32).numpy() for k, v in state.items()}


def load_hf_folder(folder: str | os.PathLike, *, need_weights: bool) -> tuple[dict, dict, dict | None]:
    """Reads an HF model folder -> (config.json, preprocessor_config.json or {}, weights or None)."""
    folder = Path(folder)
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise UserError(f"{folder} is not a Hugging Face model folder (no config.json)")
    config = _read_json(config_path)
    if config.get("model_type", "wav2vec2") != "wav2vec2":
        raise UserError(f"{config_path} describes a {config.get('model_type')!r} model, not wav2vec2")
    pre_path = folder / "preprocessor_config.json"
    preprocessor = _read_json(pre_path) if pre_path.is_file() else {}
    weights = None
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (folder / name).is_file():
            weights = load_torch_state_dict(folder / name)
            break
    if need_weights and weights is None:
        raise UserError(f"{folder} has no weights (model.safetensors or pytorch_model.bin)")
    return config, preprocessor, weights


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise UserError(f"{path} does not hold a JSON object")
    return value


def is_ignored(key: str) -> bool:
    return key.endswith(IGNORED_SUFFIXES) or any(key.startswith(p) or f".{p}" in key for p in IGNORED_PREFIXES)


def torch_key_to_path(key: str) -> tuple[Path_, str]:
    """`a.0.b.weight` -> (("a", 0, "b"), "weight"): module path and the torch leaf name."""
    for alias, plain in WEIGHT_NORM_ALIASES.items():
        if key.endswith(alias):
            key = key[: -len(alias)] + plain
    *module, leaf = key.split(".")
    return tuple(int(p) if p.isdigit() else p for p in module), leaf


def to_flax_leaf(leaf: str, value: np.ndarray, target_names: Iterable[str]) -> tuple[str, np.ndarray]:
    """Chooses our leaf name for a torch leaf and converts its layout."""
    names = set(target_names)
    if leaf in ("weight_g", "weight_v"):  # kept in PyTorch layout (see WeightNormConv1d)
        return leaf, value
    if leaf == "weight":
        if "kernel" in names:
            if value.ndim == 2:
                return "kernel", value.T
            if value.ndim == 3:
                return "kernel", value.transpose(2, 1, 0)
        if "scale" in names:
            return "scale", value
    if leaf == "in_proj_weight":
        return "in_proj/kernel", value.T
    if leaf == "in_proj_bias":
        return "in_proj/bias", value
    return leaf, value


def assign_strict(
    target: dict,
    source: Mapping[str, np.ndarray],
    prefix_map: Callable[[str], Path_ | None],
    *,
    what: str,
) -> None:
    """Fills the nested pure-dict `target` (leaves with .shape) from a torch state dict.

    `prefix_map(key)` returns our path for the key's module, or None when the key is not
    ours. Fails with one message listing every unexpected key, missing parameter and
    shape mismatch (the release's non-strict load silently left a zero output head).
    """
    flat_target = _flatten(target)
    filled: dict[Path_, np.ndarray] = {}
    unexpected, mismatched = [], []
    for key, value in source.items():
        if is_ignored(key):
            continue
        module_path = prefix_map(key)
        if module_path is None:
            unexpected.append(key)
            continue
        _, leaf = torch_key_to_path(key)
        siblings = [p[-1] for p in flat_target if p[:-1] == module_path]
        name, converted = to_flax_leaf(leaf, value, siblings)
        path = module_path + tuple(name.split("/"))  # "in_proj/kernel": one level deeper
        if path not in flat_target:
            unexpected.append(key)
            continue
        expected = tuple(flat_target[path].shape)
        if tuple(converted.shape) != expected:
            mismatched.append(f"{key}: checkpoint {tuple(value.shape)}, model expects {expected} (after layout change)")
            continue
        filled[path] = converted
    missing = [".".join(map(str, p)) for p in flat_target if p not in filled]
    problems = []
    if unexpected:
        problems.append(f"unexpected keys ({len(unexpected)}): " + ", ".join(sorted(unexpected)))
    if missing:
        problems.append(f"missing parameters ({len(missing)}): " + ", ".join(sorted(missing)))
    if mismatched:
        problems.append(f"shape mismatches ({len(mismatched)}): " + "; ".join(mismatched))
    if problems:
        raise UserError(f"{what} does not match the model: " + " | ".join(problems))
    for path, value in filled.items():
        # On the device once: numpy leaves would be copied to the device on every jitted call.
        _set(target, path, jnp.asarray(np.asarray(value, np.float32)))


def load_into(module, source: Mapping[str, np.ndarray], prefix_map, *, what: str):
    """Strictly loads a torch state dict into any nnx module's parameters; returns the module."""
    from flax import nnx

    params = nnx.to_pure_dict(nnx.state(module, nnx.Param))
    assign_strict(params, source, prefix_map, what=what)
    nnx.update(module, params)
    return module


def _flatten(tree: dict, prefix: Path_ = ()) -> dict[Path_, Any]:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flatten(value, prefix + (key,)))
        else:
            out[prefix + (key,)] = value
    return out


def _set(tree: dict, path: Path_, value) -> None:
    for key in path[:-1]:
        tree = tree[key]
    tree[path[-1]] = value
