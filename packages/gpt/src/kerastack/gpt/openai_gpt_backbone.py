"""OpenAI GPT's (GPT-1's) decoder stack (Radford et al., 2018) as a
functional Keras model, built from kerastack layers."""

from kerastack.core import (
    CheckedInputs,
    InputRule,
    check_float,
    check_int,
    check_length,
    keras,
    ops,
    serializable,
)
from kerastack.gpt.openai_gpt_config import OpenAIGPTConfig
from kerastack.gpt.openai_gpt_weights import (
    ignored_openai_gpt_tensors,
    load_openai_gpt_weights,
    openai_gpt_weight_table,
)
from kerastack.models import Pretrained, ReversibleEmbedding, SavedByArguments
from kerastack.models import activation as get_activation
from kerastack.position import PositionEmbedding
from kerastack.transformer import TransformerDecoder


def _initializer(initializer_range):
    return keras.initializers.RandomNormal(stddev=initializer_range)


class _Pretrained(CheckedInputs, Pretrained):
    """Reading HF configs and checkpoints, shared by `OpenAIGPTBackbone` and
    `OpenAIGPTCausalLM` (which loads into its backbone's weights), and the
    checks of their inputs (`kerastack.core.CheckedInputs`)."""

    # HF's names: "transformer." before the decoder's tensors in
    # OpenAIGPTLMHeadModel, the position table, and the buffers left out.
    hf_prefix = "transformer."
    hf_position_table = "positions_embed.weight"

    @property
    def hf_ignored_prefixes(self):
        return ignored_openai_gpt_tensors(self.num_layers)

    def load_checkpoint(self, folder, allow_longer_position_table=False):
        """Load the HF OpenAI GPT checkpoint in `folder` (see
        `load_openai_gpt_weights`: strict, and an `lm_head.weight` must
        equal `tokens_embed.weight`)."""
        return load_openai_gpt_weights(self, folder, allow_longer_position_table)


