"""Raw text in: a task model given a `TextClassifierPreprocessor` takes
strings in `fit`, `predict` and `evaluate` (through a PyDataset, no
TensorFlow on JAX and PyTorch), and saves it with itself: the `.keras` file
holds the tokenizer's files, and `load_model` brings back a model that
takes text, with equal outputs. Every Keras 3 lane."""

import zipfile

import numpy as np
import pytest

from kerastack.bert import BertBackbone, BertClassifier
from kerastack.core import keras
from kerastack.models import TaskModel, TextBatches, TextClassifierPreprocessor, float32_dense
from kerastack.tokenizers import (
    AlbertTokenizer,
    BertTokenizer,
    CamembertTokenizer,
    GPT2Tokenizer,
    OpenAIGPTTokenizer,
    RobertaTokenizer,
    T5Tokenizer,
    XLMRobertaTokenizer,
)
from tests.conformance.make_references import FIXTURES

VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "film", "a", "very"]
# The rule to learn: "good" is 1, "bad" is 0, whatever the other words.
TEXTS = ["good film", "a good film", "Very good!", "bad film", "a bad film", "very BAD"] * 4
LABELS = np.array([1, 1, 1, 0, 0, 0] * 4)
HELD_OUT = ["film good", "a very good film", "film bad", "bad a", "good", "bad"]


@keras.saving.register_keras_serializable(package="kerastack_tests")
class TextClassifier(TaskModel):
    """BertClassifier's graph (pooled output to logits) as a bare
    `TaskModel`: the kit's own behaviour, without a family's input checks."""

    def __init__(self, backbone, num_classes, **kwargs):
        inputs = dict(backbone.input)
        head = float32_dense(num_classes, backbone, "classifier")
        logits = head(backbone(inputs)["pooled_output"])
        self._init(backbone, inputs, logits, {"num_classes": num_classes}, **kwargs)


def tiny_backbone():
    return BertBackbone(
        vocabulary_size=len(VOCABULARY),
        num_layers=1,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
        dropout=0.0,
        max_sequence_length=8,
    )


def preprocessor(sequence_length=6):
    return TextClassifierPreprocessor(BertTokenizer(VOCABULARY), sequence_length=sequence_length)


def trained_classifier(model_class=TextClassifier, **kwargs):
    keras.utils.set_random_seed(0)
    model = model_class(tiny_backbone(), 2, preprocessor=preprocessor(), **kwargs)
    model.compile(
        optimizer=keras.optimizers.Adam(0.02),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    # The whole set a batch: steady steps, few of them (30).
    history = model.fit(TEXTS, LABELS, batch_size=24, epochs=30, verbose=0)
    return model, history


@pytest.fixture(scope="module")
def trained():
    return trained_classifier()


def test_fit_learns_from_raw_text_and_predict_takes_texts(trained):
    model, history = trained
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0], losses
    assert model.predict(TEXTS[:6], verbose=0).argmax(-1).tolist() == LABELS[:6].tolist()
    logits = model.predict(HELD_OUT, verbose=0)
    assert logits.shape == (6, 2)
    # The same as the model on the preprocessor's arrays.
    inputs = model.preprocessor(HELD_OUT)
    np.testing.assert_allclose(logits, model.predict(inputs, verbose=0), rtol=1e-5, atol=1e-6)
    loss, accuracy = model.evaluate(TEXTS, LABELS, batch_size=24, verbose=0)
    assert accuracy == 1.0 and loss < losses[0]


def test_saved_model_brings_its_preprocessor_back(trained, tmp_path):
    model, _ = trained
    path = str(tmp_path / "classifier.keras")
    model.save(path)
    assert "assets/preprocessor/vocab.txt" in zipfile.ZipFile(path).namelist()
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.preprocessor, TextClassifierPreprocessor)
    assert loaded.preprocessor.sequence_length == 6
    assert loaded.preprocessor.tokenizer.vocabulary == model.preprocessor.tokenizer.vocabulary
    np.testing.assert_allclose(
        loaded.predict(HELD_OUT, verbose=0), model.predict(HELD_OUT, verbose=0), atol=1e-6
    )
    assert loaded.preprocessor not in loaded.layers  # no layer of the graph


