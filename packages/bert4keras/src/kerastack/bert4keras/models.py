"""bert4keras's `models` module on kerastack (Keras 3): `build_transformer_model`.

It builds kerastack's `BertBackbone` (`model="bert"`, `"roberta"`) or
`AlbertBackbone` (`"albert"`: one block shared by every layer;
`"albert_unshared"`: a block per layer, each loaded from the checkpoint's
shared one) behind bert4keras's inputs and outputs and loads Google's
original TensorFlow checkpoints (read without TensorFlow). What bert4keras
code sees is bert4keras's:

- inputs `Input-Token` and `Input-Segment` (and `Input-Position` with
  `custom_position_ids=True`); token id 0 is padding, as bert4keras's
  `mask_zero` made it;
- outputs: the sequence output; with `with_pool`, the pooled output (True
  or `"tanh"`: BERT's pooler; another activation name, `"linear"` as
  SimBERT uses, the pooler's dense layer with that activation) (or,
  with `with_nsp`, the next-sentence probabilities) instead; with
  `with_mlm`, the masked-LM probabilities over the vocabulary (ALBERT's
  head: dense to `embedding_size`, LayerNorm, the tied embeddings;
  `"linear"` or another activation name gives that activation instead of
  softmax);
  with both, `[pooled or NSP, MLM]`;
- `application="lm"` (a causal mask) and `"unilm"` (UniLM's mask: each
  token sees the source, segment 0, and the target tokens up to itself),
  both with the MLM output;
- `keep_tokens` (the rows of the vocabulary kept, in order) and
  `compound_tokens` (new rows, each the average of some rows' embeddings).

**Differences:** the layers inside are kerastack's, so bert4keras's layer
names (`Transformer-0-MultiHeadSelfAttention`, ...) and its `.h5` weight
files do not carry over; outputs at padding positions (token id 0) differ
(kerastack's attention gives a padded query zeros, bert4keras let it
attend to the real tokens), those at real tokens equal bert4keras's; one
dropout rate serves the hidden layers and the attention (`dropout_rate`;
bert4keras's `attention_dropout_rate` is read and must equal it or be 0);
`segment_vocab_size` must be at least 1. ALBERT: its blocks' LayerNorms
take kerastack's epsilon (1e-12; bert4keras's were Keras's 1e-7: outputs
agree within 1e-6 on the tiny checkpoint), and with `embedding_size`
equal to `hidden_size` the embeddings' projection is kept (Google's
checkpoints hold it; bert4keras left it out then). Families other than
BERT, RoBERTa and ALBERT (`"nezha"`, `"roformer"`, `"electra"`, `"gpt"`,
`"t5"`, ...) are a `ValueError` naming the kerastack package that has the
family on its own API.
"""

import numpy as np

from kerastack.bert import AlbertBackbone, BertBackbone, google_to_hf_name, weight_table
from kerastack.core import keras, ops
from kerastack.models import (
    SAME,
    TRANSPOSE,
    CheckpointError,
    MaskedLMHead,
    assign_hf_tensors,
    checkpoint_prefix,
    read_json_object,
    read_tf_checkpoint,
)
from kerastack.models import activation as get_activation

__all__ = ["ALBERT", "BERT", "build_transformer_model"]

# bert4keras's model names this module builds, and those it does not yet.
_FAMILIES = ("bert", "roberta", "albert", "albert_unshared")
_APPLICATIONS = ("encoder", "lm", "unilm")
# Google checkpoints also hold the optimizer's state.
_TRAINING_STATE = ("adam_m", "adam_v", "global_step", "beta1_power", "beta2_power")


# bert4keras options that change the model and that kerastack does not build,
# with the values that leave the model as kerastack builds it. Any other
# value is an error rather than an option silently dropped (other keys, such
# as a config file's `directionality` or `pooler_*`, change nothing).
_NEUTRAL_OPTIONS = {
    "hierarchical_position": (None, False),
    "shared_segment_embeddings": (False,),
    "residual_attention_scores": (False,),
    "ignore_invalid_weights": (False,),
    "autoresize_weights": (False,),
}


def _check_unsupported(options, hidden_size, num_attention_heads):
    """Refuse bert4keras options kerastack's models do not have."""
    for name, neutral in _NEUTRAL_OPTIONS.items():
        if name in options and options[name] not in neutral:
            raise ValueError(
                f"kerastack-bert4keras does not build {name}={options[name]!r} "
                f"(only {' or '.join(repr(v) for v in neutral)})."
            )
    head_size = hidden_size // num_attention_heads if num_attention_heads else None
    for name in ("attention_head_size", "attention_key_size"):
        if options.get(name) not in (None, head_size):
            raise ValueError(
                f"kerastack-bert4keras's attention heads are hidden_size / num_attention_heads "
                f"= {head_size} wide; received {name}={options[name]!r}."
            )


