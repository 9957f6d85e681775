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

# A float32 reference recorded on one machine against the same library's
# outputs on another (HF transformers live against its recorded arrays, and
# kerastack against them): float32 results move with the kernels the
# libraries pick for the CPU (AVX-512 or AVX2 code, oneDNN or Eigen, the
# number of threads). `python -m tests.conformance.measure_spread` measures
# the spread; each bound is at least 4x the largest difference measured on a
# 2-core AMD EPYC (AVX-512) against references recorded on an Intel Xeon, over
# PyTorch's AVX-512/AVX2/scalar kernels with and without oneDNN, TensorFlow
# with and without oneDNN, and JAX, in December 2026.
# Tiny random models (2 layers, outputs up to about 3): measured 7.2e-7.
RECORDED_TINY_ATOL = 5e-6
# The tiny GPT-2 (logits up to about 6): measured 4.5e-6 (transformers),
# 7.0e-6 (kerastack on TensorFlow without oneDNN).
RECORDED_GPT2_ATOL = 3e-5
# all-MiniLM-L6-v2 (6 layers of real weights, hidden states up to about 6):
# measured 2.2e-5 (transformers with PyTorch's scalar kernels).
RECORDED_MINILM_ATOL = 1e-4
