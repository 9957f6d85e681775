"""OpenAIGPTConfig, OpenAIGPTBackbone, OpenAIGPTCausalLM, strict loading of
HF checkpoints and of OpenAI's `params_*.npy` shards, export, and a small
fine-tuning task (every Keras 3 lane).

Parity with transformers is in tests/conformance/test_openai_gpt_conformance.py;
here the tiny checkpoint of tests/conformance/fixtures/tiny_openai_gpt
(width 12, 3 blocks of 3 heads) is the material for the loaders' errors.

Letters: B batch, T length, V vocabulary, D width.
"""

import functools
import json
import shutil

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from kerastack.core import keras
from kerastack.gpt import (
    FusedWeights,
    GPT2Backbone,
    OpenAIGPTBackbone,
    OpenAIGPTCausalLM,
    OpenAIGPTConfig,
    load_openai_gpt_weights,
    load_openai_params,
    read_openai_params,
    save_openai_gpt_weights,
    save_openai_params,
)
from tests.conformance import make_openai_gpt_references as refs
from tests.testing import TestCase, to_numpy

V, D = 16, 12
SMALL = dict(
    vocabulary_size=V,
    num_layers=2,
    num_heads=3,
    hidden_dim=D,
    intermediate_dim=4 * D,
    dropout=0.0,
    max_sequence_length=12,
)


def small_model(**overrides):
    return OpenAIGPTCausalLM(OpenAIGPTBackbone(**{**SMALL, **overrides}))


@functools.cache
def shared_model():
    keras.utils.set_random_seed(3)
    return small_model()


def weights(model):
    return [np.array(w) for w in model.get_weights()]


def logits_of(model, ids, mask=None):
    mask = np.ones_like(ids) if mask is None else mask
    return to_numpy(model({"token_ids": ids, "padding_mask": mask}))


# -- the model --------------------------------------------------------------------------


class ModelTest(TestCase):
    def test_blocks_are_post_norm_with_no_final_norm(self):
        backbone = shared_model().backbone
        assert all(not block.normalize_first for block in backbone.transformer_layers)
        norms = [layer for layer in backbone.layers if "norm" in type(layer).__name__.lower()]
        assert norms == []  # every norm is inside a block
        # The output is the last block's: layer-normalized (mean 0, std ~ gamma).
        ids = np.arange(1, 9, dtype="int32")[None]
        hidden = to_numpy(backbone({"token_ids": ids, "padding_mask": np.ones_like(ids)}))
        norm = backbone.transformer_layers[-1].feed_forward_layer_norm
        gamma, beta = to_numpy(norm.gamma), to_numpy(norm.beta)
        centred = (hidden - beta) / gamma
        self.assert_close(centred.mean(-1), np.zeros((1, 8)), atol=1e-4, rtol=0)

    def test_post_norm_matches_a_numpy_reference(self):
        # One block by hand: x = LN(x + attn(x)); x = LN(x + mlp(x)).
        keras.utils.set_random_seed(1)
        model = small_model(num_layers=1)
        table = {
            name: layout.to_hf(w.numpy() if isinstance(w, FusedWeights) else to_numpy(w))
            for w, name, layout in model.hf_weight_table()
        }
        ids = np.array([[3, 1, 4, 1, 5]], "int32")
        x = table["tokens_embed.weight"][ids[0]] + table["positions_embed.weight"][:5]

        def norm(y, name):
            y = (y - y.mean(-1, keepdims=True)) / np.sqrt(y.var(-1, keepdims=True) + 1e-5)
            return y * table[f"h.0.{name}.weight"] + table[f"h.0.{name}.bias"]

        qkv = x @ table["h.0.attn.c_attn.weight"] + table["h.0.attn.c_attn.bias"]
        heads = [np.split(part, 3, axis=-1) for part in np.split(qkv, 3, axis=-1)]
        outputs = []
        for q, k, v in zip(*heads, strict=True):
            scores = q @ k.T / 2.0 + np.triu(np.full((5, 5), -np.inf), 1)  # head size 4
            weights_ = np.exp(scores - scores.max(-1, keepdims=True))
            outputs.append(weights_ / weights_.sum(-1, keepdims=True) @ v)
        attention = np.concatenate(outputs, -1) @ table["h.0.attn.c_proj.weight"]
        x = norm(x + attention + table["h.0.attn.c_proj.bias"], "ln_1")
        inner = x @ table["h.0.mlp.c_fc.weight"] + table["h.0.mlp.c_fc.bias"]
        inner = 0.5 * inner * (1 + np.tanh(np.sqrt(2 / np.pi) * (inner + 0.044715 * inner**3)))
        x = norm(x + inner @ table["h.0.mlp.c_proj.weight"] + table["h.0.mlp.c_proj.bias"], "ln_2")
        expected = x @ table["tokens_embed.weight"].T
        self.assert_close(logits_of(model, ids)[0], expected, atol=1e-4, rtol=1e-4)

    def test_causal_and_padding(self):
        model = shared_model()
        ids = np.array([[3, 1, 4, 1, 5, 9, 2, 6]], "int32")
        changed = ids.copy()
        changed[0, 5:] = [7, 7, 7]
        # The future never changes the past.
        self.assert_close(logits_of(model, ids)[0, :5], logits_of(model, changed)[0, :5])
        # Padding on the right never changes the real positions.
        mask = np.array([[1, 1, 1, 1, 1, 0, 0, 0]], "int32")
        self.assert_close(
            logits_of(model, ids, mask)[0, :5], logits_of(model, changed, mask)[0, :5]
        )

    def test_config_round_trip_and_keras_file(self):
        model = shared_model()
        config = model.backbone.get_config()
        assert {k: config[k] for k in OpenAIGPTBackbone.CONFIG_KEYS} == {
            **SMALL,
            "activation": "gelu_approximate",
            "layer_norm_epsilon": 1e-5,
            "initializer_range": 0.02,
        }
        ids = np.array([[1, 2, 3, 4]], "int32")
        restored = self.run_save_load_check(
            model, {"token_ids": ids, "padding_mask": np.ones_like(ids)}
        )
        assert type(restored) is OpenAIGPTCausalLM
        assert type(restored.backbone) is OpenAIGPTBackbone

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="needs an OpenAIGPTBackbone, received GPT2Backbone"):
            OpenAIGPTCausalLM(GPT2Backbone(**{**SMALL, "num_layers": 1}))
        with pytest.raises(ValueError, match="`hidden_dim`=12 is not divisible by `num_heads`=5"):
            OpenAIGPTBackbone(**{**SMALL, "num_heads": 5})
        with pytest.raises(ValueError, match="token_ids"):
            shared_model()({"token_ids": np.array([[V]]), "padding_mask": np.array([[1]])})

    def test_cached_and_uncached_generation_agree(self):
        model = shared_model()
        prompt = np.array([[0, 0, 5, 6], [1, 2, 3, 4]], "int32")
        mask = np.array([[0, 0, 1, 1], [1, 1, 1, 1]], bool)
        cached = model.generate(prompt, max_new_tokens=5, prompt_padding_mask=mask)
        uncached = model.generate(
            prompt, max_new_tokens=5, prompt_padding_mask=mask, use_cache=False
        )
        np.testing.assert_array_equal(cached, uncached)
        # Row 0's continuation is the unpadded prompt's.
        alone = model.generate(prompt[:1, 2:], max_new_tokens=5)
        np.testing.assert_array_equal(cached[:1], alone)


