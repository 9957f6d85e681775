"""NEZHA's task models on a `NezhaBackbone`: masked LM (tied to the word
embeddings), sequence classification, token classification and extractive
question answering, with HF's `NezhaFor...` names so whole task checkpoints
load strictly. Logits are float32, whatever the dtype policy."""

import os

from kerastack.core import InputRule, check_float, check_int, keras, ops, serializable
from kerastack.models import (
    SAME,
    TRANSPOSE,
    MaskedLMHead,
    TaskModel,
    float32_dense,
    read_json_object,
)
from kerastack.nezha.nezha_backbone import NezhaBackbone, _NezhaModel
from kerastack.nezha.nezha_weights import IGNORED_PREFIXES, weight_table

__all__ = ["NezhaClassifier", "NezhaMaskedLM", "NezhaQuestionAnswerer", "NezhaTokenClassifier"]


class _Task(_NezhaModel, TaskModel):
    """A functional model on `backbone`; inputs checked as the backbone's."""

    # HF's token-level task models have no pooler: it is not in their files,
    # and a pretraining checkpoint's pooler is left out when they load it.
    _uses_pooler = True

    @property
    def hf_ignored_prefixes(self):
        return IGNORED_PREFIXES + (() if self._uses_pooler else ("pooler.",))

    @classmethod
    def from_config_file(cls, path, **kwargs):
        """The task model on a randomly initialized `NezhaBackbone` shaped by
        the config in `path`; `kwargs` go to the task model. Its
        `from_pretrained` loads every weight of an HF or Huawei checkpoint
        (strict: the checkpoint must hold this head)."""
        return cls.from_backbone_config(NezhaBackbone, path, **kwargs)

    def _check_backbone(self, backbone):
        """A ValueError unless `backbone` is a `NezhaBackbone`, before any
        layer is built on it."""
        if not isinstance(backbone, NezhaBackbone):
            raise ValueError(
                f"{type(self).__name__} needs a NezhaBackbone, received a "
                f"{type(backbone).__name__}."
            )

    def hf_weight_table(self):
        table = weight_table(self.backbone)
        if not self._uses_pooler:
            table = [entry for entry in table if not entry[1].startswith("pooler.")]
        return table + self._head_table()


def _config_values(path):
    """The raw JSON of the config in `path` (a file, or the folder holding
    HF's `config.json` or Huawei's `bert_config.json`)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        names = [os.path.join(path, name) for name in ("config.json", "bert_config.json")]
        path = next((name for name in names if os.path.isfile(name)), names[0])
    return read_json_object(path)


class _LabelledTask(_Task):
    @classmethod
    def from_config_file(cls, path, **kwargs):
        """As `_Task`'s; `num_classes` defaults to the config's number of
        labels (HF's `id2label`, else `num_labels`, else HF's 2) and
        `dropout` to its `classifier_dropout` (else `hidden_dropout_prob`),
        as HF's `NezhaFor...Classification` read them."""
        values = _config_values(path)
        if isinstance(values.get("id2label"), dict):
            kwargs.setdefault("num_classes", len(values["id2label"]))
        kwargs.setdefault("num_classes", values.get("num_labels", 2))
        dropout = values.get("classifier_dropout")
        if dropout is None:
            dropout = values.get("hidden_dropout_prob", 0.1)
        kwargs.setdefault("dropout", dropout)
        return cls.from_backbone_config(NezhaBackbone, path, **kwargs)


