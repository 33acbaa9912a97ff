"""templates.pkl's restricted unpickler, and decoding the datasets' audio formats (with `voiceemo_jax.audio`)."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import soundfile

from data_pipelines.sources import safe_pickle
from tests.data_pipelines.data_fixtures import tone, write_m4a
from voiceemo_jax import audio as audio_lib
from voiceemo_jax.errors import UserError


class _CreatesFile:
    """Unpickling this calls os.system, which would create `marker`."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _CallsEval:
    def __reduce__(self):
        return (eval, ("__import__('os').getcwd()",))


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_templates_load_from_any_protocol(tmp_path, protocol):
    rng = np.random.default_rng(0)
    templates = {"FaceTalk_A": rng.normal(size=(6, 3)), "FaceTalk_B": rng.normal(size=(6, 3)).astype(np.float32)}
    path = tmp_path / "templates.pkl"
    path.write_bytes(pickle.dumps(templates, protocol=protocol))
    loaded = safe_pickle.load_templates(path)
    assert set(loaded) == set(templates)
    for subject, template in templates.items():
        assert loaded[subject].dtype == np.float32
        np.testing.assert_allclose(loaded[subject], template, rtol=1e-6)


def test_malicious_pickle_is_refused_and_its_payload_never_runs(tmp_path):
    marker = tmp_path / "payload_ran"
    path = tmp_path / "templates.pkl"
    path.write_bytes(pickle.dumps({"FaceTalk_A": np.zeros((2, 3)), "evil": _CreatesFile(marker)}))
    with pytest.raises(UserError, match=r"refusing to unpickle: it calls (os|posix)\.system"):
        safe_pickle.load_templates(path)
    assert not marker.exists()
    # The same file through plain pickle does run it: the test's payload is real.
    pickle.loads(path.read_bytes())
    assert marker.exists()


def test_other_globals_are_refused_by_name(tmp_path):
    path = tmp_path / "templates.pkl"
    path.write_bytes(pickle.dumps({"A": _CallsEval()}))
    with pytest.raises(UserError, match=r"builtins\.eval"):
        safe_pickle.load_templates(path)


def test_templates_must_be_a_dict_of_vertex_arrays(tmp_path):
    path = tmp_path / "templates.pkl"
    path.write_bytes(pickle.dumps([np.zeros((2, 3))]))
    with pytest.raises(UserError, match="expected a dict"):
        safe_pickle.load_templates(path)
    path.write_bytes(pickle.dumps({"A": np.zeros((2, 4))}))
    with pytest.raises(UserError, match=r"not a \[V, 3\] float template"):
        safe_pickle.load_templates(path)
    path.write_bytes(b"not a pickle at all")
    with pytest.raises(UserError, match="not a readable templates pickle"):
        safe_pickle.load_templates(path)


def test_wav_48k_stereo_decodes_to_16k_mono(tmp_path):
    left = tone(0.3, 48_000, 500.0)
    path = tmp_path / "clip.wav"
    soundfile.write(path, np.stack([left, left], axis=1), 48_000, subtype="PCM_16")
    audio = audio_lib.load_audio(path)
    assert audio.shape == (4800,) and audio.dtype == np.float32
    assert np.abs(audio[500:-500]).max() == pytest.approx(0.3, abs=0.01)


def test_m4a_decodes_to_its_exact_length_without_encoder_priming(tmp_path):
    source = tone(0.5, 48_000, 440.0)
    path = tmp_path / "001.m4a"
    write_m4a(path, source, 48_000)
    decoded, rate = audio_lib.decode(path)
    assert rate == 48_000 and decoded.shape == (24_000,)
    # AAC is lossy, but sample-aligned: the priming samples are gone, so the waveforms line up.
    correlation = np.corrcoef(decoded[2000:20000], source[2000:20000])[0, 1]
    assert correlation > 0.99


def test_unreadable_audio_raises_audio_read_error(tmp_path):
    for name in ("bad.wav", "bad.m4a", "clip.xyz"):
        (tmp_path / name).write_bytes(b"garbage" * 20)
        with pytest.raises(audio_lib.AudioReadError, match="is not a readable audio file") as error:
            audio_lib.decode(tmp_path / name)
        assert isinstance(error.value, UserError) and "\n" not in str(error.value)
    with pytest.raises(audio_lib.AudioReadError, match="does not exist"):
        audio_lib.decode(tmp_path / "missing.wav")