# -- configs ----------------------------------------------------------------------------


def hf_config(**overrides):
    with open(f"{refs.FOLDER}/config.json", encoding="utf-8") as file:
        return {**json.load(file), **overrides}


def test_config_reads_hf_files():
    config = OpenAIGPTConfig.from_json(refs.FOLDER)
    assert (config.vocab_size, config.n_embd, config.n_layer, config.n_head) == (90, 12, 3, 3)
    assert config.intermediate_dim == 48 and config.activation == "gelu_approximate"
    backbone = OpenAIGPTBackbone.from_config_file(refs.FOLDER)
    assert (backbone.max_sequence_length, backbone.dropout) == (32, 0.0)
    assert OpenAIGPTConfig.from_dict(hf_config(afn="relu")).activation == "relu"
    assert OpenAIGPTConfig.from_dict(hf_config(afn="swish")).activation == "silu"


def test_generic_from_pretrained_finds_the_family():
    from kerastack import models

    assert "openai-gpt" in models.model_types()
    backbone = models.from_pretrained(refs.FOLDER)
    model = models.from_pretrained(refs.FOLDER, task="causal_lm")
    assert type(backbone) is OpenAIGPTBackbone and type(model) is OpenAIGPTCausalLM
    for old, new in zip(weights(backbone), weights(model.backbone), strict=True):
        np.testing.assert_array_equal(old, new)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"model_type": "gpt2"}, "'gpt2' config, not a 'openai-gpt' one"),
        ({"tie_word_embeddings": False}, "tie_word_embeddings=False"),
        # HF's OpenAI GPT knows gelu (tanh form), relu, silu and swish only.
        ({"afn": "gelu_new"}, "gelu_new"),
        ({"n_embd": 20}, "n_embd=20 is not divisible by n_head=3"),
        ({"attn_pdrop": 0.1}, "attn_pdrop=0.1"),
        ({"n_layer": 0}, "n_layer=0"),
    ],
)
def test_config_errors(overrides, message):
    with pytest.raises(ValueError, match=message):
        OpenAIGPTConfig.from_dict(hf_config(**overrides))


