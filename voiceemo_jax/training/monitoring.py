"""Metrics to TensorBoard and stdout (process 0 only), validation sums, and the NaN/inf guard."""

from __future__ import annotations

import math
from pathlib import Path

from voiceemo_jax.errors import UserError


def validation_sums(config, run_batch) -> dict[str, float]:
    """Adds up `run_batch(batch["x"])` (a dict of summed metrics) over the config's
    validation split, stopping after `config.train.eval_batches` batches when that is set."""
    import jax

    from data_pipelines.loading.input_pipeline import make_eval_iterator

    iterator = make_eval_iterator(
        config.data.dir, config.data.eval_split, batch_size=config.train.per_process_batch_size,
        bucket_seconds=tuple(config.data.bucket_seconds),
    )  # fmt: skip
    totals: dict[str, float] = {}
    for index, batch in enumerate(iterator):
        if config.train.eval_batches and index >= config.train.eval_batches:
            break
        for key, value in jax.device_get(run_batch(batch["x"])).items():
            totals[key] = totals.get(key, 0.0) + float(value)
    return totals


class NonFiniteLossError(UserError):
    """A loss became NaN/inf; the message names the step and the last good checkpoint."""


def check_finite(metrics: dict[str, float], step: int, checkpoints) -> None:
    bad = sorted(k for k, v in metrics.items() if k.startswith("loss/") and not math.isfinite(v))
    if bad:
        checkpoints.wait()
        last = checkpoints.latest_step()
        kept = f"last good checkpoint: step {last} in {checkpoints.directory}" if last else "no checkpoint was saved"
        raise NonFiniteLossError(
            f"non-finite loss at step {step} ({', '.join(f'{k}={metrics[k]}' for k in bad)}); "
            f"stopping without saving it; {kept}"
        )


class MetricWriter:
    """TensorBoard scalars + one concise progress line per write."""

    def __init__(self, logdir: Path, *, enabled: bool):
        self.enabled = enabled
        self._writer = None
        if enabled:
            from data_pipelines.tf_setup import tensorflow

            tf = tensorflow()
            self._tf = tf
            self._writer = tf.summary.create_file_writer(str(logdir))

    def write(self, step: int, metrics: dict[str, float], *, total_steps: int | None = None) -> None:
        if not self.enabled:
            return
        with self._writer.as_default(step=step):
            for key, value in metrics.items():
                self._tf.summary.scalar(key, value)
        self._writer.flush()
        self.print(format_line(step, metrics, total_steps))

    def print(self, message: str) -> None:
        if self.enabled:
            print(message, flush=True)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def format_line(step: int, metrics: dict[str, float], total_steps: int | None) -> str:
    short = {
        "loss/total": "loss", "loss/cross_reconstruction": "cross", "loss/self_reconstruction": "self",
        "loss/velocity": "vel", "loss/emotion": "emo", "emotion_accuracy": "emo_acc", "grad_norm": "gnorm",
        "learning_rate": "lr", "perf/steps_per_second": "steps/s", "perf/examples_per_second": "ex/s",
        "eval/mse": "val_mse", "eval/coefficient_mae": "val_mae", "eval/emotion_accuracy": "val_emo_acc",
    }  # fmt: skip
    parts = [f"step {step}" + (f"/{total_steps}" if total_steps else "")]
    for key, label in short.items():
        if key in metrics:
            value = metrics[key]
            parts.append(f"{label} {value:.3g}" if key != "learning_rate" else f"{label} {value:.2e}")
    return " | ".join(parts)
