"""XLM-RoBERTa and CamemBERT: their configs, backbones and fairseq-offset
SentencePiece tokenizers (every lane; the parity with transformers is in
tests/conformance/test_xlmr_conformance.py), and what RoBERTa's and
ALBERT's loaders do with Google-format folders."""

import io
import json
import os

import numpy as np
import pytest

from kerastack.bert import (
    AlbertBackbone,
    AlbertMaskedLM,
    BertBackbone,
    CamembertBackbone,
    CamembertConfig,
    RobertaBackbone,
    RobertaClassifier,
    XLMRobertaBackbone,
    XLMRobertaConfig,
    read_tf_checkpoint,
)
from kerastack.core import keras
from kerastack.tokenizers import CamembertTokenizer, XLMRobertaTokenizer
from tests.tolerances import SAVE_ATOL

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "conformance", "fixtures")
SMALL = dict(vocabulary_size=30, num_layers=1, num_heads=2, hidden_dim=6, intermediate_dim=10)


@pytest.fixture(scope="module")
def proto():
    import sentencepiece

    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(["hello world", "hello world", "hello there", "world peace"]),
        model_writer=model,
        model_type="word",
        vocab_size=7,
        minloglevel=2,
    )
    return model.getvalue()


def test_xlmr_ids_are_sentencepiece_s_shifted_by_fairseq_s_tokens(proto):
    import sentencepiece

    processor = sentencepiece.SentencePieceProcessor()
    processor.LoadFromSerializedProto(proto)
    tokenizer = XLMRobertaTokenizer(proto)
    assert tokenizer.ids_to_tokens([0, 1, 2, 3]) == ["<s>", "<pad>", "</s>", "<unk>"]
    assert tokenizer.vocabulary_size == processor.GetPieceSize() + 2  # <pad>, <mask>
    assert tokenizer.ids_to_tokens(tokenizer.mask_id) == "<mask>"
    text = "hello world peace there"
    assert tokenizer.token_ids(text) == [i + 1 for i in processor.EncodeAsIds(text)]
    # SentencePiece's own <unk> is fairseq's (3), not 0 + 1.
    assert tokenizer.token_ids("hello zebra") == [processor.PieceToId("▁hello") + 1, 3]


def test_camembert_ids_follow_camembert_s_dictionary(proto):
    import sentencepiece

    processor = sentencepiece.SentencePieceProcessor()
    processor.LoadFromSerializedProto(proto)
    tokenizer = CamembertTokenizer(proto)
    assert tokenizer.ids_to_tokens([0, 1, 2, 3, 4, 5, 6]) == [
        "<s>NOTUSED", "<pad>", "</s>NOTUSED", "<unk>", "<unk>NOTUSED", "<s>", "</s>",
    ]  # fmt: skip
    assert (tokenizer.start_id, tokenizer.end_id, tokenizer.pad_id) == (5, 6, 1)
    assert tokenizer.token_ids("world zebra") == [processor.PieceToId("▁world") + 4, 3]
    assert tokenizer.mask_id == tokenizer.vocabulary_size - 1


def test_model_inputs_pairs_truncation_and_specials(proto):
    tokenizer = XLMRobertaTokenizer(proto)
    hello, world = tokenizer.token_ids("hello world")
    inputs = tokenizer.encode_batch(["hello world", "hello"], ["world", "world"])
    assert inputs["token_ids"].tolist() == [
        [0, hello, world, 2, 2, world, 2],
        [0, hello, 2, 2, world, 2, 1],
    ]
    assert inputs["padding_mask"].tolist()[1] == [1] * 6 + [0]
    cut = tokenizer.encode("hello world hello world", max_length=4)["token_ids"].tolist()
    assert cut == [0, hello, world, 2]
    # Special tokens written in the text are kept whole; whitespace of any
    # kind splits words.
    assert tokenizer.token_ids("hello<mask>\tworld\u3000<pad>") == [
        hello, tokenizer.mask_id, world, 1,
    ]  # fmt: skip
    assert tokenizer.detokenize([0, hello, world, 2]) == "<s> hello world</s>"
    assert tokenizer.detokenize([0, hello, world, 2], skip_special_tokens=True) == "hello world"


