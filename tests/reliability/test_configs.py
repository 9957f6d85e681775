"""Configs of every family (BertConfig, RobertaConfig, AlbertConfig,
GPT2Config) under bad values and bad files: each outcome is the config the
values describe, or a ValueError naming the key (and the file, when read from
one); a missing file is a FileNotFoundError naming it.

The oracle is this file's own statement of the documented limits
(docs: sizes 1..2**24, counts 1..2**12, rates in [0, 1), epsilons > 0,
ints as Python or NumPy ints, never bools or floats), not the library's.
"""

import json
import math
import os
import re

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from kerastack.bert import (
    AlbertBackbone,
    AlbertConfig,
    BertBackbone,
    BertConfig,
    RobertaBackbone,
    RobertaConfig,
)
from kerastack.gpt import GPT2Backbone, GPT2Config

SIZE, COUNT = 2**24, 2**12
ACTIVATIONS = {"gelu", "gelu_new", "gelu_pytorch_tanh", "relu", "silu", "swish", "tanh"}

# key -> kind: ("int", low, high), "rate", "positive", "non_negative", "act",
# or ("int?", low, high) (an int or None).
BERT_RULES = {
    "vocab_size": ("int", 1, SIZE),
    "hidden_size": ("int", 1, SIZE),
    "num_hidden_layers": ("int", 1, COUNT),
    "num_attention_heads": ("int", 1, COUNT),
    "intermediate_size": ("int", 1, SIZE),
    "hidden_act": "act",
    "hidden_dropout_prob": "rate",
    "attention_probs_dropout_prob": "rate",
    "max_position_embeddings": ("int", 1, SIZE),
    "type_vocab_size": ("int", 1, SIZE),
    "initializer_range": "non_negative",
    "layer_norm_eps": "positive",
}
BERT_BASE = {
    "vocab_size": 30,
    "hidden_size": 8,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 12,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "max_position_embeddings": 16,
    "type_vocab_size": 2,
    "initializer_range": 0.02,
    "layer_norm_eps": 1e-12,
}
GPT2_RULES = {
    "vocab_size": ("int", 1, SIZE),
    "n_positions": ("int", 1, SIZE),
    "n_embd": ("int", 1, SIZE),
    "n_layer": ("int", 1, COUNT),
    "n_head": ("int", 1, COUNT),
    "n_inner": ("int?", 1, SIZE),
    "activation_function": "act",
    "resid_pdrop": "rate",
    "embd_pdrop": "rate",
    "attn_pdrop": "rate",
    "layer_norm_epsilon": "positive",
    "initializer_range": "non_negative",
    "bos_token_id": ("int?", 0, SIZE),
    "eos_token_id": ("int?", 0, SIZE),
}
GPT2_BASE = {
    "model_type": "gpt2",
    "vocab_size": 96,
    "n_positions": 64,
    "n_embd": 32,
    "n_layer": 2,
    "n_head": 4,
    "n_inner": None,
    "activation_function": "gelu_new",
    "resid_pdrop": 0.1,
    "embd_pdrop": 0.1,
    "attn_pdrop": 0.1,
    "layer_norm_epsilon": 1e-5,
    "initializer_range": 0.02,
    "bos_token_id": 95,
    "eos_token_id": 95,
}

FAMILIES = {
    "bert": (BertConfig, BertBackbone, {**BERT_BASE, "model_type": "bert"}, BERT_RULES),
    "roberta": (
        RobertaConfig,
        RobertaBackbone,
        {**BERT_BASE, "model_type": "roberta", "type_vocab_size": 1, "pad_token_id": 1},
        {**BERT_RULES, "pad_token_id": ("int", 0, SIZE)},
    ),
    "albert": (
        AlbertConfig,
        AlbertBackbone,
        {
            **BERT_BASE,
            "model_type": "albert",
            "embedding_size": 4,
            "num_hidden_groups": 1,
            "inner_group_num": 1,
        },
        {
            **BERT_RULES,
            "embedding_size": ("int", 1, SIZE),
            "num_hidden_groups": ("int", 1, COUNT),
            "inner_group_num": ("int", 1, COUNT),
        },
    ),
    "gpt2": (GPT2Config, GPT2Backbone, GPT2_BASE, GPT2_RULES),
}


def is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_number(value):
    return is_int(value) or isinstance(value, (float, np.floating))


