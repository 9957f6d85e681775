"""kerastack.multihead on every lane: `MultiHeadAttention`, `MultiHead` and
keras-multi-head's names in `compat`, against the NumPy references and
golden values, with padding, causality and empty-row properties, and `.h5`
save/load.

Letters: B batch, T query length, S key/value length, D width, N heads,
H key_dim, C copies.
"""

import numpy as np
import pytest

from kerastack.core import keras
from kerastack.multihead import MultiHead, MultiHeadAttention, compat
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
    with_garbage,
)
from tests.tolerances import GOLDEN_ATOL
from tests.transformer.reference import attention_weights

pytestmark = KERAS_ARRAY_WARNING

PROJECTIONS = ("query_dense", "key_dense", "value_dense", "output_dense")


def keras_layout(layer):
    """`[Wq, bq, Wk, bk, Wv, bv, Wo, bo]` of a built layer (zero biases when
    it has none), read projection by projection."""
    weights = attention_weights(layer)
    return [weights[f"{kind}{p}"] for p in "qkvo" for kind in ("w", "b")]


def set_keras_layout(layer, weights):
    """Set `[Wq, bq, Wk, bk, Wv, bv, Wo, bo]`, projection by projection."""
    for index, projection in enumerate(PROJECTIONS):
        getattr(layer, projection).set_weights(weights[2 * index : 2 * index + 2])


def allowed_pairs(batch, query_length, key_length, query_mask, value_mask, causal=False):
    """The reference's `(B, 1, T, S)` mask: padded queries and keys, causality."""
    allowed = np.ones((batch, query_length, key_length), bool)
    if query_mask is not None:
        allowed &= query_mask[:, :, None]
    if value_mask is not None:
        allowed &= value_mask[:, None, :]
    if causal:
        allowed &= np.tril(np.ones((query_length, key_length), bool))
    return allowed[:, None]


def mha(**kwargs):
    return MultiHeadAttention(kernel_initializer=SET_BY_TEST, **kwargs)


# -- MultiHeadAttention -------------------------------------------------------------


def test_mha_self_attention_parity_with_padding():
    # Both paths: the explicit one (scores asked for) and the fused kernel.
    x = normal(1, 3, 5, 6)
    mask = padding_mask([5, 3, 1], 5)
    layer = mha(num_heads=2, key_dim=3, causal=True)

    def fn(x, m):
        explicit, scores = layer(x, x, query_mask=m, value_mask=m, return_attention_scores=True)
        return [layer(x, x, query_mask=m, value_mask=m), explicit, scores]

    model = model_on(fn, x, mask)
    random_weights(layer, 1)
    outputs, explicit, scores = predict(model, x, mask)
    expected, expected_scores = reference.multi_head_attention(
        x, x, x, keras_layout(layer), allowed_pairs(3, 5, 5, mask, mask, causal=True)
    )
    for actual in (outputs, explicit):
        assert_close(actual[mask], expected[mask])
        np.testing.assert_array_equal(actual[~mask], 0.0)  # padded queries
    assert_close(scores, expected_scores)


def test_mha_cross_attention_parity():
    # Separate key and value, value_dim != key_dim, an output width of its own,
    # an explicit attention mask, no bias.
    query, key, value = normal(2, 2, 4, 6), normal(3, 2, 5, 3), normal(4, 2, 5, 7)
    attention_mask = np.random.default_rng(2).random((2, 4, 5)) < 0.6
    attention_mask[:, 1] = False  # a query with nothing to attend to: zero heads
    layer = mha(num_heads=3, key_dim=2, value_dim=4, output_shape=5, use_bias=False)
    model = model_on(
        lambda q, k, v, a: layer(q, v, key=k, attention_mask=a), query, key, value, attention_mask
    )
    random_weights(layer, 2)
    outputs = predict(model, query, key, value, attention_mask)
    expected, _ = reference.multi_head_attention(
        query, value, key, keras_layout(layer), attention_mask[:, None]
    )
    assert outputs.shape == (2, 4, 5)
    assert_close(outputs, expected)


