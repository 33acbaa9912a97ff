"""A persistent XLA compilation cache in the user's cache folder, so repeat runs skip compiling.

Every `voiceemo predict` or `demo` run traces and compiles the same programs (7-10 s for the
release-size model before any audio is processed). JAX can keep compiled executables on
disk, keyed by the program, the compile options, the backend and the jax/jaxlib versions,
so a second run on the same machine loads them instead (a changed model, shape or JAX
version simply misses and compiles). Entries live in `<cache>/xla`, where `<cache>` is
`$VOICEEMO_CACHE`, else `$XDG_CACHE_HOME/voiceemo`, else `~/.cache/voiceemo`.

`VOICEEMO_COMPILE_CACHE=0` turns it off. A cache the caller configured already
(`JAX_COMPILATION_CACHE_DIR`, or `jax_compilation_cache_dir` set in the process, as the
test suite does) is left as it is, so this never redirects someone else's cache.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ENV_SWITCH = "VOICEEMO_COMPILE_CACHE"
_OFF = ("0", "false", "no", "off")

# Every compiled program is stored, however fast it compiled: a predict run compiles a
# few dozen programs of 0.05-1 s each besides the model's big one, and together they are
# most of the start-up on a small model. JAX's default (1 s) would keep only the big one.
MIN_COMPILE_SECONDS = 0.0
# Least-recently-used entries are evicted beyond this (a release-size model's programs
# take ~10-30 MB; each new jax version or model shape adds its own).
MAX_CACHE_BYTES = 2 * 1024**3


def user_cache_dir() -> Path:
    """The user's VoiceEmo cache folder: $VOICEEMO_CACHE, else $XDG_CACHE_HOME/voiceemo, else ~/.cache/voiceemo."""
    if os.environ.get("VOICEEMO_CACHE"):
        return Path(os.environ["VOICEEMO_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "voiceemo"


def compile_cache_dir() -> Path:
    return user_cache_dir() / "xla"


def enabled() -> bool:
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in _OFF


def enable_compile_cache() -> Path | None:
    """Points JAX's persistent compilation cache at the user's cache folder; returns the folder in use.

    Returns None when turned off ($VOICEEMO_COMPILE_CACHE=0) or when the folder cannot be
    created (a read-only home: the run goes on, compiling as before). Call it before the
    first compilation: JAX decides once per process whether the cache is used.
    """
    if not enabled():
        return None
    import jax

    configured = os.environ.get("JAX_COMPILATION_CACHE_DIR") or jax.config.jax_compilation_cache_dir
    if configured:
        return Path(configured)
    folder = compile_cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        print(f"warning: no compilation cache ({folder}: {error.strerror})", file=sys.stderr)
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    jax.config.update("jax_compilation_cache_max_size", MAX_CACHE_BYTES)
    return folder
