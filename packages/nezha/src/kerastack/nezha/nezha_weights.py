"""NEZHA's weight table: for each weight of a `NezhaBackbone`, the HF tensor
(transformers 4.x `NezhaModel`'s names) it comes from and how it is laid
out. The kit's readers (`kerastack.models`) use it for every checkpoint
format: HF files directly, Huawei's TensorFlow checkpoints after renaming
(`huawei_to_hf_name`)."""

from kerastack.models import SAME, TRANSPOSE, block_weight_table

__all__ = ["IGNORED_PREFIXES", "RELATIVE_POSITIONS_BUFFER", "weight_table"]

# Tensors a NEZHA checkpoint may hold beside the encoder: HF's buffers, task
# heads (a backbone leaves them), and an absolute position table, which
# NEZHA never reads (some TF checkpoints of BERT's code carry one).
IGNORED_PREFIXES = (
    "cls.predictions.",
    "cls.seq_relationship.",
    "classifier.",
    "qa_outputs.",
    "embeddings.token_type_ids",
    "embeddings.position_ids",
    "embeddings.position_embeddings.",
)
# HF's fixed relative-position table, saved in each block by old
# transformers versions (a buffer computed from the config, not a weight).
RELATIVE_POSITIONS_BUFFER = "attention.self.relative_positions_encoding.positions_encoding"

# HF NEZHA's names of one encoder block's sublayers, after "encoder.layer.N.".
_BLOCK_NAMES = {
    "query": "attention.self.query",
    "key": "attention.self.key",
    "value": "attention.self.value",
    "attention_output": "attention.output.dense",
    "attention_norm": "attention.output.LayerNorm",
    "intermediate": "intermediate.dense",
    "output": "output.dense",
    "output_norm": "output.LayerNorm",
}


def weight_table(backbone):
    """`[(variable, hf_name, layout)]` for every weight of a `NezhaBackbone`:
    `layout.to_ours(hf_array)` is the variable's value, `layout.to_hf` the
    way back. Names are without HF's task-model prefix `nezha.`.

    Example:

    >>> from kerastack.nezha import NezhaBackbone
    >>> backbone = NezhaBackbone(vocabulary_size=30, num_layers=1, num_heads=3,
    ...     hidden_dim=12, intermediate_dim=16, max_relative_position=3)
    >>> table = weight_table(backbone)
    >>> len(table) == len(backbone.weights)
    True
    >>> [name for _, name, _ in table[:2]]
    ['embeddings.word_embeddings.weight', 'embeddings.token_type_embeddings.weight']
    >>> query, name, layout = table[4]  # (D, N, H) here, HF's (out, in) there
    >>> name, tuple(query.shape), layout.to_hf(query.numpy()).shape
    ('encoder.layer.0.attention.self.query.weight', (12, 3, 4), (12, 12))
    """
    norm = backbone.get_layer("embeddings_layer_norm")
    table = [
        (
            backbone.get_layer("token_embedding").embeddings,
            "embeddings.word_embeddings.weight",
            SAME,
        ),
        (
            backbone.get_layer("segment_embedding").embeddings,
            "embeddings.token_type_embeddings.weight",
            SAME,
        ),
        (norm.gamma, "embeddings.LayerNorm.weight", SAME),
        (norm.beta, "embeddings.LayerNorm.bias", SAME),
    ]
    for index in range(backbone.num_layers):
        block = backbone.get_layer(f"transformer_layer_{index}")
        table += block_weight_table(
            block, backbone.num_heads, f"encoder.layer.{index}.", _BLOCK_NAMES
        )
    pooler = backbone.get_layer("pooled_dense")
    table += [
        (pooler.kernel, "pooler.dense.weight", TRANSPOSE),
        (pooler.bias, "pooler.dense.bias", SAME),
    ]
    return table
