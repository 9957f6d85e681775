"""ALBERT's task models: saving, tying (the masked-LM decoder is the
factorized word table), the backbone they take and a short fine-tuning run
(every Keras 3 lane). Their parity with transformers is in
tests/conformance/test_xlmr_conformance.py."""

import numpy as np
import pytest

from kerastack.bert import (
    AlbertBackbone,
    AlbertClassifier,
    AlbertMaskedLM,
    AlbertQuestionAnswerer,
    AlbertTokenClassifier,
    RobertaBackbone,
)
from kerastack.core import keras
from tests.tolerances import SAVE_ATOL

SMALL = dict(
    vocabulary_size=40,
    num_layers=3,
    num_heads=2,
    hidden_dim=10,
    intermediate_dim=12,
    embedding_dim=6,
    max_sequence_length=16,
)


def backbone(**overrides):
    return AlbertBackbone(**{**SMALL, **overrides})


def inputs(batch=2, length=6, seed=0):
    """`[CLS] ... [SEP]` rows of random ids, two segments, the second row
    padded at its end."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, SMALL["vocabulary_size"], size=(batch, length)).astype("int32")
    ids[:, 0], ids[:, -1] = 2, 3
    segments = (np.arange(length)[None] >= length // 2).astype("int32").repeat(batch, 0)
    mask = np.ones((batch, length), "int32")
    ids[1, length - 2 :], mask[1, length - 2 :] = 0, 0
    return {"token_ids": ids, "segment_ids": segments, "padding_mask": mask}


@pytest.mark.parametrize(
    "make",
    [
        lambda b: AlbertClassifier(b, num_classes=3),
        lambda b: AlbertTokenClassifier(b, num_classes=4),
        AlbertQuestionAnswerer,
        AlbertMaskedLM,
    ],
    ids=["classifier", "token_classifier", "question_answerer", "masked_lm"],
)
def test_keras_file_round_trip(make, tmp_path):
    model = make(backbone())
    data = inputs()
    expected = model.predict(data, verbose=0)
    path = str(tmp_path / "task.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored) is type(model)
    actual = restored.predict(data, verbose=0)
    for key in expected if isinstance(expected, dict) else [None]:
        a = actual[key] if key else actual
        e = expected[key] if key else expected
        np.testing.assert_allclose(a, e, atol=SAVE_ATOL)


def test_masked_lm_projects_to_the_embedding_width_and_is_tied():
    model = AlbertMaskedLM(backbone())
    head = model.predictions
    assert tuple(head.dense.kernel.shape) == (SMALL["hidden_dim"], SMALL["embedding_dim"])
    data = inputs()
    logits = model.predict(data, verbose=0)
    assert logits.shape == (2, 6, SMALL["vocabulary_size"])
    table = model.backbone.get_layer("token_embedding").embeddings
    table.assign(np.zeros(tuple(table.shape), "float32"))
    head.bias.assign(np.full(SMALL["vocabulary_size"], 0.5, "float32"))
    np.testing.assert_allclose(model.predict(data, verbose=0), 0.5, atol=1e-6)


def test_task_models_take_only_albert_backbones():
    roberta = RobertaBackbone(**{k: v for k, v in SMALL.items() if k != "embedding_dim"})
    with pytest.raises(ValueError, match="takes a AlbertBackbone, received a RobertaBackbone"):
        AlbertClassifier(roberta, num_classes=2)
    with pytest.raises(ValueError, match="takes a AlbertBackbone"):
        AlbertMaskedLM(roberta)


def test_fine_tuning_learns_a_held_out_rule():
    """A generated task: is token 5 in the first segment? 20 epochs on 256
    examples; at least 90% right on 256 held-out ones."""
    rng = np.random.default_rng(0)

    def make(count):
        data = inputs(batch=count, length=8, seed=int(rng.integers(1 << 30)))
        ids = data["token_ids"]
        labels = rng.integers(0, 2, size=count)
        ids[:, 1:4] = np.where(ids[:, 1:4] == 5, 6, ids[:, 1:4])
        ids[np.arange(count), rng.integers(1, 4, size=count)] = np.where(labels == 1, 5, 7)
        ids[:, -1], data["padding_mask"][:] = 3, 1
        return data, labels.astype("int32")

    train, train_labels = make(256)
    test, test_labels = make(256)
    keras.utils.set_random_seed(0)
    model = AlbertClassifier(backbone(), num_classes=2, dropout=0.0)
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(train, train_labels, batch_size=32, epochs=20, verbose=0)
    accuracy = np.mean(model.predict(test, verbose=0).argmax(-1) == test_labels)
    assert accuracy >= 0.9, accuracy
