"""keras-hub's `BertBackbone` (and `AlbertBackbone`) presets into kerastack's (what
`kerastack.models.load_keras_hub_preset` calls, through the entry point
`BertBackbone` and `AlbertBackbone` of the group `"kerastack.keras_hub"`): the constructor
arguments from keras-hub's config, and keras-hub's weight names (keys of
`kerastack.models.read_keras_weights`) for each of kerastack's weights;
and keras-hub's `BertTokenizer` into kerastack's (entry point
`BertTokenizer`, what `kerastack.models.load_keras_hub_tokenizer` calls)."""

import os

from kerastack.bert.albert_backbone import AlbertBackbone
from kerastack.bert.bert_backbone import BertBackbone
from kerastack.models import SAME, keras_hub_block_weight_table
from kerastack.tokenizers import BertTokenizer

__all__ = [
    "albert_from_keras_hub",
    "albert_keras_hub_weight_table",
    "bert_from_keras_hub",
    "bert_tokenizer_from_keras_hub",
    "keras_hub_weight_table",
]

# keras-hub's BertBackbone arguments, which kerastack's takes by the same names.
_ARGUMENTS = (
    "vocabulary_size",
    "num_layers",
    "num_heads",
    "hidden_dim",
    "intermediate_dim",
    "dropout",
    "max_sequence_length",
    "num_segments",
)
# What keras-hub's BertBackbone fixes rather than takes.
_FIXED = {"activation": "gelu_approximate", "layer_norm_epsilon": 1e-12}


def bert_from_keras_hub(config, **kwargs):
    """`(backbone, table)`: a randomly initialized `BertBackbone` shaped
    like the keras-hub `BertBackbone` whose config (`get_config()`, the
    `"config"` object of a preset's `config.json`, less Keras's own `name`,
    `trainable` and `dtype`) is `config`, and `keras_hub_weight_table(backbone)`.
    keras-hub's BERT uses tanh-approximate GELU and layer-norm epsilon
    1e-12, which the backbone gets. `kwargs` go to the constructor
    (`dtype`, ...). A config with keys kerastack does not know, or lacking
    one, is a `ValueError` naming them.

    Example:

    >>> backbone, table = bert_from_keras_hub({"vocabulary_size": 10, "num_layers": 1,
    ...     "num_heads": 2, "hidden_dim": 8, "intermediate_dim": 16, "dropout": 0.1,
    ...     "max_sequence_length": 16, "num_segments": 2})
    >>> backbone.activation, len(table) == len(backbone.weights)
    ('gelu_approximate', True)
    """
    unknown = sorted(set(config) - set(_ARGUMENTS))
    missing = sorted(set(_ARGUMENTS) - set(config))
    if unknown or missing:
        raise ValueError(
            f"A keras-hub BertBackbone config kerastack cannot read: unknown keys {unknown}, "
            f"missing keys {missing}."
        )
    arguments = {key: config[key] for key in _ARGUMENTS}
    backbone = BertBackbone(**arguments, **_FIXED, **kwargs)
    return backbone, keras_hub_weight_table(backbone)


def keras_hub_weight_table(backbone):
    """`[(variable, keras_hub_key, layout)]` of every weight of a
    `BertBackbone`, in keras-hub's `BertBackbone` weight names (see
    `kerastack.models.read_keras_weights`); both lay every weight out alike.

    Example:

    >>> backbone = BertBackbone(vocabulary_size=10, num_layers=1, num_heads=2,
    ...     hidden_dim=8, intermediate_dim=16, max_sequence_length=16)
    >>> [key for _, key, _ in keras_hub_weight_table(backbone)][:2]
    ['token_embedding/0', 'position_embedding/0']
    """
    table = [
        (backbone.get_layer(name).embeddings, f"{name}/0", SAME)
        for name in ("token_embedding", "position_embedding", "segment_embedding")
    ]
    norm = backbone.get_layer("embeddings_layer_norm")
    table += [(norm.gamma, "embeddings_layer_norm/0", SAME)]
    table += [(norm.beta, "embeddings_layer_norm/1", SAME)]
    for index in range(backbone.num_layers):
        name = f"transformer_layer_{index}"
        table += keras_hub_block_weight_table(backbone.get_layer(name), name)
    pooled = backbone.get_layer("pooled_dense")
    table += [(pooled.kernel, "pooled_dense/0", SAME), (pooled.bias, "pooled_dense/1", SAME)]
    return table


# keras-hub's AlbertBackbone arguments, by kerastack's names.
_ALBERT_ARGUMENTS = {
    "vocabulary_size": "vocabulary_size",
    "num_layers": "num_layers",
    "num_heads": "num_heads",
    "embedding_dim": "embedding_dim",
    "hidden_dim": "hidden_dim",
    "intermediate_dim": "intermediate_dim",
    "num_groups": "num_groups",
    "num_inner_repetitions": "layers_per_group",
    "dropout": "dropout",
    "max_sequence_length": "max_sequence_length",
    "num_segments": "num_segments",
}


