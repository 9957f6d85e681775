"""ALBERT's encoder: factorized embeddings and blocks shared across depth."""

from kerastack.bert.bert_backbone import (
    BertBackbone,
    EncoderBackbone,
    _initializer,
    attention_mask_of,
    check_encoder_arguments,
    embeddings_sum,
    encoder_block,
    optional_inputs,
    pooler,
)
from kerastack.bert.bert_config import AlbertConfig
from kerastack.core import keras, ops, serializable
from kerastack.models import SAME, TRANSPOSE, Embedding, block_weight_table
from kerastack.position import PositionEmbedding


@serializable
class AlbertBackbone(EncoderBackbone, keras.Model):
    """ALBERT's encoder (Lan et al., 2020) as a functional Keras model.

    BERT's layout with two savings. The embeddings are `embedding_dim` wide
    (E, much less than D) and projected to D by one dense layer. The blocks
    are shared: `num_groups` groups of `layers_per_group` blocks each, and
    the `num_layers` passes go through the groups in order, each group
    taking `num_layers / num_groups` consecutive passes, each pass running
    all of its group's blocks (ALBERT's releases: one group of one block,
    so one block's weights serve all passes).

    Letters: B batch, T length, E `embedding_dim`, D `hidden_dim`.

    Args:
        embedding_dim: int, width E of the word, position and segment tables.
        num_layers: int, passes through the shared blocks.
        num_groups: int, groups of distinct blocks; divides `num_layers`.
        layers_per_group: int, blocks in each group.
        others: as `BertBackbone` (ALBERT uses `activation="gelu_approximate"`).

    Inputs and outputs: as `BertBackbone`.

    Example:

    >>> backbone = AlbertBackbone(vocabulary_size=50, num_layers=4, num_heads=2,
    ...     hidden_dim=8, intermediate_dim=16, embedding_dim=4, num_groups=2,
    ...     max_sequence_length=12)  # 4 passes through 2 shared blocks
    >>> ids = np.array([[2, 5, 6, 3, 0]])
    >>> outputs = backbone({"token_ids": ids, "segment_ids": np.zeros_like(ids),
    ...     "padding_mask": ids != 0})
    >>> tuple(outputs["sequence_output"].shape)
    (1, 5, 8)
    """

    CONFIG_KEYS = BertBackbone.CONFIG_KEYS + (
        "embedding_dim",
        "num_groups",
        "layers_per_group",
    )

    def __init__(
        self,
        vocabulary_size,
        num_layers,
        num_heads,
        hidden_dim,
        intermediate_dim,
        embedding_dim=128,
        num_groups=1,
        layers_per_group=1,
        dropout=0.0,
        max_sequence_length=512,
        num_segments=2,
        activation="gelu_approximate",
        layer_norm_epsilon=1e-12,
        initializer_range=0.02,
        dtype=None,
        attention_mask_input=False,
        position_ids_input=False,
        **kwargs,
    ):
        checked = check_encoder_arguments(
            vocabulary_size=vocabulary_size,
            num_layers=num_layers,
            num_heads=num_heads,
            hidden_dim=hidden_dim,
            intermediate_dim=intermediate_dim,
            max_sequence_length=max_sequence_length,
            num_segments=num_segments,
            embedding_dim=embedding_dim,
            num_groups=num_groups,
            layers_per_group=layers_per_group,
            dropout=dropout,
            layer_norm_epsilon=layer_norm_epsilon,
            initializer_range=initializer_range,
            attention_mask_input=attention_mask_input,
            position_ids_input=position_ids_input,
        )
        (
            vocabulary_size,
            num_layers,
            num_heads,
            hidden_dim,
            intermediate_dim,
            max_sequence_length,
            num_segments,
            embedding_dim,
            num_groups,
            layers_per_group,
            dropout,
            layer_norm_epsilon,
            initializer_range,
            attention_mask_input,
            position_ids_input,
        ) = checked.values()
        if num_layers % num_groups:
            raise ValueError(
                f"num_layers={num_layers} does not divide into num_groups={num_groups} groups."
            )
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        segment_ids = keras.Input(shape=(None,), dtype="int32", name="segment_ids")
        padding_mask = keras.Input(shape=(None,), dtype="int32", name="padding_mask")
        extra = optional_inputs(attention_mask_input, position_ids_input)
        tokens = Embedding(
            vocabulary_size,
            embedding_dim,
            embeddings_initializer=_initializer(initializer_range),
            dtype=dtype,
            name="token_embedding",
        )(token_ids)
        positions = PositionEmbedding(
            max_sequence_length,
            initializer=_initializer(initializer_range),
            dtype=dtype,
            name="position_embedding",
        )(tokens, position_ids=extra.get("position_ids"))
        segments = Embedding(
            num_segments,
            embedding_dim,
            embeddings_initializer=_initializer(initializer_range),
            dtype=dtype,
            name="segment_embedding",
        )(segment_ids)
        x = embeddings_sum([tokens, positions, segments], dropout, layer_norm_epsilon, dtype)
        x = keras.layers.Dense(
            hidden_dim,
            kernel_initializer=_initializer(initializer_range),
            dtype=dtype,
            name="embeddings_projection",
        )(x)  # (B, T, D)
        mask = ops.cast(padding_mask, "bool")
        attention_mask = attention_mask_of(extra)
        groups = [
            [
                encoder_block(
                    f"transformer_group_{group}_{index}",
                    num_heads=num_heads,
                    intermediate_dim=intermediate_dim,
                    dropout=dropout,
                    activation=activation,
                    layer_norm_epsilon=layer_norm_epsilon,
                    initializer_range=initializer_range,
                    dtype=dtype,
                )
                for index in range(layers_per_group)
            ]
            for group in range(num_groups)
        ]
        passes_per_group = num_layers // num_groups
        for depth in range(num_layers):
            for block in groups[depth // passes_per_group]:
                x = block(x, padding_mask=mask, attention_mask=attention_mask)
        pooled = pooler(x, hidden_dim, initializer_range, dtype)
        super().__init__(
            inputs={
                "token_ids": token_ids,
                "segment_ids": segment_ids,
                "padding_mask": padding_mask,
                **extra,
            },
            outputs={"sequence_output": x, "pooled_output": pooled},
            dtype=dtype,
            **kwargs,
        )
        self._keep_arguments(locals())

    hf_prefix = "albert."
    hf_model_type = "albert"
    hf_architecture = "Albert"
    hf_ignored_prefixes = (
        "predictions.",
        "sop_classifier.",
        "classifier.",
        "qa_outputs.",
        "embeddings.position_ids",
        "embeddings.token_type_ids",
    )

    @staticmethod
    def config_class():
        """`AlbertConfig`."""
        return AlbertConfig

    def hf_weight_table(self):
        """`[(variable, hf_name, layout)]` of every weight, in HF ALBERT's names."""
        table = [
            (self.get_layer(ours).embeddings, f"embeddings.{theirs}.weight", SAME)
            for ours, theirs in (
                ("token_embedding", "word_embeddings"),
                ("position_embedding", "position_embeddings"),
                ("segment_embedding", "token_type_embeddings"),
            )
        ]
        norm = self.get_layer("embeddings_layer_norm")
        projection = self.get_layer("embeddings_projection")
        table += [
            (norm.gamma, "embeddings.LayerNorm.weight", SAME),
            (norm.beta, "embeddings.LayerNorm.bias", SAME),
            (projection.kernel, "encoder.embedding_hidden_mapping_in.weight", TRANSPOSE),
            (projection.bias, "encoder.embedding_hidden_mapping_in.bias", SAME),
        ]
        for group in range(self.num_groups):
            for index in range(self.layers_per_group):
                block = self.get_layer(f"transformer_group_{group}_{index}")
                prefix = f"encoder.albert_layer_groups.{group}.albert_layers.{index}."
                table += block_weight_table(block, self.num_heads, prefix, ALBERT_BLOCK_NAMES)
        dense = self.get_layer("pooled_dense")
        table += [(dense.kernel, "pooler.weight", TRANSPOSE), (dense.bias, "pooler.bias", SAME)]
        return table

    def last_layers_model(self, num_layers=4):
        raise NotImplementedError(
            "AlbertBackbone shares its blocks across passes; take `sequence_output`."
        )


# HF ALBERT's names of one block's sublayers (see `block_weight_table`).
ALBERT_BLOCK_NAMES = {
    "query": "attention.query",
    "key": "attention.key",
    "value": "attention.value",
    "attention_output": "attention.dense",
    "attention_norm": "attention.LayerNorm",
    "intermediate": "ffn",
    "output": "ffn_output",
    "output_norm": "full_layer_layer_norm",
}