def test_pairs_sample_weights_and_validation_texts():
    batches = TextBatches(
        preprocessor(8),
        (["good film", "bad"], ["a film", "very bad"]),
        y=[1, 0],
        sample_weight=[1.0, 0.5],
        batch_size=2,
        input_names=["padding_mask", "segment_ids", "token_ids"],
    )
    inputs, labels, weights = batches[0]
    assert inputs["token_ids"].tolist() == [[2, 5, 7, 3, 8, 7, 3, 0], [2, 6, 3, 9, 6, 3, 0, 0]]
    assert inputs["segment_ids"].tolist() == [[0, 0, 0, 0, 1, 1, 1, 0], [0, 0, 0, 1, 1, 1, 0, 0]]
    assert labels.tolist() == [1, 0] and weights.tolist() == [1.0, 0.5]
    keras.utils.set_random_seed(1)
    model = TextClassifier(tiny_backbone(), 2, preprocessor=preprocessor())
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    # Batches of 6 throughout: one shape to compile on JAX and TensorFlow.
    history = model.fit(TEXTS, LABELS, batch_size=6, validation_split=0.25, verbose=0)
    assert set(history.history) == {"loss", "val_loss"}
    history = model.fit(
        TEXTS[:18], LABELS[:18], batch_size=6, validation_data=(TEXTS[18:], LABELS[18:]), verbose=0
    )
    assert set(history.history) == {"loss", "val_loss"}


def test_without_a_preprocessor_nothing_changes():
    keras.utils.set_random_seed(2)
    model = TextClassifier(tiny_backbone(), 2)
    assert model.preprocessor is None and "preprocessor" not in model.get_config()
    with pytest.raises(ValueError, match="raw text, but the model has no preprocessor"):
        model.predict(["good film"], verbose=0)
    inputs = preprocessor()(["good film"])
    assert model.predict(inputs, verbose=0).shape == (1, 2)


def test_bad_arguments_are_errors_naming_them():
    with pytest.raises(ValueError, match="preprocessor must be a kerastack.models"):
        TextClassifier(tiny_backbone(), 2, preprocessor=BertTokenizer(VOCABULARY))
    with pytest.raises(ValueError, match="sequence_length must be a positive int"):
        TextClassifierPreprocessor(BertTokenizer(VOCABULARY), sequence_length=0)
    with pytest.raises(ValueError, match="tokenizer must be one of"):
        TextClassifierPreprocessor(object())
    with pytest.raises(ValueError, match="received one str"):
        preprocessor()("good film")
    with pytest.raises(ValueError, match="item 1 is (int|EagerTensor)"):  # tf-keras converts it
        preprocessor()(["good", 3])
    with pytest.raises(ValueError, match="2 first texts but 1 second texts"):
        preprocessor()((["a", "b"], ["c"]))
    with pytest.raises(ValueError, match="3 texts but 2 rows of `y`"):
        TextBatches(preprocessor(), ["a", "b", "c"], y=[0, 1])
    model = TextClassifier(tiny_backbone(), 2, preprocessor=preprocessor())
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="needs their labels"):
        model.fit(TEXTS, verbose=0)


def _sentencepiece(**options):
    import io

    import sentencepiece

    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(["good film", "bad film", "a very good film"]),
        model_writer=model,
        model_type="word",
        vocab_size=8,
        hard_vocab_limit=False,
        minloglevel=2,
        **options,
    )
    return model.getvalue()


