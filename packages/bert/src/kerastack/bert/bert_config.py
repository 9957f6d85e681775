"""The hyperparameters of BERT, RoBERTa and ALBERT, read from Google's
`bert_config.json` or HF's `config.json`, checked field by field (on the
kit's `ModelConfig` and `ConfigField`)."""

import dataclasses

from kerastack.models import ConfigField, ModelConfig

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
class BertConfig(ModelConfig):
    """The shape of a BERT model.

    Field names are HF's (and Google's, which HF kept). Sizes are ints up to
    `MAX_SIZE` (2**24), layer and head counts up to `MAX_COUNT` (2**12),
    dropout rates in [0, 1); `hidden_size` divides into
    `num_attention_heads` heads.

    Example:

    Read from a `config.json` (or Google's `bert_config.json`), or the
    folder holding it; missing fields take BERT-base's values:

    >>> import json, os, tempfile
    >>> folder = tempfile.TemporaryDirectory()
    >>> with open(os.path.join(folder.name, "config.json"), "w") as file:
    ...     json.dump({"vocab_size": 30, "hidden_size": 8, "num_hidden_layers": 2,
    ...         "num_attention_heads": 2, "intermediate_size": 16}, file)
    >>> config = BertConfig.from_json(folder.name)
    >>> config.hidden_size, config.max_position_embeddings, config.activation
    (8, 512, 'gelu')
    >>> from kerastack.bert import BertBackbone
    >>> backbone = BertBackbone(**config.backbone_arguments())
    >>> backbone.num_heads, backbone.intermediate_dim
    (2, 16)
    >>> folder.cleanup()
    >>> BertConfig(vocab_size=30, hidden_size=10, num_attention_heads=4)
    Traceback (most recent call last):
    ...
    ValueError: hidden_size=10 is not divisible by num_attention_heads=4.
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

    >>> config = RobertaConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1,
    ...     num_attention_heads=2, intermediate_size=16)
    >>> config.pad_token_id, config.max_position_embeddings, config.type_vocab_size
    (1, 514, 1)
    >>> arguments = config.backbone_arguments()
    >>> arguments["padding_id"], arguments["max_sequence_length"]
    (1, 514)
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

    >>> config = AlbertConfig(vocab_size=50, embedding_size=4, hidden_size=8,
    ...     num_hidden_layers=4, num_attention_heads=2, intermediate_size=16,
    ...     num_hidden_groups=2)
    >>> arguments = config.backbone_arguments()
    >>> arguments["embedding_dim"], arguments["num_groups"], arguments["layers_per_group"]
    (4, 2, 1)
    >>> arguments["activation"]  # HF's "gelu_new"
    'gelu_approximate'
    >>> AlbertConfig(num_hidden_layers=4, num_hidden_groups=3)
    Traceback (most recent call last):
    ...
    ValueError: num_hidden_layers=4 does not divide into num_hidden_groups=3 groups.
    """

    MODEL_TYPE = "albert"
    # HF's, then Google's (which brightmart's Google-format releases share).
    FILE_NAMES = ("config.json", "albert_config.json")
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


@dataclasses.dataclass(frozen=True)
class XLMRobertaConfig(RobertaConfig):
    """The shape of an XLM-RoBERTa model (HF's `config.json`, `model_type`
    "xlm-roberta"): RoBERTa's fields and defaults (its encoder is
    RoBERTa's; only the vocabulary, a SentencePiece model, differs).

    Example:

    >>> config = XLMRobertaConfig.from_dict({"model_type": "xlm-roberta",
    ...     "vocab_size": 250002, "hidden_size": 768})
    >>> config.pad_token_id, config.max_position_embeddings
    (1, 514)
    >>> XLMRobertaConfig.from_dict({"model_type": "roberta", "vocab_size": 50})
    Traceback (most recent call last):
    ...
    ValueError: This is a 'roberta' config, not a 'xlm-roberta' one ...
    """

    MODEL_TYPE = "xlm-roberta"


@dataclasses.dataclass(frozen=True)
class CamembertConfig(RobertaConfig):
    """The shape of a CamemBERT model (HF's `config.json`, `model_type`
    "camembert"): RoBERTa's fields and defaults.

    Example:

    >>> CamembertConfig.from_dict({"model_type": "camembert", "vocab_size": 32005}).vocab_size
    32005
    """

    MODEL_TYPE = "camembert"
