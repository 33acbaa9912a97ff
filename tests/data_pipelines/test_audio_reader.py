"""The one audio reader (`voiceemo_jax.audio`) and the one timebase (`voiceemo_jax.timebase`).

Data builds, single-file prediction and batch prediction must see the same samples, and
an .m4a must come out exactly ceil(seconds * 30) frames long.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from data_pipelines.records import clips
from tests.data_pipelines.data_fixtures import tone, write_m4a
from voiceemo_jax import audio as audio_lib
from voiceemo_jax.inference import batch
from voiceemo_jax.timebase import FPS, SAMPLE_RATE_HZ, frames_for

REPO = Path(__file__).resolve().parents[2]


def voice(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    """Harmonics of a wandering pitch plus noise: not periodic, so a shifted decode cannot correlate."""
    t = np.arange(int(round(seconds * rate))) / rate
    f0 = 140 + 30 * np.sin(2 * np.pi * 1.3 * t + seed)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    noise = np.random.default_rng(seed).standard_normal(t.size)
    return (0.2 * sum(np.sin(k * phase) / k for k in range(1, 6)) + 0.01 * noise).astype(np.float32)


def write_m4a_without_edit_list(path: Path, audio: np.ndarray, rate: int) -> None:
    """AAC muxed before the encoder is opened: the container has no edit list, so the 1024
    priming samples count as audio and the container's duration includes them."""
    import av

    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=rate)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(audio[None].astype(np.float32), format="fltp", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)


@pytest.mark.parametrize(("rate", "seconds"), [(44_100, 2.0), (48_000, 1.37), (22_050, 0.5), (16_000, 1.234)])
def test_m4a_loads_to_exactly_ceil_seconds_times_30_frames(tmp_path, rate, seconds):
    source = voice(seconds, rate)
    path = tmp_path / "clip.m4a"
    write_m4a(path, source, rate)
    decoded, decoded_rate = audio_lib.decode(path)
    # Priming dropped (edit list) and the last frame's padding cut (duration): exactly the source.
    assert decoded_rate == rate and decoded.shape == source.shape
    assert np.corrcoef(decoded[500:-500], source[500:-500])[0, 1] > 0.98  # aligned, not shifted by 1024
    loaded = audio_lib.load_audio(path)
    assert loaded.shape == (math.ceil(len(source) * SAMPLE_RATE_HZ / rate),)
    assert frames_for(len(loaded)) == math.ceil(len(source) / rate * FPS)


def test_m4a_without_an_edit_list_is_as_long_as_its_container_says(tmp_path):
    import av

    path = tmp_path / "clip.m4a"
    write_m4a_without_edit_list(path, voice(2.0, 44_100), 44_100)
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        declared_seconds = float(stream.duration * stream.time_base)
        decoded_samples = sum(frame.samples for frame in container.decode(stream))
    assert decoded_samples > declared_seconds * 44_100 + 500  # the last AAC frame's padding is there to cut
    loaded = audio_lib.load_audio(path)
    assert len(loaded) == math.ceil(declared_seconds * SAMPLE_RATE_HZ)
    assert frames_for(len(loaded)) == math.ceil(declared_seconds * FPS)
    assert batch.audio_seconds(path) == pytest.approx(declared_seconds)


class RecordingPredictor:
    """What `run_batch` needs of a Predictor; records the samples it is served."""

    window = None
    num_devices = 1

    class config:
        min_samples = 720

    def __init__(self):
        self.served = {}

    def batch_rows(self, batch_size):
        return batch_size

    def needs_window(self, num_samples):
        return False

    def predict_batch(self, rows, *, names, **_):
        for name, row in zip(names, rows):
            self.served.setdefault(name, np.array(row))
        return [None] * len(rows)


def test_data_builds_and_prediction_read_identical_samples(tmp_path):
    stereo = np.stack([voice(1.1, 48_000, seed=1), 0.5 * voice(1.1, 48_000, seed=2)], axis=1)
    soundfile.write(tmp_path / "a.wav", stereo, 48_000, subtype="PCM_16")
    soundfile.write(tmp_path / "b.ogg", voice(0.9, 44_100, seed=3), 44_100, format="OGG", subtype="VORBIS")
    write_m4a(tmp_path / "c.m4a", voice(1.3, 48_000, seed=4), 48_000)
    names = ("a.wav", "b.ogg", "c.m4a")

    sources = []
    for i, name in enumerate(names):
        num_frames = frames_for(len(audio_lib.load_audio(tmp_path / name)))
        np.save(tmp_path / f"{name}.npy", np.zeros((num_frames, 52), np.float32))
        sources.append(clips.ClipSource(name, "train", tmp_path / name, tmp_path / f"{name}.npy", 0, 0, 0, i))
    catalog = clips.Catalog("fixture", ("train",), ("neutral",), ("1",), ("A",), {}, 52, "arkit", False, sources)
    built = {source.clip_id: clips.load_example(source, catalog)["audio"] for source in sources}

    predictor = RecordingPredictor()
    jobs = batch.collect_jobs([str(tmp_path)], tmp_path / "out")
    summary = batch.run_batch(predictor, jobs, lambda job, prediction: None, level=0, person=0, progress=False)
    assert not summary.failed

    for name in names:
        inference = audio_lib.load_audio(tmp_path / name)  # what `voiceemo predict --audio FILE` runs on
        assert inference.dtype == np.float32 and inference.ndim == 1
        np.testing.assert_array_equal(built[name], inference)
        np.testing.assert_array_equal(predictor.served[str(tmp_path / name)], inference)


