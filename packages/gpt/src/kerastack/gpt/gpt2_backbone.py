"""GPT-2's decoder stack (Radford et al., 2019) as a functional Keras model,
built from kerastack layers."""

from kerastack.core import (
    CheckedInputs,
    keras,
    serializable,
)
from kerastack.gpt._decoder_backbone import _DecoderLayers, check_decoder_arguments, decoder_graph
from kerastack.gpt.convert_hf import gpt2_weight_table, ignored_tensor_names, load_gpt2_weights
from kerastack.gpt.gpt2_config import GPT2Config
from kerastack.models import (
    Pretrained,
    SavedByArguments,
)


class _Pretrained(CheckedInputs, Pretrained):
    """Reading HF configs and checkpoints, shared by `GPT2Backbone` and
    `GPT2CausalLM` (which loads into its backbone's weights), and the
    checks of their inputs (`kerastack.core.CheckedInputs`: the causal LM
    takes its backbone's rules)."""

    # HF's names: "transformer." before the decoder's tensors in
    # GPT2LMHeadModel, the position table, and the buffers left out.
    hf_prefix = "transformer."
    hf_position_table = "wpe.weight"

    @property
    def hf_ignored_prefixes(self):
        return ignored_tensor_names(self.num_layers)

    def load_checkpoint(self, folder, allow_longer_position_table=False):
        """Load the HF GPT-2 checkpoint in `folder` (see `load_gpt2_weights`:
        strict, and an `lm_head.weight` must equal `wte.weight`)."""
        return load_gpt2_weights(self, folder, allow_longer_position_table)


@serializable
class GPT2Backbone(_DecoderLayers, _Pretrained, SavedByArguments, keras.Model):
    """GPT-2's decoder (Radford et al., 2019): token and learned position
    embeddings, a stack of pre-norm causal `TransformerDecoder` blocks
    (without cross-attention) and a final layer normalization.

    A functional `keras.Model` from `{"token_ids", "padding_mask"}` to the
    last hidden states; `GPT2CausalLM` adds the tied output logits and
    generation. Token `t` sees tokens `<= t` only. Positions count from 0 at
    the first column (pad on the right here; `GPT2CausalLM.generate` takes
    left-padded prompts).

    Letters: B batch, T length, D `hidden_dim`.

    Args:
        vocabulary_size: int, tokens in the vocabulary (GPT-2: 50,257).
        num_layers: int, decoder blocks.
        num_heads: int, attention heads per block.
        hidden_dim: int, width D.
        intermediate_dim: int, feed-forward width (GPT-2: `4 * hidden_dim`).
        dropout: float, dropout on the embeddings, the attention weights and
            each residual branch.
        max_sequence_length: int, rows of the position table (GPT-2: 1,024).
        activation: feed-forward activation: `"gelu_approximate"` (GELU's
            tanh form, HF's "gelu_new", GPT-2's), `"gelu"` (exact), or any
            Keras activation name.
        layer_norm_epsilon: float.
        initializer_range: float, standard deviation of the normal
            initializers of embeddings and kernels.
        dtype: the dtype policy of every layer (`"mixed_bfloat16"`,
            `"mixed_float16"`, ...); layer norms and softmax compute in
            float32 under a mixed policy.
        **kwargs: `keras.Model` arguments (`name`, ...).

    Inputs, a dict:
        token_ids: int `(B, T)`.
        padding_mask: `(B, T)`, true (1) on real tokens. Explicit: no token
            id is taken to be padding. Padded positions are never attended
            to; their own outputs are not defined.

    Outputs:
        `(B, T, D)`, the hidden states after the final layer normalization
        (HF's `last_hidden_state`).

    Inputs are checked in eager calls and before `predict` and
    `predict_on_batch` run: a dict with exactly these keys, integer
    `token_ids` in `[0, vocabulary_size)`, a `padding_mask` of 0 and 1,
    both `(B, T)` with `1 <= T <= max_sequence_length` and `B >= 1`. A bad
    input is a ValueError naming it, and the model stays usable. Inside
    compiled functions (`fit` on TensorFlow and JAX, `generate`'s compiled
    loop) nothing is checked: see `kerastack.core.embedding_lookup`.

    Example:

    >>> backbone = GPT2Backbone(vocabulary_size=96, num_layers=2, num_heads=4,
    ...     hidden_dim=32, intermediate_dim=128, max_sequence_length=64)
    >>> ids = np.array([[5, 6, 7]], "int32")
    >>> tuple(backbone({"token_ids": ids, "padding_mask": np.ones_like(ids)}).shape)
    (1, 3, 32)

    References:
        - [Radford et al., 2019, Language Models are Unsupervised Multitask
          Learners](https://cdn.openai.com/better-language-models/language_models_are_unsupervised_multitask_learners.pdf)
        - `keras_hub.models.GPT2Backbone`, HF `transformers.GPT2Model`
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
        max_sequence_length=1024,
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
            **checked, activation=activation, dtype=dtype, normalize_first=True
        )
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)
        self._keep_arguments(locals())

    @property
    def layer_norm(self):
        """The final `LayerNormalization` (HF's `ln_f`)."""
        return self.get_layer("layer_norm")

    # -- HF configs and checkpoints ------------------------------------------------

    @classmethod
    def from_config_file(cls, path, **kwargs):
        """A randomly initialized backbone shaped by an HF GPT-2 `config.json`
        (a file, or the folder holding it); see `GPT2Config`."""
        return cls(**GPT2Config.from_json(path).backbone_arguments(), **kwargs)

    def hf_weight_table(self):
        """`[(weight, hf_name, layout)]`: see `gpt2_weight_table`."""
        return gpt2_weight_table(self)
