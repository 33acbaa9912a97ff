"""Helpers shared by the tests and the benchmarks (never by the library itself).

signals.py (speech-like audio), random_models.py (random-weight models, nothing compiled),
batches.py (synthetic training triplets), flops.py (XLA FLOP counts), torch_reference.py
(the release's PyTorch structure, for parity and speed comparisons; needs torch).
"""
