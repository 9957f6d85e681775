"""The BERT encoder: embeddings, a stack of post-norm transformer encoder
blocks and the pooler, built from kerastack layers."""

import os

import numpy as np

from kerastack.bert.bert_config import BertConfig
from kerastack.bert.bert_weights import IGNORED_PREFIXES, weight_table
from kerastack.bert.convert_google import load_google_checkpoint
from kerastack.bert.layout import get_layout_map as bert_layout_map
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
from kerastack.models import (
    activation as get_activation,
)
from kerastack.position import PositionEmbedding
from kerastack.transformer import TransformerEncoder

# The arguments `check_encoder_arguments` takes: ints >= 1, ints >= 0 (ids),
# floats and flags.
_SIZES = (
    "vocabulary_size",
    "num_layers",
    "num_heads",
    "hidden_dim",
    "intermediate_dim",
    "max_sequence_length",
    "num_segments",
    "embedding_dim",
    "num_groups",
    "layers_per_group",
)
_IDS = ("padding_id",)
_FLOATS = ("dropout", "layer_norm_epsilon", "initializer_range")
_FLAGS = ("attention_mask_input", "position_ids_input")
_REQUIRED = (*_SIZES[:7], *_FLOATS, *_FLAGS)


def check_encoder_arguments(**arguments):
    """The arguments of an encoder backbone (`BertBackbone`,
    `RobertaBackbone`, `AlbertBackbone`), checked: a dict of their values by
    name, in the order given.

    BERT's arguments are required: the sizes `vocabulary_size`,
    `num_layers`, `num_heads`, `hidden_dim`, `intermediate_dim`,
    `max_sequence_length` and `num_segments`, the floats `dropout`,
    `layer_norm_epsilon` and `initializer_range`, and the flags
    `attention_mask_input` and `position_ids_input`; ALBERT's sizes
    (`embedding_dim`, `num_groups`, `layers_per_group`) and RoBERTa's
    `padding_id` are taken too. Sizes become Python ints >= 1 and
    `padding_id` one >= 0 (checked in the order given), then `num_heads`
    must divide `hidden_dim`, then the floats become Python floats
    (`dropout` in `[0, 1)`, the others finite and positive), then the flags
    Python bools. The first bad value is a ValueError naming its argument.

    Example:

    >>> checked = check_encoder_arguments(vocabulary_size=np.int64(30),
    ...     num_layers=2, num_heads=2, hidden_dim=8, intermediate_dim=16,
    ...     max_sequence_length=16, num_segments=2, dropout=0,
    ...     layer_norm_epsilon=1e-12, initializer_range=0.02,
    ...     attention_mask_input=np.bool_(False), position_ids_input=False)
    >>> checked["vocabulary_size"], checked["dropout"], checked["attention_mask_input"]
    (30, 0.0, False)
    >>> check_encoder_arguments(**dict(checked, num_heads=3))
    Traceback (most recent call last):
    ...
    ValueError: `hidden_dim`=8 is not divisible by `num_heads`=3.
    """
    unknown = [name for name in arguments if name not in (*_SIZES, *_IDS, *_FLOATS, *_FLAGS)]
    missing = [name for name in _REQUIRED if name not in arguments]
    if unknown or missing:
        raise TypeError(
            f"check_encoder_arguments: unknown arguments {unknown}, missing arguments {missing}."
        )
    checked = dict(arguments)
    for name, value in arguments.items():
        if name in _SIZES or name in _IDS:
            checked[name] = check_int(name, value, minimum=1 if name in _SIZES else 0)
    hidden_dim, num_heads = checked["hidden_dim"], checked["num_heads"]
    if hidden_dim % num_heads:
        raise ValueError(f"`hidden_dim`={hidden_dim} is not divisible by `num_heads`={num_heads}.")
    checked["dropout"] = check_float(
        "dropout", arguments["dropout"], minimum=0.0, maximum=1.0, exclusive_maximum=True
    )
    for name in ("layer_norm_epsilon", "initializer_range"):
        checked[name] = check_float(name, arguments[name], minimum=0.0, exclusive_minimum=True)
    for name in _FLAGS:
        value = arguments[name]
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"`{name}` must be True or False, received {name}={value!r}.")
        checked[name] = bool(value)
    return checked


def _initializer(initializer_range):
    return keras.initializers.TruncatedNormal(stddev=initializer_range)


