"""BERT's hyperparameters, read from Google's `bert_config.json` or HF's `config.json`."""

import dataclasses
import json
import os

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


def read_json_object(path):
    """The JSON object (a dict) in file `path`: invalid JSON, or a JSON value
    of another kind, is a `ValueError` naming the file."""
    with open(path, encoding="utf-8") as file:
        try:
            values = json.load(file)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not valid JSON: {error}") from error
    if not isinstance(values, dict):
        raise ValueError(f"{path} does not hold a JSON object.")
    return values


@dataclasses.dataclass(frozen=True)
class BertConfig:
    """The shape of a BERT model.

    Field names are HF's (and Google's, which HF kept).
    """

    # The HF `model_type` this config reads (a missing one is taken as it).
    MODEL_TYPE = "bert"

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
    def from_dict(cls, values):
        """A config from a `bert_config.json` / `config.json` dict; unknown keys
        (HF's `architectures`, `model_type`, ...) are ignored, missing ones
        that have no default are an error naming them."""
        fields = {field.name for field in dataclasses.fields(cls)}
        known = {key: value for key, value in values.items() if key in fields}
        if "vocab_size" not in known:
            raise ValueError(
                f"A {cls.MODEL_TYPE} config needs `vocab_size`; received keys {sorted(values)}."
            )
        model_type = values.get("model_type", cls.MODEL_TYPE)
        if model_type != cls.MODEL_TYPE:
            raise ValueError(
                f"This is a {model_type!r} config, not a {cls.MODEL_TYPE!r} one "
                f"(read it with the {model_type} model's config class)."
            )
        if values.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(
                "Only absolute position embeddings are supported, received "
                f"position_embedding_type={values['position_embedding_type']!r}."
            )
        config = cls(**known)
        config.validate()
        return config

    def validate(self):
        """Raise a `ValueError` naming a field this model cannot take."""
        config = self
        if config.hidden_act not in _ACTIVATIONS:
            raise ValueError(
                f"Unknown hidden_act {config.hidden_act!r}; expected one of {sorted(_ACTIVATIONS)}."
            )
        if config.hidden_size % config.num_attention_heads:
            raise ValueError(
                f"hidden_size={config.hidden_size} is not divisible by "
                f"num_attention_heads={config.num_attention_heads}."
            )

    @classmethod
    def from_json(cls, path):
        """A config from a JSON file, or from the `config.json` /
        `bert_config.json` inside the folder `path`."""
        if os.path.isdir(path):
            for name in ("config.json", "bert_config.json"):
                if os.path.exists(os.path.join(path, name)):
                    path = os.path.join(path, name)
                    break
            else:
                raise FileNotFoundError(f"No config.json or bert_config.json in {path}.")
        return cls.from_dict(read_json_object(path))

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
    table padding takes (real tokens count from `pad_token_id + 1`)."""

    MODEL_TYPE = "roberta"

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
    (ALBERT's releases: one group of one block, shared by all passes)."""

    MODEL_TYPE = "albert"

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
        if self.num_hidden_groups < 1 or self.num_hidden_layers % self.num_hidden_groups:
            raise ValueError(
                f"num_hidden_layers={self.num_hidden_layers} does not divide into "
                f"num_hidden_groups={self.num_hidden_groups} groups."
            )
        if self.inner_group_num < 1:
            raise ValueError(f"inner_group_num must be positive, received {self.inner_group_num}.")

    def backbone_arguments(self):
        arguments = super().backbone_arguments()
        arguments.update(
            embedding_dim=self.embedding_size,
            num_groups=self.num_hidden_groups,
            layers_per_group=self.inner_group_num,
        )
        return arguments
