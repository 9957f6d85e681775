"""T5's encoder-decoder (Raffel et al., 2020) as a functional Keras model."""

from kerastack.core import check_float, check_int, keras, ops, serializable
from kerastack.layernorm import RMSNormalization
from kerastack.models import Pretrained, ReversibleEmbedding, SavedByArguments
from kerastack.models import activation as get_activation
from kerastack.t5.convert_hf import load_t5_weights, t5_weight_table
from kerastack.t5.t5_block import T5Block
from kerastack.t5.t5_config import read_t5_config
from kerastack.t5.t5_relative_position_bias import T5RelativePositionBias

# No position table limits T5's lengths; decoding allocates its cache for
# the tokens it is asked to generate, up to this many.
MAX_DECODE_LENGTH = 2**16


class _Pretrained(Pretrained):
    """Reading HF configs and checkpoints, shared by `T5Backbone` and
    `T5Seq2SeqLM` (which loads into its backbone's weights and its head)."""

    def load_checkpoint(self, folder, allow_longer_position_table=False):
        """Load the HF T5 checkpoint in `folder` (see `load_t5_weights`)."""
        return load_t5_weights(self, folder)

    def hf_weight_table(self):
        """`[(weight, hf_name, layout)]`: see `t5_weight_table`."""
        return t5_weight_table(self)