# -- strict loading of HF checkpoints -----------------------------------------------------


@pytest.fixture
def checkpoint(tmp_path):
    """A copy of the tiny HF checkpoint: `(folder, tensors)`."""
    folder = tmp_path / "tiny_openai_gpt"
    shutil.copytree(refs.FOLDER, folder)
    return folder, load_file(str(folder / "model.safetensors"))


def rewrite(folder, tensors):
    save_file(tensors, str(folder / "model.safetensors"))


def assert_refused(folder, *fragments, load=load_openai_gpt_weights, **kwargs):
    model = OpenAIGPTCausalLM.from_config_file(refs.FOLDER)
    before = weights(model)
    with pytest.raises(ValueError) as error:
        load(model, str(folder), **kwargs)
    for fragment in fragments:
        assert fragment in str(error.value)
    for old, new in zip(before, weights(model), strict=True):
        np.testing.assert_array_equal(old, new)  # nothing half-loaded


def test_table_names_every_weight_once():
    backbone = OpenAIGPTBackbone.from_config_file(refs.FOLDER)
    covered = []
    for weight, _, _ in backbone.hf_weight_table():
        covered += weight.variables if isinstance(weight, FusedWeights) else [weight]
    assert sorted(id(w) for w in covered) == sorted(id(w) for w in backbone.weights)
    names = [name for _, name, _ in backbone.hf_weight_table()]
    assert len(names) == len(set(names)) == 2 + 12 * 3


def test_loading_assigns_every_tensor(checkpoint):
    folder, tensors = checkpoint
    model = OpenAIGPTCausalLM.from_pretrained(str(folder))
    for weight, name, layout in model.hf_weight_table():
        ours = weight.numpy() if isinstance(weight, FusedWeights) else to_numpy(weight)
        np.testing.assert_array_equal(layout.to_hf(ours), tensors["transformer." + name], name)
    # ln_1 is the norm after attention (post-norm), by hand.
    block = model.backbone.transformer_layers[2]
    np.testing.assert_array_equal(
        to_numpy(block.self_attention_layer_norm.gamma), tensors["transformer.h.2.ln_1.weight"]
    )
    value = to_numpy(block.self_attention.value_dense.kernel).reshape(D, D)
    np.testing.assert_array_equal(value, tensors["transformer.h.2.attn.c_attn.weight"][:, 2 * D :])


def test_missing_unexpected_and_mis_shaped_tensors_are_listed(checkpoint):
    folder, tensors = checkpoint
    del tensors["transformer.h.1.mlp.c_fc.bias"]
    tensors["transformer.ln_f.weight"] = np.ones(D, "float32")  # GPT-2's, not GPT-1's
    tensors["transformer.h.0.attn.c_attn.weight"] = np.zeros((D, 2 * D), "float32")
    rewrite(folder, tensors)
    assert_refused(
        folder,
        "missing tensors: h.1.mlp.c_fc.bias",
        "unexpected tensors: ln_f.weight",
        "h.0.attn.c_attn.weight: checkpoint (12, 24), model (12, 36)",
    )


def test_buffers_head_and_bare_names_are_understood(checkpoint):
    folder, tensors = checkpoint
    bare = {name.removeprefix("transformer."): value for name, value in tensors.items()}
    bare["h.0.attn.bias"] = np.tril(np.ones((1, 1, 32, 32), "float32"))
    bare["lm_head.weight"] = bare["tokens_embed.weight"].copy()
    rewrite(folder, bare)
    model = OpenAIGPTCausalLM.from_config_file(refs.FOLDER)
    assert load_openai_gpt_weights(model, str(folder)) == ["h.0.attn.bias", "lm_head.weight"]
    bare["lm_head.weight"] = bare["tokens_embed.weight"] + 1.0
    rewrite(folder, bare)
    assert_refused(folder, "`lm_head.weight` that differs from `tokens_embed.weight`")


# -- OpenAI's params_*.npy shards ---------------------------------------------------------


@pytest.fixture
def params(tmp_path):
    folder = tmp_path / "params"
    shutil.copytree(refs.PARAMS_FOLDER, folder)
    return folder


