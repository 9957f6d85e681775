"""ELECTRA's task models: the pretraining heads (the discriminator's
replaced-token detection, the generator's masked LM) and the fine-tuning
heads (sequence classification, token classification, question answering),
each on an `ElectraBackbone`, each loading the matching HF checkpoint
strictly. Logits are float32, whatever the dtype policy.

Letters: B batch, T length, E `embedding_dim`, D `hidden_dim`, V
`vocabulary_size`, K classes.
"""

import numpy as np

from kerastack.core import keras, ops, serializable
from kerastack.electra.electra_backbone import ElectraBackbone, ElectraModelBase
from kerastack.electra.electra_config import ElectraConfig
from kerastack.electra.electra_weights import backbone_weight_table
from kerastack.layernorm import LayerNormalization
from kerastack.models import SAME, TRANSPOSE, TaskModel, float32_dense, read_json_object
from kerastack.models import activation as get_activation


def _initializer(backbone):
    return keras.initializers.TruncatedNormal(stddev=backbone.initializer_range)


def _config_values(path):
    """The raw `config.json` dict of `path` (a file or its folder)."""
    import os

    if os.path.isdir(path):
        path = os.path.join(path, "config.json")
    return read_json_object(path)


class _ElectraTask(ElectraModelBase, TaskModel):
    """A functional model on an `ElectraBackbone`, saved as the backbone plus
    its own arguments; its inputs are checked as the backbone's."""

    @classmethod
    def from_config_file(cls, path, **kwargs):
        """The task model on a randomly initialized `ElectraBackbone` shaped
        by the config in `path`; `kwargs` go to the task model. Its
        `from_pretrained` loads every weight of an HF (or Google) checkpoint,
        strictly: the checkpoint must hold this head."""
        return cls.from_backbone_config(ElectraBackbone, path, **kwargs)

    def _check_backbone(self, backbone):
        """A ValueError unless `backbone` is an `ElectraBackbone`, before
        any layer is built on it."""
        if not isinstance(backbone, ElectraBackbone):
            raise ValueError(
                f"{type(self).__name__} needs an ElectraBackbone, received a "
                f"{type(backbone).__name__}."
            )

    def hf_weight_table(self):
        """`[(variable, hf_name, layout)]`: the backbone's (which HF's task
        models prefix with `electra.`) and the head's."""
        return backbone_weight_table(self.backbone) + self._head_table()

    def _head_table(self):
        raise NotImplementedError


@serializable
class ElectraDiscriminator(_ElectraTask):
    """ELECTRA's discriminator: replaced-token detection, float32 logits
    `(B, T)` that each token was replaced by the generator (HF's
    `ElectraForPreTraining`: `dense`, the backbone's activation, then
    `dense_prediction` to one logit).

    Args:
        backbone: an `ElectraBackbone`.
        **kwargs: `keras.Model` arguments.

    Example:

    >>> backbone = ElectraBackbone(vocabulary_size=30, num_layers=1, num_heads=3,
    ...     hidden_dim=12, intermediate_dim=20, embedding_dim=10, max_sequence_length=16)
    >>> ids = np.array([[2, 7, 8, 3, 0]])
    >>> inputs = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": ids != 0}
    >>> discriminator = ElectraDiscriminator(backbone)
    >>> tuple(discriminator(inputs).shape)
    (1, 5)
    >>> discriminator.compile(optimizer="adam",
    ...     loss=keras.losses.BinaryCrossentropy(from_logits=True))
    >>> history = discriminator.fit(inputs, np.array([[0, 1, 0, 0, 0]]), verbose=0)
    """

    def __init__(self, backbone, **kwargs):
        self._check_backbone(backbone)
        inputs = dict(backbone.input)
        sequence = backbone(inputs)["sequence_output"]  # (B, T, D)
        dense = keras.layers.Dense(
            backbone.hidden_dim,
            activation=get_activation(backbone.activation),
            kernel_initializer=_initializer(backbone),
            dtype=backbone.dtype_policy,
            name="discriminator_dense",
        )
        prediction = float32_dense(1, backbone, "discriminator_prediction")
        logits = ops.squeeze(prediction(dense(sequence)), -1)  # (B, T)
        self._init(backbone, inputs, logits, {}, **kwargs)
        self.dense, self.prediction = dense, prediction

    def _head_table(self):
        return [
            (self.dense.kernel, "discriminator_predictions.dense.weight", TRANSPOSE),
            (self.dense.bias, "discriminator_predictions.dense.bias", SAME),
            (
                self.prediction.kernel,
                "discriminator_predictions.dense_prediction.weight",
                TRANSPOSE,
            ),
            (self.prediction.bias, "discriminator_predictions.dense_prediction.bias", SAME),
        ]