def test_mha_golden():
    layer = mha(num_heads=1, key_dim=2)

    def fn(q, v, qm, vm):
        outputs, scores = layer(q, v, return_attention_scores=True)
        masked, masked_scores = layer(
            q, v, query_mask=qm, value_mask=vm, return_attention_scores=True
        )
        return [outputs, scores, masked, masked_scores, layer(q, v, use_causal_mask=True)]

    arrays = (goldens.MHA_QUERY, goldens.MHA_VALUE, goldens.MHA_QUERY_MASK, goldens.MHA_VALUE_MASK)
    model = model_on(fn, *arrays)
    set_keras_layout(layer, goldens.MHA_WEIGHTS)
    outputs, scores, masked, masked_scores, causal = predict(model, *arrays)
    assert_close(outputs, goldens.MHA_OUTPUTS, atol=GOLDEN_ATOL)
    assert_close(scores, goldens.MHA_SCORES, atol=GOLDEN_ATOL)
    assert_close(masked, goldens.MHA_MASKED_OUTPUTS, atol=GOLDEN_ATOL)
    assert_close(masked_scores, goldens.MHA_MASKED_SCORES, atol=GOLDEN_ATOL)
    assert_close(causal, goldens.MHA_CAUSAL_OUTPUTS, atol=GOLDEN_ATOL)


def test_mha_padding_never_changes_real_positions():
    # Rows 0-1 and 2-3 differ only in padded queries, keys and values.
    query, value = normal(5, 2, 4, 6), normal(6, 2, 5, 6)
    query_mask, value_mask = padding_mask([3, 2], 4), padding_mask([4, 1], 5)
    layer = mha(num_heads=2, key_dim=3)
    model = model_on(
        lambda q, v, qm, vm: layer(q, v, query_mask=qm, value_mask=vm),
        query,
        value,
        query_mask,
        value_mask,
    )
    random_weights(layer, 5)
    outputs = predict(
        model,
        np.concatenate([query, with_garbage(query, query_mask, 5)]),
        np.concatenate([value, with_garbage(value, value_mask, 6)]),
        np.tile(query_mask, (2, 1)),
        np.tile(value_mask, (2, 1)),
    )
    assert_close(outputs[2:][query_mask], outputs[:2][query_mask], atol=1e-5)
    np.testing.assert_array_equal(outputs[:2][~query_mask], 0.0)
    np.testing.assert_array_equal(outputs[2:][~query_mask], 0.0)


def test_mha_future_never_changes_the_past():
    # Causal by constructor, and by `use_causal_mask` at call time.
    x = normal(7, 1, 5, 6)
    batch = np.concatenate([x] + [future_changed(x, cut, 7 + cut) for cut in range(1, 5)])
    by_constructor, by_call = mha(num_heads=2, key_dim=3, causal=True), mha(num_heads=2, key_dim=3)
    model = model_on(lambda x: [by_constructor(x, x), by_call(x, x, use_causal_mask=True)], batch)
    random_weights(model, 7)
    for outputs in predict(model, batch):
        for cut in range(1, 5):
            assert_close(outputs[cut, :cut], outputs[0, :cut], atol=1e-5)
            assert not np.allclose(outputs[cut, cut:], outputs[0, cut:])


def test_mha_nothing_to_attend_to_gives_zero_heads():
    # Batch 1 has no real key: zero heads, so the output is the output bias
    # alone; with its queries masked too, zeros.
    query, value = normal(8, 2, 3, 4), normal(9, 2, 4, 4)
    value_mask = np.array([[True, True, False, False], [False, False, False, False]])
    query_mask = np.array([[True, True, True], [True, False, False]])
    layer = mha(num_heads=2, key_dim=2)

    def fn(q, v, vm, qm):
        return [layer(q, v, value_mask=vm), layer(q, v, value_mask=vm, query_mask=qm)]

    model = model_on(fn, query, value, value_mask, query_mask)
    random_weights(layer, 8)
    outputs, masked = predict(model, query, value, value_mask, query_mask)
    assert np.all(np.isfinite(outputs)) and np.all(np.isfinite(masked))
    expected, _ = reference.multi_head_attention(
        query, value, value, keras_layout(layer), value_mask[:, None, None, :]
    )
    assert_close(outputs, expected)
    assert_close(outputs[1], np.broadcast_to(keras_layout(layer)[-1], (3, 4)))
    assert_close(masked[0], outputs[0])
    np.testing.assert_array_equal(masked[1, 1:], 0.0)


