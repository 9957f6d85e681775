"""keras-hub's `ElectraBackbone` presets into kerastack's (what
`kerastack.models.load_keras_hub_preset` calls, through the entry point
`ElectraBackbone` of the group `"kerastack.keras_hub"`)."""

from kerastack.electra.electra_backbone import ElectraBackbone
from kerastack.models import SAME, keras_hub_block_weight_table

__all__ = ["electra_from_keras_hub", "electra_keras_hub_weight_table"]

# keras-hub's ElectraBackbone arguments, by kerastack's names.
_ARGUMENTS = {
    "vocab_size": "vocabulary_size",
    "num_layers": "num_layers",
    "num_heads": "num_heads",
    "hidden_dim": "hidden_dim",
    "embedding_dim": "embedding_dim",
    "intermediate_dim": "intermediate_dim",
    "dropout": "dropout",
    "max_sequence_length": "max_sequence_length",
    "num_segments": "num_segments",
}
# What keras-hub's ElectraBackbone fixes rather than takes (its blocks use
# GELU's tanh form, where Google's and HF's ELECTRA use the exact one).
_FIXED = {"activation": "gelu_approximate", "layer_norm_epsilon": 1e-12}
# keras-hub's pooler, which ELECTRA has not (nor kerastack's backbone).
_POOLER = ("pooled_dense/0", "pooled_dense/1")


def electra_from_keras_hub(config, **kwargs):
    """`(backbone, table, left_out)`: a randomly initialized
    `ElectraBackbone` shaped like the keras-hub `ElectraBackbone` of
    `config` (its `get_config()` less Keras's own `name`, `trainable`,
    `dtype`; its `vocab_size` is kerastack's `vocabulary_size`),
    `electra_keras_hub_weight_table(backbone)`, and the keys of keras-hub's
    pooler (`pooled_dense`), which keras-hub adds to ELECTRA and kerastack's
    backbone, as ELECTRA itself, has not: left out. keras-hub's blocks use
    tanh-approximate GELU, which the backbone gets. `kwargs` go to the
    constructor (`dtype`, ...). A config with keys kerastack does not know,
    or lacking one, is a `ValueError` naming them.

    Example:

    >>> backbone, table, left_out = electra_from_keras_hub({"vocab_size": 30,
    ...     "num_layers": 1, "num_heads": 2, "hidden_dim": 8, "embedding_dim": 4,
    ...     "intermediate_dim": 16, "dropout": 0.0, "max_sequence_length": 16,
    ...     "num_segments": 2})
    >>> backbone.embedding_dim, len(table) == len(backbone.weights), left_out
    (4, True, ('pooled_dense/0', 'pooled_dense/1'))
    """
    unknown = sorted(set(config) - set(_ARGUMENTS))
    missing = sorted(set(_ARGUMENTS) - set(config))
    if unknown or missing:
        raise ValueError(
            f"A keras-hub ElectraBackbone config kerastack cannot read: unknown keys {unknown}, "
            f"missing keys {missing}."
        )
    arguments = {ours: config[theirs] for theirs, ours in _ARGUMENTS.items()}
    backbone = ElectraBackbone(**arguments, **_FIXED, **kwargs)
    return backbone, electra_keras_hub_weight_table(backbone), _POOLER


def electra_keras_hub_weight_table(backbone):
    """`[(variable, keras_hub_key, layout)]` of every weight of an
    `ElectraBackbone`, in keras-hub's `ElectraBackbone` weight names (see
    `kerastack.models.read_keras_weights`); both lay every weight out alike.

    Example:

    >>> backbone = ElectraBackbone(vocabulary_size=30, num_layers=1, num_heads=2,
    ...     hidden_dim=8, intermediate_dim=16, embedding_dim=4, max_sequence_length=16)
    >>> [key for _, key, _ in electra_keras_hub_weight_table(backbone)][5:7]
    ['embeddings_projection/0', 'embeddings_projection/1']
    """
    table = [
        (backbone.get_layer(name).embeddings, f"{name}/0", SAME)
        for name in ("token_embedding", "position_embedding", "segment_embedding")
    ]
    norm = backbone.get_layer("embeddings_layer_norm")
    table += [(norm.gamma, "embeddings_layer_norm/0", SAME)]
    table += [(norm.beta, "embeddings_layer_norm/1", SAME)]
    if backbone.embedding_dim != backbone.hidden_dim:
        projection = backbone.get_layer("embeddings_projection")
        table += [(projection.kernel, "embeddings_projection/0", SAME)]
        table += [(projection.bias, "embeddings_projection/1", SAME)]
    for index in range(backbone.num_layers):
        name = f"transformer_layer_{index}"
        table += keras_hub_block_weight_table(backbone.get_layer(name), name)
    return table
