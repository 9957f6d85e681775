"""kerastack.transformer on every lane: `FeedForward`, `TransformerEncoder`,
`TransformerDecoder` and the keras-transformer family's names in `compat`,
against the NumPy reference blocks and golden values, with padding and
causality properties, Keras masks, and `.h5` save/load.

Letters: B batch, T decoder length, S encoder length, D width, V vocabulary.
"""

import numpy as np
import pytest

from kerastack.core import keras
from kerastack.transformer import FeedForward, TransformerDecoder, TransformerEncoder, compat
from tests import goldens
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
from tests.transformer import reference

pytestmark = KERAS_ARRAY_WARNING

B, T, S, D = 2, 6, 4, 8


def feed_forward(**kwargs):
    return FeedForward(kernel_initializer=SET_BY_TEST, **kwargs)


def encoder(**kwargs):
    return TransformerEncoder(
        intermediate_dim=12, num_heads=2, kernel_initializer=SET_BY_TEST, **kwargs
    )


def decoder(**kwargs):
    return TransformerDecoder(
        intermediate_dim=12, num_heads=2, kernel_initializer=SET_BY_TEST, **kwargs
    )


def numpy_gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))


# -- FeedForward --------------------------------------------------------------------


@pytest.mark.parametrize(
    "activation, gated, kwargs",
    [
        ("gelu", False, {"output_dim": 7}),
        ("silu", True, {}),  # SwiGLU
        ("relu", True, {"use_bias": False}),  # ReGLU
    ],
)
def test_feed_forward_parity(activation, gated, kwargs):
    x = normal(1, 2, 4, 6)
    layer = feed_forward(intermediate_dim=5, activation=activation, gated=gated, **kwargs)
    model = model_on(layer, x)
    random_weights(layer, 1)
    expected = reference.feed_forward(x, reference.feed_forward_weights(layer), activation, gated)
    assert_close(predict(model, x), expected)


def test_feed_forward_golden():
    plain, gated = feed_forward(intermediate_dim=2), feed_forward(intermediate_dim=2, gated=True)
    model = model_on(lambda x: [plain(x), gated(x)], goldens.FEED_FORWARD_X)
    weights = goldens.FEED_FORWARD_WEIGHTS
    for layer in (plain, gated):
        layer.intermediate_dense.set_weights([weights["w1"], weights["b1"]])
        layer.output_dense.set_weights([weights["w2"], weights["b2"]])
    gated.gate_dense.set_weights([weights["wg"], weights["bg"]])
    outputs, gated_outputs = predict(model, goldens.FEED_FORWARD_X)
    assert_close(outputs, goldens.FEED_FORWARD_OUTPUTS, atol=GOLDEN_ATOL)
    assert_close(gated_outputs, goldens.FEED_FORWARD_GATED_OUTPUTS, atol=GOLDEN_ATOL)


def test_compat_feed_forward_old_weight_order():
    # keras-position-wise-feed-forward: [W1 (D, units), b1, W2 (units, D), b2].
    x = normal(2, 2, 3, 4)
    layer = compat.FeedForward(units=6, dropout_rate=0.1, kernel_initializer=SET_BY_TEST)
    model = model_on(layer, x)
    assert [w.shape for w in layer.get_weights()] == [(4, 6), (6,), (6, 4), (4,)]
    w1, b1, w2, b2 = random_weights(layer, 2)
    expected = np.maximum(x @ w1.astype("float64") + b1, 0.0) @ w2 + b2
    assert_close(predict(model, x), expected)


# -- TransformerEncoder ---------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, causal, lengths",
    [
        ({"gated": True, "activation": "silu"}, False, [5, 3]),
        ({"normalize_first": True, "activation": "gelu"}, True, [4, 2]),
    ],
    ids=["post_norm_gated_padding", "pre_norm_padding_causal"],
)
def test_encoder_parity(kwargs, causal, lengths):
    x = normal(3, B, 5, D)
    mask = padding_mask(lengths, 5)
    layer = encoder(**kwargs)
    model = model_on(lambda x, m: layer(x, padding_mask=m, use_causal_mask=causal), x, mask)
    random_weights(layer, 3)
    expected = reference.encoder_block(
        x,
        reference.block_weights(layer),
        padding_mask=mask,
        causal=causal,
        activation=kwargs.get("activation", "relu"),
        gated=kwargs.get("gated", False),
        normalize_first=kwargs.get("normalize_first", False),
    )
    assert_close(predict(model, x, mask), expected)


