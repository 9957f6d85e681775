"""RoBERTa's encoder: BERT's blocks, positions counted from the padding id,
no segment input."""

import os

import numpy as np

from kerastack.bert.bert_backbone import (
    BertBackbone,
    EncoderBackbone,
    _initializer,
    attention_mask_of,
    check_encoder_arguments,
    embeddings_sum,
    encoder_stack,
    optional_inputs,
    pooler,
)
from kerastack.bert.bert_config import RobertaConfig
from kerastack.core import keras, ops, serializable
from kerastack.models import Embedding


@serializable
class RobertaBackbone(EncoderBackbone, keras.Model):
    """RoBERTa's encoder (Liu et al., 2019) as a functional Keras model.

    BERT's layout with three differences, all in the embeddings: there is no
    segment input (the one row of the segment table, HF's
    `token_type_embeddings`, is added to every token, as HF does when given no
    `token_type_ids`); real tokens take the position rows
    `padding_id + 1, padding_id + 2, ...` in order; padding takes row
    `padding_id`. Positions count the real tokens of `padding_mask`, which HF
    derives from `token_ids != padding_id`: the two agree whenever the mask
    marks exactly the padding tokens.

    Letters: B batch, T length, D `hidden_dim`.

    Args:
        padding_id: int, the id of `<pad>` (1 in RoBERTa's vocabulary),
            which is also the position row of padding.
        max_sequence_length: int, rows of the position table (HF's
            `max_position_embeddings`, 514 for RoBERTa: `padding_id + 1`
            rows are not real positions, so it takes 512 tokens).
        num_segments: int, rows of the segment table; row 0 is used.
        others: as `BertBackbone`.

    Inputs, a dict:
        token_ids: int `(B, T)`.
        padding_mask: `(B, T)`, true (1) on real tokens.
        attention_mask: as `BertBackbone`'s, with `attention_mask_input=True`.
        position_ids: int `(B, T)`, with `position_ids_input=True` only: rows
            of the position table as HF's `position_ids` (real tokens from
            `padding_id + 1`: a packed sequence's tokens take
            `padding_id + 1, padding_id + 2, ...`).

    Outputs, a dict:
        sequence_output: `(B, T, D)`.
        pooled_output: `(B, D)`, `tanh(W x_<s> + b)`.

    Example:

    >>> backbone = RobertaBackbone(vocabulary_size=50, num_layers=2, num_heads=2,
    ...     hidden_dim=8, intermediate_dim=16, max_sequence_length=12)
    >>> ids = np.array([[0, 5, 6, 2, 1, 1]])  # <s> ... </s> <pad> <pad>
    >>> outputs = backbone({"token_ids": ids, "padding_mask": ids != 1})
    >>> tuple(outputs["sequence_output"].shape), tuple(outputs["pooled_output"].shape)
    ((1, 6, 8), (1, 8))
    """

    CONFIG_KEYS = BertBackbone.CONFIG_KEYS + ("padding_id",)
    _segment_input = False

    def __init__(
        self,
        vocabulary_size,
        num_layers,
        num_heads,
        hidden_dim,
        intermediate_dim,
        dropout=0.1,
        max_sequence_length=514,
        num_segments=1,
        padding_id=1,
        activation="gelu",
        layer_norm_epsilon=1e-5,
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
            padding_id=padding_id,
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
            padding_id,
            dropout,
            layer_norm_epsilon,
            initializer_range,
            attention_mask_input,
            position_ids_input,
        ) = checked.values()
        if not 0 <= padding_id < max_sequence_length - 1:
            raise ValueError(
                f"padding_id={padding_id} leaves no position row for real tokens "
                f"(max_sequence_length={max_sequence_length})."
            )
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        padding_mask = keras.Input(shape=(None,), dtype="int32", name="padding_mask")
        extra = optional_inputs(attention_mask_input, position_ids_input)
        position_ids = extra.get("position_ids")
        if position_ids is None:
            real = ops.cast(ops.not_equal(padding_mask, 0), "int32")
            # Real tokens count from padding_id + 1; padding takes padding_id.
            position_ids = ops.cumsum(real, axis=1) * real + padding_id  # (B, T)
        tokens = Embedding(
            vocabulary_size,
            hidden_dim,
            embeddings_initializer=_initializer(initializer_range),
            dtype=dtype,
            name="token_embedding",
        )(token_ids)
        positions = keras.layers.Embedding(
            max_sequence_length,
            hidden_dim,
            embeddings_initializer=_initializer(initializer_range),
            dtype=dtype,
            name="position_embedding",
        )(position_ids)
        segments = Embedding(
            num_segments,
            hidden_dim,
            embeddings_initializer=_initializer(initializer_range),
            dtype=dtype,
            name="segment_embedding",
        )(ops.zeros_like(token_ids))
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
            inputs={"token_ids": token_ids, "padding_mask": padding_mask, **extra},
            outputs={"sequence_output": x, "pooled_output": pooled},
            dtype=dtype,
            **kwargs,
        )
        self._keep_arguments(locals())

    # HF's names: "roberta." before the encoder's tensors in task models, and
    # their heads and buffers left out.
    hf_prefix = "roberta."
    # HF's model_type, and the start of its class names ("RobertaModel").
    hf_model_type = "roberta"
    hf_architecture = "Roberta"
    hf_ignored_prefixes = (
        "lm_head.",
        "classifier.",
        "qa_outputs.",
        "embeddings.position_ids",
        "embeddings.token_type_ids",
    )

    def _check_input_values(self, values):
        if "position_ids" in values:
            return
        # Real tokens take the rows padding_id + 1, padding_id + 2, ...
        limit = self.max_sequence_length - self.padding_id - 1
        real = np.count_nonzero(values["padding_mask"], axis=1)  # (B,)
        if real.max() > limit:
            row = int(np.argmax(real))
            raise ValueError(
                f"`padding_mask` marks {real[row]} real tokens in batch row {row}, more "
                f"than the {limit} positions RoBERTa's table holds for them "
                f"(max_sequence_length={self.max_sequence_length} rows, from "
                f"padding_id + 1 = {self.padding_id + 1})."
            )

    @staticmethod
    def config_class():
        """`RobertaConfig`."""
        return RobertaConfig

    @classmethod
    def from_config_file(cls, path, **kwargs):
        """A randomly initialized backbone shaped by HF's `config.json` (a
        file, or the folder holding it). A folder holding only Google's
        `bert_config.json` (brightmart's RoBERTa-zh, HIT's RoBERTa-wwm) is
        a `ValueError` saying to load it as BERT: see `GOOGLE_LAYOUT`."""
        check_not_google_layout(path, cls.__name__)
        return super().from_config_file(path, **kwargs)


# RoBERTa released in Google's BERT layout is BERT's architecture.
GOOGLE_LAYOUT = (
    "RoBERTa checkpoints released in Google's BERT layout (bert_config.json and "
    "bert_model.ckpt: brightmart's RoBERTa-zh, HIT's chinese-roberta-wwm-ext) are BERT's "
    "architecture, trained as RoBERTa: positions count from 0, segment ids are used, and "
    "there is no padding offset. Load them with BertBackbone.from_pretrained(folder) (or "
    "kerastack.models.from_pretrained(folder), which reads bert_config.json as BERT; BERT's "
    "task models for heads)."
)


def check_not_google_layout(path, name):
    """A `ValueError` (`GOOGLE_LAYOUT`) if `path` is a folder with Google's
    `bert_config.json` and no HF `config.json`."""
    path = os.fspath(path)
    if (
        os.path.isdir(path)
        and not os.path.exists(os.path.join(path, "config.json"))
        and os.path.exists(os.path.join(path, "bert_config.json"))
    ):
        raise ValueError(
            f"{path} holds a Google-format checkpoint, which {name} does not read. " + GOOGLE_LAYOUT
        )
