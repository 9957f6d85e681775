"""Independent NumPy (float64) references for the normalization layers.

Written from the formulas in the papers (and, for the legacy layer, from
keras-layer-normalization's `call`), sharing no code with the package.
"""

import numpy as np


def _stats_shape(x, axes):
    axes = tuple(sorted(a % x.ndim for a in np.atleast_1d(axes)))
    shape = [x.shape[a] if a in axes else 1 for a in range(x.ndim)]
    return axes, shape


def layer_norm(x, gamma=None, beta=None, axis=-1, epsilon=1e-3):
    """`(x - mean) / sqrt(var + epsilon) * gamma + beta` over `axis`; `gamma`
    and `beta` hold the sizes of the normalized axes in increasing order."""
    x = np.asarray(x, "float64")
    axes, shape = _stats_shape(x, axis)
    mean = x.mean(axis=axes, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mean) / np.sqrt(variance + epsilon)
    if gamma is not None:
        y = y * np.reshape(np.asarray(gamma, "float64"), shape)
    if beta is not None:
        y = y + np.reshape(np.asarray(beta, "float64"), shape)
    return y


def rms_norm(x, gamma=None, axis=-1, epsilon=1e-6):
    """`x / sqrt(mean(x**2) + epsilon) * gamma` over `axis`."""
    x = np.asarray(x, "float64")
    axes, shape = _stats_shape(x, axis)
    y = x / np.sqrt((x**2).mean(axis=axes, keepdims=True) + epsilon)
    if gamma is not None:
        y = y * np.reshape(np.asarray(gamma, "float64"), shape)
    return y


def legacy_layer_norm(x, gamma=None, beta=None, epsilon=1e-14):
    """keras-layer-normalization's math, element by element over the last
    axis: `std = sqrt(var + epsilon)`, `(x - mean) / std * gamma + beta`."""
    x = np.asarray(x, "float64")
    out = np.empty_like(x)
    for index in np.ndindex(x.shape[:-1]):
        row = x[index]
        mean = sum(row) / len(row)
        variance = sum((v - mean) ** 2 for v in row) / len(row)
        std = np.sqrt(variance + epsilon)
        y = (row - mean) / std
        if gamma is not None:
            y = y * gamma
        if beta is not None:
            y = y + beta
        out[index] = y
    return out