@serializable
class NezhaMaskedLM(_Task):
    """Masked-LM logits at `mask_positions`, float32 `(B, P, V)`: BERT's
    `cls.predictions` head (dense, activation, layer norm, then the word
    embeddings, tied, and a bias), as HF's `NezhaForMaskedLM` and Huawei's
    pretraining checkpoints hold it.

    Example:

    >>> backbone = NezhaBackbone(vocabulary_size=30, num_layers=1, num_heads=3,
    ...     hidden_dim=12, intermediate_dim=16, max_relative_position=3)
    >>> ids = np.array([[2, 7, 4, 9, 3, 0]])  # [CLS] a [MASK] b [SEP] [PAD]
    >>> model = NezhaMaskedLM(backbone)
    >>> logits = model({"token_ids": ids, "segment_ids": np.zeros_like(ids),
    ...     "padding_mask": ids != 0, "mask_positions": np.array([[2]])})
    >>> tuple(logits.shape)
    (1, 1, 30)
    >>> model.mlm_head.token_embedding is backbone.get_layer("token_embedding")  # tied
    True
    """

    _uses_pooler = False

    def __init__(self, backbone, **kwargs):
        self._check_backbone(backbone)
        inputs = dict(backbone.input)
        inputs["mask_positions"] = keras.Input(shape=(None,), dtype="int32", name="mask_positions")
        sequence = backbone({key: inputs[key] for key in backbone.input})["sequence_output"]
        head = MaskedLMHead(
            backbone.get_layer("token_embedding"),
            activation=backbone.activation,
            layer_norm_epsilon=backbone.layer_norm_epsilon,
            dtype=backbone.dtype_policy,
            name="mlm_head",
        )
        logits = head(sequence, inputs["mask_positions"])  # (B, P, V)
        self._init(backbone, inputs, logits, {}, **kwargs)
        self.mlm_head = head

    def input_rules(self):
        """The backbone's, and `mask_positions` `(B, P)` in `[0, T)`."""
        return {**self.backbone.input_rules(), "mask_positions": InputRule("positions")}

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
class NezhaClassifier(_LabelledTask):
    """Sequence classification: `dropout`, then float32 logits
    `(B, num_classes)` from the pooled output (HF's
    `NezhaForSequenceClassification`).

    Args:
        backbone: a `NezhaBackbone`.
        num_classes: int >= 1; read from the config's labels by
            `from_pretrained` when not given.
        dropout: float in `[0, 1)`, before the output layer.
        **kwargs: `keras.Model` arguments.

    Example:

    >>> backbone = NezhaBackbone(vocabulary_size=30, num_layers=1, num_heads=3,
    ...     hidden_dim=12, intermediate_dim=16, max_relative_position=3)
    >>> ids = np.array([[2, 7, 8, 3, 0]])
    >>> inputs = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": ids != 0}
    >>> classifier = NezhaClassifier(backbone, num_classes=3)
    >>> tuple(classifier(inputs).shape)
    (1, 3)
    >>> NezhaClassifier(backbone, num_classes=3, dropout=1.5)
    Traceback (most recent call last):
    ...
    ValueError: `dropout` must be ... received dropout=1.5.
    """

    _features = "pooled_output"

    def __init__(self, backbone, num_classes, dropout=0.1, **kwargs):
        self._check_backbone(backbone)
        num_classes = check_int("num_classes", num_classes, minimum=1)
        dropout = check_float("dropout", dropout, minimum=0.0, maximum=1.0, exclusive_maximum=True)
        inputs = dict(backbone.input)
        features = backbone(inputs)[self._features]
        features = keras.layers.Dropout(
            dropout, dtype=backbone.dtype_policy, name="classifier_dropout"
        )(features)
        classifier = float32_dense(num_classes, backbone, "classifier")
        self._init(
            backbone,
            inputs,
            classifier(features),
            {"num_classes": num_classes, "dropout": dropout},
            **kwargs,
        )
        self.classifier = classifier

    def _head_table(self):
        return [
            (self.classifier.kernel, "classifier.weight", TRANSPOSE),
            (self.classifier.bias, "classifier.bias", SAME),
        ]


@serializable
class NezhaTokenClassifier(NezhaClassifier):
    """Token classification (NER, tagging): `dropout`, then float32 logits
    `(B, T, num_classes)` from the sequence output (HF's
    `NezhaForTokenClassification`).

    Example:

    >>> backbone = NezhaBackbone(vocabulary_size=30, num_layers=1, num_heads=3,
    ...     hidden_dim=12, intermediate_dim=16, max_relative_position=3)
    >>> ids = np.array([[2, 7, 8, 3, 0]])
    >>> inputs = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": ids != 0}
    >>> tuple(NezhaTokenClassifier(backbone, num_classes=4)(inputs).shape)
    (1, 5, 4)
    """

    _features = "sequence_output"
    _uses_pooler = False


@serializable
class NezhaQuestionAnswerer(_Task):
    """Extractive question answering: float32 `start_logits` and
    `end_logits`, each `(B, T)` (HF's `NezhaForQuestionAnswering`).

    Example:

    >>> backbone = NezhaBackbone(vocabulary_size=30, num_layers=1, num_heads=3,
    ...     hidden_dim=12, intermediate_dim=16, max_relative_position=3)
    >>> ids = np.array([[2, 7, 8, 3, 0]])
    >>> inputs = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": ids != 0}
    >>> logits = NezhaQuestionAnswerer(backbone)(inputs)
    >>> tuple(logits["start_logits"].shape), tuple(logits["end_logits"].shape)
    ((1, 5), (1, 5))
    """

    _uses_pooler = False

    def __init__(self, backbone, **kwargs):
        self._check_backbone(backbone)
        inputs = dict(backbone.input)
        sequence = backbone(inputs)["sequence_output"]
        span = float32_dense(2, backbone, "qa_outputs")
        start, end = ops.split(span(sequence), 2, axis=-1)  # (B, T, 1) each
        outputs = {"start_logits": ops.squeeze(start, -1), "end_logits": ops.squeeze(end, -1)}
        self._init(backbone, inputs, outputs, {}, **kwargs)
        self.span = span

    def _head_table(self):
        return [
            (self.span.kernel, "qa_outputs.weight", TRANSPOSE),
            (self.span.bias, "qa_outputs.bias", SAME),
        ]
