"""kerastack.bert4keras.backend against the real bert4keras 0.11.5.

The references (tests/conformance/fixtures/bert4keras/layers.npz) are what
the real bert4keras computed on tf-keras from the same arrays
(tests/conformance/make_bert4keras_layers.py; the tfkeras lane checks they
still are). Floats are compared within FLOAT32_ATOL (1e-5): the same float32
formulas, so only the order of rounding differs between backends; `-inf`
entries must be `-inf` in the same places.
"""

import math
import os

import numpy as np
import pytest

from kerastack.bert4keras import backend as B
from kerastack.core import keras, ops
from tests.tolerances import FLOAT32_ATOL

FIXTURE = os.path.join(
    os.path.dirname(__file__), "..", "conformance", "fixtures", "bert4keras", "layers.npz"
)


@pytest.fixture(scope="module")
def ref():
    with np.load(FIXTURE) as data:
        return {name: data[name] for name in data.files}


def assert_matches(got, expected, atol=FLOAT32_ATOL):
    got = np.asarray(ops.convert_to_numpy(got))
    assert got.shape == expected.shape
    np.testing.assert_array_equal(np.isinf(got), np.isinf(expected))
    np.testing.assert_array_equal(got[np.isinf(got)], expected[np.isinf(expected)])
    finite = ~np.isinf(expected)
    np.testing.assert_allclose(got[finite], expected[finite], rtol=0, atol=atol)


