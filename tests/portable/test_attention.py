"""kerastack.attention on every lane: `SelfAttention`, `WeightedAttention`,
`ScaledDotProductAttention` and the keras-self-attention names in `compat`,
against the NumPy references and golden values, with padding, causality and
empty-row properties, and `.h5` save/load.

Letters: B batch, T query length, S key length, N heads, D width, U units.
"""

import numpy as np
import pytest

from kerastack.attention import ScaledDotProductAttention, SelfAttention, WeightedAttention, compat
from kerastack.core import keras
from tests import goldens, reference
from tests.portable.helpers import (
    KERAS_ARRAY_WARNING,
    SET_BY_TEST,
    assert_close,
    assert_saved_and_loaded,
    future_changed,
    model_on,
    normal,
    padding_mask,
    predict,
    random_weights,
    run,
    with_garbage,
)
from tests.tolerances import GOLDEN_ATOL

pytestmark = KERAS_ARRAY_WARNING


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def self_attention(**kwargs):
    return SelfAttention(kernel_initializer=SET_BY_TEST, **kwargs)


def self_attention_weights(layer):
    """A built `SelfAttention`'s weights under their tests/reference.py names,
    read sublayer by sublayer with `get_weights`."""
    if layer.attention_type == "additive":
        (wt,) = layer.query_dense.get_weights()
        key = layer.key_dense.get_weights()  # [W_x] or [W_x, b_h]
        score = layer.score_dense.get_weights()  # [w_a] or [w_a, b_a]
        weights = {"Wt": wt, "Wx": key[0], "Wa": score[0]}
        if len(key) == 2:
            weights["bh"] = key[1]
        if len(score) == 2:
            weights["ba"] = score[1]
        return weights
    (wa,) = layer.query_dense.get_weights()
    weights = {"Wa": wa}
    biases = [w for w in layer.get_weights() if w.shape == (1,)]  # b_a, on the layer
    if biases:
        weights["ba"] = biases[0]
    return weights


# -- SelfAttention ----------------------------------------------------------------


@pytest.mark.parametrize(
    "attention_type, kwargs",
    [
        ("additive", {}),
        ("additive", {"attention_width": 3, "attention_activation": "sigmoid"}),
        ("additive", {"causal": True, "attention_width": 2}),
        ("multiplicative", {"causal": True}),
        ("multiplicative", {"attention_width": 3}),
    ],
)
def test_self_attention_parity_with_padding(attention_type, kwargs):
    # Multiplicative scores without an activation take the fused kernel unless
    # the scores are asked for: both paths are checked.
    x = normal(1, 2, 5, 3)
    mask = padding_mask([5, 3], 5)
    layer = self_attention(units=4, attention_type=attention_type, **kwargs)

    def fn(x, mask):
        # The call returning scores comes first: Keras 3.15's functional
        # model loses the second output of a shared layer's later call.
        explicit, scores = layer(x, mask=mask, return_attention_scores=True)
        return [layer(x, mask=mask), explicit, scores]

    model = model_on(fn, x, mask)
    random_weights(layer, 1)
    outputs, explicit, scores = predict(model, x, mask)
    expected, expected_scores = reference.self_attention(
        x,
        self_attention_weights(layer),
        attention_type,
        attention_width=kwargs.get("attention_width"),
        causal=kwargs.get("causal", False),
        activation=sigmoid if "attention_activation" in kwargs else None,
        mask=mask,
    )
    assert_close(outputs, expected)
    assert_close(explicit, expected)
    assert_close(scores, expected_scores)


def test_self_attention_attention_mask():
    x = normal(2, 2, 5, 3)
    mask = padding_mask([5, 4], 5)
    attention_mask = np.random.default_rng(2).random((2, 5, 5)) < 0.7
    attention_mask[0, 2] = False  # a real query with nothing to attend to
    layer = self_attention(attention_type="multiplicative", attention_width=3)
    model = model_on(lambda x, m, a: layer(x, mask=m, attention_mask=a), x, mask, attention_mask)
    random_weights(layer, 2)
    outputs = predict(model, x, mask, attention_mask)
    expected, _ = reference.self_attention(
        x,
        self_attention_weights(layer),
        "multiplicative",
        attention_width=3,
        mask=mask,
        attention_mask=attention_mask,
    )
    assert_close(outputs, expected)
    np.testing.assert_array_equal(outputs[0, 2], 0.0)