class BERT:
    """bert4keras's `BERT` model builder: the settings of a BERT model and,
    once built, its Keras model (`.model`, with `.inputs` and `.outputs`).

    `build_transformer_model` makes one; code that called
    `build_transformer_model(..., return_keras_model=False)` gets it.

    Example:

    >>> bert = BERT(vocab_size=20, hidden_size=8, num_hidden_layers=1,
    ...     num_attention_heads=2, intermediate_size=16, hidden_act="gelu",
    ...     max_position=16, with_pool=True)
    >>> bert.build()
    >>> [tuple(t.shape) for t in bert.model.outputs]
    [(None, 8)]
    """

    def __init__(
        self,
        vocab_size,
        hidden_size,
        num_hidden_layers,
        num_attention_heads,
        intermediate_size,
        hidden_act,
        max_position,
        dropout_rate=None,
        attention_dropout_rate=None,
        segment_vocab_size=2,
        with_pool=False,
        with_nsp=False,
        with_mlm=False,
        custom_position_ids=False,
        sequence_length=None,
        keep_tokens=None,
        compound_tokens=None,
        application="encoder",
        name=None,
        **kwargs,
    ):
        _check_unsupported(kwargs, hidden_size, num_attention_heads)
        if keep_tokens is not None:
            vocab_size = len(keep_tokens)
        if compound_tokens is not None:
            vocab_size += len(compound_tokens)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.max_position = max_position
        self.dropout_rate = dropout_rate or 0.0
        attention_dropout_rate = attention_dropout_rate or 0.0
        if attention_dropout_rate not in (0.0, self.dropout_rate):
            raise ValueError(
                "kerastack's BERT has one dropout rate for its hidden layers and its attention; "
                f"received dropout_rate={self.dropout_rate} and "
                f"attention_dropout_rate={attention_dropout_rate}."
            )
        if not segment_vocab_size or segment_vocab_size < 1:
            raise ValueError(
                f"segment_vocab_size must be at least 1 here; received {segment_vocab_size!r}."
            )
        if with_pool is not False and with_pool is not True:
            try:
                keras.activations.get(with_pool)
            except (ValueError, TypeError) as error:
                raise ValueError(
                    "with_pool must be True, False or an activation name ('tanh', 'linear', "
                    f"...); received {with_pool!r}."
                ) from error
        self.segment_vocab_size = segment_vocab_size
        self.with_nsp = bool(with_nsp)
        self.with_pool = with_pool or self.with_nsp
        application = application.lower()
        if application not in _APPLICATIONS:
            raise ValueError(
                f"application must be one of {list(_APPLICATIONS)}; received {application!r}."
            )
        self.application = application
        # The language models' output is the MLM head's.
        self.with_mlm = with_mlm or (application != "encoder")
        self.custom_position_ids = custom_position_ids
        self.sequence_length = sequence_length
        self.keep_tokens = keep_tokens
        self.compound_tokens = compound_tokens
        self.name = name
        self.model = None

    # HF's names of the checkpoint's tensors (`kerastack.models.assign_hf_tensors`).
    hf_prefix = "bert."
    hf_position_table = "embeddings.position_embeddings.weight"

    @property
    def hf_ignored_prefixes(self):
        # The pretraining heads a model without them leaves out.
        return ("cls.predictions.", "cls.seq_relationship.")

    def build(self, **kwargs):
        """Build the Keras model (`self.model`); once."""
        if self.model is not None:
            return
        self.backbone = self._backbone(
            vocabulary_size=self.vocab_size,
            num_layers=self.num_hidden_layers,
            num_heads=self.num_attention_heads,
            hidden_dim=self.hidden_size,
            intermediate_dim=self.intermediate_size,
            dropout=self.dropout_rate,
            max_sequence_length=self.max_position,
            num_segments=self.segment_vocab_size,
            activation=self.hidden_act,
            attention_mask_input=self.application != "encoder",
            position_ids_input=bool(self.custom_position_ids),
        )
        # Float inputs, as bert4keras's (Keras's default): scripts compute
        # losses with them (`loss * segment_ids`).
        shape = (self.sequence_length,)
        inputs = [keras.Input(shape, name="Input-Token")]
        inputs.append(keras.Input(shape, name="Input-Segment"))
        if self.custom_position_ids:
            inputs.append(keras.Input(shape, name="Input-Position"))
        token_ids, segment_ids = (ops.cast(x, "int32") for x in inputs[:2])
        padding = ops.cast(ops.not_equal(token_ids, 0), "int32")  # (B, T)
        features = {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding}
        if self.custom_position_ids:
            features["position_ids"] = ops.cast(inputs[2], "int32")
        if self.application != "encoder":
            mask = _AttentionMask(self.application, name=f"Attention-{self.application}-Mask")
            features["attention_mask"] = mask(token_ids, segment_ids)
        encoded = self.backbone(features)
        # The sequence output carries the padding mask (token id 0), as
        # bert4keras's did through `mask_zero`: a CRF or a loss downstream
        # leaves padding out.
        padded = _PaddingMask(name="Sequence-Mask")
        outputs = [padded([encoded["sequence_output"], token_ids])]
        if self.with_pool:
            pooled = encoded["pooled_output"]
            if self.with_pool not in (True, "tanh"):  # the pooler's dense, another activation
                pooler = self.backbone.get_layer("pooled_dense")
                pooled = _Pool(pooler, self.with_pool, name="Pooler-Dense")(
                    encoded["sequence_output"]
                )
            if self.with_nsp:
                self.nsp = keras.layers.Dense(2, activation="softmax", name="NSP-Proba")
                pooled = self.nsp(pooled)
            outputs.append(pooled)
        if self.with_mlm:
            self.mlm = self._mlm_head()
            sequence = encoded["sequence_output"]
            positions = _AllPositions(name="MLM-Positions")(token_ids)  # (B, T)
            activation = "softmax" if self.with_mlm is True else self.with_mlm
            logits = padded([self.mlm(sequence, positions), token_ids])  # (B, T, V)
            outputs.append(keras.layers.Activation(activation, name="MLM-Activation")(logits))
        if len(outputs) > 1:
            outputs = outputs[1:]
        self.inputs, self.outputs = inputs, outputs
        self.model = keras.Model(inputs, outputs[0] if len(outputs) == 1 else outputs)

    def _backbone(self, **arguments):
        return BertBackbone(**arguments)

    def _mlm_head(self):
        token_embedding = self.backbone.get_layer("token_embedding")
        return MaskedLMHead(token_embedding, activation=self.hidden_act, name="MLM")

    def hf_weight_table(self):
        """`[(variable, hf_name, layout)]`: BERT's table, and the heads'."""
        table = weight_table(self.backbone)
        if self.with_nsp:
            table += [
                (self.nsp.kernel, "cls.seq_relationship.weight", TRANSPOSE),
                (self.nsp.bias, "cls.seq_relationship.bias", SAME),
            ]
        if self.with_mlm:
            head = self.mlm
            table += [
                (head.dense.kernel, "cls.predictions.transform.dense.weight", TRANSPOSE),
                (head.dense.bias, "cls.predictions.transform.dense.bias", SAME),
                (head.layer_norm.gamma, "cls.predictions.transform.LayerNorm.weight", SAME),
                (head.layer_norm.beta, "cls.predictions.transform.LayerNorm.bias", SAME),
                (head.bias, "cls.predictions.bias", SAME),
            ]
        return table

    def load_weights_from_checkpoint(self, checkpoint):
        """Load Google's TensorFlow checkpoint `checkpoint` (its prefix, its
        `.index` file or its folder), with `keep_tokens` and
        `compound_tokens` applied to the vocabulary's rows. Strict: a
        missing or mis-shaped weight is an error naming it, and no weight
        changes."""
        prefix = checkpoint_prefix(checkpoint)
        tensors = self._read_checkpoint(prefix)
        for name in ("embeddings.word_embeddings.weight", self.hf_output_bias):
            key = name if name in tensors else self.hf_prefix + name
            if key in tensors:
                tensors[key] = self._vocabulary_rows(tensors[key])
        return assign_hf_tensors(self, tensors, prefix)

    # Google's checkpoints' family (`google_to_hf_name`), and the MLM's bias.
    google_family = "bert"
    hf_output_bias = "cls.predictions.bias"

    def _read_checkpoint(self, prefix):
        """`{hf_name: array}` of the checkpoint's weights (not its training state)."""
        tensors = {}
        for name, value in read_tf_checkpoint(prefix).items():
            if name.rsplit("/", 1)[-1] in _TRAINING_STATE:
                continue
            hf_name, transpose = google_to_hf_name(name, self.google_family)
            if hf_name in tensors:
                raise CheckpointError(f"{prefix} holds two tensors named {hf_name!r}.")
            tensors[hf_name] = value.T if transpose else value
        return tensors

    def _vocabulary_rows(self, table):
        table = np.asarray(table, "float32")
        if self.keep_tokens is not None:
            table = table[np.asarray(self.keep_tokens)]
        if self.compound_tokens is not None:
            rows = []
            for item in self.compound_tokens:
                ids, weights = (item, [1] * len(item)) if isinstance(item, list) else item
                rows.append(np.average(table[np.asarray(ids)], axis=0, weights=weights))
            table = np.concatenate([table, np.asarray(rows, table.dtype)], axis=0)
        return table


