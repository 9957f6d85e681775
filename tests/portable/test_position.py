"""kerastack.position on every lane: `PositionEmbedding`,
`SinePositionEncoding`, `RotaryEmbedding` and keras-pos-embd's names in
`compat`, against the NumPy references, the paper and golden values, with
masks passing through, and `.h5` save/load.

Letters: B batch, T sequence length, N heads, H / D feature size.
"""

import numpy as np
import pytest

from kerastack.core import keras
from kerastack.position import PositionEmbedding, RotaryEmbedding, SinePositionEncoding, compat
from tests import goldens
from tests.portable.helpers import (
    KERAS_ARRAY_WARNING,
    SET_BY_TEST,
    assert_close,
    assert_saved_and_loaded,
    model_on,
    normal,
    predict,
    random_weights,
    run,
)
from tests.position import reference
from tests.tolerances import GOLDEN_ATOL

pytestmark = KERAS_ARRAY_WARNING

# Token ids `(B, T)` with padding (id 0) at the end.
PADDED_IDS = np.array([[3, 1, 0, 0, 0, 0], [2, 2, 2, 2, 2, 0]], "int32")


def legacy_position_embedding(input_dim, output_dim, **kwargs):
    return compat.PositionEmbedding(
        input_dim, output_dim, embeddings_initializer=SET_BY_TEST, **kwargs
    )


# -- PositionEmbedding ----------------------------------------------------------------


def test_position_embedding_parity():
    # Rows start_index .. start_index + T - 1 of the table; values never read.
    x = normal(1, 2, 3, 4)
    layer = PositionEmbedding(8, initializer=SET_BY_TEST)
    model = model_on(lambda x: [layer(x), layer(x, start_index=2), layer(x, start_index=5)], x)
    (table,) = random_weights(layer, 1)
    for actual, start_index in zip(predict(model, x), (0, 2, 5), strict=True):
        assert_close(actual, reference.position_embedding(table, x.shape, start_index))


def test_position_embedding_golden():
    x = np.full((2, 2, 3), 100.0, "float32")
    layer = PositionEmbedding(4, initializer=SET_BY_TEST)
    model = model_on(lambda x: layer(x, start_index=1), x)
    layer.set_weights([goldens.POSITION_TABLE])
    np.testing.assert_array_equal(predict(model, x), [goldens.POSITION_ROWS_1_2] * 2)


# -- SinePositionEncoding ----------------------------------------------------------------


@pytest.mark.parametrize(
    "features, max_wavelength, start_index", [(4, 10000, 0), (5, 100, 9), (16, 10000, 3)]
)
def test_sine_parity(features, max_wavelength, start_index):
    x = normal(2, 2, 6, features)
    outputs = run(lambda x: SinePositionEncoding(max_wavelength)(x, start_index=start_index), x)
    expected = reference.sine_position_encoding(6, features, max_wavelength, start_index)
    for row in outputs:  # the same for every batch entry, whatever the values
        assert_close(row, expected)


def test_sine_parity_with_the_paper():
    x = np.zeros((1, 6, 4), "float32")
    outputs = run(lambda x: SinePositionEncoding()(x, start_index=30), x)
    assert_close(outputs[0], reference.paper_positional_encoding(6, 4, start_index=30))


def test_sine_golden():
    cases = goldens.sine_goldens()
    arrays = [np.zeros((1, 6, features), "float32") for features, _, _, _ in cases]

    def fn(*inputs):
        return [
            SinePositionEncoding(max_wavelength)(x, start_index=start_index)
            for x, (_, max_wavelength, start_index, _) in zip(inputs, cases, strict=True)
        ]

    for actual, (*_, rows) in zip(run(fn, *arrays), cases, strict=True):
        assert_close(actual[0, : len(rows)], rows, atol=GOLDEN_ATOL)


# -- RotaryEmbedding ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, options",
    [
        ((2, 6, 4), {}),
        ((2, 6, 3, 8), {"start_index": 11}),
        ((2, 3, 6, 8), {"sequence_axis": 2, "max_wavelength": 100, "scaling_factor": 4.0}),
        ((2, 8, 6), {"sequence_axis": 2, "feature_axis": 1, "start_index": 5}),  # (B, H, T)
    ],
)
def test_rotary_parity(shape, options):
    options = dict(options)
    start_index = options.pop("start_index", 0)
    x = normal(3, *shape)
    outputs = run(lambda x: RotaryEmbedding(**options)(x, start_index=start_index), x)
    assert_close(outputs, reference.rotary(x, start_index, **options))