def test_self_attention_golden_multiplicative():
    # The fused path (no scores, no activation), the explicit one, and a
    # sigmoid on the scores.
    plain = self_attention(attention_type="multiplicative")
    with_sigmoid = self_attention(attention_type="multiplicative", attention_activation="sigmoid")

    def fn(x):
        explicit, scores = plain(x, return_attention_scores=True)  # first
        return [plain(x), explicit, scores, with_sigmoid(x)]

    model = model_on(fn, goldens.ONE_HOT)
    for layer in (plain, with_sigmoid):
        layer.query_dense.set_weights([goldens.SELF_ATTENTION_MULTIPLICATIVE_W])  # b_a stays 0
    fused, explicit, scores, sigmoid_outputs = predict(model, goldens.ONE_HOT)
    for actual in (fused[0], explicit[0], scores[0]):
        assert_close(actual, goldens.SELF_ATTENTION_MULTIPLICATIVE_OUTPUTS, atol=GOLDEN_ATOL)
    assert_close(
        sigmoid_outputs[0], goldens.SELF_ATTENTION_MULTIPLICATIVE_SIGMOID_OUTPUTS, atol=GOLDEN_ATOL
    )


def test_self_attention_golden_additive():
    layer = self_attention(units=1)
    model = model_on(lambda x: list(layer(x, return_attention_scores=True)), goldens.ONE_HOT)
    weights = goldens.SELF_ATTENTION_ADDITIVE_WEIGHTS
    layer.query_dense.set_weights([weights["Wt"]])
    layer.key_dense.set_weights([weights["Wx"], weights["bh"]])
    layer.score_dense.set_weights([weights["Wa"], weights["ba"]])
    outputs, scores = predict(model, goldens.ONE_HOT)
    assert_close(outputs[0], goldens.SELF_ATTENTION_ADDITIVE_OUTPUTS, atol=GOLDEN_ATOL)
    assert_close(scores[0], goldens.SELF_ATTENTION_ADDITIVE_OUTPUTS, atol=GOLDEN_ATOL)


def both_types(**kwargs):
    """An additive and a multiplicative `SelfAttention`, for one model."""
    return [
        self_attention(units=4, attention_type=kind, **kwargs)
        for kind in ("additive", "multiplicative")
    ]


def test_self_attention_window_of_one_is_the_identity():
    # Each position attends only to itself, with weight 1, whatever the weights.
    x = normal(3, 2, 5, 3)
    layers = both_types(attention_width=1, causal=True)
    model = model_on(lambda x: [layer(x) for layer in layers], x)
    random_weights(model, 3)
    for outputs in predict(model, x):
        assert_close(outputs, x, atol=GOLDEN_ATOL)


def test_self_attention_padding_never_changes_real_positions():
    # Rows 0-1 and rows 2-3 differ only in padded content.
    x = normal(4, 2, 5, 3)
    mask = padding_mask([3, 1], 5)
    batch = np.concatenate([x, with_garbage(x, mask, 4)])
    masks = np.concatenate([mask, mask])
    layers = both_types(attention_activation="sigmoid")

    def fn(x, m):
        return [t for layer in layers for t in layer(x, mask=m, return_attention_scores=True)]

    model = model_on(fn, x, mask)
    random_weights(model, 4)
    results = predict(model, batch, masks)
    for outputs, scores in (results[:2], results[2:]):
        assert_close(outputs[2:][masks[2:]], outputs[:2][mask], atol=1e-6, rtol=1e-5)
        np.testing.assert_array_equal(outputs[~masks], 0.0)  # padded queries
        np.testing.assert_array_equal(scores[~masks], 0.0)
        np.testing.assert_array_equal(scores.transpose(0, 2, 1)[~masks], 0.0)  # padded keys
        assert_close(scores.sum(-1)[masks], 1.0, atol=1e-6)


