"""Lip sync of real speech against phone timings: mouth opening, its phone reference, and two scores.

A model's [T, 52] ARKit output is reduced to one number per frame, the mouth opening:

    opening = jawOpen - mouthClose + 0.5 * mean(mouthLowerDownLeft, mouthLowerDownRight)

(jawOpen drops the jaw; mouthClose is ARKit's corrective that brings the lips together over an
open jaw, so it is subtracted; the lowered lower lip opens the lips further.) The same function
reads a phone-driven face (`ceiling`: the true phones through the viseme rules of
`data_pipelines/sources/synth/visemes.py`, what the model is trained to reproduce), so the model
and its ceiling are scored on the same scale.

The reference is independent of the viseme rules: each phone's articulatory openness (OPENNESS,
from vowel height; bilabials and silence 0) held over the phone and smoothed with a 40 ms
Gaussian (the articulators' attack and release). Scores:

- `correlation`: Pearson r of a signal with the reference over a clip's frames (mean over clips);
- `open_closed_auc`: the probability that a frame inside an open vowel (OPEN_VOWELS) opens the
  mouth more than a frame inside a bilabial (p, b, m; or only m), ties counting half (the
  Mann-Whitney AUC over the pooled frames of a set). A frame is "inside" a phone when its time
  lies in the phone's middle half, away from the co-articulated edges.

The loudness baseline reads the audio only: each frame's log-RMS (dB), the signal a
loudness-driven jaw would follow (correlation and AUC do not depend on the jaw's gain or offset).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import ndimage

from voiceemo_jax.arkit import MOUTH_OPENING_VECTOR
from voiceemo_jax.timebase import FPS, SAMPLE_RATE_HZ

REFERENCE_SMOOTHING_SECONDS = 0.04
SILENCES = frozenset({"", "sil", "sp", "spn", "pau", "h#", "#", "brth"})
# Articulatory openness per ARPAbet phone (stress digits dropped): vowels by height (open 1.0,
# open-mid 0.75, mid 0.55, close-mid 0.45, close 0.3; diphthongs by their start), consonants
# by how far the jaw and lips part for them.
OPENNESS = {
    **dict.fromkeys(("aa", "ae", "aw", "ay"), 1.0),
    **dict.fromkeys(("ao", "ah", "oy"), 0.75),
    **dict.fromkeys(("eh", "er", "ax", "axr"), 0.55),
    **dict.fromkeys(("ey", "ow"), 0.45),
    **dict.fromkeys(("ih", "iy", "uh", "uw", "ix", "ux"), 0.3),
    **dict.fromkeys(("hh", "l", "r", "y", "k", "g", "ng"), 0.25),
    **dict.fromkeys(("t", "d", "n", "s", "z", "th", "dh", "sh", "zh", "ch", "jh", "dx", "nx", "el", "en"), 0.15),
    **dict.fromkeys(("f", "v", "w"), 0.1),
    **dict.fromkeys(("p", "b", "m", "em"), 0.0),
}
OPEN_VOWELS = frozenset({"aa", "ae", "ah", "ao", "aw", "ay"})
BILABIALS = frozenset({"p", "b", "m", "em"})


@dataclasses.dataclass(frozen=True)
class PhoneInterval:
    """One phone in seconds; `name` is lower-case ARPAbet without stress digits ("" for silence)."""

    name: str
    start: float
    end: float


def normalise_phone(name: str) -> str:
    """ARPAbet as aligners write it ("AH0", "sil", "spn") -> "ah", "" for silences."""
    name = re.sub(r"\d", "", name.strip().lower())
    return "" if name in SILENCES else name


def read_textgrid_phones(path: str | Path, tier: str = "phones", *, schwa: bool = False) -> list[PhoneInterval]:
    """The intervals of one IntervalTier of a Praat TextGrid (long text format, as MFA writes it).

    schwa: read unstressed AH0 as "ax", ARPAbet's schwa (CMUdict and MFA write the reduced vowel
    as AH0; by default it is "ah", an open vowel, like stressed AH1).
    Raises ValueError when the tier is missing or malformed.
    """
    text = Path(path).read_text(encoding="utf-8")
    tiers = re.split(r"\n\s*item \[\d+\]:", text)[1:]
    for body in tiers:
        name = re.search(r'name = "([^"]*)"', body)
        if name is None or name.group(1) != tier:
            continue
        intervals = re.findall(
            r'intervals \[\d+\]:\s*xmin = ([-\d.eE+]+)\s*xmax = ([-\d.eE+]+)\s*text = "((?:[^"]|"")*)"', body
        )
        if not intervals:
            raise ValueError(f"{path}: tier {tier!r} has no intervals")
        names = [t.replace('""', '"') for _, _, t in intervals]
        names = ["ax" if schwa and n.strip().upper() == "AH0" else normalise_phone(n) for n in names]
        return [PhoneInterval(n, float(a), float(b)) for n, (a, b, _) in zip(names, intervals)]
    raise ValueError(f"{path}: no interval tier named {tier!r}")


def mouth_opening(coefficients: np.ndarray) -> np.ndarray:
    """[T, 52] ARKit coefficients -> [T] mouth opening (module docstring)."""
    return np.asarray(coefficients, np.float64) @ np.asarray(MOUTH_OPENING_VECTOR)


def phone_at_frames(phones: Sequence[PhoneInterval], num_frames: int, core: float = 0.5) -> list[str | None]:
    """The phone whose middle `core` fraction contains each frame's time (frame f shows f / 30 s);
    None where the frame is at a phone's edge or outside every phone."""
    out: list[str | None] = [None] * num_frames
    for phone in phones:
        margin = 0.5 * (1.0 - core) * (phone.end - phone.start)
        first = int(np.ceil((phone.start + margin) * FPS))
        last = int(np.floor((phone.end - margin) * FPS))
        for f in range(max(first, 0), min(last, num_frames - 1) + 1):
            out[f] = phone.name
    return out