class ALBERT(BERT):
    """bert4keras's `ALBERT` model builder: BERT's settings and outputs on
    kerastack's `AlbertBackbone` (embeddings `embedding_size` wide,
    projected to `hidden_size`), reading Google's ALBERT checkpoints.

    `shared=True` (bert4keras's `"albert"`): one block serves all
    `num_hidden_layers` passes. `shared=False` (`"albert_unshared"`): a
    block per layer, each loaded from the checkpoint's one shared block, to
    be fine-tuned apart. The MLM head is ALBERT's: dense `hidden_size` ->
    `embedding_size`, the activation, LayerNorm, then the word embeddings'
    transpose and a bias.

    Example:

    >>> albert = ALBERT(vocab_size=20, hidden_size=8, embedding_size=4,
    ...     num_hidden_layers=3, num_attention_heads=2, intermediate_size=16,
    ...     hidden_act="gelu", max_position=16, with_mlm=True)
    >>> albert.build()
    >>> [tuple(t.shape) for t in albert.model.outputs]
    [(None, None, 20)]
    >>> len(albert.backbone.weights)  # one block's weights, whatever the depth
    25
    """

    def __init__(self, embedding_size=None, shared=True, **kwargs):
        super().__init__(**kwargs)
        self.embedding_size = embedding_size or self.hidden_size
        self.shared = bool(shared)

    hf_prefix = "albert."
    google_family = "albert"
    hf_output_bias = "predictions.bias"

    @property
    def hf_ignored_prefixes(self):
        # The pretraining heads a model without them leaves out.
        return ("predictions.", "sop_classifier.")

    def _backbone(self, num_layers, **arguments):
        return AlbertBackbone(
            num_layers=num_layers,
            embedding_dim=self.embedding_size,
            num_groups=1 if self.shared else num_layers,
            **arguments,
        )

    def _mlm_head(self):
        token_embedding = self.backbone.get_layer("token_embedding")
        return _AlbertMLMHead(token_embedding, activation=self.hidden_act, name="MLM")

    def hf_weight_table(self):
        """`[(variable, hf_name, layout)]`: HF ALBERT's table, and the heads'."""
        table = self.backbone.hf_weight_table()
        if self.with_nsp:
            table += [
                (self.nsp.kernel, "sop_classifier.classifier.weight", TRANSPOSE),
                (self.nsp.bias, "sop_classifier.classifier.bias", SAME),
            ]
        if self.with_mlm:
            head = self.mlm
            table += [
                (head.dense.kernel, "predictions.dense.weight", TRANSPOSE),
                (head.dense.bias, "predictions.dense.bias", SAME),
                (head.layer_norm.gamma, "predictions.LayerNorm.weight", SAME),
                (head.layer_norm.beta, "predictions.LayerNorm.bias", SAME),
                (head.bias, "predictions.bias", SAME),
            ]
        return table

    def _read_checkpoint(self, prefix):
        tensors = super()._read_checkpoint(prefix)
        if self.shared:
            return tensors
        # Unshared: every layer starts from the checkpoint's shared block
        # (group 0), as bert4keras's `ALBERT_Unshared` loads it.
        first = "encoder.albert_layer_groups.0."
        for name in list(tensors):
            if name.startswith("encoder.albert_layer_groups.") and not name.startswith(first):
                raise CheckpointError(
                    f"{prefix} holds {name!r}: albert_unshared loads every layer from the "
                    "checkpoint's one shared block (group 0), and this one has several groups."
                )
        for name in [name for name in tensors if name.startswith(first)]:
            for group in range(1, self.num_hidden_layers):
                rest = name[len(first) :]
                tensors[f"encoder.albert_layer_groups.{group}.{rest}"] = tensors[name]
        return tensors


