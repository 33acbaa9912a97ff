"""festival text-to-speech with phone timings, driven through batch Scheme scripts.

One festival process synthesises a whole batch (loading a voice costs about half a
second, an utterance a few milliseconds per second of speech). Speaking rate is the only
prosody festival sets: `Duration_Stretch` for the diphone voices, the HTS engine's `-r`
for the HTS voice (festival's HTS path ignores Duration_Stretch and intonation targets);
pitch and voice quality are imposed afterwards by `prosody.py`, identically for all voices.
`(utt.save.segs u F)` writes each phone's end time, which become the phone intervals.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voiceemo_jax.audio import load_audio
from voiceemo_jax.errors import UserError
from voiceemo_jax.timebase import SAMPLE_RATE_HZ

DEBIAN_PACKAGES = ("festival", "festvox-kallpc16k", "festvox-kdlpc16k", "festvox-us-slt-hts")
FESTIVAL_VOICES = ("kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts")
_HTS_VOICES = {"cmu_us_slt_arctic_hts"}
_INSTALL_HINT = "install it with: apt-get install " + " ".join(DEBIAN_PACKAGES)
EDGE_SILENCE_SECONDS = 0.25  # every clip starts and ends with at least this much pause


@dataclass(frozen=True)
class Phone:
    """One phone interval in seconds from the start of the wave."""

    name: str
    start: float
    end: float


@dataclass(frozen=True)
class TtsRequest:
    """text in `festival_voice`, every duration multiplied by `duration_stretch` (> 1 is slower)."""

    text: str
    festival_voice: str
    duration_stretch: float = 1.0


@dataclass(frozen=True)
class TtsResult:
    """samples: [num_samples] float32 at 16 kHz mono; phones: contiguous intervals from 0."""

    samples: np.ndarray
    phones: tuple[Phone, ...]


def festival_binary() -> str:
    """Path of the festival executable, or UserError naming the Debian packages to install."""
    path = shutil.which("festival")
    if path is None:
        raise UserError(f"festival is not installed; {_INSTALL_HINT}")
    return path


def available_voices() -> set[str]:
    """Names of the festival voices installed on this machine (runs festival once)."""
    result = subprocess.run(
        [festival_binary(), "--pipe"],
        input="(print (voice.list))\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return set(result.stdout.replace("(", " ").replace(")", " ").split())


def check_voices(festival_voices) -> None:
    """UserError unless festival and each of `festival_voices` are installed."""
    missing = sorted(set(festival_voices) - available_voices())
    if missing:
        raise UserError(f"festival voice(s) {', '.join(missing)} not installed; {_INSTALL_HINT}")


def _scheme_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _rate_command(request: TtsRequest) -> str:
    if request.festival_voice in _HTS_VOICES:
        # hts_engine's -r is a speed factor: durations are divided by it.
        params = f'cmu_us_slt_arctic_hts::hts_engine_params (list (list "-r" {1.0 / request.duration_stretch:.6f}))'
        return f"(set! hts_engine_params (append {params}))"
    return f"(Parameter.set 'Duration_Stretch {request.duration_stretch:.6f})"


def batch_script(requests: list[TtsRequest], folder: Path) -> str:
    """The Scheme program that synthesises `requests` into folder/<i>.wav and folder/<i>.segs."""
    lines, current_voice = [], None
    for i, request in enumerate(requests):
        if request.festival_voice != current_voice:
            lines.append(f"(voice_{request.festival_voice})")
            current_voice = request.festival_voice
        wav, segs = _scheme_string(str(folder / f"{i}.wav")), _scheme_string(str(folder / f"{i}.segs"))
        lines.append(_rate_command(request))
        lines.append(
            f"(set! utt_{i} (utt.synth (Utterance Text {_scheme_string(request.text)})))"
            f"(utt.save.wave utt_{i} {wav} 'riff)(utt.save.segs utt_{i} {segs})(set! utt_{i} nil)"
        )
    return "\n".join(lines) + "\n"


def parse_segs(text: str) -> list[tuple[str, float]]:
    """(phone, end_seconds) pairs from festival's segs file ("#" header, then "END 100 NAME" lines)."""
    pairs = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[0] != "#":
            pairs.append((fields[2], float(fields[0])))
    return pairs


