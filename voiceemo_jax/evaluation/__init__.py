"""Coefficients -> numbers: a checkpoint evaluated on a split of a built dataset.

evaluate.py (the whole run: `Evaluation` options -> `evaluate`), model_outputs.py (the model
over a split, clip by clip), aggregate.py (per-clip metrics -> the report's sections),
report.py (report.json, plots, summary lines), and the pieces: metrics.py, labels.py (dataset
emotions -> model labels), vertex_spaces.py and face_regions.py (where LVE/EVE/FDD are
measured), plots.py. Real speech: lip_sync.py (mouth opening against phone timings) and
held_out_speech.py (the recordings training never sees), used by benchmarks/real_speech.py.
"""
