"""Masked keys cannot change real positions, whatever they hold.

A NaN, an Inf or a huge value at a padded (masked) position of the keys and
values must leave every real position's output exactly what it is with
zeros there: for every attention layer and block, in float32, float16 and
bfloat16, on the fused, explicit (attention scores), chunked and cached
paths. The reference is the same layer on the same inputs with zeros at the
masked positions; the tolerance is 0 (the masked positions are zeroed
before any product, so both computations are the same arithmetic).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kerastack.attention import (
    ScaledDotProductAttention,
    SelfAttention,
    WeightedAttention,
    functional,
)
from kerastack.core import keras, ops
from kerastack.multihead import MultiHeadAttention
from kerastack.transformer import TransformerDecoder, TransformerEncoder

WIDTH = 8
DTYPES = ("float32", "float16", "bfloat16")
POISONS = (np.nan, np.inf, -np.inf, 3e38, -3e38)

# Examples per layer: a share of the profile's (12 of 25 in the lanes, more
# under `nox -s fuzz`), a smaller one on JAX, where each new dtype and path
# costs seconds of compilation.
EXAMPLES = max(1, settings.default.max_examples // (5 if keras.config.backend() == "jax" else 2))

_LAYERS = {}


def _layer(kind, dtype, heads):
    """One layer per (kind, dtype, heads), built once: building dominates."""
    key = (kind, dtype, heads)
    if key not in _LAYERS:
        make = {
            "MultiHeadAttention": lambda: MultiHeadAttention(heads, 4, dtype=dtype),
            "ScaledDotProductAttention": lambda: ScaledDotProductAttention(dtype=dtype),
            "SelfAttention(additive)": lambda: SelfAttention(units=4, dtype=dtype),
            "SelfAttention(multiplicative)": lambda: SelfAttention(
                attention_type="multiplicative", dtype=dtype
            ),
            "WeightedAttention": lambda: WeightedAttention(dtype=dtype),
            "TransformerEncoder": lambda: TransformerEncoder(16, heads, dtype=dtype),
            "TransformerDecoder": lambda: TransformerDecoder(16, heads, dtype=dtype),
        }[kind]
        keras.utils.set_random_seed(0)
        _LAYERS[key] = make()
    return _LAYERS[key]


def _run(kind, layer, query, memory, query_mask, memory_mask, variant):
    """The layer's output `(B, T, X)` on `query` and `memory` (keys/values)."""
    if kind == "MultiHeadAttention":
        kwargs = {"query_mask": query_mask, "value_mask": memory_mask}
        if variant == "scores":
            return layer(query, memory, return_attention_scores=True, **kwargs)[0]
        return layer(query, memory, use_causal_mask=variant == "causal", **kwargs)
    if kind == "ScaledDotProductAttention":
        kwargs = {"query_mask": query_mask, "value_mask": memory_mask}
        if variant == "scores":
            return layer(query, memory, return_attention_scores=True, **kwargs)[0]
        return layer(query, memory, use_causal_mask=variant == "causal", **kwargs)
    if kind.startswith("SelfAttention"):
        return layer(memory, mask=memory_mask, return_attention_scores=variant == "scores")
    if kind == "WeightedAttention":
        return ops.expand_dims(layer(memory, mask=memory_mask), 1)  # (B, 1, D)
    if kind == "TransformerEncoder":
        return layer(memory, padding_mask=memory_mask, use_causal_mask=variant == "causal")
    return layer(
        query,
        memory,
        decoder_padding_mask=query_mask,
        encoder_padding_mask=memory_mask,
        use_causal_mask=variant == "causal",
    )


def _numpy(x):
    x = x[0] if isinstance(x, (tuple, list)) else x
    return np.asarray(ops.convert_to_numpy(ops.cast(x, "float32")))


KINDS = (
    "MultiHeadAttention",
    "ScaledDotProductAttention",
    "SelfAttention(additive)",
    "SelfAttention(multiplicative)",
    "WeightedAttention",
    "TransformerEncoder",
    "TransformerDecoder",
)


