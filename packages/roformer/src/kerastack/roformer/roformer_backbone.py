"""RoFormer (v1, HF's `roformer`) and RoFormer-v2 (Zhuiyi's) encoders as
functional Keras models: word and segment embeddings (no absolute
positions), then post-norm blocks with the rotary position embedding in
every self-attention."""

import numpy as np

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
from kerastack.layernorm import LayerNormalization, RMSNormalization
from kerastack.models import Embedding, Pretrained, SavedByArguments
from kerastack.models import activation as get_activation
from kerastack.roformer.roformer_config import RoFormerConfig, RoFormerV2Config
from kerastack.roformer.roformer_encoder import RoFormerEncoder
from kerastack.roformer.roformer_weights import (
    IGNORED_PREFIXES,
    load_roformer_checkpoint,
    weight_table,
)

__all__ = ["RoFormerBackbone", "RoFormerV2Backbone"]

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


def _check_arguments(arguments):
    """The backbone's arguments checked, in order: sizes are ints >= 1 (and
    the head size even), the floats finite, `rotary_value` a bool."""
    checked = dict(arguments)
    for name in _SIZES:
        if name == "embedding_dim" and arguments[name] is None:
            checked[name] = check_int("hidden_dim", arguments["hidden_dim"])
            continue
        checked[name] = check_int(name, arguments[name])
    hidden_dim, num_heads = checked["hidden_dim"], checked["num_heads"]
    if hidden_dim % num_heads or (hidden_dim // num_heads) % 2:
        raise ValueError(
            f"`hidden_dim`={hidden_dim} must divide into `num_heads`={num_heads} heads of an "
            "even size (the rotary embedding rotates pairs of features)."
        )
    checked["dropout"] = check_float(
        "dropout", arguments["dropout"], minimum=0.0, maximum=1.0, exclusive_maximum=True
    )
    for name in ("layer_norm_epsilon", "initializer_range"):
        checked[name] = check_float(name, arguments[name], minimum=0.0, exclusive_minimum=True)
    if "rotary_value" in arguments:
        value = arguments["rotary_value"]
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"`rotary_value` must be True or False, received {value!r}.")
        checked["rotary_value"] = bool(value)
    return checked