def phone_intervals(ends: list[tuple[str, float]], duration: float) -> tuple[Phone, ...]:
    """Contiguous intervals from end times; ends are clipped to the wave and a final pause is
    stretched to the end of the wave (diphone voices leave a few ms of silence after it)."""
    phones, start = [], 0.0
    for name, end in ends:
        end = min(end, duration)
        if end > start:
            phones.append(Phone(name, round(start, 5), round(end, 5)))
            start = end
    if phones and phones[-1].name == "pau" and phones[-1].end < duration:
        phones[-1] = Phone("pau", phones[-1].start, round(duration, 5))
    return tuple(phones)


def pad_edge_silence(
    samples: np.ndarray, phones: tuple[Phone, ...], seconds: float = EDGE_SILENCE_SECONDS
) -> tuple[np.ndarray, tuple[Phone, ...]]:
    """Pads zeros so the leading and trailing pauses last at least `seconds`.

    The HTS voice ends a few milliseconds after the last phone, the diphone voices leave
    about 0.2-0.4 s; padding gives every voice the same room for a closed mouth at rest.
    Phones are shifted and the edge pauses lengthened (or added) to match.
    """
    lead_pause = phones[0].end if phones and phones[0].name == "pau" else 0.0
    trail_pause = phones[-1].end - phones[-1].start if phones and phones[-1].name == "pau" else 0.0
    lead = int(round(max(seconds - lead_pause, 0.0) * SAMPLE_RATE_HZ))
    trail = int(round(max(seconds - trail_pause, 0.0) * SAMPLE_RATE_HZ))
    padded = np.pad(samples, (lead, trail))
    shift, duration = lead / SAMPLE_RATE_HZ, len(padded) / SAMPLE_RATE_HZ
    moved = [Phone(p.name, round(p.start + shift, 5), round(p.end + shift, 5)) for p in phones]
    if moved and moved[0].name == "pau":
        moved[0] = Phone("pau", 0.0, moved[0].end)
    elif lead:
        moved.insert(0, Phone("pau", 0.0, round(shift, 5)))
    if moved and moved[-1].name == "pau":
        moved[-1] = Phone("pau", moved[-1].start, round(duration, 5))
    elif trail:
        moved.append(Phone("pau", moved[-1].end if moved else 0.0, round(duration, 5)))
    return padded, tuple(moved)


def synthesise_batch(requests: list[TtsRequest]) -> list[TtsResult]:
    """Synthesises every request in one festival process; results in request order, edge
    pauses padded to EDGE_SILENCE_SECONDS."""
    if not requests:
        return []
    binary = festival_binary()
    with tempfile.TemporaryDirectory(prefix="voiceemo-festival-") as tmp:
        folder = Path(tmp)
        script = folder / "batch.scm"
        script.write_text(batch_script(requests, folder))
        result = subprocess.run([binary, "-b", str(script)], capture_output=True, text=True, timeout=3600, check=False)
        results = []
        for i, request in enumerate(requests):
            wav_path, segs_path = folder / f"{i}.wav", folder / f"{i}.segs"
            if not wav_path.exists() or not segs_path.exists():
                raise RuntimeError(
                    f"festival produced no audio for {request.festival_voice}: {request.text!r} "
                    f"(exit {result.returncode}): {result.stderr.strip()[-500:]}"
                )
            # The HTS voice writes 32 kHz (or 48 kHz on other builds): read like every other audio file.
            samples = load_audio(wav_path)
            duration = len(samples) / SAMPLE_RATE_HZ
            phones = phone_intervals(parse_segs(segs_path.read_text()), duration)
            samples, phones = pad_edge_silence(samples, phones)
            results.append(TtsResult(samples=samples.astype(np.float32), phones=phones))
    return results
