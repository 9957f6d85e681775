"""The hyperparameters of NEZHA, read from Huawei's `bert_config.json` or
HF's `config.json` (`model_type` "nezha"), checked field by field (on the
kit's `ModelConfig` and `ConfigField`)."""

import dataclasses

from kerastack.models import ConfigField, ModelConfig

__all__ = ["NezhaConfig"]

# Activations NEZHA configs name, as Keras activations (HF's "gelu" is the
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
class NezhaConfig(ModelConfig):
    """The shape of a NEZHA model.

    Field names are those of HF's old `NezhaConfig` (transformers 4.x, now
    removed), which kept BERT's and Huawei's: `max_relative_position` (64
    in Huawei's releases) clips the relative distances, and
    `max_position_embeddings` only bounds the input length (NEZHA has no
    absolute position table). Huawei's `bert_config.json` may say
    `"use_relative_position": true`; a config saying false describes a
    model with absolute positions (plain BERT) and is a ValueError.
    Defaults are HF's (NEZHA-base-cn); `layer_norm_eps` is 1e-12, as
    Huawei's code (its file has no such key).

    Example:

    >>> import json, os, tempfile
    >>> folder = tempfile.TemporaryDirectory()
    >>> with open(os.path.join(folder.name, "bert_config.json"), "w") as file:
    ...     json.dump({"vocab_size": 30, "hidden_size": 12, "num_hidden_layers": 2,
    ...         "num_attention_heads": 3, "intermediate_size": 16,
    ...         "max_relative_position": 3, "use_relative_position": True}, file)
    >>> config = NezhaConfig.from_json(folder.name)
    >>> config.max_relative_position, config.layer_norm_eps
    (3, 1e-12)
    >>> config.backbone_arguments()["max_relative_position"]
    3
    >>> folder.cleanup()
    >>> NezhaConfig.from_dict({"vocab_size": 30, "use_relative_position": False})
    Traceback (most recent call last):
    ...
    ValueError: NEZHA uses relative positions; received use_relative_position=False ...
    """

    MODEL_TYPE = "nezha"
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
        "max_relative_position": ConfigField.size(),
        "type_vocab_size": ConfigField.size(),
        "initializer_range": ConfigField.non_negative(),
        "layer_norm_eps": ConfigField.positive(),
    }

    vocab_size: int = 21128
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    max_relative_position: int = 64
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12

    @classmethod
    def check_options(cls, values):
        if values.get("use_relative_position", True) is not True:
            raise ValueError(
                "NEZHA uses relative positions; received use_relative_position="
                f"{values['use_relative_position']!r} (a model with absolute positions is BERT: "
                "read it with kerastack-bert)."
            )
        if values.get("tie_word_embeddings", True) is not True:
            raise ValueError(
                "NEZHA's masked-LM decoder is its word embedding table; received "
                f"tie_word_embeddings={values['tie_word_embeddings']!r}."
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
        """Keyword arguments of `NezhaBackbone` for this config."""
        return {
            "vocabulary_size": self.vocab_size,
            "num_layers": self.num_hidden_layers,
            "num_heads": self.num_attention_heads,
            "hidden_dim": self.hidden_size,
            "intermediate_dim": self.intermediate_size,
            "dropout": self.hidden_dropout_prob,
            "max_sequence_length": self.max_position_embeddings,
            "max_relative_position": self.max_relative_position,
            "num_segments": self.type_vocab_size,
            "activation": self.activation,
            "layer_norm_epsilon": self.layer_norm_eps,
            "initializer_range": self.initializer_range,
        }
