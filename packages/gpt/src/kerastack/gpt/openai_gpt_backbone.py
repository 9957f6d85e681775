"""OpenAI GPT's (GPT-1's) decoder stack (Radford et al., 2018) as a
functional Keras model, built from kerastack layers."""

from kerastack.core import (
    CheckedInputs,
    keras,
    serializable,
)
from kerastack.gpt._decoder_backbone import _DecoderLayers, check_decoder_arguments, decoder_graph
from kerastack.gpt.openai_gpt_config import OpenAIGPTConfig
from kerastack.gpt.openai_gpt_weights import (
    ignored_openai_gpt_tensors,
    load_openai_gpt_weights,
    openai_gpt_weight_table,
)
from kerastack.models import Pretrained, SavedByArguments


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
class OpenAIGPTBackbone(_DecoderLayers, _Pretrained, SavedByArguments, keras.Model):
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
        checked = check_decoder_arguments(
            vocabulary_size=vocabulary_size,
            num_layers=num_layers,
            num_heads=num_heads,
            hidden_dim=hidden_dim,
            intermediate_dim=intermediate_dim,
            max_sequence_length=max_sequence_length,
            dropout=dropout,
            layer_norm_epsilon=layer_norm_epsilon,
            initializer_range=initializer_range,
        )
        (
            vocabulary_size,
            num_layers,
            num_heads,
            hidden_dim,
            intermediate_dim,
            max_sequence_length,
            dropout,
            layer_norm_epsilon,
            initializer_range,
        ) = checked.values()
        inputs, outputs = decoder_graph(
            **checked, activation=activation, dtype=dtype, normalize_first=False
        )
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)
        self._keep_arguments(locals())

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
