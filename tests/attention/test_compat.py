"""`kerastack.attention.compat`: keras-self-attention's names, arguments,
defaults, config keys and weight order over the modern layers.

Letters: B batch, T sequence length, D feature size, U units.
"""

import os
import tempfile

import keras
import numpy as np
import pytest

from kerastack.attention import ScaledDotProductAttention as ModernScaledDotProductAttention
from kerastack.attention import SelfAttention, WeightedAttention, compat
from tests import reference
from tests.goldens import SAMPLE_IDS, SAMPLE_ROW_2, SAMPLE_TABLE
from tests.testing import FLOAT32_ATOL, FLOAT32_RTOL, TestCase, padding_mask, to_numpy

# keras-self-attention 0.51's SeqSelfAttention.get_config keys.
SEQ_SELF_ATTENTION_KEYS = {
    "units",
    "attention_width",
    "attention_type",
    "return_attention",
    "history_only",
    "use_additive_bias",
    "use_attention_bias",
    "kernel_initializer",
    "bias_initializer",
    "kernel_regularizer",
    "bias_regularizer",
    "kernel_constraint",
    "bias_constraint",
    "attention_activation",
    "attention_regularizer_weight",
}
BASE_LAYER_KEYS = set(keras.layers.Layer().get_config())  # name, trainable, dtype


def old_order_weights(rng, attention_type, features=3, units=4, scale=0.5):
    """Random weights in keras-self-attention's order, and the same as a
    tests/reference.py dict."""
    if attention_type == "additive":
        names = ["Wt", "Wx", "bh", "Wa", "ba"]
        shapes = [(features, units), (features, units), (units,), (units, 1), (1,)]
    else:
        names, shapes = ["Wa", "ba"], [(features, features), (1,)]
    values = [(rng.normal(size=shape) * scale).astype("float32") for shape in shapes]
    return values, dict(zip(names, values, strict=True))


def sample_model(layer, as_list):
    inputs = keras.Input((None,), dtype="int32")
    embedding = keras.layers.Embedding(4, 5, mask_zero=True, trainable=False)
    x = embedding(inputs)
    outputs = layer([x, x, x] if as_list else x)
    model = keras.Model(inputs, outputs)
    embedding.set_weights([SAMPLE_TABLE])
    return model


# SeqSelfAttention


def test_seq_self_attention_defaults():
    layer = compat.SeqSelfAttention()
    assert isinstance(layer, SelfAttention)
    assert layer.units == 32
    assert layer.attention_width is None
    assert layer.attention_type == "additive" == compat.SeqSelfAttention.ATTENTION_TYPE_ADD
    assert compat.SeqSelfAttention.ATTENTION_TYPE_MUL == "multiplicative"
    assert layer.return_attention is False
    assert layer.history_only is False and layer.causal is False
    assert isinstance(layer.kernel_initializer, keras.initializers.GlorotNormal)
    assert isinstance(layer.bias_initializer, keras.initializers.Zeros)
    for attribute in ("kernel", "bias"):
        assert getattr(layer, f"{attribute}_regularizer") is None
        assert getattr(layer, f"{attribute}_constraint") is None
    assert layer.use_additive_bias is True and layer.use_attention_bias is True
    assert layer.attention_regularizer_weight == 0.0
    assert layer.get_config()["attention_activation"] is None


def test_seq_self_attention_positional_arguments_keep_the_old_order():
    # keras-self-attention: SeqSelfAttention(units, attention_width, attention_type, ...)
    layer = compat.SeqSelfAttention(8, 3, "multiplicative", True, True)
    assert (layer.units, layer.attention_width, layer.attention_type) == (8, 3, "multiplicative")
    assert layer.return_attention is True and layer.history_only is True and layer.causal is True


