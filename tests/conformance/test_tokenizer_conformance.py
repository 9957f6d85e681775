"""kerastack's WordPiece tokenizer against transformers' slow, pure-Python
one (`BertTokenizerLegacy` in transformers 5: an independent implementation
of Google's; transformers' `BertTokenizer` runs kerastack's own engine), on a real
corpus: the docstrings of the Python standard library and the descriptions
of the installed packages, plus a multilingual sample; with the uncased
vocabulary of all-MiniLM-L6-v2 and a cased vocabulary trained here."""

import importlib.util
import os

import pytest

from kerastack.bert import BertTokenizer
from tests.conformance.corpus import corpus
from tests.conformance.make_references import minilm_folder

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("transformers") is None,
    reason="HF transformers (the reference tokenizer) is installed in the torch lane only",
)


@pytest.fixture(scope="module")
def texts():
    texts = corpus()
    assert len(texts) > 500 and sum(map(len, texts)) > 500_000
    return texts


def pure_python_reference(vocab, do_lower_case):
    """transformers' pure-Python BERT tokenizer. In transformers 5,
    `BertTokenizer` is the Rust `tokenizers` engine (kerastack's own engine:
    no independent check), and the Python one is `BertTokenizerLegacy`."""
    import transformers
    from transformers.tokenization_python import PythonBackend

    reference = transformers.BertTokenizerLegacy(vocab, do_lower_case=do_lower_case)
    assert isinstance(reference, PythonBackend)
    assert len(reference.vocab) > 1000  # the file was read
    return reference


def agreement(ours, reference, texts):
    differing = [
        t for t in texts if ours.token_ids(t) != reference.encode(t, add_special_tokens=False)
    ]
    return 1 - len(differing) / len(texts), differing


def test_uncased_vocabulary_agrees_on_every_text(texts):
    vocab = os.path.join(minilm_folder(), "vocab.txt")
    ours = BertTokenizer(vocab, lowercase=True)
    reference = pure_python_reference(vocab, do_lower_case=True)
    rate, differing = agreement(ours, reference, texts)
    assert rate == 1.0, f"agreement {rate:.6f}; first differing texts: {differing[:3]}"


def test_cased_vocabulary_agrees_on_every_text(texts, tmp_path):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    # A cased vocabulary, trained on part of the corpus (none is shipped offline).
    trainer_model = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    trainer_model.normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False)
    trainer_model.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=8000, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    )
    trainer_model.train_from_iterator(texts[::2], trainer=trainer)
    vocab = tmp_path / "vocab.txt"
    ordered = sorted(trainer_model.get_vocab().items(), key=lambda item: item[1])
    vocab.write_text("".join(token + "\n" for token, _ in ordered), encoding="utf-8")
    assert any(token[:1].isupper() for token, _ in ordered)
    ours = BertTokenizer(str(vocab), lowercase=False)
    reference = pure_python_reference(str(vocab), do_lower_case=False)
    rate, differing = agreement(ours, reference, texts)
    assert rate == 1.0, f"agreement {rate:.6f}; first differing texts: {differing[:3]}"