def openness_reference(phones: Sequence[PhoneInterval], num_frames: int) -> np.ndarray:
    """[num_frames] phone openness (OPENNESS; unknown phones 0.15) held over each phone, then smoothed."""
    grid_step = 0.005
    grid = np.arange(0.0, num_frames / FPS + grid_step, grid_step)
    value = np.zeros_like(grid)
    for phone in phones:
        inside = (grid >= phone.start) & (grid < phone.end)
        value[inside] = OPENNESS.get(phone.name, 0.15) if phone.name else 0.0
    value = ndimage.gaussian_filter1d(value, REFERENCE_SMOOTHING_SECONDS / grid_step, mode="nearest")
    return np.interp(np.arange(num_frames) / FPS, grid, value)


def loudness(audio: np.ndarray, num_frames: int) -> np.ndarray:
    """[num_frames] log-RMS (dB) of each frame's samples (a 1/30 s window centred on the frame's time)."""
    audio = np.asarray(audio, np.float64)
    half = SAMPLE_RATE_HZ / FPS / 2
    centres = np.arange(num_frames) * SAMPLE_RATE_HZ / FPS
    power = np.empty(num_frames)
    for f, centre in enumerate(centres):
        piece = audio[max(0, int(centre - half)) : int(centre + half)]
        power[f] = np.mean(piece**2) if len(piece) else 0.0
    return 10 * np.log10(power + 1e-8)


def correlation(signal: np.ndarray, reference: np.ndarray) -> float:
    """Pearson r over frames; nan when either side is constant."""
    signal, reference = np.asarray(signal, np.float64), np.asarray(reference, np.float64)
    if len(signal) != len(reference):
        raise ValueError(f"signal has {len(signal)} frames, reference {len(reference)}")
    if signal.std() < 1e-9 or reference.std() < 1e-9:
        return float("nan")
    return float(np.corrcoef(signal, reference)[0, 1])


def auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(a positive value > a negative value), ties half (Mann-Whitney U / (n_pos * n_neg))."""
    from scipy.stats import mannwhitneyu

    positive, negative = np.asarray(positive, np.float64), np.asarray(negative, np.float64)
    if len(positive) == 0 or len(negative) == 0:
        return float("nan")
    return float(mannwhitneyu(positive, negative).statistic / (len(positive) * len(negative)))


def class_frames(signal: np.ndarray, phones_at: Sequence[str | None], names: frozenset[str]) -> np.ndarray:
    """The values of `signal` at the frames whose phone is in `names`."""
    return np.asarray([s for s, p in zip(signal, phones_at) if p in names], np.float64)


@dataclasses.dataclass
class LipSyncScores:
    """Accumulates clips of one set for each named signal ("model", "loudness", "ceiling")."""

    correlations: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    open_frames: dict[str, list[np.ndarray]] = dataclasses.field(default_factory=dict)
    bilabial_frames: dict[str, list[np.ndarray]] = dataclasses.field(default_factory=dict)
    m_frames: dict[str, list[np.ndarray]] = dataclasses.field(default_factory=dict)
    clips: int = 0

    def add_clip(self, phones: Sequence[PhoneInterval], signals: dict[str, np.ndarray]) -> None:
        """signals: name -> [T] opening (every signal has the clip's T frames)."""
        num_frames = len(next(iter(signals.values())))
        reference = openness_reference(phones, num_frames)
        at = phone_at_frames(phones, num_frames)
        for name, signal in signals.items():
            self.correlations.setdefault(name, []).append(correlation(signal, reference))
            self.open_frames.setdefault(name, []).append(class_frames(signal, at, OPEN_VOWELS))
            self.bilabial_frames.setdefault(name, []).append(class_frames(signal, at, BILABIALS))
            self.m_frames.setdefault(name, []).append(class_frames(signal, at, frozenset({"m", "em"})))
        self.clips += 1

    def _measures(self, name: str, chosen: Sequence[int]) -> dict[str, float]:
        """The set's measures of signal `name` over the clips `chosen` (indices, repeats allowed)."""
        opened = np.concatenate([self.open_frames[name][i] for i in chosen])
        return {
            "correlation": float(np.nanmean([self.correlations[name][i] for i in chosen])),
            "auc_open_vs_bilabial": auc(opened, np.concatenate([self.bilabial_frames[name][i] for i in chosen])),
            "auc_open_vs_m": auc(opened, np.concatenate([self.m_frames[name][i] for i in chosen])),
        }

    def summary(self, *, bootstrap: int = 0, seed: int = 0) -> dict:
        """{"clips", "frames": {...}, signal: {"correlation", "auc_open_vs_bilabial", "auc_open_vs_m"}}.

        With `bootstrap` rounds (and at least two clips), clips are drawn with replacement (seeded)
        and every measure recomputed on each draw: "interval95" gives signal -> measure -> [low,
        high], the 2.5th and 97.5th percentiles over the draws; "minus_loudness95" the same for each
        signal's difference from the "loudness" signal on the same draws (where there is one), so an
        interval above 0 says the signal beats loudness beyond what the choice of clips explains.
        """
        out: dict = {"clips": self.clips}
        every = range(self.clips)
        for name in self.correlations:
            out[name] = self._measures(name, every)
            out["frames"] = {
                "open_vowel": int(sum(len(f) for f in self.open_frames[name])),
                "bilabial": int(sum(len(f) for f in self.bilabial_frames[name])),
                "m": int(sum(len(f) for f in self.m_frames[name])),
            }
        if bootstrap and self.clips > 1:
            rng = np.random.default_rng(seed)
            draws = [rng.integers(0, self.clips, self.clips) for _ in range(bootstrap)]
            resampled = {name: [self._measures(name, d) for d in draws] for name in self.correlations}
            out["interval95"] = {name: _percentiles(values) for name, values in resampled.items()}
            if "loudness" in resampled:
                out["minus_loudness95"] = {
                    name: _percentiles([{k: a[k] - b[k] for k in a} for a, b in zip(values, resampled["loudness"])])
                    for name, values in resampled.items()
                    if name != "loudness"
                }
        return out


def _percentiles(draws: list[dict[str, float]]) -> dict[str, list[float]]:
    """measure -> [2.5th, 97.5th percentile] over the draws (nan draws left out)."""
    return {k: [float(v) for v in np.nanpercentile([d[k] for d in draws], [2.5, 97.5])] for k in draws[0]}