# -- MultiHead ------------------------------------------------------------------------


def dense(units=3):
    return keras.layers.Dense(units, kernel_initializer=SET_BY_TEST)


def dense_numpy(layer, x):
    kernel, bias = layer.get_weights()
    return x.astype("float64") @ kernel + bias


def test_multi_head_copies_of_dense():
    # Copies merged by concatenation or stacking; with `hidden_dim`, each copy
    # sees its own slice of one input projection.
    x = normal(10, 2, 5, 4)
    concatenated = MultiHead(dense(), num_copies=3)
    stacked = MultiHead(dense(), num_copies=3, merge="stack")
    projected = MultiHead(dense(), num_copies=3, hidden_dim=2, kernel_initializer=SET_BY_TEST)
    model = model_on(lambda x: [concatenated(x), stacked(x), projected(x)], x)
    random_weights(model, 10)
    outputs = predict(model, x)
    heads = [dense_numpy(copy, x) for copy in concatenated.copies]
    assert_close(outputs[0], np.concatenate(heads, -1))
    assert not np.allclose(heads[0], heads[1])  # the copies have weights of their own
    assert_close(outputs[1], np.stack([dense_numpy(copy, x) for copy in stacked.copies], -1))
    hidden = dense_numpy(projected.projection, x)  # (B, T, C * hidden_dim)
    heads = [
        dense_numpy(copy, hidden[..., 2 * i : 2 * (i + 1)])
        for i, copy in enumerate(projected.copies)
    ]
    assert_close(outputs[2], np.concatenate(heads, axis=-1))


# -- compat: keras-multi-head's names ---------------------------------------------------


def relu(x):
    return np.maximum(x, 0.0)


def old_weights(seed, query_dim, key_dim, value_dim):
    """keras-multi-head 0.29's 2-D weights `[Wq, bq, Wk, bk, Wv, bv, Wo, bo]`."""
    rng = np.random.default_rng(seed)
    weights = []
    for rows in (query_dim, key_dim, value_dim, value_dim):
        weights.append((rng.normal(size=(rows, value_dim)) * 0.5).astype("float32"))
        weights.append((rng.normal(size=(value_dim,)) * 0.5).astype("float32"))
    return weights


def test_compat_mha_history_only_with_relu():
    # The old default activation (relu) on every projection, the old 2-D
    # weights, and history_only: causal.
    x = normal(12, 1, 5, 6)
    batch = np.concatenate([x, future_changed(x, 3, 12)])
    layer = compat.MultiHeadAttention(head_num=2, history_only=True, kernel_initializer=SET_BY_TEST)
    model = model_on(layer, batch)
    weights = old_weights(12, 6, 6, 6)
    layer.set_weights(weights)
    for got, wanted in zip(layer.get_weights(), weights, strict=True):
        np.testing.assert_array_equal(got, wanted)  # the old 2-D shapes
    outputs = predict(model, batch)
    expected, _ = reference.multi_head_attention(
        batch,
        batch,
        batch,
        reference.keras_layout_from_legacy(weights, 2),
        allowed=np.tril(np.ones((5, 5), bool))[None, None],
        activation=relu,
    )
    assert_close(outputs, expected)
    assert_close(outputs[1, :3], outputs[0, :3])


def test_compat_mha_qkv_list_with_masks():
    # [query, key, value] of different widths; masks [query, key, value].
    query, key, value = normal(13, 2, 3, 4), normal(14, 2, 5, 3), normal(15, 2, 5, 6)
    query_mask, key_mask = padding_mask([3, 2], 3), padding_mask([5, 2], 5)
    layer = compat.MultiHeadAttention(head_num=3, kernel_initializer=SET_BY_TEST)
    model = model_on(
        lambda q, k, v, qm, km: layer([q, k, v], mask=[qm, km, km]),
        query,
        key,
        value,
        query_mask,
        key_mask,
    )
    weights = old_weights(13, 4, 3, 6)
    layer.set_weights(weights)
    outputs = predict(model, query, key, value, query_mask, key_mask)
    expected, _ = reference.multi_head_attention(
        query,
        value,
        key,
        reference.keras_layout_from_legacy(weights, 3),
        allowed=allowed_pairs(2, 3, 5, None, key_mask),
        activation=relu,
    )
    assert outputs.shape == (2, 3, 6)
    # As keras-multi-head: the keys are masked, and a padded query attends to the real keys.
    assert_close(outputs, expected)


