"""T5Backbone, T5Seq2SeqLM, T5Config, their layers, strict HF loading and
export (every Keras 3 lane). Parity with transformers is in
tests/conformance/test_t5_conformance.py.

Letters: B batch, S source length, T target length, V vocabulary.
"""

import functools
import json

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from kerastack.core import keras, ops
from kerastack.t5 import (
    MT5Config,
    T5Attention,
    T5Backbone,
    T5Block,
    T5Config,
    T5RelativePositionBias,
    T5Seq2SeqLM,
    load_t5_weights,
    read_t5_config,
    save_t5_checkpoint,
    t5_weight_table,
)
from tests.testing import TestCase
from tests.tolerances import FLOAT32_ATOL, SAVE_ATOL

V = 30
SMALL = dict(
    vocabulary_size=V,
    hidden_dim=12,
    key_value_dim=5,
    intermediate_dim=16,
    num_encoder_layers=2,
    num_decoder_layers=1,
    num_heads=2,
    relative_attention_num_buckets=6,
    relative_attention_max_distance=8,
    dropout=0.0,
)
GATED = dict(SMALL, activation="gelu_approximate", gated=True, tie_embedding_weights=False)
SOURCES = np.array([[5, 6, 7, 8, 9, 10, 1], [11, 12, 13, 1, 0, 0, 0]], "int32")  # (B, S)
TARGETS = np.array([[0, 4, 5, 6, 7], [0, 8, 9, 1, 0]], "int32")  # (B, T)


@functools.cache
def shared_model(gated=False):
    keras.utils.set_random_seed(3 if gated else 2)
    return T5Seq2SeqLM(T5Backbone(**(GATED if gated else SMALL)))


def inputs_of(sources=SOURCES, targets=TARGETS):
    return {
        "encoder_token_ids": sources,
        "encoder_padding_mask": (sources != 0).astype("int32"),
        "decoder_token_ids": targets,
        "decoder_padding_mask": np.ones_like(targets),
    }


def logits_of(model, sources=SOURCES, targets=TARGETS):
    return ops.convert_to_numpy(model(inputs_of(sources, targets)))