@serializable
class T5Backbone(_Pretrained, SavedByArguments, keras.Model):
    """T5's encoder and decoder (Raffel et al., 2020): a token embedding
    shared by both stacks, pre-RMS-norm blocks (`T5Block`) without biases,
    attention logits not scaled by `1/sqrt(H)` plus a relative position
    bias (`T5RelativePositionBias`: computed once per stack and added in
    every block; bidirectional buckets in the encoder, causal ones in the
    decoder), cross-attention in every decoder block, and a final RMS norm
    after each stack. T5 (`activation="relu"`), T5.1.1 and mT5
    (`activation="gelu_approximate", gated=True`, untied output).

    A functional `keras.Model` from the four inputs below to the two
    stacks' outputs; `T5Seq2SeqLM` adds the logits and generation.

    Letters: B batch, S source length, T target length, D `hidden_dim`.

    Args:
        vocabulary_size: int.
        hidden_dim: int, D (T5's `d_model`).
        key_value_dim: int, the width of each head (`d_kv`).
        intermediate_dim: int, feed-forward width (`d_ff`).
        num_encoder_layers, num_decoder_layers: ints.
        num_heads: int.
        relative_attention_num_buckets, relative_attention_max_distance:
            ints (T5: 32 and 128).
        dropout: float.
        layer_norm_epsilon: float.
        activation: `"relu"` or `"gelu_approximate"` (or a Keras name).
        gated: bool, gated feed-forward networks.
        tie_embedding_weights: bool, whether `T5Seq2SeqLM`'s output
            projection is the token embedding (and the decoder's output is
            scaled by `hidden_dim**-0.5` first) or its own `lm_head`.
        padding_id, end_token_id, decoder_start_token_id: ints (T5: 0, 1,
            0): the defaults of generation.
        dtype: the dtype policy of every layer; RMS norms and softmax
            compute in float32.
        **kwargs: `keras.Model` arguments (`name`, ...).

    Inputs, a dict:
        encoder_token_ids: int `(B, S)`.
        encoder_padding_mask: `(B, S)`, 1 on real tokens.
        decoder_token_ids: int `(B, T)`.
        decoder_padding_mask: `(B, T)`, 1 on real tokens.

    Outputs, a dict:
        encoder_sequence_output: `(B, S, D)`.
        decoder_sequence_output: `(B, T, D)`, token t having seen decoder
            tokens `<= t`.

    Example:

    >>> backbone = T5Backbone(vocabulary_size=40, hidden_dim=20, key_value_dim=6,
    ...     intermediate_dim=24, num_encoder_layers=2, num_decoder_layers=1, num_heads=3)
    >>> ids = np.array([[5, 6, 7, 1]], "int32")
    >>> outputs = backbone({"encoder_token_ids": ids, "encoder_padding_mask": np.ones_like(ids),
    ...     "decoder_token_ids": ids[:, :2], "decoder_padding_mask": np.ones((1, 2), "int32")})
    >>> [tuple(outputs[key].shape) for key in sorted(outputs)]  # decoder's, encoder's
    [(1, 2, 20), (1, 4, 20)]

    References:
        - [Raffel et al., 2020, Exploring the Limits of Transfer Learning with
          a Unified Text-to-Text Transformer](https://arxiv.org/abs/1910.10683)
        - HF `transformers.T5Model`, `keras_hub.models.T5Backbone`
    """

    CONFIG_KEYS = (
        "vocabulary_size",
        "hidden_dim",
        "key_value_dim",
        "intermediate_dim",
        "num_encoder_layers",
        "num_decoder_layers",
        "num_heads",
        "relative_attention_num_buckets",
        "relative_attention_max_distance",
        "dropout",
        "layer_norm_epsilon",
        "activation",
        "gated",
        "tie_embedding_weights",
        "padding_id",
        "end_token_id",
        "decoder_start_token_id",
    )

    def __init__(
        self,
        vocabulary_size,
        hidden_dim,
        key_value_dim,
        intermediate_dim,
        num_encoder_layers,
        num_decoder_layers,
        num_heads,
        relative_attention_num_buckets=32,
        relative_attention_max_distance=128,
        dropout=0.1,
        layer_norm_epsilon=1e-6,
        activation="relu",
        gated=False,
        tie_embedding_weights=True,
        padding_id=0,
        end_token_id=1,
        decoder_start_token_id=0,
        dtype=None,
        **kwargs,
    ):
        vocabulary_size = check_int("vocabulary_size", vocabulary_size)
        hidden_dim = check_int("hidden_dim", hidden_dim)
        key_value_dim = check_int("key_value_dim", key_value_dim)
        intermediate_dim = check_int("intermediate_dim", intermediate_dim)
        num_encoder_layers = check_int("num_encoder_layers", num_encoder_layers, minimum=0)
        num_decoder_layers = check_int("num_decoder_layers", num_decoder_layers, minimum=0)
        num_heads = check_int("num_heads", num_heads)
        relative_attention_num_buckets = check_int(
            "relative_attention_num_buckets", relative_attention_num_buckets, minimum=2
        )
        relative_attention_max_distance = check_int(
            "relative_attention_max_distance", relative_attention_max_distance
        )
        dropout = check_float("dropout", dropout, minimum=0.0, maximum=1.0, exclusive_maximum=True)
        layer_norm_epsilon = check_float(
            "layer_norm_epsilon", layer_norm_epsilon, minimum=0.0, exclusive_minimum=True
        )
        for argument, value in (
            ("gated", gated),
            ("tie_embedding_weights", tie_embedding_weights),
        ):
            if not isinstance(value, bool):
                raise ValueError(f"`{argument}` must be True or False, received {value!r}.")
        padding_id, end_token_id, decoder_start_token_id = (
            check_int(argument, value, minimum=0)
            for argument, value in (
                ("padding_id", padding_id),
                ("end_token_id", end_token_id),
                ("decoder_start_token_id", decoder_start_token_id),
            )
        )
        for argument, value in (
            ("padding_id", padding_id),
            ("end_token_id", end_token_id),
            ("decoder_start_token_id", decoder_start_token_id),
        ):
            if value >= vocabulary_size:
                raise ValueError(
                    f"`{argument}`={value} is not in the vocabulary of {vocabulary_size} tokens."
                )
        kernel_initializer = keras.initializers.RandomNormal(stddev=hidden_dim**-0.5)
        token_embedding = ReversibleEmbedding(
            vocabulary_size,
            hidden_dim,
            embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0),
            dtype=dtype,
            name="token_embedding",
        )
        stacks = {}
        for stack, count in (("encoder", num_encoder_layers), ("decoder", num_decoder_layers)):
            is_decoder = stack == "decoder"
            stacks[stack] = {
                "embedding_dropout": keras.layers.Dropout(
                    dropout, dtype=dtype, name=f"{stack}_embedding_dropout"
                ),
                "relative_position_bias": T5RelativePositionBias(
                    num_heads,
                    num_buckets=relative_attention_num_buckets,
                    max_distance=relative_attention_max_distance,
                    bidirectional=not is_decoder,
                    embeddings_initializer=keras.initializers.RandomNormal(stddev=hidden_dim**-0.5),
                    dtype=dtype,
                    name=f"{stack}_relative_position_bias",
                ),
                "layers": [
                    T5Block(
                        num_heads,
                        key_value_dim,
                        intermediate_dim,
                        activation=get_activation(activation),
                        gated=gated,
                        dropout=dropout,
                        layer_norm_epsilon=layer_norm_epsilon,
                        is_decoder=is_decoder,
                        kernel_initializer=kernel_initializer,
                        dtype=dtype,
                        name=f"{stack}_layer_{index}",
                    )
                    for index in range(count)
                ],
                "final_layer_norm": RMSNormalization(
                    epsilon=layer_norm_epsilon, dtype=dtype, name=f"{stack}_final_layer_norm"
                ),
                "output_dropout": keras.layers.Dropout(
                    dropout, dtype=dtype, name=f"{stack}_output_dropout"
                ),
            }
        inputs = {
            name: keras.Input(shape=(None,), dtype="int32", name=name)
            for name in (
                "encoder_token_ids",
                "encoder_padding_mask",
                "decoder_token_ids",
                "decoder_padding_mask",
            )
        }
        encoder_output = _run_encoder(
            token_embedding,
            stacks["encoder"],
            inputs["encoder_token_ids"],
            inputs["encoder_padding_mask"],
        )
        decoder_output = _run_decoder(
            token_embedding,
            stacks["decoder"],
            inputs["decoder_token_ids"],
            encoder_output,
            inputs["encoder_padding_mask"],
            inputs["decoder_padding_mask"],
        )
        super().__init__(
            inputs=inputs,
            outputs={
                "encoder_sequence_output": encoder_output,
                "decoder_sequence_output": decoder_output,
            },
            dtype=dtype,
            **kwargs,
        )
        self._keep_arguments(locals())

    # -- the layers, by name (decoding calls them one by one) ---------------------

    @property
    def token_embedding(self):
        """The `ReversibleEmbedding` `(V, D)` of both stacks (HF's `shared`)."""
        return self.get_layer("token_embedding")

    def _stack(self, stack):
        count = self.num_encoder_layers if stack == "encoder" else self.num_decoder_layers
        return {
            "embedding_dropout": self.get_layer(f"{stack}_embedding_dropout"),
            "relative_position_bias": self.get_layer(f"{stack}_relative_position_bias"),
            "layers": [self.get_layer(f"{stack}_layer_{i}") for i in range(count)],
            "final_layer_norm": self.get_layer(f"{stack}_final_layer_norm"),
            "output_dropout": self.get_layer(f"{stack}_output_dropout"),
        }

    @property
    def encoder_layers(self):
        """The encoder's `T5Block`s, first to last."""
        return self._stack("encoder")["layers"]

    @property
    def decoder_layers(self):
        """The decoder's `T5Block`s, first to last."""
        return self._stack("decoder")["layers"]

    def encode(self, token_ids, padding_mask=None, training=None):
        """The encoder's output `(B, S, D)` for int `token_ids` `(B, S)`
        (`padding_mask`: True on real tokens; all real when None)."""
        return _run_encoder(
            self.token_embedding, self._stack("encoder"), token_ids, padding_mask, training
        )

    def decode(
        self,
        token_ids,
        encoder_outputs,
        encoder_padding_mask=None,
        padding_mask=None,
        cache=None,
        cache_update_index=None,
        training=None,
    ):
        """The decoder's output `(B, T, D)` for int `token_ids` `(B, T)`;
        with `cache` (see `initial_cache`) and `cache_update_index` (the
        position of the first of `token_ids`), `(output, new_cache)`."""
        return _run_decoder(
            self.token_embedding,
            self._stack("decoder"),
            token_ids,
            encoder_outputs,
            encoder_padding_mask,
            padding_mask,
            cache,
            cache_update_index,
            training,
        )

    def initial_cache(self, batch_size, max_length):
        """Empty self-attention caches of every decoder block for `max_length` positions."""
        return [block.initial_cache(batch_size, max_length) for block in self.decoder_layers]

    # -- HF configs ---------------------------------------------------------------

    @classmethod
    def from_config_file(cls, path, **kwargs):
        """A randomly initialized backbone shaped by an HF T5 or mT5
        `config.json` (a file, or the folder holding it); see `T5Config`."""
        return cls(**read_t5_config(path).backbone_arguments(), **kwargs)


