"""Experiment configs: `configs/NAME.py[:arg]` files and `--config.key=value` overrides."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

from voiceemo_jax.errors import UserError

_PACKAGE_CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def load_config(spec: str):
    """'configs/tiny.py:variant=group' (or just 'tiny') -> ml_collections.ConfigDict."""
    path_text, _, arg = spec.partition(":")
    path = Path(path_text)
    if not path.suffix and not path.exists():
        path = _PACKAGE_CONFIGS / f"{path_text}.py"
    if not path.is_file():
        raise UserError(f"--config {path_text}: no such config file")
    module_spec = importlib.util.spec_from_file_location(f"voiceemo_config_{path.stem}", path)
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as error:
        raise UserError(f"--config {path}: failed to load: {type(error).__name__}: {error}") from None
    if not hasattr(module, "get_config"):
        raise UserError(f"--config {path}: defines no get_config()")
    return module.get_config(arg or None)


def _coerce(text: str, current, key: str):
    if isinstance(current, bool):
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise UserError(f"--config.{key}: expected true/false, got {text!r}")
    if isinstance(current, (int, float)):
        try:
            return type(current)(float(text)) if isinstance(current, int) and float(text).is_integer() else float(text)
        except ValueError:
            raise UserError(f"--config.{key}: expected a number, got {text!r}") from None
    if isinstance(current, (tuple, list)):
        try:
            value = ast.literal_eval(text if text.strip().startswith(("(", "[")) else f"({text},)")
        except (ValueError, SyntaxError):
            raise UserError(f"--config.{key}: expected a list like 1.0,2.0 got {text!r}") from None
        return tuple(value)
    return text


def apply_overrides(config, overrides: list[str]):
    """Applies ['--config.train.num_steps=5', '--config.data.dir', 'DIR', ...] in order."""
    items = list(overrides)
    while items:
        token = items.pop(0)
        if not token.startswith("--config."):
            raise UserError(f"unrecognised argument {token!r} (overrides look like --config.train.num_steps=100)")
        key, sep, value = token[len("--config.") :].partition("=")
        if not sep:
            if not items:
                raise UserError(f"--config.{key} needs a value")
            value = items.pop(0)
        *parents, leaf = key.split(".")
        node = config
        for part in parents:
            if part not in node:
                raise UserError(f"--config.{key}: no such config field {part!r}")
            node = node[part]
        if leaf not in node:
            raise UserError(f"--config.{key}: no such config field (known: {', '.join(sorted(node.keys()))})")
        with node.unlocked() if hasattr(node, "unlocked") else _nothing():
            node[leaf] = _coerce(value, node[leaf], key)
    return config


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