class _AlbertMLMHead(keras.layers.Layer):
    """ALBERT's masked-LM logits `(B, P, V)`: dense D -> E, the activation,
    LayerNorm over E, then the (V, E) word embeddings' transpose and a
    bias; at `mask_positions` `(B, P)`, or at every position."""

    def __init__(self, token_embedding, activation="gelu", layer_norm_epsilon=1e-12, **kwargs):
        super().__init__(**kwargs)
        self.token_embedding = token_embedding
        self.activation = activation
        self.layer_norm_epsilon = layer_norm_epsilon

    def build(self, sequence_shape, mask_positions_shape=None):
        width = self.token_embedding.output_dim  # E
        self.dense = keras.layers.Dense(
            width, activation=get_activation(self.activation), name="transform_dense"
        )
        self.dense.build((None, None, sequence_shape[-1]))
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, name="transform_layer_norm"
        )
        self.layer_norm.build((None, None, width))
        self.bias = self.add_weight(
            name="output_bias", shape=(self.token_embedding.input_dim,), initializer="zeros"
        )

    def call(self, sequence, mask_positions=None):
        x = sequence  # (B, T, D)
        if mask_positions is not None:
            positions = ops.expand_dims(ops.cast(mask_positions, "int32"), -1)  # (B, P, 1)
            x = ops.take_along_axis(sequence, positions, axis=1)  # (B, P, D)
        x = self.layer_norm(self.dense(x))  # (B, P, E)
        table = ops.cast(self.token_embedding.embeddings, "float32")  # (V, E)
        return ops.matmul(ops.cast(x, "float32"), ops.transpose(table)) + self.bias

    def compute_output_spec(self, sequence, mask_positions=None):
        length = sequence.shape[1] if mask_positions is None else mask_positions.shape[1]
        shape = (sequence.shape[0], length, self.token_embedding.input_dim)
        return keras.KerasTensor(shape, dtype="float32")


