"""The mouth at rest where nobody speaks: a gate on the mouth-opening channels from the audio's level.

A model trained only on clips full of speech leaves the mouth part open in a long pause or a silent
file (the demo model's figures: BENCHMARKS.md, "Real speech", the pauses rows). Where a model's
config sets `rest_in_pauses`, `Predictor` and `Streamer` multiply the channels the mouth opening is
made of (jawOpen, mouthClose, mouthLowerDownLeft/Right: `arkit.MOUTH_OPENING_WEIGHTS`) by
1 - `pause_weights`: 1 inside every run of at least `MIN_PAUSE_FRAMES` quiet frames (frame level
below `QUIET_DBFS`), ramping over `RAMP_FRAMES` at either end of the run, 0 elsewhere. The lips
close; the other channels keep the model's values, the lip shapes among them (rounding, an upper
lip raised in disgust) and the rest of the face, so the face still shows its mood. Speech is not
touched: a stop's closure inside speech lasts well under 0.3 s.

A frame's level is the RMS of a 1/30 s window centred on its time (`frame_levels_db`), in dBFS
(0 dBFS: a full-scale square wave). Digital silence and room noise up to `QUIET_DBFS` count as
quiet; louder noise does not, and there the model's own output stays.

Windows and streams: a frame's weight depends on the audio within `MIN_PAUSE_FRAMES` of it, so a
window's core frames, gated from the window's own audio, get the weights of the whole clip where
the window's left context and lookahead are both at least that long (0.3 s; every window geometry
`voiceemo` uses has at least 0.6 s).
"""

from __future__ import annotations

import numpy as np

from voiceemo_jax.arkit import INDEX, MOUTH_OPENING_WEIGHTS, NUM_BLENDSHAPES
from voiceemo_jax.errors import UserError
from voiceemo_jax.timebase import FPS, SAMPLE_RATE_HZ, frames_for

QUIET_DBFS = -55.0
MIN_PAUSE_FRAMES = 9  # 0.3 s
RAMP_FRAMES = 3  # 0.1 s
# The channels the mouth opening is made of; gated towards 0 (lips together, jaw at rest) in pauses.
OPENING = tuple(INDEX[name] for name in MOUTH_OPENING_WEIGHTS)


def frame_levels_db(audio: np.ndarray, num_frames: int) -> np.ndarray:
    """[num_frames] dBFS of each frame: the RMS of samples [(2f - 1) / 60, (2f + 1) / 60) s, clipped to the audio.

    The frames' windows tile the audio, their bounds whole samples computed in integers, so a
    window of the clip starting on a 0.1 s step gives its frames the levels the whole clip gives them
    (the first, cut at the window's start, aside)."""
    squares = np.asarray(audio, np.float64) ** 2
    bounds = np.clip((2 * np.arange(num_frames + 1) - 1) * SAMPLE_RATE_HZ // (2 * FPS), 0, len(squares))
    counts = np.diff(bounds)
    power = np.zeros(num_frames)
    filled = counts > 0  # frames past the audio's end have no samples
    if filled.any():
        power[filled] = np.add.reduceat(squares, bounds[:-1][filled]) / counts[filled]
    # Full scale is RMS 1 (a square wave); a sine at full scale reads -3 dBFS.
    return 10.0 * np.log10(power + 1e-12)


def pause_weights(audio: np.ndarray, num_frames: int) -> np.ndarray:
    """[num_frames] float32 in [0, 1]: how far each frame is inside a pause (see the module docstring)."""
    quiet = frame_levels_db(audio, num_frames) < QUIET_DBFS
    weights = np.zeros(num_frames, np.float32)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], quiet.astype(np.int8), [0]])))
    for start, end in zip(edges[::2], edges[1::2]):  # runs of quiet frames [start, end)
        if end - start < MIN_PAUSE_FRAMES:
            continue
        inside = np.arange(start, end)
        ramp = np.minimum(inside - start + 1, end - inside) / (RAMP_FRAMES + 1)
        weights[start:end] = np.minimum(ramp, 1.0)
    return weights


def rest_in_pauses(outputs: np.ndarray, audio: np.ndarray, first_frame: int = 0) -> np.ndarray:
    """outputs: [T, 52] ARKit coefficients of `audio`'s frames first_frame .. first_frame + T - 1
    (frame f is time f / 30 s of `audio`) -> a copy with the mouth-opening channels gated in pauses."""
    if outputs.ndim != 2 or outputs.shape[1] != NUM_BLENDSHAPES:
        raise ValueError(f"resting the mouth needs [T, {NUM_BLENDSHAPES}] ARKit coefficients, got {outputs.shape}")
    # Weights over every frame of the audio: a pause running past the last output frame ramps down
    # where it ends, not there.
    num_frames = max(first_frame + len(outputs), frames_for(len(audio)))
    gate = 1.0 - pause_weights(audio, num_frames)[first_frame : first_frame + len(outputs)]
    out = np.array(outputs, copy=True)
    out[:, OPENING] *= gate[:, None].astype(out.dtype)
    return out


def resolve(model_config, rest: bool | None) -> bool:
    """Whether a run rests the mouth: `rest` where given (True needs ARKit outputs), else the model's setting."""
    if rest is None:
        return bool(model_config.rest_in_pauses)
    outputs = model_config.synthesizer.output_dim
    if rest and outputs != NUM_BLENDSHAPES:
        raise UserError(
            f"resting the mouth in pauses needs the {NUM_BLENDSHAPES} ARKit outputs; this model has {outputs}"
        )
    return bool(rest)


def add_argument(parser) -> None:
    """`--rest-in-pauses / --no-rest-in-pauses` (default None: as the checkpoint says), for predict, stream and demo."""
    import argparse

    parser.add_argument(
        "--rest-in-pauses",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"jaw and mouth opening at rest wherever the audio stays below {QUIET_DBFS:g} dBFS for "
        f"{MIN_PAUSE_FRAMES / FPS:g} s or more (default: as the checkpoint says; the demo model rests, "
        "released checkpoints do not)",
    )