def test_self_attention_future_never_changes_the_past():
    # Row 0 is the sequence; row t is it with positions t.. changed. Without a
    # mask, the multiplicative layer's causality is the fused kernel's.
    x = normal(5, 1, 5, 3)
    batch = np.concatenate([x] + [future_changed(x, cut, 5 + cut) for cut in range(1, 5)])
    layers = both_types(causal=True)
    model = model_on(lambda x: [layer(x) for layer in layers], batch)
    random_weights(model, 5)
    for outputs in predict(model, batch):
        for cut in range(1, 5):
            assert_close(outputs[cut, :cut], outputs[0, :cut], atol=1e-6, rtol=1e-6)
            assert not np.allclose(outputs[cut, cut:], outputs[0, cut:])


def test_self_attention_fully_padded_sequence_gives_zeros():
    # The fused path (multiplicative, causal) and the explicit one (sigmoid).
    x = normal(6, 2, 4, 3)
    mask = padding_mask([0, 3], 4)
    layers = [
        self_attention(attention_type="multiplicative", causal=True),
        self_attention(units=4, attention_activation="sigmoid"),
    ]
    model = model_on(lambda x, m: [layer(x, mask=m) for layer in layers], x, mask)
    random_weights(model, 6)
    for outputs in predict(model, x, mask):
        assert np.all(np.isfinite(outputs))
        np.testing.assert_array_equal(outputs[0], 0.0)
        np.testing.assert_array_equal(outputs[1, 3], 0.0)
        assert np.all(np.abs(outputs[1, :3]).sum(-1) > 0)


# -- WeightedAttention --------------------------------------------------------------


def test_weighted_attention_parity_with_padding():
    # Batch 2 is all padding: zeros, never NaN.
    x = normal(7, 3, 5, 3)
    mask = padding_mask([5, 2, 0], 5)
    layer = WeightedAttention(kernel_initializer=SET_BY_TEST)
    model = model_on(lambda x, m: list(layer(x, mask=m, return_attention_scores=True)), x, mask)
    w, b = random_weights(layer, 7)
    outputs, scores = predict(model, x, mask)
    expected, expected_scores = reference.weighted_attention(x, w, b, mask=mask)
    assert_close(outputs, expected)
    assert_close(scores, expected_scores)
    np.testing.assert_array_equal(outputs[2], 0.0)
    assert_close(scores.sum(-1), [1.0, 1.0, 0.0], atol=1e-6)


def test_weighted_attention_golden():
    x = np.concatenate([goldens.ONE_HOT, goldens.ONE_HOT])
    mask = np.concatenate([np.ones((1, 2), bool), goldens.WEIGHTED_ATTENTION_MASK])
    layer = WeightedAttention(kernel_initializer=SET_BY_TEST)
    model = model_on(lambda x, m: list(layer(x, mask=m, return_attention_scores=True)), x, mask)
    layer.score_dense.set_weights([goldens.WEIGHTED_ATTENTION_W, np.zeros(1)])
    outputs, scores = predict(model, x, mask)
    expected = np.concatenate(
        [goldens.WEIGHTED_ATTENTION_OUTPUTS, goldens.WEIGHTED_ATTENTION_MASKED_OUTPUTS]
    )
    assert_close(outputs, expected, atol=GOLDEN_ATOL)
    assert_close(scores, expected, atol=GOLDEN_ATOL)  # one-hot inputs: outputs = weights


def test_weighted_attention_padding_never_changes_the_output():
    x = normal(8, 2, 5, 3)
    mask = padding_mask([4, 1], 5)
    layer = WeightedAttention(kernel_initializer=SET_BY_TEST)
    model = model_on(lambda x, m: layer(x, mask=m), x, mask)
    random_weights(layer, 8)
    outputs = predict(model, np.concatenate([x, with_garbage(x, mask, 8)]), np.tile(mask, (2, 1)))
    assert_close(outputs[2:], outputs[:2], atol=1e-6, rtol=1e-5)


# -- ScaledDotProductAttention --------------------------------------------------------


