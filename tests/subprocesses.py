"""The environment of the tests' subprocesses (training launched as a user launches it).

They inherit the session's XLA compilation cache (JAX_COMPILATION_CACHE_DIR, see conftest.py):
the tiny config's train step compiles once, not once per run; and its compile flags.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def subprocess_env(devices: int | None = None) -> dict[str, str]:
    """os.environ plus the repository on PYTHONPATH; `devices` forces that many host devices."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("JAX_PLATFORMS", None)
    # The caller's device count goes; the test session's compile flags (conftest.py) stay.
    flags = [f for f in env.pop("XLA_FLAGS", "").split() if not f.startswith("--xla_force_host_platform_device_count")]
    if devices is not None:
        flags.append(f"--xla_force_host_platform_device_count={devices}")
    if flags:
        env["XLA_FLAGS"] = " ".join(flags)
    return env
