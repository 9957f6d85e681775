"""The real keras-bert family (on tf-keras, the tfkeras lane) still gives
what tests/conformance/fixtures/keras_bert/layers.npz records: the recorder
(tests/conformance/make_keras_bert_layers.py) runs again here and must give
it. And kerastack's compat layers of keras-self-attention, keras-multi-head,
keras-pos-embd and keras-layer-normalization, on this Keras 2, take Keras 2's
own `weights=[...]` (passed through by kerastack.core.InitialWeightsMixin)
and give the same outputs.

Inputs and weights must be identical (made by the same seeded code).
Outputs of the real layers are compared within 1e-6: the same program on the
same library, so only the float32 kernels TensorFlow picks for this CPU may
differ; masks must be equal. kerastack's layers compute in another order:
FLOAT32_ATOL / FLOAT32_RTOL (tests/tolerances.py).
"""

import functools
import importlib
import os

import numpy as np
import pytest

if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
    pytest.skip(
        reason="the real keras-bert runs on tf-keras: the tfkeras lane", allow_module_level=True
    )

keras_bert = pytest.importorskip(
    "keras_bert", reason="the real keras-bert runs on tf-keras: the tfkeras lane"
)

from tests.conformance import make_keras_bert_layers as references  # noqa: E402
from tests.tolerances import FLOAT32_ATOL, FLOAT32_RTOL  # noqa: E402

ATOL = 1e-6


@pytest.fixture(scope="module")
def recorded():
    return references.load()


@pytest.fixture(scope="module")
def computed():
    return references.compute()


def test_same_names(recorded, computed):
    assert sorted(recorded) == sorted(computed)


def test_inputs_and_weights_are_identical(recorded, computed):
    for name, value in references.inputs().items():
        np.testing.assert_array_equal(recorded[f"in/{name}"], value, err_msg=name)
    for name, value in recorded.items():
        if "/w" in name:
            np.testing.assert_array_equal(computed[name], value, err_msg=name)


def test_outputs_and_masks_match_the_real_layers(recorded, computed):
    for name, expected in recorded.items():
        got = computed[name]
        assert got.shape == expected.shape and got.dtype == expected.dtype, name
        if expected.dtype.kind != "f":
            np.testing.assert_array_equal(got, expected, err_msg=name)
        else:
            np.testing.assert_allclose(got, expected, rtol=0, atol=ATOL, err_msg=name)


# kerastack's compat layers on this Keras 2, the cases with one plain input.
KERASTACK_CASES = [
    name
    for name, case in references.CASES.items()
    if case.family in ("attention", "multihead", "position", "layernorm")
    and isinstance(case.inputs, str)
    and case.mask is None
    and not (case.embed or case.functional)
]


def _weights(recorded, name):
    weights = []
    while f"{name}/w{len(weights)}" in recorded:
        weights.append(recorded[f"{name}/w{len(weights)}"])
    return weights


@pytest.mark.parametrize("name", KERASTACK_CASES)
def test_kerastack_compat_takes_keras2_weights_argument(recorded, name):
    import tensorflow as tf

    from kerastack.core import keras

    case = references.CASES[name]
    module = importlib.import_module(f"kerastack.{case.family}.compat")
    weights = _weights(recorded, name)
    names = {"keras": keras, "gelu": importlib.import_module("keras_transformer").gelu}
    for cls in module.__all__:
        if cls[:1].isupper():
            names[cls] = functools.partial(getattr(module, cls), weights=weights)
    layer = case.make(names)
    outputs = layer(tf.constant(recorded[f"in/{case.inputs}"]))
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    if case.losses:  # the attention regularizer's loss, recorded as a last output
        outputs = [*outputs, sum(float(np.asarray(loss)) for loss in layer.losses)]
    assert len(outputs) == len([k for k in recorded if k.startswith(f"{name}/o")])
    for index, output in enumerate(outputs):
        np.testing.assert_allclose(
            np.asarray(output),
            recorded[f"{name}/o{index}"],
            atol=FLOAT32_ATOL,
            rtol=FLOAT32_RTOL,
            err_msg=f"{name} output {index}",
        )
    for got, want in zip(layer.get_weights(), weights, strict=True):
        np.testing.assert_array_equal(got, want)