def qkv(seed, batch=2, query_length=5, key_length=5, heads=None, width=3, value_width=None):
    middle = () if heads is None else (heads,)
    rng = np.random.default_rng(seed)
    shapes = [
        (batch, query_length, *middle, width),
        (batch, key_length, *middle, width),
        (batch, key_length, *middle, value_width or width),
    ]
    return [rng.normal(size=shape).astype("float32") for shape in shapes]


@pytest.mark.parametrize("heads, causal", [(None, True), (2, False)], ids=["rank3-causal", "rank4"])
def test_sdpa_parity_with_masks(heads, causal):
    q, k, v = qkv(9, heads=heads)
    query_mask = padding_mask([5, 3], 5)
    key_mask = padding_mask([4, 2], 5)
    shape = (2, 5, 5) if heads is None else (2, 2, 5, 5)
    attention_mask = np.random.default_rng(9).random(shape) < 0.7
    attention_mask[..., 1, :] = False  # queries with nothing to attend to
    layer = ScaledDotProductAttention(causal=causal)

    def fn(q, k, v, query_mask, key_mask, attention_mask):
        kwargs = {
            "key": k,
            "query_mask": query_mask,
            "value_mask": key_mask,
            "attention_mask": attention_mask,
        }
        explicit, scores = layer(q, v, return_attention_scores=True, **kwargs)  # first
        return [layer(q, v, **kwargs), explicit, scores]

    outputs, explicit, scores = run(fn, q, k, v, query_mask, key_mask, attention_mask)
    allowed = query_mask[:, :, None] & key_mask[:, None, :]
    if causal:
        allowed = allowed & np.tril(np.ones((5, 5), bool))
    if heads is not None:
        allowed = allowed[:, None]
    expected, expected_scores = reference.scaled_dot_product_attention(
        q, k, v, allowed & attention_mask
    )
    assert_close(outputs, expected)
    assert_close(explicit, expected)
    assert_close(scores, expected_scores)
    assert np.all(np.isfinite(outputs))


def test_sdpa_cross_attention_scale_and_value_width():
    # T != S, an explicit scale, values wider than queries (explicit path).
    q, k, v = qkv(10, query_length=3, key_length=6, heads=2, value_width=4)
    key_mask = padding_mask([6, 4], 6)
    layer = ScaledDotProductAttention(scale=0.4)
    outputs = run(lambda q, k, v, m: layer(q, v, key=k, key_mask=m), q, k, v, key_mask)
    expected, _ = reference.scaled_dot_product_attention(
        q, k, v, key_mask[:, None, None, :], scale=0.4
    )
    assert_close(outputs, expected)


def test_sdpa_golden_one_hot():
    layer = ScaledDotProductAttention()

    def fn(q, v):
        explicit, scores = layer(q, v, key=q, return_attention_scores=True)  # first
        return [layer(q, v, key=q), explicit, scores]

    fused, explicit, scores = run(fn, goldens.ONE_HOT, goldens.SDPA_VALUE)
    assert_close(fused[0], goldens.SDPA_OUTPUTS, atol=GOLDEN_ATOL)
    assert_close(explicit[0], goldens.SDPA_OUTPUTS, atol=GOLDEN_ATOL)
    assert_close(scores[0], goldens.SDPA_WEIGHTS, atol=GOLDEN_ATOL)


def test_sdpa_future_never_changes_the_past():
    # Without masks causality is left to the fused kernel; rank 3 and 4.
    def rows(heads, seed):
        q, k, v = qkv(seed, batch=1, query_length=6, key_length=6, heads=heads)
        changed = [
            [future_changed(a, cut, seed + 3 * cut + i) for i, a in enumerate((q, k, v))]
            for cut in range(1, 6)
        ]
        return [np.concatenate(parts) for parts in zip((q, k, v), *changed, strict=True)]

    layer = ScaledDotProductAttention(causal=True)

    def fn(q3, k3, v3, q4, k4, v4):
        return [layer(q3, v3, key=k3), layer(q4, v4, key=k4)]

    for outputs in run(fn, *rows(None, 11), *rows(2, 12)):
        for cut in range(1, 6):
            assert_close(outputs[cut, :cut], outputs[0, :cut], atol=1e-6, rtol=1e-6)


