"""GPT-2's hyperparameters, read from Hugging Face's `config.json`."""

import dataclasses

from kerastack.models import ConfigField, ModelConfig

# Activations GPT-2 configs name, as Keras activations: HF's "gelu_new" (the
# GPT-2 default) and "gelu_pytorch_tanh" are the tanh approximation, "gelu"
# the exact erf form.
_ACTIVATIONS = {
    "gelu_new": "gelu_approximate",
    "gelu_pytorch_tanh": "gelu_approximate",
    "gelu": "gelu",
    "relu": "relu",
    "silu": "silu",
    "swish": "silu",
    "tanh": "tanh",
}

# Options of HF's GPT2Config that change the model, with the one value
# kerastack's GPT2Backbone implements.
_FIXED_OPTIONS = {
    "scale_attn_weights": True,
    "scale_attn_by_inverse_layer_idx": False,
    "reorder_and_upcast_attn": False,
    "add_cross_attention": False,
    "tie_word_embeddings": True,
}


@dataclasses.dataclass(frozen=True)
class GPT2Config(ModelConfig):
    """The shape of a GPT-2 model; field names and defaults are HF's
    (`GPT2Config`, whose defaults are the 124M-parameter "gpt2").

    Every field is checked when a config is made (kerastack-bert's
    `ModelConfig`): sizes are ints up to 2**24, layer and head counts up to
    2**12, rates in [0, 1); a `ValueError` names the key (and the file, from
    `from_json`).

    Fields:
        vocab_size: int, tokens in the vocabulary (GPT-2: 50,257).
        n_positions: int, rows of the position table, the longest sequence.
        n_embd: int, model width D.
        n_layer: int, decoder blocks.
        n_head: int, attention heads per block.
        n_inner: int or None, feed-forward width; `4 * n_embd` when None.
        activation_function: HF's name of the feed-forward activation.
        resid_pdrop, embd_pdrop, attn_pdrop: dropout rates, which kerastack
            takes as one (they must be equal).
        layer_norm_epsilon: float.
        initializer_range: float, standard deviation of the initializers.
        bos_token_id, eos_token_id: ints or None, GPT-2's `<|endoftext|>`
            (50,256) for both; for information (`generate` takes
            `end_token_id` explicitly).

    Example:

    `GPT2Config.from_json(path)` reads HF's `config.json` (or the folder
    holding it); here the fields are given:

    >>> config = GPT2Config(vocab_size=96, n_positions=64, n_embd=32, n_layer=2, n_head=4)
    >>> config.intermediate_dim, config.activation
    (128, 'gelu_approximate')
    >>> from kerastack.gpt import GPT2Backbone
    >>> backbone = GPT2Backbone(**config.backbone_arguments())
    >>> backbone.num_layers, backbone.max_sequence_length
    (2, 64)
    >>> GPT2Config(n_embd=30, n_head=4)
    Traceback (most recent call last):
    ...
    ValueError: n_embd=30 is not divisible by n_head=4.
    """

    MODEL_TYPE = "gpt2"
    FIELDS = {
        "vocab_size": ConfigField.size(),
        "n_positions": ConfigField.size(),
        "n_embd": ConfigField.size(),
        "n_layer": ConfigField.count(),
        "n_head": ConfigField.count(),
        "n_inner": ConfigField.size(optional=True),
        "activation_function": ConfigField.name(_ACTIVATIONS),
        "resid_pdrop": ConfigField.rate(),
        "embd_pdrop": ConfigField.rate(),
        "attn_pdrop": ConfigField.rate(),
        "layer_norm_epsilon": ConfigField.positive(),
        "initializer_range": ConfigField.non_negative(),
        "bos_token_id": ConfigField.size(low=0, optional=True),
        "eos_token_id": ConfigField.size(low=0, optional=True),
    }

    vocab_size: int = 50257
    n_positions: int = 1024
    n_embd: int = 768
    n_layer: int = 12
    n_head: int = 12
    n_inner: int | None = None
    activation_function: str = "gelu_new"
    resid_pdrop: float = 0.1
    embd_pdrop: float = 0.1
    attn_pdrop: float = 0.1
    layer_norm_epsilon: float = 1e-5
    initializer_range: float = 0.02
    bos_token_id: int | None = 50256
    eos_token_id: int | None = 50256

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
            raise ValueError(f"Unsupported GPT-2 options: {', '.join(unsupported)}.")

    def validate(self):
        """Raise a `ValueError` naming fields that do not fit together."""
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd={self.n_embd} is not divisible by n_head={self.n_head}.")
        rates = {"resid_pdrop": self.resid_pdrop, "embd_pdrop": self.embd_pdrop}
        rates["attn_pdrop"] = self.attn_pdrop
        if len(set(rates.values())) > 1:
            given = ", ".join(f"{key}={value}" for key, value in rates.items())
            raise ValueError(
                f"GPT2Backbone has one dropout rate for embeddings, attention and residual "
                f"branches, but this config gives {given}; make them equal."
            )

    @property
    def activation(self):
        """The Keras activation of the feed-forward networks."""
        return _ACTIVATIONS[self.activation_function]

    @property
    def intermediate_dim(self):
        """The feed-forward width: `n_inner`, or `4 * n_embd`."""
        return self.n_inner if self.n_inner is not None else 4 * self.n_embd

    def backbone_arguments(self):
        """Keyword arguments of `GPT2Backbone` for this config."""
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
