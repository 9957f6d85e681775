"""Hyperparameters of every family, read from Google's `bert_config.json` or
HF's `config.json`, checked field by field (`ModelConfig`, `ConfigField`)."""

import dataclasses
import json
import math
import os

from kerastack.core import check_float, check_int

# Google's bert_config.json has no epsilon: the original code used 1e-12.
_DEFAULT_EPSILON = 1e-12
# Activations BERT configs name, as Keras activations (HF's "gelu" is the
# exact erf form; "gelu_new" and "gelu_pytorch_tanh" the tanh approximation).
_ACTIVATIONS = {
    "gelu": "gelu",
    "gelu_new": "gelu_approximate",
    "gelu_pytorch_tanh": "gelu_approximate",
    "relu": "relu",
    "silu": "silu",
    "swish": "silu",
    "tanh": "tanh",
}

# The largest sizes a config may give. Tables (vocabulary, positions,
# segments) and widths: 2**24 = 16,777,216 rows or units (the largest
# released vocabularies hold about 256,000 tokens); blocks, heads and groups:
# 2**12 = 4,096 (released models have at most a few hundred). Beyond them a
# value is taken for a corrupt file rather than built (and run out of memory).
MAX_SIZE = 2**24
MAX_COUNT = 2**12


def _json_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def _unique_keys(pairs):
    values = {}
    for key, value in pairs:
        if key in values:
            raise ValueError(f"key {key!r} appears twice in one object")
        values[key] = value
    return values


def read_json_object(path):
    """The JSON object (a dict) in file `path`, which must be UTF-8 text
    (a byte-order mark is allowed). Text in another encoding, invalid or
    too deeply nested JSON, NaN or Infinity, a key twice in one object, or a
    JSON value other than an object, is a `ValueError` naming the file; a
    missing file a `FileNotFoundError`.

    Example:

    ```python
    values = read_json_object("bert-base-uncased/config.json")
    values["hidden_size"]  # 768
    ```
    """
    with open(path, "rb") as file:
        data = file.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        hint = " (it looks like UTF-16)" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise ValueError(
            f"{path} is not UTF-8 text{hint}: byte {error.start} is {data[error.start]:#04x}; "
            "save it as UTF-8."
        ) from error
    if "\x00" in text:  # valid UTF-8, but never in JSON text: UTF-16 or UTF-32
        raise ValueError(
            f"{path} is not UTF-8 text (it looks like UTF-16): it holds NUL bytes; "
            "save it as UTF-8."
        )
    try:
        values = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_json_constant)
    except RecursionError as error:
        raise ValueError(f"{path} is not valid JSON: nested too deeply.") from error
    except ValueError as error:  # json.JSONDecodeError, and the hooks' errors
        raise ValueError(f"{path} is not valid JSON: {error}") from error
    if not isinstance(values, dict):
        kind = type(values).__name__
        raise ValueError(f"{path} does not hold a JSON object (it holds a {kind}).")
    return values


@dataclasses.dataclass(frozen=True)
class ConfigField:
    """What one field of a `ModelConfig` may hold; `check(key, value)`
    returns the value as a plain Python `int`, `float` or `str`, or raises
    a `ValueError` naming the key and the value.

    Build one with `size`, `count`, `rate`, `positive`, `non_negative` or
    `name`. Ints are Python or NumPy integers (not bools, and not floats such
    as 2.0); floats may be given as ints (JSON's 0 for a dropout rate).

    Example:

    ```python
    ConfigField.size().check("vocab_size", np.int64(30522))  # 30522
    ConfigField.rate().check("hidden_dropout_prob", 1.5)  # ValueError
    ```
    """

    kind: str  # "int", "float" or "name"
    low: float = None
    high: float = None
    low_included: bool = True
    high_included: bool = True
    optional: bool = False
    names: tuple = ()

    @classmethod
    def size(cls, low=1, high=MAX_SIZE, optional=False):
        """An int in `[low, high]`: a table's rows, a width (or None, if optional)."""
        return cls("int", low, high, optional=optional)

    @classmethod
    def count(cls, low=1, high=MAX_COUNT):
        """An int in `[low, high]`: blocks, heads, groups."""
        return cls("int", low, high)

    @classmethod
    def rate(cls):
        """A float in `[0, 1)`: a dropout rate."""
        return cls("float", 0.0, 1.0, high_included=False)

    @classmethod
    def positive(cls):
        """A finite float above 0: an epsilon."""
        return cls("float", 0.0, math.inf, low_included=False, high_included=False)

    @classmethod
    def non_negative(cls):
        """A finite float, 0 or above: a standard deviation."""
        return cls("float", 0.0, math.inf, high_included=False)

    @classmethod
    def name(cls, names):
        """One of the strings `names`: an activation."""
        return cls("name", names=tuple(sorted(names)))

    def check(self, key, value):
        """`value`, checked for field `key`, as a plain Python value (the
        checks of kerastack's layer arguments, `kerastack.core.check_int` and
        `check_float`, with this field's bounds)."""
        if self.kind == "name":
            if not isinstance(value, str) or value not in self.names:
                raise ValueError(f"Unknown {key} {value!r}; expected one of {list(self.names)}.")
            return value
        if self.kind == "float":
            return check_float(
                key,
                value,
                minimum=self.low,
                maximum=None if self.high == math.inf else self.high,
                exclusive_minimum=not self.low_included,
                exclusive_maximum=not self.high_included,
                allow_none=self.optional,
            )
        value = check_int(key, value, minimum=self.low, allow_none=self.optional)
        if value is not None and value > self.high:
            raise ValueError(
                f"`{key}` must be at most {self.high} (kerastack's limit), received {key}={value}."
            )
        return value


