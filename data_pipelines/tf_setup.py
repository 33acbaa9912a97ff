"""Importing TensorFlow for data work only: it must never take the accelerator from JAX."""

from __future__ import annotations

import os
import warnings

_configured = False


def tensorflow():
    """Imports TensorFlow with every GPU hidden from it, and returns the module.

    TensorFlow grabs all GPU memory at its first op unless told otherwise, which would
    leave nothing for the JAX training step. Hiding the devices only works before
    TensorFlow initialises them; if something imported and used TF earlier, we warn
    when a GPU is still visible.
    """
    global _configured
    # Quiet C++ logs and skip the GCE metadata probe tfds' GCS support would otherwise make.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("NO_GCE_CHECK", "true")
    import tensorflow as tf

    if not _configured:
        try:
            tf.config.set_visible_devices([], "GPU")
        except RuntimeError:
            if tf.config.get_visible_devices("GPU"):
                warnings.warn("TensorFlow was initialised before the GPU could be hidden from it", stacklevel=2)
        _configured = True
    return tf
