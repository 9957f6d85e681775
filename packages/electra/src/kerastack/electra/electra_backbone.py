"""ELECTRA's encoder: BERT's post-norm blocks on embeddings of their own
width (projected to the blocks' width when it differs), and no pooler."""

import os

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
from kerastack.electra.electra_config import ElectraConfig
from kerastack.electra.electra_weights import HF_IGNORED_PREFIXES, backbone_weight_table
from kerastack.electra.google_checkpoint import load_google_checkpoint
from kerastack.layernorm import LayerNormalization
from kerastack.models import (
    Embedding,
    Pretrained,
    SavedByArguments,
    assign_hf_tensors,
    read_checkpoint_tensors,
)
from kerastack.models import activation as get_activation
from kerastack.position import PositionEmbedding
from kerastack.transformer import TransformerEncoder

_SIZES = (
    "vocabulary_size",
    "num_layers",
    "num_heads",
    "hidden_dim",
    "intermediate_dim",
    "embedding_dim",
    "max_sequence_length",
    "num_segments",
)


def _initializer(initializer_range):
    return keras.initializers.TruncatedNormal(stddev=initializer_range)


class ElectraModelBase(CheckedInputs, Pretrained):
    """What the ELECTRA backbone and its task models share: HF's names, the
    checkpoint readers (HF's `model.safetensors` / `pytorch_model.bin`, or
    Google's TF checkpoint, by what the folder holds)."""

    # HF's names (`kerastack.models.assign_hf_tensors`).
    hf_prefix = "electra."
    hf_ignored_prefixes = HF_IGNORED_PREFIXES
    hf_position_table = "embeddings.position_embeddings.weight"
    # The network of Google's checkpoints this model takes (see
    # `load_google_checkpoint`).
    google_network = "discriminator"

    def load_checkpoint(self, folder, allow_longer_position_table=False):
        """Load the checkpoint in `folder` (what `from_pretrained` reads):
        HF's `model.safetensors` (or `pytorch_model.bin`, which needs
        PyTorch), or Google's TF checkpoint (`*.ckpt.index`, see
        `kerastack.electra.load_google_checkpoint`). Loading is strict."""
        hf_files = ("model.safetensors", "pytorch_model.bin")
        if os.path.isdir(folder) and not any(
            os.path.exists(os.path.join(folder, name)) for name in hf_files
        ):
            if any(name.endswith(".index") for name in os.listdir(folder)):
                return load_google_checkpoint(self, folder, allow_longer_position_table)
        path, tensors = read_checkpoint_tensors(folder)
        return self._assign(tensors, path, allow_longer_position_table)

    def _assign(self, tensors, source, allow_longer_position_table=False):
        """Assign `{hf_name: array}` strictly (the task models' hook to
        handle tensors of their own first)."""
        return assign_hf_tensors(self, tensors, source, allow_longer_position_table)