class ModelConfig:
    """What every family's config dataclass shares: field checks
    (`FIELDS`, a `ConfigField` per field, run when a config is made, so an
    invalid config never exists), cross-field checks (`validate`), and
    reading HF's `config.json` (`from_dict`, `from_json`), whose errors name
    the file and the key.

    A family's config is a frozen dataclass deriving from it, with
    `MODEL_TYPE` (HF's `model_type`; a file naming another is an error),
    `FILE_NAMES` (what `from_json` looks for in a folder), `REQUIRED` (keys a
    file must give) and `FIELDS`.

    Example:

    ```python
    @dataclasses.dataclass(frozen=True)
    class TinyConfig(ModelConfig):
        MODEL_TYPE = "tiny"
        FIELDS = {"width": ConfigField.size(), "dropout": ConfigField.rate()}
        width: int = 8
        dropout: float = 0.0

    TinyConfig.from_dict({"width": "8"})  # ValueError: `width` must be an int ...
    ```
    """

    MODEL_TYPE = None
    FILE_NAMES = ("config.json",)
    REQUIRED = ()
    FIELDS = {}

    def __post_init__(self):
        for key, field in self.FIELDS.items():
            object.__setattr__(self, key, field.check(key, getattr(self, key)))
        self.validate()

    def validate(self):
        """Raise a `ValueError` naming fields that do not fit together (each
        field alone was checked by its `ConfigField`)."""

    @classmethod
    def check_options(cls, values):
        """Raise a `ValueError` naming an option of the file (a key that is
        not a field) that this model does not implement."""

    @classmethod
    def from_dict(cls, values):
        """A config from a `config.json` dict; unknown keys (HF's
        `architectures`, ...) are ignored; a missing required key, another
        `model_type`, or a field's invalid value is a `ValueError` naming it."""
        if not isinstance(values, dict):
            raise ValueError(
                f"A {cls.MODEL_TYPE} config is a dict, received a {type(values).__name__}."
            )
        model_type = values.get("model_type", cls.MODEL_TYPE)
        if model_type != cls.MODEL_TYPE:
            raise ValueError(
                f"This is a {model_type!r} config, not a {cls.MODEL_TYPE!r} one "
                f"(read it with the {model_type} model's config class)."
            )
        missing = [key for key in cls.REQUIRED if key not in values]
        if missing:
            raise ValueError(
                f"A {cls.MODEL_TYPE} config needs {', '.join(f'`{k}`' for k in missing)}; "
                f"received keys {sorted(map(str, values))}."
            )
        cls.check_options(values)
        fields = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in fields})

    @classmethod
    def from_json(cls, path):
        """A config from a JSON file, or from the first of `FILE_NAMES` in
        the folder `path`; a `ValueError` names the file and the key."""
        if not isinstance(path, (str, os.PathLike)):
            raise ValueError(f"A config path is a str or os.PathLike, received {path!r}.")
        path = os.fspath(path)
        if os.path.isdir(path):
            names = [os.path.join(path, name) for name in cls.FILE_NAMES]
            found = [name for name in names if os.path.isfile(name)]
            if not found:
                raise FileNotFoundError(f"No {' or '.join(cls.FILE_NAMES)} in {path}.")
            path = found[0]
        elif not os.path.exists(path):
            raise FileNotFoundError(f"No config file at {path}.")
        values = read_json_object(path)
        try:
            return cls.from_dict(values)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from error