def test_rotary_golden():
    unit, expected = goldens.rotary_unit_vectors(6)
    scaled = np.zeros((2, 3, 4), "float32")
    scaled[:, goldens.ROTARY_SCALED_POSITION] = goldens.ROTARY_SCALED_VECTOR

    def fn(unit, scaled):
        return [RotaryEmbedding()(unit), RotaryEmbedding(100, scaling_factor=2.0)(scaled)]

    rotated, rotated_scaled = run(fn, unit, scaled)
    assert_close(rotated, expected, atol=GOLDEN_ATOL)
    assert_close(
        rotated_scaled[0, goldens.ROTARY_SCALED_POSITION],
        goldens.ROTARY_SCALED_OUTPUT,
        atol=GOLDEN_ATOL,
    )


def test_rotary_scores_depend_only_on_relative_position():
    # <R(q, i), R(k, j)> = <R(q, i + s), R(k, j + s)> = <R(q, i - j), R(k, 0)>.
    q, k = normal(4, 2, 1, 3, 8), normal(5, 2, 1, 3, 8)  # (B, 1, N, H)
    layer = RotaryEmbedding()
    positions = [(7, 3), (12, 8), (4, 0)]

    def fn(q, k):
        return [layer(x, start_index=p) for i, j in positions for x, p in ((q, i), (k, j))]

    rotated = run(fn, q, k)
    scores = [(rotated[2 * n] * rotated[2 * n + 1]).sum(-1) for n in range(len(positions))]
    assert_close(scores[1], scores[0], atol=1e-4, rtol=1e-4)
    assert_close(scores[2], scores[0], atol=1e-4, rtol=1e-4)
    assert not np.allclose(scores[0], (q * k).sum(-1))


# -- masks --------------------------------------------------------------------------------


def test_masks_pass_through():
    # Embedding(mask_zero=True) -> each layer -> GlobalAveragePooling1D, which
    # averages the real positions only when the mask reaches it.
    embedding = keras.layers.Embedding(10, 4, mask_zero=True, embeddings_initializer=SET_BY_TEST)
    trig = compat.TrigPosEmbedding()
    legacy_add = legacy_position_embedding(8, 4, mode="add")
    legacy_concat = legacy_position_embedding(8, 2, mode="concat")
    learned = PositionEmbedding(8, initializer=SET_BY_TEST)
    pool = keras.layers.GlobalAveragePooling1D()

    def fn(ids):
        x = embedding(ids)
        return [
            pool(keras.layers.Add()([x, learned(x)])),
            pool(keras.layers.Add()([x, SinePositionEncoding()(x)])),
            pool(RotaryEmbedding()(x)),
            pool(trig(x)),
            pool(legacy_add(x)),
            pool(legacy_concat(x)),
        ]

    model = model_on(fn, PADDED_IDS)
    (table,) = random_weights(embedding, 6)
    (positions,) = random_weights(learned, 7)
    (legacy_add_table,) = random_weights(legacy_add, 8)
    (legacy_concat_table,) = random_weights(legacy_concat, 9)
    x = table[PADDED_IDS].astype("float64")  # (B, T, D)
    sequences = [
        x + positions[:6],
        x + reference.sine_position_encoding(6, 4),
        reference.rotary(x),
        reference.legacy_trig("add", x),
        reference.legacy_embedding_add(legacy_add_table, x),
        reference.legacy_embedding_concat(legacy_concat_table, x),
    ]
    mask = (PADDED_IDS != 0)[..., None]
    for actual, sequence in zip(predict(model, PADDED_IDS), sequences, strict=True):
        assert_close(actual, (sequence * mask).sum(1) / mask.sum(1))


# -- compat: keras-pos-embd's names ------------------------------------------------------


def test_compat_position_embedding_parity():
    # expand: the table row of each (clipped, truncated) position; add:
    # x + table[:T, :D]; concat: [x, table[:T]].
    positions = np.array([[-100, -6, -5, 0, 3, 6, 7, 100], [1, 2, 3, 4, 5, 6, 0, -1]], "int32")
    float_positions = np.array([[2.7, -1.5, 0.0, 5.9]] * 2, "float32")
    x = normal(10, 2, 5, 2)
    expand = legacy_position_embedding(6, 4, mode="expand")
    add = legacy_position_embedding(6, 4, mode="add")
    concat = legacy_position_embedding(6, 4, mode="concat")
    model = model_on(
        lambda p, f, x: [expand(p), expand(f), add(x), concat(x)], positions, float_positions, x
    )
    (expand_table,), (add_table,), (concat_table,) = (
        random_weights(layer, seed, scale=1.0) for seed, layer in enumerate((expand, add, concat))
    )
    expanded, truncated, added, concatenated = predict(model, positions, float_positions, x)
    assert_close(expanded, reference.legacy_embedding_expand(expand_table, positions, 6))
    assert_close(truncated, reference.legacy_embedding_expand(expand_table, [[2, -1, 0, 5]] * 2, 6))
    assert_close(added, reference.legacy_embedding_add(add_table, x))
    assert_close(concatenated, reference.legacy_embedding_concat(concat_table, x))


