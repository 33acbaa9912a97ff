"""The environment of the tests' subprocesses (training launched as a user launches it).

They inherit the session's XLA compilation cache (JAX_COMPILATION_CACHE_DIR, see conftest.py):
the tiny config's train step compiles once, not once per run.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def subprocess_env(devices: int | None = None) -> dict[str, str]:
    """os.environ plus the repository on PYTHONPATH; `devices` forces that many host devices."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("XLA_FLAGS", None)
    env.pop("JAX_PLATFORMS", None)
    if devices is not None:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    return env
