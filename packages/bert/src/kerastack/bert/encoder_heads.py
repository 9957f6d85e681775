"""Task models for RoBERTa (with XLM-RoBERTa and CamemBERT, its encoder)
and ALBERT, with HF's task heads and names: sequence classification, token
classification, question answering and the masked LM.

Each reads its backbone's own HF table (`backbone.hf_weight_table()`) and
prefix (`roberta.`, `albert.`) and adds its head's tensors, so
`from_pretrained` loads an HF task checkpoint strictly and
`save_hf_weights` writes one transformers loads. Logits are float32,
whatever the dtype policy.
"""

import json
import os

from kerastack.bert.albert_backbone import AlbertBackbone
from kerastack.bert.heads import (
    BertClassifier,
    BertQuestionAnswerer,
    BertTokenClassifier,
    _Task,
)
from kerastack.bert.roberta_backbone import RobertaBackbone, check_not_google_layout
from kerastack.bert.xlm_roberta_backbone import CamembertBackbone, XLMRobertaBackbone
from kerastack.core import keras, ops, serializable
from kerastack.layernorm import LayerNormalization
from kerastack.models import SAME, TRANSPOSE, MaskedLMHead, activation, float32_dense

# Buffers HF saves beside the weights; the tied decoders of masked-LM heads
# (the word embeddings and the head's bias), saved by older transformers.
_BUFFERS = ("embeddings.position_ids", "embeddings.token_type_ids")
_ROBERTA_BACKBONES = {
    "roberta": RobertaBackbone,
    "xlm-roberta": XLMRobertaBackbone,
    "camembert": CamembertBackbone,
}
_ALBERT_BACKBONES = {"albert": AlbertBackbone}


def _model_type(path):
    """The `model_type` of the `config.json` in `path` (a file or folder);
    a folder with Google's `albert_config.json` instead is "albert"."""
    if os.path.isdir(path):
        if not os.path.exists(os.path.join(path, "config.json")) and os.path.exists(
            os.path.join(path, "albert_config.json")
        ):
            return "albert", os.path.join(path, "albert_config.json")
        path = os.path.join(path, "config.json")
    try:
        with open(path, encoding="utf-8") as file:
            config = json.load(file)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"Could not read the checkpoint config {path}: {error}") from error
    if not isinstance(config, dict):
        raise ValueError(f"{path} does not hold a JSON object.")
    return config.get("model_type"), path


class _FamilyTask:
    """What the task models of a family other than BERT change in BERT's
    `_Task`: the backbone's HF table, prefix and class, read from the
    config's `model_type` (`BACKBONES`)."""

    BACKBONES = {}
    # What a checkpoint of this task may hold that the model leaves out.
    _left_out = ()

    @property
    def hf_prefix(self):
        return self.backbone.hf_prefix

    @property
    def hf_ignored_prefixes(self):
        return _BUFFERS + self._left_out

    @classmethod
    def from_config_file(cls, path, **kwargs):
        """The task model on a randomly initialized backbone of the
        config's `model_type` (one of `BACKBONES`); `kwargs` go to the
        task model."""
        check_not_google_layout(path, cls.__name__)
        model_type, source = _model_type(os.fspath(path))
        if model_type not in cls.BACKBONES:
            raise ValueError(
                f"{source} has model_type={model_type!r}; {cls.__name__} is built on "
                f"{sorted(cls.BACKBONES)} backbones."
            )
        return cls.from_backbone_config(cls.BACKBONES[model_type], path, **kwargs)

    def hf_weight_table(self):
        """The backbone's table (without the pooler where HF's task model has
        none), then the head's."""
        table = self.backbone.hf_weight_table()
        if not self._uses_pooler:
            table = [entry for entry in table if not entry[1].startswith("pooler.")]
        return table + self._head_table()


def _check_backbone(backbone, kinds, name):
    if not isinstance(backbone, kinds):
        raise ValueError(
            f"{name} takes a {' or '.join(k.__name__ for k in kinds)}, received a "
            f"{type(backbone).__name__}."
        )


