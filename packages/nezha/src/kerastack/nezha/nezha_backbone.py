"""The NEZHA encoder: token and segment embeddings (no absolute positions),
a stack of post-norm encoder blocks with functional relative positions, and
BERT's pooler."""

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
from kerastack.layernorm import LayerNormalization
from kerastack.models import (
    Embedding,
    Pretrained,
    SavedByArguments,
    assign_hf_tensors,
    read_checkpoint_tensors,
)
from kerastack.nezha._encoder_block import NezhaEncoderBlock
from kerastack.nezha.convert_huawei import load_huawei_checkpoint
from kerastack.nezha.nezha_config import NezhaConfig
from kerastack.nezha.nezha_weights import IGNORED_PREFIXES, RELATIVE_POSITIONS_BUFFER, weight_table

__all__ = ["NezhaBackbone", "load_checkpoint"]

_HF_FILES = ("model.safetensors", "pytorch_model.bin")


def _initializer(initializer_range):
    return keras.initializers.TruncatedNormal(stddev=initializer_range)


class _NezhaModel(CheckedInputs, Pretrained):
    """What the backbone and the task models share: HF's names, and loading
    HF or Huawei checkpoints."""

    hf_prefix = "nezha."
    hf_ignored_prefixes = IGNORED_PREFIXES
    hf_position_table = None  # no position table to slice

    def load_checkpoint(self, folder, allow_longer_position_table=False):
        """Load the checkpoint in `folder` (what `from_pretrained` reads):
        HF's `model.safetensors` (or `pytorch_model.bin`, which needs
        PyTorch), or Huawei's TensorFlow checkpoint (`*.ckpt.index`).
        Loading is strict (see `kerastack.models.assign_hf_tensors`);
        `allow_longer_position_table` is accepted for the common signature
        and has nothing to slice."""
        return load_checkpoint(self, folder)


