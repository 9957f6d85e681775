"""`kerastack.position.compat`: keras-pos-embd's names, arguments, defaults,
weight shapes, masks and config keys, checked against NumPy re-implementations
of the original arithmetic and against keras-pos-embd's own test values.

Letters: B batch, T sequence length, D feature size.
"""

import keras
import numpy as np
import pytest
from absl.testing import parameterized

from kerastack.position import PositionEmbedding as ModernPositionEmbedding
from kerastack.position import SinePositionEncoding, compat
from tests import goldens
from tests.position import reference
from tests.position.helpers import PADDED_IDS, mask_model
from tests.testing import FLOAT32_ATOL, FLOAT32_RTOL, TestCase, to_numpy

BASE_LAYER_KEYS = set(keras.layers.Layer().get_config())  # name, trainable, dtype, ...
# keras-pos-embd 0.13's get_config keys.
POSITION_EMBEDDING_KEYS = {
    "input_dim",
    "output_dim",
    "mode",
    "embeddings_initializer",
    "embeddings_regularizer",
    "activity_regularizer",
    "embeddings_constraint",
    "mask_zero",
}
TRIG_KEYS = {"mode", "output_dim"}


def legacy_layer(mode, input_dim=6, output_dim=4, features=3, seed=0, **kwargs):
    """A built compat PositionEmbedding holding a random table."""
    layer = compat.PositionEmbedding(input_dim, output_dim, mode=mode, **kwargs)
    layer.build((None, None) if mode == "expand" else (None, None, features))
    table = np.random.default_rng(seed).normal(size=tuple(layer.embeddings.shape))
    layer.set_weights([table.astype("float32")])
    return layer, table


class CompatLayerTest(TestCase):
    @parameterized.named_parameters(
        ("expand", {"mode": "expand"}, (2, 5), (2, 5, 4)),
        ("concat", {"mode": "concat", "embeddings_regularizer": "l2"}, (2, 5, 3), (2, 5, 7)),
    )
    def test_position_embedding(self, kwargs, input_shape, output_shape):
        input_data = None
        if kwargs["mode"] == "expand":
            input_data = np.array([[-9, -1, 0, 2, 40], [1, 2, 3, 4, 5]], "int32")
        self.run_layer_test(
            compat.PositionEmbedding,
            init_kwargs={"input_dim": 6, "output_dim": 4, **kwargs},
            input_shape=None if input_data is not None else input_shape,
            input_data=input_data,
            expected_output_shape=output_shape,
            expected_num_trainable_weights=1,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=1 if "embeddings_regularizer" in kwargs else 0,
            supports_masking=True,
        )

    @parameterized.named_parameters(
        ("add", {}, (2, 5, 4), (2, 5, 4)),
        ("concat", {"mode": "concat", "output_dim": 6}, (2, 5, 3), (2, 5, 9)),
        ("expand", {"mode": "expand", "output_dim": 6}, (2, 5), (2, 5, 6)),
    )
    def test_trig_pos_embedding(self, kwargs, input_shape, output_shape):
        self.run_layer_test(
            compat.TrigPosEmbedding,
            init_kwargs=kwargs,
            input_shape=input_shape,
            expected_output_shape=output_shape,
            expected_num_trainable_weights=0,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            supports_masking=True,
            run_training_check=False,  # nothing to train
        )

    def test_save_load(self):
        inputs = keras.Input((None,), dtype="int32")
        tokens = keras.layers.Embedding(10, 4, mask_zero=True)(inputs)
        x = compat.PositionEmbedding(8, 4, mode="add", name="legacy")(tokens)
        x = compat.TrigPosEmbedding(mode="concat", output_dim=2, name="trig")(x)
        outputs = keras.layers.Dense(2)(x)
        model = keras.Model(inputs, outputs)
        restored = self.run_save_load_check(model, PADDED_IDS)
        self.assertIs(type(restored.get_layer("legacy")), compat.PositionEmbedding)
        self.assertIs(type(restored.get_layer("trig")), compat.TrigPosEmbedding)
        self.assertEqual(restored.get_layer("trig").output_dim, 2)

    def test_precision(self):
        x = np.random.default_rng(1).normal(size=(2, 4, 4)).astype("float32")

        def make(policy):
            return compat.PositionEmbedding(5, 4, mode="add", dtype=policy)

        self.run_precision_check(make, (x,))


