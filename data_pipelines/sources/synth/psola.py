"""Pitch analysis and TD-PSOLA resynthesis: the corpus's one tool for changing F0.

festival's HTS voice ignores festival's intonation targets, so pitch level, range, contour
and tremolo are imposed on every voice after synthesis, the same way, by time-domain
pitch-synchronous overlap-add (TD-PSOLA): two-period Hann grains cut at pitch marks of the
input and laid down at the spacing of the wanted pitch. It keeps the spectral envelope
(formants) and the duration, so festival's phone timings stay exact. The same routine also
stretches time, which `prosody.py` uses to undo the duration change of its formant-shift
resampling. Quality is that of classic TD-PSOLA: good for ratios within about 0.6-1.8.

All signals are float mono at one sample rate `sr` (16 kHz in the corpus); frame tracks
use `hop` samples per frame (5 ms).
"""

from __future__ import annotations

from dataclasses import dataclass

import librosa
import numpy as np
from scipy import ndimage, signal

HOP = 80  # samples per analysis frame: 5 ms at 16 kHz
F0_MIN_HZ = 55.0
F0_MAX_HZ = 450.0
UNVOICED_GRAIN = 80  # half-length (samples) of grains in unvoiced stretches: 5 ms, copied at the same spacing


@dataclass(frozen=True)
class PitchTrack:
    """Frame-wise F0 of a signal.

    f0_hz: [frames] float64, F0 in Hz; in unvoiced frames it is interpolated from the voiced
      neighbours (so it is smooth and defined everywhere, for contour arithmetic).
    voiced: [frames] bool.
    hop: samples per frame; frame i is centred on sample i * hop.
    """

    f0_hz: np.ndarray
    voiced: np.ndarray
    hop: int

    def median_hz(self) -> float:
        return float(np.median(self.f0_hz[self.voiced])) if self.voiced.any() else 120.0