def test_compat_multi_head_stacks_on_a_new_last_axis():
    x = normal(16, 2, 4, 6)
    layer = compat.MultiHead(dense(), layer_num=5)
    model = model_on(layer, x)
    random_weights(layer, 16)
    outputs = predict(model, x)
    assert outputs.shape == (2, 4, 3, 5)
    assert_close(outputs, np.stack([dense_numpy(copy, x) for copy in layer.copies], axis=-1))


# -- saving ---------------------------------------------------------------------------


def saved_mha():
    query, value = normal(18, 2, 4, 6), normal(19, 2, 5, 6)
    query_mask, value_mask = padding_mask([4, 2], 4), padding_mask([5, 3], 5)
    layer = mha(num_heads=2, key_dim=3, causal=True, name="layer")

    def fn(q, v, qm, vm):
        return list(layer(q, v, query_mask=qm, value_mask=vm, return_attention_scores=True))

    arrays = (query, value, query_mask, value_mask)
    return model_on(fn, *arrays), arrays, [("layer", MultiHeadAttention)]


def saved_multi_head(merge, **kwargs):
    def build():
        x = normal(20, 2, 4, 6)
        layer = MultiHead(
            dense(),
            num_copies=2,
            merge=merge,
            kernel_initializer=SET_BY_TEST,
            name="layer",
            **kwargs,
        )
        model = model_on(lambda x: dense(2)(layer(x)), x)
        return model, (x,), [("layer", MultiHead)]

    build.__name__ = f"multi_head_{merge}"
    return build


def saved_compat():
    # keras-multi-head's two layers in one model.
    x = normal(21, 2, 4, 6)
    attention = compat.MultiHeadAttention(head_num=2, kernel_initializer=SET_BY_TEST, name="mha")
    heads = compat.MultiHead(dense(), 2, name="heads")
    model = model_on(lambda x: heads(attention(x)), x)
    types = [("mha", compat.MultiHeadAttention), ("heads", compat.MultiHead)]
    return model, (x,), types


@pytest.mark.parametrize(
    "build",
    [
        saved_mha,
        saved_compat,
        saved_multi_head("stack", hidden_dim=3),
        # Keras 3's legacy .h5 loader turns the string "concatenate" into the
        # function keras.layers.concatenate; MultiHead takes its name back.
        saved_multi_head("concatenate"),
    ],
    ids=lambda build: build.__name__.replace("saved_", ""),
)
def test_h5_save_load(build, tmp_path):
    model, arrays, layer_types = build()
    random_weights(model, 22)
    assert_saved_and_loaded(model, arrays, tmp_path, layer_types)


def test_compat_mha_padded_queries_attend_to_real_keys_with_a_keras_mask():
    """The mask arrives on the tensor (a `Masking` layer, as after an
    `Embedding(mask_zero=True)`): keys are masked, and a padded query attends
    to the real keys, as keras-multi-head did; on every lane."""
    x = normal(17, 2, 4, 6)
    lengths = [4, 2]
    key_mask = padding_mask(lengths, 4)
    x[~key_mask] = 0.0  # what Masking(0.0) reads as padding
    layer = compat.MultiHeadAttention(head_num=3, kernel_initializer=SET_BY_TEST)
    model = model_on(lambda x: layer(keras.layers.Masking(0.0)(x)), x)
    weights = old_weights(17, 6, 6, 6)
    layer.set_weights(weights)
    expected, _ = reference.multi_head_attention(
        x,
        x,
        x,
        reference.keras_layout_from_legacy(weights, 3),
        allowed=allowed_pairs(2, 4, 4, None, key_mask),
        activation=relu,
    )
    outputs = predict(model, x)
    assert_close(outputs, expected)
    assert np.abs(outputs[~key_mask]).max() > 0  # the padded queries' own outputs
