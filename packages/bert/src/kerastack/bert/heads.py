"""BERT's task heads and the models that put them on a `BertBackbone`.

Each task model is a functional `keras.Model` built around a backbone; its
`hf_weight_table()` extends the backbone's table with the head's HF tensors,
so `load_hf_weights` loads a whole HF task checkpoint strictly. Logits are
float32, whatever the dtype policy.
"""

import numpy as np

from kerastack.bert.bert_backbone import BertBackbone, load_checkpoint
from kerastack.bert.bert_weights import IGNORED_PREFIXES, weight_table
from kerastack.core import CheckedInputs, InputRule, keras, ops, serializable
from kerastack.models import (
    SAME,
    TRANSPOSE,
    ConditionalRandomField,
    MaskedLMHead,
    Pretrained,
    TaskModel,
    float32_dense,
)


def mlm_head_table(head):
    """The HF table of a `MaskedLMHead` (BERT's `cls.predictions`; the
    decoder is the tied word embeddings)."""
    return [
        (head.dense.kernel, "cls.predictions.transform.dense.weight", TRANSPOSE),
        (head.dense.bias, "cls.predictions.transform.dense.bias", SAME),
        (head.layer_norm.gamma, "cls.predictions.transform.LayerNorm.weight", SAME),
        (head.layer_norm.beta, "cls.predictions.transform.LayerNorm.bias", SAME),
        (head.bias, "cls.predictions.bias", SAME),
    ]


class _Task(CheckedInputs, Pretrained, TaskModel):
    """A functional model on `backbone`, saved as the backbone plus arguments.

    Its inputs are checked as the backbone's (`EncoderBackbone`): in eager
    calls and before `predict` runs, not inside compiled functions."""

    # HF's names (`kerastack.models.assign_hf_tensors`), as the backbone's.
    hf_prefix = "bert."
    hf_ignored_prefixes = IGNORED_PREFIXES
    hf_position_table = "embeddings.position_embeddings.weight"

    @classmethod
    def from_config_file(cls, path, **kwargs):
        """The task model on a randomly initialized `BertBackbone` shaped by
        the config in `path`; `kwargs` go to the task model. Its
        `from_pretrained` loads every weight of an HF or Google checkpoint
        (strict: the checkpoint must hold this head)."""
        return cls.from_backbone_config(BertBackbone, path, **kwargs)

    def load_checkpoint(self, folder, allow_longer_position_table=False):
        """Load the HF or Google checkpoint in `folder`, head included."""
        return load_checkpoint(self, folder, allow_longer_position_table)

    # HF's token-level task models have no pooler; neither weight is used then.
    _uses_pooler = True

    def hf_weight_table(self):
        table = weight_table(self.backbone)
        if not self._uses_pooler:
            table = [entry for entry in table if not entry[1].startswith("pooler.")]
        return table + self._head_table()


@serializable
class BertPretrainer(_Task):
    """BERT's two pretraining heads: masked-LM logits at `mask_positions`
    (`(B, P, V)`, tied to the word embeddings) and next-sentence logits
    (`(B, 2)`, 0 = the second segment follows the first).

    `BertPretrainingDataset` makes its batches (inputs, labels and weights).

    Example:

    >>> backbone = BertBackbone(vocabulary_size=30, num_layers=1, num_heads=2,
    ...     hidden_dim=8, intermediate_dim=16, max_sequence_length=16)
    >>> ids = np.array([[2, 7, 8, 3, 0]])  # [CLS] ... [SEP] [PAD]
    >>> inputs = {"token_ids": ids, "segment_ids": np.zeros_like(ids),
    ...     "padding_mask": ids != 0}
    >>> pretrainer = BertPretrainer(backbone)
    >>> logits = pretrainer(dict(inputs, mask_positions=np.array([[1, 2]])))
    >>> tuple(logits["mlm_logits"].shape), tuple(logits["nsp_logits"].shape)
    ((1, 2, 30), (1, 2))
    >>> pretrainer.mlm_head.token_embedding is backbone.get_layer("token_embedding")  # tied
    True
    """

    def __init__(self, backbone, **kwargs):
        inputs = dict(backbone.input)
        inputs["mask_positions"] = keras.Input(shape=(None,), dtype="int32", name="mask_positions")
        outputs = backbone(
            {key: inputs[key] for key in ("token_ids", "segment_ids", "padding_mask")}
        )
        head = MaskedLMHead(
            backbone.get_layer("token_embedding"),
            activation=backbone.activation,
            layer_norm_epsilon=backbone.layer_norm_epsilon,
            dtype=backbone.dtype_policy,
            name="mlm_head",
        )
        nsp = float32_dense(2, backbone, "nsp_head")
        super()._init(
            backbone,
            inputs,
            {
                "mlm_logits": head(outputs["sequence_output"], inputs["mask_positions"]),
                "nsp_logits": nsp(outputs["pooled_output"]),
            },
            {},
            **kwargs,
        )
        self.mlm_head, self.nsp_head = head, nsp

    def input_rules(self):
        """The backbone's, and `mask_positions` `(B, P)` in `[0, T)`."""
        return {**self.backbone.input_rules(), "mask_positions": InputRule("positions")}

    def _head_table(self):
        return mlm_head_table(self.mlm_head) + [
            (self.nsp_head.kernel, "cls.seq_relationship.weight", TRANSPOSE),
            (self.nsp_head.bias, "cls.seq_relationship.bias", SAME),
        ]