def test_bad_models_texts_and_ids_are_value_errors(proto, tmp_path):
    with pytest.raises(ValueError, match="Not a readable SentencePiece model"):
        XLMRobertaTokenizer(b"not a model")
    with pytest.raises(FileNotFoundError):
        XLMRobertaTokenizer(str(tmp_path / "missing.model"))
    with pytest.raises(ValueError, match="path or bytes"):
        XLMRobertaTokenizer(3)
    tokenizer = XLMRobertaTokenizer(proto)
    with pytest.raises(ValueError):
        tokenizer.token_ids(b"bytes")
    with pytest.raises(ValueError):
        tokenizer.ids_to_tokens([0, tokenizer.vocabulary_size])


def test_a_model_without_fairseq_s_first_pieces_is_refused():
    import sentencepiece

    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(["hello world", "hello there"]),
        model_writer=model,
        model_type="word",
        vocab_size=5,
        pad_id=0,
        unk_id=1,
        bos_id=-1,
        eos_id=-1,
        minloglevel=2,
    )
    with pytest.raises(ValueError, match="not a fairseq SentencePiece model"):
        XLMRobertaTokenizer(model.getvalue())


def test_configs_read_their_own_model_type(tmp_path):
    config = {"model_type": "xlm-roberta", "vocab_size": 30, "hidden_size": 6,
              "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 10,
              "max_position_embeddings": 20}  # fmt: skip
    (tmp_path / "config.json").write_text(json.dumps(config))
    backbone = XLMRobertaBackbone.from_config_file(str(tmp_path))
    assert (backbone.padding_id, backbone.max_sequence_length) == (1, 20)
    with pytest.raises(ValueError, match="'xlm-roberta' config, not a 'roberta' one"):
        RobertaBackbone.from_config_file(str(tmp_path))
    with pytest.raises(ValueError, match="'xlm-roberta' config, not a 'camembert' one"):
        CamembertConfig.from_json(str(tmp_path))
    assert XLMRobertaConfig.from_json(str(tmp_path)).vocab_size == 30


def test_backbones_save_and_load_as_their_own_class(tmp_path):
    ids = np.array([[0, 5, 6, 2, 1]])
    data = {"token_ids": ids, "padding_mask": (ids != 1).astype("int32")}
    for kind in (XLMRobertaBackbone, CamembertBackbone):
        backbone = kind(**SMALL, max_sequence_length=12)
        expected = backbone.predict(data, verbose=0)
        path = str(tmp_path / f"{kind.__name__}.keras")
        backbone.save(path)
        restored = keras.saving.load_model(path)
        assert type(restored) is kind
        actual = restored.predict(data, verbose=0)
        np.testing.assert_allclose(
            actual["sequence_output"], expected["sequence_output"], atol=SAVE_ATOL
        )


def test_roberta_in_google_s_layout_is_pointed_to_bert():
    """brightmart's RoBERTa-zh ships BERT's Google layout (bert_config.json,
    bert/... names): it is BERT's architecture, and loads as BERT."""
    folder = os.path.join(FIXTURES, "tiny_google")
    with pytest.raises(ValueError, match=r"BertBackbone\.from_pretrained"):
        RobertaBackbone.from_pretrained(folder)
    with pytest.raises(ValueError, match="brightmart's RoBERTa-zh"):
        RobertaClassifier.from_pretrained(folder, num_classes=2)
    assert type(BertBackbone.from_pretrained(folder)) is BertBackbone


def test_google_albert_checkpoints_load_into_backbone_and_masked_lm():
    folder = os.path.join(FIXTURES, "tiny_albert_google")
    tensors = read_tf_checkpoint(os.path.join(folder, "albert_model.ckpt"))
    backbone = AlbertBackbone.from_pretrained(folder)  # albert_config.json
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(backbone.get_layer("token_embedding").embeddings),
        tensors["bert/embeddings/word_embeddings"],
    )
    model = AlbertMaskedLM.from_pretrained(folder)  # the pretraining heads left out
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model.predictions.dense.kernel),
        tensors["cls/predictions/transform/dense/kernel"],
    )
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model.predictions.bias), tensors["cls/predictions/output_bias"]
    )
