"""Tolerances, stated once for both test suites (the Keras 3 harness in
tests/testing.py and the portable suite in tests/portable). Plain numbers:
this module imports nothing."""

# float32 layers against NumPy float64 references.
FLOAT32_ATOL = 1e-5
FLOAT32_RTOL = 1e-5
# Hand-derived golden values, in float32.
GOLDEN_ATOL = 1e-6
# A model saved and loaded back against the original (the same weights and
# computation, so only the order of float32 rounding may differ).
SAVE_ATOL = 1e-6
# Predictions of weights written on one lane (Keras 2 or 3, any backend) and
# read on another, against the predictions the writer stored.
CROSS_LANE_ATOL = 1e-5
