"""The hyperparameters of RoFormer (HF's `config.json`, `model_type`
"roformer", or Zhuiyi's `bert_config.json`) and of RoFormer-v2 (Zhuiyi's
`bert_config.json`), checked field by field on the kit's `ModelConfig`."""

import dataclasses

import numpy as np

from kerastack.models import ConfigField, ModelConfig

__all__ = ["RoFormerConfig", "RoFormerV2Config"]

# Activations RoFormer configs name, as Keras activations (HF's "gelu" is
# the exact erf form; "gelu_new" and "gelu_pytorch_tanh" the tanh form).
_ACTIVATIONS = {
    "gelu": "gelu",
    "gelu_new": "gelu_approximate",
    "gelu_pytorch_tanh": "gelu_approximate",
    "relu": "relu",
    "silu": "silu",
    "swish": "silu",
    "tanh": "tanh",
}
# bert4keras's LayerNormalization epsilon (Keras's `epsilon()`), with which
# Zhuiyi's RoFormer and RoFormer-v2 checkpoints were trained and run.
BERT4KERAS_EPSILON = 1e-7
_FIELDS = {
    "vocab_size": ConfigField.size(),
    "embedding_size": ConfigField.size(optional=True),
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


def _check_heads(config):
    if config.hidden_size % config.num_attention_heads:
        raise ValueError(
            f"hidden_size={config.hidden_size} is not divisible by "
            f"num_attention_heads={config.num_attention_heads}."
        )
    head_size = config.hidden_size // config.num_attention_heads
    if head_size % 2:
        raise ValueError(
            f"The head size hidden_size / num_attention_heads = {head_size} is odd: the "
            "rotary position embedding rotates pairs of features."
        )


@dataclasses.dataclass(frozen=True)
class RoFormerConfig(ModelConfig):
    """The shape of a RoFormer model (Su et al., 2021), read from HF's
    `config.json` (`model_type` "roformer") or from the `bert_config.json`
    of Zhuiyi's TensorFlow releases (no `model_type`; taken as RoFormer,
    with bert4keras's norm epsilon 1e-7 unless it gives `layer_norm_eps`).

    Field names are HF's. `embedding_size` is the width of the word and
    segment tables (None: `hidden_size`; otherwise a projection maps it to
    `hidden_size`). `rotary_value` rotates the values too. The head size
    `hidden_size / num_attention_heads` must be even (rotary pairs).
    Decoders (`is_decoder`, `add_cross_attention`) and untied output
    embeddings are not supported: a config asking for them is a ValueError.

    Example:

    >>> config = RoFormerConfig.from_dict({"model_type": "roformer", "vocab_size": 50,
    ...     "embedding_size": 8, "hidden_size": 12, "num_hidden_layers": 2,
    ...     "num_attention_heads": 3, "intermediate_size": 20})
    >>> arguments = config.backbone_arguments()
    >>> arguments["embedding_dim"], arguments["hidden_dim"], arguments["rotary_value"]
    (8, 12, False)
    >>> RoFormerConfig.from_dict({"vocab_size": 50}).layer_norm_eps  # Zhuiyi's file
    1e-07
    >>> RoFormerConfig(vocab_size=50, hidden_size=12, num_attention_heads=4)
    Traceback (most recent call last):
    ...
    ValueError: The head size hidden_size / num_attention_heads = 3 is odd: ...
    """

    MODEL_TYPE = "roformer"
    FILE_NAMES = ("config.json", "bert_config.json")
    REQUIRED = ("vocab_size",)
    FIELDS = _FIELDS

    vocab_size: int
    embedding_size: int = None
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 1536
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    rotary_value: bool = False

    @classmethod
    def from_dict(cls, values):
        """As `ModelConfig.from_dict`; a file with no `model_type` and no
        `layer_norm_eps` (Zhuiyi's `bert_config.json`) takes bert4keras's
        epsilon, 1e-7, with which Zhuiyi's checkpoints run."""
        if isinstance(values, dict) and not {"model_type", "layer_norm_eps"} & set(values):
            values = dict(values, layer_norm_eps=BERT4KERAS_EPSILON)
        return super().from_dict(values)

    @classmethod
    def check_options(cls, values):
        for key, value in (("is_decoder", False), ("add_cross_attention", False)):
            if values.get(key, value) != value:
                raise ValueError(
                    f"RoFormer decoders are not supported, received {key}={values[key]!r}."
                )
        if values.get("tie_word_embeddings", True) is not True:
            raise ValueError(
                "Only tied output embeddings are supported, received "
                f"tie_word_embeddings={values['tie_word_embeddings']!r}."
            )

    def validate(self):
        if not isinstance(self.rotary_value, (bool, np.bool_)):
            raise ValueError(
                "`rotary_value` must be true or false, received "
                f"rotary_value={self.rotary_value!r}."
            )
        object.__setattr__(self, "rotary_value", bool(self.rotary_value))
        _check_heads(self)

    @property
    def activation(self):
        """The Keras activation of the feed-forward networks."""
        return _ACTIVATIONS[self.hidden_act]

    def backbone_arguments(self):
        """Keyword arguments of `RoFormerBackbone` for this config."""
        return {
            "vocabulary_size": self.vocab_size,
            "num_layers": self.num_hidden_layers,
            "num_heads": self.num_attention_heads,
            "hidden_dim": self.hidden_size,
            "intermediate_dim": self.intermediate_size,
            "embedding_dim": self.embedding_size or self.hidden_size,
            "dropout": self.hidden_dropout_prob,
            "max_sequence_length": self.max_position_embeddings,
            "num_segments": self.type_vocab_size,
            "activation": self.activation,
            "layer_norm_epsilon": self.layer_norm_eps,
            "initializer_range": self.initializer_range,
            "rotary_value": self.rotary_value,
        }


@dataclasses.dataclass(frozen=True)
class RoFormerV2Config(ModelConfig):
    """The shape of a RoFormer-v2 model, read from the `bert_config.json` of
    Zhuiyi's releases (`chinese_roformer-v2-char_*`; no HF class, no
    `model_type`: a file naming one other than "roformer_v2" is refused).

    BERT's field names; `hidden_act` defaults to "relu" and the norms'
    epsilon `layer_norm_eps` to bert4keras's 1e-7 (Keras's epsilon, which
    its parameter-free norms use), as the releases were trained with.

    Example:

    >>> config = RoFormerV2Config(vocab_size=50, hidden_size=12, num_hidden_layers=2,
    ...     num_attention_heads=3, intermediate_size=20)
    >>> arguments = config.backbone_arguments()
    >>> arguments["activation"], arguments["layer_norm_epsilon"], arguments["embedding_dim"]
    ('relu', 1e-07, 12)
    """

    MODEL_TYPE = "roformer_v2"
    FILE_NAMES = ("bert_config.json", "config.json")
    REQUIRED = ("vocab_size",)
    FIELDS = _FIELDS

    vocab_size: int
    embedding_size: int = None
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "relu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = BERT4KERAS_EPSILON

    def validate(self):
        _check_heads(self)

    @property
    def activation(self):
        """The Keras activation of the feed-forward networks."""
        return _ACTIVATIONS[self.hidden_act]

    def backbone_arguments(self):
        """Keyword arguments of `RoFormerV2Backbone` for this config."""
        return {
            "vocabulary_size": self.vocab_size,
            "num_layers": self.num_hidden_layers,
            "num_heads": self.num_attention_heads,
            "hidden_dim": self.hidden_size,
            "intermediate_dim": self.intermediate_size,
            "embedding_dim": self.embedding_size or self.hidden_size,
            "dropout": self.hidden_dropout_prob,
            "max_sequence_length": self.max_position_embeddings,
            "num_segments": self.type_vocab_size,
            "activation": self.activation,
            "layer_norm_epsilon": self.layer_norm_eps,
            "initializer_range": self.initializer_range,
        }