def albert_from_keras_hub(config, **kwargs):
    """`(backbone, table)`: a randomly initialized `AlbertBackbone` shaped
    like the keras-hub `AlbertBackbone` of `config` (its `get_config()` less
    Keras's own `name`, `trainable`, `dtype`; its `num_inner_repetitions`
    is kerastack's `layers_per_group`: both run each group's blocks in turn,
    `num_layers / num_groups` times), and
    `albert_keras_hub_weight_table(backbone)`. `kwargs` go to the
    constructor (`dtype`, ...). A config with keys kerastack does not know,
    or lacking one, is a `ValueError` naming them.

    Example:

    >>> backbone, table = albert_from_keras_hub({"vocabulary_size": 30, "num_layers": 2,
    ...     "num_heads": 2, "embedding_dim": 4, "hidden_dim": 8, "intermediate_dim": 16,
    ...     "num_groups": 1, "num_inner_repetitions": 1, "dropout": 0.0,
    ...     "max_sequence_length": 16, "num_segments": 2})
    >>> backbone.layers_per_group, len(table) == len(backbone.weights)
    (1, True)
    """
    unknown = sorted(set(config) - set(_ALBERT_ARGUMENTS))
    missing = sorted(set(_ALBERT_ARGUMENTS) - set(config))
    if unknown or missing:
        raise ValueError(
            f"A keras-hub AlbertBackbone config kerastack cannot read: unknown keys {unknown}, "
            f"missing keys {missing}."
        )
    arguments = {ours: config[theirs] for theirs, ours in _ALBERT_ARGUMENTS.items()}
    backbone = AlbertBackbone(**arguments, **_FIXED, **kwargs)
    return backbone, albert_keras_hub_weight_table(backbone)


def albert_keras_hub_weight_table(backbone):
    """`[(variable, keras_hub_key, layout)]` of every weight of an
    `AlbertBackbone`, in keras-hub's `AlbertBackbone` weight names (block
    `j` of group `g` is keras-hub's `group_{g}_inner_layer_{j}`).

    Example:

    >>> backbone = AlbertBackbone(vocabulary_size=30, num_layers=2, num_heads=2,
    ...     hidden_dim=8, intermediate_dim=16, embedding_dim=4, max_sequence_length=16)
    >>> [key for _, key, _ in albert_keras_hub_weight_table(backbone)][5:7]
    ['embedding_projection/0', 'embedding_projection/1']
    """
    table = [
        (backbone.get_layer(name).embeddings, f"{name}/0", SAME)
        for name in ("token_embedding", "position_embedding", "segment_embedding")
    ]
    norm = backbone.get_layer("embeddings_layer_norm")
    projection = backbone.get_layer("embeddings_projection")
    table += [
        (norm.gamma, "embeddings_layer_norm/0", SAME),
        (norm.beta, "embeddings_layer_norm/1", SAME),
        (projection.kernel, "embedding_projection/0", SAME),
        (projection.bias, "embedding_projection/1", SAME),
    ]
    for group in range(backbone.num_groups):
        for index in range(backbone.layers_per_group):
            block = backbone.get_layer(f"transformer_group_{group}_{index}")
            table += keras_hub_block_weight_table(block, f"group_{group}_inner_layer_{index}")
    pooled = backbone.get_layer("pooled_dense")
    table += [(pooled.kernel, "pooled_dense/0", SAME), (pooled.bias, "pooled_dense/1", SAME)]
    return table


# keras-hub's BertTokenizer settings kerastack's BertTokenizer has fixed:
# WordPiece's "##" continuation mark, "[UNK]", splitting on whitespace and
# punctuation, no special tokens of its own, and none read in the text.
_TOKENIZER_FIXED = {
    "suffix_indicator": "##",
    "oov_token": "[UNK]",
    "split": True,
    "special_tokens": None,
    "special_tokens_in_strings": False,
}


def bert_tokenizer_from_keras_hub(config, assets):
    """kerastack's `BertTokenizer` of a keras-hub `BertTokenizer` whose
    config (the `"config"` object of a preset's `tokenizer.json`) is
    `config`, its vocabulary in `assets` (the preset's
    `assets/tokenizer/` folder, `vocabulary.txt`). `lowercase` and
    `strip_accents` are taken as keras-hub saved them; a setting kerastack's
    tokenizer does not have (another continuation mark, no splitting, ...)
    is a `ValueError` naming it.

    Example:

    >>> import os, tempfile
    >>> assets = tempfile.mkdtemp()
    >>> with open(os.path.join(assets, "vocabulary.txt"), "w") as file:
    ...     _ = file.write("\\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "cat"]))
    >>> tokenizer = bert_tokenizer_from_keras_hub({"lowercase": True, "strip_accents": False,
    ...     "suffix_indicator": "##", "oov_token": "[UNK]", "split": True}, assets)
    >>> tokenizer.token_ids("Cat dog")
    [5, 1]
    """
    different = sorted(
        f"{key}={config[key]!r}"
        for key, value in _TOKENIZER_FIXED.items()
        if key in config and config[key] != value
    )
    if different:
        raise ValueError(
            "A keras-hub BertTokenizer kerastack's BertTokenizer cannot match: "
            f"{', '.join(different)} (kerastack's is {_TOKENIZER_FIXED})."
        )
    return BertTokenizer(
        os.path.join(assets, "vocabulary.txt"),
        lowercase=config.get("lowercase", False),
        strip_accents=config.get("strip_accents", False),
    )
