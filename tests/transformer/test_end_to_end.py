"""End to end, on every lane: a small encoder-decoder is trained from scratch
with `fit` on a generated task (reversing 4 to 8 symbols, examples/reverse.py)
and must get at least 95% of held-out sequences exactly right with greedy,
cached decoding. The same script is the second half of `make demo`."""

import pytest

from examples import reverse
from tests.testing import TestCase

REQUIRED_ACCURACY = 0.95


@pytest.mark.slow
class EndToEndTest(TestCase):
    def test_reversal_is_learned(self):
        model = reverse.build_model(seed=0)
        history = reverse.train(model)
        accuracy, _, predictions = reverse.exact_match_accuracy(model, count=500, seed=2)
        print(f"reversal: exact-sequence accuracy {accuracy:.3f}")
        self.assertLess(history.history["loss"][-1], history.history["loss"][0])
        self.assertEqual(predictions.shape, (500, reverse.MAX_LENGTH + 1))
        self.assertGreaterEqual(accuracy, REQUIRED_ACCURACY)