def test_compat_position_embedding_expand_golden_and_mask_zero():
    # mask_zero=100 masks the position 100: the pooled output leaves it out.
    layer = legacy_position_embedding(10, 2, mode="expand", mask_zero=100)
    pool = keras.layers.GlobalAveragePooling1D()
    ids = goldens.KERAS_POS_EMBD_EXPAND_IDS
    model = model_on(lambda ids: [layer(ids), pool(layer(ids))], ids)
    layer.set_weights([goldens.keras_pos_embd_expand_table()])
    outputs, pooled = predict(model, ids)
    assert_close(outputs, goldens.KERAS_POS_EMBD_EXPAND_OUTPUTS, atol=GOLDEN_ATOL)
    mask = np.asarray(goldens.KERAS_POS_EMBD_EXPAND_MASK)[..., None]
    assert_close(pooled, (outputs * mask).sum(1) / mask.sum(1), atol=GOLDEN_ATOL)


def test_compat_position_embedding_add_and_concat_golden():
    x = np.ones((1, 5, 2), "float32")
    add = legacy_position_embedding(10, 2, mode="add")
    concat = legacy_position_embedding(10, 2, mode="concat")
    model = model_on(lambda x: [add(x), concat(x)], x)
    for layer in (add, concat):
        layer.set_weights([goldens.keras_pos_embd_add_table()])
    added, concatenated = predict(model, x)
    for row, expected in goldens.KERAS_POS_EMBD_ADD_ROWS.items():
        assert_close(added[0, row], expected, atol=GOLDEN_ATOL)
    for row, expected in goldens.KERAS_POS_EMBD_CONCAT_ROWS.items():
        assert_close(concatenated[0, row], expected, atol=GOLDEN_ATOL)


def test_compat_trig_pos_embedding_parity():
    x = normal(11, 2, 7, 6)
    positions = np.random.default_rng(11).uniform(-20, 20, size=(2, 7)).astype("float32")

    def fn(x, positions):
        return [
            compat.TrigPosEmbedding()(x),
            compat.TrigPosEmbedding(mode="concat", output_dim=8)(x),
            compat.TrigPosEmbedding(mode="expand", output_dim=10)(positions),
        ]

    added, concatenated, expanded = run(fn, x, positions)
    assert_close(added, reference.legacy_trig("add", x))
    assert_close(concatenated, reference.legacy_trig("concat", x, 8))
    assert_close(expanded, reference.legacy_trig("expand", positions, 10))


def test_compat_trig_pos_embedding_golden():
    layer = compat.TrigPosEmbedding(mode="expand", output_dim=4)
    outputs = run(layer, goldens.TRIG_POSITIONS)
    assert_close(outputs[0], goldens.TRIG_OUTPUTS, atol=GOLDEN_ATOL)


# -- saving ---------------------------------------------------------------------------


def saved_position_layers():
    """PositionEmbedding, SinePositionEncoding and RotaryEmbedding in one model."""
    x = normal(12, 2, 6, 8)
    learned = PositionEmbedding(8, initializer=SET_BY_TEST, name="learned")
    sines = SinePositionEncoding(max_wavelength=1000, name="sines")
    rotary = RotaryEmbedding(max_wavelength=50, scaling_factor=2.0, name="rotary")
    dense = keras.layers.Dense(3, kernel_initializer=SET_BY_TEST)

    def fn(x):
        y = keras.layers.Add()([x, learned(x), sines(x)])
        y = keras.layers.Reshape((6, 2, 4))(y)  # (B, T, N, H)
        y = keras.layers.Reshape((6, 8))(rotary(y))
        return dense(y)

    types = [("learned", PositionEmbedding), ("sines", SinePositionEncoding)]
    return model_on(fn, x), (x,), types + [("rotary", RotaryEmbedding)]


def saved_compat():
    """keras-pos-embd's two layers in one model."""
    positions = np.array([[-3, 0, 1, 2, 9], [4, 3, 2, 1, 0]], "int32")
    learned = legacy_position_embedding(4, 4, name="learned")
    trig = compat.TrigPosEmbedding(mode="concat", output_dim=2, name="trig")
    dense = keras.layers.Dense(3, kernel_initializer=SET_BY_TEST)
    model = model_on(lambda p: dense(trig(learned(p))), positions)
    types = [("learned", compat.PositionEmbedding), ("trig", compat.TrigPosEmbedding)]
    return model, (positions,), types


@pytest.mark.parametrize(
    "build", [saved_position_layers, saved_compat], ids=["position_layers", "compat"]
)
def test_h5_save_load(build, tmp_path):
    model, arrays, layer_types = build()
    random_weights(model, 13)
    assert_saved_and_loaded(model, arrays, tmp_path, layer_types)