def field_ok(rule, value):
    """Whether `value` is valid for a field of `rule` (the documented limits)."""
    if rule == "act":
        return isinstance(value, str) and value in ACTIVATIONS
    if rule in ("rate", "positive", "non_negative"):
        if not is_number(value) or not math.isfinite(float(value)):
            return False
        value = float(value)
        return {"rate": 0 <= value < 1, "positive": value > 0, "non_negative": value >= 0}[rule]
    kind, low, high = rule
    if kind == "int?" and value is None:
        return True
    return is_int(value) and low <= int(value) <= high


def cross_problem(family, values):
    """The keys of the first cross-field rule `values` breaks, or None."""
    if family == "gpt2":
        if values["n_embd"] % values["n_head"]:
            return ("n_embd", "n_head")
        rates = [float(values[k]) for k in ("resid_pdrop", "embd_pdrop", "attn_pdrop")]
        if len(set(rates)) > 1:
            return ("resid_pdrop", "embd_pdrop", "attn_pdrop")
        return None
    if values["hidden_size"] % values["num_attention_heads"]:
        return ("hidden_size", "num_attention_heads")
    if family == "roberta" and not (
        0 <= values["pad_token_id"] < values["max_position_embeddings"] - 1
    ):
        return ("pad_token_id", "max_position_embeddings")
    if family == "albert" and values["num_hidden_layers"] % values["num_hidden_groups"]:
        return ("num_hidden_layers", "num_hidden_groups")
    return None


def numpy_ints(value):
    return st.sampled_from([np.int64, np.int32, np.uint16]).map(lambda t: t(value))


def values_for(rule):
    """Values a careless file or caller may give for a field of `rule`:
    valid ones, and every kind of invalid one."""
    odd = st.sampled_from(
        [None, True, False, "8", "", [8], {"x": 1}, float("nan"), float("inf"), -1, 0, 2.0, 0.5]
    )
    if rule == "act":
        return st.one_of(
            st.sampled_from(sorted(ACTIVATIONS) + ["mish", "GELU", "gelu "]),
            st.lists(st.sampled_from(sorted(ACTIVATIONS)), max_size=2),
            odd,
        )
    if rule in ("rate", "positive", "non_negative"):
        return st.one_of(
            st.floats(-2, 2),
            st.sampled_from([0, 1, 1e-12, 0.9999999, 1.0, -0.0, np.float32(0.25)]),
            odd,
        )
    _, low, high = rule
    near = st.sampled_from([low - 1, low, low + 1, high - 1, high, high + 1, 2**31, 2**63, 10**30])
    return st.one_of(
        st.integers(low - 3, 64),
        near,
        st.integers(0, 64).flatmap(numpy_ints),
        st.integers(0, 64).map(float),
        st.integers(0, 64).map(str),
        odd,
    )


def override(family):
    """A base config with one to three keys replaced by drawn values."""
    _, _, base, rules = FAMILIES[family]
    keys = st.lists(st.sampled_from(sorted(rules)), min_size=1, max_size=3, unique=True)
    return keys.flatmap(
        lambda chosen: st.fixed_dictionaries({key: values_for(rules[key]) for key in chosen})
    ).map(lambda changes: (changes, {**base, **changes}))


def expected_outcome(family, changes, values):
    """None if `values` makes a valid config, else the keys an error may name."""
    rules = FAMILIES[family][3]
    bad = [key for key, value in changes.items() if not field_ok(rules[key], value)]
    if bad:
        return bad
    return cross_problem(family, {k: v for k, v in values.items() if k in rules})


def names(message, key):
    """Whether `message` names `key` (not merely a longer key holding it)."""
    return re.search(rf"(?<![A-Za-z_]){key}(?![A-Za-z_])", message) is not None


def check(family, changes, values, source=None):
    config_class = FAMILIES[family][0]
    rules = FAMILIES[family][3]
    expected = expected_outcome(family, changes, values)
    if expected is None:
        config = config_class.from_json(source) if source else config_class.from_dict(dict(values))
        for key in rules:
            held, given = getattr(config, key), values[key]
            if given is None or isinstance(given, str):
                assert held == given, key
            elif rules[key] in ("rate", "positive", "non_negative"):
                assert type(held) is float and held == float(given), key
            else:
                assert type(held) is int and held == int(given), key
        return "valid"
    with pytest.raises(ValueError) as error:
        if source:
            config_class.from_json(source)
        else:
            config_class.from_dict(dict(values))
    message = str(error.value)
    assert any(names(message, key) for key in expected), (expected, message)
    if source:
        assert message.startswith(str(source)), message
    return "error"


