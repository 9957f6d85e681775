"""NEZHA against the NumPy reference of the paper's formulas
(tests/nezha/reference.py), on every lane: backbone, relative positions
(their clipping and sign), masking, heads, configs, HF files both ways,
strict loading, saving, and a short fine-tuning run."""

import json
import re

import numpy as np
import pytest

import kerastack.models
from kerastack.core import keras
from kerastack.models import read_safetensors, write_checkpoint
from kerastack.nezha import (
    NezhaBackbone,
    NezhaClassifier,
    NezhaConfig,
    NezhaMaskedLM,
    NezhaQuestionAnswerer,
    NezhaTokenClassifier,
    load_hf_weights,
    save_hf_weights,
)
from tests.nezha import reference
from tests.tolerances import FLOAT32_ATOL, FLOAT32_RTOL, SAVE_ATOL

# Odd sizes: width 12 in 3 heads of 4; relative distances clipped at 3, in
# sequences of 9, so most pairs are clipped.
ARGUMENTS = dict(
    vocabulary_size=40,
    num_layers=2,
    num_heads=3,
    hidden_dim=12,
    intermediate_dim=20,
    max_relative_position=3,
    max_sequence_length=32,
    dropout=0.0,
)
LENGTH = 9


def randomize(model, seed=0):
    """Every weight random and of order 1, so that each term counts."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        shape = tuple(variable.shape)
        value = rng.normal(0.0, 0.5, shape)
        if "gamma" in variable.path:
            value = 1.0 + 0.2 * rng.normal(size=shape)
        variable.assign(value.astype("float32"))
    return model


def hf_tensors(model):
    return {
        name: np.asarray(layout.to_hf(keras.ops.convert_to_numpy(variable)), "float64")
        for variable, name, layout in model.hf_weight_table()
    }


def inputs(batch=2, length=LENGTH, seed=1, vocabulary=40):
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, vocabulary, size=(batch, length)).astype("int32")
    mask = np.ones((batch, length), "int32")
    if batch > 1:
        mask[1, length - 3 :] = 0  # the second row padded
    segments = (np.arange(length)[None, :] >= length // 2).astype("int32").repeat(batch, 0)
    return {"token_ids": ids, "segment_ids": segments, "padding_mask": mask}


@pytest.fixture(scope="module")
def backbone():
    return randomize(NezhaBackbone(**ARGUMENTS))


def expected(model, data, sign=1):
    return reference.encoder(
        hf_tensors(model),
        data["token_ids"],
        data["segment_ids"],
        data["padding_mask"].astype(bool),
        num_heads=3,
        max_relative_position=3,
        sign=sign,
    )


def test_backbone_matches_numpy_reference(backbone):
    data = inputs()
    outputs = backbone.predict(data, verbose=0)
    sequence, pooled = expected(backbone, data)
    np.testing.assert_allclose(
        outputs["sequence_output"], sequence, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL
    )
    np.testing.assert_allclose(
        outputs["pooled_output"], pooled, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL
    )


def test_relative_positions_count_with_their_sign_and_clip(backbone):
    """The opposite sign convention (clip(i - j)) gives other outputs, and
    so would an unclipped table: the reference is not met by accident."""
    data = inputs()
    outputs = backbone.predict(data, verbose=0)["sequence_output"]
    flipped, _ = expected(backbone, data, sign=-1)
    assert np.abs(outputs - flipped).max() > 100 * FLOAT32_ATOL
    wider = randomize(NezhaBackbone(**dict(ARGUMENTS, max_relative_position=8)))
    wider.set_weights(backbone.get_weights())
    assert (
        np.abs(wider.predict(data, verbose=0)["sequence_output"] - outputs).max()
        > 100 * FLOAT32_ATOL
    )


def test_padding_never_changes_real_positions(backbone):
    data = inputs(batch=1)
    longer = {key: np.concatenate([value, value[:, :4]], axis=1) for key, value in data.items()}
    longer["padding_mask"][:, LENGTH:] = 0
    longer["token_ids"][:, LENGTH:] = 7
    short = backbone.predict(data, verbose=0)["sequence_output"]
    padded = backbone.predict(longer, verbose=0)["sequence_output"][:, :LENGTH]
    np.testing.assert_allclose(padded, short, atol=FLOAT32_ATOL, rtol=0)


def test_heads_match_numpy_reference(backbone):
    data = inputs()
    sequence, pooled = expected(backbone, data)
    positions = np.array([[1, 4], [0, 5]], "int32")
    mlm = NezhaMaskedLM(backbone)
    head = mlm.mlm_head
    for layer in (head.dense, head.layer_norm):
        randomize(layer, seed=3)
    head.bias.assign(np.random.default_rng(4).normal(size=40).astype("float32"))
    tensors = hf_tensors(mlm)
    picked = np.take_along_axis(sequence, positions[..., None], axis=1)
    np.testing.assert_allclose(
        mlm.predict(dict(data, mask_positions=positions), verbose=0),
        reference.masked_lm_logits(tensors, picked),
        atol=FLOAT32_ATOL,
        rtol=FLOAT32_RTOL,
    )
    classifier = NezhaClassifier(backbone, num_classes=3, dropout=0.0)
    w = hf_tensors(classifier)
    np.testing.assert_allclose(
        classifier.predict(data, verbose=0),
        pooled @ w["classifier.weight"].T + w["classifier.bias"],
        atol=FLOAT32_ATOL,
        rtol=FLOAT32_RTOL,
    )
    tagger = NezhaTokenClassifier(backbone, num_classes=4, dropout=0.0)
    w = hf_tensors(tagger)
    assert not any(name.startswith("pooler.") for name in w)
    np.testing.assert_allclose(
        tagger.predict(data, verbose=0),
        sequence @ w["classifier.weight"].T + w["classifier.bias"],
        atol=FLOAT32_ATOL,
        rtol=FLOAT32_RTOL,
    )
    answerer = NezhaQuestionAnswerer(backbone)
    w = hf_tensors(answerer)
    span = sequence @ w["qa_outputs.weight"].T + w["qa_outputs.bias"]
    logits = answerer.predict(data, verbose=0)
    np.testing.assert_allclose(
        logits["start_logits"], span[..., 0], atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL
    )
    np.testing.assert_allclose(
        logits["end_logits"], span[..., 1], atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL
    )


def test_config_reads_hf_and_huawei_files(tmp_path):
    hf = {"model_type": "nezha", "architectures": ["NezhaModel"], "vocab_size": 40,
          "hidden_size": 12, "num_hidden_layers": 2, "num_attention_heads": 3,
          "intermediate_size": 20, "max_relative_position": 3, "hidden_act": "gelu_new",
          "classifier_dropout": 0.1, "pad_token_id": 0}  # fmt: skip
    (tmp_path / "config.json").write_text(json.dumps(hf))
    config = NezhaConfig.from_json(tmp_path)
    assert (config.max_relative_position, config.activation) == (3, "gelu_approximate")
    model = NezhaBackbone.from_config_file(tmp_path)
    assert (model.num_heads, model.max_relative_position, model.hidden_dim) == (3, 3, 12)
    with pytest.raises(ValueError, match="'bert' config, not a 'nezha'"):
        NezhaConfig.from_dict(dict(hf, model_type="bert"))
    with pytest.raises(ValueError, match="max_relative_position"):
        NezhaConfig.from_dict(dict(hf, max_relative_position=0))
    with pytest.raises(ValueError, match="not divisible"):
        NezhaConfig.from_dict(dict(hf, num_attention_heads=5))


def test_hf_files_round_trip_and_load_strictly(tmp_path, backbone):
    save_hf_weights(backbone, tmp_path / "saved")
    config = json.loads((tmp_path / "saved" / "config.json").read_text())
    assert config["model_type"] == "nezha" and config["max_relative_position"] == 3
    reloaded = NezhaBackbone.from_pretrained(str(tmp_path / "saved"))
    for a, b in zip(backbone.get_weights(), reloaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    # HF's task-model layout: the "nezha." prefix, buffers old versions saved, a head.
    tensors = {
        "nezha." + name: value
        for name, value in read_safetensors(str(tmp_path / "saved" / "model.safetensors")).items()
    }
    tensors[
        "nezha.encoder.layer.0.attention.self.relative_positions_encoding.positions_encoding"
    ] = np.zeros((32, 32, 4), "float32")
    tensors["classifier.weight"] = np.ones((3, 12), "float32")
    tensors["classifier.bias"] = np.zeros(3, "float32")
    write_checkpoint(str(tmp_path / "task"), tensors, json.dumps(config))
    classifier = NezhaClassifier.from_pretrained(str(tmp_path / "task"), num_classes=3)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(classifier.classifier.kernel), np.ones((12, 3))
    )
    fresh = NezhaBackbone(**ARGUMENTS)
    left_out = load_hf_weights(fresh, str(tmp_path / "task"))
    assert "classifier.weight" in left_out
    assert any("relative_positions_encoding" in name for name in left_out)
    # Strict: a missing tensor is an error naming it, and nothing changes.
    del tensors["nezha.encoder.layer.1.output.dense.bias"]
    write_checkpoint(str(tmp_path / "broken"), tensors, json.dumps(config))
    before = [w.copy() for w in fresh.get_weights()]
    with pytest.raises(
        ValueError, match=r"missing tensors: encoder\.layer\.1\.output\.dense\.bias"
    ):
        load_hf_weights(fresh, str(tmp_path / "broken"))
    for a, b in zip(before, fresh.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    wrong = NezhaBackbone(**dict(ARGUMENTS, intermediate_dim=24))
    with pytest.raises(ValueError, match="shape mismatches"):
        load_hf_weights(wrong, str(tmp_path / "saved"))


@pytest.mark.parametrize(
    "task, architecture",
    [
        ("masked_lm", "NezhaForMaskedLM"),
        ("classification", "NezhaForSequenceClassification"),
        ("token_classification", "NezhaForTokenClassification"),
        ("question_answering", "NezhaForQuestionAnswering"),
    ],
)
def test_task_models_export_in_hf_task_layouts(tmp_path, backbone, task, architecture):
    """Each task model is written as transformers 4.x's NezhaFor... class
    (backbone under `nezha.`, the pooler only where HF's class has one, the
    head under HF's names) and loads back, by its class and by the kit's
    entry point, to identical outputs."""
    data = inputs()
    builders = {
        "masked_lm": lambda: NezhaMaskedLM(backbone),
        "classification": lambda: NezhaClassifier(backbone, num_classes=3, dropout=0.2),
        "token_classification": lambda: NezhaTokenClassifier(backbone, num_classes=5),
        "question_answering": lambda: NezhaQuestionAnswerer(backbone),
    }
    model = builders[task]()
    backbone_names = {name for _, name, _ in backbone.hf_weight_table()}
    for variable, name, _ in model.hf_weight_table():  # the head random too
        if name not in backbone_names:
            variable.assign(np.random.default_rng(5).normal(size=variable.shape).astype("float32"))
    if task == "masked_lm":
        data = dict(data, mask_positions=np.array([[1, 4], [0, 5]], "int32"))
    folder = str(tmp_path / task)
    save_hf_weights(model, folder)

    config = json.loads((tmp_path / task / "config.json").read_text())
    assert config["architectures"] == [architecture]
    names = set(read_safetensors(str(tmp_path / task / "model.safetensors")))
    heads = {name for name in names if not name.startswith("nezha.")}
    with_pooler = task == "classification"
    expected_body = {
        "nezha." + name for name in backbone_names if with_pooler or not name.startswith("pooler.")
    }
    assert names - heads == expected_body
    expected_heads = {
        "masked_lm": {
            "cls.predictions.transform.dense.weight",
            "cls.predictions.transform.dense.bias",
            "cls.predictions.transform.LayerNorm.weight",
            "cls.predictions.transform.LayerNorm.bias",
            "cls.predictions.bias",
        },
        "classification": {"classifier.weight", "classifier.bias"},
        "token_classification": {"classifier.weight", "classifier.bias"},
        "question_answering": {"qa_outputs.weight", "qa_outputs.bias"},
    }
    assert heads == expected_heads[task]
    if task in ("classification", "token_classification"):
        classes = model.get_config()["num_classes"]
        assert config["num_labels"] == len(config["id2label"]) == classes
        assert config["classifier_dropout"] == model.get_config()["dropout"]
    if task == "question_answering":  # HF's qa_outputs has num_labels outputs
        assert config["num_labels"] == len(config["id2label"]) == 2

    expected_outputs = model.predict(data, verbose=0)
    for reloaded in (
        type(model).from_pretrained(folder),
        kerastack.models.from_pretrained(folder, task=task),
    ):
        assert type(reloaded) is type(model)
        assert {
            k: v for k, v in reloaded.get_config().items() if k not in ("backbone", "name")
        } == {k: v for k, v in model.get_config().items() if k not in ("backbone", "name")}
        outputs = reloaded.predict(data, verbose=0)
        for key in expected_outputs if isinstance(expected_outputs, dict) else [None]:
            got = outputs if key is None else outputs[key]
            want = expected_outputs if key is None else expected_outputs[key]
            np.testing.assert_array_equal(got, want)


def test_save_hf_weights_refuses_other_models(tmp_path):
    with pytest.raises(TypeError, match="NezhaBackbone or a NEZHA task model"):
        save_hf_weights(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]), tmp_path)


def stand_in_backbone():
    """A functional model with a backbone's inputs and outputs, but of no
    family's class (as another family's backbone would be)."""
    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    segment_ids = keras.Input(shape=(None,), dtype="int32", name="segment_ids")
    padding_mask = keras.Input(shape=(None,), dtype="int32", name="padding_mask")
    sequence = keras.layers.Embedding(30, 12)(token_ids)
    return keras.Model(
        {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask},
        {"sequence_output": sequence, "pooled_output": sequence[:, 0, :]},
    )


@pytest.mark.parametrize(
    "build",
    [
        NezhaMaskedLM,
        lambda backbone: NezhaClassifier(backbone, num_classes=2),
        lambda backbone: NezhaTokenClassifier(backbone, num_classes=2),
        NezhaQuestionAnswerer,
    ],
    ids=["masked_lm", "classifier", "token_classifier", "question_answerer"],
)
def test_task_models_refuse_other_backbones_at_once(build):
    with pytest.raises(
        ValueError, match=r"Nezha\w+ needs a NezhaBackbone, received a Functional\."
    ):
        build(stand_in_backbone())


BAD_HEAD_ARGUMENTS = [
    ({"num_classes": 0}, "num_classes=0"),
    ({"num_classes": 2.5}, "num_classes=2.5"),
    ({"num_classes": True}, "num_classes=True"),
    ({"dropout": 1.5}, "dropout=1.5"),
    ({"dropout": -0.1}, "dropout=-0.1"),
    ({"dropout": 1.0}, "dropout=1.0"),
]


@pytest.mark.parametrize("head", [NezhaClassifier, NezhaTokenClassifier])
@pytest.mark.parametrize("arguments, shown", BAD_HEAD_ARGUMENTS)
def test_bad_head_arguments_are_value_errors_naming_them(backbone, head, arguments, shown):
    name = next(iter(arguments))
    with pytest.raises(ValueError, match=rf"`{name}` must be .*received {re.escape(shown)}\."):
        head(backbone, **{"num_classes": 2, **arguments})


def test_keras_saving_round_trips(tmp_path, backbone):
    data = inputs()
    classifier = NezhaClassifier(backbone, num_classes=3)
    path = str(tmp_path / "classifier.keras")
    classifier.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.backbone.get_config() == backbone.get_config()
    np.testing.assert_allclose(
        loaded.predict(data, verbose=0), classifier.predict(data, verbose=0), atol=SAVE_ATOL, rtol=0
    )
    mlm = NezhaMaskedLM(backbone)
    path = str(tmp_path / "mlm.keras")
    mlm.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.mlm_head.token_embedding is loaded.backbone.get_layer("token_embedding")
    data = dict(data, mask_positions=np.array([[1, 2], [3, 0]], "int32"))
    np.testing.assert_allclose(
        loaded.predict(data, verbose=0), mlm.predict(data, verbose=0), atol=SAVE_ATOL, rtol=0
    )


def test_bad_inputs_are_value_errors(backbone):
    data = inputs()
    with pytest.raises(ValueError, match="vocabulary_size"):
        backbone.predict(dict(data, token_ids=data["token_ids"] + 40), verbose=0)
    with pytest.raises(ValueError, match="max_sequence_length"):
        backbone.predict(inputs(batch=1, length=33), verbose=0)
    with pytest.raises(ValueError, match="max_relative_position"):
        NezhaBackbone(**dict(ARGUMENTS, max_relative_position=0))


def test_fine_tuning_learns_a_held_out_rule():
    """A generated task: is token 5 in the first half? One block, 10 epochs
    on 256 examples; at least 90% right on 256 held-out ones (measured:
    100% on PyTorch and TensorFlow, 97% on JAX)."""
    rng = np.random.default_rng(0)

    def make(count):
        data = inputs(batch=count, length=8, seed=int(rng.integers(1 << 30)), vocabulary=20)
        ids = data["token_ids"]
        labels = rng.integers(0, 2, size=count)
        ids[:, :4] = np.where(ids[:, :4] == 5, 6, ids[:, :4])
        ids[np.arange(count), rng.integers(0, 4, size=count)] = np.where(labels == 1, 5, 7)
        data["padding_mask"][:] = 1
        return data, labels.astype("int32")

    train, train_labels = make(256)
    test, test_labels = make(256)
    keras.utils.set_random_seed(0)
    model = NezhaClassifier(
        NezhaBackbone(**dict(ARGUMENTS, vocabulary_size=20, num_layers=1)),
        num_classes=2,
        dropout=0.0,
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(train, train_labels, batch_size=32, epochs=10, verbose=0)
    accuracy = np.mean(model.predict(test, verbose=0).argmax(-1) == test_labels)
    assert accuracy >= 0.9, accuracy
