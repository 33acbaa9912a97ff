"""`voiceemo eval` and the evaluation library on tiny built datasets.

An oracle predictor (ground truth plus a chosen error) makes every metric known in
advance; the tiny random-weight checkpoints check the real model path end to end.
"""

import json
import types

import numpy as np
import pytest
import soundfile

from voiceemo_jax.arkit import ARKIT_NAMES, GROUPS
from voiceemo_jax.cli import main
from voiceemo_jax.evaluation import face_regions, metrics
from voiceemo_jax.evaluation.evaluate import Evaluation, evaluate
from voiceemo_jax.evaluation.labels import emotion_label_map
from voiceemo_jax.inference.predictor import Prediction
from voiceemo_jax.models.presets import RELEASE_EMOTIONS

JAW_OPEN = ARKIT_NAMES.index("jawOpen")


class OraclePredictor:
    """Returns each clip's ground truth (found by name) passed through `perturb`, and logits
    naming `emotion_for(clip_id)`. Records the controls it was called with and checks that
    each name came with that clip's audio."""

    def __init__(self, built, output_dim, perturb, emotion_for):
        self.built, self.output_dim, self.perturb, self.emotion_for = built, output_dim, perturb, emotion_for
        self.config = types.SimpleNamespace(synthesizer=types.SimpleNamespace(num_levels=2, num_persons=24))
        self.emotion_labels = RELEASE_EMOTIONS
        self.controls = {}

    def predict_batch(self, clips, *, levels, persons, names):
        out = []
        for clip, level, person, name in zip(clips, levels, persons, names):
            assert np.array_equal(clip, self.built.audio[name]), name
            self.controls[name] = (level, person)
            logits = np.zeros(len(RELEASE_EMOTIONS), np.float32)
            logits[RELEASE_EMOTIONS.index(self.emotion_for(name))] = 5.0
            out.append(Prediction(self.perturb(self.built.targets[name].copy()), logits, RELEASE_EMOTIONS))
        return out


def test_oracle_blendshape_evaluation_gives_the_known_metrics(synth_build):
    from export.head_model import build_head

    def jaw_too_open(target):
        target[:, JAW_OPEN] += 0.1
        return target

    # Right emotion at level 1, "sad" at level 2; "calm" clips have no model label.
    def emotion_for(clip_id):
        emotion = synth_build.emotions[clip_id]
        if emotion not in RELEASE_EMOTIONS:
            return "neutral"
        return emotion if "_level_1_" in clip_id else "sad"

    oracle = OraclePredictor(synth_build, 52, jaw_too_open, emotion_for)
    options = Evaluation(checkpoint="oracle", data_dir=synth_build.out, batch_size=3, progress=False)
    result = evaluate(options, predictor=oracle)
    report = result.report

    test_ids = {c for c in synth_build.targets if c.startswith("kal_") and c.endswith("_001")}
    assert {entry["clip_id"] for entry in report["per_clip"]} == test_ids and report["num_clips"] == 8
    assert oracle.controls == {c: synth_build.controls[c] for c in test_ids}  # conditioned on each clip's labels
    coefficients = report["coefficients"]
    assert coefficients["mae"] == pytest.approx(0.1 / 52, rel=1e-5)
    assert coefficients["mse"] == pytest.approx(0.01 / 52, rel=1e-4)
    assert coefficients["per_group"]["jaw_mouth"]["mae"] == pytest.approx(0.1 / len(GROUPS["jaw_mouth"]), rel=1e-5)
    assert coefficients["per_group"]["eyes"]["mae"] == 0.0 and coefficients["per_group"]["brows"]["mse"] == 0.0
    assert coefficients["per_channel"]["jawOpen"]["mae"] == pytest.approx(0.1, rel=1e-5)
    assert coefficients["mean_pearson"] == pytest.approx(1.0)  # a constant offset keeps r = 1

    # Vertex metrics, recomputed by posing the whole head (the evaluation projects region bases).
    head = build_head()
    regions = face_regions.rig_regions(head.deltas, head.names)
    clip_ids = [entry["clip_id"] for entry in report["per_clip"]]

    def motion(coefficients):
        return head.pose(head.arkit_weights(coefficients)) - head.vertices[None]

    frame_maxima = {"lip": [], "eye": []}
    fdd = []
    for clip_id in clip_ids:
        target = synth_build.targets[clip_id]
        pred, gt = motion(jaw_too_open(target.copy())), motion(target)
        for region in frame_maxima:
            frame_maxima[region].append(metrics.region_max_squared_error(pred, gt, regions[region]))
        fdd.append(metrics.upper_face_dynamics_deviation(pred, gt, regions["upper_face"]))
    vertex = report["vertex_metrics"]
    lip_jaw = np.linalg.norm(head.shape("jawOpen")[regions["lip"]], axis=-1).max()
    assert vertex["lve"] == pytest.approx(0.01 * lip_jaw**2, rel=1e-4) and vertex["lve"] > 1e-7
    assert vertex["lve"] == pytest.approx(metrics.pooled_frame_mean(frame_maxima["lip"]), rel=1e-4)
    assert vertex["eve"] == pytest.approx(metrics.pooled_frame_mean(frame_maxima["eye"]), rel=1e-4, abs=1e-12)
    assert vertex["fdd"] == pytest.approx(np.mean(fdd), rel=1e-4, abs=1e-12)
    assert set(vertex["regions"]) == {"lip", "eye", "upper_face"}

    emotion = report["emotion"]
    assert emotion["evaluated_clips"] == 6 and emotion["clips_without_model_label"] == 2
    assert emotion["accuracy"] == pytest.approx(0.5)
    matrix = np.array(emotion["confusion_matrix"])
    sad = RELEASE_EMOTIONS.index("sad")
    for name in ("angry", "happy", "neutral"):
        row = matrix[RELEASE_EMOTIONS.index(name)]
        assert row[RELEASE_EMOTIONS.index(name)] == 1 and row[sad] == 1 and row.sum() == 2
    json.dumps(report, allow_nan=False)  # strict JSON: no NaN anywhere


