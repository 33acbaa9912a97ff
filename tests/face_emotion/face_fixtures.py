"""Helpers shared by the face-emotion tests (fixtures themselves live in conftest.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
CONFIG = str(ROOT / "configs" / "face_emotion.py")
TRAIN_STEPS = 40


def train_classifier(build: Path, workdir: Path, steps: int = TRAIN_STEPS) -> int:
    """`voiceemo train --config configs/face_emotion.py:fixture` on `build`, in this process."""
    from voiceemo_jax.cli import main

    argv = ["train", "--config", f"{CONFIG}:fixture,steps={steps}", "--workdir", str(workdir),
            "--config.data.fixture=false", f"--config.data.dir={build}", "--config.train.eval_every=0",
            "--config.train.checkpoint_every=20"]  # fmt: skip
    return main(argv)


def split_clips(build: Path, split: str) -> list[dict]:
    """Every clip of a split: {"clip_id", "targets" [T, 52], "emotion", "level"}."""
    from data_pipelines.loading.input_pipeline import make_eval_iterator

    clips = []
    for batch in make_eval_iterator(build, split, batch_size=8, process_index=0, process_count=1):
        x = batch["x"]
        for i in np.flatnonzero(x["valid"]):
            clips.append({"clip_id": str(batch["clip_id"][i]), "targets": x["targets"][i, : x["num_frames"][i]],
                          "emotion": int(x["emotion"][i]), "level": int(x["level"][i])})  # fmt: skip
    return clips