# PositionEmbedding


def test_position_embedding_defaults_and_constants():
    layer = compat.PositionEmbedding(10, 2)
    assert layer.mode == compat.PositionEmbedding.MODE_EXPAND == "expand"
    assert compat.PositionEmbedding.MODE_ADD == "add"
    assert compat.PositionEmbedding.MODE_CONCAT == "concat"
    assert layer.mask_zero is False
    config = layer.get_config()
    assert config["embeddings_initializer"]["class_name"] == "RandomUniform"
    assert set(config) - (BASE_LAYER_KEYS - POSITION_EMBEDDING_KEYS) == POSITION_EMBEDDING_KEYS


@pytest.mark.parametrize(
    "mode, input_shape, table_shape",
    [
        ("expand", (None, None), (21, 2)),
        ("add", (None, None, 2), (10, 2)),
        ("concat", (None, None, 5), (10, 2)),
    ],
)
def test_position_embedding_weight(mode, input_shape, table_shape):
    layer = compat.PositionEmbedding(10, 2, mode=mode)
    layer.build(input_shape)
    assert [w.name for w in layer.weights] == ["embeddings"]
    assert tuple(layer.embeddings.shape) == table_shape


def test_expand_golden_values_from_keras_pos_embd():
    # keras-pos-embd's test_index and test_mask_zero: positions -4 and 10;
    # 100 clips to 10 (tests/goldens.py).
    layer = compat.PositionEmbedding(input_dim=10, output_dim=2, mode="expand", mask_zero=100)
    layer.build((None, None))
    layer.set_weights([goldens.keras_pos_embd_expand_table()])
    ids = goldens.KERAS_POS_EMBD_EXPAND_IDS
    np.testing.assert_allclose(
        to_numpy(layer(ids)), goldens.KERAS_POS_EMBD_EXPAND_OUTPUTS, atol=1e-6
    )
    np.testing.assert_array_equal(
        to_numpy(layer.compute_mask(ids)), goldens.KERAS_POS_EMBD_EXPAND_MASK
    )


def test_add_and_concat_golden_values_from_keras_pos_embd():
    table = goldens.keras_pos_embd_add_table()
    x = np.ones((1, 5, 2), "float32")
    add, _ = legacy_layer("add", 10, 2, features=2)
    add.set_weights([table])
    predicts = to_numpy(add(x))[0]
    for row, expected in goldens.KERAS_POS_EMBD_ADD_ROWS.items():
        np.testing.assert_allclose(predicts[row], expected, atol=1e-6)
    concat, _ = legacy_layer("concat", 10, 2, features=2)
    concat.set_weights([table])
    predicts = to_numpy(concat(x))[0]
    for row, expected in goldens.KERAS_POS_EMBD_CONCAT_ROWS.items():
        np.testing.assert_allclose(predicts[row], expected, atol=1e-6)


def test_expand_parity_with_reference():
    layer, table = legacy_layer("expand", input_dim=6, output_dim=4)
    positions = np.array([[-100, -6, -5, 0, 3, 6, 7, 100], [1, 2, 3, 4, 5, 6, 0, -1]])
    expected = reference.legacy_embedding_expand(table, positions, 6)
    np.testing.assert_allclose(
        to_numpy(layer(positions.astype("int32"))), expected, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL
    )
    # Float positions are truncated to int32, as before.
    np.testing.assert_allclose(
        to_numpy(layer(np.array([[2.7, -1.5]], "float32"))),
        reference.legacy_embedding_expand(table, [[2, -1]], 6),
        atol=FLOAT32_ATOL,
    )


@pytest.mark.parametrize("features", [2, 4])  # add uses the first D of 4 columns
def test_add_parity_with_reference(features):
    layer, table = legacy_layer("add", input_dim=6, output_dim=4, features=features)
    x = np.random.default_rng(4).normal(size=(3, 5, features)).astype("float32")
    expected = reference.legacy_embedding_add(table, x)
    np.testing.assert_allclose(to_numpy(layer(x)), expected, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL)


