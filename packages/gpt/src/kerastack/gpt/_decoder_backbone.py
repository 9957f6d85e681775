"""What GPT-2's and OpenAI GPT's backbones share: their arguments' checks,
the decoder graph (token and learned position embeddings, causal
`TransformerDecoder` blocks without cross-attention), the input checks and
the layers the cached decoding calls by name. The two differ only where the
norms go: GPT-2's blocks normalize first and end with a final norm, OpenAI
GPT's normalize after each branch and have none.

Letters: B batch, T length, D width."""

from kerastack.core import InputRule, check_float, check_int, check_length, keras, ops
from kerastack.layernorm import LayerNormalization
from kerastack.models import ReversibleEmbedding
from kerastack.models import activation as get_activation
from kerastack.position import PositionEmbedding
from kerastack.transformer import TransformerDecoder

__all__ = []


def _initializer(initializer_range):
    return keras.initializers.RandomNormal(stddev=initializer_range)


def check_decoder_arguments(**arguments):
    """The backbone arguments as Python ints and floats (NumPy's taken, so
    that `get_config` saves as JSON), each checked; a ValueError names the
    first bad one."""
    checked = {
        name: check_int(name, arguments[name])
        for name in (
            "vocabulary_size",
            "num_layers",
            "num_heads",
            "hidden_dim",
            "intermediate_dim",
            "max_sequence_length",
        )
    }
    if checked["hidden_dim"] % checked["num_heads"]:
        raise ValueError(
            f"`hidden_dim`={checked['hidden_dim']} is not divisible by "
            f"`num_heads`={checked['num_heads']}."
        )
    checked["dropout"] = check_float(
        "dropout", arguments["dropout"], minimum=0.0, maximum=1.0, exclusive_maximum=True
    )
    for name in ("layer_norm_epsilon", "initializer_range"):
        checked[name] = check_float(name, arguments[name], minimum=0.0, exclusive_minimum=True)
    return checked


def decoder_graph(
    *,
    vocabulary_size,
    num_layers,
    num_heads,
    hidden_dim,
    intermediate_dim,
    dropout,
    max_sequence_length,
    activation,
    layer_norm_epsilon,
    initializer_range,
    dtype,
    normalize_first,
):
    """`(inputs, outputs)` of the decoder: pre-norm blocks and a final norm
    with `normalize_first`, post-norm blocks and none without."""
    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    padding_mask = keras.Input(shape=(None,), dtype="int32", name="padding_mask")
    tokens = ReversibleEmbedding(
        vocabulary_size,
        hidden_dim,
        embeddings_initializer=_initializer(initializer_range),
        dtype=dtype,
        name="token_embedding",
    )(token_ids)  # (B, T, D)
    positions = PositionEmbedding(
        max_sequence_length,
        initializer=_initializer(initializer_range),
        dtype=dtype,
        name="position_embedding",
    )(tokens)  # (B, T, D)
    x = keras.layers.Add(dtype=dtype, name="embeddings_add")([tokens, positions])
    x = keras.layers.Dropout(dropout, dtype=dtype, name="embeddings_dropout")(x)
    mask = ops.cast(padding_mask, "bool")
    for index in range(num_layers):
        x = TransformerDecoder(
            intermediate_dim=intermediate_dim,
            num_heads=num_heads,
            dropout=dropout,
            activation=get_activation(activation),
            layer_norm_epsilon=layer_norm_epsilon,
            normalize_first=normalize_first,
            kernel_initializer=_initializer(initializer_range),
            dtype=dtype,
            name=f"transformer_layer_{index}",
        )(x, decoder_padding_mask=mask)  # (B, T, D)
    if normalize_first:
        x = LayerNormalization(epsilon=layer_norm_epsilon, dtype=dtype, name="layer_norm")(x)
    return {"token_ids": token_ids, "padding_mask": padding_mask}, x


class _DecoderLayers:
    """The input checks and the layers by name, for a backbone built by
    `decoder_graph` (the cached decoding calls them one by one)."""

    def input_rules(self):
        """`{input name: kerastack.core.InputRule}`: what each input holds."""
        return {
            "token_ids": InputRule("ids", self.vocabulary_size, "vocabulary_size"),
            "padding_mask": InputRule("mask"),
        }

    def _check_input_values(self, values):
        check_length(values, "token_ids", self.max_sequence_length, "max_sequence_length")

    @property
    def token_embedding(self):
        """The `ReversibleEmbedding` `(V, D)`, also the output projection."""
        return self.get_layer("token_embedding")

    @property
    def position_embedding(self):
        """The `PositionEmbedding` `(max_sequence_length, D)`."""
        return self.get_layer("position_embedding")

    @property
    def embeddings_dropout(self):
        return self.get_layer("embeddings_dropout")

    @property
    def transformer_layers(self):
        """The `TransformerDecoder` blocks, first to last."""
        return [self.get_layer(f"transformer_layer_{i}") for i in range(self.num_layers)]
