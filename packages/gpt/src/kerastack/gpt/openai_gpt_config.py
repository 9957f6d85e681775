"""OpenAI GPT's (GPT-1's) hyperparameters, read from Hugging Face's
`config.json` (`model_type` "openai-gpt")."""

import dataclasses

from kerastack.models import ConfigField, ModelConfig

# The activations HF's OpenAI GPT implements (its `ACT_FNS`), as Keras
# activations. Its "gelu" is GELU's tanh form (`gelu_new` in HF's
# activations, the form OpenAI's code used), not the exact erf form that
# "gelu" means in other HF configs.
_ACTIVATIONS = {
    "gelu": "gelu_approximate",
    "relu": "relu",
    "silu": "silu",
    "swish": "silu",
}

# Options of HF's OpenAIGPTConfig that change the language model, with the
# one value kerastack's OpenAIGPTBackbone implements.
_FIXED_OPTIONS = {"tie_word_embeddings": True, "add_cross_attention": False}


@dataclasses.dataclass(frozen=True)
class OpenAIGPTConfig(ModelConfig):
    """The shape of an OpenAI GPT (GPT-1) model; field names and defaults
    are HF's (`OpenAIGPTConfig`, whose defaults are OpenAI's released model:
    12 blocks of width 768, 40,478 tokens, 512 positions).

    Every field is checked when a config is made (`kerastack.models.
    ModelConfig`): sizes are ints up to 2**24, layer and head counts up to
    2**12, rates in [0, 1); a `ValueError` names the key (and the file,
    from `from_json`). The `summary_*` keys of HF's double-heads model are
    read and ignored (no task here uses them).

    Fields:
        vocab_size: int, tokens in the vocabulary (OpenAI GPT: 40,478).
        n_positions: int, rows of the position table, the longest sequence.
        n_embd: int, model width D; the feed-forward width is `4 * n_embd`.
        n_layer: int, decoder blocks.
        n_head: int, attention heads per block.
        afn: HF's name of the feed-forward activation: `"gelu"` (GELU's
            tanh form, as HF's OpenAI GPT computes it), `"relu"`, `"silu"`
            or `"swish"`.
        resid_pdrop, embd_pdrop, attn_pdrop: dropout rates, which kerastack
            takes as one (they must be equal).
        layer_norm_epsilon: float.
        initializer_range: float, standard deviation of the initializers.

    Example:

    `OpenAIGPTConfig.from_json(path)` reads HF's `config.json` (or the
    folder holding it); here the fields are given:

    >>> config = OpenAIGPTConfig(vocab_size=90, n_positions=32, n_embd=12, n_layer=2, n_head=3)
    >>> config.intermediate_dim, config.activation
    (48, 'gelu_approximate')
    >>> from kerastack.gpt import OpenAIGPTBackbone
    >>> backbone = OpenAIGPTBackbone(**config.backbone_arguments())
    >>> backbone.num_layers, backbone.max_sequence_length
    (2, 32)
    >>> OpenAIGPTConfig(n_embd=20, n_head=3)
    Traceback (most recent call last):
    ...
    ValueError: n_embd=20 is not divisible by n_head=3.
    """

    MODEL_TYPE = "openai-gpt"
    FIELDS = {
        "vocab_size": ConfigField.size(),
        "n_positions": ConfigField.size(),
        "n_embd": ConfigField.size(),
        "n_layer": ConfigField.count(),
        "n_head": ConfigField.count(),
        "afn": ConfigField.name(_ACTIVATIONS),
        "resid_pdrop": ConfigField.rate(),
        "embd_pdrop": ConfigField.rate(),
        "attn_pdrop": ConfigField.rate(),
        "layer_norm_epsilon": ConfigField.positive(),
        "initializer_range": ConfigField.non_negative(),
    }

    vocab_size: int = 40478
    n_positions: int = 512
    n_embd: int = 768
    n_layer: int = 12
    n_head: int = 12
    afn: str = "gelu"
    resid_pdrop: float = 0.1
    embd_pdrop: float = 0.1
    attn_pdrop: float = 0.1
    layer_norm_epsilon: float = 1e-5
    initializer_range: float = 0.02

    @classmethod
    def check_options(cls, values):
        """An option this model does not implement (`_FIXED_OPTIONS`) is an
        error naming each."""
        unsupported = [
            f"{key}={values[key]!r} (supported: {supported!r})"
            for key, supported in _FIXED_OPTIONS.items()
            if key in values and not (isinstance(values[key], bool) and values[key] == supported)
        ]
        if unsupported:
            raise ValueError(f"Unsupported OpenAI GPT options: {', '.join(unsupported)}.")

    def validate(self):
        """Raise a `ValueError` naming fields that do not fit together."""
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd={self.n_embd} is not divisible by n_head={self.n_head}.")
        rates = {
            "resid_pdrop": self.resid_pdrop,
            "embd_pdrop": self.embd_pdrop,
            "attn_pdrop": self.attn_pdrop,
        }
        if len(set(rates.values())) > 1:
            given = ", ".join(f"{key}={value}" for key, value in rates.items())
            raise ValueError(
                f"OpenAIGPTBackbone has one dropout rate for embeddings, attention and residual "
                f"branches, but this config gives {given}; make them equal."
            )

    @property
    def activation(self):
        """The Keras activation of the feed-forward networks."""
        return _ACTIVATIONS[self.afn]

    @property
    def intermediate_dim(self):
        """The feed-forward width, `4 * n_embd` (fixed in OpenAI GPT)."""
        return 4 * self.n_embd

    def backbone_arguments(self):
        """Keyword arguments of `OpenAIGPTBackbone` for this config."""
        return {
            "vocabulary_size": self.vocab_size,
            "num_layers": self.n_layer,
            "num_heads": self.n_head,
            "hidden_dim": self.n_embd,
            "intermediate_dim": self.intermediate_dim,
            "dropout": self.resid_pdrop,
            "max_sequence_length": self.n_positions,
            "activation": self.activation,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "initializer_range": self.initializer_range,
        }
