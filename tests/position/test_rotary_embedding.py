"""`RotaryEmbedding`: harness, golden values, NumPy parity on rank-3, rank-4
and transposed layouts, the relative-position property, incremental decoding
(full pass == one step at a time, exactly), masking, precision, saving and
argument checks.

Letters: B batch, T sequence length, N heads, H feature (head) size.
"""

import keras
import numpy as np
import pytest
from absl.testing import parameterized
from hypothesis import given, settings
from hypothesis import strategies as st

from kerastack.position import RotaryEmbedding
from tests import goldens
from tests.position import reference
from tests.position.helpers import PADDED_IDS, decode_step_by_step, mask_model
from tests.testing import FLOAT32_ATOL, FLOAT32_RTOL, TestCase, to_numpy

PROPERTY_SETTINGS = settings(max_examples=10, deadline=None, derandomize=True)
# Few distinct shapes, reused across tests: JAX compiles each op once per shape.
RANK_3 = (2, 6, 4)  # (B, T, H)
RANK_4 = (2, 6, 3, 8)  # (B, T, N, H)


def random(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


class RotaryEmbeddingLayerTest(TestCase):
    @parameterized.named_parameters(
        ("rank_3", {"scaling_factor": 2.0, "max_wavelength": 100}, RANK_3, {"start_index": 3}),
        ("rank_4", {}, RANK_4, {}),
    )
    def test_layer(self, init_kwargs, input_shape, call_kwargs):
        self.run_layer_test(
            RotaryEmbedding,
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
        layer = RotaryEmbedding(
            max_wavelength=500, scaling_factor=4.0, sequence_axis=2, feature_axis=1, name="rope"
        )
        config = layer.get_config()
        for key, value in {
            "max_wavelength": 500,
            "scaling_factor": 4.0,
            "sequence_axis": 2,
            "feature_axis": 1,
        }.items():
            self.assertEqual(config[key], value)
        restored = RotaryEmbedding.from_config(config)
        self.assertEqual(restored.get_config(), config)

    def test_save_load(self):
        inputs = keras.Input((None, 5))
        x = keras.layers.Dense(24)(inputs)
        x = keras.layers.Reshape((-1, 3, 8))(x)  # (B, T, N, H)
        x = RotaryEmbedding(max_wavelength=50, scaling_factor=2.0, name="rope")(x)
        x = keras.layers.Reshape((-1, 24))(x)
        outputs = keras.layers.Dense(3)(x)
        model = keras.Model(inputs, outputs)
        restored = self.run_save_load_check(model, random((2, 6, 5)))
        self.assertEqual(restored.get_layer("rope").scaling_factor, 2.0)

    @parameterized.named_parameters(("far", 1000))
    def test_precision(self, start_index):
        x = random(RANK_4)

        def make(policy):
            return RotaryEmbedding(dtype=policy)

        self.run_precision_check(make, (x,), {"start_index": start_index})


def test_golden_values():
    # Unit vectors e0 and e1 turning with the position, and one vector under
    # max_wavelength 100 and scaling 2: see tests/goldens.py.
    x, expected = goldens.rotary_unit_vectors(RANK_3[1])
    np.testing.assert_allclose(to_numpy(RotaryEmbedding()(x)), expected, atol=1e-6)
    x[0, goldens.ROTARY_SCALED_POSITION] = goldens.ROTARY_SCALED_VECTOR
    actual = to_numpy(RotaryEmbedding(100, scaling_factor=2.0)(x))
    np.testing.assert_allclose(
        actual[0, goldens.ROTARY_SCALED_POSITION], goldens.ROTARY_SCALED_OUTPUT, atol=1e-6
    )


@pytest.mark.parametrize(
    "shape, options",
    [
        (RANK_3, {}),
        (RANK_4, {"start_index": 11}),
        ((2, 3, 6, 8), {"sequence_axis": 2, "max_wavelength": 100, "scaling_factor": 4.0}),
        ((2, 8, 6), {"sequence_axis": 2, "feature_axis": 1, "start_index": 5}),  # (B, H, T)
        ((2, 6, 8, 3), {"feature_axis": 2, "scaling_factor": 0.5}),  # (B, T, H, N)
    ],
)
def test_parity_with_reference(shape, options):
    options = dict(options)
    start_index = options.pop("start_index", 0)
    layer = RotaryEmbedding(**options)
    x = random(shape, seed=1)
    expected = reference.rotary(x, start_index, **options)
    actual = to_numpy(layer(x, start_index=start_index))
    assert actual.shape == shape
    np.testing.assert_allclose(actual, expected, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL)


def test_rotation_keeps_norms():
    x = random(RANK_4, seed=2)
    actual = to_numpy(RotaryEmbedding()(x))
    np.testing.assert_allclose(
        np.linalg.norm(actual, axis=-1), np.linalg.norm(x, axis=-1), atol=1e-5, rtol=1e-5
    )


@PROPERTY_SETTINGS
@given(
    i=st.integers(0, 40),
    j=st.integers(0, 40),
    shift=st.integers(0, 40),
    seed=st.integers(0, 2**16),
)
def test_scores_depend_only_on_relative_position(i, j, shift, seed):
    # <R(q, i), R(k, j)> = <R(q, i + s), R(k, j + s)> = <R(q, i - j), k>.
    layer = RotaryEmbedding()
    q, k = random((2, 1, 3, 8), seed), random((2, 1, 3, 8), seed + 1)  # (B, 1, N, H)

    def score(query_position, key_position):
        rq = to_numpy(layer(q, start_index=query_position))
        rk = to_numpy(layer(k, start_index=key_position))
        return (rq * rk).sum(-1)  # (B, 1, N)

    base = score(i, j)
    np.testing.assert_allclose(score(i + shift, j + shift), base, atol=1e-4, rtol=1e-4)
    if i >= j:
        np.testing.assert_allclose(score(i - j, 0), base, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(
    "shape, axes",
    [(RANK_3, {}), (RANK_4, {}), ((2, 3, 6, 8), {"sequence_axis": 2})],
)
def test_full_pass_equals_one_step_at_a_time_exactly(shape, axes):
    # What the multi-head attention cache relies on: rotating the whole
    # sequence and taking step t is bit-for-bit rotating step t alone with
    # start_index=t (a Python int or a tensor), and within rounding when the
    # step runs traced inside a compiled loop.
    layer = RotaryEmbedding(**axes)
    axis = axes.get("sequence_axis", 1)
    x = random(shape, seed=3)
    full = to_numpy(layer(x))
    for t in range(shape[axis]):
        step = np.take(x, [t], axis=axis)
        expected = np.take(full, [t], axis=axis)
        np.testing.assert_array_equal(to_numpy(layer(step, start_index=t)), expected)
        start_index = keras.ops.convert_to_tensor(t, "int32")
        np.testing.assert_array_equal(to_numpy(layer(step, start_index=start_index)), expected)
    # Inside a compiled loop (JAX) XLA fuses the step into one kernel and may
    # round differently from the op-by-op full pass, by an ulp at most.
    np.testing.assert_allclose(
        decode_step_by_step(layer, x, sequence_axis=axis), full, atol=1e-6, rtol=1e-6
    )


def test_chunks_equal_the_full_pass():
    layer = RotaryEmbedding()
    x = random(RANK_4, seed=4)
    full = to_numpy(layer(x))
    chunks = [to_numpy(layer(x[:, a:b], start_index=a)) for a, b in [(0, 3), (3, 6)]]
    np.testing.assert_array_equal(np.concatenate(chunks, axis=1), full)


def test_dtype_follows_the_policy():
    x = random(RANK_3)
    for policy, dtype in [("float32", "float32"), ("mixed_float16", "float16")]:
        outputs = RotaryEmbedding(dtype=policy)(x)
        assert keras.backend.standardize_dtype(outputs.dtype) == dtype


def test_mask_passes_through():
    ids = PADDED_IDS
    mask = to_numpy(mask_model(RotaryEmbedding)(ids))
    np.testing.assert_array_equal(mask, ids != 0)


@pytest.mark.parametrize("shape", [(2, 3, 5), (2, 3, 4, 7)])
def test_odd_feature_size(shape):
    with pytest.raises(ValueError, match=rf"size {shape[-1]}"):
        RotaryEmbedding()(np.zeros(shape, "float32"))
    with pytest.raises(ValueError, match=rf"size {shape[-1]}"):
        RotaryEmbedding()(keras.Input(shape[1:]))


def test_unknown_feature_size():
    with pytest.raises(ValueError, match=r"size None"):
        RotaryEmbedding()(keras.Input((3, None)))


def test_bad_axes():
    with pytest.raises(ValueError, match=r"sequence_axis=2 and feature_axis=-1"):
        RotaryEmbedding(sequence_axis=2)(np.zeros((1, 3, 4), "float32"))
    with pytest.raises(ValueError, match=r"sequence_axis=5 is out of range"):
        RotaryEmbedding(sequence_axis=5)(np.zeros((1, 3, 4), "float32"))
    with pytest.raises(ValueError, match=r"feature_axis=1.5"):
        RotaryEmbedding(feature_axis=1.5)


@pytest.mark.parametrize("name", ["max_wavelength", "scaling_factor"])
@pytest.mark.parametrize("value", [0, -2.0, "1", None])
def test_bad_numbers(name, value):
    with pytest.raises(ValueError, match=rf"{name}={value!r}"):
        RotaryEmbedding(**{name: value})
