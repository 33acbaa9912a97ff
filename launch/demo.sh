#!/usr/bin/env bash
# End-to-end run of the whole system on this machine, CPU only, no downloads:
#   1. trains the `tiny` config on the learnable fixture it generates (a few minutes),
#   2. speaks two sentences with festival (offline TTS),
#   3. predicts ARKit coefficients for one, with the emotion taken from the other,
#   4. exports Live Link Face CSV, JSON and GLB, and renders a preview MP4 with the audio.
#
#   bash launch/demo.sh [OUT_DIR]      (default: demo_out)
#
# This is the pipeline from the command line, stage by stage. The tiny model learns from a
# synthetic fixture (tones with syllable envelopes), not from speech, so its animation
# shows the stages working, not lip sync: for that, run `voiceemo demo` (the shipped demo
# model, trained on the synthetic speech corpus).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-demo_out}"
mkdir -p "$out"
if ! command -v text2wave >/dev/null; then
  echo "festival's text2wave is missing: apt-get install festival festvox-kallpc16k" >&2
  exit 1
fi

echo "== 1/4 training configs/tiny.py (re-running resumes; finished runs are reused)"
voiceemo train --config configs/tiny.py --workdir "$out/train"

echo "== 2/4 speaking two sentences with festival"
echo "Hello there. This face is driven by the sound of my voice." | text2wave -o "$out/speech.wav"
echo "Oh no! I can not believe what just happened to us!" | text2wave -o "$out/emotion.wav"

echo "== 3/4 predicting (content from speech.wav, emotion from emotion.wav)"
voiceemo predict --checkpoint "$out/train/model" --audio "$out/speech.wav" \
  --emotion-audio "$out/emotion.wav" --out "$out/speech.npy"

echo "== 4/4 exporting and rendering"
voiceemo export --coeffs "$out/speech.npy" --format csv --out "$out/speech.csv"
voiceemo export --coeffs "$out/speech.npy" --format json --out "$out/speech_frames.json"
voiceemo export --coeffs "$out/speech.npy" --format glb --out "$out/speech.glb"
voiceemo render --coeffs "$out/speech.npy" --audio "$out/speech.wav" --out "$out/speech.mp4" --size 384x576

echo
echo "done; files in $out/:"
echo "  speech.npy          [T, 52] ARKit coefficients at 30 fps"
echo "  speech.json         prediction metadata (emotion probabilities, sources)"
echo "  speech.csv          Live Link Face CSV (Unreal)"
echo "  speech_frames.json  {fps, names, frames}"
echo "  speech.glb          bundled head with a morph-target animation (any glTF viewer, Blender)"
echo "  speech.mp4          preview video with the speech"
echo "  train/              checkpoints, TensorBoard logs (tensorboard --logdir $out/train/tensorboard), model/"
