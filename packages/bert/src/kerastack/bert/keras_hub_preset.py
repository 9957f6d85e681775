"""keras-hub's `BertBackbone` presets into kerastack's `BertBackbone` (what
`kerastack.models.load_keras_hub_preset` calls, through the entry point
`BertBackbone` of the group `"kerastack.keras_hub"`): the constructor
arguments from keras-hub's config, and keras-hub's weight names (keys of
`kerastack.models.read_keras_weights`) for each of kerastack's weights;
and keras-hub's `BertTokenizer` into kerastack's (entry point
`BertTokenizer`, what `kerastack.models.load_keras_hub_tokenizer` calls)."""

import os

from kerastack.bert.bert_backbone import BertBackbone
from kerastack.models import SAME
from kerastack.tokenizers import BertTokenizer

__all__ = ["bert_from_keras_hub", "bert_tokenizer_from_keras_hub", "keras_hub_weight_table"]

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
# Keys of keras-hub's config that are not architecture.
_KERAS_KEYS = ("name", "trainable", "dtype")
# What keras-hub's BertBackbone fixes rather than takes.
_FIXED = {"activation": "gelu_approximate", "layer_norm_epsilon": 1e-12}

# keras-hub's TransformerEncoder sublayers, for kerastack's TransformerEncoder's.
_BLOCK_PARTS = (
    (("self_attention", "query_dense"), "_self_attention_layer/query_dense"),
    (("self_attention", "key_dense"), "_self_attention_layer/key_dense"),
    (("self_attention", "value_dense"), "_self_attention_layer/value_dense"),
    (("self_attention", "output_dense"), "_self_attention_layer/output_dense"),
    (("self_attention_layer_norm",), "_self_attention_layer_norm"),
    (("feed_forward", "intermediate_dense"), "_feedforward_intermediate_dense"),
    (("feed_forward", "output_dense"), "_feedforward_output_dense"),
    (("feed_forward_layer_norm",), "_feedforward_layer_norm"),
)


def _dtype_name(dtype):
    """A Keras dtype policy as keras-hub's config saves it: a name, or the
    serialized policy (`{"class_name": "DTypePolicy", "config": {"name": ...}}`)."""
    if isinstance(dtype, dict):
        dtype = (dtype.get("config") or {}).get("name")
    return dtype if isinstance(dtype, str) else None


def bert_from_keras_hub(config, **kwargs):
    """`(backbone, table)`: a randomly initialized `BertBackbone` shaped
    like the keras-hub `BertBackbone` whose config (`get_config()`, the
    `"config"` object of a preset's `config.json`) is `config`, and
    `keras_hub_weight_table(backbone)`. keras-hub's BERT uses tanh-approximate
    GELU and layer-norm epsilon 1e-12, which the backbone gets. `kwargs` go
    to the constructor (`dtype` overrides the preset's). A config with keys
    kerastack does not know, or lacking one, is a `ValueError` naming them.

    Example:

    >>> backbone, table = bert_from_keras_hub({"vocabulary_size": 10, "num_layers": 1,
    ...     "num_heads": 2, "hidden_dim": 8, "intermediate_dim": 16, "dropout": 0.1,
    ...     "max_sequence_length": 16, "num_segments": 2, "name": "bert_backbone"})
    >>> backbone.activation, len(table) == len(backbone.weights)
    ('gelu_approximate', True)
    """
    unknown = sorted(set(config) - set(_ARGUMENTS) - set(_KERAS_KEYS))
    missing = sorted(set(_ARGUMENTS) - set(config))
    if unknown or missing:
        raise ValueError(
            f"A keras-hub BertBackbone config kerastack cannot read: unknown keys {unknown}, "
            f"missing keys {missing}."
        )
    arguments = {key: config[key] for key in _ARGUMENTS}
    dtype = kwargs.pop("dtype", None) or _dtype_name(config.get("dtype"))
    backbone = BertBackbone(**arguments, **_FIXED, dtype=dtype, **kwargs)
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
        block = backbone.get_layer(name)
        for attributes, key in _BLOCK_PARTS:
            layer = block
            for attribute in attributes:
                layer = getattr(layer, attribute)
            first, second = (
                (layer.gamma, layer.beta) if hasattr(layer, "gamma") else (layer.kernel, layer.bias)
            )
            table.append((first, f"{name}/{key}/0", SAME))
            table.append((second, f"{name}/{key}/1", SAME))
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