@serializable
class RobertaClassifier(_FamilyTask, _Task):
    """Sequence classification on RoBERTa (HF's
    `RobertaForSequenceClassification`, also XLM-R's and CamemBERT's):
    the `<s>` token's output, `dropout`, `tanh(dense)`, `dropout`, then
    float32 logits `(B, num_classes)`. RoBERTa's pooler is not used (HF's
    model has none).

    Args:
        backbone: a `RobertaBackbone` (or `XLMRobertaBackbone`,
            `CamembertBackbone`).
        num_classes: int.
        dropout: float, before and after the dense layer.
        **kwargs: `keras.Model` arguments.

    Example:

    >>> backbone = RobertaBackbone(vocabulary_size=30, num_layers=1, num_heads=2,
    ...     hidden_dim=8, intermediate_dim=16, max_sequence_length=16)
    >>> ids = np.array([[0, 7, 8, 2, 1]])  # <s> ... </s> <pad>
    >>> classifier = RobertaClassifier(backbone, num_classes=3)
    >>> tuple(classifier({"token_ids": ids, "padding_mask": ids != 1}).shape)
    (1, 3)
    >>> [name for _, name, _ in classifier.hf_weight_table()[-4:]]  # HF's head
    ['classifier.dense.weight', 'classifier.dense.bias', 'classifier.out_proj.weight',
     'classifier.out_proj.bias']
    """

    BACKBONES = _ROBERTA_BACKBONES
    _uses_pooler = False

    def __init__(self, backbone, num_classes, dropout=0.1, **kwargs):
        _check_backbone(backbone, (RobertaBackbone,), "RobertaClassifier")
        inputs = dict(backbone.input)
        first = backbone(inputs)["sequence_output"][:, 0, :]  # (B, D), <s>
        policy = backbone.dtype_policy
        x = keras.layers.Dropout(dropout, dtype=policy, name="classifier_dropout")(first)
        dense = keras.layers.Dense(
            backbone.hidden_dim,
            activation="tanh",
            kernel_initializer=keras.initializers.TruncatedNormal(
                stddev=backbone.initializer_range
            ),
            dtype=policy,
            name="classifier_dense",
        )
        x = dense(x)
        x = keras.layers.Dropout(dropout, dtype=policy, name="classifier_dense_dropout")(x)
        output = float32_dense(num_classes, backbone, "classifier_out_proj")
        arguments = {"num_classes": num_classes, "dropout": dropout}
        super()._init(backbone, inputs, output(x), arguments, **kwargs)
        self.dense, self.output_dense = dense, output

    def _head_table(self):
        return [
            (self.dense.kernel, "classifier.dense.weight", TRANSPOSE),
            (self.dense.bias, "classifier.dense.bias", SAME),
            (self.output_dense.kernel, "classifier.out_proj.weight", TRANSPOSE),
            (self.output_dense.bias, "classifier.out_proj.bias", SAME),
        ]


@serializable
class RobertaTokenClassifier(_FamilyTask, BertTokenClassifier):
    """Token classification on RoBERTa (HF's
    `RobertaForTokenClassification`): `BertTokenClassifier` (the same
    arguments, CRF included) on a `RobertaBackbone`, `XLMRobertaBackbone`
    or `CamembertBackbone`.

    Example:

    >>> backbone = RobertaBackbone(vocabulary_size=30, num_layers=1, num_heads=2,
    ...     hidden_dim=8, intermediate_dim=16, max_sequence_length=16)
    >>> ids = np.array([[0, 7, 8, 2, 1]])
    >>> tuple(RobertaTokenClassifier(backbone, num_classes=4)(
    ...     {"token_ids": ids, "padding_mask": ids != 1}).shape)
    (1, 5, 4)
    """

    BACKBONES = _ROBERTA_BACKBONES

    def __init__(self, backbone, num_classes, dropout=0.1, crf=False, **kwargs):
        _check_backbone(backbone, (RobertaBackbone,), "RobertaTokenClassifier")
        super().__init__(backbone, num_classes, dropout=dropout, crf=crf, **kwargs)


@serializable
class RobertaQuestionAnswerer(_FamilyTask, BertQuestionAnswerer):
    """Extractive question answering on RoBERTa (HF's
    `RobertaForQuestionAnswering`): float32 `start_logits` and
    `end_logits`, each `(B, T)`.

    Example:

    >>> backbone = RobertaBackbone(vocabulary_size=30, num_layers=1, num_heads=2,
    ...     hidden_dim=8, intermediate_dim=16, max_sequence_length=16)
    >>> ids = np.array([[0, 7, 2, 2, 8, 2]])  # <s> question </s></s> context </s>
    >>> logits = RobertaQuestionAnswerer(backbone)({"token_ids": ids, "padding_mask": ids != 1})
    >>> tuple(logits["start_logits"].shape)
    (1, 6)
    """

    BACKBONES = _ROBERTA_BACKBONES

    def __init__(self, backbone, **kwargs):
        _check_backbone(backbone, (RobertaBackbone,), "RobertaQuestionAnswerer")
        super().__init__(backbone, **kwargs)


