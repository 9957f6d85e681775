"""RoFormer's task models, HF's heads on a `RoFormerBackbone`: masked LM
(`RoFormerForMaskedLM`), sequence classification
(`RoFormerForSequenceClassification`), token classification and question
answering. Each model's `hf_weight_table()` extends the backbone's with its
head's HF tensors, so a whole HF task checkpoint loads strictly. Logits are
float32, whatever the dtype policy."""

import os

from kerastack.core import CheckedInputs, check_float, check_int, keras, ops, serializable
from kerastack.layernorm import LayerNormalization
from kerastack.models import (
    SAME,
    TRANSPOSE,
    Pretrained,
    TaskModel,
    float32_dense,
    read_json_object,
)
from kerastack.models import activation as get_activation
from kerastack.roformer.roformer_backbone import RoFormerBackbone, RoFormerV2Backbone
from kerastack.roformer.roformer_config import RoFormerConfig
from kerastack.roformer.roformer_weights import (
    IGNORED_PREFIXES,
    load_roformer_checkpoint,
    weight_table,
)

__all__ = [
    "RoFormerClassifier",
    "RoFormerMaskedLM",
    "RoFormerQuestionAnswerer",
    "RoFormerTokenClassifier",
]


def _initializer(backbone):
    return keras.initializers.TruncatedNormal(stddev=backbone.initializer_range)


class _Task(CheckedInputs, Pretrained, TaskModel):
    """A functional model on a RoFormer backbone, saved as the backbone plus
    its arguments; inputs checked as the backbone's."""

    hf_prefix = "roformer."
    hf_ignored_prefixes = IGNORED_PREFIXES
    # The backbones the head works on: v2's (no biases, RMS norms) too,
    # except where a head says otherwise.
    _backbones = (RoFormerBackbone, RoFormerV2Backbone)
    _refusal_note = ""

    def _check_backbone(self, backbone):
        """A ValueError unless `backbone` is one of `_backbones`, before any
        layer is built on it."""
        if not isinstance(backbone, self._backbones):
            expected = " or ".join(kind.__name__ for kind in self._backbones)
            note = self._refusal_note if isinstance(backbone, RoFormerV2Backbone) else ""
            raise ValueError(
                f"{type(self).__name__} needs a {expected}, received a "
                f"{type(backbone).__name__}{note}."
            )

    @classmethod
    def from_config_file(cls, path, **kwargs):
        """The task model on a randomly initialized `RoFormerBackbone` shaped
        by the config in `path`; `kwargs` go to the task model."""
        return cls.from_backbone_config(RoFormerBackbone, path, **kwargs)

    def load_checkpoint(self, folder, allow_longer_position_table=False):
        """Load the HF or Zhuiyi checkpoint in `folder`, head included
        (`kerastack.roformer.load_roformer_checkpoint`)."""
        return load_roformer_checkpoint(self, folder)

    def hf_weight_table(self):
        return weight_table(self.backbone) + self._head_table()


def _num_labels(path):
    """The number of labels of an HF config (`id2label`, else `num_labels`)."""
    if os.path.isdir(path):
        path = os.path.join(path, "config.json")
    values = read_json_object(path)
    if isinstance(values.get("id2label"), dict):
        return len(values["id2label"])
    return values.get("num_labels", 2)


def _check_head(num_classes, dropout):
    """`num_classes` an int >= 1 and `dropout` a float in `[0, 1)`, or a
    ValueError naming the argument and its value."""
    return (
        check_int("num_classes", num_classes, minimum=1),
        check_float("dropout", dropout, minimum=0.0, maximum=1.0, exclusive_maximum=True),
    )


class _LabelledTask(_Task):
    @classmethod
    def from_config_file(cls, path, **kwargs):
        """As `_Task`'s; `num_classes` defaults to the config's number of
        labels (HF's `id2label`)."""
        kwargs.setdefault("num_classes", _num_labels(os.fspath(path)))
        return cls.from_backbone_config(RoFormerBackbone, path, **kwargs)


