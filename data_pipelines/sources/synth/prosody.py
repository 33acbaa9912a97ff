"""How each emotion sounds: prosody recipes and the audio post-processing that applies them.

An emotion is realised through every channel a listener (or a wav2vec2 classifier) uses:
- pitch level, range and contour (TD-PSOLA, `psola.py`): F0 shifted by semitones, its
  excursions around the utterance median scaled, a declination or a final rise added;
- speaking rate (festival durations, `festival_tts.py`);
- loudness (speech-active RMS, dB relative to -28 dBFS);
- vocal-tract length: formants raised by a smile (happy), lowered in sadness;
- voice quality: spectral tilt (dB per octave around 1 kHz: pressed/bright vs lax/dark),
  breath noise (band-passed noise that follows the speech envelope), F0 and amplitude
  tremolo (fear), creak (alternating glottal periods, disgust) and period jitter (anger).
The recipes are written for level 2 (strong); level 1 moves each parameter 60% of the way
from neutral. Every clip draws seeded jitter (about 10% of each deviation) so no two clips
of an emotion are identical while each emotion stays consistent and far from the others.
Neutral exists at both levels with the same recipe (its level changes only the face).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from fractions import Fraction

import numpy as np
from scipy import ndimage, signal

from data_pipelines.sources.synth import psola
from data_pipelines.sources.synth.festival_tts import TtsResult
from data_pipelines.sources.synth.voices import Voice
from voiceemo_jax.timebase import SAMPLE_RATE_HZ

EMOTIONS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
LEVELS = (1, 2)
LEVEL_SCALE = {1: 0.6, 2: 1.0}  # fraction of the way from neutral to the level-2 recipe
REFERENCE_RMS_DBFS = -28.0  # leaves ~20 dB of headroom for the loudest recipe (angry, +8 dB)


@dataclass(frozen=True)
class EmotionProsody:
    """Acoustic parameters of one clip. Defaults are neutral."""

    pitch_shift_semitones: float = 0.0
    pitch_range: float = 1.0  # multiplies log-F0 deviations from the utterance median
    declination_semitones: float = 0.0  # F0 change from the first to the last voiced frame
    final_rise_semitones: float = 0.0  # added over the last 35% of the voiced span
    duration_stretch: float = 1.0  # > 1: slower
    gain_db: float = 0.0
    tilt_db_per_octave: float = 0.0
    breath: float = 0.0  # breath-noise RMS relative to speech RMS
    tremolo_hz: float = 0.0
    tremolo_semitones: float = 0.0  # F0 tremolo depth (peak)
    tremolo_amplitude: float = 0.0  # relative amplitude modulation depth (peak)
    creak: float = 0.0  # 0..1, see psola.psola
    jitter: float = 0.0  # relative s.d. of glottal period
    formant_factor: float = 1.0  # spectral envelope scale; a smile shortens the vocal tract (> 1)


NEUTRAL = EmotionProsody()

# Level-2 recipes. Pairs that share a direction differ elsewhere on purpose: angry vs happy
# (loudness, tilt, jitter vs wide range), fear vs surprise (tremolo, narrow range, breath vs
# final rise, wide range), sad vs disgust (quiet, breathy, monotone vs creaky, wide, loud).
RECIPES = {
    "angry": EmotionProsody(
        pitch_shift_semitones=4.0, pitch_range=1.7, declination_semitones=-2.0, duration_stretch=0.84,
        gain_db=8.0, tilt_db_per_octave=4.0, jitter=0.035,
    ),
    "disgust": EmotionProsody(
        pitch_shift_semitones=-3.0, pitch_range=1.4, declination_semitones=-4.0, duration_stretch=1.3,
        gain_db=1.0, tilt_db_per_octave=-1.0, breath=0.05, creak=0.65, jitter=0.01, formant_factor=0.98,
    ),
    "fear": EmotionProsody(
        pitch_shift_semitones=6.0, pitch_range=0.6, duration_stretch=0.82, gain_db=-4.0, tilt_db_per_octave=1.0,
        breath=0.3, tremolo_hz=6.5, tremolo_semitones=1.0, tremolo_amplitude=0.3, jitter=0.02, formant_factor=1.02,
    ),
    "happy": EmotionProsody(
        pitch_shift_semitones=3.0, pitch_range=2.0, declination_semitones=1.0, duration_stretch=0.88, gain_db=3.0,
        tilt_db_per_octave=2.0, breath=0.03, formant_factor=1.07,
    ),
    "neutral": NEUTRAL,
    "sad": EmotionProsody(
        pitch_shift_semitones=-3.0, pitch_range=0.4, declination_semitones=-3.0, duration_stretch=1.45,
        gain_db=-8.0, tilt_db_per_octave=-5.0, breath=0.2, formant_factor=0.96,
    ),
    "surprise": EmotionProsody(
        pitch_shift_semitones=7.0, pitch_range=2.2, final_rise_semitones=6.0, duration_stretch=1.05, gain_db=4.0,
        tilt_db_per_octave=1.5, breath=0.08, formant_factor=1.03,
    ),
}  # fmt: skip
_LOG_SCALED = {"pitch_range", "duration_stretch", "formant_factor"}  # interpolated in the log domain


def prosody_for(emotion: str, level: int, rng: np.random.Generator) -> EmotionProsody:
    """The recipe of `emotion` at `level`, with seeded per-clip jitter.

    Each parameter moves LEVEL_SCALE[level] * (1 + 0.1 * N(0, 1)) of the way from neutral
    to the recipe; the tremolo rate is jittered by 5%. Neutral clips get small absolute
    jitter (pitch +-0.4 semitone, rate +-3%) so they are not all alike.
    """
    if emotion not in RECIPES:
        raise ValueError(f"unknown emotion {emotion!r}; choose from {', '.join(EMOTIONS)}")
    if level not in LEVEL_SCALE:
        raise ValueError(f"level must be one of {LEVELS}, not {level}")
    recipe, values = RECIPES[emotion], {}
    for field in fields(EmotionProsody):
        neutral, target = getattr(NEUTRAL, field.name), getattr(recipe, field.name)
        if field.name == "tremolo_hz":
            values[field.name] = target * (1.0 + 0.05 * rng.standard_normal())
            continue
        fraction = LEVEL_SCALE[level] * (1.0 + 0.1 * rng.standard_normal())
        if field.name in _LOG_SCALED:
            values[field.name] = float(np.exp(np.log(neutral) + fraction * (np.log(target) - np.log(neutral))))
        else:
            values[field.name] = float(neutral + fraction * (target - neutral))
    prosody = EmotionProsody(**values)
    return replace(
        prosody,
        pitch_shift_semitones=prosody.pitch_shift_semitones + 0.4 * rng.uniform(-1, 1),
        duration_stretch=prosody.duration_stretch * (1.0 + 0.03 * rng.uniform(-1, 1)),
    )


def _formant_resample(x: np.ndarray, formant_factor: float) -> tuple[np.ndarray, float]:
    """Scales every frequency by about `formant_factor` by resampling (shortening the signal).

    Returns (resampled [n / factor] samples, exact factor used). The caller restores duration
    and pitch with PSOLA, so only the spectral envelope (vocal-tract length) stays changed.
    """
    if formant_factor == 1.0:
        return x, 1.0
    ratio = Fraction(1.0 / formant_factor).limit_denominator(64)
    return signal.resample_poly(x, ratio.numerator, ratio.denominator), float(1 / ratio)


def target_log_f0(track: psola.PitchTrack, source_scale: float, voice: Voice, prosody: EmotionProsody) -> np.ndarray:
    """Wanted log-F0 per frame of `track` (natural log of Hz): [frames].

    source_scale: factor by which the tracked signal's F0 exceeds the TTS original (the
    formant resampling raises it). Frame positions are taken relative to the voiced span, so
    leading and trailing silence do not move the contour.
    """
    log_f0 = np.log(track.f0_hz / source_scale)
    median = np.log(track.median_hz() / source_scale)
    semitone = np.log(2.0) / 12.0
    frames = np.arange(len(log_f0))
    voiced_frames = np.flatnonzero(track.voiced)
    first, last = (voiced_frames[0], voiced_frames[-1]) if len(voiced_frames) else (0, len(log_f0) - 1)
    position = np.clip((frames - first) / max(last - first, 1), 0.0, 1.0)  # 0..1 over the voiced span
    rise = np.clip((position - 0.65) / 0.35, 0.0, 1.0)
    seconds = frames * track.hop / SAMPLE_RATE_HZ
    target = (
        median
        + semitone * (voice.pitch_shift_semitones + prosody.pitch_shift_semitones)
        + prosody.pitch_range * (log_f0 - median)
        + semitone * prosody.declination_semitones * (position - 0.5)
        + semitone * prosody.final_rise_semitones * rise * rise * (3 - 2 * rise)  # smoothstep
        + semitone * prosody.tremolo_semitones * np.sin(2 * np.pi * prosody.tremolo_hz * seconds)
    )
    return np.clip(target, np.log(60.0), np.log(420.0))


def _tilt(x: np.ndarray, db_per_octave: float) -> np.ndarray:
    """Spectral tilt around 1 kHz: gain(f) = db_per_octave * log2(f / 1 kHz), flat below 150 Hz."""
    if db_per_octave == 0.0:
        return x
    spectrum = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(len(x), 1.0 / SAMPLE_RATE_HZ)
    gain_db = db_per_octave * np.log2(np.maximum(freqs, 150.0) / 1000.0)
    return np.fft.irfft(spectrum * 10.0 ** (gain_db / 20.0), n=len(x))


def _envelope(x: np.ndarray) -> np.ndarray:
    """Amplitude envelope smoothed over 20 ms: [samples]."""
    return ndimage.uniform_filter1d(np.abs(x), size=int(0.02 * SAMPLE_RATE_HZ))


def _active_rms(x: np.ndarray) -> float:
    """RMS over the 20 ms blocks within 35 dB of the loudest (speech, not the silences)."""
    block = int(0.02 * SAMPLE_RATE_HZ)
    n = len(x) // block * block
    block_rms = np.sqrt(np.mean(x[:n].reshape(-1, block) ** 2, axis=1)) if n else np.array([np.sqrt(np.mean(x**2))])
    active = block_rms[block_rms > block_rms.max() * 10 ** (-35 / 20)]
    return float(np.sqrt(np.mean(active**2))) + 1e-12


def render_clip_audio(
    tts: TtsResult, voice: Voice, prosody: EmotionProsody, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Applies the voice's pitch/formants and the emotion's prosody to festival's output.

    The duration of `tts.samples` (already stretched by festival) is preserved exactly, so
    `tts.phones` stay valid. Returns (audio [num_samples] float32 in [-1, 1],
    f0_hz [num_samples // psola.HOP + 1] float64, the realised F0 contour on a 5 ms grid,
    0 where unvoiced).
    """
    x = tts.samples.astype(np.float64)
    y, source_scale = _formant_resample(x, voice.formant_factor * prosody.formant_factor)
    track = psola.analyse_pitch(y, SAMPLE_RATE_HZ)
    log_target = target_log_f0(track, source_scale, voice, prosody)
    ratio = np.clip(np.exp(log_target) / track.f0_hz, 0.45, 2.8)
    out = psola.psola(
        y, SAMPLE_RATE_HZ, track, ratio, time_scale=len(x) / len(y), creak=prosody.creak, jitter=prosody.jitter, rng=rng
    )
    out = np.pad(out, (0, max(len(x) - len(out), 0)))[: len(x)]

    out = _tilt(out, prosody.tilt_db_per_octave)
    speech_rms = _active_rms(out)
    if prosody.breath > 0.0:
        # Breath: noise above 1 kHz, shaped by the speech envelope so silences stay silent.
        noise = signal.sosfilt(signal.butter(2, (1000.0, 6000.0), "bandpass", fs=SAMPLE_RATE_HZ, output="sos"),
                               rng.standard_normal(len(out)))  # fmt: skip
        envelope = _envelope(out)
        noise *= envelope / (envelope.max() + 1e-12)
        out = out + noise * prosody.breath * speech_rms / _active_rms(noise)
    seconds = np.arange(len(out)) / SAMPLE_RATE_HZ
    if prosody.tremolo_amplitude > 0.0:
        phase = rng.uniform(0, 2 * np.pi)
        out = out * (1.0 + prosody.tremolo_amplitude * np.sin(2 * np.pi * prosody.tremolo_hz * seconds + phase))
    out *= 10.0 ** ((REFERENCE_RMS_DBFS + prosody.gain_db) / 20.0) / _active_rms(out)
    peak = np.max(np.abs(out))
    if peak > 0.99:
        out *= 0.99 / peak  # rare: a loud recipe on a peaky voice; keeps PCM16 from clipping

    # Realised F0 on the output's 5 ms grid (input frames map 1:1 after the duration restore).
    frames = len(x) // psola.HOP + 1
    realised = np.interp(np.arange(frames), np.arange(len(log_target)) * len(x) / len(y), np.exp(log_target))
    voiced = np.interp(np.arange(frames), np.arange(len(track.voiced)) * len(x) / len(y), track.voiced) > 0.5
    return out.astype(np.float32), np.where(voiced, realised, 0.0)