@pytest.mark.parametrize("gated", [False, True])
class TestSeq2SeqLM:
    def test_cached_steps_are_the_full_call(self, gated):
        model = shared_model(gated)
        logits = logits_of(model)
        encoded = model.encode(SOURCES, SOURCES != 0)
        cache = model.initial_cache(2, TARGETS.shape[1])
        for index in range(TARGETS.shape[1]):
            step, cache = model.decode_sequence(
                TARGETS[:, index : index + 1],
                encoded,
                SOURCES != 0,
                cache=cache,
                cache_update_index=index,
            )
            np.testing.assert_allclose(
                ops.convert_to_numpy(step)[:, 0], logits[:, index], atol=FLOAT32_ATOL, rtol=0
            )

    def test_the_future_never_changes_the_past(self, gated):
        model = shared_model(gated)
        changed = TARGETS.copy()
        changed[:, 3:] = 17
        before, after = logits_of(model), logits_of(model, targets=changed)
        np.testing.assert_allclose(after[:, :3], before[:, :3], atol=FLOAT32_ATOL, rtol=0)
        assert np.abs(after[:, 3:] - before[:, 3:]).max() > 1e-3

    def test_source_padding_never_changes_the_outputs(self, gated):
        model = shared_model(gated)
        changed = SOURCES.copy()
        changed[1, 4:] = 21  # padding (by the mask), whatever its ids
        inputs = inputs_of(changed)
        inputs["encoder_padding_mask"] = (SOURCES != 0).astype("int32")
        np.testing.assert_allclose(
            ops.convert_to_numpy(model(inputs)), logits_of(model), atol=FLOAT32_ATOL, rtol=0
        )

    def test_keras_file_round_trip(self, gated):
        model = shared_model(gated)
        restored = TestCase().run_save_load_check(model, inputs_of())
        assert isinstance(restored, T5Seq2SeqLM)
        assert restored.backbone.get_config() == model.backbone.get_config()
        np.testing.assert_array_equal(
            restored.generate(SOURCES, max_length=4), model.generate(SOURCES, max_length=4)
        )

    def test_export_and_load_back(self, gated, tmp_path):
        model = shared_model(gated)
        save_t5_checkpoint(model, tmp_path)
        config = json.loads((tmp_path / "config.json").read_text())
        assert config["feed_forward_proj"] == ("gated-gelu" if gated else "relu")
        assert config["scale_decoder_outputs"] is not gated
        restored = T5Seq2SeqLM.from_pretrained(tmp_path)
        for a, b in zip(model.get_weights(), restored.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(logits_of(restored), logits_of(model), atol=SAVE_ATOL, rtol=0)


def test_generation_stops_at_the_end_token_and_pads():
    model = shared_model(gated=True)
    free = model.generate(SOURCES, max_length=5, end_token_id=None)
    # The end token: row 1's third new token, at its first place k.
    end = int(free[1, 2])
    k = list(free[1]).index(end)
    assert k < 4, free  # tokens follow it, to be replaced by padding
    tokens = model.generate(SOURCES, max_length=5, end_token_id=end, padding_id=0)
    np.testing.assert_array_equal(tokens[1, : k + 1], free[1, : k + 1])
    assert np.all(tokens[1, k + 1 :] == 0)
    uncached = model.generate(
        SOURCES, max_length=5, end_token_id=end, padding_id=0, use_cache=False
    )
    np.testing.assert_array_equal(tokens, uncached)


@pytest.mark.filterwarnings("ignore")
def test_mixed_precision():
    reference = shared_model(gated=True)
    half = T5Seq2SeqLM(T5Backbone(**GATED, dtype="mixed_bfloat16"))
    half.set_weights(reference.get_weights())
    logits = logits_of(half)
    assert logits.dtype == np.float32 and np.all(np.isfinite(logits))
    # Logits up to about 3: bfloat16 keeps 8 bits of mantissa.
    np.testing.assert_allclose(logits, logits_of(reference), atol=0.25, rtol=0.05)
    assert half.backbone.get_config()["dtype"] == "mixed_bfloat16"
    assert all(keras.backend.standardize_dtype(w.dtype) == "float32" for w in half.weights)
    assert half.generate(SOURCES, max_length=3).shape == (2, 3)


def test_layers_round_trip_their_config():
    x = np.random.default_rng(0).random((2, 4, 12), "float32")
    layers = [
        T5Attention(num_heads=2, key_value_dim=5, dropout=0.1),
        T5Block(
            num_heads=2,
            key_value_dim=5,
            intermediate_dim=16,
            gated=True,
            activation="gelu",
            is_decoder=False,
        ),
        T5RelativePositionBias(num_heads=2, num_buckets=6, max_distance=8, bidirectional=False),
    ]
    for layer in layers:
        expected = layer(x)
        copy = type(layer).from_config(layer.get_config())
        copy(x)
        copy.set_weights(layer.get_weights())
        assert copy.get_config() == layer.get_config()
        np.testing.assert_allclose(
            ops.convert_to_numpy(copy(x)), ops.convert_to_numpy(expected), atol=SAVE_ATOL
        )


def test_bad_arguments():
    with pytest.raises(ValueError, match="padding_id"):
        T5Backbone(**dict(SMALL, padding_id=V))
    with pytest.raises(ValueError, match="gated"):
        T5Backbone(**dict(SMALL, gated="yes"))
    with pytest.raises(ValueError, match="T5Backbone"):
        T5Seq2SeqLM(keras.Sequential([keras.layers.Dense(2)]))
    with pytest.raises(ValueError, match="bidirectional"):
        T5RelativePositionBias(num_heads=2, bidirectional=1)
    block = T5Block(num_heads=2, key_value_dim=5, intermediate_dim=16)
    with pytest.raises(ValueError, match="encoder_outputs"):
        block(np.zeros((1, 3, 12), "float32"), encoder_outputs=np.zeros((1, 3, 12), "float32"))


# -- configs ---------------------------------------------------------------------------


def test_configs_read_hf_files(tmp_path):
    path = tmp_path / "config.json"
    values = {
        "model_type": "t5",
        "d_model": 20,
        "d_kv": 6,
        "num_heads": 3,
        "num_layers": 2,
        "num_decoder_layers": 3,
        "feed_forward_proj": "gated-gelu",
        "tie_word_embeddings": True,
        "scale_decoder_outputs": False,
        "vocab_size": 40,
        "architectures": ["T5ForConditionalGeneration"],
    }
    path.write_text(json.dumps(values))
    config = read_t5_config(str(tmp_path))
    assert isinstance(config, T5Config) and not config.tied_output
    arguments = config.backbone_arguments()
    assert arguments["num_decoder_layers"] == 3 and arguments["key_value_dim"] == 6
    assert arguments["gated"] and not arguments["tie_embedding_weights"]
    # Without transformers 5's scale_decoder_outputs, tie_word_embeddings decides.
    del values["scale_decoder_outputs"]
    assert T5Config.from_dict(values).tied_output
    assert (
        T5Config.from_dict(dict(values, num_decoder_layers=None)).backbone_arguments()[
            "num_decoder_layers"
        ]
        == 2
    )
    path.write_text(json.dumps(dict(values, model_type="mt5")))
    config = read_t5_config(str(path))
    assert isinstance(config, MT5Config) and not config.tied_output


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"d_kv": 0}, "d_kv"),
        ({"feed_forward_proj": "gated-swish"}, "feed_forward_proj"),
        ({"tie_word_embeddings": "yes"}, "tie_word_embeddings"),
        ({"eos_token_id": [1, 2]}, "eos_token_id"),
        ({"model_type": "bert"}, "bert"),
        # transformers lets these override feed_forward_proj; kerastack refuses.
        ({"feed_forward_proj": "gated-gelu", "dense_act_fn": "gelu"}, "dense_act_fn='gelu'"),
        ({"feed_forward_proj": "relu", "is_gated_act": True}, "is_gated_act=True"),
    ],
)
def test_config_errors(overrides, message):
    with pytest.raises(ValueError, match=message):
        T5Config.from_dict(dict({"model_type": "t5"}, **overrides))


