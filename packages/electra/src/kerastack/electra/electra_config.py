"""The hyperparameters of ELECTRA, read from HF's `config.json` (`model_type`
"electra") and checked field by field (on the kit's `ModelConfig`)."""

import dataclasses

import numpy as np

from kerastack.models import ConfigField, ModelConfig

# Activations ELECTRA configs name, as Keras activations (HF's "gelu" is the
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
class ElectraConfig(ModelConfig):
    """The shape of an ELECTRA model (discriminator or generator).

    Field names are HF's. Sizes are ints up to `MAX_SIZE` (2**24), layer and
    head counts up to `MAX_COUNT` (2**12), dropout rates in [0, 1);
    `hidden_size` divides into `num_attention_heads` heads. The word,
    position and segment tables are `embedding_size` wide, projected to
    `hidden_size` when the two differ. `tie_word_embeddings` (a bool) says
    whether the generator's output layer is the word table.
    `classifier_dropout` (None: `hidden_dropout_prob`) is the classifier
    head's dropout. Missing fields take HF's defaults (ELECTRA-small's
    discriminator shape).

    Example:

    >>> config = ElectraConfig.from_dict({"model_type": "electra", "vocab_size": 30,
    ...     "embedding_size": 10, "hidden_size": 12, "num_hidden_layers": 2,
    ...     "num_attention_heads": 3, "intermediate_size": 20})
    >>> config.embedding_size, config.hidden_size, config.activation
    (10, 12, 'gelu')
    >>> from kerastack.electra import ElectraBackbone
    >>> backbone = ElectraBackbone(**config.backbone_arguments())
    >>> backbone.embedding_dim, backbone.num_heads
    (10, 3)
    >>> ElectraConfig(vocab_size=30, hidden_size=10, num_attention_heads=4)
    Traceback (most recent call last):
    ...
    ValueError: hidden_size=10 is not divisible by num_attention_heads=4.
    >>> ElectraConfig.from_dict({"model_type": "bert", "vocab_size": 30})
    Traceback (most recent call last):
    ...
    ValueError: This is a 'bert' config, not a 'electra' one (read it with the bert ...
    """

    MODEL_TYPE = "electra"
    FILE_NAMES = ("config.json",)
    FIELDS = {
        "vocab_size": ConfigField.size(),
        "embedding_size": ConfigField.size(),
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
        "pad_token_id": ConfigField.size(low=0, optional=True),
        "classifier_dropout": ConfigField("float", 0.0, 1.0, high_included=False, optional=True),
    }

    vocab_size: int = 30522
    embedding_size: int = 128
    hidden_size: int = 256
    num_hidden_layers: int = 12
    num_attention_heads: int = 4
    intermediate_size: int = 1024
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    classifier_dropout: float = None
    tie_word_embeddings: bool = True

    @classmethod
    def check_options(cls, values):
        if values.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(
                "Only absolute position embeddings are supported, received "
                f"position_embedding_type={values['position_embedding_type']!r}."
            )
        for flag in ("is_decoder", "add_cross_attention"):
            if values.get(flag, False):
                raise ValueError(
                    f"Only ELECTRA encoders are supported, received {flag}={values[flag]!r}."
                )

    def validate(self):
        if not isinstance(self.tie_word_embeddings, (bool, np.bool_)):
            raise ValueError(
                "`tie_word_embeddings` must be true or false, received "
                f"tie_word_embeddings={self.tie_word_embeddings!r}."
            )
        object.__setattr__(self, "tie_word_embeddings", bool(self.tie_word_embeddings))
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size={self.hidden_size} is not divisible by "
                f"num_attention_heads={self.num_attention_heads}."
            )

    @property
    def activation(self):
        """The Keras activation of the feed-forward networks and of the
        discriminator's head."""
        return _ACTIVATIONS[self.hidden_act]

    def backbone_arguments(self):
        """Keyword arguments of `ElectraBackbone` for this config."""
        return {
            "vocabulary_size": self.vocab_size,
            "num_layers": self.num_hidden_layers,
            "num_heads": self.num_attention_heads,
            "hidden_dim": self.hidden_size,
            "intermediate_dim": self.intermediate_size,
            "embedding_dim": self.embedding_size,
            "dropout": self.hidden_dropout_prob,
            "max_sequence_length": self.max_position_embeddings,
            "num_segments": self.type_vocab_size,
            "activation": self.activation,
            "layer_norm_epsilon": self.layer_norm_eps,
            "initializer_range": self.initializer_range,
        }


def hf_activation(activation):
    """HF's name of a Keras activation of `ElectraConfig.activation`."""
    return {"gelu_approximate": "gelu_new"}.get(activation, activation)
