"""Helpers the position layers share: working dtype and shape-stable sin/cos."""

from kerastack.core import ops, standardize_dtype, static_shape

# Elements per call of a vectorized sin/cos kernel that we pad the last axis
# to. On CPU, TensorFlow (Eigen) evaluates sin/cos in SIMD packets (up to 16
# float32 lanes with AVX-512) and the ragged tail one element at a time, with
# results that can differ in the last bit. Padding the last axis to a multiple
# of this puts every element on the packet path, so the value for a position
# does not depend on how many positions share the call: rotating a whole
# sequence and rotating one step of it agree exactly.
_PACKET = 16


def working_dtype(compute_dtype):
    """float32, or float64 for a float64 layer: never a half type."""
    return "float64" if standardize_dtype(compute_dtype) == "float64" else "float32"


def sin_cos(angles):
    """`(sin(angles), cos(angles))`, each element computed the same way
    whatever the shape of `angles` (see `_PACKET`)."""
    size = static_shape(angles)[-1]
    pad = 0 if size is None else -size % _PACKET  # size unknown: Theano, exact anyway
    if pad:
        # Zeros appended by broadcasting, not `ops.pad`: Keras's pad on
        # PyTorch breaks torch.compile's graph at the layer's next call.
        filler = ops.zeros((pad,), dtype=standardize_dtype(angles.dtype))  # (pad,)
        zeros = ops.zeros_like(angles[..., :1]) * filler  # (..., pad)
        angles = ops.concatenate([angles, zeros], axis=-1)  # (..., size + pad)
    sin, cos = ops.sin(angles), ops.cos(angles)
    if pad:
        sin, cos = sin[..., :size], cos[..., :size]  # (..., size)
    return sin, cos


def sinusoids(positions, features, max_wavelength, dtype="float32"):
    """The interleaved encoding of "Attention Is All You Need" for float
    `positions` `(...)`, as `(..., features)` in `dtype`: sine on even
    features, cosine on odd ones, feature `i` at frequency
    `max_wavelength ** (-2 * (i // 2) / features)`."""
    index = ops.arange(features)  # (D,)
    exponent = ops.cast(2 * (index // 2), dtype) / features  # (D,)
    frequencies = 1.0 / ops.power(ops.cast(max_wavelength, dtype), exponent)  # (D,)
    angles = ops.expand_dims(positions, -1) * frequencies  # (..., D)
    sin, cos = sin_cos(angles)
    return ops.where(ops.equal(index % 2, 0), sin, cos)  # (..., D)
