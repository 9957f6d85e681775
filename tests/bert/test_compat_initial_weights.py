"""keras-bert's and keras-transformer's layers in `kerastack.bert.compat` and
`kerastack.transformer.compat` take Keras 2's `weights=[...]`
(kerastack.core.InitialWeightsMixin), as keras-transformer's own `get_model`
passes it to `EmbeddingRet`."""

import numpy as np
import pytest

from kerastack.bert import compat
from kerastack.transformer import compat as transformer_compat
from tests.core.initial_weights import check_initial_weights
from tests.testing import to_numpy

X = np.random.default_rng(11).normal(size=(2, 5, 8)).astype("float32")
IDS = np.array([[3, 1, 2, 4, 6], [2, 5, 1, 0, 0]], "int32")
TABLE = np.random.default_rng(12).normal(size=(9, 8)).astype("float32")
CHOSEN = np.array([[0, 1, 1, 0, 0], [1, 0, 0, 0, 0]], "int32")

CASES = {
    "EmbeddingRet": (lambda **k: transformer_compat.EmbeddingRet(9, 8, mask_zero=True, **k), [IDS]),
    "EmbeddingSim": (lambda **k: transformer_compat.EmbeddingSim(**k), [[X, TABLE]]),
    "FeedForward": (lambda **k: transformer_compat.FeedForward(units=6, **k), [X]),
    "TokenEmbedding": (lambda **k: compat.TokenEmbedding(9, 8, mask_zero=True, **k), [IDS]),
    "EmbeddingSimilarity": (lambda **k: compat.EmbeddingSimilarity(**k), [[X, TABLE]]),
    "TaskEmbedding": (lambda **k: compat.TaskEmbedding(3, 8, **k), [[X, np.array([[1], [2]])]]),
    "MaskedConv1D": (lambda **k: compat.MaskedConv1D(filters=3, kernel_size=2, **k), [X]),
    "Masked": (lambda **k: compat.Masked(**k), [[X, CHOSEN]]),
    "Extract": (lambda **k: compat.Extract(index=1, **k), [X]),
}


@pytest.mark.keras3(
    "Keras 2's Layer takes weights= itself, with its own checks and messages "
    "(set after kerastack's build: the next test and the compat model tests)"
)
@pytest.mark.parametrize("case", sorted(CASES))
def test_weights_argument(case, monkeypatch):
    make_layer, inputs = CASES[case]
    check_initial_weights(make_layer, inputs, monkeypatch)


def test_embedding_ret_takes_the_table_as_keras_transformer_passed_it():
    embedded, table = transformer_compat.EmbeddingRet(9, 8, weights=[TABLE])(IDS)
    np.testing.assert_array_equal(to_numpy(embedded), TABLE[IDS])
    np.testing.assert_array_equal(to_numpy(table), TABLE)
