"""optax AdamW (or plain SGD) with warm-up + cosine decay, global-norm clipping and frozen parameter groups.

`train.optimizer = "sgd"`: updates proportional to the gradient (no moment normalisation),
e.g. to check that gradients are averaged, not summed, over processes.

Frozen parameters get `optax.set_to_zero()`: no update and, unlike a zero gradient under
AdamW, no weight decay either, so a frozen CNN stays bit-identical to its initialisation.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import optax

from voiceemo_jax.errors import UserError

FROZEN, TRAINABLE = "frozen", "trainable"


def learning_rate_schedule(peak: float, warmup_steps: int, total_steps: int, end_fraction: float = 0.01):
    """Linear warm-up from 0 over `warmup_steps`, then cosine decay to `end_fraction` x peak.
    warmup_steps = 0 starts at the peak (the first step already moves the parameters)."""
    if warmup_steps <= 0:
        return optax.cosine_decay_schedule(peak, max(total_steps, 1), alpha=end_fraction)
    return optax.warmup_cosine_decay_schedule(
        init_value=0.0,
        peak_value=peak,
        warmup_steps=max(warmup_steps, 1),
        decay_steps=max(total_steps, warmup_steps + 1),
        end_value=peak * end_fraction,
    )


def frozen_prefixes(*, feature_encoder: bool, content_encoder: bool, emotion_encoder: bool) -> tuple[tuple, ...]:
    """Parameter-path prefixes (tuples of keys, "*" = any) that training must not change."""
    prefixes = []
    if feature_encoder:
        prefixes += [("content_encoder", "wav2vec2", "feature_extractor"),
                     ("emotion_encoder", "wav2vec2", "feature_extractor")]  # fmt: skip
    if content_encoder:
        prefixes.append(("content_encoder",))
    if emotion_encoder:
        prefixes.append(("emotion_encoder",))
    return tuple(prefixes)


def parameter_labels(params, prefixes: Sequence[tuple]):
    """Pytree of FROZEN/TRAINABLE labels, matching `params` (a nested dict)."""

    def label(path, _):
        keys = tuple(getattr(k, "key", getattr(k, "idx", k)) for k in path)
        return FROZEN if any(keys[: len(p)] == p for p in prefixes) else TRAINABLE

    return jax.tree_util.tree_map_with_path(label, params)


def make_optimizer(train_config, params, prefixes: Sequence[tuple]) -> tuple[optax.GradientTransformation, object]:
    """-> (optimizer, learning-rate schedule). `train_config`: the config's `train` block."""
    schedule = learning_rate_schedule(train_config.learning_rate, train_config.warmup_steps, train_config.num_steps)
    name = train_config.get("optimizer", "adamw")
    if name == "adamw":
        update = optax.adamw(schedule, b1=0.9, b2=0.98, eps=1e-8, weight_decay=train_config.weight_decay)
    elif name == "sgd":
        update = optax.chain(optax.add_decayed_weights(train_config.weight_decay), optax.sgd(schedule))
    else:
        raise UserError(f"train.optimizer must be 'adamw' or 'sgd', got {name!r}")
    trainable = optax.chain(optax.clip_by_global_norm(train_config.grad_clip_norm), update)
    labels = parameter_labels(params, prefixes)
    optimizer = optax.multi_transform({TRAINABLE: trainable, FROZEN: optax.set_to_zero()}, labels)
    return optimizer, schedule