def test_configs_whose_activation_fields_agree_are_read():
    for projection, activation, gated in (
        ("relu", "relu", False),
        ("gated-gelu", "gelu_new", True),
    ):
        values = {"feed_forward_proj": projection, "dense_act_fn": activation}
        T5Config.from_dict(dict(values, model_type="t5", is_gated_act=gated))


# -- strict loading ---------------------------------------------------------------------


@pytest.fixture
def checkpoint(tmp_path):
    save_t5_checkpoint(shared_model(gated=True), tmp_path)
    return tmp_path


def test_table_names_every_weight_once():
    for gated in (False, True):
        model = shared_model(gated)
        table = t5_weight_table(model)
        names = [name for _, name, _ in table]
        assert len(set(names)) == len(names)
        assert len({id(weight) for weight, _, _ in table}) == len(model.weights)


def rewrite(folder, change):
    path = folder / "model.safetensors"
    tensors = dict(load_file(str(path)))
    change(tensors)
    save_file(tensors, str(path))


def test_missing_unexpected_and_mis_shaped_tensors_are_listed(checkpoint):
    def damage(tensors):
        del tensors["decoder.block.0.layer.1.EncDecAttention.k.weight"]
        tensors["encoder.block.0.layer.1.DenseReluDense.wi.weight"] = np.zeros((16, 12), "float32")
        tensors["encoder.block.1.layer.0.SelfAttention.q.weight"] = np.zeros((9, 12), "float32")

    rewrite(checkpoint, damage)
    model = T5Seq2SeqLM(T5Backbone(**GATED))
    before = model.get_weights()
    with pytest.raises(ValueError) as error:
        load_t5_weights(model, checkpoint)
    message = str(error.value)
    assert "missing tensors: decoder.block.0.layer.1.EncDecAttention.k.weight" in message
    assert "unexpected tensors: encoder.block.0.layer.1.DenseReluDense.wi.weight" in message
    assert "encoder.block.1.layer.0.SelfAttention.q.weight: checkpoint (9, 12)" in message
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_embedding_copies_and_heads(checkpoint):
    def add_copies(tensors):
        tensors["encoder.embed_tokens.weight"] = tensors["shared.weight"]
        tensors["decoder.embed_tokens.weight"] = tensors["shared.weight"]

    rewrite(checkpoint, add_copies)
    left_out = load_t5_weights(T5Seq2SeqLM(T5Backbone(**GATED)), checkpoint)
    assert left_out == ["decoder.embed_tokens.weight", "encoder.embed_tokens.weight"]
    # A backbone leaves the head out; a tied model refuses a head of its own.
    backbone = T5Backbone(**GATED)
    assert "lm_head.weight" in load_t5_weights(backbone, checkpoint)
    tied = T5Seq2SeqLM(T5Backbone(**dict(GATED, tie_embedding_weights=True)))
    with pytest.raises(ValueError, match="lm_head.weight` that differs"):
        load_t5_weights(tied, checkpoint)
    rewrite(checkpoint, lambda t: t.__setitem__("decoder.embed_tokens.weight", t["lm_head.weight"]))
    with pytest.raises(ValueError, match="decoder.embed_tokens.weight` that differs"):
        load_t5_weights(T5Seq2SeqLM(T5Backbone(**GATED)), checkpoint)