class _MaskedLMHead(keras.layers.Layer):
    """HF RoFormer's `cls.predictions`: `dense` to the embedding width E,
    the activation, a layer norm, then logits against the word table `(V,
    E)` (tied) plus a bias. Saved with the task model, never alone."""

    def __init__(self, token_embedding, activation, layer_norm_epsilon, **kwargs):
        super().__init__(**kwargs)
        self.token_embedding = token_embedding
        self.activation = keras.activations.get(get_activation(activation))
        self.layer_norm_epsilon = layer_norm_epsilon

    def build(self, sequence_shape):
        width = self.token_embedding.output_dim
        self.dense = keras.layers.Dense(width, dtype=self.dtype_policy, name="transform_dense")
        self.dense.build(sequence_shape)
        self.layer_norm = LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name="transform_layer_norm"
        )
        self.layer_norm.build(tuple(sequence_shape[:-1]) + (width,))
        self.bias = self.add_weight(
            name="output_bias", shape=(self.token_embedding.input_dim,), initializer="zeros"
        )

    def call(self, sequence):
        x = self.layer_norm(self.activation(self.dense(sequence)))  # (B, T, E)
        table = ops.cast(self.token_embedding.embeddings, "float32")  # (V, E)
        logits = ops.matmul(ops.cast(x, "float32"), ops.transpose(table))  # (B, T, V)
        return logits + ops.cast(self.bias, "float32")

    def compute_output_shape(self, sequence_shape):
        return tuple(sequence_shape[:-1]) + (self.token_embedding.input_dim,)


@serializable
class RoFormerMaskedLM(_Task):
    """Masked-LM logits at every position, float32 `(B, T, V)` (HF's
    `RoFormerForMaskedLM`, and the MLM head of Zhuiyi's checkpoints): a
    dense layer to the embedding width, the activation, a layer norm, and
    the word table (tied) with a bias.

    Args:
        backbone: a `RoFormerBackbone` (v1 only: a `RoFormerV2Backbone` is
            a ValueError).
        layer_norm_epsilon: float > 0, the epsilon of the head's norm;
            None: the backbone's.
        **kwargs: `keras.Model` arguments.

    Example:

    >>> backbone = RoFormerBackbone(vocabulary_size=30, num_layers=1, num_heads=2,
    ...     hidden_dim=8, intermediate_dim=16, embedding_dim=6, max_sequence_length=16)
    >>> ids = np.array([[2, 7, 4, 3, 0]])  # [CLS] ... [MASK] [SEP] [PAD]
    >>> model = RoFormerMaskedLM(backbone)
    >>> logits = model({"token_ids": ids, "segment_ids": np.zeros_like(ids),
    ...     "padding_mask": ids != 0})
    >>> tuple(logits.shape)
    (1, 5, 30)
    >>> model.mlm_head.token_embedding is backbone.get_layer("token_embedding")  # tied
    True
    """

    # HF's head (biased dense and layer norm) is RoFormer v1's; v2's
    # pretraining head (bias-free, a parameter-free norm) is another.
    _backbones = (RoFormerBackbone,)
    _refusal_note = " (this is HF's RoFormer-v1 masked-LM head; v2 has no such head)"

    def __init__(self, backbone, layer_norm_epsilon=None, **kwargs):
        self._check_backbone(backbone)
        layer_norm_epsilon = check_float(
            "layer_norm_epsilon",
            layer_norm_epsilon,
            minimum=0.0,
            exclusive_minimum=True,
            allow_none=True,
        )
        inputs = dict(backbone.input)
        sequence = backbone(inputs)["sequence_output"]
        head = _MaskedLMHead(
            backbone.get_layer("token_embedding"),
            activation=backbone.activation,
            layer_norm_epsilon=layer_norm_epsilon or backbone.layer_norm_epsilon,
            dtype=backbone.dtype_policy,
            name="mlm_head",
        )
        arguments = {"layer_norm_epsilon": layer_norm_epsilon}
        self._init(backbone, inputs, head(sequence), arguments, **kwargs)
        self.mlm_head = head

    @classmethod
    def from_config_file(cls, path, **kwargs):
        """As the other task models'; for Zhuiyi's `bert_config.json` (no
        `model_type`, no `layer_norm_eps`) the head's norm takes
        bert4keras's epsilon for it, 1e-12 (its blocks' is 1e-7)."""
        path = os.fspath(path)
        file = path
        if os.path.isdir(path):
            names = [os.path.join(path, name) for name in RoFormerConfig.FILE_NAMES]
            file = next((name for name in names if os.path.isfile(name)), names[0])
        values = read_json_object(file)
        if not {"model_type", "layer_norm_eps"} & set(values):
            kwargs.setdefault("layer_norm_epsilon", 1e-12)
        return cls.from_backbone_config(RoFormerBackbone, path, **kwargs)

    def _head_table(self):
        head = self.mlm_head
        return [
            (head.dense.kernel, "cls.predictions.transform.dense.weight", TRANSPOSE),
            (head.dense.bias, "cls.predictions.transform.dense.bias", SAME),
            (head.layer_norm.gamma, "cls.predictions.transform.LayerNorm.weight", SAME),
            (head.layer_norm.beta, "cls.predictions.transform.LayerNorm.bias", SAME),
            (head.bias, "cls.predictions.bias", SAME),
        ]