CASES = {
    "sm_default": lambda r: B.sequence_masking(r["sm_x"], r["sm_mask"]),
    "sm_ninf_axis1": lambda r: B.sequence_masking(r["sm_x"], r["sm_mask"], -np.inf, 1),
    "sm_axes_12": lambda r: B.sequence_masking(r["sm_scores"], r["sm_mask"], -1e4, [1, 2]),
    "sm_axis_m1": lambda r: B.sequence_masking(r["sm_scores"], r["sm_mask"], 7.0, -1),
    "ml_loss": lambda r: B.multilabel_categorical_crossentropy(r["ml_true"], r["ml_pred"]),
    "ml_loss_masked": lambda r: B.multilabel_categorical_crossentropy(
        r["ml_true"], r["ml_pred_masked"]
    ),
    "sml_loss": lambda r: B.sparse_multilabel_categorical_crossentropy(r["sml_true"], r["ml_pred"]),
    "sml_loss_zero": lambda r: B.sparse_multilabel_categorical_crossentropy(
        r["sml_true_zero"], r["ml_pred"], mask_zero=True
    ),
    "gelu_erf": lambda r: B.gelu_erf(r["act_x"]),
    "gelu_tanh": lambda r: B.gelu_tanh(r["act_x"]),
    "pl_out": lambda r: B.piecewise_linear(r["pl_t"], {1000: 1.0, 2000: 0.1}),
    "pl_out_nozero": lambda r: B.piecewise_linear(r["pl_t"], {500: 2.0, 1500: 0.5}, False),
    "rms": lambda r: B.root_mean_square(r["sm_x"], axis=-1),
    "rms_all": lambda r: B.root_mean_square(r["sm_x"]),
    "bg_out": lambda r: B.batch_gather(r["bg_params"], r["bg_indices"]),
    "rope_q_out": lambda r: B.apply_rotary_position_embeddings(
        r["rope_sin"], r["rope_q"], r["rope_k"]
    )[0],
    "rope_k_out": lambda r: B.apply_rotary_position_embeddings(
        r["rope_sin"], r["rope_q"], r["rope_k"]
    )[1],
    "an_softmax": lambda r: B.attention_normalize(r["sm_scores"], r["sm_mask"], -1, "softmax"),
    "an_squared_relu": lambda r: B.attention_normalize(
        r["sm_scores"], r["sm_mask"], -1, "squared_relu"
    ),
    "an_softmax_plus": lambda r: B.attention_normalize(
        r["sm_scores"], r["sm_mask"], -1, "softmax_plus"
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_the_real_bert4keras(ref, name):
    assert_matches(CASES[name](ref), ref[name])


def test_align_shape_matches_the_real_bert4keras(ref):
    shape = tuple(B.align(ref["sm_mask"], [0, 2], 4).shape)
    assert shape == tuple(ref["align_out_shape"].tolist())


def test_multilabel_loss_against_its_formula():
    rng = np.random.default_rng(0)
    y_pred = rng.normal(size=(5, 6)).astype("float32") * 2
    y_true = (rng.random((5, 6)) < 0.4).astype("float32")
    expected = np.log1p(np.sum(np.exp(y_pred) * (1 - y_true), -1)) + np.log1p(
        np.sum(np.exp(-y_pred) * y_true, -1)
    )
    got = ops.convert_to_numpy(B.multilabel_categorical_crossentropy(y_true, y_pred))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_sparse_multilabel_loss_equals_the_dense_one():
    rng = np.random.default_rng(1)
    y_pred = rng.normal(size=(3, 5)).astype("float32")
    positives = np.array([[0, 2], [1, 4], [3, 0]])
    dense = np.zeros((3, 5), "float32")
    np.put_along_axis(dense, positives, 1.0, axis=1)
    sparse = B.sparse_multilabel_categorical_crossentropy(positives, y_pred)
    expected = B.multilabel_categorical_crossentropy(dense, y_pred)
    np.testing.assert_allclose(
        ops.convert_to_numpy(sparse), ops.convert_to_numpy(expected), atol=1e-5
    )


def test_multilabel_loss_gradient_is_finite_with_masked_classes():
    # GlobalPointer hands -inf for masked spans: the loss and its gradient
    # (inside a compiled training step) must stay finite.
    x = keras.Input((4,))
    scores = keras.layers.Dense(4)(x)
    model = keras.Model(x, scores)

    def loss(y_true, y_pred):
        masked = ops.where(ops.arange(4) < 3, y_pred, -math.inf)
        return B.multilabel_categorical_crossentropy(y_true, masked)

    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss)
    y = np.array([[1, 0, 0, 1]] * 8, "float32")  # the masked class marked positive too
    history = model.fit(np.ones((8, 4), "float32"), y, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert all(np.all(np.isfinite(ops.convert_to_numpy(w))) for w in model.weights)


def test_sequence_masking_bias_and_return_mask():
    x = np.zeros((1, 2, 2), "float32")
    tril = np.array([[True, True], [False, True]])
    out, mask = B.sequence_masking(x, None, -1.0, bias=tril, return_mask=True)
    assert ops.convert_to_numpy(out)[0].tolist() == [[0.0, 0.0], [-1.0, 0.0]]
    assert ops.convert_to_numpy(mask).tolist() == tril.tolist()
    added = B.sequence_masking(x, np.array([[1, 0]]), "-inf", axis=1, bias=np.ones((2,), "float32"))
    assert ops.convert_to_numpy(added)[0].tolist() == [[1.0, 1.0], [-np.inf, -np.inf]]
    assert B.sequence_masking(x) is not None  # no mask and no bias: x back


def test_set_gelu_registers_the_chosen_gelu():
    objects = keras.utils.get_custom_objects()
    before = objects.get("gelu", None)
    try:
        B.set_gelu("Tanh")
        assert objects["gelu"] is B.gelu_tanh
        B.set_gelu("erf")
        assert objects["gelu"] is B.gelu_erf
        with pytest.raises(ValueError, match="'erf' or 'tanh'"):
            B.set_gelu("relu")
    finally:
        if before is None:
            objects.pop("gelu", None)
        else:
            objects["gelu"] = before


def test_gelus_agree_with_keras():
    x = np.linspace(-5, 5, 41).astype("float32")
    np.testing.assert_allclose(
        ops.convert_to_numpy(B.gelu_erf(x)),
        ops.convert_to_numpy(keras.activations.gelu(x, approximate=False)),
        atol=1e-6,
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(B.gelu_tanh(x)),
        ops.convert_to_numpy(keras.activations.gelu(x, approximate=True)),
        atol=1e-6,
    )


def test_search_layer_walks_into_nested_models():
    inner_in = keras.Input((3,))
    inner = keras.Model(inner_in, keras.layers.Dense(2, name="deep")(inner_in), name="inner")
    x = keras.Input((3,))
    h = keras.layers.Dense(3, name="first")(x)
    y = keras.layers.Dense(1, name="last")(inner(h))
    assert B.search_layer(y, "first").name == "first"
    assert B.search_layer(y, "deep").name == "deep"
    assert B.search_layer(y, "last").name == "last"
    assert B.search_layer(y, "nowhere") is None


def test_rope_keeps_norms_and_relative_products():
    # A rotation: norms are kept, and q_m . k_n depends on m - n only.
    positions = np.arange(6, dtype="float32")[None]
    codes = B.sinusoidal_embeddings(positions, 8)
    q = np.tile(np.random.default_rng(2).normal(size=(1, 1, 8)).astype("float32"), (1, 6, 1))
    k = np.tile(np.random.default_rng(3).normal(size=(1, 1, 8)).astype("float32"), (1, 6, 1))
    rq, rk = (ops.convert_to_numpy(t) for t in B.apply_rotary_position_embeddings(codes, q, k))
    np.testing.assert_allclose(np.linalg.norm(rq, axis=-1), np.linalg.norm(q, axis=-1), atol=1e-5)
    products = rq[0] @ rk[0].T
    np.testing.assert_allclose(products[1, 0], products[5, 4], atol=1e-4)
    np.testing.assert_allclose(products[0, 2], products[3, 5], atol=1e-4)


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="dim must be even"):
        B.sinusoidal_embeddings(np.zeros((1, 2)), 3)
    with pytest.raises(ValueError, match="method must be"):
        B.attention_normalize(np.zeros((1, 2, 2)), method="sparsemax")
    with pytest.raises(ValueError, match="one shape"):
        B.apply_rotary_position_embeddings(
            np.zeros((1, 2, 4)), np.zeros((1, 2, 4)), np.zeros((1, 3, 4))
        )
    with pytest.raises(ValueError, match="every axis"):
        B.align(np.zeros((2, 3)), [0], 3)


def test_k_namespace():
    K = B.K
    x = np.array([[1.0, -2.0], [3.0, 4.0]], "float32")
    assert K.int_shape(x) == (2, 2) and K.ndim(x) == 2 and K.dtype(K.constant(x)) == "float32"
    assert K.eval(K.argmax(x)).tolist() == [0, 1]  # axis -1, as in Keras 2
    assert K.eval(K.flatten(np.zeros((2, 3, 4)), 1)).shape == (2, 12)
    assert K.eval(K.batch_flatten(np.zeros((2, 3, 4)))).shape == (2, 12)
    assert K.eval(K.concatenate([x, x])).shape == (2, 4)
    assert K.eval(K.repeat_elements(x, 2, 1)).tolist()[0] == [1.0, 1.0, -2.0, -2.0]
    assert K.eval(K.where(np.array([[1], [0]]), x, -1.0)).tolist() == [[1.0, -2.0], [-1.0, -1.0]]
    np.testing.assert_allclose(K.eval(K.logsumexp(x, 1)), np.log(np.exp(x).sum(1)), atol=1e-6)
    variable = K.variable(np.zeros(2))
    K.set_value(variable, np.ones(2))
    assert K.get_value(variable).tolist() == [1.0, 1.0]
    assert K.epsilon() == keras.config.epsilon()


def test_k_dot_is_numpy_dot_as_in_keras_2():
    K = B.K
    rng = np.random.default_rng(0)
    cases = [((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((2, 3, 4), (6, 4, 5)), ((3, 4), (4,))]
    for x_shape, y_shape in cases:
        x = rng.normal(size=x_shape).astype("float32")
        y = rng.normal(size=y_shape).astype("float32")
        np.testing.assert_allclose(K.eval(K.dot(x, y)), np.dot(x, y), atol=FLOAT32_ATOL)
    np.testing.assert_array_equal(K.eval(K.eye(3)), np.eye(3))
