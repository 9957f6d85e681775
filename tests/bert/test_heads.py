"""Task models on a BertBackbone: saving, strict head loading, tying, mixed
precision and a short fine-tuning run (every Keras 3 lane)."""

import numpy as np
import pytest

from kerastack.bert import (
    BertBackbone,
    BertClassifier,
    BertPretrainer,
    BertQuestionAnswerer,
    BertTokenClassifier,
    load_hf_weights,
    save_hf_weights,
)
from kerastack.core import keras
from tests.bert.test_bert_backbone import SMALL, inputs


def backbone(**overrides):
    return BertBackbone(**{**SMALL, **overrides})


def test_pretrainer_ties_the_output_projection_to_the_word_embeddings():
    model = BertPretrainer(backbone())
    data = dict(inputs(), mask_positions=np.array([[1, 2], [0, 3]], "int32"))
    outputs = model.predict(data, verbose=0)
    assert outputs["mlm_logits"].shape == (2, 2, SMALL["vocabulary_size"])
    assert outputs["nsp_logits"].shape == (2, 2)
    table = model.backbone.get_layer("token_embedding").embeddings
    table.assign(np.zeros(tuple(table.shape), "float32"))
    # With a zero table the logits are the output bias alone: zeros.
    np.testing.assert_allclose(model.predict(data, verbose=0)["mlm_logits"], 0.0, atol=1e-6)


@pytest.mark.parametrize(
    "make",
    [
        lambda b: BertClassifier(b, num_classes=3),
        lambda b: BertTokenClassifier(b, num_classes=4),
        BertQuestionAnswerer,
        BertPretrainer,
    ],
    ids=["classifier", "token_classifier", "question_answerer", "pretrainer"],
)
def test_keras_file_round_trip(make, tmp_path):
    model = make(backbone())
    data = inputs()
    if isinstance(model, BertPretrainer):
        data["mask_positions"] = np.array([[1, 2], [0, 3]], "int32")
    expected = model.predict(data, verbose=0)
    path = str(tmp_path / "task.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored) is type(model)
    actual = restored.predict(data, verbose=0)
    for key in expected if isinstance(expected, dict) else [None]:
        a = actual[key] if key else actual
        e = expected[key] if key else expected
        np.testing.assert_allclose(a, e, atol=1e-6)


def test_a_task_checkpoint_must_hold_its_head(tmp_path):
    save_hf_weights(backbone(), str(tmp_path))  # encoder only
    model = BertClassifier(backbone(), num_classes=3)
    with pytest.raises(ValueError, match="missing tensors: classifier.bias, classifier.weight"):
        load_hf_weights(model, str(tmp_path))


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_logits_are_float32_and_close(policy):
    reference = BertClassifier(backbone(), num_classes=3)
    half = BertClassifier(backbone(dtype=policy), num_classes=3)
    half.set_weights(reference.get_weights())
    data = inputs()
    expected = reference.predict(data, verbose=0)
    actual = half.predict(data, verbose=0)
    assert actual.dtype == np.float32
    assert np.all(np.isfinite(actual))
    np.testing.assert_allclose(
        actual, expected, atol={"mixed_float16": 1e-2, "mixed_bfloat16": 5e-2}[policy]
    )


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_pretraining_losses_are_finite_and_close(policy):
    """The same weights and batch: the loss under a mixed policy is within
    2% (float16) or 5% (bfloat16) of float32's, and training steps stay
    finite (float16 with Keras's loss scaling, which compile adds)."""
    keras.utils.set_random_seed(1)
    data = dict(inputs(batch=4, length=6), mask_positions=np.array([[1, 2]] * 4, "int32"))
    labels = {"mlm_logits": np.array([[3, 4]] * 4, "int32"), "nsp_logits": np.zeros(4, "int32")}
    losses = {}
    for name in ("float32", policy):
        model = BertPretrainer(backbone(dtype=name))
        if name == "float32":
            weights = model.get_weights()
        else:
            model.set_weights(weights)
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        losses[name] = model.evaluate(data, labels, verbose=0)[0]
    assert model.backbone.get_layer("transformer_layer_0").compute_dtype == policy.split("_")[1]
    assert losses[policy] == pytest.approx(
        losses["float32"], rel={"mixed_float16": 0.02, "mixed_bfloat16": 0.05}[policy]
    )
    history = model.fit(data, labels, epochs=5, verbose=0).history["loss"]
    assert np.all(np.isfinite(history)) and history[-1] < history[0]


def test_fine_tuning_learns_a_held_out_rule():
    """A generated task: is token 5 in the first segment? 20 epochs on 256
    examples; at least 90% right on 256 held-out ones."""
    rng = np.random.default_rng(0)

    def make(count):
        data = inputs(batch=count, length=8, seed=int(rng.integers(1 << 30)))
        ids = data["token_ids"]
        labels = rng.integers(0, 2, size=count)
        ids[:, :4] = np.where(ids[:, :4] == 5, 6, ids[:, :4])
        ids[np.arange(count), rng.integers(0, 4, size=count)] = np.where(labels == 1, 5, 7)
        data["padding_mask"][:] = 1
        return data, labels.astype("int32")

    train, train_labels = make(256)
    test, test_labels = make(256)
    keras.utils.set_random_seed(0)
    model = BertClassifier(backbone(), num_classes=2, dropout=0.0)
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(train, train_labels, batch_size=32, epochs=20, verbose=0)
    accuracy = np.mean(model.predict(test, verbose=0).argmax(-1) == test_labels)
    assert accuracy >= 0.9, accuracy