def test_openai_params_layout(params):
    tensors = read_openai_params(str(params))
    hf = {
        k.removeprefix("transformer."): v
        for k, v in load_file(f"{refs.FOLDER}/model.safetensors").items()
    }
    assert sorted(tensors) == sorted(hf)
    for name, value in tensors.items():
        np.testing.assert_array_equal(value, hf[name], name)
    # And kerastack's writer gives the same files back.
    model = OpenAIGPTCausalLM.from_config_file(refs.FOLDER)
    load_openai_params(model, str(params))
    save_openai_params(model, str(params / "again"))
    for name in ("params_shapes.json", "parameters_names.json"):
        assert (params / "again" / name).read_text() == (params / name).read_text()
    for index in range(10):
        np.testing.assert_array_equal(
            np.load(params / "again" / f"params_{index}.npy"),
            np.load(params / f"params_{index}.npy"),
        )


def test_openai_params_errors(params):
    shapes = json.loads((params / "params_shapes.json").read_text())
    # One value short: the sizes do not add up.
    piece = np.load(params / "params_9.npy")
    np.save(params / "params_9.npy", piece[:-1])
    assert_refused(params, "hold 7115 values", load=load_openai_params)
    np.save(params / "params_9.npy", piece)
    # A model of another width: shape errors, listed, nothing loaded.
    wide = [[32, 15], [90, 15]] + shapes[2:]
    (params / "params_shapes.json").write_text(json.dumps(wide))
    with pytest.raises(ValueError, match="hold 7116 values"):
        read_openai_params(str(params))
    (params / "params_shapes.json").write_text(json.dumps(shapes))
    names = json.loads((params / "parameters_names.json").read_text())
    (params / "parameters_names.json").write_text(json.dumps(names[:1] + names[2:] + names[1:2]))
    assert_refused(params, "does not name OpenAI GPT's variables", load=load_openai_params)
    (params / "parameters_names.json").unlink()  # optional
    model = OpenAIGPTCausalLM.from_config_file(refs.FOLDER)
    assert load_openai_params(model, str(params)) == []
    (params / "params_shapes.json").write_text(json.dumps(shapes[:-1]))
    assert_refused(params, "lists 37 variables", load=load_openai_params)
    with pytest.raises(FileNotFoundError, match="No params_shapes.json"):
        read_openai_params(str(params / "nowhere"))


def test_openai_params_into_another_shape_are_refused(params):
    model = small_model()  # vocabulary 16, 2 blocks, 12 positions
    before = weights(model)
    with pytest.raises(ValueError) as error:
        load_openai_params(model, str(params))
    message = str(error.value)
    assert "unexpected tensors: h.2.attn.c_attn.bias" in message
    assert "tokens_embed.weight: checkpoint (90, 12), model (16, 12)" in message
    for old, new in zip(before, weights(model), strict=True):
        np.testing.assert_array_equal(old, new)


# -- export -------------------------------------------------------------------------------


def test_export_round_trip_and_refusals(tmp_path):
    model = shared_model()
    save_openai_gpt_weights(model, tmp_path / "hf")
    again = OpenAIGPTCausalLM.from_pretrained(str(tmp_path / "hf"))
    for old, new in zip(weights(model), weights(again), strict=True):
        np.testing.assert_array_equal(old, new)
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config["afn"] == "gelu" and config["n_positions"] == 12
    with pytest.raises(ValueError, match="feed-forward width of 4 \\* hidden_dim = 48"):
        save_openai_gpt_weights(OpenAIGPTBackbone(**{**SMALL, "intermediate_dim": 20}), tmp_path)
    with pytest.raises(ValueError, match="no activation 'tanh'"):
        save_openai_gpt_weights(OpenAIGPTBackbone(**{**SMALL, "activation": "tanh"}), tmp_path)


# -- fine-tuning --------------------------------------------------------------------------


def test_fine_tuning_learns_to_continue_held_out_counts():
    """Counting modulo V from a start token: 12 starts train, 4 others (whose
    sequences are never seen whole) are held out. 15 full-batch steps; at
    least 90% of the held-out next tokens right, and greedy generation
    continues held-out two-token prompts (a model that peeked at the future
    while training would fail here)."""
    length = 8
    held_out = [3, 7, 10, 14]
    training = [start for start in range(V) if start not in held_out]

    def sequences(starts):
        return np.array([[(s + t) % V for t in range(length)] for s in starts], "int32")

    train, test = sequences(training), sequences(held_out)
    keras.utils.set_random_seed(0)
    model = small_model(max_sequence_length=length)
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=3e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    inputs = {"token_ids": train[:, :-1], "padding_mask": np.ones_like(train[:, :-1])}
    model.fit(inputs, train[:, 1:], batch_size=len(train), epochs=15, verbose=0)
    accuracy = np.mean(logits_of(model, test[:, :-1]).argmax(-1) == test[:, 1:])
    assert accuracy >= 0.9, accuracy
    generated = model.generate(test[:, :2], max_new_tokens=6)
    assert np.mean(generated == test[:, 2:]) >= 0.9, generated
