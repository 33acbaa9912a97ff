"""Waveform augmentation: each op eagerly and inside tf.data, seeded; the batch-level wrapper."""

from __future__ import annotations

import ml_collections
import numpy as np
import pytest

from data_pipelines.loading import augmentation as aug

tf = aug.tf
RATE = 16000
CLIP, PADDED = 24000, 32000  # 1.5 s of clip in a 2 s padded row
SEED = np.array([3, 7], np.int32)
OTHER_SEED = np.array([3, 8], np.int32)


@pytest.fixture(scope="module")
def clip() -> dict[str, np.ndarray]:
    """A voiced-speech stand-in (220 Hz harmonics, 4 Hz syllable envelope) and a ramp target [60, 52]."""
    t = np.arange(PADDED) / RATE
    audio = sum(np.sin(2 * np.pi * 220 * h * t) / h for h in range(1, 6)) * (0.55 + 0.45 * np.sin(2 * np.pi * 4 * t))
    audio = (0.2 * audio).astype(np.float32)
    audio[CLIP:] = 0.0
    targets = np.tile(np.arange(60, dtype=np.float32)[:, None], (1, 52)) / 60.0
    return {"audio": audio, "num_samples": np.int32(CLIP), "targets": targets, "num_frames": np.int32(45)}


def _band_power(audio: np.ndarray, low: float, high: float) -> float:
    spectrum = np.abs(np.fft.rfft(audio)) ** 2
    freqs = np.fft.rfftfreq(len(audio), 1 / RATE)
    return float(spectrum[(freqs >= low) & (freqs < high)].sum())