class _RoFormerBase(CheckedInputs, Pretrained, SavedByArguments):
    """What both RoFormers share besides their norms and biases: the graph,
    the input checks, the weight table and checkpoint loading."""

    # HF's names (`kerastack.models.assign_hf_tensors`).
    hf_prefix = "roformer."
    hf_ignored_prefixes = IGNORED_PREFIXES
    use_bias = True
    rotary_value = False

    def _build(self, arguments, dtype, kwargs):
        a = arguments
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        segment_ids = keras.Input(shape=(None,), dtype="int32", name="segment_ids")
        padding_mask = keras.Input(shape=(None,), dtype="int32", name="padding_mask")
        init = a["initializer_range"]
        tokens = Embedding(
            a["vocabulary_size"],
            a["embedding_dim"],
            embeddings_initializer=_initializer(init),
            dtype=dtype,
            name="token_embedding",
        )(token_ids)
        segments = Embedding(
            a["num_segments"],
            a["embedding_dim"],
            embeddings_initializer=_initializer(init),
            dtype=dtype,
            name="segment_embedding",
        )(segment_ids)
        x = keras.layers.Add(dtype=dtype, name="embeddings_add")([tokens, segments])
        norm = self._norm(a["layer_norm_epsilon"], dtype, "embeddings_layer_norm")
        dropout = keras.layers.Dropout(a["dropout"], dtype=dtype, name="embeddings_dropout")
        # bert4keras's order: v1 normalizes, then drops out; v2 the other way.
        x = dropout(norm(x)) if self.use_bias else norm(dropout(x))
        if a["embedding_dim"] != a["hidden_dim"]:
            x = keras.layers.Dense(
                a["hidden_dim"],
                use_bias=self.use_bias,
                kernel_initializer=_initializer(init),
                dtype=dtype,
                name="embeddings_projection",
            )(x)
        mask = ops.cast(padding_mask, "bool")
        for index in range(a["num_layers"]):
            x = RoFormerEncoder(
                intermediate_dim=a["intermediate_dim"],
                num_heads=a["num_heads"],
                dropout=a["dropout"],
                activation=get_activation(a["activation"]),
                layer_norm_epsilon=a["layer_norm_epsilon"],
                use_bias=self.use_bias,
                normalization="layer" if self.use_bias else "rms",
                rotary_value=a.get("rotary_value", False),
                kernel_initializer=_initializer(init),
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

    def _norm(self, epsilon, dtype, name):
        if self.use_bias:
            return LayerNormalization(epsilon=epsilon, dtype=dtype, name=name)
        return RMSNormalization(epsilon=epsilon, scale=False, dtype=dtype, name=name)

    def hf_weight_table(self):
        """`[(variable, hf_name, layout)]` of every weight, in HF RoFormer's
        names (`kerastack.roformer.weight_table`)."""
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
        """A randomly initialized backbone shaped by a `config.json` or
        `bert_config.json` (a file, or the folder holding it)."""
        return cls(**cls.config_class().from_json(path).backbone_arguments(), **kwargs)

    def load_checkpoint(self, folder, allow_longer_position_table=False):
        """Load HF's `model.safetensors` (or `pytorch_model.bin`) or Zhuiyi's
        TensorFlow checkpoint in `folder`, strictly
        (`kerastack.roformer.load_roformer_checkpoint`). RoFormer has no
        position table: `allow_longer_position_table` changes nothing."""
        return load_roformer_checkpoint(self, folder)


@serializable
class RoFormerBackbone(_RoFormerBase, keras.Model):
    """RoFormer's encoder (Su et al., 2021) as a functional Keras model:
    BERT's post-norm encoder without absolute positions, the rotary position
    embedding rotating the queries and keys of every self-attention
    (`RoFormerEncoder` blocks), so attention depends on relative positions.

    Loads HF's `roformer` checkpoints (`junnyu/roformer_chinese_base`, ...)
    and Zhuiyi's TensorFlow releases (`chinese_roformer_L-12_H-768_A-12`)
    with `from_pretrained`. There is no pooler (HF's RoFormer has none; the
    pooler of Zhuiyi's pretraining checkpoints is left out).

    Letters: B batch, T length, D `hidden_dim`, E `embedding_dim`.

    Args:
        vocabulary_size: int, number of word pieces.
        num_layers: int, number of encoder blocks.
        num_heads: int, attention heads per block; `hidden_dim / num_heads`
            must be even.
        hidden_dim: int, width D.
        intermediate_dim: int, hidden width of each feed-forward network.
        embedding_dim: int, width E of the word and segment tables, projected
            to D when different (HF's `embedding_size`); None: D.
        dropout: float, dropout on the embeddings, attention weights and each
            residual branch.
        max_sequence_length: int, the longest input (HF's
            `max_position_embeddings`; the rotary embedding itself has no
            limit).
        num_segments: int, rows of the segment table.
        activation: activation of the feed-forward networks.
        layer_norm_epsilon: float.
        initializer_range: float, standard deviation of the truncated-normal
            initializers.
        rotary_value: bool, rotate the values too (HF's `rotary_value`).
        dtype: the dtype policy of every layer.
        **kwargs: `keras.Model` arguments (`name`, ...).

    Inputs, a dict:
        token_ids: int `(B, T)`.
        segment_ids: int `(B, T)`.
        padding_mask: `(B, T)`, true (1) on real tokens.

    Outputs, a dict:
        sequence_output: `(B, T, D)`, the last block's output.

    Example:

    >>> backbone = RoFormerBackbone(vocabulary_size=30, num_layers=2, num_heads=3,
    ...     hidden_dim=12, intermediate_dim=20, embedding_dim=8, max_sequence_length=16)
    >>> ids = np.array([[2, 7, 8, 3, 0]])  # [CLS] ... [SEP] [PAD]
    >>> outputs = backbone({"token_ids": ids, "segment_ids": np.zeros_like(ids),
    ...     "padding_mask": ids != 0})
    >>> tuple(outputs["sequence_output"].shape)
    (1, 5, 12)
    >>> RoFormerBackbone(vocabulary_size=30, num_layers=1, num_heads=4, hidden_dim=12,
    ...     intermediate_dim=20)
    Traceback (most recent call last):
    ...
    ValueError: `hidden_dim`=12 must divide into `num_heads`=4 heads of an even size ...
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
        "rotary_value",
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
        max_sequence_length=1536,
        num_segments=2,
        activation="gelu",
        layer_norm_epsilon=1e-12,
        initializer_range=0.02,
        rotary_value=False,
        dtype=None,
        **kwargs,
    ):
        arguments = _check_arguments(
            {key: value for key, value in locals().items() if key in self.CONFIG_KEYS}
        )
        self._build(arguments, dtype, kwargs)
        self._keep_arguments({**arguments, "dtype": dtype})

    @staticmethod
    def config_class():
        """The config class this backbone reads (`RoFormerConfig`)."""
        return RoFormerConfig


@serializable
class RoFormerV2Backbone(_RoFormerBase, keras.Model):
    """RoFormer-v2's encoder (Zhuiyi, 2022) as a functional Keras model:
    RoFormer without any bias and with norms that have no weights at all
    (`x / sqrt(mean(x**2) + epsilon)`, bert4keras's
    `LayerNormalization(zero_mean=False, scale=False, offset=False)`):
    word and segment embeddings summed, normalized (then projected to D
    when `embedding_dim` differs), and post-norm `RoFormerEncoder` blocks
    (`use_bias=False`, `normalization="rms"`) with the rotary position
    embedding.

    Loads Zhuiyi's TensorFlow releases (`chinese_roformer-v2-char_*`:
    `bert_config.json` and `bert_model.ckpt.*`) with `from_pretrained`,
    which needs no TensorFlow. Arguments, inputs and outputs are
    `RoFormerBackbone`'s (without `rotary_value`); `activation` defaults to
    "relu" and `layer_norm_epsilon` to bert4keras's 1e-7.

    Example:

    >>> backbone = RoFormerV2Backbone(vocabulary_size=30, num_layers=2, num_heads=3,
    ...     hidden_dim=12, intermediate_dim=20, max_sequence_length=16)
    >>> ids = np.array([[2, 7, 8, 3, 0]])
    >>> outputs = backbone({"token_ids": ids, "segment_ids": np.zeros_like(ids),
    ...     "padding_mask": ids != 0})
    >>> tuple(outputs["sequence_output"].shape)
    (1, 5, 12)
    >>> len(backbone.weights)  # two tables; four attention and two feed-forward kernels a block
    14
    """

    use_bias = False
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
        activation="relu",
        layer_norm_epsilon=1e-7,
        initializer_range=0.02,
        dtype=None,
        **kwargs,
    ):
        arguments = _check_arguments(
            {key: value for key, value in locals().items() if key in self.CONFIG_KEYS}
        )
        self._build(arguments, dtype, kwargs)
        self._keep_arguments({**arguments, "dtype": dtype})

    @staticmethod
    def config_class():
        """The config class this backbone reads (`RoFormerV2Config`)."""
        return RoFormerV2Config