def embeddings_sum(parts, dropout, layer_norm_epsilon, dtype):
    """`dropout(layer_norm(sum(parts)))`: the embedding output of BERT and
    its relatives."""
    x = keras.layers.Add(dtype=dtype, name="embeddings_add")(parts)
    x = LayerNormalization(epsilon=layer_norm_epsilon, dtype=dtype, name="embeddings_layer_norm")(x)
    return keras.layers.Dropout(dropout, dtype=dtype, name="embeddings_dropout")(x)


def encoder_block(
    name,
    *,
    num_heads,
    intermediate_dim,
    dropout,
    activation,
    layer_norm_epsilon,
    initializer_range,
    dtype,
):
    """One post-norm encoder block of BERT's layout."""
    return TransformerEncoder(
        intermediate_dim=intermediate_dim,
        num_heads=num_heads,
        dropout=dropout,
        activation=get_activation(activation),
        layer_norm_epsilon=layer_norm_epsilon,
        kernel_initializer=_initializer(initializer_range),
        dtype=dtype,
        name=name,
    )


def encoder_stack(x, mask, num_layers, attention_mask=None, **block_arguments):
    """`num_layers` blocks (`encoder_block(name, **block_arguments)`, by
    keyword) named `transformer_layer_{index}`, applied in turn to `x` under
    `mask` (and `attention_mask`, `(B, T, T)`, where given)."""
    for index in range(num_layers):
        block = encoder_block(f"transformer_layer_{index}", **block_arguments)
        x = block(x, padding_mask=mask, attention_mask=attention_mask)
    return x


def optional_inputs(attention_mask_input, position_ids_input):
    """The inputs an encoder backbone takes only when asked to, by name:
    `attention_mask` `(B, T, T)` and `position_ids` `(B, T)`."""
    inputs = {}
    if attention_mask_input:
        inputs["attention_mask"] = keras.Input(
            shape=(None, None), dtype="int32", name="attention_mask"
        )
    if position_ids_input:
        inputs["position_ids"] = keras.Input(shape=(None,), dtype="int32", name="position_ids")
    return inputs


def attention_mask_of(inputs):
    """The boolean `(B, T, T)` attention mask among `optional_inputs`, or None."""
    mask = inputs.get("attention_mask")
    return None if mask is None else ops.cast(mask, "bool")


def pooler(x, hidden_dim, initializer_range, dtype, name="pooled_dense"):
    """`tanh(W x[:, 0] + b)`, `(B, D)`: the first ([CLS]) token, pooled."""
    first_token = x[:, 0, :]  # (B, D)
    return keras.layers.Dense(
        hidden_dim,
        activation="tanh",
        kernel_initializer=_initializer(initializer_range),
        dtype=dtype,
        name=name,
    )(first_token)