def test_seq_self_attention_config_keys():
    layer = compat.SeqSelfAttention(
        units=6, attention_width=5, history_only=True, attention_activation="sigmoid"
    )
    config = layer.get_config()
    assert SEQ_SELF_ATTENTION_KEYS <= set(config)
    assert set(config) - SEQ_SELF_ATTENTION_KEYS <= BASE_LAYER_KEYS
    assert "causal" not in config
    assert (config["units"], config["attention_width"], config["history_only"]) == (6, 5, True)
    restored = compat.SeqSelfAttention.from_config(config)
    assert restored.get_config() == config
    assert restored.causal is True


def test_seq_self_attention_old_no_window_marker():
    # keras-self-attention stored attention_width=1e9 for "history only, no
    # window"; such configs load as an unbounded causal layer.
    layer = compat.SeqSelfAttention(attention_width=int(1e9), history_only=True)
    assert layer.attention_width is None and layer.causal is True


@pytest.mark.parametrize("attention_type", ["additive", "multiplicative"])
def test_seq_self_attention_return_attention(attention_type):
    rng = np.random.default_rng(0)
    layer = compat.SeqSelfAttention(units=4, attention_type=attention_type, return_attention=True)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    mask = padding_mask([5, 3], 5)
    result = layer(x, mask=mask)
    assert isinstance(result, list) and len(result) == 2
    outputs, weights = result
    assert tuple(outputs.shape) == (2, 5, 3) and tuple(weights.shape) == (2, 5, 5)
    # keras-self-attention's rule: only pad-to-pad pairs are masked, so every
    # query (padded ones too) has weights summing to one.
    np.testing.assert_allclose(to_numpy(weights).sum(-1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(to_numpy(weights)[1, 3:, 3:], 0.0)  # pad-to-pad
    assert layer.compute_mask(x, mask)[1] is None
    # In a model: two outputs; the sequence output keeps the input's mask.
    inputs = keras.Input((None,), dtype="int32")
    embedded = keras.layers.Embedding(5, 3, mask_zero=True)(inputs)
    outputs, weights = compat.SeqSelfAttention(units=4, return_attention=True)(embedded)
    model = keras.Model(inputs, [outputs, weights])
    ids = np.array([[1, 2, 0]], "int32")
    outputs, weights = (to_numpy(t) for t in model(ids))
    assert outputs.shape == (1, 3, 3) and weights.shape == (1, 3, 3)
    np.testing.assert_array_equal(weights[0, 2, 2], 0.0)  # the padded query, padded key
    assert (weights[0, :2, 2] > 0).all()  # real queries attend to the padded key, as before


@pytest.mark.parametrize("attention_type", ["additive", "multiplicative"])
@pytest.mark.parametrize(
    "kwargs",
    [{}, {"attention_width": 3}, {"history_only": True}, {"attention_activation": "sigmoid"}],
    ids=["plain", "window", "history_only", "sigmoid"],
)
def test_seq_self_attention_old_weight_order_parity(attention_type, kwargs):
    rng = np.random.default_rng(1)
    layer = compat.SeqSelfAttention(units=4, attention_type=attention_type, **kwargs)
    layer.build((2, 6, 3))
    values, weights = old_order_weights(rng, attention_type)
    layer.set_weights(values)
    for got, wanted in zip(layer.get_weights(), values, strict=True):
        np.testing.assert_array_equal(got, wanted)  # get_weights: the old order too
    x = rng.normal(size=(2, 6, 3)).astype("float32")
    mask = padding_mask([6, 4], 6)
    expected, expected_scores = reference.self_attention(
        x,
        weights,
        attention_type,
        attention_width=kwargs.get("attention_width"),
        causal=kwargs.get("history_only", False),
        activation=(lambda s: 1 / (1 + np.exp(-s))) if "attention_activation" in kwargs else None,
        attention_mask=mask[:, :, None] | mask[:, None, :],  # only pad-to-pad pairs, as before
    )
    outputs, scores = layer(x, mask=mask, return_attention_scores=True)
    np.testing.assert_allclose(to_numpy(outputs), expected, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL)
    np.testing.assert_allclose(to_numpy(scores), expected_scores, atol=FLOAT32_ATOL)
    np.testing.assert_allclose(
        to_numpy(layer(x, mask=mask)), expected, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL
    )


def test_seq_self_attention_multiplicative_without_bias_weight_order():
    rng = np.random.default_rng(2)
    layer = compat.SeqSelfAttention(attention_type="multiplicative", use_attention_bias=False)
    layer.build((1, 4, 3))
    wa = rng.normal(size=(3, 3))
    layer.set_weights([wa])
    x = rng.normal(size=(1, 4, 3)).astype("float32")
    expected, _ = reference.self_attention(x, {"Wa": wa}, "multiplicative")
    np.testing.assert_allclose(to_numpy(layer(x)), expected, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL)


def test_attention_regularizer_loss_value():
    # keras-self-attention: weight * sum((A A^T - I)^2) / B, on an unpadded batch.
    rng = np.random.default_rng(3)
    layer = compat.SeqSelfAttention(units=4, attention_regularizer_weight=0.2)
    layer.build((2, 5, 3))
    values, weights = old_order_weights(rng, "additive")
    layer.set_weights(values)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    _, a = reference.self_attention(x, weights, "additive")
    expected = 0.2 * np.sum((a @ a.transpose(0, 2, 1) - np.eye(5)) ** 2) / 2
    layer(x)
    assert len(layer.losses) == 1
    np.testing.assert_allclose(to_numpy(layer.losses[0]), expected, rtol=1e-5)
    # The same loss through a model.
    inputs = keras.Input((5, 3))
    model = keras.Model(inputs, layer(inputs))
    model(x)
    assert len(model.losses) == 1
    np.testing.assert_allclose(to_numpy(model.losses[0]), expected, rtol=1e-5)


# SeqWeightedAttention


def test_seq_weighted_attention_defaults_and_config():
    layer = compat.SeqWeightedAttention()
    assert isinstance(layer, WeightedAttention)
    assert layer.use_bias is True and layer.return_attention is False
    # keras-self-attention's kernel started from "uniform" (RandomUniform).
    assert isinstance(layer.kernel_initializer, keras.initializers.RandomUniform)
    config = compat.SeqWeightedAttention(use_bias=False, return_attention=True).get_config()
    assert {"use_bias", "return_attention"} <= set(config)
    restored = compat.SeqWeightedAttention.from_config(config)
    assert restored.use_bias is False and restored.return_attention is True


@pytest.mark.parametrize("use_bias", [True, False])
def test_seq_weighted_attention_return_attention_and_parity(use_bias):
    rng = np.random.default_rng(4)
    layer = compat.SeqWeightedAttention(use_bias=use_bias, return_attention=True)
    layer.build((3, 5, 3))
    values = [rng.normal(size=(3, 1))] + ([rng.normal(size=(1,))] if use_bias else [])
    layer.set_weights(values)  # old order: [W, b]
    x = rng.normal(size=(3, 5, 3)).astype("float32")
    mask = padding_mask([5, 2, 0], 5)
    expected, expected_scores = reference.weighted_attention(
        x, values[0], values[1] if use_bias else 0.0, mask=mask
    )
    result = layer(x, mask=mask)
    assert isinstance(result, list) and len(result) == 2
    np.testing.assert_allclose(to_numpy(result[0]), expected, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL)
    np.testing.assert_allclose(to_numpy(result[1]), expected_scores, atol=FLOAT32_ATOL)
    assert layer.compute_mask(x, mask) == [None, None]


# ScaledDotProductAttention


def test_scaled_dot_product_attention_config():
    layer = compat.ScaledDotProductAttention(return_attention=True, history_only=True)
    assert isinstance(layer, ModernScaledDotProductAttention)
    assert layer.causal is True
    config = layer.get_config()
    assert {"return_attention", "history_only"} <= set(config)
    assert "causal" not in config
    restored = compat.ScaledDotProductAttention.from_config(config)
    assert restored.return_attention is True and restored.history_only is True
    assert restored.causal is True


@pytest.mark.parametrize("as_list", [False, True], ids=["one_tensor", "qkv_list"])
def test_keras_self_attention_sample(as_list):
    # The published value from keras-self-attention's test_sample; ids 1 at
    # positions 0 and 3 must give equal rows; the padded query attends to the
    # real keys, as in the old layer.
    model = sample_model(compat.ScaledDotProductAttention(), as_list)
    outputs = to_numpy(model(SAMPLE_IDS))[0]
    np.testing.assert_allclose(outputs[2], SAMPLE_ROW_2, atol=1e-6, rtol=0)
    np.testing.assert_allclose(outputs[0], outputs[3], atol=1e-6, rtol=0)
    x = SAMPLE_TABLE[SAMPLE_IDS].astype("float32")
    real = SAMPLE_IDS != 0
    allowed = np.broadcast_to(real[:, None, :], (1, 5, 5))
    expected, _ = reference.scaled_dot_product_attention(x, x, x, allowed)
    np.testing.assert_allclose(outputs[4], expected[0, 4], atol=1e-6, rtol=0)


def test_scaled_dot_product_attention_on_a_qkv_list():
    rng = np.random.default_rng(5)
    q = rng.normal(size=(2, 4, 3)).astype("float32")
    k = rng.normal(size=(2, 6, 3)).astype("float32")
    v = rng.normal(size=(2, 6, 5)).astype("float32")
    key_mask = padding_mask([6, 4], 6)
    query_mask = padding_mask([4, 3], 4)
    # As keras-self-attention: a list of masks is [query, key, value] and only
    # the key mask is read (a padded query attends to the real keys).
    allowed = np.broadcast_to(key_mask[:, None, :], (2, 4, 6))
    expected, expected_scores = reference.scaled_dot_product_attention(q, k, v, allowed)
    layer = compat.ScaledDotProductAttention(return_attention=True)
    result = layer([q, k, v], mask=[query_mask, key_mask, None])
    assert isinstance(result, list) and len(result) == 2
    np.testing.assert_allclose(to_numpy(result[0]), expected, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL)
    np.testing.assert_allclose(to_numpy(result[1]), expected_scores, atol=FLOAT32_ATOL)
    unmasked, _ = reference.scaled_dot_product_attention(q, k, v, np.ones((2, 4, 6), bool))
    outputs = compat.ScaledDotProductAttention()([q, k, v], mask=[query_mask, None, key_mask])
    np.testing.assert_allclose(to_numpy(outputs), unmasked, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL)


def test_scaled_dot_product_attention_on_one_tensor():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    mask = padding_mask([5, 3], 5)
    expected, _ = reference.scaled_dot_product_attention(
        x, x, x, np.broadcast_to(mask[:, None, :], (2, 5, 5))
    )
    outputs = compat.ScaledDotProductAttention()(x, mask=mask)  # the keys' mask, as before
    np.testing.assert_allclose(to_numpy(outputs), expected, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL)


def test_scaled_dot_product_attention_history_only():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    mask = padding_mask([5, 4], 5)
    causal = np.tril(np.ones((5, 5), bool))
    expected, expected_scores = reference.scaled_dot_product_attention(
        x, x, x, mask[:, None, :] & causal
    )
    layer = compat.ScaledDotProductAttention(history_only=True, return_attention=True)
    outputs, scores = layer(x, mask=mask)
    np.testing.assert_allclose(to_numpy(outputs), expected, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL)
    np.testing.assert_allclose(to_numpy(scores), expected_scores, atol=FLOAT32_ATOL)
    unmasked, _ = reference.scaled_dot_product_attention(x, x, x, causal)
    outputs = compat.ScaledDotProductAttention(history_only=True)(x)  # fused, is_causal
    np.testing.assert_allclose(to_numpy(outputs), unmasked, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL)


def test_scaled_dot_product_attention_history_only_returning_attention_without_mask():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(1, 4, 3)).astype("float32")
    expected, expected_scores = reference.scaled_dot_product_attention(
        x, x, x, np.tril(np.ones((4, 4), bool))
    )
    outputs, scores = compat.ScaledDotProductAttention(history_only=True, return_attention=True)(x)
    np.testing.assert_allclose(to_numpy(scores), expected_scores, atol=FLOAT32_ATOL)
    np.testing.assert_allclose(to_numpy(outputs), expected, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL)


def test_scaled_dot_product_attention_config_keeps_modern_arguments():
    layer = compat.ScaledDotProductAttention(dropout=0.25, scale=0.5, seed=3)
    restored = compat.ScaledDotProductAttention.from_config(layer.get_config())
    assert (restored.dropout, restored.scale, restored.seed) == (0.25, 0.5, 3)


def test_seq_weighted_attention_config_keeps_modern_arguments():
    layer = compat.SeqWeightedAttention(kernel_initializer="ones", kernel_regularizer="l2")
    restored = compat.SeqWeightedAttention.from_config(layer.get_config())
    assert isinstance(restored.kernel_initializer, keras.initializers.Ones)
    assert restored.kernel_regularizer is not None


def test_scaled_dot_product_attention_bad_list():
    x = np.zeros((1, 4, 3), "float32")
    with pytest.raises(ValueError, match=r"\[query, key, value\].*received 2 items"):
        compat.ScaledDotProductAttention()([x, x])


# Saving and the custom-objects helpers.


class CompatSaveLoadTest(TestCase):
    def test_seq_self_attention(self):
        inputs = keras.Input((None,), dtype="int32")
        x = keras.layers.Embedding(8, 4, mask_zero=True)(inputs)
        x, _ = compat.SeqSelfAttention(
            units=3, attention_width=3, history_only=True, return_attention=True, name="old"
        )(x)
        model = keras.Model(inputs, keras.layers.Dense(2)(x))
        ids = np.array([[1, 2, 3, 0, 0], [4, 5, 6, 7, 1]], "int32")
        restored = self.run_save_load_check(model, ids)
        self.assertIsInstance(restored.get_layer("old"), compat.SeqSelfAttention)
        self.assertEqual(
            restored.get_layer("old").get_config(), model.get_layer("old").get_config()
        )

    def test_seq_weighted_attention(self):
        inputs = keras.Input((None,), dtype="int32")
        x = keras.layers.Embedding(8, 4, mask_zero=True)(inputs)
        x = compat.SeqWeightedAttention(name="old")(x)
        model = keras.Model(inputs, keras.layers.Dense(2)(x))
        ids = np.array([[1, 2, 3, 0, 0], [4, 5, 6, 7, 1]], "int32")
        restored = self.run_save_load_check(model, ids)
        self.assertIsInstance(restored.get_layer("old"), compat.SeqWeightedAttention)

    def test_scaled_dot_product_attention(self):
        model = sample_model(compat.ScaledDotProductAttention(name="old"), as_list=True)
        restored = self.run_save_load_check(model, SAMPLE_IDS)
        self.assertIsInstance(restored.get_layer("old"), compat.ScaledDotProductAttention)
        np.testing.assert_allclose(
            to_numpy(restored(SAMPLE_IDS))[0, 2], SAMPLE_ROW_2, atol=1e-6, rtol=0
        )

    def test_scaled_dot_product_attention_on_one_tensor(self):
        model = sample_model(compat.ScaledDotProductAttention(name="old"), as_list=False)
        restored = self.run_save_load_check(model, SAMPLE_IDS)
        self.assertIsInstance(restored.get_layer("old"), compat.ScaledDotProductAttention)

    def test_compat_and_modern_layers_in_one_model(self):
        # The compat ScaledDotProductAttention shares its Python name with the
        # modern one; both must come back as themselves.
        inputs = keras.Input((None,), dtype="int32")
        x = keras.layers.Embedding(8, 4, mask_zero=True)(inputs)
        x = compat.ScaledDotProductAttention(name="old")([x, x, x])
        x = ModernScaledDotProductAttention(name="new")(x, x)
        model = keras.Model(inputs, x)
        restored = self.run_save_load_check(model, np.array([[1, 2, 3, 0]], "int32"))
        self.assertIs(type(restored.get_layer("old")), compat.ScaledDotProductAttention)
        self.assertIs(type(restored.get_layer("new")), ModernScaledDotProductAttention)


def test_get_custom_objects():
    objects = compat.get_custom_objects()
    assert objects == {
        "ResidualScaledDotProductAttention": compat.ResidualScaledDotProductAttention,
        "SeqSelfAttention": compat.SeqSelfAttention,
        "SeqWeightedAttention": compat.SeqWeightedAttention,
        "ScaledDotProductAttention": compat.ScaledDotProductAttention,
    }
    for name, cls in objects.items():
        assert cls.get_custom_objects() == {name: cls}


def test_load_with_custom_objects_as_before():
    # Old code passes custom_objects=get_custom_objects(); that still loads.
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(8, 4, mask_zero=True)(inputs)
    x = compat.SeqSelfAttention(units=3, name="old")(x)
    x = compat.SeqWeightedAttention()(x)
    model = keras.Model(inputs, x)
    ids = np.array([[1, 2, 3, 0]], "int32")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        restored = keras.saving.load_model(path, custom_objects=compat.get_custom_objects())
    self_type = type(restored.get_layer("old"))
    assert self_type is compat.SeqSelfAttention
    np.testing.assert_allclose(to_numpy(restored(ids)), to_numpy(model(ids)), atol=1e-6)


@pytest.mark.parametrize("error", [NotImplementedError, ValueError])
def test_an_unknown_attention_type_is_both_errors(error):
    """keras-self-attention raised NotImplementedError; kerastack's error is
    a ValueError too."""
    with pytest.raises(error, match="'additive' or 'multiplicative'"):
        compat.SeqSelfAttention(attention_type="dot")


def _residual_reference(q, k, v, previous, key_mask=None, history_only=False):
    """NumPy: scores = q kᵀ / sqrt(d) + previous; masked and later keys lose 10,000."""
    scores = q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[-1]) + previous
    logits = scores.copy()
    if history_only:
        logits = logits - 10000.0 * (
            np.arange(k.shape[1])[None, :] > np.arange(q.shape[1])[:, None]
        )
    if key_mask is not None:
        logits = logits - 10000.0 * (1.0 - key_mask[:, None, :])
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    return weights @ v, scores, weights


