"""The real keras-bert 0.89 (on tf-keras, the tfkeras lane): it still gives
what tests/conformance/fixtures/keras_bert/tokenizer.json records, and
kerastack's compat `Tokenizer` gives its ids and pieces on the whole
conformance corpus (tests/conformance/corpus.py), side by side."""

import os

import pytest

if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
    pytest.skip(
        reason="the real keras-bert runs on tf-keras: the tfkeras lane", allow_module_level=True
    )

keras_bert = pytest.importorskip(
    "keras_bert", reason="the real keras-bert runs on tf-keras: the tfkeras lane"
)

from kerastack.tokenizers import compat  # noqa: E402
from tests.conformance import make_bert4keras_tokenizers as vocabularies  # noqa: E402
from tests.conformance import make_keras_bert_tokenizer as references  # noqa: E402
from tests.conformance.corpus import corpus  # noqa: E402


def test_the_recorded_reference_is_keras_berts():
    recorded = references.load()
    assert references.record(keras_bert.Tokenizer, recorded["texts"]) == recorded["results"]


@pytest.mark.parametrize("cased", [False, True])
def test_ids_and_pieces_equal_keras_berts_on_the_whole_corpus(cased):
    token_dict = {token: index for index, token in enumerate(vocabularies.vocabulary())}
    theirs = keras_bert.Tokenizer(token_dict, cased=cased)
    ours = compat.Tokenizer(token_dict, cased=cased)
    texts = corpus()
    assert len(texts) > 1000
    for text in texts:
        assert ours.tokenize(text) == theirs.tokenize(text), text[:200]
        assert ours.encode(text, max_len=64) == theirs.encode(text, max_len=64), text[:200]