class EncoderBackbone(CheckedInputs, Pretrained, SavedByArguments):
    """What BERT's encoder and its relatives (`RobertaBackbone`,
    `AlbertBackbone`) share besides their graph: reading configs and
    checkpoints, the layout map, their Keras config (`SavedByArguments`)
    and the checks of their inputs (`kerastack.core.CheckedInputs`).

    Inputs are checked in eager calls and before `predict` and
    `predict_on_batch` run: a dict with exactly the model's keys; integer
    ids within their tables (`token_ids` < `vocabulary_size`,
    `segment_ids` < `num_segments`, `position_ids` <
    `max_sequence_length`); masks of 0 and 1; every input `(B, T)` with
    `B, T >= 1` (`attention_mask` `(B, T, T)`); `T <=
    max_sequence_length`. A bad input is a ValueError naming it, and the
    model stays usable. Inside compiled functions (`fit` and `evaluate` on
    TensorFlow and JAX, `jax.jit`) nothing is checked: see
    `kerastack.core.embedding_lookup` for what each backend does with a
    bad id there.
    """

    # Whether the backbone takes `segment_ids` (RoBERTa does not).
    _segment_input = True

    # HF's names (`kerastack.models.assign_hf_tensors`): the prefix of its
    # task models, the tensors a backbone leaves out, the position table.
    hf_prefix = "bert."
    hf_ignored_prefixes = IGNORED_PREFIXES
    hf_position_table = "embeddings.position_embeddings.weight"
    # HF's model_type, and the start of its class names ("BertModel").
    hf_model_type = "bert"
    hf_architecture = "Bert"

    def hf_weight_table(self):
        """`[(variable, hf_name, layout)]` of every weight, in HF BERT's names
        (`kerastack.bert.weight_table`)."""
        return weight_table(self)

    def input_rules(self):
        """`{input name: kerastack.core.InputRule}`: what each input holds."""
        rules = {"token_ids": InputRule("ids", self.vocabulary_size, "vocabulary_size")}
        if self._segment_input:
            rules["segment_ids"] = InputRule("ids", self.num_segments, "num_segments")
        rules["padding_mask"] = InputRule("mask")
        if self.attention_mask_input:
            rules["attention_mask"] = InputRule("pair_mask")
        if self.position_ids_input:
            rules["position_ids"] = InputRule(
                "ids", self.max_sequence_length, "max_sequence_length"
            )
        return rules

    def _check_input_values(self, values):
        if "position_ids" not in values:
            check_length(values, "token_ids", self.max_sequence_length, "max_sequence_length")

    @classmethod
    def from_config_file(cls, path, **kwargs):
        """A randomly initialized backbone shaped by a `config.json` /
        `bert_config.json` (a file, or the folder holding it)."""
        return cls(**cls.config_class().from_json(path).backbone_arguments(), **kwargs)

    @staticmethod
    def config_class():
        """The config class this backbone reads (`BertConfig`)."""
        return BertConfig

    def load_checkpoint(self, folder, allow_longer_position_table=False):
        """Load the checkpoint in `folder` (what `from_pretrained` reads):
        HF's `model.safetensors` (or `pytorch_model.bin`, which needs
        PyTorch), or Google's `bert_model.ckpt.*`. Loading is strict (see
        `kerastack.models.assign_hf_tensors`)."""
        return load_checkpoint(self, folder, allow_longer_position_table)

    @staticmethod
    def get_layout_map(device_mesh, model_axis="model", data_axis=None):
        """The model-parallel layout of BERT's weights on `device_mesh`
        (keras-hub's name for `kerastack.bert.get_layout_map`, which see)."""
        return bert_layout_map(device_mesh, model_axis, data_axis)

    def last_layers_model(self, num_layers=4):
        """A model from the backbone's inputs to the concatenation of its last
        `num_layers` blocks' outputs, `(B, T, num_layers * D)`, earliest
        first and the last block last (keras-bert's `output_layer_num`). It
        shares this backbone's weights."""
        if not 1 <= num_layers <= self.num_layers:
            raise ValueError(
                f"num_layers must be in 1..{self.num_layers}, received num_layers={num_layers}."
            )
        outputs = [
            self.get_layer(f"transformer_layer_{index}").output
            for index in range(self.num_layers - num_layers, self.num_layers)
        ]
        merged = outputs[0] if num_layers == 1 else ops.concatenate(outputs, axis=-1)
        return keras.Model(self.input, merged, name=f"{self.name}_last_{num_layers}_layers")


