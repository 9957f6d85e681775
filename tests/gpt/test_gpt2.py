"""GPT2Backbone, GPT2CausalLM, GPT2Config, strict HF loading and generation
(every Keras 3 lane).

Generation is checked against a slow reference written here: the model's
own functional call on the whole prefix (right-padded to a fixed width, so
that eager JAX reuses its compiled ops), one token at a time. Every
generation test uses the one shared model and prompt shape, so on
TensorFlow and JAX each set of settings compiles once for the module.

Letters: B batch, P prompt length, L new tokens, V vocabulary, D width.
"""

import functools
import json
import shutil

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from kerastack.attention import packed_attention_mask
from kerastack.core import keras
from kerastack.gpt import (
    FusedWeights,
    GPT2Backbone,
    GPT2CausalLM,
    GPT2Config,
    ReversibleEmbedding,
    load_gpt2_weights,
)
from kerastack.transformer import decoding
from tests.conformance import make_gpt2_reference as refs
from tests.testing import TestCase, to_numpy

V, D, MAX_SEQUENCE_LENGTH, L = 24, 16, 16, 6
SMALL = dict(
    vocabulary_size=V,
    num_layers=2,
    num_heads=2,
    hidden_dim=D,
    intermediate_dim=32,
    max_sequence_length=MAX_SEQUENCE_LENGTH,
    dropout=0.0,
)
PROMPT = np.array([[3, 4, 5, 6, 7], [8, 9, 10, 11, 2], [5, 5, 4, 4, 3]], "int32")
# Row 1 is padded on the left: its prompt is [10, 11, 2].
PROMPT_MASK = np.array([[1, 1, 1, 1, 1], [0, 0, 1, 1, 1], [1, 1, 1, 1, 1]], bool)
PAD = 0


def small_model(**overrides):
    return GPT2CausalLM(GPT2Backbone(**{**SMALL, **overrides}))