OPS = {
    "add_noise": lambda c, s: aug.add_noise(c["audio"], c["num_samples"], s, snr_db=(20.0, 20.0)),
    "random_gain": lambda c, s: aug.random_gain(c["audio"], c["num_samples"], s, gain_db=(6.0, 6.0)),
    "reverberate": lambda c, s: aug.reverberate(c["audio"], c["num_samples"], s),
    "band_limit": lambda c, s: aug.band_limit(c["audio"], c["num_samples"], s, (300.0, 300.0), (3000.0, 3000.0)),
    "change_speed": lambda c, s: aug.change_speed(c["audio"], c["num_samples"], c["targets"], c["num_frames"], s)[0],
    "silence": lambda c, s: aug.silence(c["audio"], c["num_samples"], c["targets"], c["num_frames"], s)[0],
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_each_op_is_seeded_keeps_padding_zero_and_runs_the_same_inside_tf_data(name, clip):
    op = OPS[name]
    eager = op(clip, SEED).numpy()
    assert eager.shape == (PADDED,) and np.all(eager[CLIP:] == 0.0)
    np.testing.assert_array_equal(eager, op(clip, SEED).numpy())
    if name not in ("random_gain", "band_limit"):  # these two were given fixed ranges
        assert not np.allclose(eager, op(clip, OTHER_SEED).numpy())
    assert not np.allclose(eager, clip["audio"])
    dataset = tf.data.Dataset.from_tensors(clip).map(lambda c: op(c, tf.constant(SEED)))
    np.testing.assert_allclose(next(iter(dataset)).numpy(), eager, atol=1e-5)


def test_noise_is_at_the_drawn_snr(clip):
    noisy = OPS["add_noise"](clip, SEED).numpy()[:CLIP]
    signal = clip["audio"][:CLIP]
    snr = 10 * np.log10(np.mean(signal**2) / np.mean((noisy - signal) ** 2))
    assert snr == pytest.approx(20.0, abs=0.3)


def test_gain_scales_by_the_drawn_decibels(clip):
    louder = OPS["random_gain"](clip, SEED).numpy()
    np.testing.assert_allclose(louder, clip["audio"] * 10 ** (6 / 20), rtol=1e-5, atol=1e-7)


def test_reverberation_adds_a_decaying_tail_and_keeps_loudness(clip):
    impulse = np.zeros(PADDED, np.float32)
    impulse[1000] = 1.0
    response = aug.reverberate(impulse, PADDED, SEED, rt60_seconds=(0.5, 0.5), wet=(0.5, 0.5)).numpy()
    early, late = response[1001 : 1001 + 1600], response[1000 + 4800 : 1000 + 6400]  # 0-0.1 s, 0.3-0.4 s after
    assert np.all(response[:999] ** 2 < 1e-8)  # causal
    assert np.sum(early**2) > 10 * np.sum(late**2) > 0  # -60 dB in 0.5 s: ~-36 dB from the first to the fourth 0.1 s
    wet = OPS["reverberate"](clip, SEED).numpy()
    assert np.sqrt(np.mean(wet[:CLIP] ** 2)) == pytest.approx(np.sqrt(np.mean(clip["audio"][:CLIP] ** 2)), rel=1e-3)


def test_band_limit_removes_the_low_and_high_bands(clip):
    noise = np.random.default_rng(0).standard_normal(PADDED).astype(np.float32) * 0.1
    out = aug.band_limit(noise, PADDED, SEED, (300.0, 300.0), (3000.0, 3000.0)).numpy()
    for low, high in ((0, 120), (6000, 8000)):
        assert _band_power(out, low, high) < 0.01 * _band_power(noise, low, high)  # > 20 dB down
    assert _band_power(out, 800, 1500) > 0.9 * _band_power(noise, 800, 1500)


def test_change_speed_resamples_audio_and_warps_targets_together(clip):
    audio, samples, targets, frames = aug.change_speed(
        clip["audio"], clip["num_samples"], clip["targets"], clip["num_frames"], SEED, factor=(1.25, 1.25)
    )
    samples, frames, audio, targets = int(samples), int(frames), audio.numpy(), targets.numpy()
    assert samples == round(CLIP / 1.25) and frames == -(-samples * 30 // RATE)
    assert np.all(audio[samples:] == 0) and np.all(targets[frames:] == 0) and targets.shape == (60, 52)
    # Pitch up by the factor: the 220 Hz fundamental moves to 275 Hz.
    spectrum = np.abs(np.fft.rfft(audio[:samples] * np.hanning(samples)))
    assert np.fft.rfftfreq(samples, 1 / RATE)[np.argmax(spectrum)] == pytest.approx(275.0, abs=2.0)
    # Target frame j shows source frame 1.25 j (the ramp's value is frame / 60).
    np.testing.assert_allclose(targets[:frames, 0], np.arange(frames) * 1.25 / 60.0, atol=1e-5)
    # Slower than the padding allows: cut at the padded length.
    _, samples, _, frames = aug.change_speed(clip["audio"], clip["num_samples"], clip["targets"], 45, SEED, (0.7, 0.7))
    assert int(samples) == PADDED and int(frames) == 60


def _batch(clip) -> dict:
    rows = {key: np.stack([clip[key], clip[key]]) for key in ("audio", "targets")}
    return {
        name: {**rows, "num_samples": np.array([CLIP, 16000], np.int32), "num_frames": np.array([45, 30], np.int32),
               "emotion": np.array([1, 2], np.int32)}
        for name in ("x11", "x12", "x21")
    }  # fmt: skip


def test_silence_is_a_pause_at_the_drawn_level_with_the_rest_pose_as_every_target(clip):
    audio, targets = (x.numpy() for x in aug.silence(clip["audio"], clip["num_samples"], clip["targets"],
                                                     clip["num_frames"], SEED, level_db=(-60.0, -60.0)))  # fmt: skip
    level = 10 * np.log10(np.mean(audio[:CLIP] ** 2))
    assert abs(level - -60.0) < 0.2 and np.all(audio[CLIP:] == 0.0)
    np.testing.assert_array_equal(targets[:45], np.tile(clip["targets"][:1], (45, 1)))  # the clip's first frame
    assert np.all(targets[45:] == 0.0) and targets.shape == clip["targets"].shape
    digital, _ = aug.silence(clip["audio"], clip["num_samples"], clip["targets"], clip["num_frames"], SEED,
                             level_db=(-120.0, -120.0))  # fmt: skip
    assert np.all(digital.numpy() == 0.0)


def test_the_silence_op_leaves_the_other_ops_draws_as_they_were(clip):
    speed_only = aug.AugmentOptions(speed_probability=1.0, reverb_probability=0, band_probability=0,
                                    noise_probability=0, gain_probability=0)  # fmt: skip
    with_pause = aug.AugmentOptions(**{**speed_only.__dict__, "silence_probability": 1.0})
    plain, paused = aug.augment_clip(clip, SEED, speed_only), aug.augment_clip(clip, SEED, with_pause)
    assert int(paused["num_samples"]) == int(plain["num_samples"]) != CLIP  # the same speed drawn
    assert np.sqrt(np.mean(paused["audio"].numpy() ** 2)) < 0.01  # and then the pause (below -40 dBFS)


class _Positions:
    """A stand-in batch iterator: the same batch at every position, position in its state."""

    def __init__(self, clip):
        self.clip, self.batch, self.process_index = clip, 0, 0

    def get_state(self):
        return {"epoch": 0, "batch": self.batch}

    def set_state(self, state):
        self.batch = state["batch"]

    def __next__(self):
        self.batch += 1
        return _batch(self.clip)


def test_training_batches_are_augmented_by_position_and_resume_identically(clip):
    config = ml_collections.ConfigDict({"data": {"augment": False}, "train": {"seed": 5}})
    plain = _Positions(clip)
    assert aug.for_training(plain, config) is plain
    config.data.augment = True
    config.data.augment_options = {"speed_probability": 1.0, "noise_probability": 1.0}
    iterator = aug.for_training(_Positions(clip), config)
    first, second = next(iterator), next(iterator)
    state = iterator.get_state()
    third = next(iterator)
    assert state == {"epoch": 0, "batch": 2}
    for out in (first, second):
        x = out["x11"]
        assert x["audio"].shape == (2, PADDED) and x["targets"].shape == (2, 60, 52)
        assert list(x["num_frames"]) == [-(-n * 30 // RATE) for n in x["num_samples"]]  # speed kept the frame rule
        assert list(x["emotion"]) == [1, 2] and not np.allclose(x["audio"][0, :CLIP], clip["audio"][:CLIP])
    assert not np.allclose(first["x11"]["audio"], second["x11"]["audio"])  # another position, another draw
    assert not np.allclose(first["x11"]["audio"], first["x12"]["audio"])  # clips of a triplet drawn apart
    resumed = aug.for_training(_Positions(clip), config)
    resumed.set_state(state)
    np.testing.assert_array_equal(next(resumed)["x21"]["audio"], third["x21"]["audio"])


def test_without_augment_emotion_each_clip_keeps_its_clean_audio_for_the_emotion_encoder(clip):
    config = ml_collections.ConfigDict({"data": {"augment": True, "augment_options": {"noise_probability": 1.0}},
                                        "train": {"seed": 5}})  # fmt: skip
    assert "emotion_audio" not in next(aug.for_training(_Positions(clip), config))["x12"]
    config.data.augment_emotion = False
    out = next(aug.for_training(_Positions(clip), config))
    for name, x in out.items():
        original = _batch(clip)[name]
        np.testing.assert_array_equal(x["emotion_audio"], original["audio"])
        np.testing.assert_array_equal(x["emotion_num_samples"], original["num_samples"])
        assert not np.allclose(x["audio"][0, :CLIP], original["audio"][0, :CLIP])  # the content's audio is augmented


def test_the_clips_of_a_row_become_pauses_together(clip):
    config = ml_collections.ConfigDict({"data": {"augment": True, "augment_options": {
        "silence_probability": 0.5, "speed_probability": 0.0, "reverb_probability": 0.0, "band_probability": 0.0,
        "noise_probability": 0.0, "gain_probability": 0.0}}, "train": {"seed": 5}})  # fmt: skip
    iterator = aug.for_training(_Positions(clip), config)
    paused = []
    for _ in range(8):
        out = next(iterator)
        rows = {name: [bool(np.sqrt(np.mean(x["audio"][r] ** 2)) < 0.01) for r in range(2)] for name, x in out.items()}
        assert rows["x11"] == rows["x12"] == rows["x21"]  # a triplet's three clips are paused or none
        for r, is_pause in enumerate(rows["x11"]):
            if is_pause:
                n = out["x11"]["num_frames"][r]
                np.testing.assert_array_equal(out["x11"]["targets"][r, :n], out["x11"]["targets"][r, :1].repeat(n, 0))
        paused += rows["x11"]
    assert 0 < sum(paused) < len(paused)


def test_the_configs_augment_options_are_the_ops_defaults_and_each_is_settable_on_the_command_line():
    import dataclasses

    from configs.common import base_config
    from voiceemo_jax.training.config_loading import apply_overrides

    config = base_config()
    assert dict(config.data.augment_options) == dataclasses.asdict(aug.AugmentOptions())
    overrides = ["--config.data.augment_options.noise_probability=0.8", "--config.data.augment_options.snr_db=30,50"]
    apply_overrides(config, overrides + ["--config.data.augment_emotion=false"])
    options = aug.options_from_config(config)
    assert options.noise_probability == 0.8 and options.snr_db == (30.0, 50.0) and options.speed_probability == 0.5
    assert config.data.augment_emotion is False
