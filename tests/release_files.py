"""Writers for release-layout fixture files (.pth + Hugging Face folders) and parity helpers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def write_hf_folder(folder: Path, config: dict, weights: dict | None = None) -> Path:
    from voiceemo_jax.models import presets

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    (folder / "preprocessor_config.json").write_text(json.dumps(presets.PREPROCESSOR, indent=2))
    if weights is not None:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in weights.items()}, str(folder / "model.safetensors"))
    return folder


def make_release_files(root: Path, variant: str, seed: int = 1) -> tuple[object, object, Path, Path, Path]:
    import torch

    from voiceemo_jax.models import presets
    from voiceemo_jax.testing.torch_reference import build_reference

    config = presets.model_config("tiny", variant=variant)
    reference = build_reference(config, seed=seed)
    root.mkdir(parents=True, exist_ok=True)
    pth = root / "release.pth"
    torch.save(reference.state_dict(), pth)
    content_dir = write_hf_folder(root / "content_encoder", presets.hf_wav2vec2_dict(variant, size="tiny"))
    emotion_dir = write_hf_folder(
        root / "emotion_encoder", presets.hf_wav2vec2_dict(variant, size="tiny", labels=config.emotion.id2label)
    )
    return config, reference, pth, content_dir, emotion_dir


def max_rel_error(ours: np.ndarray, theirs: np.ndarray) -> float:
    """max |a - b| / max(1, max |b|): the parity measure of the issue (<= 1e-4 passes)."""
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    return float(np.abs(ours - theirs).max() / max(1.0, float(np.abs(theirs).max())))