@serializable
class RoFormerClassifier(_LabelledTask):
    """Sequence classification, HF's `RoFormerForSequenceClassification`:
    the first token's output, dropout, a dense layer with the backbone's
    activation, dropout, then float32 logits `(B, num_classes)`.

    Args:
        backbone: a `RoFormerBackbone` (or `RoFormerV2Backbone`).
        num_classes: int >= 1; read from the config's labels by
            `from_pretrained` when not given.
        dropout: float in `[0, 1)`, dropout before each dense layer.
        **kwargs: `keras.Model` arguments.

    Example:

    >>> backbone = RoFormerBackbone(vocabulary_size=30, num_layers=1, num_heads=2,
    ...     hidden_dim=8, intermediate_dim=16, max_sequence_length=16)
    >>> ids = np.array([[2, 7, 8, 3, 0]])
    >>> inputs = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": ids != 0}
    >>> classifier = RoFormerClassifier(backbone, num_classes=3)
    >>> logits = classifier(inputs)
    >>> tuple(logits.shape), keras.backend.standardize_dtype(logits.dtype)
    ((1, 3), 'float32')
    >>> RoFormerClassifier(backbone, num_classes=0)
    Traceback (most recent call last):
    ...
    ValueError: `num_classes` must be a positive int, received num_classes=0.
    """

    def __init__(self, backbone, num_classes, dropout=0.1, **kwargs):
        self._check_backbone(backbone)
        num_classes, dropout = _check_head(num_classes, dropout)
        inputs = dict(backbone.input)
        first = backbone(inputs)["sequence_output"][:, 0, :]  # (B, D)
        dtype = backbone.dtype_policy
        x = keras.layers.Dropout(dropout, dtype=dtype, name="classifier_dropout")(first)
        dense = keras.layers.Dense(
            backbone.hidden_dim,
            activation=get_activation(backbone.activation),
            use_bias=backbone.use_bias,
            kernel_initializer=_initializer(backbone),
            dtype=dtype,
            name="classifier_dense",
        )
        x = dense(x)
        x = keras.layers.Dropout(dropout, dtype=dtype, name="classifier_dense_dropout")(x)
        output = float32_dense(num_classes, backbone, "classifier")
        logits = output(x)
        self._init(
            backbone, inputs, logits, {"num_classes": num_classes, "dropout": dropout}, **kwargs
        )
        self.dense, self.classifier = dense, output

    def _head_table(self):
        table = [(self.dense.kernel, "classifier.dense.weight", TRANSPOSE)]
        if self.dense.use_bias:
            table.append((self.dense.bias, "classifier.dense.bias", SAME))
        return table + [
            (self.classifier.kernel, "classifier.out_proj.weight", TRANSPOSE),
            (self.classifier.bias, "classifier.out_proj.bias", SAME),
        ]


