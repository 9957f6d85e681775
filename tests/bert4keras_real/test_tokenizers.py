"""The real bert4keras (on tf-keras, the tfkeras lane) still gives what
tests/conformance/fixtures/bert4keras/tokenizers.json records, which
kerastack-bert4keras's tokenizers are checked against on the Keras 3 lanes."""

import os

import pytest

if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
    pytest.skip(
        reason="the real bert4keras runs on tf-keras: the tfkeras lane", allow_module_level=True
    )

bert4keras = pytest.importorskip(
    "bert4keras", reason="the real bert4keras runs on tf-keras: the tfkeras lane"
)

from tests.conformance import make_bert4keras_tokenizers as references  # noqa: E402


def _assert_same(computed, recorded):
    assert sorted(computed) == sorted(recorded)
    for key in computed:
        assert computed[key] == recorded[key], key


def test_wordpiece_outputs_are_bert4keras_outputs():
    """Tokenizer, load_vocab, save_vocab and the helpers: all but the `sp/` keys."""
    recorded = {k: v for k, v in references.load().items() if not k.startswith("sp/")}
    _assert_same(references.compute(sentencepiece=False), recorded)


def test_sentencepiece_outputs_are_bert4keras_outputs():
    """SpTokenizer on the committed tiny model (the lane needs sentencepiece)."""
    pytest.importorskip("sentencepiece", reason="SpTokenizer needs sentencepiece")
    _assert_same(references.compute(), references.load())
