"""Coefficients -> numbers: metrics, the evaluation report, its plots and the face-region masks."""
