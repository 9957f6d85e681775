"""Quantized models save and load (issue 22): `model.quantize(mode)` on any
backbone or task model of any family, saved to `.keras`, loads back with the
quantized weights and gives the same outputs.

The torch lane checks every backbone class (the `CASES` of
test_config_keys.py, so a new family is covered by adding its case there)
and one task model of each kind of head (classifier, tied masked-LM,
causal-LM, encoder-decoder) in int8; int4 and float8 on one encoder and one
decoder task model; and the checks that do not depend on the
backend (the saved config, errors, export refusals). The TensorFlow and JAX
lanes, where a quantized model costs tens of seconds of tracing, check
BERT's classifier and GPT-2's causal LM (each with its backbone) in int8,
BERT's in int4 (custom block size) and float8, and fine-tuning a quantized
model: every model saves through the same two bases (`SavedByArguments`,
`TaskModel`).
"""

import os
import warnings

import numpy as np
import pytest

from kerastack.core import keras
from kerastack.models import SavedByArguments, TaskModel
from tests.models.test_config_keys import _cases

MODELS = {
    cls: make for cls, make in _cases().items() if issubclass(cls, (SavedByArguments, TaskModel))
}


# The models the TensorFlow and JAX lanes check (each with its backbone).
EVERY_LANE = {"BertClassifier", "GPT2CausalLM"}
# The task models the torch lane checks besides every backbone: one of each
# kind of head (classifier, tied masked-LM and causal-LM heads, encoder-decoder);
# the others save through the same TaskModel code, and each quantized model
# costs CI about 17 s.
TORCH_TASKS = EVERY_LANE | {"RobertaMaskedLM", "T5Seq2SeqLM"}


def _on_torch_only(what):
    if keras.config.backend() != "torch":
        pytest.skip(
            f"{what} is checked on the torch lane: the same on every backend, and a quantized "
            "model costs tens of seconds of tracing on this one (CI's time budget)"
        )


def _inputs(model):
    """Ones of batch 2, length 5 for every input: valid token, segment,
    position ids and an all-ones padding mask for every family."""
    return {t.name: np.ones((2, 5), "int32") for t in model.inputs}


def _numpy(outputs):
    return [keras.ops.convert_to_numpy(x) for x in keras.tree.flatten(outputs)]


def _quantize(model, mode, config=None):
    with warnings.catch_warnings():
        # Keras warns for each layer without weights to quantize (dropout, norms).
        warnings.simplefilter("ignore", UserWarning)
        model.quantize(mode, config=config)


def _quantized_paths(model):
    return {
        layer.path: layer.dtype_policy.name
        for layer in model._flatten_layers(include_self=False)
        if layer.quantization_mode is not None
    }


def _save_and_load(model, tmp_path):
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    return keras.models.load_model(path)


def _check_round_trip(model, mode, tmp_path, config=None):
    inputs = _inputs(model)
    before = _numpy(model(inputs))
    _quantize(model, mode, config)
    quantized = _numpy(model(inputs))
    paths = _quantized_paths(model)
    assert paths, f"{type(model).__name__}.quantize({mode!r}) quantized no layer"

    loaded = _save_and_load(model, tmp_path)

    assert type(loaded) is type(model)
    assert _quantized_paths(loaded) == paths
    for actual, expected in zip(_numpy(loaded(inputs)), quantized, strict=True):
        np.testing.assert_array_equal(actual, expected)
    # Quantization changed the numbers a little, not wholesale: a loose bound
    # relative to the outputs' scale, or to 1 for the tiny logits of a random
    # head (the benchmark reports a real-size model's error).
    for actual, expected in zip(quantized, before, strict=True):
        scale = max(float(np.max(np.abs(expected))), 1.0)
        assert np.max(np.abs(actual - expected)) <= 0.25 * scale
    return loaded


@pytest.mark.parametrize("cls", list(MODELS), ids=lambda cls: cls.__name__)
def test_every_model_saves_int8_and_loads_back(cls, tmp_path):
    if issubclass(cls, TaskModel) and cls.__name__ not in TORCH_TASKS:
        pytest.skip(
            f"{cls.__name__} saves through the same TaskModel code as {sorted(TORCH_TASKS)}, "
            "which are checked (CI's time budget: each quantized model costs seconds)"
        )
    if keras.config.backend() != "torch" and cls.__name__ not in EVERY_LANE:
        pytest.skip(
            f"{cls.__name__} is checked on the torch lane; this lane checks {sorted(EVERY_LANE)} "
            "(every model saves through the same two bases), to keep CI in its time budget"
        )
    loaded = _check_round_trip(MODELS[cls](), "int8", tmp_path)
    kernels = [
        layer._kernel
        for layer in loaded._flatten_layers(include_self=False)
        if layer.quantization_mode == "int8" and hasattr(layer, "_kernel")
    ]
    assert kernels and all(kernel.dtype == "int8" for kernel in kernels)


def _bert_classifier():
    from kerastack.bert import BertBackbone, BertClassifier

    backbone = BertBackbone(
        vocabulary_size=30,
        num_layers=1,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
        max_sequence_length=8,
    )
    return BertClassifier(backbone, num_classes=3)


def _gpt2_causal_lm():
    from kerastack.gpt import GPT2Backbone, GPT2CausalLM

    backbone = GPT2Backbone(
        vocabulary_size=30,
        num_layers=1,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
        max_sequence_length=8,
    )
    return GPT2CausalLM(backbone)