def _mask(padding_mask):
    return None if padding_mask is None else ops.cast(padding_mask, "bool")


def _run_encoder(token_embedding, stack, token_ids, padding_mask, training=None):
    x = token_embedding(token_ids)  # (B, S, D)
    x = stack["embedding_dropout"](x, training=training)
    bias = stack["relative_position_bias"](x)  # (1, N, S, S)
    mask = _mask(padding_mask)
    for block in stack["layers"]:
        x = block(x, position_bias=bias, padding_mask=mask, training=training)
    x = stack["final_layer_norm"](x)
    return stack["output_dropout"](x, training=training)


def _run_decoder(
    token_embedding,
    stack,
    token_ids,
    encoder_outputs,
    encoder_padding_mask,
    padding_mask,
    cache=None,
    cache_update_index=None,
    training=None,
):
    x = token_embedding(token_ids)  # (B, T, D)
    x = stack["embedding_dropout"](x, training=training)
    if cache is None:
        bias = stack["relative_position_bias"](x)  # (1, N, T, T)
    else:
        key_length = ops.shape(cache[0][0])[1] if cache else 0
        bias = stack["relative_position_bias"](
            x, key_length=key_length, start_index=cache_update_index
        )  # (1, N, T, C)
    source_mask = _mask(encoder_padding_mask)
    mask = _mask(padding_mask)
    new_cache = []
    for index, block in enumerate(stack["layers"]):
        kwargs = {}
        if cache is not None:
            kwargs = {"cache": cache[index], "cache_update_index": cache_update_index}
        x = block(
            x,
            position_bias=bias,
            padding_mask=mask,
            encoder_outputs=encoder_outputs,
            encoder_padding_mask=source_mask,
            training=training,
            **kwargs,
        )
        if cache is not None:
            x, layer_cache = x
            new_cache.append(layer_cache)
    x = stack["final_layer_norm"](x)
    x = stack["output_dropout"](x, training=training)
    return (x, new_cache) if cache is not None else x