@serializable
class TiedOutput(keras.layers.Layer):
    """Float32 logits over a vocabulary whose output matrix is a word table
    (tied), plus a bias of its own: `x @ table.T + bias`.

    Example:

    >>> table = keras.layers.Embedding(30, 10)
    >>> table.build((None,))
    >>> output = TiedOutput(table)
    >>> tuple(output(np.ones((2, 5, 10), "float32")).shape)  # (B, T, V)
    (2, 5, 30)
    """

    def __init__(self, token_embedding, **kwargs):
        super().__init__(**kwargs)
        self.token_embedding = token_embedding

    def build(self, input_shape):
        self.bias = self.add_weight(
            name="bias", shape=(self.token_embedding.input_dim,), initializer="zeros"
        )

    def call(self, x):
        table = ops.cast(self.token_embedding.embeddings, "float32")  # (V, E)
        logits = ops.matmul(ops.cast(x, "float32"), ops.transpose(table))  # (B, T, V)
        return logits + ops.cast(self.bias, "float32")

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.token_embedding.input_dim)

    def get_config(self):
        raise NotImplementedError(
            "TiedOutput is tied to a backbone's embeddings; save the ElectraMaskedLM holding it."
        )


@serializable
class ElectraMaskedLM(_ElectraTask):
    """ELECTRA's generator: masked-LM float32 logits `(B, T, V)` at every
    position (HF's `ElectraForMaskedLM`: `generator_predictions` (dense to E,
    exact gelu, layer norm), then `generator_lm_head` to the vocabulary).

    With `tie_weights=True` (HF's `tie_word_embeddings`, the default) the
    output matrix is the word table and only its bias is the head's own; a
    checkpoint may then hold `generator_lm_head.weight` only as a copy of the
    word table (anything else is an error naming it). With
    `tie_weights=False` the head has its own `(E, V)` matrix.

    Args:
        backbone: an `ElectraBackbone` (a generator: usually narrower than
            its discriminator, with the same embeddings).
        tie_weights: bool, see above.
        **kwargs: `keras.Model` arguments.

    Example:

    >>> backbone = ElectraBackbone(vocabulary_size=30, num_layers=1, num_heads=2,
    ...     hidden_dim=6, intermediate_dim=12, embedding_dim=10, max_sequence_length=16)
    >>> ids = np.array([[2, 4, 8, 3, 0]])  # 4 = [MASK]
    >>> inputs = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": ids != 0}
    >>> generator = ElectraMaskedLM(backbone)
    >>> tuple(generator(inputs).shape)
    (1, 5, 30)
    >>> len(generator.hf_weight_table()) == len(generator.weights)  # tied: no matrix of its own
    True
    """

    google_network = "generator"

    def __init__(self, backbone, tie_weights=True, **kwargs):
        self._check_backbone(backbone)
        if not isinstance(tie_weights, (bool, np.bool_)):
            raise ValueError(
                f"`tie_weights` must be True or False, received tie_weights={tie_weights!r}."
            )
        tie_weights = bool(tie_weights)
        inputs = dict(backbone.input)
        sequence = backbone(inputs)["sequence_output"]  # (B, T, D)
        dense = keras.layers.Dense(
            backbone.embedding_dim,
            activation="gelu",  # HF's generator head: exact gelu, whatever the config says
            kernel_initializer=_initializer(backbone),
            dtype=backbone.dtype_policy,
            name="generator_dense",
        )
        norm = LayerNormalization(
            epsilon=backbone.layer_norm_epsilon,
            dtype=backbone.dtype_policy,
            name="generator_layer_norm",
        )
        if tie_weights:
            output = TiedOutput(backbone.get_layer("token_embedding"), name="generator_output")
        else:
            output = float32_dense(backbone.vocabulary_size, backbone, "generator_output")
        logits = output(norm(dense(sequence)))  # (B, T, V)
        self._init(backbone, inputs, logits, {"tie_weights": tie_weights}, **kwargs)
        self.tie_weights = tie_weights
        self.dense, self.layer_norm, self.output_layer = dense, norm, output

    @classmethod
    def from_config_file(cls, path, **kwargs):
        """The generator shaped by the config in `path`, tied as its
        `tie_word_embeddings` says (unless `tie_weights` is given)."""
        kwargs.setdefault("tie_weights", ElectraConfig.from_json(path).tie_word_embeddings)
        return cls.from_backbone_config(ElectraBackbone, path, **kwargs)

    def _head_table(self):
        table = [
            (self.dense.kernel, "generator_predictions.dense.weight", TRANSPOSE),
            (self.dense.bias, "generator_predictions.dense.bias", SAME),
            (self.layer_norm.gamma, "generator_predictions.LayerNorm.weight", SAME),
            (self.layer_norm.beta, "generator_predictions.LayerNorm.bias", SAME),
        ]
        if not self.tie_weights:
            table.append((self.output_layer.kernel, "generator_lm_head.weight", TRANSPOSE))
        table.append((self.output_layer.bias, "generator_lm_head.bias", SAME))
        return table

    def _assign(self, tensors, source, allow_longer_position_table=False):
        if self.tie_weights and "generator_lm_head.weight" in tensors:
            tensors = dict(tensors)
            matrix = np.asarray(tensors.pop("generator_lm_head.weight"))
            table = next(
                (
                    tensors[name]
                    for name in (
                        "electra.embeddings.word_embeddings.weight",
                        "embeddings.word_embeddings.weight",
                    )
                    if name in tensors
                ),
                None,
            )
            if table is None or not np.array_equal(matrix, np.asarray(table)):
                raise ValueError(
                    f"{source} holds a generator_lm_head.weight that is not its word table "
                    "(an untied output layer): build the ElectraMaskedLM with tie_weights=False."
                )
        return super()._assign(tensors, source, allow_longer_position_table)


