"""Small helpers shared by the transformer tests."""

import numpy as np
from keras.backend import standardize_dtype


def randomize(layer, seed, scale=0.5):
    """Random values for every weight of a built layer (biases and layer
    normalization offsets included), so no term of a formula hides behind a
    zero or a one."""
    rng = np.random.default_rng(seed)
    layer.set_weights(
        [(rng.normal(size=w.shape) * scale).astype(w.dtype) for w in layer.get_weights()]
    )
    for weight in layer.weights:
        if weight.path.endswith("gamma"):
            values = 1.0 + 0.2 * rng.normal(size=weight.shape)
            weight.assign(values.astype(standardize_dtype(weight.dtype)))
