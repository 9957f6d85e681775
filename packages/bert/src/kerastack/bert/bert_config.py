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


@dataclasses.dataclass(frozen=True)
class BertConfig:
    """The shape of a BERT model.

    Field names are HF's (and Google's, which HF kept).
    """

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
            raise ValueError(f"A BERT config needs `vocab_size`; received keys {sorted(values)}.")
        model_type = values.get("model_type", "bert")
        if model_type != "bert":
            raise ValueError(f"This is a {model_type!r} config, not a BERT one.")
        if values.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(
                "Only absolute position embeddings are supported, received "
                f"position_embedding_type={values['position_embedding_type']!r}."
            )
        config = cls(**known)
        if config.hidden_act not in _ACTIVATIONS:
            raise ValueError(
                f"Unknown hidden_act {config.hidden_act!r}; expected one of {sorted(_ACTIVATIONS)}."
            )
        if config.hidden_size % config.num_attention_heads:
            raise ValueError(
                f"hidden_size={config.hidden_size} is not divisible by "
                f"num_attention_heads={config.num_attention_heads}."
            )
        return config

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
        with open(path, encoding="utf-8") as file:
            try:
                values = json.load(file)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path} is not valid JSON: {error}") from error
        return cls.from_dict(values)

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