# -- keras-self-attention's published sample, and compat ----------------------------


def test_keras_self_attention_sample():
    # q = k = v = embedded ids (mask_zero=True), through the modern layer and
    # the compat one on one tensor and on a [q, k, v] list.
    ids = keras.Input(shape=goldens.SAMPLE_IDS.shape[1:], dtype="int32")
    embedding = keras.layers.Embedding(4, 5, mask_zero=True, embeddings_initializer=SET_BY_TEST)
    x = embedding(ids)
    outputs = [
        ScaledDotProductAttention()(x, x),
        compat.ScaledDotProductAttention()(x),
        compat.ScaledDotProductAttention()([x, x, x]),
    ]
    model = keras.Model(ids, outputs)
    embedding.set_weights([goldens.SAMPLE_TABLE])
    modern, *old = predict(model, goldens.SAMPLE_IDS)
    for actual in (modern, *old):
        assert_close(actual[0, 2], goldens.SAMPLE_ROW_2, atol=GOLDEN_ATOL, rtol=0)
        assert_close(actual[0, 0], actual[0, 3], atol=GOLDEN_ATOL, rtol=0)
    np.testing.assert_array_equal(modern[0, 4], 0.0)  # the padded query: zeros
    x = goldens.SAMPLE_TABLE[goldens.SAMPLE_IDS]
    real = np.broadcast_to((goldens.SAMPLE_IDS != 0)[:, None, :], (1, 5, 5))
    expected, _ = reference.scaled_dot_product_attention(x, x, x, real)
    for actual in old:  # keras-self-attention's: the padded query attends to the real keys
        assert_close(actual[0, 4], expected[0, 4], atol=GOLDEN_ATOL, rtol=0)


def old_order_weights(seed, attention_type, features=3, units=4):
    """Random weights in keras-self-attention's order, and the same as a
    tests/reference.py dict."""
    if attention_type == "additive":
        names = ["Wt", "Wx", "bh", "Wa", "ba"]
        shapes = [(features, units), (features, units), (units,), (units, 1), (1,)]
    else:
        names, shapes = ["Wa", "ba"], [(features, features), (1,)]
    rng = np.random.default_rng(seed)
    values = [(rng.normal(size=shape) * 0.5).astype("float32") for shape in shapes]
    return values, dict(zip(names, values, strict=True))


@pytest.mark.parametrize(
    "attention_type, kwargs",
    [
        ("additive", {"history_only": True, "attention_width": 3}),
        ("multiplicative", {"attention_activation": "sigmoid"}),
    ],
)
def test_seq_self_attention_old_weight_order(attention_type, kwargs):
    # return_attention=True: every call returns [outputs, attention].
    x = normal(12, 2, 6, 3)
    mask = padding_mask([6, 4], 6)
    layer = compat.SeqSelfAttention(
        units=4,
        attention_type=attention_type,
        return_attention=True,
        kernel_initializer=SET_BY_TEST,
        **kwargs,
    )
    model = model_on(lambda x, m: layer(x, mask=m), x, mask)
    values, weights = old_order_weights(12, attention_type)
    layer.set_weights(values)
    for got, wanted in zip(layer.get_weights(), values, strict=True):
        np.testing.assert_array_equal(got, wanted)  # get_weights: the old order too
    outputs, scores = predict(model, x, mask)
    expected, expected_scores = reference.self_attention(
        x,
        weights,
        attention_type,
        attention_width=kwargs.get("attention_width"),
        causal=kwargs.get("history_only", False),
        activation=sigmoid if "attention_activation" in kwargs else None,
        attention_mask=mask[:, :, None] | mask[:, None, :],  # only pad-to-pad pairs, as before
    )
    assert_close(outputs, expected)
    assert_close(scores, expected_scores)


