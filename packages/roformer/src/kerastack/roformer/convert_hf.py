"""RoFormer models written back as HF checkpoints (`config.json` and
`model.safetensors`), which transformers' RoFormer classes load."""

import json

import numpy as np

from kerastack.core import ops
from kerastack.models import write_checkpoint
from kerastack.roformer.heads import (
    RoFormerClassifier,
    RoFormerMaskedLM,
    RoFormerQuestionAnswerer,
    RoFormerTokenClassifier,
)
from kerastack.roformer.roformer_backbone import RoFormerBackbone
from kerastack.roformer.roformer_weights import POSITIONS, sinusoidal_table

__all__ = ["save_hf_weights"]

_ARCHITECTURES = {
    RoFormerBackbone: "RoFormerModel",
    RoFormerMaskedLM: "RoFormerForMaskedLM",
    RoFormerClassifier: "RoFormerForSequenceClassification",
    RoFormerTokenClassifier: "RoFormerForTokenClassification",
    RoFormerQuestionAnswerer: "RoFormerForQuestionAnswering",
}
_HEADS = ("cls.", "classifier.", "qa_outputs.")


def save_hf_weights(model, folder):
    """Write `model` as an HF RoFormer checkpoint: `config.json` and
    `model.safetensors` in `folder`, which transformers' `RoFormerModel`
    (a backbone), `RoFormerForMaskedLM`, `RoFormerForSequenceClassification`,
    `RoFormerForTokenClassification` or `RoFormerForQuestionAnswering` (the
    task models) and kerastack's `from_pretrained` load.

    The query and key projections go back to HF's interleaved rotary pairs
    (see `kerastack.roformer.weight_table`), and HF's sinusoid buffer
    `encoder.embed_positions.weight` is written as HF computes it. Both
    files are replaced at once, or neither
    (`kerastack.models.write_checkpoint`). RoFormer-v2 has no HF class: a
    `RoFormerV2Backbone` is a TypeError.

    Example:

    >>> import os, tempfile
    >>> backbone = RoFormerBackbone(vocabulary_size=30, num_layers=1, num_heads=2,
    ...     hidden_dim=8, intermediate_dim=16, max_sequence_length=16)
    >>> classifier = RoFormerClassifier(backbone, num_classes=3)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     save_hf_weights(classifier, folder)
    ...     files = sorted(os.listdir(folder))
    ...     reloaded = RoFormerClassifier.from_pretrained(folder)
    >>> files, reloaded.get_config()["num_classes"]
    (['config.json', 'model.safetensors'], 3)
    >>> all(np.array_equal(a, b) for a, b in zip(classifier.get_weights(), reloaded.get_weights()))
    True
    """
    architecture = _ARCHITECTURES.get(type(model))
    backbone = getattr(model, "backbone", model)
    if architecture is None or type(backbone) is not RoFormerBackbone:
        raise TypeError(
            "save_hf_weights writes HF RoFormer checkpoints from a RoFormerBackbone or a "
            f"RoFormer task model on one, received a {type(model).__name__}"
            + (f" on a {type(backbone).__name__}" if backbone is not model else "")
            + "."
        )
    prefix = "" if model is backbone else "roformer."
    tensors = {}
    for variable, name, layout in model.hf_weight_table():
        value = layout.to_hf(np.asarray(ops.convert_to_numpy(variable)))
        tensors[name if name.startswith(_HEADS) else prefix + name] = np.ascontiguousarray(value)
    tensors[prefix + POSITIONS] = sinusoidal_table(
        backbone.max_sequence_length, backbone.hidden_dim // backbone.num_heads
    )
    activation = {"gelu_approximate": "gelu_new"}.get(backbone.activation, backbone.activation)
    config = {
        "architectures": [architecture],
        "model_type": "roformer",
        "vocab_size": int(backbone.vocabulary_size),
        "embedding_size": int(backbone.embedding_dim),
        "hidden_size": int(backbone.hidden_dim),
        "num_hidden_layers": int(backbone.num_layers),
        "num_attention_heads": int(backbone.num_heads),
        "intermediate_size": int(backbone.intermediate_dim),
        "hidden_act": activation,
        "hidden_dropout_prob": float(backbone.dropout),
        "attention_probs_dropout_prob": float(backbone.dropout),
        "max_position_embeddings": int(backbone.max_sequence_length),
        "type_vocab_size": int(backbone.num_segments),
        "initializer_range": float(backbone.initializer_range),
        "layer_norm_eps": float(backbone.layer_norm_epsilon),
        "rotary_value": bool(backbone.rotary_value),
        "pad_token_id": 0,
    }
    num_classes = getattr(model, "_arguments", {}).get("num_classes")
    if isinstance(model, RoFormerQuestionAnswerer):
        num_classes = 2
    if num_classes is not None:
        config["id2label"] = {str(i): f"LABEL_{i}" for i in range(int(num_classes))}
        config["label2id"] = {f"LABEL_{i}": i for i in range(int(num_classes))}
    write_checkpoint(folder, tensors, json.dumps(config, indent=2))