@pytest.mark.parametrize("family", sorted(FAMILIES))
@given(data=st.data())
def test_config_values_give_the_config_or_an_error_naming_the_key(family, data):
    changes, values = data.draw(override(family))
    event(check(family, changes, values))


def json_values(values):
    """`values` as a JSON file would hold them (NumPy ints as ints)."""
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in values.items()}


@pytest.mark.parametrize("family", sorted(FAMILIES))
@given(data=st.data())
def test_config_files_give_the_config_or_an_error_naming_file_and_key(family, data, tmp_path):
    changes, values = data.draw(override(family))
    values = json_values(values)
    changes = json_values(changes)
    if any(isinstance(v, float) and not math.isfinite(v) for v in values.values()):
        return  # JSON holds no NaN or Infinity (a file holding them: below)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(values), encoding="utf-8")
    event(check(family, changes, values, source=str(path)))


def test_numpy_ints_and_floats_are_taken_as_plain_python_values():
    config = BertConfig.from_dict(
        {**BERT_BASE, "vocab_size": np.int64(30), "hidden_dropout_prob": np.float32(0.5)}
    )
    assert type(config.vocab_size) is int and config.vocab_size == 30
    assert type(config.hidden_dropout_prob) is float and config.hidden_dropout_prob == 0.5
    config = GPT2Config(n_layer=np.int32(3), n_inner=np.uint8(7), eos_token_id=np.int64(0))
    assert (type(config.n_layer), config.n_layer, config.n_inner) == (int, 3, 7)
    # Made directly, a config is checked as from a file.
    with pytest.raises(ValueError, match="`n_layer` must be a positive int, received n_layer=2.0"):
        GPT2Config(n_layer=2.0)
    with pytest.raises(ValueError, match="num_attention_heads=0"):
        BertConfig(vocab_size=5, num_attention_heads=0)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize(
    "content, message",
    [
        (lambda text: text.encode("utf-16"), "is not UTF-8 text (it looks like UTF-16)"),
        (lambda text: text.encode("utf-16-le"), "is not UTF-8 text"),
        (lambda text: text.encode("utf-8")[:-1] + b"\xe9}", "is not UTF-8 text"),
        (lambda text: text.replace('"', "'", 2).encode(), "is not valid JSON"),
        (lambda text: text[: len(text) // 2].encode(), "is not valid JSON"),
        (lambda text: b"", "is not valid JSON"),
        (lambda text: b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (
            lambda text: (text[:-1] + ', "x": ' + "[" * 100_000 + "]" * 100_000 + "}").encode(),
            "nested too deeply",
        ),
        (lambda text: b'{"a": ' * 50_000 + b"1" + b"}" * 50_000, "nested too deeply"),
        (lambda text: text.replace("0.02", "NaN").encode(), "NaN is not a JSON number"),
        (lambda text: text.replace("0.02", "Infinity").encode(), "Infinity is not"),
        (lambda text: (text[:-1] + ', "vocab_size": 7}').encode(), "'vocab_size' appears twice"),
        (lambda text: b"[1, 2]", "does not hold a JSON object (it holds a list)"),
        (lambda text: b'"config"', "does not hold a JSON object (it holds a str)"),
        (lambda text: b"12", "does not hold a JSON object (it holds a int)"),
        (lambda text: b"null", "does not hold a JSON object"),
    ],
)
def test_bad_config_files_are_errors_naming_the_file(family, content, message, tmp_path):
    config_class, backbone_class, base, _ = FAMILIES[family]
    path = tmp_path / "config.json"
    path.write_bytes(content(json.dumps(base)))
    for read in (config_class.from_json, backbone_class.from_config_file):
        for argument in (str(path), str(tmp_path), tmp_path):
            with pytest.raises(ValueError) as error:
                read(argument)
            assert str(error.value).startswith(str(path)), error.value
            assert message in str(error.value)


@pytest.mark.parametrize(
    "content, message",
    [
        (lambda text: text.encode("utf-16"), "is not UTF-8 text (it looks like UTF-16)"),
        (lambda text: text[: len(text) // 2].encode(), "is not valid JSON"),
        (lambda text: b"[1, 2]", "does not hold a JSON object"),
        (
            lambda text: text.replace('"num_hidden_layers": 2', '"num_hidden_layers": 0').encode(),
            "num_hidden_layers",
        ),
    ],
)
def test_keras_bert_compat_reads_config_files_as_strictly(content, message, tmp_path):
    from kerastack.bert import compat

    path = tmp_path / "bert_config.json"
    base = dict(FAMILIES["bert"][2], num_hidden_layers=2)
    path.write_bytes(content(json.dumps(base)))
    with pytest.raises(ValueError) as error:
        compat.build_model_from_config(str(path))
    assert str(path) in str(error.value) and message in str(error.value)


@pytest.mark.parametrize("seq_len", [0, -1, 2.5, "8", True])
def test_keras_bert_compat_seq_len_is_checked(seq_len, tmp_path):
    from kerastack.bert import compat

    path = tmp_path / "bert_config.json"
    path.write_text(json.dumps(FAMILIES["bert"][2]))
    with pytest.raises(ValueError, match="seq_len"):
        compat.build_model_from_config(str(path), seq_len=seq_len)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_a_byte_order_mark_is_allowed(family, tmp_path):
    config_class, _, base, _ = FAMILIES[family]
    (tmp_path / "config.json").write_bytes(json.dumps(base).encode("utf-8-sig"))
    assert config_class.from_json(tmp_path) == config_class.from_dict(base)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize(
    "key, value, message",
    [
        ("layers", 0, "`{key}` must be a positive int, received {key}=0"),
        ("layers", -2, "`{key}` must be a positive int, received {key}=-2"),
        ("layers", 4097, "`{key}` must be at most 4096 (kerastack's limit), received {key}=4097"),
        ("layers", "2", "`{key}` must be a positive int, received {key}='2'"),
        ("layers", 2.0, "`{key}` must be a positive int, received {key}=2.0"),
        ("layers", True, "`{key}` must be a positive int, received {key}=True"),
        ("heads", 0, "`{key}` must be a positive int, received {key}=0"),
        ("heads", 3, "is not divisible by"),
        ("vocab", 2**24 + 1, "`{key}` must be at most 16777216 (kerastack's limit)"),
        ("vocab", 10**30, "received {key}=1000000000000000000000000000000"),
        ("act", ["gelu"], "Unknown {key} ['gelu']"),
        ("act", {"name": "gelu"}, "Unknown {key} {{'name': 'gelu'}}"),
        ("act", "mish", "Unknown {key} 'mish'"),
        ("dropout", 1.0, "`{key}` must be a finite number in [0.0, 1.0), received {key}=1.0"),
        ("dropout", -0.1, "`{key}` must be a finite number in [0.0, 1.0), received {key}=-0.1"),
        ("dropout", "0.1", "`{key}` must be a finite number in [0.0, 1.0), received {key}='0.1'"),
        ("epsilon", 0, "`{key}` must be a finite number > 0, received {key}=0"),
        ("epsilon", -1e-5, "`{key}` must be a finite number > 0, received {key}=-1e-05"),
    ],
)
def test_each_bad_value_names_its_key(family, key, value, message, tmp_path):
    config_class, backbone_class, base, _ = FAMILIES[family]
    gpt2 = family == "gpt2"
    key = {
        "layers": "n_layer" if gpt2 else "num_hidden_layers",
        "heads": "n_head" if gpt2 else "num_attention_heads",
        "vocab": "vocab_size",
        "act": "activation_function" if gpt2 else "hidden_act",
        "dropout": "resid_pdrop" if gpt2 else "hidden_dropout_prob",
        "epsilon": "layer_norm_epsilon" if gpt2 else "layer_norm_eps",
    }[key]
    if gpt2 and key == "resid_pdrop":
        base = {**base, "attn_pdrop": value, "embd_pdrop": value}
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**base, key: value}))
    with pytest.raises(ValueError) as error:
        backbone_class.from_pretrained(str(tmp_path))  # the config is read first
    assert str(error.value).startswith(f"{path}: "), error.value
    assert message.format(key=key) in str(error.value)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_missing_files_and_non_paths(family, tmp_path):
    config_class, backbone_class, _, _ = FAMILIES[family]
    with pytest.raises(FileNotFoundError, match="No config.json"):
        config_class.from_json(tmp_path)
    absent = os.path.join(tmp_path, "absent.json")
    with pytest.raises(FileNotFoundError, match="absent.json"):
        config_class.from_json(absent)
    for argument in (None, 3, ["config.json"]):
        with pytest.raises(ValueError, match="str or os.PathLike"):
            config_class.from_json(argument)
        with pytest.raises(ValueError, match="str or os.PathLike"):
            backbone_class.from_pretrained(argument)
    for values in ([1], "config", None):
        with pytest.raises(ValueError, match="config is a dict"):
            config_class.from_dict(values)