def _periodicity(x: np.ndarray, f0_hz: np.ndarray, sr: int, hop: int) -> np.ndarray:
    """Normalised autocorrelation at lag 1/f0 over a 3-period window per frame: [frames] in [-1, 1].

    librosa.yin returns no voicing decision; a voiced frame correlates strongly with itself
    one period later, noise and silence do not.
    """
    lag = np.clip(np.round(sr / f0_hz).astype(int), 1, None)
    width = 3 * int(sr / F0_MIN_HZ) // 2
    padded = np.pad(x, (width, width + int(lag.max()) + 1))
    centres = np.arange(len(f0_hz)) * hop + width
    offsets = np.arange(-width // 2, width // 2)
    a = padded[centres[:, None] + offsets[None, :]]
    b = padded[centres[:, None] + offsets[None, :] + lag[:, None]]
    num = np.sum(a * b, axis=1)
    den = np.sqrt(np.sum(a * a, axis=1) * np.sum(b * b, axis=1)) + 1e-12
    return num / den


def warm_up() -> None:
    """Compiles (and caches) the numba kernels `analyse_pitch` uses, on a short tone."""
    analyse_pitch(np.sin(np.arange(4096) * (2 * np.pi * 150 / 16000)).astype(np.float32), 16000)


def analyse_pitch(x: np.ndarray, sr: int, hop: int = HOP) -> PitchTrack:
    """F0 (YIN) and a voicing decision (periodicity and level) for `x: [samples]`."""
    num_frames = len(x) // hop + 1
    f0 = librosa.yin(
        x.astype(np.float32), fmin=F0_MIN_HZ, fmax=F0_MAX_HZ, sr=sr, frame_length=1024, hop_length=hop, center=True
    )[:num_frames].astype(np.float64)
    frame_rms = np.sqrt(
        librosa.feature.rms(y=x.astype(np.float32), frame_length=4 * hop, hop_length=hop, center=True)[0][:num_frames]
    )
    periodic = _periodicity(x, f0, sr, hop) > 0.6
    loud = frame_rms > 0.03 * (frame_rms.max() + 1e-12)
    voiced = ndimage.binary_opening(periodic & loud, structure=np.ones(5))  # no voiced blips under 25 ms
    if voiced.sum() >= 3:
        # Octave errors show up as isolated jumps: a running median in log-F0 over 35 ms removes them.
        log_f0 = np.log(f0)
        log_f0[voiced] = ndimage.median_filter(log_f0[voiced], size=7, mode="nearest")
        frames = np.arange(num_frames)
        f0 = np.exp(np.interp(frames, frames[voiced], log_f0[voiced]))
    else:
        f0 = np.full(num_frames, 120.0)
    return PitchTrack(f0_hz=f0, voiced=voiced, hop=hop)


def pitch_marks(x: np.ndarray, sr: int, track: PitchTrack) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Analysis marks for PSOLA.

    Returns (positions [marks] int sample index, half_lengths [marks] int samples, voiced [marks] bool).
    In voiced stretches marks sit one period apart on the peaks of the low-passed waveform (so
    grains are cut consistently, glottal pulse in the middle); elsewhere every UNVOICED_GRAIN
    samples.
    """
    lowpassed = signal.sosfiltfilt(signal.butter(4, 900.0, fs=sr, output="sos"), x)
    positions, half_lengths, voiced_marks = [], [], []
    t, previous_voiced = 0, False
    num_frames = len(track.f0_hz)
    while t < len(x):
        frame = min(t // track.hop, num_frames - 1)
        if track.voiced[frame]:
            period = int(round(sr / track.f0_hz[frame]))
            if previous_voiced:
                lo, hi = t - period // 4, t + period // 4 + 1
            else:
                lo, hi = t, t + period
            lo, hi = max(lo, 0), min(hi, len(x))
            if hi <= lo:
                break
            mark = lo + int(np.argmax(lowpassed[lo:hi]))
            if positions and mark <= positions[-1]:
                mark = positions[-1] + 1
            positions.append(mark)
            half_lengths.append(period)
            voiced_marks.append(True)
            t, previous_voiced = mark + period, True
        else:
            positions.append(t)
            half_lengths.append(UNVOICED_GRAIN)
            voiced_marks.append(False)
            t, previous_voiced = t + UNVOICED_GRAIN, False
    return np.asarray(positions), np.asarray(half_lengths), np.asarray(voiced_marks, dtype=bool)


def psola(
    x: np.ndarray,
    sr: int,
    track: PitchTrack,
    pitch_ratio: np.ndarray,
    time_scale: float = 1.0,
    creak: float = 0.0,
    jitter: float = 0.0,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """TD-PSOLA: multiplies F0 by `pitch_ratio` and the duration by `time_scale`.

    x: [samples] float. pitch_ratio: [frames] per analysis frame of `track` (input time).
    creak: 0..1, alternate glottal periods are lengthened/shortened and attenuated (period
      doubling, heard as a rough, creaky voice). jitter: relative s.d. of random period
      perturbations (harsh voice); needs `rng`.
    Returns [round(samples * time_scale)] float64, same level as the input.
    """
    positions, half_lengths, voiced = pitch_marks(x, sr, track)
    out_len = int(round(len(x) * time_scale))
    margin = int(half_lengths.max()) + 1
    padded = np.pad(x.astype(np.float64), (margin, margin))
    acc = np.zeros(out_len + 2 * margin)
    weight = np.zeros(out_len + 2 * margin)
    windows: dict[int, np.ndarray] = {}
    t_out, grain = float(positions[0]) * time_scale, 0
    while t_out < out_len:
        t_in = t_out / time_scale
        k = int(np.searchsorted(positions, t_in))
        if k == len(positions) or (k > 0 and t_in - positions[k - 1] < positions[k] - t_in):
            k -= 1
        centre, half = int(positions[k]), int(half_lengths[k])
        window = windows.get(half)
        if window is None:
            window = windows[half] = np.hanning(2 * half + 1)
        amplitude = 1.0
        if voiced[k]:
            frame = min(int(t_in) // track.hop, len(pitch_ratio) - 1)
            step = half / pitch_ratio[frame]
            if creak > 0.0:
                odd = grain % 2
                step *= 1.0 + 0.3 * creak * (1 if odd else -1)
                amplitude = 1.0 - 0.6 * creak * odd
            if jitter > 0.0:
                step *= float(np.clip(1.0 + jitter * rng.standard_normal(), 0.7, 1.3))
                amplitude *= float(np.clip(1.0 + 2.0 * jitter * rng.standard_normal(), 0.5, 1.5))
        else:
            step = float(half)
        start, source = int(round(t_out)) + margin - half, centre + margin - half
        acc[start : start + 2 * half + 1] += amplitude * window * padded[source : source + 2 * half + 1]
        weight[start : start + 2 * half + 1] += window
        t_out += max(step, 1.0)
        grain += 1
    # Overlap of two-period grains laid one new period apart sums to about pitch_ratio: divide
    # by the window sum smoothed over 20 ms, which restores the level without flattening the
    # pulse shape inside a period.
    smoothed = ndimage.uniform_filter1d(weight, size=max(int(0.02 * sr), 1))
    y = acc / np.maximum(smoothed, 0.25)
    return y[margin : margin + out_len]