def _classifier_dropout(path):
    config = ElectraConfig.from_json(path)
    if config.classifier_dropout is not None:
        return config.classifier_dropout
    return config.hidden_dropout_prob


def _num_labels(path):
    """The number of classes a `config.json` names (`id2label`, or
    `num_labels`; HF's default 2)."""
    values = _config_values(path)
    if "id2label" in values:
        return len(values["id2label"])
    return values.get("num_labels", 2)


class _Classifying(_ElectraTask):
    @classmethod
    def from_config_file(cls, path, **kwargs):
        """The task model shaped by the config in `path`; `num_classes`
        defaults to its `id2label`'s length (HF's 2 without one), `dropout`
        to its `classifier_dropout` (or `hidden_dropout_prob`)."""
        kwargs.setdefault("num_classes", _num_labels(path))
        kwargs.setdefault("dropout", _classifier_dropout(path))
        return cls.from_backbone_config(ElectraBackbone, path, **kwargs)


@serializable
class ElectraClassifier(_Classifying):
    """Sequence classification: float32 logits `(B, num_classes)` from the
    first token (HF's `ElectraForSequenceClassification`: dropout,
    `classifier.dense`, exact gelu, dropout, `classifier.out_proj`).

    Args:
        backbone: an `ElectraBackbone`.
        num_classes: int >= 1.
        dropout: float in `[0, 1)`, before each dense layer.
        **kwargs: `keras.Model` arguments.

    Example:

    >>> backbone = ElectraBackbone(vocabulary_size=30, num_layers=1, num_heads=3,
    ...     hidden_dim=12, intermediate_dim=20, embedding_dim=10, max_sequence_length=16)
    >>> ids = np.array([[2, 7, 8, 3, 0]])
    >>> inputs = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": ids != 0}
    >>> classifier = ElectraClassifier(backbone, num_classes=3)
    >>> tuple(classifier(inputs).shape)
    (1, 3)
    >>> ElectraClassifier(backbone, num_classes=0)
    Traceback (most recent call last):
    ...
    ValueError: `num_classes` must be a positive int, received num_classes=0.
    """

    def __init__(self, backbone, num_classes, dropout=0.1, **kwargs):
        self._check_backbone(backbone)
        num_classes, dropout = _check_head(num_classes, dropout)
        inputs = dict(backbone.input)
        sequence = backbone(inputs)["sequence_output"]
        first = sequence[:, 0, :]  # (B, D)
        policy = backbone.dtype_policy
        x = keras.layers.Dropout(dropout, dtype=policy, name="classifier_dropout")(first)
        dense = keras.layers.Dense(
            backbone.hidden_dim,
            activation="gelu",  # HF's ElectraClassificationHead: exact gelu
            kernel_initializer=_initializer(backbone),
            dtype=policy,
            name="classifier_dense",
        )
        x = keras.layers.Dropout(dropout, dtype=policy, name="classifier_output_dropout")(dense(x))
        out_proj = float32_dense(num_classes, backbone, "classifier_out_proj")
        logits = out_proj(x)  # (B, K)
        self._init(
            backbone, inputs, logits, {"num_classes": num_classes, "dropout": dropout}, **kwargs
        )
        self.dense, self.out_proj = dense, out_proj

    def _head_table(self):
        return [
            (self.dense.kernel, "classifier.dense.weight", TRANSPOSE),
            (self.dense.bias, "classifier.dense.bias", SAME),
            (self.out_proj.kernel, "classifier.out_proj.weight", TRANSPOSE),
            (self.out_proj.bias, "classifier.out_proj.bias", SAME),
        ]


