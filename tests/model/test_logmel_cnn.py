"""The log-mel CNN emotion encoder (model.emotion_frontend=logmel_cnn): its spectrogram is
librosa's, a clip's features do not depend on how far it is padded, SpecAugment acts only while
training, and a model with it saves, reloads and trains through the emotion stage's interface.
The log-mel content front end (model.content_frontend=logmel_cnn): band centring removes a fixed
filter, its features keep the phones' timing and do not depend on padding, its 30 fps frames read
the audio at their own time, and it saves and reloads."""

import jax
import jax.numpy as jnp
import librosa
import numpy as np
import pytest
from flax import nnx

from voiceemo_jax.models import presets
from voiceemo_jax.models.logmel_cnn import (
    LogMelCNNConfig,
    LogMelEmotionEncoder,
    centre_bands,
    content_config,
    log_mel,
    spec_augment,
    to_output_frames,
)
from voiceemo_jax.models.voiceemo import VoiceEmo, VoiceEmoConfig


def _noise(seconds: float, seed: int = 0) -> np.ndarray:
    t = np.arange(round(seconds * 16000)) / 16000
    rng = np.random.default_rng(seed)
    return (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


def test_log_mel_is_librosas_normalised_per_clip():
    config = LogMelCNNConfig()
    audio = np.zeros((2, 24000), np.float32)
    audio[0], audio[1, :15000] = _noise(1.5, 0), _noise(15000 / 16000, 1)
    mel, lengths, span = log_mel(jnp.asarray(audio), jnp.asarray([24000, 15000]), config)
    for i, n in enumerate((24000, 15000)):
        ref = librosa.feature.melspectrogram(
            y=audio[i, :n], sr=16000, n_fft=400, hop_length=160, n_mels=64, fmin=50, fmax=8000
        )
        ref = np.log(ref + 1e-6).T
        ref = (ref - ref.mean()) / (ref.std() + 1e-3)
        assert int(lengths[i]) == ref.shape[0]
        np.testing.assert_allclose(np.asarray(mel[i, : ref.shape[0]]), ref, atol=2e-5)
    assert np.all(np.asarray(mel[1, int(lengths[1]) :]) == 0)
    np.testing.assert_array_equal(np.asarray(span), [[0, 151], [0, 94]])  # no silence: every frame
    # Loudness does not matter.
    louder, _, _ = log_mel(jnp.asarray(audio * 8), jnp.asarray([24000, 15000]), config)
    np.testing.assert_allclose(np.asarray(louder), np.asarray(mel), atol=2e-2)  # but for the 1e-6 floor


def test_leading_and_trailing_silence_count_neither_in_normalisation_nor_in_emotion():
    config = LogMelCNNConfig()
    sound = _noise(3.0)
    quiet = 1e-4 * np.random.default_rng(5).standard_normal(16000).astype(np.float32)  # a room at -80 dB
    padded = np.concatenate([quiet[:8000], sound, quiet, quiet])  # 0.5 s before, 2 s after
    mel, lengths, span = log_mel(jnp.asarray(padded[None]), jnp.asarray([padded.size]), config)
    first, end = (int(v) for v in span[0])
    assert abs(first - 50) <= 3 and abs(end - 350) <= 3  # 100 spectrogram frames per second
    alone, _, _ = log_mel(jnp.asarray(sound[None]), jnp.asarray([sound.size]), config)
    # Away from the edges, the sound is normalised as if the silence were not there.
    np.testing.assert_allclose(np.asarray(mel[0, 60:340]), np.asarray(alone[0, 10:290]), atol=0.05)

    model = _model()
    with_silence = _run(model, jnp.asarray(padded[None]), jnp.asarray([padded.size]))
    without = _run(model, jnp.asarray(sound[None]), jnp.asarray([sound.size]))
    zeros = jnp.zeros((1, 16000))
    silence_only = _run(model, zeros, jnp.asarray([16000]))
    assert np.all(np.isfinite(np.asarray(silence_only["emotion_logits"])))
    near = np.abs(np.asarray(with_silence["emotion_logits"] - without["emotion_logits"])).max()
    # The whole-clip mean pools the silence in: much further off than the speech span's pool.
    mask = np.asarray(with_silence["num_frames"])[0]
    hidden, _ = model.emotion_encoder(
        jnp.asarray(padded[None]), jnp.asarray([padded.size]), jnp.asarray([mask]), int(mask)
    )
    whole = model.emotion_encoder.classifier(hidden.mean(axis=1))
    assert near < 0.5 * np.abs(np.asarray(whole - without["emotion_logits"])).max()


def _model(**kw) -> VoiceEmo:
    return VoiceEmo(presets.model_config("tiny", emotion_frontend="logmel_cnn", **kw), rngs=nnx.Rngs(0))


@nnx.jit
def _run(model, audio, num_samples):
    """The whole model at level 0, person 0, compiled (eager, one call costs about 25 s of CPU)."""
    zeros = jnp.zeros(audio.shape[0], int)
    return model(audio, num_samples, zeros, zeros)


@pytest.mark.parametrize("frontends", ["emotion", "emotion and content"])
def test_features_do_not_depend_on_padding(frontends):
    model = _model() if frontends == "emotion" else _model(content_frontend="logmel_cnn")
    clip = _noise(0.7)
    short = _run(model, jnp.asarray(clip[None]), jnp.asarray([clip.size]))
    padded = np.zeros((2, 40000), np.float32)
    padded[0, : clip.size], padded[1] = clip, _noise(2.5, 3)
    both = _run(model, jnp.asarray(padded), jnp.asarray([clip.size, 40000]))
    frames = int(short["num_frames"][0])
    np.testing.assert_allclose(np.asarray(both["emotion_logits"][0]), np.asarray(short["emotion_logits"][0]), atol=1e-5)
    np.testing.assert_allclose(np.asarray(both["outputs"][0, :frames]), np.asarray(short["outputs"][0]), atol=1e-5)


def test_very_short_audio_still_gives_features():
    model = _model()
    config = model.config
    clip = _noise(config.min_samples / 16000)
    out = _run(model, jnp.asarray(clip[None]), jnp.asarray([clip.size]))
    assert np.all(np.isfinite(np.asarray(out["emotion_logits"])))


def test_spec_augment_masks_one_band_and_one_span_only_while_training():
    config = LogMelCNNConfig()
    mel = jnp.ones((4, 200, 64))
    masked = np.asarray(spec_augment(mel, jnp.full(4, 150), config, jax.random.key(0)))
    for item in masked:
        zero_bins = np.flatnonzero((item == 0).all(axis=0))
        zero_frames = np.flatnonzero((item == 0).all(axis=1))
        assert zero_bins.size < config.max_mel_mask and zero_frames.size < config.max_time_mask
        for run in (zero_bins, zero_frames):  # one contiguous run
            assert run.size == 0 or run[-1] - run[0] == run.size - 1
        assert zero_frames.size == 0 or zero_frames[-1] < 150
    assert (masked == 0).any()

    encoder = LogMelEmotionEncoder(config, presets.model_config("tiny").emotion, rngs=nnx.Rngs(0))
    audio, n = jnp.asarray(_noise(1.0)[None]), jnp.asarray([16000])
    a = encoder(audio, n, jnp.asarray([30]), 30)[1]
    b = encoder(audio, n, jnp.asarray([30]), 30)[1]
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    c = encoder(audio, n, jnp.asarray([30]), 30, deterministic=False, rngs=nnx.Rngs(dropout=1))[1]
    assert not np.allclose(np.asarray(a), np.asarray(c))


def _assert_saves_and_reloads(config: VoiceEmoConfig, folder):
    from voiceemo_jax import checkpoint_io

    assert VoiceEmoConfig.from_dict(config.to_dict()) == config
    model = VoiceEmo(config, rngs=nnx.Rngs(0))
    checkpoint_io.save_model(model, folder)
    restored, _ = checkpoint_io.load_model(folder)
    assert restored.config == config
    before, after = (jax.tree.map(np.asarray, nnx.to_pure_dict(nnx.state(m, nnx.Param))) for m in (model, restored))
    jax.tree.map(np.testing.assert_array_equal, after, before)


def test_config_round_trips_and_rejects_bad_values(tmp_path):
    config = presets.model_config("tiny", emotion_frontend="logmel_cnn")
    assert config.emotion_cnn == LogMelCNNConfig()
    assert presets.model_config("tiny").emotion_cnn is None  # the release's wav2vec2 by default
    _assert_saves_and_reloads(config, tmp_path / "model")
    with pytest.raises(ValueError, match="emotion_frontend"):
        presets.model_config("tiny", emotion_frontend="mfcc")
    with pytest.raises(ValueError, match="channels"):
        LogMelCNNConfig(channels=(8, 8))


def test_centre_bands_removes_a_constant_per_band_and_ignores_silence_and_padding():
    rng = np.random.default_rng(0)
    mel = rng.standard_normal((1, 120, 16)).astype(np.float32)
    lengths, span = jnp.asarray([100]), jnp.asarray([[10, 90]])
    mel[0, 100:] = 0.0  # padding, as log_mel leaves it
    coloured = mel.copy()
    coloured[0, :100] = 3.0 * (mel[0, :100] + rng.uniform(-4, 4, 16)) - 1.0  # a filter, then another normalisation
    coloured[0, :10] += 50.0  # the silence before the span counts in no statistic
    a = np.asarray(centre_bands(jnp.asarray(mel), lengths, span))
    b = np.asarray(centre_bands(jnp.asarray(coloured), lengths, span))
    np.testing.assert_allclose(a[0, 10:100], b[0, 10:100], atol=5e-3)  # but for the deviation's 1e-3 floor
    inside = a[0, 10:90]
    np.testing.assert_allclose(inside.mean(axis=0), 0.0, atol=1e-5)  # every band centred on the span
    assert abs(inside.std() - 1.0) < 1e-2
    assert np.all(a[0, 100:] == 0)


def _content_model(**kw) -> VoiceEmo:
    return VoiceEmo(presets.model_config("tiny", content_frontend="logmel_cnn", **kw), rngs=nnx.Rngs(0))


def test_content_frontend_replaces_the_wav2vec2_cnn_and_keeps_the_timing():
    model = _content_model()
    params = nnx.to_pure_dict(nnx.state(model, nnx.Param))
    assert "feature_extractor" not in params["content_encoder"]["wav2vec2"]
    assert "feature_extractor" in params["emotion_encoder"]["wav2vec2"]  # the emotion encoder is untouched
    assert set(params["content_encoder"]) == {"cnn", "wav2vec2"}
    with pytest.raises(ValueError, match="without its CNN"):
        model.content_encoder.wav2vec2.extract_features(jnp.zeros((1, 1600)), jnp.asarray([1600]))

    # The CNN keeps the spectrogram's 100 frames per second: a sound 30 frames later gives the
    # same features 30 frames later.
    encoder = model.content_encoder
    sound = np.random.default_rng(4).standard_normal((40, 64)).astype(np.float32)
    mels = np.zeros((2, 200, 64), np.float32)
    mels[0, 20:60], mels[1, 50:90] = sound, sound
    features, lengths = encoder.cnn(jnp.asarray(mels), jnp.asarray([200, 200]), jnp.asarray([[20, 60], [50, 90]]))
    assert features.shape == (2, 200, model.config.content.conv_dim[-1]) and list(lengths) == [200, 200]
    np.testing.assert_allclose(np.asarray(features[1, 50:90]), np.asarray(features[0, 20:60]), atol=1e-5)
    assert not np.allclose(np.asarray(features[0, 20:60]), np.asarray(features[0, 50:90]), atol=1e-2)

    # SpecAugment only while training.
    audio, n = jnp.asarray(_noise(1.0)[None]), jnp.asarray([16000])
    a = encoder(audio, n, jnp.asarray([30]), 30)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(encoder(audio, n, jnp.asarray([30]), 30)))
    c = encoder(audio, n, jnp.asarray([30]), 30, deterministic=False, rngs=nnx.Rngs(dropout=1))
    assert not np.allclose(np.asarray(a), np.asarray(c))