def test_concat_parity_with_reference():
    layer, table = legacy_layer("concat", input_dim=6, output_dim=4, features=3)
    x = np.random.default_rng(5).normal(size=(3, 6, 3)).astype("float32")
    expected = reference.legacy_embedding_concat(table, x)
    np.testing.assert_allclose(to_numpy(layer(x)), expected, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL)


def test_masks():
    ids = PADDED_IDS
    # add / concat: the incoming mask passes through.
    for mode in ("add", "concat"):
        model = mask_model(lambda mode=mode: compat.PositionEmbedding(8, 4, mode=mode))
        np.testing.assert_array_equal(to_numpy(model(ids)), ids != 0)
    # expand: a mask only from mask_zero, compared with the position values.
    positions = np.array([[0, 1, 2, 7]], "int32")
    for mask_zero, expected in [
        (False, None),
        (0, None),  # falsy: no mask, as before
        (7, [[True, True, True, False]]),
        (True, [[True, False, True, True]]),  # True == 1, as before
    ]:
        mask = compat.PositionEmbedding(8, 2, mask_zero=mask_zero).compute_mask(positions)
        if expected is None:
            assert mask is None
        else:
            np.testing.assert_array_equal(to_numpy(mask), expected)


def test_position_embedding_config_round_trip():
    layer = compat.PositionEmbedding(
        5,
        3,
        mode=compat.PositionEmbedding.MODE_CONCAT,
        embeddings_initializer="ones",
        embeddings_regularizer="l2",
        activity_regularizer="l1",
        embeddings_constraint="non_neg",
        mask_zero=9,
        name="pos",
    )
    config = layer.get_config()
    assert set(config) - (BASE_LAYER_KEYS - POSITION_EMBEDDING_KEYS) == POSITION_EMBEDDING_KEYS
    restored = compat.PositionEmbedding.from_config(config)
    assert restored.get_config() == config
    assert (restored.mode, restored.mask_zero, restored.input_dim) == ("concat", 9, 5)


def test_registered_under_a_distinct_name():
    legacy = keras.saving.get_registered_name(compat.PositionEmbedding)
    modern = keras.saving.get_registered_name(ModernPositionEmbedding)
    assert legacy == "kerastack>LegacyPositionEmbedding"
    assert modern == "kerastack>PositionEmbedding"
    assert keras.saving.get_registered_name(compat.TrigPosEmbedding) == "kerastack>TrigPosEmbedding"


def test_old_names_load_with_custom_objects():
    objects = compat.get_custom_objects()
    assert objects == {
        "PositionEmbedding": compat.PositionEmbedding,
        "TrigPosEmbedding": compat.TrigPosEmbedding,
    }
    for layer in (compat.PositionEmbedding(4, 2, mode="add"), compat.TrigPosEmbedding()):
        config = {"class_name": type(layer).__name__, "config": layer.get_config()}
        restored = keras.layers.deserialize(config, custom_objects=objects)
        assert type(restored) is type(layer)


@pytest.mark.parametrize("mode", ["append", "", None, "ADD"])
def test_unknown_mode(mode):
    with pytest.raises(ValueError, match=rf"mode={mode!r}"):
        compat.PositionEmbedding(4, 2, mode=mode)
    with pytest.raises(ValueError, match=rf"mode={mode!r}"):
        compat.TrigPosEmbedding(mode=mode, output_dim=2)


@pytest.mark.parametrize("name", ["input_dim", "output_dim"])
@pytest.mark.parametrize("value", [0, -1, 2.5, None])
def test_bad_dims(name, value):
    kwargs = {"input_dim": 4, "output_dim": 2, name: value}
    with pytest.raises(ValueError, match=rf"{name}={value!r}"):
        compat.PositionEmbedding(**kwargs)


def test_add_shape_errors():
    with pytest.raises(ValueError, match=r"6 positions, more than input_dim=4"):
        compat.PositionEmbedding(4, 2, mode="add")(np.zeros((1, 6, 2), "float32"))
    with pytest.raises(ValueError, match=r"D=3 with output_dim=2"):
        compat.PositionEmbedding(4, 2, mode="add")(np.zeros((1, 3, 3), "float32"))


# TrigPosEmbedding