class _AttentionMask(keras.layers.Layer):
    """`(B, T, T)`, 1 where token i may attend to token j: j <= i (`"lm"`), or
    UniLM's (`"unilm"`): the count of target tokens (segment 1) up to j is at
    most that up to i, so every token sees the source and the target tokens
    up to itself. Padding keys are masked by the backbone's padding mask."""

    def __init__(self, kind, **kwargs):
        super().__init__(**kwargs)
        self.kind = kind

    def call(self, token_ids, segment_ids):
        if self.kind == "lm":
            order = ops.cumsum(ops.ones_like(token_ids), axis=1)  # 1, 2, ..., T
        else:
            order = ops.cumsum(segment_ids, axis=1)  # (B, T)
        return ops.cast(ops.less_equal(order[:, None, :], order[:, :, None]), "int32")

    def compute_output_spec(self, token_ids, segment_ids):
        batch, length = token_ids.shape
        return keras.KerasTensor((batch, length, length), dtype="int32")


class _Pool(keras.layers.Layer):
    """`activation(W x[:, 0] + b)`, `(B, D)`, with the weights of the
    backbone's pooler (`dense`): bert4keras's `with_pool="linear"` (or
    another activation than tanh)."""

    def __init__(self, dense, activation, **kwargs):
        super().__init__(**kwargs)
        self.dense = dense
        self.activation = keras.activations.get(activation)

    def call(self, sequence):
        first = sequence[:, 0, :]  # (B, D)
        return self.activation(ops.matmul(first, self.dense.kernel) + self.dense.bias)

    def compute_output_spec(self, sequence):
        return keras.KerasTensor((sequence.shape[0], sequence.shape[2]), dtype=sequence.dtype)


