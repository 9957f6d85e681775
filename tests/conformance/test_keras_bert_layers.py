"""kerastack's compat layers against the keras-bert family's, side by side:
each case of tests/conformance/make_keras_bert_layers.py runs on the compat
class with the weights recorded from the real old layer (set with
`set_weights`, in the old order and shapes) and must give the old outputs
and output masks (tests/conformance/fixtures/keras_bert/layers.npz, recorded
on tf-keras). Keras 3 lanes.

Tolerance: FLOAT32_ATOL / FLOAT32_RTOL (1e-5, tests/tolerances.py): the same
float32 arithmetic in another order (TensorFlow's kernels when recorded, any
backend's here); the old `SeqWeightedAttention`'s 1e-7 in its softmax
denominator stays far inside it. Masks must be equal.

Padding, where kerastack masks it in full on purpose (the compat modules'
docstrings): the cases with a `cut` compare the first row (no padding) with
the recording, the second row's real positions with what the old layer gives
on that row cut to its real length (`t<i>`: keras-self-attention's
`SeqSelfAttention` let real tokens attend to padded ones, kerastack's does
not), and its padded query positions with zeros (kerastack's full masking)
or with the old layer's values (the old layers let padded queries attend;
a compat layer may keep that, as keras-multi-head's is being changed to).

A case known to differ is an xfail whose reason says what differs
(`KNOWN_DIFFERENCES`); a class a compat module does not have yet is an
xfail naming it.
"""

import functools
import importlib

import keras
import numpy as np
import pytest

from tests.conformance import make_keras_bert_layers as references
from tests.tolerances import FLOAT32_ATOL, FLOAT32_RTOL

CLASSES = {
    "attention": (
        "SeqSelfAttention",
        "SeqWeightedAttention",
        "ScaledDotProductAttention",
        "ResidualScaledDotProductAttention",
    ),
    "multihead": ("MultiHeadAttention", "MultiHead"),
    "position": ("PositionEmbedding", "TrigPosEmbedding"),
    "layernorm": ("LayerNormalization",),
    "transformer": ("FeedForward", "EmbeddingRet", "EmbeddingSim", "gelu"),
    "bert": (
        "TokenEmbedding",
        "EmbeddingSimilarity",
        "Masked",
        "Extract",
        "TaskEmbedding",
        "MaskedConv1D",
        "MaskedGlobalMaxPool1D",
    ),
}

# Known differences of a compat module from the old layer: case -> what
# differs (an xfail, not strict: remove the case once the module gives the
# old result). None now: EmbeddingSim's softmax, TokenEmbedding and
# EmbeddingSimilarity came in December 2026.
KNOWN_DIFFERENCES = {}


def compat_names(family):
    """The old names on the compat module of `family` (missing ones absent)."""
    module = importlib.import_module(f"kerastack.{family}.compat")
    names = {
        "keras": keras,
        "tensor": keras.ops.convert_to_tensor,
        "numpy": lambda x: np.asarray(keras.ops.convert_to_numpy(x)),
    }
    names.update({name: getattr(module, name) for name in CLASSES[family] if hasattr(module, name)})
    if "gelu" not in names:  # keras-transformer's, from its compat module
        names["gelu"] = importlib.import_module("kerastack.transformer.compat").gelu
    return names


@pytest.fixture(scope="module")
def recorded():
    return references.load()


def _inputs(recorded):
    return {key[len("in/") :]: value for key, value in recorded.items() if key.startswith("in/")}


def _case_keys(recorded, name, kind):
    count = 0
    while f"{name}/{kind}{count}" in recorded:
        count += 1
    return [recorded[f"{name}/{kind}{index}"] for index in range(count)]


def _params():
    params = []
    for name in references.CASES:
        marks = []
        if name in KNOWN_DIFFERENCES:
            marks.append(pytest.mark.xfail(reason=KNOWN_DIFFERENCES[name], strict=False))
        params.append(pytest.param(name, marks=marks, id=name))
    return params