@serializable
class BertClassifier(_Task):
    """Sequence classification: `dropout`, then float32 logits `(B, num_classes)`
    from the pooled output (HF's `BertForSequenceClassification`).

    Example:

    >>> backbone = BertBackbone(vocabulary_size=30, num_layers=1, num_heads=2,
    ...     hidden_dim=8, intermediate_dim=16, max_sequence_length=16)
    >>> ids = np.array([[2, 7, 8, 3, 0]])  # [CLS] ... [SEP] [PAD]
    >>> inputs = {"token_ids": ids, "segment_ids": np.zeros_like(ids),
    ...     "padding_mask": ids != 0}
    >>> from kerastack.core import keras
    >>> classifier = BertClassifier(backbone, num_classes=3)
    >>> logits = classifier(inputs)
    >>> tuple(logits.shape), keras.backend.standardize_dtype(logits.dtype)
    ((1, 3), 'float32')
    >>> classifier.compile(optimizer="adam",
    ...     loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    >>> history = classifier.fit(inputs, np.array([2]), epochs=1, verbose=0)
    >>> len(history.history["loss"])
    1
    """

    _features = "pooled_output"

    def __init__(self, backbone, num_classes, dropout=0.1, **kwargs):
        inputs = dict(backbone.input)
        features = backbone(inputs)[self._features]
        features = keras.layers.Dropout(
            dropout, dtype=backbone.dtype_policy, name="classifier_dropout"
        )(features)
        classifier = float32_dense(num_classes, backbone, "classifier")
        logits = classifier(features)
        super()._init(
            backbone, inputs, logits, {"num_classes": num_classes, "dropout": dropout}, **kwargs
        )
        self.classifier = classifier

    def _head_table(self):
        return [
            (self.classifier.kernel, "classifier.weight", TRANSPOSE),
            (self.classifier.bias, "classifier.bias", SAME),
        ]


