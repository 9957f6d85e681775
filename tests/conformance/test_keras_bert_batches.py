"""kerastack.bert.compat's `gen_batch_inputs` gives keras-bert 0.89's batches
under the same `np.random.seed` (every Keras 3 lane): the draws recorded by
tests/conformance/make_keras_bert_batches.py with the real keras-bert."""

import numpy as np

from kerastack.bert import compat
from tests.conformance import make_keras_bert_batches as references


def test_the_same_seed_gives_keras_berts_batches():
    recorded = references.load()
    ours = references.record(compat.gen_batch_inputs, compat.get_base_dict)
    assert sorted(ours) == sorted(recorded)
    for key, value in recorded.items():
        np.testing.assert_array_equal(ours[key], value, err_msg=key)
    # The cases draw random replacement tokens (the draws the rule is about).
    masked = recorded["1/masked"].astype(bool)
    replaced = recorded["1/tokens"][masked] != recorded["1/mlm"][..., 0][masked]
    assert replaced.sum() > 10