@serializable
class OpenAIGPTBackbone(_Pretrained, SavedByArguments, keras.Model):
    """OpenAI GPT's decoder (GPT-1, Radford et al., 2018): token and learned
    position embeddings, then a stack of post-norm causal
    `TransformerDecoder` blocks (without cross-attention), and no final
    layer normalization.

    Each block is `x = LN(x + attention(x)); x = LN(x + mlp(x))` (GPT-2
    moved the norms before each branch and added a final one). A functional
    `keras.Model` from `{"token_ids", "padding_mask"}` to the last hidden
    states; `OpenAIGPTCausalLM` adds the tied output logits and generation.
    Token `t` sees tokens `<= t` only. Positions count from 0 at the first
    column (pad on the right here; `OpenAIGPTCausalLM.generate` takes
    left-padded prompts).

    Letters: B batch, T length, D `hidden_dim`.

    Args:
        vocabulary_size: int, tokens in the vocabulary (OpenAI GPT: 40,478).
        num_layers: int, decoder blocks.
        num_heads: int, attention heads per block.
        hidden_dim: int, width D.
        intermediate_dim: int, feed-forward width (OpenAI GPT, and every
            checkpoint HF reads: `4 * hidden_dim`).
        dropout: float, dropout on the embeddings, the attention weights and
            each residual branch.
        max_sequence_length: int, rows of the position table (OpenAI GPT:
            512).
        activation: feed-forward activation: `"gelu_approximate"` (GELU's
            tanh form, OpenAI GPT's, HF's `afn="gelu"`), or any Keras
            activation name.
        layer_norm_epsilon: float.
        initializer_range: float, standard deviation of the normal
            initializers of embeddings and kernels.
        dtype: the dtype policy of every layer (`"mixed_bfloat16"`, ...);
            layer norms and softmax compute in float32 under a mixed policy.
        **kwargs: `keras.Model` arguments (`name`, ...).

    Inputs, a dict:
        token_ids: int `(B, T)`.
        padding_mask: `(B, T)`, true (1) on real tokens. Explicit: no token
            id is taken to be padding. Padded positions are never attended
            to; their own outputs are not defined.

    Outputs:
        `(B, T, D)`, the hidden states of the last block (HF's
        `last_hidden_state`).

    Inputs are checked in eager calls and before `predict` runs, as
    `GPT2Backbone`'s are: a bad input is a ValueError naming it.

    Example:

    >>> backbone = OpenAIGPTBackbone(vocabulary_size=90, num_layers=2, num_heads=3,
    ...     hidden_dim=12, intermediate_dim=48, max_sequence_length=32)
    >>> ids = np.array([[5, 6, 7]], "int32")
    >>> tuple(backbone({"token_ids": ids, "padding_mask": np.ones_like(ids)}).shape)
    (1, 3, 12)

    References:
        - [Radford et al., 2018, Improving Language Understanding by
          Generative Pre-Training](https://cdn.openai.com/research-covers/language-unsupervised/language_understanding_paper.pdf)
        - HF `transformers.OpenAIGPTModel`
    """

    CONFIG_KEYS = (
        "vocabulary_size",
        "num_layers",
        "num_heads",
        "hidden_dim",
        "intermediate_dim",
        "dropout",
        "max_sequence_length",
        "activation",
        "layer_norm_epsilon",
        "initializer_range",
    )

    def __init__(
        self,
        vocabulary_size,
        num_layers,
        num_heads,
        hidden_dim,
        intermediate_dim,
        dropout=0.1,
        max_sequence_length=512,
        activation="gelu_approximate",
        layer_norm_epsilon=1e-5,
        initializer_range=0.02,
        dtype=None,
        **kwargs,
    ):
        # Python ints and floats (NumPy's taken), so that get_config saves as JSON.
        vocabulary_size = check_int("vocabulary_size", vocabulary_size)
        num_layers = check_int("num_layers", num_layers)
        num_heads = check_int("num_heads", num_heads)
        hidden_dim = check_int("hidden_dim", hidden_dim)
        intermediate_dim = check_int("intermediate_dim", intermediate_dim)
        max_sequence_length = check_int("max_sequence_length", max_sequence_length)
        if hidden_dim % num_heads:
            raise ValueError(
                f"`hidden_dim`={hidden_dim} is not divisible by `num_heads`={num_heads}."
            )
        dropout = check_float("dropout", dropout, minimum=0.0, maximum=1.0, exclusive_maximum=True)
        layer_norm_epsilon = check_float(
            "layer_norm_epsilon", layer_norm_epsilon, minimum=0.0, exclusive_minimum=True
        )
        initializer_range = check_float(
            "initializer_range", initializer_range, minimum=0.0, exclusive_minimum=True
        )
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
                normalize_first=False,
                kernel_initializer=_initializer(initializer_range),
                dtype=dtype,
                name=f"transformer_layer_{index}",
            )(x, decoder_padding_mask=mask)  # (B, T, D)
        super().__init__(
            inputs={"token_ids": token_ids, "padding_mask": padding_mask},
            outputs=x,
            dtype=dtype,
            **kwargs,
        )
        self._keep_arguments(locals())

    def input_rules(self):
        """`{input name: kerastack.core.InputRule}`: what each input holds."""
        return {
            "token_ids": InputRule("ids", self.vocabulary_size, "vocabulary_size"),
            "padding_mask": InputRule("mask"),
        }

    def _check_input_values(self, values):
        check_length(values, "token_ids", self.max_sequence_length, "max_sequence_length")

    # -- the layers, by name (the cached decoding calls them one by one) ---------

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
        """The post-norm `TransformerDecoder` blocks, first to last."""
        return [self.get_layer(f"transformer_layer_{i}") for i in range(self.num_layers)]

    # -- HF configs and checkpoints ------------------------------------------------

    @classmethod
    def from_config_file(cls, path, **kwargs):
        """A randomly initialized backbone shaped by an HF OpenAI GPT
        `config.json` (a file, or the folder holding it); see
        `OpenAIGPTConfig`."""
        return cls(**OpenAIGPTConfig.from_json(path).backbone_arguments(), **kwargs)

    def hf_weight_table(self):
        """`[(weight, hf_name, layout)]`: see `openai_gpt_weight_table`."""
        return openai_gpt_weight_table(self)