def _check_head(num_classes, dropout):
    from kerastack.core import check_float, check_int

    return (
        check_int("num_classes", num_classes, minimum=1),
        check_float("dropout", dropout, minimum=0.0, maximum=1.0, exclusive_maximum=True),
    )


@serializable
class ElectraTokenClassifier(_Classifying):
    """Token classification (NER, tagging): dropout, then float32 logits
    `(B, T, num_classes)` (HF's `ElectraForTokenClassification`).

    Example:

    >>> backbone = ElectraBackbone(vocabulary_size=30, num_layers=1, num_heads=3,
    ...     hidden_dim=12, intermediate_dim=20, embedding_dim=10, max_sequence_length=16)
    >>> ids = np.array([[2, 7, 8, 3, 0]])
    >>> inputs = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": ids != 0}
    >>> tuple(ElectraTokenClassifier(backbone, num_classes=4)(inputs).shape)
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
class ElectraQuestionAnswerer(_ElectraTask):
    """Extractive question answering: float32 `start_logits` and
    `end_logits`, each `(B, T)` (HF's `ElectraForQuestionAnswering`).

    Example:

    >>> backbone = ElectraBackbone(vocabulary_size=30, num_layers=1, num_heads=3,
    ...     hidden_dim=12, intermediate_dim=20, embedding_dim=10, max_sequence_length=16)
    >>> ids = np.array([[2, 7, 8, 3, 0]])
    >>> inputs = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": ids != 0}
    >>> logits = ElectraQuestionAnswerer(backbone)(inputs)
    >>> tuple(logits["start_logits"].shape), tuple(logits["end_logits"].shape)
    ((1, 5), (1, 5))
    """

    def __init__(self, backbone, **kwargs):
        self._check_backbone(backbone)
        inputs = dict(backbone.input)
        sequence = backbone(inputs)["sequence_output"]
        span = float32_dense(2, backbone, "qa_outputs")
        start, end = ops.split(span(sequence), 2, axis=-1)  # 2 x (B, T, 1)
        outputs = {"start_logits": ops.squeeze(start, -1), "end_logits": ops.squeeze(end, -1)}
        self._init(backbone, inputs, outputs, {}, **kwargs)
        self.span = span

    def _head_table(self):
        return [
            (self.span.kernel, "qa_outputs.weight", TRANSPOSE),
            (self.span.bias, "qa_outputs.bias", SAME),
        ]