def test_seq_weighted_attention_return_attention():
    x = normal(13, 3, 5, 3)
    mask = padding_mask([5, 2, 0], 5)
    layer = compat.SeqWeightedAttention(return_attention=True, kernel_initializer=SET_BY_TEST)
    model = model_on(lambda x, m: layer(x, mask=m), x, mask)
    w, b = normal(13, 3, 1), normal(14, 1)
    layer.set_weights([w, b])  # the old order: [W, b]
    outputs, scores = predict(model, x, mask)
    expected, expected_scores = reference.weighted_attention(x, w, b, mask=mask)
    assert_close(outputs, expected)
    assert_close(scores, expected_scores)


def test_compat_sdpa_qkv_list_with_masks_and_history_only():
    # A list of masks is read as [query_mask, key_mask, value_mask].
    q, k, v = qkv(15, query_length=5, key_length=5, value_width=4)
    query_mask = padding_mask([5, 3], 5)
    key_mask = padding_mask([4, 2], 5)
    layer = compat.ScaledDotProductAttention(history_only=True, return_attention=True)

    def fn(q, k, v, query_mask, key_mask):
        return layer([q, k, v], mask=[query_mask, key_mask, None])

    outputs, scores = run(fn, q, k, v, query_mask, key_mask)
    # As keras-self-attention: the key mask only (a padded query attends to the real keys).
    allowed = key_mask[:, None, :] & np.tril(np.ones((5, 5), bool))
    expected, expected_scores = reference.scaled_dot_product_attention(q, k, v, allowed)
    assert_close(outputs, expected)
    assert_close(scores, expected_scores)


# -- saving ---------------------------------------------------------------------------


def saved_self_attention():
    x, mask = normal(16, 2, 5, 3), padding_mask([5, 3], 5)
    layer = self_attention(
        units=4, attention_width=3, attention_activation="sigmoid", name="attention"
    )
    dense = keras.layers.Dense(2, kernel_initializer=SET_BY_TEST)
    model = model_on(lambda x, m: dense(layer(x, mask=m)), x, mask)
    return model, (x, mask), [("attention", SelfAttention)]


def saved_weighted_attention():
    x, mask = normal(17, 3, 5, 3), padding_mask([5, 2, 0], 5)
    layer = WeightedAttention(use_bias=False, kernel_initializer=SET_BY_TEST, name="attention")
    model = model_on(lambda x, m: layer(x, mask=m), x, mask)
    return model, (x, mask), [("attention", WeightedAttention)]


def saved_sdpa():
    q, k, v = qkv(18)
    query_mask, value_mask = padding_mask([5, 3], 5), padding_mask([4, 5], 5)
    layer = ScaledDotProductAttention(causal=True, scale=0.7, name="attention")

    def fn(q, k, v, qm, vm):
        return layer(q, v, key=k, query_mask=qm, value_mask=vm)

    arrays = (q, k, v, query_mask, value_mask)
    return model_on(fn, *arrays), arrays, [("attention", ScaledDotProductAttention)]


def saved_compat():
    # keras-self-attention's three layers in one model.
    x, mask = normal(19, 2, 5, 3), padding_mask([5, 3], 5)
    seq = compat.SeqSelfAttention(
        units=4,
        attention_type="multiplicative",
        history_only=True,
        kernel_initializer=SET_BY_TEST,
        name="seq",
    )
    weighted = compat.SeqWeightedAttention(
        return_attention=True, kernel_initializer=SET_BY_TEST, name="weighted"
    )
    scaled = compat.ScaledDotProductAttention(return_attention=True, name="scaled")

    def fn(x, m):
        y = seq(x, mask=m)
        return list(weighted(y, mask=m)) + list(scaled([y, x, x]))

    types = [
        ("seq", compat.SeqSelfAttention),
        ("weighted", compat.SeqWeightedAttention),
        ("scaled", compat.ScaledDotProductAttention),
    ]
    return model_on(fn, x, mask), (x, mask), types


@pytest.mark.parametrize(
    "build",
    [saved_self_attention, saved_weighted_attention, saved_sdpa, saved_compat],
    ids=lambda build: build.__name__[len("saved_") :],
)
def test_h5_save_load(build, tmp_path):
    model, arrays, layer_types = build()
    random_weights(model, 20)
    assert_saved_and_loaded(model, arrays, tmp_path, layer_types)
