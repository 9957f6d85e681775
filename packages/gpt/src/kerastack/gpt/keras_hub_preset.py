"""keras-hub's `GPT2Backbone` and `GPT2Tokenizer` presets into kerastack's
(what `kerastack.models.load_keras_hub_preset` and `load_keras_hub_tokenizer`
call, through the entry points `GPT2Backbone` and `GPT2Tokenizer` of the
group `"kerastack.keras_hub"`)."""

import os

from kerastack.gpt.gpt2_backbone import GPT2Backbone
from kerastack.models import SAME, keras_hub_block_weight_table
from kerastack.tokenizers import GPT2Tokenizer

__all__ = ["gpt2_from_keras_hub", "gpt2_keras_hub_weight_table", "gpt2_tokenizer_from_keras_hub"]

# keras-hub's GPT2Backbone arguments, which kerastack's takes by the same names.
_ARGUMENTS = (
    "vocabulary_size",
    "num_layers",
    "num_heads",
    "hidden_dim",
    "intermediate_dim",
    "dropout",
    "max_sequence_length",
)
# What keras-hub's GPT2Backbone fixes rather than takes.
_FIXED = {"activation": "gelu_approximate", "layer_norm_epsilon": 1e-5}
_END_TOKEN = "<|endoftext|>"


def gpt2_from_keras_hub(config, **kwargs):
    """`(backbone, table)`: a randomly initialized `GPT2Backbone` shaped
    like the keras-hub `GPT2Backbone` of `config` (its `get_config()` less
    Keras's own `name`, `trainable`, `dtype`), and
    `gpt2_keras_hub_weight_table(backbone)`. keras-hub's GPT-2 uses
    tanh-approximate GELU and layer-norm epsilon 1e-5. `kwargs` go to the
    constructor (`dtype`, ...). A config with keys kerastack does not know,
    or lacking one, is a `ValueError` naming them.

    Example:

    >>> backbone, table = gpt2_from_keras_hub({"vocabulary_size": 50, "num_layers": 1,
    ...     "num_heads": 2, "hidden_dim": 8, "intermediate_dim": 16, "dropout": 0.0,
    ...     "max_sequence_length": 16})
    >>> backbone.activation, len(table) == len(backbone.weights)
    ('gelu_approximate', True)
    """
    unknown = sorted(set(config) - set(_ARGUMENTS))
    missing = sorted(set(_ARGUMENTS) - set(config))
    if unknown or missing:
        raise ValueError(
            f"A keras-hub GPT2Backbone config kerastack cannot read: unknown keys {unknown}, "
            f"missing keys {missing}."
        )
    backbone = GPT2Backbone(**{key: config[key] for key in _ARGUMENTS}, **_FIXED, **kwargs)
    return backbone, gpt2_keras_hub_weight_table(backbone)


def gpt2_keras_hub_weight_table(backbone):
    """`[(variable, keras_hub_key, layout)]` of every weight of a
    `GPT2Backbone`, in keras-hub's `GPT2Backbone` weight names (see
    `kerastack.models.read_keras_weights`); both lay every weight out alike.

    Example:

    >>> backbone = GPT2Backbone(vocabulary_size=50, num_layers=1, num_heads=2,
    ...     hidden_dim=8, intermediate_dim=16, max_sequence_length=16)
    >>> [key for _, key, _ in gpt2_keras_hub_weight_table(backbone)][-2:]
    ['layer_norm/0', 'layer_norm/1']
    """
    table = [
        (backbone.token_embedding.embeddings, "token_embedding/0", SAME),
        (backbone.position_embedding.embeddings, "position_embedding/0", SAME),
    ]
    for index, block in enumerate(backbone.transformer_layers):
        table += keras_hub_block_weight_table(block, f"transformer_layer_{index}")
    norm = backbone.layer_norm
    return table + [(norm.gamma, "layer_norm/0", SAME), (norm.beta, "layer_norm/1", SAME)]


def gpt2_tokenizer_from_keras_hub(config, assets):
    """kerastack's `GPT2Tokenizer` of a keras-hub `GPT2Tokenizer` whose
    config (the `"config"` object of a preset's `tokenizer.json`) is
    `config`, its vocabulary and merges in `assets` (the preset's
    `assets/tokenizer/`: `vocabulary.json`, `merges.txt`). Unsplittable
    tokens other than GPT-2's `<|endoftext|>` are a `ValueError` naming them.

    Example:

    >>> import json, os, tempfile
    >>> from tokenizers import pre_tokenizers
    >>> assets = tempfile.mkdtemp()
    >>> tokens = sorted(pre_tokenizers.ByteLevel.alphabet()) + ["<|endoftext|>"]
    >>> with open(os.path.join(assets, "vocabulary.json"), "w") as file:
    ...     json.dump({token: index for index, token in enumerate(tokens)}, file)
    >>> with open(os.path.join(assets, "merges.txt"), "w") as file:
    ...     _ = file.write("")
    >>> tokenizer = gpt2_tokenizer_from_keras_hub({"add_prefix_space": False}, assets)
    >>> len(tokenizer.token_ids("hi<|endoftext|>"))
    3
    """
    unsplittable = config.get("unsplittable_tokens") or [_END_TOKEN]
    if list(unsplittable) != [_END_TOKEN]:
        raise ValueError(
            f"A keras-hub GPT2Tokenizer with unsplittable_tokens={unsplittable!r}: kerastack's "
            f"GPT2Tokenizer has one special token, {_END_TOKEN!r}."
        )
    return GPT2Tokenizer(
        os.path.join(assets, "vocabulary.json"),
        os.path.join(assets, "merges.txt"),
        add_prefix_space=bool(config.get("add_prefix_space", False)),
    )
