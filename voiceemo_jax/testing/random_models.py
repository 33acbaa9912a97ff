"""Random-weight VoiceEmo models built without compiling anything.

Eager NNX initialisation runs (and on CPU compiles) one small XLA program per parameter
shape: minutes for the tiny model on a busy 2-core machine, far longer for the 630M
parameters of the release size. Here the model is built abstractly (`nnx.eval_shape`)
and every parameter is filled from numpy's generator, so a release-size model costs
only the ~2.5 GB of float32 it occupies and a tiny one costs nothing.

Unlike the real initialisers, the output head `bs_map_r` is random, not zero, so
predictions carry signal and tests comparing two code paths can fail.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from voiceemo_jax.models import presets
from voiceemo_jax.models.voiceemo import VoiceEmo, VoiceEmoConfig


def _fill(path: tuple, leaf: jax.ShapeDtypeStruct, rng: np.random.Generator) -> jax.Array:
    """One parameter: fan-in scaled normal kernels, small biases, near-one norm scales."""
    name = str(path[-1].key if hasattr(path[-1], "key") else path[-1])
    shape, dtype = leaf.shape, leaf.dtype
    if name == "kernel":
        fan_in = int(np.prod(shape[:-1])) or 1  # Linear [in, out]; Conv [taps, in, out]
        values = rng.standard_normal(shape, dtype=np.float32) / np.sqrt(fan_in)
    elif name == "weight_v":  # positional conv [out, in/groups, taps]: unit output variance
        values = rng.standard_normal(shape, dtype=np.float32) / np.sqrt(shape[1] * shape[2])
    elif name == "weight_g":  # weight = g * v / ||v||: 1 keeps the per-tap norm of v's scale
        values = np.full(shape, 1.0, np.float32)
    elif name == "scale":
        values = 1.0 + 0.05 * rng.standard_normal(shape, dtype=np.float32)
    else:  # biases
        values = 0.02 * rng.standard_normal(shape, dtype=np.float32)
    return jnp.asarray(values.astype(dtype))  # on the device once, not re-sent with every call


def random_model(config: VoiceEmoConfig | str = "tiny", seed: int = 0) -> VoiceEmo:
    """A VoiceEmo with random weights. config: a VoiceEmoConfig or a preset size name."""
    if isinstance(config, str):
        config = presets.model_config(config)
    abstract = nnx.eval_shape(lambda: VoiceEmo(config, rngs=nnx.Rngs(0)))
    graphdef, abstract_params, rest = nnx.split(abstract, nnx.Param, ...)
    rng = np.random.default_rng(seed)
    values = jax.tree_util.tree_map_with_path(
        lambda path, leaf: _fill(path, leaf, rng), nnx.to_pure_dict(abstract_params)
    )
    nnx.replace_by_pure_dict(abstract_params, values)
    return nnx.merge(graphdef, abstract_params, rest)


def parameter_count(model: VoiceEmo) -> int:
    return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(nnx.state(model, nnx.Param)))
