"""Loading VOCASET's `templates.pkl` without letting the pickle run code.

A pickle names the callables it wants called (`GLOBAL` / `STACK_GLOBAL` opcodes) and
`pickle.Unpickler.find_class` resolves them. The restricted unpickler resolves only the
numpy array reconstruction functions and the plain container types; any other name
(`os.system`, `builtins.eval`, `subprocess.Popen` ...) is refused before it is called,
so a malicious file's payload never runs.
"""

from __future__ import annotations

import codecs
import io
import pickle
from pathlib import Path

import numpy as np

from voiceemo_jax.errors import UserError

# (module, name) pairs a pickle of {str: numpy array} needs, across numpy 1.x ("numpy.core")
# and 2.x ("numpy._core") and Python 2 ("__builtin__") writers.
_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("builtins", "dict"): dict,
    ("builtins", "tuple"): tuple,
    ("builtins", "list"): list,
    ("__builtin__", "dict"): dict,
    ("__builtin__", "tuple"): tuple,
    ("__builtin__", "list"): list,
    # Python 3 writes bytes as _codecs.encode(text, "latin1") in protocols 0-2.
    ("_codecs", "encode"): codecs.encode,
}
_NUMPY_CORE_MODULES = ("numpy.core.multiarray", "numpy._core.multiarray", "numpy.core.numeric", "numpy._core.numeric")
_NUMPY_CORE_NAMES = ("_reconstruct", "scalar", "_frombuffer")


def _numpy_core_global(name: str):
    from numpy._core import multiarray, numeric

    return {"_reconstruct": multiarray._reconstruct, "scalar": multiarray.scalar, "_frombuffer": numeric._frombuffer}[
        name
    ]


class ForbiddenGlobalError(pickle.UnpicklingError):
    """The pickle asked for a global outside the allow-list."""

    def __init__(self, module: str, name: str):
        super().__init__(f"{module}.{name}")
        self.qualified_name = f"{module}.{name}"


class NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild numpy arrays, dicts, lists and tuples, and nothing else."""

    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED_GLOBALS:
            return _ALLOWED_GLOBALS[(module, name)]
        if module in _NUMPY_CORE_MODULES and name in _NUMPY_CORE_NAMES:
            return _numpy_core_global(name)
        raise ForbiddenGlobalError(module, name)


def safe_loads(data: bytes):
    """Unpickles `data` with `NumpyOnlyUnpickler`.

    `encoding="latin1"` decodes the byte strings of Python 2 pickles (VOCASET's file
    was written by Python 2) into the raw array buffers numpy expects.
    """
    return NumpyOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()


def load_templates(path: str | Path) -> dict[str, np.ndarray]:
    """VOCASET templates: {subject: [V, 3] float32 neutral FLAME mesh}.

    Raises:
      UserError: unreadable file, a global outside the allow-list (named in the
        message), or contents that are not a dict of subject -> [V, 3] arrays.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UserError(f"{path}: cannot read templates ({error.strerror})") from None
    try:
        loaded = safe_loads(data)
    except ForbiddenGlobalError as error:
        raise UserError(
            f"{path}: refusing to unpickle: it calls {error.qualified_name}, and only numpy arrays and "
            "plain dicts/lists/tuples are allowed in templates.pkl"
        ) from None
    except Exception as error:  # noqa: BLE001 - any other decoding failure is a corrupt file
        raise UserError(f"{path}: not a readable templates pickle ({type(error).__name__}: {error})") from None
    if not isinstance(loaded, dict) or not loaded:
        raise UserError(f"{path}: expected a dict of subject -> [V, 3] template, got {type(loaded).__name__}")
    templates = {}
    for subject, template in loaded.items():
        array = np.asarray(template)
        if not isinstance(subject, str) or array.ndim != 2 or array.shape[1] != 3 or not array.dtype.kind == "f":
            raise UserError(f"{path}: entry {subject!r} is not a [V, 3] float template (shape {array.shape})")
        templates[subject] = array.astype(np.float32)
    shapes = {t.shape for t in templates.values()}
    if len(shapes) != 1:
        raise UserError(f"{path}: templates have different vertex counts {sorted(shapes)}")
    return templates
