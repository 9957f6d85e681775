"""ELECTRA models written back as HF checkpoint folders that transformers
loads."""

import json

import numpy as np

from kerastack.core import ops
from kerastack.electra.electra_backbone import ElectraBackbone
from kerastack.electra.electra_config import hf_activation
from kerastack.electra.heads import (
    ElectraClassifier,
    ElectraDiscriminator,
    ElectraMaskedLM,
    ElectraQuestionAnswerer,
    ElectraTokenClassifier,
)
from kerastack.models import (
    write_checkpoint,
)

# HF's architecture of each model, and whether its names take `electra.`.
_ARCHITECTURES = {
    ElectraBackbone: "ElectraModel",
    ElectraDiscriminator: "ElectraForPreTraining",
    ElectraMaskedLM: "ElectraForMaskedLM",
    ElectraClassifier: "ElectraForSequenceClassification",
    ElectraTokenClassifier: "ElectraForTokenClassification",
    ElectraQuestionAnswerer: "ElectraForQuestionAnswering",
}


def save_electra_weights(model, folder):
    """Write an ELECTRA model as an HF checkpoint folder (`config.json` and
    `model.safetensors`), which transformers' matching class
    (`ElectraModel`, `ElectraForPreTraining`, `ElectraForMaskedLM`,
    `ElectraForSequenceClassification`, `ElectraForTokenClassification`,
    `ElectraForQuestionAnswering`) and the model's own `from_pretrained`
    load. Both files are replaced at once, or neither.

    Example:

    >>> import tempfile
    >>> backbone = ElectraBackbone(vocabulary_size=30, num_layers=1, num_heads=3,
    ...     hidden_dim=12, intermediate_dim=20, embedding_dim=10, max_sequence_length=16)
    >>> classifier = ElectraClassifier(backbone, num_classes=3)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     save_electra_weights(classifier, folder)
    ...     reloaded = ElectraClassifier.from_pretrained(folder)
    >>> reloaded.get_config()["num_classes"]
    3
    >>> all(np.array_equal(a, b) for a, b in zip(classifier.get_weights(), reloaded.get_weights()))
    True
    """
    kind = type(model)
    if kind not in _ARCHITECTURES:
        raise TypeError(
            "save_electra_weights writes ELECTRA models "
            f"({', '.join(k.__name__ for k in _ARCHITECTURES)}), received a {kind.__name__}."
        )
    backbone = model if kind is ElectraBackbone else model.backbone
    prefix = "" if kind is ElectraBackbone else "electra."
    backbone_variables = {id(variable) for variable, _, _ in backbone.hf_weight_table()}
    tensors = {}
    for variable, name, layout in model.hf_weight_table():
        value = layout.to_hf(np.asarray(ops.convert_to_numpy(variable), "float32"))
        name = prefix + name if id(variable) in backbone_variables else name
        tensors[name] = np.ascontiguousarray(value)
    config = {
        "architectures": [_ARCHITECTURES[kind]],
        "model_type": "electra",
        "vocab_size": int(backbone.vocabulary_size),
        "embedding_size": int(backbone.embedding_dim),
        "hidden_size": int(backbone.hidden_dim),
        "num_hidden_layers": int(backbone.num_layers),
        "num_attention_heads": int(backbone.num_heads),
        "intermediate_size": int(backbone.intermediate_dim),
        "hidden_act": hf_activation(backbone.activation),
        "hidden_dropout_prob": float(backbone.dropout),
        "attention_probs_dropout_prob": float(backbone.dropout),
        "max_position_embeddings": int(backbone.max_sequence_length),
        "type_vocab_size": int(backbone.num_segments),
        "initializer_range": float(backbone.initializer_range),
        "layer_norm_eps": float(backbone.layer_norm_epsilon),
        "position_embedding_type": "absolute",
        "tie_word_embeddings": bool(getattr(model, "tie_weights", True)),
    }
    if kind in (ElectraClassifier, ElectraTokenClassifier):
        classes = int(model.get_config()["num_classes"])
        config["id2label"] = {str(index): f"LABEL_{index}" for index in range(classes)}
        config["label2id"] = {f"LABEL_{index}": index for index in range(classes)}
        config["classifier_dropout"] = float(model.get_config()["dropout"])
    write_checkpoint(folder, tensors, json.dumps(config, indent=2))