def test_encoder_padding_never_changes_real_positions():
    # Post-norm and pre-norm.
    x = normal(4, B, 5, D)
    mask = padding_mask([5, 2], 5)
    layers = [encoder(), encoder(normalize_first=True)]
    model = model_on(lambda x, m: [layer(x, padding_mask=m) for layer in layers], x, mask)
    random_weights(model, 4)
    garbage = with_garbage(x, mask, 4, scale=100.0)
    for outputs in predict(model, np.concatenate([x, garbage]), np.tile(mask, (2, 1))):
        assert_close(outputs[B:][mask], outputs[:B][mask])


def test_encoder_future_never_changes_the_past():
    x = normal(5, 1, 5, D)
    batch = np.concatenate([x] + [future_changed(x, cut, 5 + cut) for cut in range(1, 5)])
    layer = encoder(normalize_first=True)
    model = model_on(lambda x: layer(x, use_causal_mask=True), batch)
    random_weights(layer, 5)
    outputs = predict(model, batch)
    for cut in range(1, 5):
        assert_close(outputs[cut, :cut], outputs[0, :cut])
        assert not np.allclose(outputs[cut, cut:], outputs[0, cut:])


def test_encoder_keras_mask_from_embedding():
    # A Keras mask (Embedding(mask_zero=True)) works as the padding mask, and
    # is handed on: the pooling averages the real positions only.
    ids = np.array([[3, 4, 5, 0, 0], [6, 7, 8, 9, 1]], "int32")
    embedding = keras.layers.Embedding(10, D, mask_zero=True, embeddings_initializer=SET_BY_TEST)
    layer = encoder()

    def fn(ids, mask):
        x = embedding(ids)
        hidden = layer(x)
        return [hidden, keras.layers.GlobalAveragePooling1D()(hidden), layer(x, padding_mask=mask)]

    mask = ids != 0
    model = model_on(fn, ids, mask)
    random_weights(model, 6)
    hidden, pooled, explicit = predict(model, ids, mask)
    assert_close(hidden[mask], explicit[mask])
    assert_close(pooled, (explicit * mask[..., None]).sum(1) / mask.sum(1, keepdims=True))
    expected = reference.encoder_block(
        embedding.get_weights()[0][ids], reference.block_weights(layer), padding_mask=mask
    )
    assert_close(explicit[mask], expected[mask])


# -- TransformerDecoder --------------------------------------------------------------


def test_decoder_only_parity():
    # Causal by default, and without the causal mask when asked.
    x = normal(7, B, T, D)
    layer = decoder(normalize_first=True)
    model = model_on(lambda x: [layer(x), layer(x, use_causal_mask=False)], x)
    random_weights(layer, 7)
    causal, full = predict(model, x)
    weights = reference.block_weights(layer)
    assert_close(causal, reference.decoder_block(x, weights, normalize_first=True))
    assert_close(full, reference.decoder_block(x, weights, causal=False, normalize_first=True))


def test_decoder_cross_attention_parity_with_masks():
    x, encoder_sequence = normal(8, B, T, D), normal(9, B, S, D)
    decoder_mask, encoder_mask = padding_mask([6, 4], T), padding_mask([2, 4], S)
    kwargs = {"gated": True, "activation": "silu"}
    layer = decoder(**kwargs)

    def fn(x, e, dm, em):
        return layer(x, e, decoder_padding_mask=dm, encoder_padding_mask=em)

    arrays = (x, encoder_sequence, decoder_mask, encoder_mask)
    model = model_on(fn, *arrays)
    random_weights(layer, 8)
    expected = reference.decoder_block(
        x,
        reference.block_weights(layer),
        encoder_sequence,
        padding_mask=decoder_mask,
        encoder_padding_mask=encoder_mask,
        activation="silu",
        gated=True,
    )
    assert_close(predict(model, *arrays), expected)