@serializable
class BertTokenClassifier(BertClassifier):
    """Token classification (NER, tagging): `dropout`, then float32 logits
    `(B, T, num_classes)` from the sequence output (HF's
    `BertForTokenClassification`).

    With `crf=True`, a `kerastack.models.ConditionalRandomField` scores
    whole tag paths: the logits are its emissions, `compile()`'s default
    loss is the paths' negative log-likelihood over each row's real tokens
    (`padding_mask`; labels at padding are ignored, and a label outside
    `0..num_classes-1`, such as Hugging Face's -100, leaves that token's tag
    unknown; `sample_weight` is one weight per row), and `predict_tags`
    gives the Viterbi paths. bert4keras taggers put its
    `ConditionalRandomField` there. HF checkpoints have no
    CRF: loading one leaves the CRF's weights as they are.

    Args:
        backbone: a `BertBackbone` (or `RobertaBackbone`, `AlbertBackbone`).
        num_classes: int, number of tags.
        dropout: float, dropout before the classifier.
        crf: bool, a CRF on top.
        **kwargs: `keras.Model` arguments.

    Example:

    >>> backbone = BertBackbone(vocabulary_size=30, num_layers=1, num_heads=2,
    ...     hidden_dim=8, intermediate_dim=16, max_sequence_length=16)
    >>> ids = np.array([[2, 7, 8, 3, 0]])  # [CLS] ... [SEP] [PAD]
    >>> inputs = {"token_ids": ids, "segment_ids": np.zeros_like(ids),
    ...     "padding_mask": ids != 0}
    >>> tagger = BertTokenClassifier(backbone, num_classes=4)
    >>> tuple(tagger(inputs).shape)
    (1, 5, 4)
    >>> tagger = BertTokenClassifier(backbone, num_classes=4, crf=True)
    >>> tagger.compile(optimizer="adam")  # the CRF's loss
    >>> history = tagger.fit(inputs, np.array([[0, 1, 2, 0, 0]]), verbose=0)
    >>> tagger.predict_tags(inputs).shape  # -1 at padding
    (1, 5)
    """

    _features = "sequence_output"
    _uses_pooler = False

    def __init__(self, backbone, num_classes, dropout=0.1, crf=False, **kwargs):
        if not isinstance(crf, (bool, np.bool_)):
            raise ValueError(f"`crf` must be True or False, received crf={crf!r}.")
        inputs = dict(backbone.input)
        features = backbone(inputs)[self._features]
        features = keras.layers.Dropout(
            dropout, dtype=backbone.dtype_policy, name="classifier_dropout"
        )(features)
        classifier = float32_dense(num_classes, backbone, "classifier")
        logits = classifier(features)  # (B, T, K)
        layer = None
        if crf:
            # Its call passes the logits on: in the graph, its weights are the model's.
            layer = ConditionalRandomField(name="crf")
            logits = layer(logits)
        arguments = {"num_classes": num_classes, "dropout": dropout, "crf": bool(crf)}
        _Task._init(self, backbone, inputs, logits, arguments, **kwargs)
        self.classifier, self.crf = classifier, layer

    def compile(self, optimizer="adam", loss="auto", metrics=None, **kwargs):
        """`keras.Model.compile`. `loss="auto"` is the CRF's negative
        log-likelihood with `crf=True`, else the cross-entropy of the
        logits."""
        if loss == "auto":
            loss = (
                None
                if self.crf is not None
                else keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            )
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if self.crf is None or self._compile_loss is not None:
            return super().compute_loss(x, y, y_pred, sample_weight, training=training)
        losses = self.crf.loss(y, y_pred, x["padding_mask"])  # (B,)
        if sample_weight is not None:
            weight = ops.cast(sample_weight, "float32")
            if len(weight.shape) != 1:
                raise ValueError(
                    "With crf=True, `sample_weight` is one weight per row (B,), received "
                    f"shape {tuple(weight.shape)}."
                )
            losses = losses * weight
        total = ops.mean(losses)
        for loss in self.losses:
            total = total + self._aggregate_additional_loss(loss)
        return total

    def predict_tags(self, inputs, batch_size=32):
        """Each row's tags: the CRF's Viterbi path with `crf=True`, else the
        argmax of the logits; int32 NumPy `(B, T)`, -1 at padding."""
        logits = self.predict(inputs, batch_size=batch_size, verbose=0)
        mask = np.asarray(inputs["padding_mask"]).astype(bool)
        if self.crf is None:
            return np.where(mask, logits.argmax(-1), -1).astype("int32")
        return np.asarray(ops.convert_to_numpy(self.crf.decode(logits, mask))).astype("int32")


@serializable
class BertQuestionAnswerer(_Task):
    """Extractive question answering: float32 `start_logits` and `end_logits`,
    each `(B, T)` (HF's `BertForQuestionAnswering`).

    Example:

    >>> backbone = BertBackbone(vocabulary_size=30, num_layers=1, num_heads=2,
    ...     hidden_dim=8, intermediate_dim=16, max_sequence_length=16)
    >>> ids = np.array([[2, 7, 8, 3, 0]])  # [CLS] ... [SEP] [PAD]
    >>> inputs = {"token_ids": ids, "segment_ids": np.zeros_like(ids),
    ...     "padding_mask": ids != 0}
    >>> logits = BertQuestionAnswerer(backbone)(inputs)
    >>> tuple(logits["start_logits"].shape), tuple(logits["end_logits"].shape)
    ((1, 5), (1, 5))
    """

    _uses_pooler = False

    def __init__(self, backbone, **kwargs):
        inputs = dict(backbone.input)
        sequence = backbone(inputs)["sequence_output"]
        span = float32_dense(2, backbone, "qa_outputs")
        logits = span(sequence)  # (B, T, 2)
        start, end = ops.split(logits, 2, axis=-1)
        outputs = {"start_logits": ops.squeeze(start, -1), "end_logits": ops.squeeze(end, -1)}
        super()._init(backbone, inputs, outputs, {}, **kwargs)
        self.span = span

    def _head_table(self):
        return [
            (self.span.kernel, "qa_outputs.weight", TRANSPOSE),
            (self.span.bias, "qa_outputs.bias", SAME),
        ]