def every_tokenizer():
    roberta = f"{FIXTURES}/tiny_roberta"
    gpt2_vocabulary = dict(RobertaTokenizer.from_folder(roberta).vocabulary)
    gpt2_vocabulary["<|endoftext|>"] = len(gpt2_vocabulary)
    fairseq = _sentencepiece()
    return [
        BertTokenizer(VOCABULARY, lowercase=False),
        RobertaTokenizer.from_folder(roberta, add_prefix_space=True),
        GPT2Tokenizer(gpt2_vocabulary, f"{roberta}/merges.txt"),
        OpenAIGPTTokenizer.from_folder(f"{FIXTURES}/tiny_openai_gpt"),
        AlbertTokenizer(
            _sentencepiece(
                pad_id=0,
                unk_id=1,
                bos_id=-1,
                eos_id=-1,
                control_symbols=["[CLS]", "[SEP]", "[MASK]"],
            ),
            keep_accents=True,
        ),
        T5Tokenizer(_sentencepiece(pad_id=0, eos_id=1, unk_id=2, bos_id=-1), extra_ids=3),
        XLMRobertaTokenizer(fairseq),
        CamembertTokenizer(fairseq),
    ]


def test_every_tokenizer_saves_and_loads_as_assets(tmp_path):
    texts = ["A good film, very good", "bad film", "Ünknown wörds"]
    for index, tokenizer in enumerate(every_tokenizer()):
        layer = TextClassifierPreprocessor(tokenizer, sequence_length=12)
        folder = tmp_path / str(index)
        folder.mkdir()
        layer.save_assets(str(folder))
        config = layer.get_config()
        restored = TextClassifierPreprocessor.from_config(config)
        with pytest.raises(ValueError, match="has no files yet"):
            restored(texts)
        restored.load_assets(str(folder))
        assert type(restored.tokenizer) is type(tokenizer)
        assert restored.get_config() == config
        expected, got = layer(texts), restored(texts)
        assert sorted(got) == sorted(expected), type(tokenizer).__name__
        for key in expected:
            assert got[key].shape == (3, 12)
            np.testing.assert_array_equal(got[key], expected[key])


def test_gpt_tokenizers_keep_the_first_tokens():
    tokenizer = OpenAIGPTTokenizer.from_folder(f"{FIXTURES}/tiny_openai_gpt")
    layer = TextClassifierPreprocessor(tokenizer, sequence_length=3)
    inputs = layer(["the lazy dog . she said", "the"])
    ids = tokenizer.token_ids("the lazy dog . she said")
    assert inputs["token_ids"].tolist()[0] == ids[:3]
    assert inputs["padding_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert sorted(inputs) == ["padding_mask", "token_ids"]
    with pytest.raises(ValueError, match="no way to join a pair"):
        layer((["a"], ["b"]))


def test_bert_classifier_takes_raw_text(tmp_path):
    model, _ = trained_classifier(BertClassifier, dropout=0.0)
    assert model.predict(TEXTS[:6], verbose=0).argmax(-1).tolist() == LABELS[:6].tolist()
    logits = model.predict(HELD_OUT, verbose=0)
    path = str(tmp_path / "bert_classifier.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(HELD_OUT, verbose=0), logits, atol=1e-6)


def test_a_preprocessor_that_does_not_fit_the_backbone_is_an_error():
    """Ids past the backbone's table would be NaN in compiled (JAX,
    TensorFlow) steps, which do not check them: refused when built."""
    backbone = BertBackbone(
        vocabulary_size=6,
        num_layers=1,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
        max_sequence_length=8,
    )
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad"]
    too_many = TextClassifierPreprocessor(BertTokenizer(words), sequence_length=8)
    with pytest.raises(ValueError, match="has 7 tokens, but the backbone's vocabulary_size is 6"):
        BertClassifier(backbone, num_classes=2, preprocessor=too_many)
    too_long = TextClassifierPreprocessor(BertTokenizer(words[:6]), sequence_length=9)
    with pytest.raises(ValueError, match="sequence_length 9 is more than .* max_sequence_length 8"):
        BertClassifier(backbone, num_classes=2, preprocessor=too_long)