def test_trig_defaults():
    layer = compat.TrigPosEmbedding()
    assert layer.mode == compat.TrigPosEmbedding.MODE_ADD == "add"
    assert layer.output_dim is None
    assert set(layer.get_config()) - BASE_LAYER_KEYS == TRIG_KEYS


@pytest.mark.parametrize(
    "mode, shape, output_dim",
    [("add", (2, 7, 6), None), ("concat", (2, 7, 3), 8), ("expand", (2, 7), 10)],
)
def test_trig_parity_with_reference(mode, shape, output_dim):
    rng = np.random.default_rng(6)
    if mode == "expand":  # any positions, negative and fractional included
        x = rng.uniform(-20, 20, size=shape).astype("float32")
    else:
        x = rng.normal(size=shape).astype("float32")
    layer = compat.TrigPosEmbedding(mode=mode, output_dim=output_dim)
    expected = reference.legacy_trig(mode, x, output_dim)
    np.testing.assert_allclose(to_numpy(layer(x)), expected, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL)


def test_trig_golden_values():
    # keras-pos-embd's test_brute formula on positions 0 and 1, width 4.
    layer = compat.TrigPosEmbedding(mode="expand", output_dim=4)
    actual = to_numpy(layer(goldens.TRIG_POSITIONS))[0]
    np.testing.assert_allclose(actual, goldens.TRIG_OUTPUTS, atol=1e-6)


def test_trig_add_is_sine_position_encoding_added():
    x = np.random.default_rng(7).normal(size=(2, 5, 8)).astype("float32")
    expected = x + to_numpy(SinePositionEncoding()(x))
    np.testing.assert_allclose(to_numpy(compat.TrigPosEmbedding()(x)), expected, atol=1e-6)


def test_trig_mask_passes_through():
    ids = PADDED_IDS
    for kwargs in ({}, {"mode": "concat", "output_dim": 2}):
        model = mask_model(lambda kwargs=kwargs: compat.TrigPosEmbedding(**kwargs))
        np.testing.assert_array_equal(to_numpy(model(ids)), ids != 0)


def test_trig_config_round_trip():
    layer = compat.TrigPosEmbedding(mode=compat.TrigPosEmbedding.MODE_CONCAT, output_dim=6)
    config = layer.get_config()
    restored = compat.TrigPosEmbedding.from_config(config)
    assert restored.get_config() == config
    assert (restored.mode, restored.output_dim) == ("concat", 6)


@pytest.mark.parametrize("mode", ["expand", "concat"])
@pytest.mark.parametrize("output_dim", [None, 5, 0])
def test_trig_bad_output_dim(mode, output_dim):
    with pytest.raises(ValueError, match=rf"output_dim={output_dim}"):
        compat.TrigPosEmbedding(mode=mode, output_dim=output_dim)


def test_trig_add_needs_an_even_width():
    with pytest.raises(ValueError, match=r"even width; received width 5"):
        compat.TrigPosEmbedding()(np.zeros((1, 3, 5), "float32"))


@pytest.mark.parametrize("error", [NotImplementedError, ValueError])
def test_trig_output_dim_errors_are_both_classes(error):
    """keras-pos-embd raised NotImplementedError for a missing or odd
    `output_dim`; kerastack's error is a ValueError too."""
    with pytest.raises(error, match="required in mode='concat'"):
        compat.TrigPosEmbedding(mode=compat.TrigPosEmbedding.MODE_CONCAT)
    with pytest.raises(error, match="must be even"):
        compat.TrigPosEmbedding(mode=compat.TrigPosEmbedding.MODE_CONCAT, output_dim=5)


def test_mode_read_back_from_an_old_h5_config():
    """Keras 3's loader of old `.h5` model files hands the saved `"add"` over
    as the function `keras.layers.add`: it is read as the mode `"add"`."""
    embedding = compat.PositionEmbedding.from_config(
        {"input_dim": 5, "output_dim": 4, "mode": keras.layers.add}
    )
    trig = compat.TrigPosEmbedding.from_config({"mode": keras.layers.add})
    assert (embedding.mode, trig.mode) == ("add", "add")
    with pytest.raises(ValueError, match="mode"):
        compat.PositionEmbedding(5, 4, mode=keras.layers.concatenate)