def test_oracle_vertex_evaluation_uses_the_users_regions(vocaset_build, tmp_path):
    def push_vertex_2(offsets):
        offsets[:, 2 * 3] += 0.01  # vertex 2, x
        return offsets

    oracle = OraclePredictor(vocaset_build, 15, push_vertex_2, lambda _: "neutral")
    (tmp_path / "lve.txt").write_text("2, 3")  # FaceFormer's format
    np.save(tmp_path / "eye.npy", np.array([True, True, False, False, False]))
    (tmp_path / "upper.json").write_text("[2, 4]")
    options = Evaluation(
        checkpoint="oracle",
        data_dir=vocaset_build.out,
        lip_mask=tmp_path / "lve.txt",
        eye_mask=tmp_path / "eye.npy",
        upper_face_mask=tmp_path / "upper.json",
        progress=False,
    )
    report = evaluate(options, predictor=oracle).report
    assert report["target_kind"] == "vertex_offsets" and report["num_clips"] == 2
    vertex = report["vertex_metrics"]
    assert vertex["lve"] == pytest.approx(1e-4, rel=1e-3)  # 0.01^2 on vertex 2, every frame
    assert vertex["eve"] == 0.0  # vertices 0 and 1 are untouched
    expected_fdd = np.mean(
        [
            metrics.upper_face_dynamics_deviation(
                push_vertex_2(t.copy()).reshape(-1, 5, 3), t.reshape(-1, 5, 3), [2, 4]
            )
            for t in (vocaset_build.targets[e["clip_id"]] for e in report["per_clip"])
        ]
    )
    assert vertex["fdd"] == pytest.approx(expected_fdd, rel=1e-5) and vertex["fdd"] > 0
    assert report["outputs"]["mae"] == pytest.approx(0.01 / 15, rel=1e-3)
    assert report["emotion"]["accuracy"] == 1.0  # VOCASET is all "neutral"
    assert vertex["regions"]["lip"] == {"vertices": 2, "source": str(tmp_path / "lve.txt")}

    bare = evaluate(Evaluation("oracle", vocaset_build.out, progress=False), predictor=oracle)
    assert bare.report["vertex_metrics"]["lve"] is None
    assert "--lip-mask" in bare.report["vertex_metrics"]["lve_skipped"]


