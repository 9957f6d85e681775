"""ELECTRA's config, backbone and task models on every Keras 3 lane: checked
configs and arguments, the embedding projection, padding, saving (`.keras`
files and HF folders), the tied generator, mixed precision and a short
fine-tuning run. Parity with transformers and Google's checkpoints is in
tests/conformance/test_electra_conformance.py."""

import inspect
import json

import numpy as np
import pytest

from kerastack.core import keras
from kerastack.electra import (
    ElectraBackbone,
    ElectraClassifier,
    ElectraConfig,
    ElectraDiscriminator,
    ElectraMaskedLM,
    ElectraQuestionAnswerer,
    ElectraTokenClassifier,
    google_to_hf_name,
    save_electra_weights,
)
from tests.tolerances import SAVE_ATOL

SMALL = dict(
    vocabulary_size=30,
    num_layers=2,
    num_heads=3,
    hidden_dim=12,
    intermediate_dim=20,
    embedding_dim=10,
    max_sequence_length=16,
)


def backbone(**overrides):
    return ElectraBackbone(**{**SMALL, **overrides})


def inputs(batch=2, length=6, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, SMALL["vocabulary_size"], size=(batch, length)).astype("int32")
    mask = np.ones((batch, length), "int32")
    mask[1:, length - 2 :] = 0  # the rows after the first end in padding
    ids[mask == 0] = 0
    segments = np.zeros_like(ids)
    segments[:, length // 2 :] = 1
    return {"token_ids": ids, "segment_ids": segments * mask, "padding_mask": mask}


# Config ---------------------------------------------------------------------

VALID = {
    "model_type": "electra",
    "vocab_size": 30,
    "embedding_size": 10,
    "hidden_size": 12,
    "num_hidden_layers": 2,
    "num_attention_heads": 3,
    "intermediate_size": 20,
    "hidden_act": "gelu_new",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "max_position_embeddings": 16,
    "type_vocab_size": 2,
    "initializer_range": 0.02,
    "layer_norm_eps": 1e-12,
    "pad_token_id": 0,
    "classifier_dropout": None,
    "tie_word_embeddings": True,
}


def test_config_reads_every_field():
    config = ElectraConfig.from_dict(dict(VALID, summary_type="first", architectures=["X"]))
    arguments = config.backbone_arguments()
    assert arguments["embedding_dim"] == 10 and arguments["hidden_dim"] == 12
    assert arguments["activation"] == "gelu_approximate"
    model = ElectraBackbone(**arguments)
    assert (model.num_layers, model.num_heads, model.max_sequence_length) == (2, 3, 16)


@pytest.mark.parametrize(
    "key, value",
    [
        ("vocab_size", 0),
        ("embedding_size", 2.0),
        ("hidden_size", "12"),
        ("num_hidden_layers", -1),
        ("num_attention_heads", True),
        ("intermediate_size", None),
        ("hidden_act", "mish"),
        ("hidden_dropout_prob", 1.0),
        ("attention_probs_dropout_prob", -0.1),
        ("max_position_embeddings", 0),
        ("type_vocab_size", 0),
        ("initializer_range", -1.0),
        ("layer_norm_eps", 0.0),
        ("pad_token_id", -1),
        ("classifier_dropout", 1.5),
        ("tie_word_embeddings", "yes"),
    ],
)
def test_config_refuses_each_bad_field(key, value):
    with pytest.raises(ValueError, match=key):
        ElectraConfig.from_dict(dict(VALID, **{key: value}))


@pytest.mark.parametrize(
    "option",
    [{"position_embedding_type": "relative_key"}, {"is_decoder": True}, {"hidden_size": 13}],
)
def test_config_refuses_what_the_model_does_not_implement(option):
    with pytest.raises(ValueError):
        ElectraConfig.from_dict(dict(VALID, **option))


# Backbone -------------------------------------------------------------------


def test_the_projection_exists_only_when_the_widths_differ():
    projected = backbone()
    assert projected.get_layer("embeddings_projection").kernel.shape == (10, 12)
    square = backbone(embedding_dim=None)
    assert square.embedding_dim == 12
    assert "embeddings_projection" not in [layer.name for layer in square.layers]
    assert len(projected.weights) == len(square.weights) + 2
    for model in (projected, square):
        assert len(model.hf_weight_table()) == len(model.weights)


@pytest.mark.parametrize(
    "argument, value",
    [("embedding_dim", 0), ("num_heads", 5), ("dropout", 1.0), ("layer_norm_epsilon", 0.0)],
)
def test_bad_arguments_are_value_errors_naming_them(argument, value):
    with pytest.raises(ValueError, match=argument):
        backbone(**{argument: value})


def test_config_lists_every_constructor_argument():
    parameters = set(inspect.signature(ElectraBackbone.__init__).parameters)
    assert parameters - {"self", "dtype", "kwargs"} == set(ElectraBackbone.CONFIG_KEYS)
    config = backbone().get_config()
    assert {key: config[key] for key in SMALL} == SMALL


def test_padding_never_changes_the_real_positions():
    model = backbone()
    data = inputs(batch=1, length=5)
    longer = {key: np.pad(value, ((0, 0), (0, 3))) for key, value in data.items()}
    longer["token_ids"][:, 5:] = 7  # whatever the padding holds
    short = model.predict(data, verbose=0)["sequence_output"]
    padded = model.predict(longer, verbose=0)["sequence_output"]
    np.testing.assert_allclose(padded[:, :5], short, atol=1e-5)


def test_bad_inputs_are_value_errors_naming_them():
    model = backbone()
    data = inputs()
    data["token_ids"][0, 0] = SMALL["vocabulary_size"]
    with pytest.raises(ValueError, match="token_ids"):
        model.predict(data, verbose=0)
    with pytest.raises(ValueError, match="max_sequence_length"):
        model(inputs(length=SMALL["max_sequence_length"] + 1))


# Task models ----------------------------------------------------------------

TASKS = {
    "backbone": lambda b: b,
    "discriminator": ElectraDiscriminator,
    "generator": ElectraMaskedLM,
    "untied_generator": lambda b: ElectraMaskedLM(b, tie_weights=False),
    "classifier": lambda b: ElectraClassifier(b, num_classes=3),
    "token_classifier": lambda b: ElectraTokenClassifier(b, num_classes=4),
    "question_answerer": ElectraQuestionAnswerer,
}


def _flat(outputs):
    return outputs if isinstance(outputs, dict) else {"": outputs}


@pytest.mark.parametrize("task", list(TASKS))
def test_keras_file_and_hf_folder_round_trips(task, tmp_path):
    model = TASKS[task](backbone())
    data = inputs()
    expected = _flat(model.predict(data, verbose=0))
    path = str(tmp_path / "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored) is type(model)
    for key, value in _flat(restored.predict(data, verbose=0)).items():
        np.testing.assert_allclose(value, expected[key], atol=SAVE_ATOL)
    # HF's layout and back: the same weights, the same arguments.
    folder = tmp_path / "hf"
    save_electra_weights(model, str(folder))
    reloaded = type(model).from_pretrained(str(folder))
    assert reloaded.get_config().keys() == model.get_config().keys()
    for ours, theirs in zip(model.get_weights(), reloaded.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    config = json.loads((folder / "config.json").read_text())
    assert config["tie_word_embeddings"] is (task != "untied_generator")


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


@pytest.mark.parametrize("task", [name for name in TASKS if name != "backbone"])
def test_task_models_refuse_other_backbones_at_once(task):
    with pytest.raises(ValueError, match=r"needs an ElectraBackbone, received a Functional\."):
        TASKS[task](stand_in_backbone())


def test_the_generator_output_is_the_word_table_when_tied():
    model = ElectraMaskedLM(backbone())
    assert model.output_layer.token_embedding is model.backbone.get_layer("token_embedding")
    data = inputs()
    bias = np.linspace(-1, 1, SMALL["vocabulary_size"]).astype("float32")
    model.output_layer.bias.assign(bias)
    table = model.backbone.get_layer("token_embedding").embeddings
    table.assign(np.zeros(tuple(table.shape), "float32"))
    # A zero table leaves the bias alone, at every position.
    logits = model.predict(data, verbose=0)
    np.testing.assert_allclose(logits, np.broadcast_to(bias, logits.shape), atol=1e-6)


def test_save_refuses_other_models(tmp_path):
    with pytest.raises(TypeError, match="ElectraBackbone"):
        save_electra_weights(keras.Sequential([keras.layers.Dense(1)]), str(tmp_path))


def test_google_names_of_an_untied_generator():
    name = "generator/embeddings/word_embeddings"
    assert google_to_hf_name(name, generator=True, untied_generator_embeddings=True) == (
        "electra.embeddings.word_embeddings.weight",
        False,
    )
    shared = "electra/embeddings/word_embeddings"
    assert google_to_hf_name(shared, generator=True, untied_generator_embeddings=True) is None
    assert google_to_hf_name("global_step") is None


def test_mixed_precision_logits_are_float32_and_close():
    reference = ElectraDiscriminator(backbone())
    half = ElectraDiscriminator(backbone(dtype="mixed_bfloat16"))
    half.set_weights(reference.get_weights())
    data = inputs()
    actual = half.predict(data, verbose=0)
    assert actual.dtype == np.float32 and np.all(np.isfinite(actual))
    assert half.backbone.get_layer("transformer_layer_0").compute_dtype == "bfloat16"
    np.testing.assert_allclose(actual, reference.predict(data, verbose=0), atol=5e-2)


def test_fine_tuning_learns_a_held_out_rule():
    """A generated task: is token 5 in the first segment? 20 epochs on 256
    examples (one block, to stay within a few seconds); at least 90% right
    on 256 held-out ones."""
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
    model = ElectraClassifier(backbone(num_layers=1, dropout=0.0), num_classes=2, dropout=0.0)
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(train, train_labels, batch_size=128, epochs=20, verbose=0)
    accuracy = np.mean(model.predict(test, verbose=0).argmax(-1) == test_labels)
    assert accuracy >= 0.9, accuracy