@dataclasses.dataclass(frozen=True)
class BertConfig(ModelConfig):
    """The shape of a BERT model.

    Field names are HF's (and Google's, which HF kept). Sizes are ints up to
    `MAX_SIZE` (2**24), layer and head counts up to `MAX_COUNT` (2**12),
    dropout rates in [0, 1); `hidden_size` divides into
    `num_attention_heads` heads.

    Example:

    ```python
    config = BertConfig.from_json("bert-base-uncased")  # its config.json
    backbone = BertBackbone(**config.backbone_arguments())
    ```
    """

    # The HF `model_type` this config reads (a missing one is taken as it).
    MODEL_TYPE = "bert"
    FILE_NAMES = ("config.json", "bert_config.json")
    REQUIRED = ("vocab_size",)
    FIELDS = {
        "vocab_size": ConfigField.size(),
        "hidden_size": ConfigField.size(),
        "num_hidden_layers": ConfigField.count(),
        "num_attention_heads": ConfigField.count(),
        "intermediate_size": ConfigField.size(),
        "hidden_act": ConfigField.name(_ACTIVATIONS),
        "hidden_dropout_prob": ConfigField.rate(),
        "attention_probs_dropout_prob": ConfigField.rate(),
        "max_position_embeddings": ConfigField.size(),
        "type_vocab_size": ConfigField.size(),
        "initializer_range": ConfigField.non_negative(),
        "layer_norm_eps": ConfigField.positive(),
    }

    vocab_size: int
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = _DEFAULT_EPSILON

    @classmethod
    def check_options(cls, values):
        if values.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(
                "Only absolute position embeddings are supported, received "
                f"position_embedding_type={values['position_embedding_type']!r}."
            )

    def validate(self):
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size={self.hidden_size} is not divisible by "
                f"num_attention_heads={self.num_attention_heads}."
            )

    @property
    def activation(self):
        """The Keras activation of the feed-forward networks."""
        return _ACTIVATIONS[self.hidden_act]

    def backbone_arguments(self):
        """Keyword arguments of `BertBackbone` for this config."""
        return {
            "vocabulary_size": self.vocab_size,
            "num_layers": self.num_hidden_layers,
            "num_heads": self.num_attention_heads,
            "hidden_dim": self.hidden_size,
            "intermediate_dim": self.intermediate_size,
            "dropout": self.hidden_dropout_prob,
            "max_sequence_length": self.max_position_embeddings,
            "num_segments": self.type_vocab_size,
            "activation": self.activation,
            "layer_norm_epsilon": self.layer_norm_eps,
            "initializer_range": self.initializer_range,
        }


@dataclasses.dataclass(frozen=True)
class RobertaConfig(BertConfig):
    """The shape of a RoBERTa model (HF's `config.json`, `model_type`
    "roberta"): BERT's fields, and `pad_token_id`, whose row of the position
    table padding takes (real tokens count from `pad_token_id + 1`).

    Example:

    ```python
    RobertaConfig.from_json("roberta-base").pad_token_id  # 1
    ```
    """

    MODEL_TYPE = "roberta"
    FILE_NAMES = ("config.json",)
    FIELDS = {**BertConfig.FIELDS, "pad_token_id": ConfigField.size(low=0)}

    type_vocab_size: int = 1
    max_position_embeddings: int = 514
    layer_norm_eps: float = 1e-5
    pad_token_id: int = 1

    def validate(self):
        super().validate()
        if not 0 <= self.pad_token_id < self.max_position_embeddings - 1:
            raise ValueError(
                f"pad_token_id={self.pad_token_id} leaves no row of the position table "
                f"(max_position_embeddings={self.max_position_embeddings}) for real tokens."
            )

    def backbone_arguments(self):
        arguments = super().backbone_arguments()
        arguments["padding_id"] = self.pad_token_id
        return arguments


@dataclasses.dataclass(frozen=True)
class AlbertConfig(BertConfig):
    """The shape of an ALBERT model (HF's `config.json`, `model_type`
    "albert"): BERT's fields, the embedding width `embedding_size` (projected
    to `hidden_size`), and the sharing of blocks: `num_hidden_layers` passes
    through `num_hidden_groups` groups of `inner_group_num` blocks each
    (ALBERT's releases: one group of one block, shared by all passes).

    Example:

    ```python
    AlbertConfig.from_json("albert-base-v2").embedding_size  # 128
    ```
    """

    MODEL_TYPE = "albert"
    FILE_NAMES = ("config.json",)
    FIELDS = {
        **BertConfig.FIELDS,
        "embedding_size": ConfigField.size(),
        "num_hidden_groups": ConfigField.count(),
        "inner_group_num": ConfigField.count(),
    }

    vocab_size: int = 30000
    embedding_size: int = 128
    hidden_size: int = 4096
    intermediate_size: int = 16384
    num_attention_heads: int = 64
    hidden_act: str = "gelu_new"
    hidden_dropout_prob: float = 0.0
    attention_probs_dropout_prob: float = 0.0
    num_hidden_groups: int = 1
    inner_group_num: int = 1

    def validate(self):
        super().validate()
        if self.num_hidden_layers % self.num_hidden_groups:
            raise ValueError(
                f"num_hidden_layers={self.num_hidden_layers} does not divide into "
                f"num_hidden_groups={self.num_hidden_groups} groups."
            )

    def backbone_arguments(self):
        arguments = super().backbone_arguments()
        arguments.update(
            embedding_dim=self.embedding_size,
            num_groups=self.num_hidden_groups,
            layers_per_group=self.inner_group_num,
        )
        return arguments
