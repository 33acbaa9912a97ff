"""Helpers shared by tests and benchmarks: speech-like signals, random models, synthetic batches, PyTorch reference."""