def test_decoder_future_never_changes_the_past():
    x, encoder_sequence = normal(10, 1, T, D), normal(11, 1, S, D)
    batch = np.concatenate([x] + [future_changed(x, cut, 10 + cut) for cut in range(1, T)])
    encoder_batch = np.repeat(encoder_sequence, T, axis=0)
    layer = decoder()
    model = model_on(layer, batch, encoder_batch)
    random_weights(layer, 10)
    outputs = predict(model, batch, encoder_batch)
    for cut in range(1, T):
        assert_close(outputs[cut, :cut], outputs[0, :cut])
        assert not np.allclose(outputs[cut, cut:], outputs[0, cut:])


def test_decoder_padding_never_changes_real_positions():
    x, encoder_sequence = normal(12, B, T, D), normal(13, B, S, D)
    decoder_mask, encoder_mask = padding_mask([5, 3], T), padding_mask([3, 1], S)
    layer = decoder(normalize_first=True)

    def fn(x, e, dm, em):
        return layer(x, e, decoder_padding_mask=dm, encoder_padding_mask=em)

    model = model_on(fn, x, encoder_sequence, decoder_mask, encoder_mask)
    random_weights(layer, 12)
    outputs = predict(
        model,
        np.concatenate([x, with_garbage(x, decoder_mask, 12, scale=100.0)]),
        np.concatenate([encoder_sequence, with_garbage(encoder_sequence, encoder_mask, 13)]),
        np.tile(decoder_mask, (2, 1)),
        np.tile(encoder_mask, (2, 1)),
    )
    assert_close(outputs[B:][decoder_mask], outputs[:B][decoder_mask])


# -- compat: keras-embed-sim and keras-transformer --------------------------------------


def test_compat_embedding_sim_returns_probabilities_tied_to_the_embedding():
    ids = np.array([[1, 2, 3, 0], [4, 5, 6, 1]], "int32")
    embedding = compat.EmbeddingRet(7, 4, mask_zero=True, embeddings_initializer=SET_BY_TEST)
    similarity = compat.EmbeddingSim()
    model = model_on(lambda ids: similarity(embedding(ids)), ids)
    (table,) = random_weights(embedding, 14)
    (bias,) = random_weights(similarity, 15)
    logits = table[ids].astype("float64") @ table.T + bias
    expected = np.exp(logits - logits.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    assert_close(predict(model, ids), expected)  # probabilities, as keras-embed-sim gave


def test_compat_gelu_is_the_tanh_approximation():
    x = np.linspace(-4, 4, 9, dtype="float32")[None]
    outputs = predict(model_on(keras.layers.Activation(compat.gelu), x), x)
    assert_close(outputs, numpy_gelu_tanh(x.astype("float64")), atol=1e-6)


# -- saving -------------------------------------------------------------------------------


def saved_feed_forwards():
    """FeedForward (gated GELU) and the compat one in one model."""
    x = normal(16, B, 5, D)
    modern = feed_forward(intermediate_dim=6, gated=True, activation="gelu", name="modern")
    legacy = compat.FeedForward(
        units=6, activation="tanh", kernel_initializer=SET_BY_TEST, name="legacy"
    )
    model = model_on(lambda x: legacy(modern(x)), x)
    return model, (x,), [("modern", FeedForward), ("legacy", compat.FeedForward)]


def saved_encoder():
    x, mask = normal(17, B, 5, D), padding_mask([5, 3], 5)
    layer = encoder(gated=True, activation="gelu", name="layer")
    model = model_on(lambda x, m: layer(x, padding_mask=m, use_causal_mask=True), x, mask)
    return model, (x, mask), [("layer", TransformerEncoder)]


def saved_decoder():
    x, encoder_sequence = normal(18, B, T, D), normal(19, B, S, D)
    decoder_mask, encoder_mask = padding_mask([6, 4], T), padding_mask([2, 4], S)
    layer = decoder(normalize_first=True, name="layer")

    def fn(x, e, dm, em):
        return layer(x, e, decoder_padding_mask=dm, encoder_padding_mask=em)

    arrays = (x, encoder_sequence, decoder_mask, encoder_mask)
    return model_on(fn, *arrays), arrays, [("layer", TransformerDecoder)]


@pytest.mark.parametrize(
    "build",
    [saved_feed_forwards, saved_encoder, saved_decoder],
    ids=["feed_forwards", "encoder", "decoder"],
)
def test_h5_save_load(build, tmp_path):
    model, arrays, layer_types = build()
    random_weights(model, 20)
    assert_saved_and_loaded(model, arrays, tmp_path, layer_types)
