"""The mouth opening gated by the audio's level: at rest where nobody speaks, closing in the level's dips.

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

Closing in dips. Where a model's config sets `close_in_dips`, the same channels are also multiplied
by `dip_gate`: 1 while a frame's level is within `DIP_FREE_DB` of the loudest frame within
`DIP_RADIUS_FRAMES` of it, falling by 1 / `DIP_SPAN_DB` per dB further below (a frame 20 dB under
its loudest neighbour keeps 0.75 of the model's opening). A stop's closure (p, b) is a dip of the
level, and the lips are shut there; trained on festival's voices alone, the demo model had kept the
mouth part open in real voices' closures (BENCHMARKS.md, "Real speech": the gate's three numbers were
chosen on real voices outside every benchmark set, ARCTIC aew and axb and Cathy). A frame's gate
depends on the levels within `DIP_RADIUS_FRAMES` (1/6 s) of it and a frame's level on 1/60 s more, so
a window's core frames get the whole clip's gate where its left context and lookahead are both at
least 0.2 s (every default geometry).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from voiceemo_jax.arkit import INDEX, MOUTH_OPENING_WEIGHTS, NUM_BLENDSHAPES
from voiceemo_jax.errors import UserError
from voiceemo_jax.timebase import FPS, SAMPLE_RATE_HZ, frames_for

QUIET_DBFS = -55.0
MIN_PAUSE_FRAMES = 9  # 0.3 s
RAMP_FRAMES = 3  # 0.1 s
DIP_RADIUS_FRAMES = 5  # a frame's reference: the loudest frame within 1/6 s
DIP_FREE_DB = 5.0  # up to this far below it, the model's opening stays
DIP_SPAN_DB = 60.0  # below that, the opening falls by 1 / DIP_SPAN_DB per dB
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
    return pause_weights_of_levels(frame_levels_db(audio, num_frames))


def pause_weights_of_levels(levels_db: np.ndarray) -> np.ndarray:
    """`pause_weights` from the frames' levels (`frame_levels_db`)."""
    quiet = np.asarray(levels_db) < QUIET_DBFS
    weights = np.zeros(len(quiet), np.float32)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], quiet.astype(np.int8), [0]])))
    for start, end in zip(edges[::2], edges[1::2]):  # runs of quiet frames [start, end)
        if end - start < MIN_PAUSE_FRAMES:
            continue
        inside = np.arange(start, end)
        ramp = np.minimum(inside - start + 1, end - inside) / (RAMP_FRAMES + 1)
        weights[start:end] = np.minimum(ramp, 1.0)
    return weights


def dip_gate(
    levels_db: np.ndarray,
    *,
    radius: int = DIP_RADIUS_FRAMES,
    free_db: float = DIP_FREE_DB,
    span_db: float = DIP_SPAN_DB,
) -> np.ndarray:
    """levels_db: [T] frame levels (`frame_levels_db`) -> [T] float32 in [0, 1], each frame's share of the
    model's opening by how far it lies below the loudest frame within `radius` frames (module docstring;
    the keywords exist for benchmarks/dip_gate_tuning.py, which chose the defaults)."""
    levels_db = np.asarray(levels_db, np.float64)
    loudest = ndimage.maximum_filter1d(levels_db, 2 * radius + 1, mode="nearest")
    return np.clip(1.0 - (loudest - levels_db - free_db) / span_db, 0.0, 1.0).astype(np.float32)


def gate_mouth(
    outputs: np.ndarray, audio: np.ndarray, first_frame: int = 0, *, rest: bool = True, dips: bool = False
) -> np.ndarray:
    """outputs: [T, 52] ARKit coefficients of `audio`'s frames first_frame .. first_frame + T - 1
    (frame f is time f / 30 s of `audio`) -> a copy with the mouth-opening channels gated: to rest in
    pauses (`rest`), closing in the level's dips (`dips`)."""
    if outputs.ndim != 2 or outputs.shape[1] != NUM_BLENDSHAPES:
        raise ValueError(f"gating the mouth needs [T, {NUM_BLENDSHAPES}] ARKit coefficients, got {outputs.shape}")
    # Gates over every frame of the audio: a pause running past the last output frame ramps down
    # where it ends, not there.
    num_frames = max(first_frame + len(outputs), frames_for(len(audio)))
    levels = frame_levels_db(audio, num_frames)  # read once for both gates
    gate = np.ones(num_frames, np.float32)
    if rest:
        gate -= pause_weights_of_levels(levels)
    if dips:
        gate *= dip_gate(levels)
    out = np.array(outputs, copy=True)
    out[:, OPENING] *= gate[first_frame : first_frame + len(outputs), None].astype(out.dtype)
    return out


GATES = {
    "rest_in_pauses": "resting the mouth in pauses",
    "close_in_dips": "closing the mouth in the level's dips",
}


def gate_as(runner, outputs: np.ndarray, audio: np.ndarray, first_frame: int = 0) -> np.ndarray:
    """`gate_mouth` with the gates a `Predictor` or `WindowEngine` has on (`in_use`); `outputs` as they
    are where it has none on (a vertex model's, too)."""
    gates = in_use(runner)
    if not any(gates.values()):
        return outputs
    return gate_mouth(outputs, audio, first_frame, rest=gates["rest_in_pauses"], dips=gates["close_in_dips"])


def requested(args) -> dict[str, bool | None]:
    """The gates' command-line choices (`add_argument`'s flags) as keyword arguments of `Predictor`,
    `WindowEngine` and `Streamer`."""
    return {name: getattr(args, name) for name in GATES}


def in_use(runner) -> dict[str, bool]:
    """{gate name: whether it is on} of a `Predictor` or `WindowEngine`, as output files record it."""
    return {name: bool(getattr(runner, name)) for name in GATES}


def resolve(model_config, name: str, value: bool | None) -> bool:
    """Whether a run uses the gate `name` (a key of GATES): `value` where given (True needs ARKit
    outputs), else the model's setting."""
    if value is None:
        return bool(getattr(model_config, name))
    outputs = model_config.synthesizer.output_dim
    if value and outputs != NUM_BLENDSHAPES:
        raise UserError(f"{GATES[name]} needs the {NUM_BLENDSHAPES} ARKit outputs; this model has {outputs}")
    return bool(value)


def add_argument(parser) -> None:
    """`--rest-in-pauses / --no-rest-in-pauses` and `--close-in-dips / --no-close-in-dips` (default None:
    as the checkpoint says), for predict, stream and demo."""
    import argparse

    parser.add_argument(
        "--rest-in-pauses",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"jaw and mouth opening at rest wherever the audio stays below {QUIET_DBFS:g} dBFS for "
        f"{MIN_PAUSE_FRAMES / FPS:g} s or more (default: as the checkpoint says; the demo model rests, "
        "released checkpoints do not)",
    )
    parser.add_argument(
        "--close-in-dips",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"jaw and mouth opening scaled down where a frame is more than {DIP_FREE_DB:g} dB quieter than "
        f"the loudest within {DIP_RADIUS_FRAMES / FPS:.2g} s (1/{DIP_SPAN_DB:g} per dB: a stop's closure, "
        "a nasal; default: as the checkpoint says; the demo model closes, released checkpoints do not)",
    )
