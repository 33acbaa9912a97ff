"""The shipped demo model: small encoders trained from scratch; emotion from real acted speech.

Reproduces `voiceemo_jax/demo_assets/model` (what `voiceemo demo` runs) on a 2-core CPU, REAL
being a folder with the TESS and RAVDESS corpora (`tess/`, `ravdess/`, each with `index.tsv`;
README, "The demo model", says where to get them):

    voiceemo data synth --out corpus --hours 2 --seed 0
    voiceemo data build --dataset synth --root corpus --out data/synth
    python -m data_pipelines.sources.real_speech_training --data REAL --out speech_train --corpora tess ravdess
    voiceemo data build --dataset speech --root speech_train --out data/speech
    python -m data_pipelines.records.merge --out data/emotion_mix data/synth data/speech
    voiceemo train --config configs/emotion_encoder.py --workdir runs/demo --config.data.dir=data/emotion_mix
    voiceemo train --config configs/demo.py --workdir runs/demo --config.data.dir=data/synth

runs/demo/model is the shipped model. Two stages. The first (configs/emotion_encoder.py, which
builds this config's model and reads `emotion_stage` and the `data.*` options marked below)
trains the emotion encoder alone, as a classifier on random 1.6 s crops, on the synthetic corpus
merged with TESS and RAVDESS actors 01-18, all of them training clips (the real-speech builder
leaves out the recordings `benchmarks/real_speech.py` measures on), for 3000 steps, keeping the
last (`emotion_stage.eval_every`: validation, on the synthetic clips alone, runs only at the end;
choosing a step on synthetic clips had kept a worse one), into runs/demo/emotion_encoder. The
emotion encoder is a CNN over a log-mel spectrogram
(`model.emotion_frontend`, voiceemo_jax/models/logmel_cnn.py): a wav2vec2 of the same size,
learnt from scratch on a few thousand clips, read 21% of unseen RAVDESS actors where the CNN
read 43% (BENCHMARKS.md, "The emotion encoder alone on real speech"). The second stage is the
usual cross-reconstruction training of the rest on the synthetic corpus only, starting from
that checkpoint (`init_from`) with the emotion encoder frozen, so the decoder learns the
features the classifier reads, with one more loss term on the mouth opening (`loss.mouth_opening`,
the read-out lip sync is scored on), which lifted lip closure on real voices (LJSpeech AUC open
vowel vs p/b/m 0.905 against 0.887) and cost some synthetic mouth error (BENCHMARKS.md, "Real
speech"). The content encoder's front end is a log-mel CNN too
(`model.content_frontend`; it pools over mel bands only, keeping 100 frames per second, with each
band centred over the clip's speech) in place of the wav2vec2's CNN over the waveform: trained on
festival's voices alone, it carries over to real voices better (LJSpeech and ARCTIC lip sync) and
fits the synthetic mouths better too (BENCHMARKS.md, "Real speech"); its frames are read on the
clock (`LogMelCNNConfig.time_aligned`: stretched end to end, they had read the audio up to a frame
late towards a clip's end, which cost streamed lip sync most: LJSpeech 0.836 streamed, now 0.887).
Its mouth targets stay festival's phone timings: targets from force-aligned real speech did not
improve lip sync on real voices (configs/real_speech.py, BENCHMARKS.md "Real speech").
The model it writes rests the jaw and mouth where the audio stays quiet for 0.3 s or more
(`model.rest_in_pauses`, voiceemo_jax/inference/pauses.py; inference only, training ignores it):
trained on clips full of speech, it had kept the mouth open in a silent file and in a stream's
long pauses (0.15 and 0.10-0.15, where speech averages 0.22), and training on pauses cost lip sync
on real voices. It also closes the mouth in the level's dips (`model.close_in_dips`, pauses.py; inference
only): in real voices' stop closures the model had kept the lips part open, and scaling its opening
down by how far a frame lies below its loudest neighbour lifted LJSpeech's AUC open vowel vs p/b/m
from 0.902 to 0.928 (BENCHMARKS.md, "Real speech").
"""

import ml_collections

from configs import synth


def get_config(arg: str | None = None):
    config = synth.get_config(arg)
    config.model.size = "demo"
    config.model.freeze_feature_encoder = False
    config.model.emotion_frontend = "logmel_cnn"
    config.model.content_frontend = "logmel_cnn"
    config.init_from = "runs/demo/emotion_encoder"
    config.model.freeze_emotion_encoder = True
    config.train.num_steps = 4000
    config.train.learning_rate = 1e-3
    config.train.warmup_steps = 200
    config.train.eval_every = 500
    config.train.checkpoint_every = 250
    # The synthetic build (~0.5 GB) stays in memory after the first epoch: on the 2-core machine
    # the system evicts its cold file pages between epochs, and reading them again stalled the
    # first batch of an epoch by ~35 s, about one epoch in two (BENCHMARKS.md, "Real speech").
    config.data.keep_in_memory = True
    # The emotion encoder is frozen: its classification loss would move nothing. Its accuracy
    # is still logged.
    config.loss.emotion = 0.0
    config.loss.mouth_opening = 1.0
    # Inference: the mouth rests in pauses (stored in the model; no parameter depends on it).
    config.model.rest_in_pauses = True
    # Inference: the mouth closes in the level's dips, a stop's closure (stored in the model likewise).
    config.model.close_in_dips = True

    # Read by the emotion stage only: crops from between a clip's first and last sound, every
    # emotion the same share of them, and within an emotion every corpus of the merged build
    # (festival's voices, RAVDESS's 16 actors, TESS's 2 speakers) the same share.
    config.data.trim_silence = True
    config.data.balance_emotions = True
    config.data.balance_groups = "voiceemo_synth/*,*/ravdess_*,*/tess_*"
    config.emotion_stage = ml_collections.ConfigDict(
        {"batch_size": 32, "learning_rate": 2e-3, "crop_seconds": 1.6, "num_steps": 3000, "eval_every": 3000}
    )
    return config
