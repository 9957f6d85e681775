"""RoBERTa's task models (also on XLM-R's and CamemBERT's backbones): saving,
tying, the backbone they take, float32 logits under mixed precision and a
short fine-tuning run (every Keras 3 lane). Their parity with transformers
is in tests/conformance/test_xlmr_conformance.py."""

import numpy as np
import pytest

from kerastack.bert import (
    AlbertBackbone,
    CamembertBackbone,
    RobertaBackbone,
    RobertaClassifier,
    RobertaMaskedLM,
    RobertaQuestionAnswerer,
    RobertaTokenClassifier,
    XLMRobertaBackbone,
)
from kerastack.core import keras
from tests.tolerances import SAVE_ATOL

SMALL = dict(
    vocabulary_size=40,
    num_layers=2,
    num_heads=2,
    hidden_dim=10,
    intermediate_dim=12,
    max_sequence_length=16,
    dropout=0.0,
)


def backbone(kind=RobertaBackbone, **overrides):
    return kind(**{**SMALL, **overrides})


def inputs(batch=2, length=6, seed=0):
    """`<s> ... </s>` rows of random ids (never `<pad>` 1), the second row
    padded at its end."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(3, SMALL["vocabulary_size"], size=(batch, length)).astype("int32")
    ids[:, 0], ids[:, -1] = 0, 2
    mask = np.ones((batch, length), "int32")
    ids[1, length - 2 :], mask[1, length - 2 :] = 1, 0
    return {"token_ids": ids, "padding_mask": mask}


@pytest.mark.parametrize(
    "make",
    [
        lambda b: RobertaClassifier(b, num_classes=3),
        lambda b: RobertaTokenClassifier(b, num_classes=4),
        RobertaQuestionAnswerer,
        RobertaMaskedLM,
    ],
    ids=["classifier", "token_classifier", "question_answerer", "masked_lm"],
)
def test_keras_file_round_trip(make, tmp_path):
    model = make(backbone(XLMRobertaBackbone))
    data = inputs()
    expected = model.predict(data, verbose=0)
    path = str(tmp_path / "task.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored) is type(model)
    assert type(restored.backbone) is XLMRobertaBackbone
    actual = restored.predict(data, verbose=0)
    for key in expected if isinstance(expected, dict) else [None]:
        a = actual[key] if key else actual
        e = expected[key] if key else expected
        np.testing.assert_allclose(a, e, atol=SAVE_ATOL)


def test_masked_lm_is_tied_to_the_word_embeddings():
    model = RobertaMaskedLM(backbone(CamembertBackbone))
    data = inputs()
    logits = model.predict(data, verbose=0)
    assert logits.shape == (2, 6, SMALL["vocabulary_size"])
    bias = model.lm_head.bias
    bias.assign(np.arange(SMALL["vocabulary_size"], dtype="float32"))
    table = model.backbone.get_layer("token_embedding").embeddings
    table.assign(np.zeros(tuple(table.shape), "float32"))
    # With a zero table the logits are the output bias alone.
    expected = np.broadcast_to(np.arange(SMALL["vocabulary_size"], dtype="float32"), logits.shape)
    np.testing.assert_allclose(model.predict(data, verbose=0), expected, atol=1e-5)


def test_the_classifier_reads_the_first_token_not_the_pooler():
    model = RobertaClassifier(backbone(), num_classes=3)
    data = inputs()
    expected = model.predict(data, verbose=0)
    pooler = model.backbone.get_layer("pooled_dense")
    pooler.kernel.assign(np.zeros(tuple(pooler.kernel.shape), "float32"))
    np.testing.assert_array_equal(model.predict(data, verbose=0), expected)
    assert not [name for _, name, _ in model.hf_weight_table() if name.startswith("pooler")]


def test_task_models_take_only_roberta_backbones():
    albert = AlbertBackbone(**SMALL, embedding_dim=4)
    for make in (
        lambda: RobertaClassifier(albert, num_classes=2),
        lambda: RobertaTokenClassifier(albert, num_classes=2),
        lambda: RobertaQuestionAnswerer(albert),
        lambda: RobertaMaskedLM(albert),
    ):
        with pytest.raises(ValueError, match="takes a RobertaBackbone, received a AlbertBackbone"):
            make()


def test_mixed_precision_logits_are_float32_and_close():
    reference = RobertaClassifier(backbone(), num_classes=3)
    half = RobertaClassifier(backbone(dtype="mixed_bfloat16"), num_classes=3)
    half.set_weights(reference.get_weights())
    data = inputs()
    actual = half.predict(data, verbose=0)
    assert actual.dtype == np.float32
    np.testing.assert_allclose(actual, reference.predict(data, verbose=0), atol=5e-2)


def test_fine_tuning_learns_a_held_out_rule():
    """A generated task: is token 5 among the first four words? 20 epochs
    on 256 examples; at least 90% right on 256 held-out ones."""
    rng = np.random.default_rng(0)

    def make(count):
        data = inputs(batch=count, length=8, seed=int(rng.integers(1 << 30)))
        ids = data["token_ids"]
        labels = rng.integers(0, 2, size=count)
        ids[:, 1:5] = np.where(ids[:, 1:5] == 5, 6, ids[:, 1:5])
        ids[np.arange(count), rng.integers(1, 5, size=count)] = np.where(labels == 1, 5, 7)
        ids[:, -1], data["padding_mask"][:] = 2, 1
        return data, labels.astype("int32")

    train, train_labels = make(256)
    test, test_labels = make(256)
    keras.utils.set_random_seed(0)
    model = RobertaClassifier(backbone(), num_classes=2, dropout=0.0)
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(train, train_labels, batch_size=32, epochs=20, verbose=0)
    accuracy = np.mean(model.predict(test, verbose=0).argmax(-1) == test_labels)
    assert accuracy >= 0.9, accuracy