def test_eval_cli_on_a_real_tiny_checkpoint_writes_report_and_plots(
    synth_build, blendshape_checkpoint, tmp_path, capsys
):
    from voiceemo_jax.inference.predictor import Predictor

    out = tmp_path / "report"
    argv = ["eval", "--checkpoint", str(blendshape_checkpoint), "--data", str(synth_build.out)]
    assert main(argv + ["--split", "test", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "LVE" in printed and "emotion accuracy" in printed and str(out) in printed
    report = json.loads((out / "report.json").read_text())
    for name in report["plots"]:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {"curves.png", "jaw_open.png", "confusion_matrix.png"} <= set(report["plots"])

    # The same numbers from the predictor on the source audio (one batch of all 8 clips, as the
    # evaluation ran them: the same compiled program, so the test compiles once).
    predictor = Predictor.from_checkpoint(blendshape_checkpoint)
    clip_ids = [entry["clip_id"] for entry in report["per_clip"]]
    predictions = predictor.predict_batch(
        [synth_build.audio[c] for c in clip_ids],
        levels=[synth_build.controls[c][0] for c in clip_ids],
        persons=[synth_build.controls[c][1] for c in clip_ids],
    )
    errors, values = 0.0, 0
    for entry, prediction in zip(report["per_clip"], predictions):
        target = synth_build.targets[entry["clip_id"]]
        assert prediction.outputs.shape == target.shape and entry["frames"] == len(target)
        errors += np.abs(prediction.outputs - target).sum()
        values += target.size
        assert entry["emotion_predicted"] == prediction.emotion
    assert report["coefficients"]["mae"] == pytest.approx(errors / values, rel=1e-4)
    assert report["vertex_metrics"]["lve"] > 0 and report["emotion"]["evaluated_clips"] == 6


def test_eval_cli_vertex_checkpoint_with_masks(vocaset_build, vertex_checkpoint, tmp_path, capsys):
    (tmp_path / "lips.txt").write_text("0 1\n2")
    (tmp_path / "upper.txt").write_text("3,4")
    out = tmp_path / "report"
    argv = ["eval", "--checkpoint", str(vertex_checkpoint), "--data", str(vocaset_build.out), "--out", str(out)]
    assert (
        main(argv + ["--lip-mask", str(tmp_path / "lips.txt"), "--upper-face-mask", str(tmp_path / "upper.txt")]) == 0
    )
    report = json.loads((out / "report.json").read_text())
    vertex = report["vertex_metrics"]
    assert vertex["regions"]["lip"]["vertices"] == 3 and vertex["regions"]["upper_face"]["vertices"] == 2
    assert vertex["lve"] > 0 and vertex["fdd"] is not None and vertex["eve"] is None
    assert "region_motion.png" in report["plots"] and (out / "region_motion.png").is_file()
    # Re-running into the same report folder replaces it.
    assert main(argv + ["--no-progress"]) == 0
    assert json.loads((out / "report.json").read_text())["vertex_metrics"]["lve"] is None
    capsys.readouterr()


BAD_INPUTS = {
    "missing dataset": ({"--data": "{tmp}/nowhere"}, "no such dataset folder"),
    "wrong split": ({"--split": "tset"}, "no split 'tset'"),
    "output width": ({"--data": "{vocaset}"}, "outputs 52 values per frame but vocaset targets have 15"),
    "not a checkpoint": ({"--checkpoint": "{tmp}"}, "not a VoiceEmo-JAX checkpoint"),
    "mask out of range": ({"--lip-mask": "{tmp}/big.txt"}, "do not fit a mesh of"),
    "mask not indices": ({"--lip-mask": "{tmp}/words.txt"}, "not a vertex index file"),
    "out is a file": ({"--out": "{tmp}/big.txt"}, "is not an evaluation report folder"),
    "level": ({"--level": "2"}, "--level 2 is out of range"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gives_one_line_error(case, synth_build, vocaset_build, blendshape_checkpoint, tmp_path, capsys):
    (tmp_path / "big.txt").write_text("1, 2, 99999")
    (tmp_path / "words.txt").write_text("lips: 1 2 3")
    flags = {"--checkpoint": str(blendshape_checkpoint), "--data": str(synth_build.out), "--out": "{tmp}/report"}
    overrides, message = BAD_INPUTS[case]
    flags.update(overrides)
    argv = ["eval", "--no-progress"]
    for flag, value in flags.items():
        argv += [flag, value.format(tmp=tmp_path, vocaset=vocaset_build.out)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("voiceemo eval: error:") and message in err, err
    assert not (tmp_path / "report").exists()


def test_rig_flag_is_refused_for_vertex_datasets(vocaset_build, vertex_checkpoint, tmp_path, capsys):
    argv = ["eval", "--checkpoint", str(vertex_checkpoint), "--data", str(vocaset_build.out), "--rig", "head.glb"]
    assert main(argv + ["--out", str(tmp_path / "r")]) == 2
    assert "--rig applies to blendshape datasets" in capsys.readouterr().err


def test_emotion_names_are_matched_through_aliases():
    mapping = emotion_label_map(("fearful", "calm", "Surprised", "disgusted", "happy"), RELEASE_EMOTIONS)
    np.testing.assert_array_equal(mapping, [2, -1, 6, 1, 3])


def test_index_files_and_rig_regions(tmp_path):
    (tmp_path / "a.txt").write_text("3, 1,\n2  1")
    np.testing.assert_array_equal(face_regions.read_index_file(tmp_path / "a.txt", 5, "--lip-mask"), [1, 2, 3])
    np.save(tmp_path / "m.npy", np.array([False, True, False, True]))
    np.testing.assert_array_equal(face_regions.read_index_file(tmp_path / "m.npy", 4, "--eye-mask"), [1, 3])
    np.save(tmp_path / "short.npy", np.array([True, False]))
    with pytest.raises(Exception, match="boolean mask must have 4 entries"):
        face_regions.read_index_file(tmp_path / "short.npy", 4, "--eye-mask")
    with pytest.raises(Exception, match="no such file"):
        face_regions.read_index_file(tmp_path / "none.txt", 4, "--eye-mask")

    # A toy rig: mouthA moves v0 by 1.0 and v1 by 0.2; browB moves v2; jawOpen moves v3 (not "lip").
    deltas = np.zeros((3, 4, 3))
    deltas[0, 0, 0], deltas[0, 1, 1] = 1.0, 0.2
    deltas[1, 2, 2] = 0.5
    deltas[2, 3, 0] = 9.0
    regions = face_regions.rig_regions(deltas, ("mouthA", "browB", "jawOpen"))
    np.testing.assert_array_equal(regions["lip"], [0])  # 0.2 < 0.3 x 1.0
    np.testing.assert_array_equal(regions["eye"], [2])
    np.testing.assert_array_equal(regions["upper_face"], [2])


def test_bundled_head_lip_region_surrounds_the_mouth():
    from export import head_mesh
    from export.head_model import build_head

    head = build_head()
    regions = face_regions.rig_regions(head.deltas, head.names)
    lips = head.vertices[regions["lip"]]
    assert 200 < len(lips) < 2000
    assert np.all(np.abs(lips[:, 1] - head_mesh.MOUTH_Y) < 0.03) and np.all(np.abs(lips[:, 0]) < 0.05)
    eyes = head.vertices[regions["eye"]]
    assert np.all(eyes[:, 1] > head_mesh.MOUTH_Y + 0.02)  # eyes and brows only: nothing near the mouth


def test_help_lists_every_flag(capsys):
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    text = capsys.readouterr().out
    for flag in ("--checkpoint", "--data", "--split", "--rig", "--lip-mask", "--eye-mask", "--upper-face-mask",
                 "--out", "--batch-size", "--level", "--person", "--max-clips"):  # fmt: skip
        assert flag in text


def test_source_audio_round_trips(synth_build):
    """Guards the independent check above: the built audio is what the fixture wrote."""
    clip_id = next(iter(synth_build.audio))
    voice, emotion, _, level, sentence = clip_id.split("_")
    wav = synth_build.out.parent / "corpus" / "wav" / voice / emotion / f"level_{level}" / f"{sentence}.wav"
    audio, rate = soundfile.read(wav, dtype="float32")
    assert rate == 16_000 and np.array_equal(audio, synth_build.audio[clip_id])