class _PaddingMask(keras.layers.Layer):
    """`[x, token_ids]` -> `x`, with the Keras mask `token_ids != 0`."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        return ops.copy(inputs[0])

    def compute_mask(self, inputs, mask=None):
        return ops.not_equal(inputs[1], 0)

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(inputs[0].shape, dtype=inputs[0].dtype)


class _AllPositions(keras.layers.Layer):
    """`(B, T)`: 0, 1, ..., T - 1 in every row (the MLM head reads every position)."""

    def call(self, token_ids):
        length = ops.shape(token_ids)[1]
        return ops.broadcast_to(ops.arange(length, dtype="int32")[None], ops.shape(token_ids))

    def compute_output_spec(self, token_ids):
        return keras.KerasTensor(token_ids.shape, dtype="int32")


# bert4keras's other families, which kerastack has as packages of its own
# (each loads the TensorFlow checkpoints bert4keras users load).
_ON_KERASTACK_API = {
    "nezha": "kerastack.nezha (NezhaBackbone, load_huawei_checkpoint)",
    "roformer": "kerastack.roformer (RoFormerBackbone, load_roformer_checkpoint)",
    "roformer_v2": "kerastack.roformer (RoFormerV2Backbone, load_roformer_checkpoint)",
    "electra": "kerastack.electra (ElectraBackbone, load_google_checkpoint)",
    "t5": "kerastack.t5 (T5Seq2SeqLM, load_t5_google_weights)",
    "t5.1.0": "kerastack.t5 (T5Seq2SeqLM, load_t5_google_weights)",
    "t5.1.1": "kerastack.t5 (T5Seq2SeqLM, load_t5_google_weights)",
    "mt5.1.1": "kerastack.t5 (T5Seq2SeqLM, load_t5_google_weights)",
    "gpt": "kerastack.gpt (OpenAIGPTCausalLM, load_openai_params)",
}


def build_transformer_model(
    config_path=None,
    checkpoint_path=None,
    model="bert",
    application="encoder",
    return_keras_model=True,
    **kwargs,
):
    """bert4keras's `build_transformer_model`: a BERT (or RoBERTa, ALBERT)
    Keras model from a Google `bert_config.json` (`albert_config.json`),
    with the weights of its TensorFlow checkpoint when `checkpoint_path` is
    given.

    Args:
        config_path: the JSON config (Google's or HF's BERT keys; ALBERT's
            `embedding_size`); keyword arguments override its values.
        checkpoint_path: Google's TensorFlow checkpoint (prefix, `.index`
            file or folder), or None for random weights.
        model: `"bert"` or `"roberta"` (brightmart's and HIT's RoBERTa
            checkpoints use BERT's layout), `"albert"` (Google's ALBERT
            checkpoints: one block shared by all layers) or
            `"albert_unshared"` (a block per layer, each loaded from the
            shared one).
        application: `"encoder"`, `"lm"` (causal) or `"unilm"`.
        return_keras_model: the Keras model (True) or the `BERT` (`ALBERT`)
            builder.
        **kwargs: `with_pool`, `with_nsp`, `with_mlm`, `keep_tokens`,
            `compound_tokens`, `custom_position_ids`, `segment_vocab_size`,
            `sequence_length`, `dropout_rate`, and any config key.

    Example:

    >>> import json, os, tempfile
    >>> config = {"vocab_size": 30, "hidden_size": 8, "num_hidden_layers": 1,
    ...     "num_attention_heads": 2, "intermediate_size": 16, "hidden_act": "gelu",
    ...     "max_position_embeddings": 16, "type_vocab_size": 2}
    >>> path = os.path.join(tempfile.mkdtemp(), "bert_config.json")
    >>> with open(path, "w") as file:
    ...     json.dump(config, file)
    >>> model = build_transformer_model(path, application="unilm")
    >>> probabilities = model.predict([np.array([[2, 5, 3, 7, 3]]), np.array([[0, 0, 0, 1, 1]])],
    ...     verbose=0)
    >>> probabilities.shape
    (1, 5, 30)
    """
    configs = {}
    if config_path is not None:
        configs.update(read_json_object(config_path))
    configs.update(kwargs)
    configs.setdefault("max_position", configs.get("max_position_embeddings", 512))
    configs.setdefault("dropout_rate", configs.get("hidden_dropout_prob"))
    configs.setdefault("attention_dropout_rate", configs.get("attention_probs_dropout_prob"))
    configs.setdefault("segment_vocab_size", configs.get("type_vocab_size", 2))
    if not isinstance(model, str) or model.lower() not in _FAMILIES:
        elsewhere = _ON_KERASTACK_API.get(model.lower() if isinstance(model, str) else None)
        hint = (
            f"; kerastack has it on its own API: {elsewhere}"
            if elsewhere
            else " (the other families come as kerastack gains them)"
        )
        raise ValueError(
            f"kerastack-bert4keras builds {list(_FAMILIES)} models; received model={model!r}{hint}."
        )
    family = model.lower()
    if family.startswith("albert"):
        transformer = ALBERT(application=application, shared=family == "albert", **configs)
    else:
        transformer = BERT(application=application, **configs)
    transformer.build()
    if checkpoint_path is not None:
        transformer.load_weights_from_checkpoint(checkpoint_path)
    return transformer.model if return_keras_model else transformer
