"""NEZHA's private layers (its relative-position attention and encoder
block): Keras's layer harness, mixed precision, masking, the fixed table,
and their docstring examples."""

import doctest

import numpy as np

from kerastack.core import keras
from kerastack.nezha import _encoder_block, _relative_attention
from kerastack.nezha._encoder_block import NezhaEncoderBlock
from kerastack.nezha._relative_attention import (
    RelativePositionAttention,
    relative_position_table,
)
from tests.nezha import reference
from tests.testing import TestCase, to_numpy

X = np.random.default_rng(0).normal(size=(2, 6, 12)).astype("float32")
MASK = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], bool)


class RelativePositionAttentionTest(TestCase):
    def test_layer(self):
        self.run_layer_test(
            RelativePositionAttention,
            init_kwargs={"num_heads": 3, "key_dim": 4, "max_relative_position": 2},
            input_data=X,
            expected_output_shape=(2, 6, 12),
            expected_num_trainable_weights=8,
            expected_num_non_trainable_weights=0,
            run_mixed_precision_check=False,
        )

    def test_block_layer(self):
        self.run_layer_test(
            NezhaEncoderBlock,
            init_kwargs={"num_heads": 3, "intermediate_dim": 10, "max_relative_position": 2},
            input_data=X,
            expected_output_shape=(2, 6, 12),
            expected_num_trainable_weights=16,
            expected_num_non_trainable_weights=0,
            run_mixed_precision_check=False,
        )

    def test_mixed_precision(self):
        self.run_precision_check(
            lambda policy: NezhaEncoderBlock(
                num_heads=3, intermediate_dim=10, max_relative_position=2, dtype=policy
            ),
            (X,),
            {"padding_mask": MASK},
        )

    def test_table_is_huaweis_sinusoid(self):
        for depth in (4, 5):  # odd head sizes get a last sine column
            np.testing.assert_allclose(
                relative_position_table(3, depth), reference.sinusoid_table(3, depth), atol=1e-7
            )

    def test_a_query_with_nothing_to_attend_to_gets_zeros_not_nan(self):
        for dtype in ("float32", "mixed_float16"):
            layer = RelativePositionAttention(
                num_heads=3, key_dim=4, max_relative_position=2, dtype=dtype
            )
            blocked = np.ones((2, 6, 6), bool)
            blocked[0, 2] = False  # query 2 of row 0 sees no key
            outputs = to_numpy(layer(X, attention_mask=blocked)).astype("float32")
            self.assertTrue(np.all(np.isfinite(outputs)))
            bias = to_numpy(layer.output_dense.bias).astype("float32")
            np.testing.assert_allclose(outputs[0, 2], bias, atol=1e-6)

    def test_bad_arguments_are_value_errors(self):
        with self.assertRaisesRegex(ValueError, "max_relative_position"):
            RelativePositionAttention(num_heads=3, key_dim=4, max_relative_position=0)
        with self.assertRaisesRegex(ValueError, "divisible by num_heads=5"):
            NezhaEncoderBlock(num_heads=5, intermediate_dim=10, max_relative_position=2)(X)


def test_private_docstring_examples_run():
    for module in (_relative_attention, _encoder_block):
        result = doctest.testmod(
            module,
            extraglobs={"np": np, "keras": keras},
            optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        )
        assert result.attempted and not result.failed, module.__name__