def randomize(model, seed):
    """Weights far from the initialization (normal 0.02, zero biases, unit
    norms), with small norm offsets: a large final offset would add the same
    logits at every position, and a few tokens would win everywhere."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        if weight.path.endswith("gamma"):
            values = 1.0 + 0.2 * rng.normal(size=weight.shape)
        elif weight.path.endswith(("beta", "bias")):
            values = 0.1 * rng.normal(size=weight.shape)
        else:
            values = 0.5 * rng.normal(size=weight.shape)
        weight.assign(values.astype("float32"))


@functools.cache
def shared_model():
    model = small_model()
    # Seed 2: varied greedy outputs with no token 0 (the padding id), and
    # no near-ties: along the greedy paths the best logit beats the second
    # by more than 0.05.
    randomize(model, 2)
    return model


def logits_of(model, ids, mask=None):
    ids = np.asarray(ids, "int32")
    mask = np.ones_like(ids) if mask is None else np.asarray(mask, "int32")
    return to_numpy(model({"token_ids": ids, "padding_mask": mask}))


def log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def reference_greedy(model, prompt, mask, length=L, end=None):
    """Greedy tokens the slow way: each row's real prompt tokens, then the
    model on the whole prefix for every new token."""
    width = prompt.shape[1] + length
    tokens = np.full((len(prompt), length), PAD, "int32")
    for row in range(len(prompt)):
        sequence = list(prompt[row][mask[row]])
        for step in range(length):
            buffer = np.zeros((1, width), "int32")
            buffer[0, : len(sequence)] = sequence
            real = (np.arange(width) < len(sequence))[None]
            token = int(logits_of(model, buffer, real)[0, len(sequence) - 1].argmax())
            tokens[row, step] = token
            sequence.append(token)
            if token == end:
                break
    return tokens


@functools.cache
def greedy_reference():
    return reference_greedy(shared_model(), PROMPT, PROMPT_MASK)


@functools.cache
def stopping_point():
    """`(end_token, row, step)`: a token `row` emits greedily at `step` > 0
    and not before, and no other row emits before that step."""
    free_run = greedy_reference()
    for step in range(1, L - 1):
        for row, tokens in enumerate(free_run):
            token = int(tokens[step])
            others = np.delete(free_run, row, axis=0)[:, : step + 1]
            if token not in tokens[:step] and token not in others:
                return token, row, step
    raise AssertionError(f"no early stop possible in {free_run}")


def run(**kwargs):
    settings = {"max_new_tokens": L, "prompt_padding_mask": PROMPT_MASK, **kwargs}
    return shared_model().generate(PROMPT, **settings)


# -- the model ------------------------------------------------------------------------


class ModelTest(TestCase):
    def test_shapes_and_dtypes(self):
        model = shared_model()
        ids = PROMPT
        hidden = to_numpy(model.backbone({"token_ids": ids, "padding_mask": np.ones_like(ids)}))
        self.assertEqual(hidden.shape, (3, 5, D))
        logits = logits_of(model, ids)
        self.assertEqual(logits.shape, (3, 5, V))
        self.assertEqual(logits.dtype, np.float32)
        # The output projection is the token table, transposed (no bias).
        table = to_numpy(model.backbone.token_embedding.embeddings)
        self.assert_close(logits, hidden @ table.T, atol=1e-5, rtol=1e-5)

    def test_decode_sequence_is_the_model_call(self):
        model = shared_model()
        expected = logits_of(model, PROMPT)
        self.assert_close(model.decode_sequence(PROMPT), expected, atol=1e-6, rtol=0)
        # Explicit positions 0..T-1 are the default ones.
        positions = np.tile(np.arange(5, dtype="int32"), (3, 1))
        self.assert_close(
            model.decode_sequence(PROMPT, position_ids=positions), expected, atol=1e-6, rtol=0
        )

    def test_the_future_never_changes_the_past(self):
        model = shared_model()
        base = logits_of(model, PROMPT)
        changed = PROMPT.copy()
        changed[:, 3] = (changed[:, 3] + 7) % V
        after = logits_of(model, changed)
        np.testing.assert_allclose(after[:, :3], base[:, :3], atol=1e-6)
        self.assertGreater(np.abs(after[:, 3:] - base[:, 3:]).max(), 1e-3)

    def test_padding_never_changes_real_positions(self):
        model = shared_model()
        mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 1, 0, 0, 0]], bool)
        base = logits_of(model, PROMPT, mask)
        changed = np.where(mask, PROMPT, 17).astype("int32")
        np.testing.assert_allclose(logits_of(model, changed, mask)[mask], base[mask], atol=1e-6)
        # A real token is real whatever its id: the mask, not id 0, decides.
        zeros = np.where(mask, 0, PROMPT).astype("int32")
        self.assertFalse(np.allclose(logits_of(model, zeros, mask), logits_of(model, zeros)))

    def test_packed_sequences_give_each_sequence_its_own_logits(self):
        # Two prompts packed in one row, with the block-diagonal causal mask
        # and positions restarting at each: each gets its logits alone.
        model = shared_model()
        first, second = PROMPT[0], PROMPT[2, :4]
        packed = np.concatenate([first, second, [PAD]])[None].astype("int32")  # (1, 10)
        sequence_ids = np.array([[1] * 5 + [2] * 4 + [0]], "int32")
        positions = np.array([[0, 1, 2, 3, 4, 0, 1, 2, 3, 0]], "int32")
        mask = packed_attention_mask(sequence_ids, causal=True, padding_mask=sequence_ids > 0)
        logits = to_numpy(
            model.decode_sequence(
                packed,
                position_ids=positions,
                padding_mask=sequence_ids > 0,
                attention_mask=mask,
            )
        )[0]
        np.testing.assert_allclose(logits[:5], logits_of(model, [first])[0], atol=1e-5)
        np.testing.assert_allclose(logits[5:9], logits_of(model, [second])[0], atol=1e-5)
        # Causality alone would let the second prompt see the first.
        mixed = logits_of(model, packed, sequence_ids > 0)[0]
        self.assertGreater(np.abs(mixed[5:9] - logits[5:9]).max(), 1e-3)

    def test_keras_file_round_trip(self):
        model = shared_model()
        restored = self.run_save_load_check(
            model, {"token_ids": PROMPT, "padding_mask": np.ones_like(PROMPT)}
        )
        self.assertIsInstance(restored, GPT2CausalLM)
        self.assertIsInstance(restored.backbone, GPT2Backbone)
        self.assertEqual(restored.backbone.get_config(), model.backbone.get_config())
        np.testing.assert_array_equal(
            restored.generate(PROMPT, max_new_tokens=3), model.generate(PROMPT, max_new_tokens=3)
        )

    def test_backbone_keras_file_round_trip(self):
        backbone = GPT2Backbone(**SMALL, activation="gelu")
        restored = self.run_save_load_check(
            backbone, {"token_ids": PROMPT, "padding_mask": np.ones_like(PROMPT)}
        )
        self.assertEqual(restored.activation, "gelu")

    @pytest.mark.filterwarnings("ignore")
    def test_mixed_precision(self):
        reference = shared_model()
        # Logits of size up to about 6: bfloat16 keeps 8 bits of mantissa.
        for policy, atol in (("mixed_float16", 2e-2), ("mixed_bfloat16", 2.5e-1)):
            half = small_model(dtype=policy)
            half.set_weights(reference.get_weights())
            logits = logits_of(half, PROMPT)
            self.assertEqual(logits.dtype, np.float32)
            self.assertTrue(np.all(np.isfinite(logits)))
            self.assert_close(logits, logits_of(reference, PROMPT), atol=atol, rtol=2e-2)
            for sublayer in half.backbone._flatten_layers(include_self=False):
                if sublayer.weights:  # not the inputs and the mask's cast
                    self.assertEqual(sublayer.dtype_policy.name, policy, sublayer.name)
            for weight in half.weights:
                self.assertEqual(keras.backend.standardize_dtype(weight.dtype), "float32")
            # The models' own policy (Keras's functional __init__ drops it).
            self.assertEqual(half.dtype_policy.name, policy)
            self.assertEqual(half.backbone.get_config()["dtype"], policy)
        half.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        self.assertIsInstance(half.optimizer, keras.optimizers.Adam)  # bfloat16: no scaling
        float16 = small_model(dtype="mixed_float16")
        float16.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        self.assertIsInstance(float16.optimizer, keras.optimizers.LossScaleOptimizer)
        # The cache takes the compute dtype: generation runs under a mixed policy.
        tokens = half.generate(PROMPT[:, :2], max_new_tokens=2)
        self.assertEqual(tokens.shape, (3, 2))
        self.assertTrue(np.all((tokens >= 0) & (tokens < V)))

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, "not divisible"):
            GPT2Backbone(**{**SMALL, "num_heads": 3})
        with self.assertRaisesRegex(ValueError, "num_layers=0"):
            GPT2Backbone(**{**SMALL, "num_layers": 0})
        with self.assertRaisesRegex(ValueError, "needs a GPT2Backbone"):
            GPT2CausalLM(keras.Sequential([keras.layers.Dense(2)]))


class ReversibleEmbeddingTest(TestCase):
    def test_layer(self):
        self.run_layer_test(
            ReversibleEmbedding,
            init_kwargs={"input_dim": 7, "output_dim": 4},
            input_data=np.array([[1, 2, 6], [0, 3, 3]], "int32"),
            expected_output_shape=(2, 3, 4),
            expected_num_trainable_weights=1,
            run_training_check=False,
            run_mixed_precision_check=False,
        )

    def test_reverse_is_the_transposed_table_in_float32(self):
        layer = ReversibleEmbedding(7, 4, dtype="mixed_bfloat16")
        x = layer(np.array([[1, 2]], "int32"))
        self.assertEqual(keras.backend.standardize_dtype(x.dtype), "bfloat16")
        hidden = np.random.default_rng(0).normal(size=(2, 3, 4)).astype("float32")
        logits = layer(hidden, reverse=True)
        self.assertEqual(keras.backend.standardize_dtype(logits.dtype), "float32")
        table = to_numpy(layer.embeddings)
        self.assert_close(logits, hidden @ table.T, atol=5e-2, rtol=5e-2)
        full = ReversibleEmbedding(7, 4)
        full.build(None)
        full.embeddings.assign(table)
        self.assert_close(full(hidden, reverse=True), hidden @ table.T, atol=1e-5, rtol=1e-5)


# -- config ---------------------------------------------------------------------------


def hf_config(**overrides):
    with open(f"{refs.FOLDER}/config.json", encoding="utf-8") as file:
        return {**json.load(file), **overrides}


def test_config_reads_hf_files(tmp_path):
    config = GPT2Config.from_json(refs.FOLDER)
    assert (config.vocab_size, config.n_embd, config.n_layer, config.n_head) == (96, 32, 2, 4)
    assert config.n_inner is None and config.intermediate_dim == 128  # 4 * n_embd
    assert config.activation == "gelu_approximate"
    assert config.eos_token_id == 95
    backbone = GPT2Backbone.from_config_file(refs.FOLDER)
    assert (backbone.max_sequence_length, backbone.intermediate_dim) == (64, 128)
    assert backbone.layer_norm_epsilon == 1e-5 and backbone.dropout == 0.1
    (tmp_path / "config.json").write_text(
        json.dumps(hf_config(n_inner=48, activation_function="gelu"))
    )
    config = GPT2Config.from_json(str(tmp_path / "config.json"))
    assert config.intermediate_dim == 48 and config.activation == "gelu"


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"model_type": "bert"}, "'bert' config, not a 'gpt2' one"),
        ({"scale_attn_by_inverse_layer_idx": True}, "scale_attn_by_inverse_layer_idx=True"),
        ({"reorder_and_upcast_attn": True}, "reorder_and_upcast_attn=True"),
        ({"add_cross_attention": True}, "add_cross_attention=True"),
        ({"scale_attn_weights": False}, "scale_attn_weights=False"),
        ({"tie_word_embeddings": False}, "tie_word_embeddings=False"),
        ({"activation_function": "mish"}, "Unknown activation_function 'mish'"),
        ({"n_embd": 30}, "n_embd=30 is not divisible by n_head=4"),
        ({"n_layer": 0}, "n_layer=0"),
        ({"attn_pdrop": 0.0}, "attn_pdrop=0.0"),
    ],
)
def test_config_errors(overrides, message):
    with pytest.raises(ValueError, match=message):
        GPT2Config.from_dict(hf_config(**overrides))


def test_config_names_every_unsupported_option():
    values = hf_config(reorder_and_upcast_attn=True, add_cross_attention=True)
    with pytest.raises(ValueError, match="reorder_and_upcast_attn=True.*add_cross_attention=True"):
        GPT2Config.from_dict(values)


def test_config_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No config.json"):
        GPT2Config.from_json(str(tmp_path))
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        GPT2Config.from_json(str(tmp_path))


# -- strict loading ---------------------------------------------------------------------


@pytest.fixture
def checkpoint(tmp_path):
    """A copy of the tiny HF checkpoint: `(folder, tensors)`."""
    folder = tmp_path / "tiny_gpt2"
    shutil.copytree(refs.FOLDER, folder)
    return folder, load_file(str(folder / "model.safetensors"))


def rewrite(folder, tensors):
    save_file(tensors, str(folder / "model.safetensors"))


def weights(model):
    return [np.array(w) for w in model.get_weights()]


def assert_refused(folder, *fragments, **kwargs):
    model = GPT2CausalLM(GPT2Backbone.from_config_file(str(folder)))
    before = weights(model)
    with pytest.raises(ValueError) as error:
        load_gpt2_weights(model, str(folder), **kwargs)
    for fragment in fragments:
        assert fragment in str(error.value)
    for old, new in zip(before, weights(model), strict=True):
        np.testing.assert_array_equal(old, new)  # nothing half-loaded


def test_table_names_every_weight_once():
    backbone = GPT2Backbone.from_config_file(refs.FOLDER)
    covered = []
    for weight, _, _ in backbone.hf_weight_table():
        covered += weight.variables if isinstance(weight, FusedWeights) else [weight]
    assert sorted(id(w) for w in covered) == sorted(id(w) for w in backbone.weights)
    names = [name for _, name, _ in backbone.hf_weight_table()]
    assert len(names) == len(set(names)) == 2 + 12 * 2 + 2


def test_loading_assigns_every_tensor(checkpoint):
    folder, tensors = checkpoint
    model = GPT2CausalLM.from_pretrained(str(folder))
    for weight, name, layout in model.hf_weight_table():
        ours = weight.numpy() if isinstance(weight, FusedWeights) else to_numpy(weight)
        np.testing.assert_array_equal(layout.to_hf(ours), tensors["transformer." + name], name)
    # The fused projection, by hand: c_attn's columns are query | key | value.
    block = model.backbone.transformer_layers[1].self_attention
    c_attn = tensors["transformer.h.1.attn.c_attn.weight"]  # (D, 3D)
    np.testing.assert_array_equal(
        to_numpy(block.key_dense.kernel).reshape(32, 32), c_attn[:, 32:64]
    )
    c_bias = tensors["transformer.h.1.attn.c_attn.bias"]
    np.testing.assert_array_equal(to_numpy(block.value_dense.bias).reshape(-1), c_bias[64:])


def test_missing_tensors_are_listed(checkpoint):
    folder, tensors = checkpoint
    del tensors["transformer.h.1.mlp.c_fc.bias"], tensors["transformer.ln_f.weight"]
    rewrite(folder, tensors)
    assert_refused(folder, "missing tensors: h.1.mlp.c_fc.bias, ln_f.weight")


def test_unexpected_tensors_are_listed(checkpoint):
    folder, tensors = checkpoint
    tensors["transformer.h.2.ln_1.weight"] = np.ones(32, "float32")
    rewrite(folder, tensors)
    assert_refused(folder, "unexpected tensors: h.2.ln_1.weight")


def test_mis_shaped_tensors_are_listed(checkpoint):
    folder, tensors = checkpoint
    # c_attn with two parts instead of three, and a transposed c_fc.
    tensors["transformer.h.0.attn.c_attn.weight"] = np.zeros((32, 64), "float32")
    tensors["transformer.h.1.mlp.c_fc.weight"] = np.zeros((128, 32), "float32")
    rewrite(folder, tensors)
    assert_refused(
        folder,
        "h.0.attn.c_attn.weight: checkpoint (32, 64), model (32, 96)",
        "h.1.mlp.c_fc.weight: checkpoint (128, 32), model (32, 128)",
    )


def test_buffers_head_and_bare_names_are_understood(checkpoint):
    folder, tensors = checkpoint
    # GPT2Model's names (no "transformer."), old causal-mask buffers, and a
    # tied lm_head saved as its own tensor.
    bare = {name.removeprefix("transformer."): value for name, value in tensors.items()}
    bare["h.0.attn.bias"] = np.tril(np.ones((1, 1, 64, 64), "float32"))
    bare["h.1.attn.masked_bias"] = np.array(-1e4, "float32")
    bare["lm_head.weight"] = bare["wte.weight"].copy()
    rewrite(folder, bare)
    model = GPT2CausalLM(GPT2Backbone.from_config_file(str(folder)))
    left_out = load_gpt2_weights(model, str(folder))
    assert left_out == ["h.0.attn.bias", "h.1.attn.masked_bias", "lm_head.weight"]
    np.testing.assert_array_equal(
        to_numpy(model.backbone.token_embedding.embeddings), tensors["transformer.wte.weight"]
    )


def test_an_untied_output_projection_is_refused(checkpoint):
    folder, tensors = checkpoint
    tensors["lm_head.weight"] = tensors["transformer.wte.weight"] + 1.0
    rewrite(folder, tensors)
    assert_refused(folder, "`lm_head.weight` that differs from `wte.weight`")


def test_longer_position_table_only_on_request(checkpoint):
    folder, tensors = checkpoint
    table = tensors["transformer.wpe.weight"]
    tensors["transformer.wpe.weight"] = np.concatenate([table, table])
    rewrite(folder, tensors)
    assert_refused(folder, "wpe.weight: checkpoint (128, 32), model (64, 32)")
    model = GPT2CausalLM(GPT2Backbone.from_config_file(str(folder)))
    load_gpt2_weights(model, str(folder), allow_longer_position_table=True)
    np.testing.assert_array_equal(to_numpy(model.backbone.position_embedding.embeddings), table)


def test_absent_and_corrupt_files(checkpoint):
    folder, _ = checkpoint
    path = folder / "model.safetensors"
    path.write_bytes(path.read_bytes()[:1000])
    assert_refused(folder, "not a readable safetensors file")
    path.unlink()
    with pytest.raises(FileNotFoundError, match="No checkpoint file"):
        load_gpt2_weights(small_model(), str(folder))


# -- generation ---------------------------------------------------------------------------


class GreedyTest(TestCase):
    def test_matches_the_slow_reference(self):
        tokens = run()
        self.assertEqual(tokens.shape, (3, L))
        self.assertEqual(tokens.dtype, np.int32)
        np.testing.assert_array_equal(tokens, greedy_reference())
        # Varied, or the comparison would prove little.
        self.assertGreater(len(np.unique(tokens)), 4)

    def test_cached_is_uncached(self):
        np.testing.assert_array_equal(run(use_cache=False), run())

    def test_left_padding_is_the_prompt_alone(self):
        # Row 1's prompt, [10, 11, 2], decoded alone without padding.
        alone = shared_model().generate(PROMPT[1:2, 2:], max_new_tokens=L)
        np.testing.assert_array_equal(run()[1], alone[0])

    def test_stops_at_the_end_token_and_pads(self):
        end, row, step = stopping_point()
        tokens = run(end_token_id=end)
        self.assertEqual(tokens[row, step], end)
        np.testing.assert_array_equal(tokens[row, step + 1 :], PAD)
        np.testing.assert_array_equal(tokens[row, :step], greedy_reference()[row, :step])
        # Every row: the free run up to its first end token, then padding.
        expected = reference_greedy(shared_model(), PROMPT, PROMPT_MASK, end=end)
        np.testing.assert_array_equal(tokens, expected)

    def test_compiled_once_not_retraced(self):
        np.testing.assert_array_equal(run(), run())
        if keras.config.backend() == "torch":
            pytest.skip(reason="PyTorch runs eagerly: nothing is traced")
        compiled = decoding._COMPILED[shared_model()]
        self.assertEqual({key: d.traces for key, d in compiled.items()}, dict.fromkeys(compiled, 1))

    def test_top_k_1_is_greedy(self):
        np.testing.assert_array_equal(run(strategy="sample", top_k=1, seed=3), run())


class BeamSearchTest(TestCase):
    def test_one_beam_is_greedy(self):
        np.testing.assert_array_equal(run(strategy="beam", num_beams=1), run())

    def test_enough_beams_is_exact_search(self):
        # V beams keep every first token, so two steps find the most likely
        # pair of tokens: check against all V*V pairs.
        model = shared_model()
        beam = run(strategy="beam", num_beams=V, max_new_tokens=2)
        for row in range(len(PROMPT)):
            prompt = list(PROMPT[row][PROMPT_MASK[row]])
            first = log_softmax(logits_of(model, [prompt])[0, -1])  # (V,)
            pairs = np.array([prompt + [a] for a in range(V)], "int32")
            second = log_softmax(logits_of(model, pairs)[:, -1])  # (V, V)
            scores = first[:, None] + second
            best = np.unravel_index(scores.argmax(), scores.shape)
            np.testing.assert_array_equal(beam[row], best, err_msg=f"row {row}")

    def test_stops_at_the_end_token_and_pads(self):
        end, _, _ = stopping_point()
        tokens = run(strategy="beam", num_beams=3, end_token_id=end)
        for row in tokens:
            hits = np.flatnonzero(row == end)
            if hits.size:
                np.testing.assert_array_equal(row[hits[0] + 1 :], PAD)


def allowed_tokens(logits, temperature, top_k=None, top_p=None):
    """The tokens sampling may pick from float32 logits `(V,)`, by NumPy:
    the top_k most likely, then the smallest prefix (most likely first)
    whose probability reaches top_p. Tokens within 1e-5 of the top_p
    boundary count as allowed (float rounding of the cumulative sum)."""
    order = np.argsort(-logits, kind="stable")
    if top_k is not None:
        order = order[:top_k]
    scaled = logits[order].astype("float64") / temperature
    probabilities = np.exp(scaled - scaled.max())
    probabilities /= probabilities.sum()
    if top_p is not None:
        before = np.cumsum(probabilities) - probabilities
        order = order[before < top_p + 1e-5]
    return set(order.tolist())


class SamplingTest(TestCase):
    def assert_within(self, tokens, temperature, **limits):
        model = shared_model()
        for row in range(len(PROMPT)):
            prompt = list(PROMPT[row][PROMPT_MASK[row]])
            sequence = np.array([prompt + list(tokens[row])], "int32")
            logits = logits_of(model, sequence)[0]
            for step, token in enumerate(tokens[row]):
                allowed = allowed_tokens(logits[len(prompt) - 1 + step], temperature, **limits)
                self.assertIn(int(token), allowed, f"row {row} step {step}")

    def test_seeded_cached_is_uncached_and_reproducible(self):
        settings = {"strategy": "sample", "top_k": 4, "temperature": 0.7, "seed": 7}
        tokens = run(**settings)
        np.testing.assert_array_equal(run(**settings), tokens)
        np.testing.assert_array_equal(run(use_cache=False, **settings), tokens)
        self.assert_within(tokens, 0.7, top_k=4)
        self.assertFalse(np.array_equal(tokens, run()))  # not greedy here

    def test_top_p_stays_in_the_nucleus(self):
        tokens = run(strategy="sample", top_p=0.6, seed=11)
        self.assert_within(tokens, 1.0, top_p=0.6)
        self.assertFalse(np.array_equal(tokens, run()))


class ArgumentTest(TestCase):
    def assert_rejected(self, text, prompt=PROMPT, **kwargs):
        settings = {"max_new_tokens": L, **kwargs}
        with self.assertRaisesRegex(ValueError, text):
            shared_model().generate(prompt, **settings)

    def test_lengths(self):
        self.assert_rejected("max_new_tokens=0", max_new_tokens=0)
        self.assert_rejected(
            f"max_sequence_length={MAX_SEQUENCE_LENGTH}", max_new_tokens=MAX_SEQUENCE_LENGTH - 3
        )
        self.assert_rejected("at least one token", prompt=PROMPT[:, :0])

    def test_prompt_padding_mask(self):
        right = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
        self.assert_rejected("row 1 has padding after a real token", prompt_padding_mask=right)
        empty = PROMPT_MASK.copy()
        empty[2] = False
        self.assert_rejected("row 2 has no real token", prompt_padding_mask=empty)
        self.assert_rejected("prompt_padding_mask", prompt_padding_mask=PROMPT_MASK[:, :3])

    def test_tokens_and_settings(self):
        bad = PROMPT.copy()
        bad[0, 0] = V
        self.assert_rejected(f"token id {V}, outside the vocabulary", prompt=bad)
        self.assert_rejected("integer array", prompt=PROMPT.astype("float32"))
        self.assert_rejected("end_token_id", end_token_id=V)
        self.assert_rejected("padding_id", padding_id=-1)
        self.assert_rejected("strategy='nucleus'", strategy="nucleus")
        self.assert_rejected("`top_k` applies to strategy='sample'", top_k=3)
        self.assert_rejected("top_p=1.5", strategy="sample", top_p=1.5)
        self.assert_rejected("use_cache=False", strategy="beam", use_cache=False)


def test_position_ids_are_taken_from_the_table():
    # Shifted positions: the embedding rows 2..6 instead of 0..4.
    model = shared_model()
    shifted = model.decode_sequence(PROMPT, position_ids=np.tile(np.arange(2, 7), (3, 1)))
    x = to_numpy(model.backbone.token_embedding(PROMPT))
    x = x + to_numpy(model.backbone.position_embedding.embeddings)[2:7]
    for block in model.backbone.transformer_layers:
        x = to_numpy(block(x))
    hidden = to_numpy(model.backbone.layer_norm(x))
    table = to_numpy(model.backbone.token_embedding.embeddings)
    np.testing.assert_allclose(to_numpy(shifted), hidden @ table.T, atol=1e-5)
    assert not np.allclose(to_numpy(shifted), logits_of(model, PROMPT), atol=1e-3)


def test_generation_reads_current_weights():
    model = shared_model()
    before = run()
    saved = model.get_weights()
    norm, embedding = model.backbone.layer_norm, model.backbone.token_embedding
    try:
        # The final norm's output is then its offset alone, a long copy of
        # token 7's row: every logit but token 7's is far smaller.
        table = to_numpy(embedding.embeddings).copy()
        table[7] *= 100.0
        embedding.embeddings.assign(table)
        norm.gamma.assign(np.zeros(D, "float32"))
        norm.beta.assign(table[7])
        np.testing.assert_array_equal(run(), np.full((3, L), 7))
    finally:
        model.set_weights(saved)
    np.testing.assert_array_equal(run(), before)