def test_data_builds_skip_unreadable_and_non_finite_audio_with_a_reason(tmp_path):
    (tmp_path / "bad.m4a").write_bytes(b"garbage" * 20)
    soundfile.write(tmp_path / "nan.wav", np.full(2000, np.nan, np.float32), 16_000, subtype="FLOAT")
    np.save(tmp_path / "t.npy", np.zeros((10, 52), np.float32))
    for name, reason in (("bad.m4a", r"^unreadable audio: \S"), ("nan.wav", "^audio has non-finite samples$")):
        source = clips.ClipSource(name, "train", tmp_path / name, tmp_path / "t.npy", 0, 0, 0, 0)
        catalog = clips.Catalog("fixture", ("train",), ("neutral",), ("1",), ("A",), {}, 52, "arkit", False, [source])
        with pytest.raises(clips.ClipSkip, match=reason) as skip:
            clips.load_example(source, catalog)
        assert "\n" not in str(skip.value) and str(tmp_path) not in str(skip.value)


def test_resample_48k_to_16k_keeps_the_tone_and_length():
    out = audio_lib.resample(tone(0.5, 48_000, 440.0), 48_000)
    assert out.dtype == np.float32 and out.shape == (8000,)
    spectrum = np.abs(np.fft.rfft(out * np.hanning(len(out))))
    assert np.fft.rfftfreq(len(out), 1 / 16_000)[spectrum.argmax()] == pytest.approx(440, abs=2.5)
    assert np.abs(out[1000:-1000]).max() == pytest.approx(0.3, abs=0.01)  # 0.3: the fixture tone's amplitude


def test_resample_filters_what_16k_cannot_hold():
    # 10 kHz is above the 8 kHz Nyquist limit of 16 kHz: without the low-pass it would alias to 6 kHz.
    assert np.abs(audio_lib.resample(tone(0.5, 48_000, 10_000.0), 48_000)[500:-500]).max() < 0.01


@pytest.mark.parametrize(("num_samples", "rate"), [(22_050, 22_050), (1, 44_100), (88_201, 44_100), (7, 48_000)])
def test_resampled_length_is_the_exact_ceiling(num_samples, rate):
    out = audio_lib.resample(np.ones(num_samples, np.float32), rate)
    assert out.shape == (-(-num_samples * SAMPLE_RATE_HZ // rate),)
    same = tone(0.1, 16_000, 300.0)
    np.testing.assert_array_equal(audio_lib.resample(same, 16_000), same)


def test_frames_for_is_exact_on_ints_and_arrays():
    assert frames_for(16_000) == 30 and frames_for(16_001) == 31 and frames_for(0) == 0
    assert frames_for(132_800) == 249  # float ceil(132800 / 16000 * 30) gives 250
    assert frames_for(np.int32(2**30)) == -(-(2**30) * 30 // 16_000)  # no int32 overflow
    lengths = np.array([1, 533, 534, 16_000, 48_001])
    np.testing.assert_array_equal(frames_for(lengths), [frames_for(int(n)) for n in lengths])


def test_the_clocks_are_defined_once():
    """SAMPLE_RATE_HZ, FPS and frames_for live in voiceemo_jax/timebase.py; everything else imports them."""
    definition = re.compile(
        r"^\s*(def frames_for\b"
        r"|[A-Z_]*FPS\s*(:\s*int)?\s*=\s*30\b"
        r"|[A-Z_]*SAMPLE_RATE[A-Z_]*\s*(:\s*int)?\s*=\s*16_?000\b)",
        re.MULTILINE,
    )
    found = []
    for folder in ("voiceemo_jax", "data_pipelines", "export", "benchmarks", "launch", "configs", "tests"):
        for path in sorted((REPO / folder).rglob("*.py")):
            for match in definition.finditer(path.read_text(encoding="utf-8")):
                found.append(f"{path.relative_to(REPO)}: {match.group(0).strip()}")
    assert sorted(found) == [
        "voiceemo_jax/timebase.py: FPS = 30",
        "voiceemo_jax/timebase.py: SAMPLE_RATE_HZ = 16_000",
        "voiceemo_jax/timebase.py: def frames_for",
    ]
    assert not (REPO / "data_pipelines" / "audio_io.py").exists()


def test_timebase_and_the_reader_import_without_jax_or_tensorflow():
    code = (
        "import sys, voiceemo_jax.timebase, voiceemo_jax.audio, data_pipelines.records.clips; "
        "heavy = sorted({'jax', 'tensorflow'} & set(sys.modules)); assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=120)