@serializable
class RoFormerTokenClassifier(_LabelledTask):
    """Token classification (NER, tagging), HF's
    `RoFormerForTokenClassification`: dropout, then float32 logits
    `(B, T, num_classes)` from the sequence output.

    Args:
        backbone: a `RoFormerBackbone` (or `RoFormerV2Backbone`).
        num_classes: int >= 1; read from the config's labels by
            `from_pretrained` when not given.
        dropout: float in `[0, 1)`, dropout before the dense layer.
        **kwargs: `keras.Model` arguments.

    Example:

    >>> backbone = RoFormerBackbone(vocabulary_size=30, num_layers=1, num_heads=2,
    ...     hidden_dim=8, intermediate_dim=16, max_sequence_length=16)
    >>> ids = np.array([[2, 7, 8, 3, 0]])
    >>> inputs = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": ids != 0}
    >>> tuple(RoFormerTokenClassifier(backbone, num_classes=4)(inputs).shape)
    (1, 5, 4)
    """

    def __init__(self, backbone, num_classes, dropout=0.1, **kwargs):
        self._check_backbone(backbone)
        num_classes, dropout = _check_head(num_classes, dropout)
        inputs = dict(backbone.input)
        sequence = backbone(inputs)["sequence_output"]
        x = keras.layers.Dropout(dropout, dtype=backbone.dtype_policy, name="classifier_dropout")(
            sequence
        )
        classifier = float32_dense(num_classes, backbone, "classifier")
        logits = classifier(x)  # (B, T, K)
        self._init(
            backbone, inputs, logits, {"num_classes": num_classes, "dropout": dropout}, **kwargs
        )
        self.classifier = classifier

    def _head_table(self):
        return [
            (self.classifier.kernel, "classifier.weight", TRANSPOSE),
            (self.classifier.bias, "classifier.bias", SAME),
        ]


@serializable
class RoFormerQuestionAnswerer(_Task):
    """Extractive question answering, HF's `RoFormerForQuestionAnswering`:
    float32 `start_logits` and `end_logits`, each `(B, T)`.

    Args:
        backbone: a `RoFormerBackbone` (or `RoFormerV2Backbone`).
        **kwargs: `keras.Model` arguments.

    Example:

    >>> backbone = RoFormerBackbone(vocabulary_size=30, num_layers=1, num_heads=2,
    ...     hidden_dim=8, intermediate_dim=16, max_sequence_length=16)
    >>> ids = np.array([[2, 7, 8, 3, 0]])
    >>> inputs = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": ids != 0}
    >>> logits = RoFormerQuestionAnswerer(backbone)(inputs)
    >>> tuple(logits["start_logits"].shape), tuple(logits["end_logits"].shape)
    ((1, 5), (1, 5))
    """

    def __init__(self, backbone, **kwargs):
        self._check_backbone(backbone)
        inputs = dict(backbone.input)
        sequence = backbone(inputs)["sequence_output"]
        span = float32_dense(2, backbone, "qa_outputs")
        logits = span(sequence)  # (B, T, 2)
        start, end = ops.split(logits, 2, axis=-1)
        outputs = {"start_logits": ops.squeeze(start, -1), "end_logits": ops.squeeze(end, -1)}
        self._init(backbone, inputs, outputs, {}, **kwargs)
        self.span = span

    def _head_table(self):
        return [
            (self.span.kernel, "qa_outputs.weight", TRANSPOSE),
            (self.span.bias, "qa_outputs.bias", SAME),
        ]