@pytest.mark.parametrize("mode", ["int4", "float8"])
@pytest.mark.parametrize("make", [_bert_classifier, _gpt2_causal_lm], ids=["bert", "gpt2"])
def test_int4_and_float8_save_and_load_back(make, mode, tmp_path):
    if (make, mode) != (_bert_classifier, "float8"):
        _on_torch_only(f"{make.__name__} in {mode} (int4: see the block-size test)")
    _check_round_trip(make(), mode, tmp_path)


def test_int4_keeps_its_block_size(tmp_path):
    config = keras.quantizers.Int4QuantizationConfig(block_size=4)
    loaded = _check_round_trip(_bert_classifier(), "int4", tmp_path, config)
    assert set(_quantized_paths(loaded).values()) == {"int4/4_from_float32"}


def test_a_quantized_config_names_the_quantized_layers():
    _on_torch_only("The saved config")
    model = _bert_classifier()
    _quantize(model, "int8")
    config = model.get_config()
    policies = config["dtype"]
    assert isinstance(policies, keras.dtype_policies.DTypePolicyMap)
    assert policies.default_policy.name == "float32"
    assert policies["classifier"].name == "int8_from_float32"
    backbone_policies = config["backbone"]["config"]["dtype"]
    assert "transformer_layer_0/self_attention/query" in backbone_policies["config"]["policy_map"]
    # Not quantized: the config is the plain policy name, as before.
    assert _bert_classifier().backbone.get_config()["dtype"] == "float32"


def test_a_quantized_layer_the_model_lacks_is_an_error():
    _on_torch_only("This error")
    model = _bert_classifier()
    _quantize(model, "int8")
    config = keras.saving.serialize_keras_object(model)["config"]
    config["dtype"]["config"]["policy_map"]["no_such_layer"] = config["dtype"]["config"][
        "policy_map"
    ]["classifier"]
    with pytest.raises(ValueError, match="quantized layer 'no_such_layer'"):
        type(model).from_config(config)


def test_a_quantized_classifier_still_trains_its_head(tmp_path):
    """A quantized model fine-tunes (its float weights: norms, biases,
    embeddings) and the trained model saves and loads."""
    model = _bert_classifier()
    _quantize(model, "int8")
    inputs = {name: np.concatenate([x, x]) for name, x in _inputs(model).items()}
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(inputs, np.array([0, 1, 2, 0]), epochs=1, verbose=0)
    loaded = _save_and_load(model, tmp_path)
    for actual, expected in zip(_numpy(loaded(inputs)), _numpy(model(inputs)), strict=True):
        np.testing.assert_array_equal(actual, expected)


def test_a_quantized_model_neither_exports_nor_loads_hf_checkpoints(tmp_path):
    """HF's checkpoints hold float weights: a quantized model's export would
    write raw int8 kernels, so both ways are an error saying what to do."""
    _on_torch_only("The refusal")
    from kerastack.bert import BertBackbone, save_hf_weights

    model = _bert_classifier()
    float_folder = str(tmp_path / "float")
    save_hf_weights(model.backbone, float_folder)
    _quantize(model, "int8")
    with pytest.raises(ValueError, match=r"are int8 \(a quantized model's weights\)"):
        save_hf_weights(model.backbone, str(tmp_path / "quantized"))
    assert not os.path.exists(tmp_path / "quantized" / "model.safetensors")
    with pytest.raises(ValueError, match="is quantized .*: A checkpoint loads into the float"):
        model.backbone.load_checkpoint(float_folder)
    assert type(BertBackbone.from_pretrained(float_folder)) is BertBackbone


def test_an_embedding_config_it_cannot_use_leaves_the_table_in_float():
    """A weight quantizer with per-column scales (axis 0) fits Dense kernels,
    not embedding tables: Keras warns and leaves the table as it was."""
    _on_torch_only("The fallback")
    model = _bert_classifier()
    table = keras.ops.convert_to_numpy(model.backbone.get_layer("token_embedding").embeddings)
    config = keras.quantizers.Int8QuantizationConfig(
        weight_quantizer=keras.quantizers.AbsMaxQuantizer(axis=0), activation_quantizer=None
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kinds = (keras.layers.Embedding, keras.layers.Dense)  # not EinsumDense (Keras's limit)
        model.quantize(config=config, filters=lambda layer: isinstance(layer, kinds))
    assert any("stays in float" in str(warning.message) for warning in caught)
    embedding = model.backbone.get_layer("token_embedding")
    assert embedding.quantization_mode is None
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(embedding.embeddings), table)
    assert model.get_layer("classifier").quantization_mode == "int8"


def test_a_custom_quantization_config_is_saved_with_the_model(tmp_path):
    """Layers quantized with a config of their own (no activation
    quantizer, per-column scales) come back quantized with it, not with
    Keras's default: the same outputs exactly."""
    _on_torch_only("A saved custom config")
    model = _bert_classifier()
    config = keras.quantizers.Int8QuantizationConfig(
        weight_quantizer=keras.quantizers.AbsMaxQuantizer(axis=0), activation_quantizer=None
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model.quantize(config=config, filters=lambda layer: type(layer) is keras.layers.Dense)
    inputs = _inputs(model)
    loaded = _save_and_load(model, tmp_path)
    dense = loaded.get_layer("classifier")
    assert dense.quantization_mode == "int8"
    assert dense.quantization_config.activation_quantizer is None
    for actual, expected in zip(_numpy(loaded(inputs)), _numpy(model(inputs)), strict=True):
        np.testing.assert_array_equal(actual, expected)