def test_every_case_is_recorded(recorded):
    recorded_cases = {key.split("/")[0] for key in recorded} - {"in"}
    assert recorded_cases == set(references.CASES)
    for name, value in references.inputs().items():
        np.testing.assert_array_equal(recorded[f"in/{name}"], value, err_msg=name)


# (row, step) of the queries that may see no key (padded, and every key in
# their window padded too), per case: documented in kerastack.attention.compat.
FULLY_MASKED = {"sa_masked_width3": [(1, 4)]}


def _close(got, want, name):
    np.testing.assert_allclose(got, want, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL, err_msg=name)


@pytest.mark.parametrize("name", _params())
def test_compat_layer_gives_the_old_outputs(recorded, name):
    case = references.CASES[name]
    names = compat_names(case.family)
    try:
        case.make(names)
    except KeyError as missing:  # a class the compat module does not have yet
        pytest.xfail(f"kerastack.{case.family}.compat has no {missing.args[0]} yet")
    weights = _case_keys(recorded, name, "w")
    _, outputs, masks = references.run(names, name, _inputs(recorded), weights=weights)
    expected = _case_keys(recorded, name, "o")
    assert len(outputs) == len(expected), f"{name}: {len(outputs)} outputs, not {len(expected)}"
    for index, (got, want) in enumerate(zip(outputs, expected, strict=True)):
        assert got.shape == want.shape, f"{name} output {index}: {got.shape} != {want.shape}"
        label = f"{name} output {index}"
        # Every output at every position, padding included: the compat layers
        # mask as the old ones did; but where a query may see no key at all
        # (all masked), the old layer's -10,000 penalties cancelled out and
        # it attended to every key, and the compat one gives zeros.
        for row, step in FULLY_MASKED.get(name, []) if index == 0 else []:
            np.testing.assert_array_equal(got[row, step], 0.0, err_msg=label)
            got, want = got.copy(), want.copy()
            got[row, step] = want[row, step] = 0.0
        _close(got, want, label)
    if masks is None:
        return
    present = recorded[f"{name}/mask_present"]
    assert [m is not None for m in masks] == list(present), f"{name}: which outputs have masks"
    for index, mask in enumerate(masks):
        if mask is not None:
            np.testing.assert_array_equal(
                mask.astype(bool), recorded[f"{name}/m{index}"], err_msg=f"{name} mask {index}"
            )


# Cases of the compat modules with `weights=` (kerastack.core.InitialWeightsMixin)
# called on one plain input.
WEIGHTS_ARGUMENT_CASES = [
    name
    for name, case in references.CASES.items()
    if case.family in ("attention", "multihead", "position", "layernorm")
    and isinstance(case.inputs, str)
    and case.mask is None
    and not (case.embed or case.functional)
]


@pytest.mark.parametrize("name", WEIGHTS_ARGUMENT_CASES)
def test_weights_argument_gives_the_old_outputs(recorded, name):
    """Keras 2's `weights=[...]` on the compat layers of keras-self-attention,
    keras-multi-head, keras-pos-embd and keras-layer-normalization: the
    recorded weights given at construction give the recorded outputs."""
    case = references.CASES[name]
    names = compat_names(case.family)
    weights = _case_keys(recorded, name, "w")
    for cls in CLASSES[case.family]:
        if cls in names:
            names[cls] = functools.partial(names[cls], weights=weights)
    layer = case.make(names)
    outputs = layer(keras.ops.convert_to_tensor(recorded[f"in/{case.inputs}"]))
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    if case.losses:  # the attention regularizer's loss, recorded as a last output
        outputs = [*outputs, sum(float(keras.ops.convert_to_numpy(loss)) for loss in layer.losses)]
    expected = _case_keys(recorded, name, "o")
    for index, (got, want) in enumerate(zip(outputs, expected, strict=True)):
        got = got if isinstance(got, float) else keras.ops.convert_to_numpy(got)
        _close(np.asarray(got), want, f"{name} output {index}")