@pytest.mark.parametrize("time_pool", [1, 16])
def test_time_aligned_frames_read_the_audio_at_their_own_time_whatever_the_clip_length(time_pool):
    aligned, stretched = LogMelCNNConfig(time_aligned=True), LogMelCNNConfig()
    for seconds in (1.0, 4.0):
        spectrogram = 1 + round(seconds * 16000) // aligned.hop
        frames = -(-spectrogram // time_pool)
        # Each CNN frame holds the time (s) it is centred on: spectrogram frame i at i * 10 ms.
        centres = (np.arange(frames) * time_pool + (time_pool - 1) / 2) * aligned.hop / 16000
        features = jnp.asarray(centres[None, :, None], jnp.float32)
        num_frames = round(seconds * 30)
        args = (features, jnp.asarray([frames]), jnp.asarray([num_frames]), num_frames)
        got = np.asarray(to_output_frames(*args, aligned, time_pool=time_pool))[0, :, 0]
        times = np.arange(num_frames) / 30
        inside = (times >= centres[0]) & (times <= centres[-1])
        np.testing.assert_allclose(got[inside], times[inside], atol=1e-5)  # frame f shows f / 30 s
        old = np.asarray(to_output_frames(*args, stretched, time_pool=time_pool))[0, :, 0]
        # Stretched end to end instead, the last frame reads the audio's end, up to 1/30 s after its time.
        assert old[-1] == pytest.approx(centres[-1], abs=1e-5) and old[-1] - times[-1] > 0.02


def test_content_frontend_config_round_trips(tmp_path):
    config = presets.model_config("tiny", content_frontend="logmel_cnn", emotion_frontend="logmel_cnn")
    assert config.content_cnn == content_config() and config.emotion_cnn == LogMelCNNConfig()
    assert config.content_cnn.time_aligned and not config.emotion_cnn.time_aligned
    old = content_config().to_dict()
    del old["time_aligned"]  # a checkpoint saved before the option keeps its stretched frames
    assert not LogMelCNNConfig.from_dict(old).time_aligned
    assert config.content_cnn.max_time_mask == 1  # no span of frames masked
    assert presets.model_config("tiny").content_cnn is None  # the release's wav2vec2 CNN by default
    assert config.min_samples == 1 < presets.model_config("tiny").min_samples
    _assert_saves_and_reloads(config, tmp_path / "model")
    with pytest.raises(ValueError, match="content_frontend"):
        presets.model_config("tiny", content_frontend="mfcc")