@serializable
class RobertaMaskedLM(_FamilyTask, _Task):
    """RoBERTa's masked language model (HF's `RobertaForMaskedLM`): at every
    position, `dense`, exact GELU, layer norm, then the word embeddings
    (tied) and a bias give float32 logits `(B, T, V)`.

    Example:

    >>> backbone = RobertaBackbone(vocabulary_size=30, num_layers=1, num_heads=2,
    ...     hidden_dim=8, intermediate_dim=16, max_sequence_length=16)
    >>> ids = np.array([[0, 7, 29, 2, 1]])  # 29 stands for <mask>
    >>> model = RobertaMaskedLM(backbone)
    >>> tuple(model({"token_ids": ids, "padding_mask": ids != 1}).shape)
    (1, 5, 30)
    >>> model.lm_head.token_embedding is backbone.get_layer("token_embedding")  # tied
    True
    """

    BACKBONES = _ROBERTA_BACKBONES
    _uses_pooler = False
    # The tied decoder (older transformers saved it), and the pooler of a
    # checkpoint saved with one.
    _left_out = ("lm_head.decoder.", "pooler.")

    def __init__(self, backbone, **kwargs):
        _check_backbone(backbone, (RobertaBackbone,), "RobertaMaskedLM")
        inputs = dict(backbone.input)
        sequence = backbone(inputs)["sequence_output"]
        # HF's RobertaLMHead uses the exact GELU, whatever hidden_act says.
        head = MaskedLMHead(
            backbone.get_layer("token_embedding"),
            activation="gelu",
            layer_norm_epsilon=backbone.layer_norm_epsilon,
            dtype=backbone.dtype_policy,
            name="lm_head",
        )
        super()._init(backbone, inputs, head(sequence), {}, **kwargs)
        self.lm_head = head

    def _head_table(self):
        head = self.lm_head
        return [
            (head.dense.kernel, "lm_head.dense.weight", TRANSPOSE),
            (head.dense.bias, "lm_head.dense.bias", SAME),
            (head.layer_norm.gamma, "lm_head.layer_norm.weight", SAME),
            (head.layer_norm.beta, "lm_head.layer_norm.bias", SAME),
            (head.bias, "lm_head.bias", SAME),
        ]


@serializable
class AlbertClassifier(_FamilyTask, BertClassifier):
    """Sequence classification on ALBERT (HF's
    `AlbertForSequenceClassification`): the pooled output, `dropout`, then
    float32 logits `(B, num_classes)`.

    Example:

    >>> backbone = AlbertBackbone(vocabulary_size=30, num_layers=2, num_heads=2,
    ...     hidden_dim=8, intermediate_dim=16, embedding_dim=4, max_sequence_length=16)
    >>> ids = np.array([[2, 7, 8, 3, 0]])  # [CLS] ... [SEP] <pad>
    >>> inputs = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": ids != 0}
    >>> tuple(AlbertClassifier(backbone, num_classes=3)(inputs).shape)
    (1, 3)
    """

    BACKBONES = _ALBERT_BACKBONES

    def __init__(self, backbone, num_classes, dropout=0.1, **kwargs):
        _check_backbone(backbone, (AlbertBackbone,), "AlbertClassifier")
        super().__init__(backbone, num_classes, dropout=dropout, **kwargs)


@serializable
class AlbertTokenClassifier(_FamilyTask, BertTokenClassifier):
    """Token classification on ALBERT (HF's `AlbertForTokenClassification`):
    `BertTokenClassifier` (the same arguments, CRF included) on an
    `AlbertBackbone`.

    Example:

    >>> backbone = AlbertBackbone(vocabulary_size=30, num_layers=2, num_heads=2,
    ...     hidden_dim=8, intermediate_dim=16, embedding_dim=4, max_sequence_length=16)
    >>> ids = np.array([[2, 7, 8, 3, 0]])
    >>> inputs = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": ids != 0}
    >>> tuple(AlbertTokenClassifier(backbone, num_classes=4)(inputs).shape)
    (1, 5, 4)
    """

    BACKBONES = _ALBERT_BACKBONES

    def __init__(self, backbone, num_classes, dropout=0.1, crf=False, **kwargs):
        _check_backbone(backbone, (AlbertBackbone,), "AlbertTokenClassifier")
        super().__init__(backbone, num_classes, dropout=dropout, crf=crf, **kwargs)


@serializable
class AlbertQuestionAnswerer(_FamilyTask, BertQuestionAnswerer):
    """Extractive question answering on ALBERT (HF's
    `AlbertForQuestionAnswering`): float32 `start_logits` and
    `end_logits`, each `(B, T)`.

    Example:

    >>> backbone = AlbertBackbone(vocabulary_size=30, num_layers=2, num_heads=2,
    ...     hidden_dim=8, intermediate_dim=16, embedding_dim=4, max_sequence_length=16)
    >>> ids = np.array([[2, 7, 3, 8, 3]])
    >>> inputs = {"token_ids": ids, "segment_ids": np.array([[0, 0, 0, 1, 1]]),
    ...     "padding_mask": ids != 0}
    >>> tuple(AlbertQuestionAnswerer(backbone)(inputs)["end_logits"].shape)
    (1, 5)
    """

    BACKBONES = _ALBERT_BACKBONES

    def __init__(self, backbone, **kwargs):
        _check_backbone(backbone, (AlbertBackbone,), "AlbertQuestionAnswerer")
        super().__init__(backbone, **kwargs)


