"""Shared checks of Keras 2's `weights=[...]` constructor argument
(`kerastack.core.InitialWeightsMixin`) on a compat layer, Keras 3 lanes.

`check_initial_weights(make_layer, inputs)`: `make_layer(**kwargs)` makes
the layer (`weights=` among the kwargs), `inputs` is what it is called on.
"""

import functools

import numpy as np
import pytest

from tests.testing import to_numpy


def _flat(outputs):
    return [to_numpy(item) for item in (outputs if isinstance(outputs, list) else [outputs])]


def _counting_call(monkeypatch, cls):
    """Count calls of `cls.call` (the signature Keras reads stays the same)."""
    calls = []
    original = cls.call

    @functools.wraps(original)
    def counting(self, *args, **kwargs):
        calls.append(self.name)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, "call", counting)
    return calls


def given_weights(make_layer, inputs, seed=0):
    """Seeded arrays shaped as `make_layer()`'s weights (as `get_weights` lists them)."""
    layer = make_layer()
    layer(*inputs)
    rng = np.random.default_rng(seed)
    return [(0.5 * rng.normal(size=np.shape(w))).astype("float32") for w in layer.get_weights()]


def check_initial_weights(make_layer, inputs, monkeypatch):
    """`weights=` sets the arrays before the first call; the output equals
    the one `set_weights` gives; bad counts and shapes are ValueErrors
    before the layer computes anything; `get_config` has no `weights`."""
    weights = given_weights(make_layer, inputs)
    reference = make_layer()
    reference(*inputs)
    reference.set_weights(weights)
    expected = _flat(reference(*inputs))

    layer = make_layer(weights=weights)
    outputs = _flat(layer(*inputs))
    for got, want in zip(layer.get_weights(), weights, strict=True):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(outputs, expected, strict=True):
        np.testing.assert_array_equal(got, want)

    config = layer.get_config()
    assert "weights" not in config
    again = type(layer).from_config(config)
    assert again.get_config() == config

    cls = type(layer)
    calls = _counting_call(monkeypatch, cls)
    bad_count = make_layer(weights=weights + [np.zeros((2,), "float32")])
    with pytest.raises(ValueError, match=rf"'{bad_count.name}'.*{len(weights) + 1} arrays"):
        bad_count(*inputs)
    assert calls == []
    if weights:
        bad_shape = [*weights[:-1], np.zeros(weights[-1].shape + (2,), "float32")]
        layer = make_layer(weights=bad_shape)
        with pytest.raises(ValueError, match=rf"'{layer.name}'.*weight {len(weights) - 1}: "):
            layer(*inputs)
        assert calls == []
        if len(weights) > 1:  # nothing was set: the first array is not the given one
            assert not np.array_equal(layer.get_weights()[0], weights[0])
        with pytest.raises(ValueError, match="weights=\\[...\\]"):  # every call, not once
            layer(*inputs)
        assert calls == []
    return weights