@serializable
class BertBackbone(EncoderBackbone, keras.Model):
    """BERT's encoder (Devlin et al., 2019) as a functional Keras model.

    Letters: B batch, T length, D `hidden_dim`.

    Args:
        vocabulary_size: int, number of word pieces.
        num_layers: int, number of encoder blocks.
        num_heads: int, attention heads per block.
        hidden_dim: int, width D.
        intermediate_dim: int, hidden width of each feed-forward network.
        dropout: float, dropout on the embeddings, attention weights and each
            residual branch.
        max_sequence_length: int, rows of the position table.
        num_segments: int, rows of the segment table (`type_vocab_size`).
        activation: activation of the feed-forward networks (`"gelu"`, exact;
            `"gelu_approximate"`, tanh).
        layer_norm_epsilon: float.
        initializer_range: float, standard deviation of the truncated-normal
            initializers.
        dtype: the dtype policy of every layer (`"mixed_bfloat16"`,
            `"mixed_float16"`, ...); layer norms and softmax compute in
            float32 under a mixed policy.
        attention_mask_input: bool, whether the model takes an
            `attention_mask` input (UniLM, packed sequences).
        position_ids_input: bool, whether the model takes a `position_ids`
            input (packed sequences).
        **kwargs: `keras.Model` arguments (`name`, ...).

    Sizes are ints >= 1 (NumPy ints too; not bools, floats or strings),
    `dropout` in `[0, 1)`, `layer_norm_epsilon` and `initializer_range`
    finite and positive: anything else is a ValueError naming the argument
    (see `check_encoder_arguments`).

    Inputs, a dict:
        token_ids: int `(B, T)`.
        segment_ids: int `(B, T)`, 0 for the first segment, 1 for the second.
        padding_mask: `(B, T)`, true (1) on real tokens. Explicit: no token id
            is assumed to be padding.
        attention_mask: `(B, T, T)`, with `attention_mask_input=True` only:
            true (1) where token t may attend to token s, on top of
            `padding_mask`. `kerastack.attention.prefix_lm_attention_mask`
            gives UniLM's (bidirectional source, causal target),
            `packed_attention_mask` one block per packed sequence.
        position_ids: int `(B, T)`, with `position_ids_input=True` only: each
            token's row of the position table (0, 1, ... by default; packed
            sequences restart at each sequence).

    Outputs, a dict:
        sequence_output: `(B, T, D)`, the last block's output.
        pooled_output: `(B, D)`, `tanh(W x_[CLS] + b)`.

    Example:

    >>> backbone = BertBackbone(vocabulary_size=30, num_layers=2, num_heads=2,
    ...     hidden_dim=8, intermediate_dim=16, max_sequence_length=16)
    >>> ids = np.array([[2, 7, 8, 3, 0]])  # [CLS] ... [SEP] [PAD]
    >>> outputs = backbone({"token_ids": ids, "segment_ids": np.zeros_like(ids),
    ...     "padding_mask": ids != 0})
    >>> tuple(outputs["sequence_output"].shape), tuple(outputs["pooled_output"].shape)
    ((1, 5, 8), (1, 8))
    >>> backbone.get_config()["num_layers"]
    2
    >>> BertBackbone(vocabulary_size=30, num_layers=2.0, num_heads=2, hidden_dim=8,
    ...     intermediate_dim=16)
    Traceback (most recent call last):
    ...
    ValueError: `num_layers` must be a positive int, received num_layers=2.0.
    """

    CONFIG_KEYS = (
        "vocabulary_size",
        "num_layers",
        "num_heads",
        "hidden_dim",
        "intermediate_dim",
        "dropout",
        "max_sequence_length",
        "num_segments",
        "activation",
        "layer_norm_epsilon",
        "initializer_range",
        "attention_mask_input",
        "position_ids_input",
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
        num_segments=2,
        activation="gelu",
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
            dropout,
            layer_norm_epsilon,
            initializer_range,
            attention_mask_input,
            position_ids_input,
        ) = checked.values()
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        segment_ids = keras.Input(shape=(None,), dtype="int32", name="segment_ids")
        padding_mask = keras.Input(shape=(None,), dtype="int32", name="padding_mask")
        extra = optional_inputs(attention_mask_input, position_ids_input)
        tokens = Embedding(
            vocabulary_size,
            hidden_dim,
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
            hidden_dim,
            embeddings_initializer=_initializer(initializer_range),
            dtype=dtype,
            name="segment_embedding",
        )(segment_ids)
        x = embeddings_sum([tokens, positions, segments], dropout, layer_norm_epsilon, dtype)
        x = encoder_stack(
            x,
            ops.cast(padding_mask, "bool"),
            num_layers,
            attention_mask=attention_mask_of(extra),
            num_heads=num_heads,
            intermediate_dim=intermediate_dim,
            dropout=dropout,
            activation=activation,
            layer_norm_epsilon=layer_norm_epsilon,
            initializer_range=initializer_range,
            dtype=dtype,
        )
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


def load_checkpoint(model, folder, allow_longer_position_table=False):
    """Load the HF (`model.safetensors`) or Google (`*.ckpt.index`) checkpoint
    in `folder` into `model`."""
    hf_files = ("model.safetensors", "pytorch_model.bin")
    if os.path.isdir(folder) and not any(os.path.exists(os.path.join(folder, f)) for f in hf_files):
        if any(name.endswith(".index") for name in os.listdir(folder)):
            return load_google_checkpoint(model, folder, allow_longer_position_table)
    path, tensors = read_checkpoint_tensors(folder)
    return assign_hf_tensors(model, tensors, path, allow_longer_position_table)
