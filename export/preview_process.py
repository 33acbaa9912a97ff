"""The pyrender preview in a process of its own.

Mesa's EGL/llvmpipe driver crashes (segmentation fault inside glDrawElements) in a process
that has loaded TensorFlow, whose bundled LLVM clashes with Mesa's. A user who renders from
Python after building or reading a dataset, or a test session, has TensorFlow loaded. So the
OpenGL context lives in a freshly spawned interpreter that imports only pyrender and numpy:
vertices go in through a pipe, RGB frames come back. The cost is one interpreter start
(about a second) and one frame copy (1.2 MB at 512x768) per frame.
"""

from __future__ import annotations

import multiprocessing

import numpy as np

from voiceemo_jax.errors import UserError

_START_TIMEOUT_S = 120.0


def _serve(connection, faces, colors, size, box) -> None:
    """Child process: one PreviewRenderer, one frame per vertex array received, until None."""
    from export.pyrender_preview import PreviewRenderer

    try:
        renderer = PreviewRenderer(faces, colors, size, box)
    except UserError as error:
        connection.send(("user_error", str(error)))
        return
    except Exception as error:  # anything else is reported the same way, with its type
        connection.send(("error", f"{type(error).__name__}: {error}"))
        return
    connection.send(("ready", None))
    try:
        while (vertices := connection.recv()) is not None:
            try:
                connection.send(("frame", renderer.render(vertices)))
            except Exception as error:
                connection.send(("error", f"{type(error).__name__}: {error}"))
    finally:
        renderer.close()


class IsolatedPreviewRenderer:
    """`PreviewRenderer`'s interface (render, close, context manager) over a child process.

    faces: [F, 3] int; colors: [V, 4] uint8 or None; size: (width, height); box: (min, max).
    """

    def __init__(self, faces, colors, size, box):
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child, np.asarray(faces), colors, tuple(size), box), daemon=True
        )
        self._process.start()
        child.close()
        kind, message = self._receive(timeout=_START_TIMEOUT_S)
        if kind == "user_error":
            self._stop()
            raise UserError(message)
        if kind != "ready":
            self._stop()
            raise UserError(f"the pyrender preview process could not start ({message}); try --engine blender")

    def _receive(self, timeout: float | None = None):
        if timeout is not None and not self._connection.poll(timeout):
            return "error", f"no answer within {timeout:.0f} s"
        try:
            return self._connection.recv()
        except EOFError:
            self._process.join(5)
            code = self._process.exitcode
            return "error", f"the preview process died (exit code {code})"

    def render(self, vertices) -> np.ndarray:
        """vertices: [V, 3] -> [height, width, 3] uint8 RGB."""
        self._connection.send(np.asarray(vertices, np.float32))
        kind, payload = self._receive()
        if kind != "frame":
            raise RuntimeError(f"pyrender preview failed: {payload}")
        return payload

    def _stop(self) -> None:
        self._process.join(10)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)
        self._connection.close()

    def close(self) -> None:
        try:
            self._connection.send(None)
        except (BrokenPipeError, OSError):
            pass
        self._stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
