"""`SinePositionEncoding`: harness, golden values, parity with a NumPy
reference and with the paper's formula, start_index, odd widths, masking,
precision, saving and argument checks.

Letters: B batch, T sequence length, D feature size.
"""

import keras
import numpy as np
import pytest
from absl.testing import parameterized

from kerastack.position import SinePositionEncoding
from tests import goldens
from tests.position import reference
from tests.position.helpers import PADDED_IDS, decode_step_by_step, mask_model
from tests.testing import FLOAT32_ATOL, FLOAT32_RTOL, TestCase, to_numpy

# Few distinct shapes, reused across tests: JAX compiles each op once per shape.
SHAPE = (2, 6, 4)  # (B, T, D)
ODD_SHAPE = (2, 6, 5)


class SinePositionEncodingLayerTest(TestCase):
    @parameterized.named_parameters(
        ("default", {}, SHAPE, {}),
        ("odd_width_shifted", {"max_wavelength": 100}, ODD_SHAPE, {"start_index": 4}),
    )
    def test_layer(self, init_kwargs, input_shape, call_kwargs):
        self.run_layer_test(
            SinePositionEncoding,
            init_kwargs=init_kwargs,
            input_shape=input_shape,
            call_kwargs=call_kwargs,
            expected_output_shape=input_shape,
            expected_num_trainable_weights=0,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            supports_masking=True,
            run_training_check=False,  # nothing to train
        )

    def test_config_round_trip(self):
        layer = SinePositionEncoding(max_wavelength=500, name="sines")
        config = layer.get_config()
        self.assertEqual(config["max_wavelength"], 500)
        restored = SinePositionEncoding.from_config(config)
        self.assertEqual(restored.get_config(), config)

    def test_save_load(self):
        inputs = keras.Input((None,), dtype="int32")
        tokens = keras.layers.Embedding(10, 4, mask_zero=True)(inputs)
        positions = SinePositionEncoding(max_wavelength=1000, name="sines")(tokens)
        x = keras.layers.Add()([tokens, positions])
        outputs = keras.layers.Dense(2)(x)
        model = keras.Model(inputs, outputs)
        restored = self.run_save_load_check(model, PADDED_IDS)
        self.assertEqual(restored.get_layer("sines").max_wavelength, 1000)

    @parameterized.named_parameters(("far", 2000))
    def test_precision(self, start_index):
        # Angles are computed in float32 whatever the policy, so even far
        # positions match the float32 layer to the half type's rounding.
        x = np.zeros(SHAPE, "float32")

        def make(policy):
            return SinePositionEncoding(dtype=policy)

        self.run_precision_check(make, (x,), {"start_index": start_index})


def test_golden_values():
    # D = 4 from position 0, and an odd D = 5 with max_wavelength 32 from
    # position 4: see tests/goldens.py.
    for features, max_wavelength, start_index, expected in goldens.sine_goldens():
        x = np.zeros(SHAPE[:2] + (features,), "float32")
        actual = to_numpy(SinePositionEncoding(max_wavelength)(x, start_index=start_index))
        np.testing.assert_allclose(actual[0, : len(expected)], expected, atol=1e-6)


@pytest.mark.parametrize(
    "features, max_wavelength, start_index", [(4, 10000, 0), (5, 100, 9), (16, 10000, 9)]
)
def test_parity_with_reference(features, max_wavelength, start_index):
    layer = SinePositionEncoding(max_wavelength)
    x = np.random.default_rng(0).normal(size=(2, 6, features)).astype("float32")
    expected = reference.sine_position_encoding(6, features, max_wavelength, start_index)
    actual = to_numpy(layer(x, start_index=start_index))
    assert actual.shape == (2, 6, features)
    for row in actual:  # the same for every batch entry, whatever the values
        np.testing.assert_allclose(row, expected, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL)


@pytest.mark.parametrize("d_model, start_index", [(4, 30), (16, 3)])
def test_parity_with_the_paper(d_model, start_index):
    layer = SinePositionEncoding()
    expected = reference.paper_positional_encoding(6, d_model, start_index=start_index)
    actual = to_numpy(layer(np.zeros((2, 6, d_model), "float32"), start_index=start_index))[1]
    np.testing.assert_allclose(actual, expected, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL)


def test_tensor_start_index_and_decoding_loop():
    layer = SinePositionEncoding()
    x = np.zeros(SHAPE, "float32")
    full = to_numpy(layer(x))
    shifted = layer(x[:, 2:], start_index=keras.ops.convert_to_tensor(2, "int32"))
    np.testing.assert_array_equal(to_numpy(shifted), full[:, 2:])
    np.testing.assert_array_equal(decode_step_by_step(layer, x), full)


def test_mask_passes_through():
    ids = PADDED_IDS
    mask = to_numpy(mask_model(SinePositionEncoding)(ids))
    np.testing.assert_array_equal(mask, ids != 0)


def test_has_no_weights():
    layer = SinePositionEncoding()
    layer(np.zeros(SHAPE, "float32"))
    assert layer.weights == []


@pytest.mark.parametrize("value", [0, -1.5, "10000", None, True])
def test_bad_max_wavelength(value):
    with pytest.raises(ValueError, match=rf"max_wavelength={value!r}"):
        SinePositionEncoding(value)


def test_bad_input_rank():
    with pytest.raises(ValueError, match=r"rank >= 2.*\(4,\)"):
        SinePositionEncoding()(np.zeros((4,), "float32"))