@pytest.mark.parametrize("history_only", [False, True])
def test_residual_attention_equals_numpy(history_only):
    rng = np.random.default_rng(0)
    q, k, v = (rng.normal(size=(2, n, 4)).astype("float32") for n in (3, 5, 5))
    previous = rng.normal(size=(2, 3, 5)).astype("float32")
    layer = compat.ResidualScaledDotProductAttention(
        return_attention=True, history_only=history_only
    )
    outputs = [keras.ops.convert_to_numpy(t) for t in layer([q, k, v, previous])]
    for ours, expected in zip(
        outputs, _residual_reference(q, k, v, previous, None, history_only), strict=True
    ):
        np.testing.assert_allclose(ours, expected, atol=1e-5, rtol=1e-5)
    # One tensor as query, key and value, with a key mask from an embedding.
    ids = keras.Input((5,), dtype="int32")
    x = keras.layers.Embedding(9, 4, mask_zero=True)(ids)
    previous_input = keras.Input((5, 5))
    output, scores = compat.ResidualScaledDotProductAttention(history_only=history_only)(
        [x, previous_input]
    )
    model = keras.Model([ids, previous_input], [output, scores, x])
    tokens = np.array([[1, 2, 3, 0, 0], [4, 5, 6, 7, 8]])
    prev = rng.normal(size=(2, 5, 5)).astype("float32")
    ours_output, ours_scores, embedded = model.predict([tokens, prev], verbose=0)
    expected_output, expected_scores, _ = _residual_reference(
        embedded, embedded, embedded, prev, (tokens != 0).astype("float32"), history_only
    )
    np.testing.assert_allclose(ours_output, expected_output, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(ours_scores, expected_scores, atol=1e-5, rtol=1e-5)
    assert (
        compat.ResidualScaledDotProductAttention.from_config(layer.get_config()).history_only
        is history_only
    )
