"""The demo model trained on real voices too (an experiment: measured, not shipped).

The demo recipe (configs/demo.py) from scratch on one build that merges the synthetic corpus with
real recorded speech: TESS and RAVDESS actors 01-18 (emotions), CMU ARCTIC axb and aew and the CC0
"Cathy" reading of the ARCTIC prompts (read speech in one emotion), every recording force-aligned
to its text and turned into targets by the same viseme rules. REAL is a folder with those corpora
(`tess/`, `ravdess/`, `cmu_arctic/`, `cathy_arctic/`, each with `index.tsv`; README, "The demo
model", lists where they come from):

    voiceemo data synth --out corpus --hours 2 --seed 0
    voiceemo data build --dataset synth --root corpus --out data/synth
    python -m data_pipelines.sources.real_speech_training --data REAL --out speech_train \
        --corpora tess ravdess cmu_arctic cathy_arctic
    voiceemo data build --dataset speech --root speech_train --out data/speech \
        --validation-speakers ravdess_17,ravdess_18
    python -m data_pipelines.records.merge --out data/demo_mix data/synth data/speech
    voiceemo train --config configs/emotion_encoder.py:real_speech --workdir runs/real_speech \
        --config.data.dir=data/demo_mix
    voiceemo train --config configs/real_speech.py --workdir runs/real_speech --config.data.dir=data/demo_mix

The training build leaves out the held-out recordings (`voiceemo_jax.evaluation.held_out_speech`:
RAVDESS actors 19-20, every tenth TESS word, ARCTIC slt and bdl, all of LJSpeech), which
`benchmarks/real_speech.py` measures on; RAVDESS actors 17-18 are the validation split.

Against the demo recipe it was measured beside (a wav2vec2 emotion encoder trained on the synthetic
corpus alone; configs/demo.py has since moved to a log-mel emotion encoder trained on synthetic,
TESS and RAVDESS speech, and this config keeps the wav2vec2): the emotion stage crops between each
clip's first and last sound, gives every emotion the same share of the crops (read speech is all
neutral) and augments them; the main stage trains read speech in one emotion as its own X12
(`data.self_pairs`), augments every clip (noise, room, band-limit, speed, gain), takes clips up to
8 s and mixes 8 speakers per window.
Measured (BENCHMARKS.md, "Real speech"; 81 minutes end to end on the 2-core machine): real emotion up
(RAVDESS held-out actors 19% -> 35%, TESS held-out words 15% -> 100%), lip sync on real speech
no better, synthetic-corpus quality clearly worse (mouth MAE 0.041 vs 0.022), so it was not shipped.
"""

from configs import demo


def get_config(arg: str | None = None):
    config = demo.get_config(arg)
    config.init_from = "runs/real_speech/emotion_encoder"
    config.data.bucket_seconds = (2.0, 3.0, 4.0, 6.0, 8.0)  # real recordings run to 8 s (ARCTIC, Cathy)
    config.data.window_speakers = 8  # ~30 speakers: windows mix synthetic and real voices
    config.data.self_pairs = True
    config.data.augment = True
    # The recipe as measured: a wav2vec2 emotion encoder and the emotion stage's own defaults
    # (configs/demo.py has since moved to a log-mel encoder and its own emotion-stage settings).
    config.model.emotion_frontend = "wav2vec2"
    del config["emotion_stage"]
    config.data.balance_groups = ""
    # Read by the emotion stage (configs/emotion_encoder.py:real_speech).
    config.data.trim_silence = True
    config.data.balance_emotions = True
    config.train.eval_every = 600
    return config