@serializable
class ElectraBackbone(ElectraModelBase, SavedByArguments, keras.Model):
    """ELECTRA's encoder (Clark et al., 2020, "ELECTRA: Pre-training Text
    Encoders as Discriminators Rather Than Generators") as a functional
    Keras model: the body of both the discriminator and the generator.

    BERT's layout: word, position and segment embeddings summed, layer
    normalized and (when `embedding_dim != hidden_dim`) projected by one
    dense layer to the blocks' width, then post-norm transformer blocks.
    There is no pooler: task heads read the sequence.

    Letters: B batch, T length, E `embedding_dim`, D `hidden_dim`.

    Args:
        vocabulary_size: int, number of word pieces.
        num_layers: int, number of encoder blocks.
        num_heads: int, attention heads per block.
        hidden_dim: int, width D of the blocks.
        intermediate_dim: int, hidden width of each feed-forward network.
        embedding_dim: int, width E of the embedding tables; None for D.
        dropout: float, dropout on the embeddings, attention weights and
            each residual branch.
        max_sequence_length: int, rows of the position table.
        num_segments: int, rows of the segment table.
        activation: activation of the feed-forward networks (`"gelu"`,
            exact; `"gelu_approximate"`, tanh).
        layer_norm_epsilon: float.
        initializer_range: float, standard deviation of the truncated-normal
            initializers.
        dtype: the dtype policy of every layer.
        **kwargs: `keras.Model` arguments (`name`, ...).

    Sizes are ints >= 1, `dropout` in `[0, 1)`, `layer_norm_epsilon` and
    `initializer_range` finite and positive, `num_heads` divides
    `hidden_dim`: anything else is a ValueError naming the argument.

    Inputs, a dict (checked in eager calls and `predict`, as BERT's):
        token_ids: int `(B, T)`.
        segment_ids: int `(B, T)`.
        padding_mask: `(B, T)`, true (1) on real tokens.

    Outputs, a dict:
        sequence_output: `(B, T, D)`, the last block's output.

    Example:

    >>> backbone = ElectraBackbone(vocabulary_size=30, num_layers=2, num_heads=3,
    ...     hidden_dim=12, intermediate_dim=20, embedding_dim=10, max_sequence_length=16)
    >>> ids = np.array([[2, 7, 8, 3, 0]])  # [CLS] ... [SEP] [PAD]
    >>> outputs = backbone({"token_ids": ids, "segment_ids": np.zeros_like(ids),
    ...     "padding_mask": ids != 0})
    >>> tuple(outputs["sequence_output"].shape)
    (1, 5, 12)
    >>> backbone.get_layer("embeddings_projection").kernel.shape  # (E, D)
    (10, 12)
    >>> ElectraBackbone(vocabulary_size=30, num_layers=2, num_heads=5, hidden_dim=12,
    ...     intermediate_dim=20)
    Traceback (most recent call last):
    ...
    ValueError: `hidden_dim`=12 is not divisible by `num_heads`=5.
    """

    CONFIG_KEYS = (
        "vocabulary_size",
        "num_layers",
        "num_heads",
        "hidden_dim",
        "intermediate_dim",
        "embedding_dim",
        "dropout",
        "max_sequence_length",
        "num_segments",
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
        embedding_dim=None,
        dropout=0.1,
        max_sequence_length=512,
        num_segments=2,
        activation="gelu",
        layer_norm_epsilon=1e-12,
        initializer_range=0.02,
        dtype=None,
        **kwargs,
    ):
        if embedding_dim is None:
            embedding_dim = hidden_dim
        sizes = {}
        for name, value in zip(
            _SIZES,
            (
                vocabulary_size,
                num_layers,
                num_heads,
                hidden_dim,
                intermediate_dim,
                embedding_dim,
                max_sequence_length,
                num_segments,
            ),
            strict=True,
        ):
            sizes[name] = check_int(name, value, minimum=1)
        (
            vocabulary_size,
            num_layers,
            num_heads,
            hidden_dim,
            intermediate_dim,
            embedding_dim,
            max_sequence_length,
            num_segments,
        ) = sizes.values()
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
        initializer = _initializer(initializer_range)
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        segment_ids = keras.Input(shape=(None,), dtype="int32", name="segment_ids")
        padding_mask = keras.Input(shape=(None,), dtype="int32", name="padding_mask")
        tokens = Embedding(
            vocabulary_size,
            embedding_dim,
            embeddings_initializer=initializer,
            dtype=dtype,
            name="token_embedding",
        )(token_ids)  # (B, T, E)
        positions = PositionEmbedding(
            max_sequence_length, initializer=initializer, dtype=dtype, name="position_embedding"
        )(tokens)
        segments = Embedding(
            num_segments,
            embedding_dim,
            embeddings_initializer=initializer,
            dtype=dtype,
            name="segment_embedding",
        )(segment_ids)
        x = keras.layers.Add(dtype=dtype, name="embeddings_add")([tokens, positions, segments])
        x = LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=dtype, name="embeddings_layer_norm"
        )(x)
        x = keras.layers.Dropout(dropout, dtype=dtype, name="embeddings_dropout")(x)
        if embedding_dim != hidden_dim:
            x = keras.layers.Dense(
                hidden_dim,
                kernel_initializer=initializer,
                dtype=dtype,
                name="embeddings_projection",
            )(x)  # (B, T, D)
        mask = ops.cast(padding_mask, "bool")
        for index in range(num_layers):
            x = TransformerEncoder(
                intermediate_dim=intermediate_dim,
                num_heads=num_heads,
                dropout=dropout,
                activation=get_activation(activation),
                layer_norm_epsilon=layer_norm_epsilon,
                kernel_initializer=_initializer(initializer_range),
                dtype=dtype,
                name=f"transformer_layer_{index}",
            )(x, padding_mask=mask)
        super().__init__(
            inputs={
                "token_ids": token_ids,
                "segment_ids": segment_ids,
                "padding_mask": padding_mask,
            },
            outputs={"sequence_output": x},
            dtype=dtype,
            **kwargs,
        )
        self._keep_arguments(locals())

    def hf_weight_table(self):
        """`[(variable, hf_name, layout)]` of every weight, in HF ELECTRA's
        names (without the task models' `electra.` prefix)."""
        return backbone_weight_table(self)

    def input_rules(self):
        """`{input name: kerastack.core.InputRule}`: what each input holds."""
        return {
            "token_ids": InputRule("ids", self.vocabulary_size, "vocabulary_size"),
            "segment_ids": InputRule("ids", self.num_segments, "num_segments"),
            "padding_mask": InputRule("mask"),
        }

    def _check_input_values(self, values):
        check_length(values, "token_ids", self.max_sequence_length, "max_sequence_length")

    @staticmethod
    def config_class():
        """The config class this backbone reads (`ElectraConfig`)."""
        return ElectraConfig

    @classmethod
    def from_config_file(cls, path, **kwargs):
        """A randomly initialized backbone shaped by a `config.json` (a file,
        or the folder holding it)."""
        return cls(**ElectraConfig.from_json(path).backbone_arguments(), **kwargs)
