"""The face emotion classifier: emotion read from coefficient sequences (model, training, metric, loading)."""