@st.composite
def cases(draw):
    # One shape: eager JAX compiles every op again for each new shape and
    # dtype (seconds each); the property lives in the masks and the values.
    batch, query_length, key_length = 3, 4, 5
    # Each row: a random padding mask (possibly all padding).
    memory_mask = draw(
        st.lists(
            st.lists(st.booleans(), min_size=key_length, max_size=key_length),
            min_size=batch,
            max_size=batch,
        )
    )
    query_mask = draw(
        st.lists(
            st.lists(st.booleans(), min_size=query_length, max_size=query_length),
            min_size=batch,
            max_size=batch,
        )
    )
    return {
        "batch": batch,
        "query_length": query_length,
        "key_length": key_length,
        "memory_mask": np.array(memory_mask, bool),
        "query_mask": np.array(query_mask, bool),
        "heads": 2,
        "dtype": draw(st.sampled_from(DTYPES)),
        "poison": draw(st.sampled_from(POISONS)),
        "variant": draw(st.sampled_from(("plain", "scores", "causal"))),
        "seed": draw(st.integers(0, 2**16)),
    }


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=EXAMPLES)
@given(case=cases())
def test_masked_keys_cannot_reach_real_positions(kind, case):
    rng = np.random.default_rng(case["seed"])
    batch, dtype = case["batch"], case["dtype"]
    self_only = kind in ("SelfAttention(additive)", "SelfAttention(multiplicative)")
    self_only = self_only or kind in ("WeightedAttention", "TransformerEncoder")
    if kind == "ScaledDotProductAttention" or self_only:
        case["query_length"] = case["key_length"]
        case["query_mask"] = case["memory_mask"]
    query_mask, memory_mask = case["query_mask"], case["memory_mask"]
    query = rng.standard_normal((batch, case["query_length"], WIDTH)).astype("float32")
    memory = rng.standard_normal((batch, case["key_length"], WIDTH)).astype("float32")
    if kind == "ScaledDotProductAttention":
        query = memory.copy()
    clean_memory = np.where(memory_mask[..., None], memory, 0.0).astype("float32")
    poisoned = np.where(memory_mask[..., None], memory, case["poison"]).astype("float32")
    if kind == "ScaledDotProductAttention":  # queries are the (padded) keys too
        query = clean_query = np.where(query_mask[..., None], query, 0.0).astype("float32")
        poisoned_query = np.where(query_mask[..., None], query, case["poison"]).astype("float32")
    else:
        clean_query = poisoned_query = query
    layer = _layer(kind, dtype, case["heads"])
    variant = case["variant"]
    if variant == "scores" and kind in ("TransformerEncoder", "TransformerDecoder"):
        variant = "plain"
    if variant == "causal" and case["query_length"] != case["key_length"]:
        variant = "plain"
    expected = _numpy(
        _run(kind, layer, clean_query, clean_memory, query_mask, memory_mask, variant)
    )
    actual = _numpy(_run(kind, layer, poisoned_query, poisoned, query_mask, memory_mask, variant))
    if kind == "WeightedAttention":
        real = np.ones(actual.shape[:2], bool)
    else:
        real = query_mask
    assert np.isfinite(expected[real]).all()
    np.testing.assert_array_equal(actual[real], expected[real])
    if kind in ("TransformerEncoder", "TransformerDecoder"):
        return  # padded positions carry the residual (the poison) through
    # A query with nothing to attend to (a padded query, a row of padding)
    # gives zeros, never NaN.
    empty_row = ~memory_mask.any(-1, keepdims=True)  # (B, 1)
    nothing = empty_row if kind == "WeightedAttention" else ~query_mask
    if kind in ("MultiHeadAttention", "ScaledDotProductAttention"):
        nothing = nothing | empty_row
    np.testing.assert_array_equal(actual[np.broadcast_to(nothing, real.shape)], 0.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cached_decoding_ignores_masked_cache_positions(dtype):
    """A left-padded prompt read into the cache (the prefill), then one step:
    the padding's keys and values are masked for every query."""
    keras.utils.set_random_seed(1)
    block = TransformerDecoder(16, 2, dtype=dtype)
    rng = np.random.default_rng(2)
    batch, prompt, width = 2, 4, WIDTH
    pad = np.array([[False, False, True, True], [True, True, True, True]])
    block.build((batch, prompt, width))
    tokens = rng.standard_normal((batch, prompt + 1, width)).astype("float32")
    outputs = []
    for fill in (0.0, np.nan, np.inf, -np.inf):
        x = tokens.copy()
        x[:, :prompt][~pad] = fill
        cache = block.initial_cache(batch, prompt + 1)
        keys = np.concatenate([pad, np.ones((batch, 1), bool)], axis=1)[:, None]  # (B, 1, C)
        first, cache = block(
            x[:, :prompt],
            decoder_padding_mask=pad,
            decoder_attention_mask=np.broadcast_to(keys, (batch, prompt, prompt + 1)),
            cache=cache,
            cache_update_index=0,
        )
        step, _ = block(
            x[:, prompt:], decoder_attention_mask=keys, cache=cache, cache_update_index=prompt
        )
        outputs.append((_numpy(first)[pad], _numpy(step)))
    for poisoned_outputs in outputs[1:]:
        for clean, poisoned in zip(outputs[0], poisoned_outputs, strict=True):
            assert np.isfinite(clean).all()
            np.testing.assert_array_equal(poisoned, clean)


@pytest.mark.parametrize("poison", (np.nan, np.inf))
def test_chunked_long_attention_ignores_masked_keys(monkeypatch, poison):
    """The path computing long attention in blocks of queries (TensorFlow,
    JAX), forced on small inputs by lowering its threshold."""
    monkeypatch.setattr(functional, "CHUNK_ABOVE_BYTES", 0)
    monkeypatch.setattr(functional, "BLOCK_BYTES", 64)
    rng = np.random.default_rng(3)
    batch, length, heads, width = 2, 7, 2, 4
    query = rng.standard_normal((batch, length, heads, width)).astype("float32")
    key = rng.standard_normal((batch, length, heads, width)).astype("float32")
    value = rng.standard_normal((batch, length, heads, width)).astype("float32")
    pad = np.ones((batch, length), bool)
    pad[0, 4:] = False
    mask = np.broadcast_to(pad[:, None, None, :], (batch, 1, length, length))
    results = []
    for fill in (0.0, np.nan, np.inf, -np.inf):
        k, v = key.copy(), value.copy()
        k[~pad], v[~pad] = fill, fill
        results.append(_numpy(functional.fused_attention(query, k, v, mask=mask)))
    assert np.isfinite(results[0]).all()
    np.testing.assert_array_equal(results[1], results[0])
    # An independent reference: NumPy softmax attention over the real keys.
    scores = np.einsum("btnh,bsnh->bnts", query, key) / np.sqrt(width)
    scores = np.where(mask, scores, -np.inf)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    expected = np.einsum("bnts,bsnh->btnh", weights, np.where(pad[..., None, None], value, 0))
    np.testing.assert_allclose(results[0], expected, atol=1e-5)


# -- arguments -----------------------------------------------------------------------

INT, FLOAT = "int", "float"
# (layer, its required arguments, the argument checked, the rule): an int
# rule is (INT, minimum, None allowed); a float rule is (FLOAT, low, high,
# low excluded, high excluded, None allowed).
RATE = (FLOAT, 0.0, 1.0, False, True, False)
POSITIVE = (FLOAT, 0.0, None, True, False, False)
ARGUMENTS = [
    (ScaledDotProductAttention, {}, "dropout", RATE),
    (ScaledDotProductAttention, {}, "scale", (FLOAT, 0.0, None, True, False, True)),
    (SelfAttention, {}, "units", (INT, 1, False)),
    (SelfAttention, {}, "attention_width", (INT, 1, True)),
    (SelfAttention, {}, "attention_regularizer_weight", (FLOAT, 0.0, None, False, False, False)),
    (MultiHeadAttention, {"num_heads": 2, "key_dim": 4}, "num_heads", (INT, 1, False)),
    (MultiHeadAttention, {"num_heads": 2, "key_dim": 4}, "key_dim", (INT, 1, False)),
    (MultiHeadAttention, {"num_heads": 2, "key_dim": 4}, "value_dim", (INT, 1, True)),
    (MultiHeadAttention, {"num_heads": 2, "key_dim": 4}, "output_shape", (INT, 1, True)),
    (MultiHeadAttention, {"num_heads": 2, "key_dim": 4}, "dropout", RATE),
    (TransformerEncoder, {"intermediate_dim": 8, "num_heads": 2}, "num_heads", (INT, 1, False)),
    (TransformerEncoder, {"intermediate_dim": 8, "num_heads": 2}, "key_dim", (INT, 1, True)),
    (TransformerEncoder, {"intermediate_dim": 8, "num_heads": 2}, "dropout", RATE),
    (TransformerEncoder, {"intermediate_dim": 8, "num_heads": 2}, "layer_norm_epsilon", POSITIVE),
    (
        TransformerDecoder,
        {"intermediate_dim": 8, "num_heads": 2},
        "intermediate_dim",
        (INT, 1, False),
    ),
]


def _more_arguments():
    from kerastack.layernorm import LayerNormalization, RMSNormalization
    from kerastack.multihead import MultiHead
    from kerastack.position import PositionEmbedding, RotaryEmbedding, SinePositionEncoding
    from kerastack.transformer import FeedForward, Seq2SeqTransformer

    seq2seq = {
        "encoder_vocabulary_size": 10,
        "hidden_dim": 4,
        "num_heads": 2,
        "intermediate_dim": 8,
        "num_encoder_layers": 1,
        "num_decoder_layers": 1,
        "max_sequence_length": 6,
    }
    return [
        (MultiHead, {"layer": keras.layers.Dense(2)}, "num_copies", (INT, 1, False)),
        (MultiHead, {"layer": keras.layers.Dense(2)}, "hidden_dim", (INT, 1, True)),
        (FeedForward, {"intermediate_dim": 8}, "intermediate_dim", (INT, 1, False)),
        (FeedForward, {"intermediate_dim": 8}, "output_dim", (INT, 1, True)),
        (FeedForward, {"intermediate_dim": 8}, "dropout", RATE),
        (Seq2SeqTransformer, seq2seq, "num_encoder_layers", (INT, 0, False)),
        (Seq2SeqTransformer, seq2seq, "num_decoder_layers", (INT, 0, False)),
        (Seq2SeqTransformer, seq2seq, "hidden_dim", (INT, 1, False)),
        (PositionEmbedding, {"max_sequence_length": 4}, "max_sequence_length", (INT, 1, False)),
        (RotaryEmbedding, {}, "max_wavelength", POSITIVE),
        (RotaryEmbedding, {}, "scaling_factor", POSITIVE),
        (SinePositionEncoding, {}, "max_wavelength", POSITIVE),
        (LayerNormalization, {}, "epsilon", POSITIVE),
        (RMSNormalization, {}, "epsilon", POSITIVE),
    ]


ARGUMENTS += _more_arguments()

VALUES = st.one_of(
    st.integers(-3, 6),
    st.integers(-3, 6).map(np.int64),
    st.integers(1, 6).map(np.int32),
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.sampled_from([0.5, 2.0, 1.0, 0.0, -0.0, float("nan"), float("inf"), -float("inf")]),
    st.floats(0.0, 1.0).map(np.float32),
    st.booleans(),
    st.sampled_from(["2", None, [2], np.bool_(True)]),
)


def _valid(rule, value):
    """Whether `value` satisfies `rule`, decided without kerastack's checks."""
    if value is None:
        return rule[-1]
    if isinstance(value, (bool, np.bool_)):
        return False
    if rule[0] == INT:
        return isinstance(value, (int, np.integer)) and value >= rule[1]
    if not isinstance(value, (int, float, np.integer, np.floating)) or not np.isfinite(value):
        return False
    _, low, high, low_excluded, high_excluded, _ = rule
    above = value > low if low_excluded else value >= low
    below = high is None or (value < high if high_excluded else value <= high)
    return bool(above and below)


@given(index=st.integers(0, len(ARGUMENTS) - 1), value=VALUES)
def test_layer_arguments_are_checked(index, value):
    import json

    layer_class, required, argument, rule = ARGUMENTS[index]
    if isinstance(value, list) and argument == "output_shape":
        value = "2"  # a one-item list is MultiHeadAttention's (width,): accepted
    kwargs = {**required, argument: value}
    if not _valid(rule, value):
        with pytest.raises(ValueError, match=rf"`{argument}`.*{argument}="):
            layer_class(**kwargs)
        return
    layer = layer_class(**kwargs)
    config = layer.get_config()
    json.dumps(config)  # plain Python numbers, whatever was given
    stored = config[argument]
    if value is None:  # MultiHeadAttention stores value_dim=None as key_dim
        assert stored is None or (argument, stored) == ("value_dim", required["key_dim"])
    else:
        assert type(stored) in ((int,) if rule[0] == INT else (int, float))
        assert stored == value


# -- inputs ---------------------------------------------------------------------------


def _attention_call(kind, x, y=None):
    y = x if y is None else y
    layer = {
        "MultiHeadAttention": lambda: MultiHeadAttention(2, 4),
        "ScaledDotProductAttention": lambda: ScaledDotProductAttention(),
        "SelfAttention(additive)": lambda: SelfAttention(units=4),
        "SelfAttention(multiplicative)": lambda: SelfAttention(attention_type="multiplicative"),
        "WeightedAttention": lambda: WeightedAttention(),
        "TransformerEncoder": lambda: TransformerEncoder(16, 2),
        "TransformerDecoder": lambda: TransformerDecoder(16, 2),
    }[kind]()
    if kind in ("MultiHeadAttention", "ScaledDotProductAttention", "TransformerDecoder"):
        return layer(x, y)
    return layer(x)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", ("int32", "int64", "bool"))
def test_integer_inputs_are_refused(kind, dtype):
    x = np.ones((2, 3, WIDTH), dtype)
    # JAX without x64 holds int64 arrays as int32.
    expected = "int(32|64)" if dtype == "int64" else dtype
    with pytest.raises(ValueError, match=rf"floating-point `\w+`.*dtype {expected}"):
        _attention_call(kind, x)


@pytest.mark.parametrize(
    "kind", ("MultiHeadAttention", "ScaledDotProductAttention", "TransformerDecoder")
)
def test_batch_sizes_must_match(kind):
    x = np.ones((2, 3, WIDTH), "float32")
    y = np.ones((3, 3, WIDTH), "float32")
    with pytest.raises(ValueError, match=r"one batch size.*\(2, 3, 8\).*\(3, 3, 8\)"):
        _attention_call(kind, x, y)


@pytest.mark.parametrize("kind", KINDS)
def test_no_queries_give_an_empty_result(kind):
    """T = 0: an empty output of the right shape (WeightedAttention: zeros,
    a sequence with no position to pool)."""
    empty = np.ones((2, 0, WIDTH), "float32")
    memory = np.ones((2, 3, WIDTH), "float32")
    outputs = _numpy(_attention_call(kind, empty, memory))
    if kind == "WeightedAttention":
        np.testing.assert_array_equal(outputs, np.zeros((2, WIDTH)))
    else:
        assert outputs.shape == (2, 0, WIDTH)


@pytest.mark.parametrize(
    "kind", ("MultiHeadAttention", "ScaledDotProductAttention", "TransformerDecoder")
)
def test_no_keys_is_nothing_to_attend_to(kind):
    """S = 0: each query has nothing to attend to, as with keys that are all
    padding (the reference)."""
    rng = np.random.default_rng(5)
    query = rng.standard_normal((2, 3, WIDTH)).astype("float32")
    keras.utils.set_random_seed(4)
    layer = _layer(kind, "float32", 2)
    none = np.zeros((2, 0, WIDTH), "float32")
    padded = np.zeros((2, 2, WIDTH), "float32")
    all_padding = np.zeros((2, 2), bool)
    if kind == "TransformerDecoder":
        outputs = layer(query, none)
        expected = layer(query, padded, encoder_padding_mask=all_padding)
    else:
        outputs = layer(query, none)
        expected = layer(query, padded, value_mask=all_padding)
    outputs, expected = _numpy(outputs), _numpy(expected)
    assert np.isfinite(outputs).all()
    np.testing.assert_allclose(outputs, expected, atol=1e-6)
