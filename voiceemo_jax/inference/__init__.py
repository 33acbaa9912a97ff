"""Checkpoint -> coefficients: predictor, long-audio windows, streaming, batch prediction, output files."""