@serializable
class NezhaBackbone(_NezhaModel, SavedByArguments, keras.Model):
    """NEZHA's encoder (Wei et al., 2019, "NEZHA: Neural Contextualized
    Representation for Chinese Language Understanding") as a functional
    Keras model.

    BERT's post-norm encoder without an absolute position embedding: each
    block's self-attention adds a fixed sinusoidal encoding of the clipped
    relative distance `clip(j - i, -R, R)` (query i, key j, R
    `max_relative_position`) to the keys in the scores and to the values in
    the outputs. Row `r` of that table, for distance `r - R`, holds
    `sin(r / 10000 ** (2c / H))` in column `2c` and the cosine in column
    `2c + 1` (H the head size), as in Huawei's code.

    Letters: B batch, T length, D `hidden_dim`.

    Args:
        vocabulary_size: int, number of word pieces.
        num_layers: int, number of encoder blocks.
        num_heads: int, attention heads per block (dividing `hidden_dim`).
        hidden_dim: int, width D.
        intermediate_dim: int, hidden width of each feed-forward network.
        dropout: float, dropout on the embeddings, attention weights and each
            residual branch.
        max_sequence_length: int, the longest input accepted (HF's
            `max_position_embeddings`; there is no position table).
        max_relative_position: int, R (64 in Huawei's releases).
        num_segments: int, rows of the segment table.
        activation: of the feed-forward networks (`"gelu"`, exact;
            `"gelu_approximate"`, tanh).
        layer_norm_epsilon: float.
        initializer_range: float, standard deviation of the truncated-normal
            initializers.
        dtype: the dtype policy of every layer.
        **kwargs: `keras.Model` arguments (`name`, ...).

    Inputs, a dict:
        token_ids: int `(B, T)`.
        segment_ids: int `(B, T)`.
        padding_mask: `(B, T)`, true (1) on real tokens.

    Outputs, a dict:
        sequence_output: `(B, T, D)`, the last block's output.
        pooled_output: `(B, D)`, `tanh(W x_[CLS] + b)`.

    The tokenizer is BERT's WordPiece (`kerastack.nezha.BertTokenizer`,
    with the checkpoint's `vocab.txt`).

    Example:

    >>> backbone = NezhaBackbone(vocabulary_size=30, num_layers=2, num_heads=3,
    ...     hidden_dim=12, intermediate_dim=16, max_relative_position=3)
    >>> ids = np.array([[2, 7, 8, 9, 10, 11, 3, 0]])  # [CLS] ... [SEP] [PAD]
    >>> outputs = backbone({"token_ids": ids, "segment_ids": np.zeros_like(ids),
    ...     "padding_mask": ids != 0})
    >>> tuple(outputs["sequence_output"].shape), tuple(outputs["pooled_output"].shape)
    ((1, 8, 12), (1, 12))
    >>> backbone.get_config()["max_relative_position"]
    3
    >>> NezhaBackbone(vocabulary_size=30, num_layers=1, num_heads=5, hidden_dim=12,
    ...     intermediate_dim=16)
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
        "dropout",
        "max_sequence_length",
        "max_relative_position",
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
        dropout=0.1,
        max_sequence_length=512,
        max_relative_position=64,
        num_segments=2,
        activation="gelu",
        layer_norm_epsilon=1e-12,
        initializer_range=0.02,
        dtype=None,
        **kwargs,
    ):
        vocabulary_size = check_int("vocabulary_size", vocabulary_size)
        num_layers = check_int("num_layers", num_layers)
        num_heads = check_int("num_heads", num_heads)
        hidden_dim = check_int("hidden_dim", hidden_dim)
        intermediate_dim = check_int("intermediate_dim", intermediate_dim)
        max_sequence_length = check_int("max_sequence_length", max_sequence_length)
        max_relative_position = check_int("max_relative_position", max_relative_position)
        num_segments = check_int("num_segments", num_segments)
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
        segment_ids = keras.Input(shape=(None,), dtype="int32", name="segment_ids")
        padding_mask = keras.Input(shape=(None,), dtype="int32", name="padding_mask")
        tokens = Embedding(
            vocabulary_size,
            hidden_dim,
            embeddings_initializer=_initializer(initializer_range),
            dtype=dtype,
            name="token_embedding",
        )(token_ids)
        segments = Embedding(
            num_segments,
            hidden_dim,
            embeddings_initializer=_initializer(initializer_range),
            dtype=dtype,
            name="segment_embedding",
        )(segment_ids)
        x = keras.layers.Add(dtype=dtype, name="embeddings_add")([tokens, segments])
        x = LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=dtype, name="embeddings_layer_norm"
        )(x)
        x = keras.layers.Dropout(dropout, dtype=dtype, name="embeddings_dropout")(x)
        mask = ops.cast(padding_mask, "bool")  # (B, T)
        for index in range(num_layers):
            x = NezhaEncoderBlock(
                num_heads=num_heads,
                intermediate_dim=intermediate_dim,
                max_relative_position=max_relative_position,
                dropout=dropout,
                activation=activation,
                layer_norm_epsilon=layer_norm_epsilon,
                kernel_initializer=_initializer(initializer_range),
                dtype=dtype,
                name=f"transformer_layer_{index}",
            )(x, padding_mask=mask)  # (B, T, D)
        pooled = keras.layers.Dense(
            hidden_dim,
            activation="tanh",
            kernel_initializer=_initializer(initializer_range),
            dtype=dtype,
            name="pooled_dense",
        )(x[:, 0, :])  # (B, D)
        super().__init__(
            inputs={
                "token_ids": token_ids,
                "segment_ids": segment_ids,
                "padding_mask": padding_mask,
            },
            outputs={"sequence_output": x, "pooled_output": pooled},
            dtype=dtype,
            **kwargs,
        )
        self._keep_arguments(locals())

    def hf_weight_table(self):
        """`[(variable, hf_name, layout)]` of every weight, in HF NEZHA's
        names (`kerastack.nezha.weight_table`)."""
        return weight_table(self)

    def input_rules(self):
        """`{input name: kerastack.core.InputRule}`: what each input holds."""
        return {
            "token_ids": InputRule("ids", self.vocabulary_size, "vocabulary_size"),
            "segment_ids": InputRule("ids", self.num_segments, "num_segments"),
            "padding_mask": InputRule("mask"),
        }

    def _check_input_values(self, values):
        check_length(values, "token_ids", self.max_sequence_length, "max_sequence_length")

    @classmethod
    def from_config_file(cls, path, **kwargs):
        """A randomly initialized backbone shaped by a `config.json` (HF) or
        `bert_config.json` (Huawei), a file or the folder holding it."""
        return cls(**NezhaConfig.from_json(path).backbone_arguments(), **kwargs)


def load_checkpoint(model, folder):
    """Load the HF (`model.safetensors`, `pytorch_model.bin`) or Huawei
    (`*.ckpt.index`) checkpoint in `folder` into `model` (a `NezhaBackbone`
    or a task model), strictly; returns the names of the tensors left out.
    HF's saved relative-position buffers (`...relative_positions_encoding
    .positions_encoding`, computed from the config) are left out too."""
    if os.path.isdir(folder) and not any(
        os.path.exists(os.path.join(folder, f)) for f in _HF_FILES
    ):
        if any(name.endswith(".index") for name in os.listdir(folder)):
            return load_huawei_checkpoint(model, folder)
    path, tensors = read_checkpoint_tensors(folder)
    buffers = sorted(name for name in tensors if name.endswith(RELATIVE_POSITIONS_BUFFER))
    tensors = {name: value for name, value in tensors.items() if name not in buffers}
    return sorted(assign_hf_tensors(model, tensors, path) + buffers)
