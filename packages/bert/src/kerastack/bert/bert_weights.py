"""BERT's weight table: for each weight of a `BertBackbone` (and of the
RoBERTa backbone, which shares its layout), the HF tensor it comes from and
how it is laid out. The kit's readers (`kerastack.models`) use it for every
checkpoint format."""

from kerastack.models import SAME, TRANSPOSE, block_weight_table

# Tensors an HF BERT checkpoint may hold beside the encoder: buffers, and the
# heads of BertForPreTraining / BertForSequenceClassification / ... (a
# backbone takes the encoder and leaves them).
IGNORED_PREFIXES = (
    "cls.predictions.",
    "cls.seq_relationship.",
    "classifier.",
    "qa_outputs.",
    "embeddings.position_ids",
)


# HF BERT's names of one encoder block's sublayers, after "encoder.layer.N.".
BERT_BLOCK_NAMES = {
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
    """`[(variable, hf_name, layout)]` for every weight of `backbone`:
    `layout.to_ours(hf_array)` is the variable's value, `layout.to_hf` the
    way back.

    Example:

    >>> from kerastack.bert import BertBackbone
    >>> backbone = BertBackbone(vocabulary_size=30, num_layers=1, num_heads=2,
    ...     hidden_dim=8, intermediate_dim=16, max_sequence_length=16)
    >>> table = weight_table(backbone)
    >>> len(table) == len(backbone.weights)
    True
    >>> table[0][1], tuple(table[0][0].shape)
    ('embeddings.word_embeddings.weight', (30, 8))
    >>> query, name, layout = table[5]  # (D, N, H) here, HF's (out, in) there
    >>> name, tuple(query.shape), layout.to_hf(query.numpy()).shape
    ('encoder.layer.0.attention.self.query.weight', (8, 2, 4), (8, 8))
    """
    n = backbone.num_heads
    table = [
        (
            backbone.get_layer("token_embedding").embeddings,
            "embeddings.word_embeddings.weight",
            SAME,
        ),
        (
            backbone.get_layer("position_embedding").embeddings,
            "embeddings.position_embeddings.weight",
            SAME,
        ),
        (
            backbone.get_layer("segment_embedding").embeddings,
            "embeddings.token_type_embeddings.weight",
            SAME,
        ),
        (backbone.get_layer("embeddings_layer_norm").gamma, "embeddings.LayerNorm.weight", SAME),
        (backbone.get_layer("embeddings_layer_norm").beta, "embeddings.LayerNorm.bias", SAME),
    ]
    for index in range(backbone.num_layers):
        block = backbone.get_layer(f"transformer_layer_{index}")
        table += block_weight_table(block, n, f"encoder.layer.{index}.", BERT_BLOCK_NAMES)
    pooler = backbone.get_layer("pooled_dense")
    table += [
        (pooler.kernel, "pooler.dense.weight", TRANSPOSE),
        (pooler.bias, "pooler.dense.bias", SAME),
    ]
    return table