class _FactorizedMaskedLMHead(keras.layers.Layer):
    """ALBERT's masked-LM head: `dense` from D to the embedding width E,
    the activation, a layer norm, then the (tied) word embeddings `(V, E)`
    and a bias: float32 logits `(B, T, V)` at every position."""

    def __init__(self, token_embedding, activation="gelu_approximate", epsilon=1e-12, **kwargs):
        super().__init__(**kwargs)
        self.token_embedding = token_embedding
        self.activation = activation
        self.epsilon = epsilon

    def build(self, sequence_shape):
        width = self.token_embedding.output_dim  # E
        self.dense = keras.layers.Dense(width, dtype=self.dtype_policy, name="dense")
        self.dense.build(sequence_shape)
        self.layer_norm = LayerNormalization(
            epsilon=self.epsilon, dtype=self.dtype_policy, name="layer_norm"
        )
        self.layer_norm.build((None, None, width))
        self.bias = self.add_weight(
            name="output_bias", shape=(self.token_embedding.input_dim,), initializer="zeros"
        )

    def call(self, sequence):
        function = keras.activations.get(activation(self.activation))
        x = self.layer_norm(function(self.dense(sequence)))  # (B, T, E)
        table = ops.cast(self.token_embedding.embeddings, "float32")  # (V, E)
        logits = ops.matmul(ops.cast(x, "float32"), ops.transpose(table))
        return logits + ops.cast(self.bias, "float32")  # (B, T, V)

    def compute_output_shape(self, sequence_shape):
        return (*sequence_shape[:-1], self.token_embedding.input_dim)


@serializable
class AlbertMaskedLM(_FamilyTask, _Task):
    """ALBERT's masked language model (HF's `AlbertForMaskedLM`): at every
    position, `dense` to the embedding width, the backbone's activation, a
    layer norm, then the word embeddings (tied) and a bias give float32
    logits `(B, T, V)`.

    Example:

    >>> backbone = AlbertBackbone(vocabulary_size=30, num_layers=2, num_heads=2,
    ...     hidden_dim=8, intermediate_dim=16, embedding_dim=4, max_sequence_length=16)
    >>> ids = np.array([[2, 7, 4, 3, 0]])  # 4 stands for [MASK]
    >>> inputs = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": ids != 0}
    >>> tuple(AlbertMaskedLM(backbone)(inputs).shape)
    (1, 5, 30)
    """

    BACKBONES = _ALBERT_BACKBONES
    _uses_pooler = False
    # The tied decoder, and the pooler and sentence-order head of a
    # pretraining checkpoint (Google's).
    _left_out = ("predictions.decoder.", "pooler.", "sop_classifier.")

    def __init__(self, backbone, **kwargs):
        _check_backbone(backbone, (AlbertBackbone,), "AlbertMaskedLM")
        inputs = dict(backbone.input)
        sequence = backbone(inputs)["sequence_output"]
        head = _FactorizedMaskedLMHead(
            backbone.get_layer("token_embedding"),
            activation=backbone.activation,
            epsilon=backbone.layer_norm_epsilon,
            dtype=backbone.dtype_policy,
            name="predictions",
        )
        super()._init(backbone, inputs, head(sequence), {}, **kwargs)
        self.predictions = head

    def _head_table(self):
        head = self.predictions
        return [
            (head.dense.kernel, "predictions.dense.weight", TRANSPOSE),
            (head.dense.bias, "predictions.dense.bias", SAME),
            (head.layer_norm.gamma, "predictions.LayerNorm.weight", SAME),
            (head.layer_norm.beta, "predictions.LayerNorm.bias", SAME),
            (head.bias, "predictions.bias", SAME),
        ]


# HF's class name of each task model, after the backbone's prefix ("Roberta").
HF_TASK_CLASSES = {
    RobertaClassifier: "ForSequenceClassification",
    RobertaTokenClassifier: "ForTokenClassification",
    RobertaQuestionAnswerer: "ForQuestionAnswering",
    RobertaMaskedLM: "ForMaskedLM",
    AlbertClassifier: "ForSequenceClassification",
    AlbertTokenClassifier: "ForTokenClassification",
    AlbertQuestionAnswerer: "ForQuestionAnswering",
    AlbertMaskedLM: "ForMaskedLM",
}
