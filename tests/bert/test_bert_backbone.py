"""BertBackbone, BertConfig and strict HF checkpoint loading (Keras 3 lanes)."""

import json
import os

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from kerastack.bert import BertBackbone, BertConfig, load_hf_weights, save_hf_weights
from kerastack.core import keras

SMALL = dict(
    vocabulary_size=40,
    num_layers=2,
    num_heads=2,
    hidden_dim=8,
    intermediate_dim=12,
    max_sequence_length=16,
    dropout=0.0,
)


def small_backbone(**overrides):
    return BertBackbone(**{**SMALL, **overrides})


def inputs(batch=2, length=6, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, SMALL["vocabulary_size"], size=(batch, length)).astype("int32")
    segments = (np.arange(length)[None] >= length // 2).astype("int32").repeat(batch, 0)
    mask = np.ones((batch, length), "int32")
    mask[1, length - 2 :] = 0
    return {"token_ids": ids, "segment_ids": segments, "padding_mask": mask}


def predict(backbone, data):
    return backbone.predict(data, batch_size=len(data["token_ids"]), verbose=0)


def weights(backbone):
    return [np.array(w) for w in backbone.get_weights()]


def test_outputs():
    outputs = predict(small_backbone(), inputs())
    assert outputs["sequence_output"].shape == (2, 6, 8)
    assert outputs["pooled_output"].shape == (2, 8)
    assert np.all(np.abs(outputs["pooled_output"]) <= 1.0)  # tanh
    assert np.all(np.isfinite(outputs["sequence_output"]))


def test_padding_mask_is_explicit_not_token_id_zero():
    backbone = small_backbone()
    data = inputs()
    real = data["padding_mask"].astype(bool)
    base = predict(backbone, data)["sequence_output"]
    # What sits at padded positions changes nothing at real ones.
    changed = dict(data, token_ids=np.where(real, data["token_ids"], 7).astype("int32"))
    np.testing.assert_allclose(
        predict(backbone, changed)["sequence_output"][real], base[real], atol=1e-6
    )
    # Token id 0 at a real position is a token like any other, not padding.
    zero = dict(data, token_ids=np.where(real, 0, data["token_ids"]).astype("int32"))
    zero_mask = dict(zero, padding_mask=np.zeros_like(data["padding_mask"]))
    assert not np.allclose(
        predict(backbone, zero)["sequence_output"], predict(backbone, zero_mask)["sequence_output"]
    )


def test_keras_file_round_trip(tmp_path):
    backbone = small_backbone()
    data = inputs()
    expected = predict(backbone, data)
    path = str(tmp_path / "bert.keras")
    backbone.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, BertBackbone)
    for key in expected:
        np.testing.assert_allclose(predict(restored, data)[key], expected[key], atol=1e-6)


def test_hf_export_round_trip(tmp_path):
    backbone = small_backbone(activation="gelu_approximate")
    save_hf_weights(backbone, str(tmp_path))
    restored = BertBackbone.from_pretrained(str(tmp_path))
    assert restored.activation == "gelu_approximate"
    data = inputs()
    expected = predict(backbone, data)
    np.testing.assert_allclose(
        predict(restored, data)["sequence_output"], expected["sequence_output"], atol=1e-6
    )


# -- config ---------------------------------------------------------------------


def test_config_reads_hf_and_google_files(tmp_path):
    google = {
        "vocab_size": 30,
        "hidden_size": 8,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "intermediate_size": 10,
        "hidden_act": "gelu",
        "max_position_embeddings": 12,
        "type_vocab_size": 2,
    }
    (tmp_path / "bert_config.json").write_text(json.dumps(google))
    config = BertConfig.from_json(str(tmp_path))
    assert config.layer_norm_eps == 1e-12  # Google's files name none
    backbone = BertBackbone.from_config_file(str(tmp_path))
    assert (backbone.num_layers, backbone.hidden_dim, backbone.max_sequence_length) == (1, 8, 12)
    hf = dict(
        google,
        layer_norm_eps=1e-7,
        model_type="bert",
        architectures=["BertModel"],
        hidden_act="gelu_new",
    )
    (tmp_path / "config.json").write_text(json.dumps(hf))
    config = BertConfig.from_json(str(tmp_path))  # config.json first
    assert config.layer_norm_eps == 1e-7
    assert config.activation == "gelu_approximate"


@pytest.mark.parametrize(
    "values, message",
    [
        ({"hidden_size": 8}, "needs `vocab_size`"),
        ({"vocab_size": 9, "model_type": "roberta"}, "'roberta' config"),
        ({"vocab_size": 9, "hidden_act": "mish"}, "Unknown hidden_act 'mish'"),
        ({"vocab_size": 9, "hidden_size": 10, "num_attention_heads": 3}, "not divisible"),
        ({"vocab_size": 9, "position_embedding_type": "relative_key"}, "absolute position"),
    ],
)
def test_config_errors(values, message):
    with pytest.raises(ValueError, match=message):
        BertConfig.from_dict(values)


def test_config_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No config.json"):
        BertConfig.from_json(str(tmp_path))
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        BertConfig.from_json(str(tmp_path))
    (tmp_path / "config.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="does not hold a JSON object"):
        BertConfig.from_json(str(tmp_path))


# -- strict loading ---------------------------------------------------------------


@pytest.fixture
def checkpoint(tmp_path):
    """An HF-layout checkpoint of a small backbone: `(folder, tensors)`."""
    save_hf_weights(small_backbone(), str(tmp_path))
    return tmp_path, load_file(str(tmp_path / "model.safetensors"))


def rewrite(folder, tensors):
    save_file(tensors, str(folder / "model.safetensors"))


def assert_refused(folder, *fragments, **kwargs):
    backbone = small_backbone()
    before = weights(backbone)
    with pytest.raises(ValueError) as error:
        load_hf_weights(backbone, str(folder), **kwargs)
    for fragment in fragments:
        assert fragment in str(error.value)
    for old, new in zip(before, weights(backbone), strict=True):
        np.testing.assert_array_equal(old, new)  # nothing half-loaded


def test_loading_assigns_every_weight(checkpoint):
    folder, _ = checkpoint
    source = BertBackbone.from_pretrained(str(folder))
    target = small_backbone()
    assert load_hf_weights(target, str(folder)) == []
    for a, b in zip(weights(source), weights(target), strict=True):
        np.testing.assert_array_equal(a, b)


def test_missing_tensors_are_listed(checkpoint):
    folder, tensors = checkpoint
    del tensors["encoder.layer.1.output.dense.bias"], tensors["pooler.dense.weight"]
    rewrite(folder, tensors)
    assert_refused(
        folder, "missing tensors: encoder.layer.1.output.dense.bias, pooler.dense.weight"
    )


def test_unexpected_tensors_are_listed(checkpoint):
    folder, tensors = checkpoint
    tensors["encoder.layer.2.output.dense.bias"] = np.zeros(8, "float32")
    rewrite(folder, tensors)
    assert_refused(folder, "unexpected tensors: encoder.layer.2.output.dense.bias")


def test_mis_shaped_tensors_are_listed(checkpoint):
    folder, tensors = checkpoint
    tensors["encoder.layer.0.intermediate.dense.weight"] = np.zeros((13, 8), "float32")
    rewrite(folder, tensors)
    assert_refused(
        folder, "encoder.layer.0.intermediate.dense.weight: checkpoint (13, 8), model (12, 8)"
    )


def test_heads_buffers_prefix_and_old_norm_names_are_understood(checkpoint):
    folder, tensors = checkpoint
    renamed = {}
    for name, value in tensors.items():
        name = name.replace("LayerNorm.weight", "LayerNorm.gamma").replace(
            "LayerNorm.bias", "LayerNorm.beta"
        )
        renamed["bert." + name] = value
    renamed["cls.predictions.bias"] = np.zeros(40, "float32")
    renamed["bert.embeddings.position_ids"] = np.arange(16)[None]
    rewrite(folder, renamed)
    backbone = small_backbone()
    left_out = load_hf_weights(backbone, str(folder))
    assert left_out == ["cls.predictions.bias", "embeddings.position_ids"]


def test_longer_position_table_only_on_request(checkpoint):
    folder, tensors = checkpoint
    table = tensors["embeddings.position_embeddings.weight"]
    tensors["embeddings.position_embeddings.weight"] = np.concatenate([table, table])
    rewrite(folder, tensors)
    assert_refused(
        folder, "embeddings.position_embeddings.weight: checkpoint (32, 8), model (16, 8)"
    )
    backbone = small_backbone()
    load_hf_weights(backbone, str(folder), allow_longer_position_table=True)
    np.testing.assert_array_equal(
        np.array(backbone.get_layer("position_embedding").embeddings), table
    )


def test_corrupt_truncated_and_absent_files(checkpoint):
    folder, _ = checkpoint
    path = folder / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert_refused(folder, "not a readable safetensors file")
    path.write_bytes(b"\x00" * 64)
    assert_refused(folder, "not a readable safetensors file")
    os.remove(path)
    with pytest.raises(FileNotFoundError, match="No checkpoint file"):
        load_hf_weights(small_backbone(), str(folder))


def test_last_layers_model_concatenates_the_last_blocks():
    backbone = small_backbone()
    data = inputs()
    sequence = predict(backbone, data)["sequence_output"]
    both = backbone.last_layers_model(2).predict(data, verbose=0)
    assert both.shape == (2, 6, 16)
    # Earliest first, the last block last: keras-bert's order.
    first_block = keras.Model(backbone.input, backbone.get_layer("transformer_layer_0").output)
    np.testing.assert_allclose(both[..., :8], first_block.predict(data, verbose=0), atol=1e-6)
    np.testing.assert_allclose(both[..., 8:], sequence, atol=1e-6)
    with pytest.raises(ValueError, match="num_layers must be in 1..2"):
        backbone.last_layers_model(3)


def _slot_name(variable):
    """Adam's slot name as Keras 3 gives it ("token_embedding_embeddings_momentum"),
    also from tf-keras's variable names ("Adam/m/token_embedding/embeddings:0")."""
    if hasattr(variable, "path"):
        return variable.path.split("/")[-1]
    _, slot, *weight = (variable.name.split(":")[0] + "/").split("/")
    return "_".join(filter(None, weight)) + {"m": "_momentum", "v": "_velocity"}.get(slot, slot)


def test_adam_sees_the_summed_gradient_of_repeated_token_ids():
    """After Adam's first step, v = (1 - b2) g^2 and m = (1 - b1) g for the
    summed gradient g of each table row. TensorFlow's lookup gradient lists a
    row once per occurrence; squared row by row (Keras 3.15), v would hold
    the sum of the squares. Every id and segment here repeats."""
    backbone = small_backbone()
    pooled = backbone.output["pooled_output"]
    model = keras.Model(backbone.input, keras.layers.Dense(1, name="score")(pooled))
    beta_1, beta_2 = 0.9, 0.999
    model.compile(optimizer=keras.optimizers.Adam(1e-3, beta_1, beta_2), loss="mse")
    data = inputs(batch=4, length=8)
    data["token_ids"] = data["token_ids"] % 5 + 1  # ids 1..5, each many times
    model.train_on_batch(data, np.linspace(-1, 1, 4).reshape(4, 1).astype("float32"))
    slots = {_slot_name(v): np.asarray(v) for v in model.optimizer.variables}
    for table in ("token_embedding_embeddings", "segment_embedding_embeddings"):
        m, v = slots[f"{table}_momentum"], slots[f"{table}_velocity"]
        expected = (1 - beta_2) * (m / (1 - beta_1)) ** 2
        assert np.abs(m).max() > 0, table
        np.testing.assert_allclose(v, expected, rtol=1e-4, atol=1e-12, err_msg=table)
