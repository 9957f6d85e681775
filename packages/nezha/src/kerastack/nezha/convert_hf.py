"""HF NEZHA checkpoints (`model.safetensors` + `config.json`, transformers
4.x's `NezhaModel` and `NezhaFor...` layouts) in and out of `NezhaBackbone`
and the NEZHA task models."""

import json

import numpy as np

from kerastack.core import ops
from kerastack.models import write_checkpoint
from kerastack.nezha.heads import (
    NezhaClassifier,
    NezhaMaskedLM,
    NezhaQuestionAnswerer,
    NezhaTokenClassifier,
)
from kerastack.nezha.nezha_backbone import NezhaBackbone, load_checkpoint
from kerastack.nezha.nezha_weights import weight_table

__all__ = ["load_hf_weights", "save_hf_weights"]

_HF_ACTIVATIONS = {"gelu_approximate": "gelu_new"}
# transformers 4.x's class for each model (NEZHA left transformers in 5.0).
_ARCHITECTURES = {
    NezhaBackbone: "NezhaModel",
    NezhaMaskedLM: "NezhaForMaskedLM",
    NezhaClassifier: "NezhaForSequenceClassification",
    NezhaTokenClassifier: "NezhaForTokenClassification",
    NezhaQuestionAnswerer: "NezhaForQuestionAnswering",
}


def load_hf_weights(model, path):
    """Assign the weights of the HF NEZHA checkpoint in folder `path` to
    `model` (a `NezhaBackbone`, or a task model whose head the checkpoint
    must hold), strictly: a ValueError lists every missing, unexpected or
    mis-shaped tensor, and no weight changes. Returns the names left out
    (buffers, heads a backbone does not have).

    Example:

    >>> import tempfile
    >>> arguments = dict(vocabulary_size=30, num_layers=1, num_heads=3, hidden_dim=12,
    ...     intermediate_dim=16, max_relative_position=3)
    >>> saved, loaded = NezhaBackbone(**arguments), NezhaBackbone(**arguments)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     save_hf_weights(saved, folder)
    ...     left_out = load_hf_weights(loaded, folder)
    >>> left_out
    []
    >>> all(np.array_equal(a, b) for a, b in zip(saved.get_weights(), loaded.get_weights()))
    True
    """
    return load_checkpoint(model, path)


def save_hf_weights(model, folder):
    """Write `model` as an HF NEZHA checkpoint: `config.json` (model_type
    "nezha", transformers 4.x `NezhaConfig`'s keys, `architectures` naming
    the class) and `model.safetensors` in `folder`. A `NezhaBackbone` is
    written as `NezhaModel`; a task model as transformers 4.x's matching
    class, its backbone's names prefixed with `nezha.`:
    `NezhaMaskedLM` as `NezhaForMaskedLM` (`cls.predictions.*`, the decoder
    tied to the word table, no pooler), `NezhaClassifier` as
    `NezhaForSequenceClassification` (pooler, `classifier.*`, `id2label`),
    `NezhaTokenClassifier` as `NezhaForTokenClassification` (no pooler) and
    `NezhaQuestionAnswerer` as `NezhaForQuestionAnswering` (`qa_outputs.*`,
    no pooler). The class's `from_pretrained(folder)` and
    `kerastack.models.from_pretrained(folder, task=...)` load it back. Both
    files are replaced at once, or neither
    (`kerastack.models.write_checkpoint`).

    Example:

    >>> import os, tempfile
    >>> backbone = NezhaBackbone(vocabulary_size=30, num_layers=1, num_heads=3,
    ...     hidden_dim=12, intermediate_dim=16, max_relative_position=3)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     save_hf_weights(backbone, folder)
    ...     files = sorted(os.listdir(folder))
    ...     reloaded = NezhaBackbone.from_pretrained(folder)
    >>> files
    ['config.json', 'model.safetensors']
    >>> reloaded.max_relative_position, reloaded.num_heads
    (3, 3)
    >>> classifier = NezhaClassifier(backbone, num_classes=3)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     save_hf_weights(classifier, folder)
    ...     reloaded = NezhaClassifier.from_pretrained(folder)
    >>> reloaded.get_config()["num_classes"]
    3
    >>> all(np.array_equal(a, b) for a, b in zip(classifier.get_weights(), reloaded.get_weights()))
    True
    """
    kind = type(model)
    backbone = model if kind is NezhaBackbone else getattr(model, "backbone", None)
    if kind not in _ARCHITECTURES or type(backbone) is not NezhaBackbone:
        raise TypeError(
            "save_hf_weights writes HF NEZHA checkpoints from a NezhaBackbone or a NEZHA task "
            f"model on one ({', '.join(k.__name__ for k in _ARCHITECTURES)}), received a "
            f"{kind.__name__}."
        )
    prefix = "" if model is backbone else "nezha."
    backbone_variables = {id(variable) for variable, _, _ in weight_table(backbone)}
    tensors = {}
    for variable, name, layout in model.hf_weight_table():
        value = layout.to_hf(np.asarray(ops.convert_to_numpy(variable)))
        name = prefix + name if id(variable) in backbone_variables else name
        tensors[name] = np.ascontiguousarray(value)
    config = {
        "architectures": [_ARCHITECTURES[kind]],
        "model_type": "nezha",
        "vocab_size": int(backbone.vocabulary_size),
        "hidden_size": int(backbone.hidden_dim),
        "num_hidden_layers": int(backbone.num_layers),
        "num_attention_heads": int(backbone.num_heads),
        "intermediate_size": int(backbone.intermediate_dim),
        "hidden_act": _HF_ACTIVATIONS.get(backbone.activation, backbone.activation),
        "hidden_dropout_prob": float(backbone.dropout),
        "attention_probs_dropout_prob": float(backbone.dropout),
        "max_position_embeddings": int(backbone.max_sequence_length),
        "max_relative_position": int(backbone.max_relative_position),
        "type_vocab_size": int(backbone.num_segments),
        "initializer_range": float(backbone.initializer_range),
        "layer_norm_eps": float(backbone.layer_norm_epsilon),
    }
    classes = None
    if kind in (NezhaClassifier, NezhaTokenClassifier):
        arguments = model.get_config()
        classes = int(arguments["num_classes"])
        config["classifier_dropout"] = float(arguments["dropout"])
    elif kind is NezhaQuestionAnswerer:
        classes = 2  # HF's `qa_outputs` has `num_labels` outputs: start and end
    if classes is not None:
        config["num_labels"] = classes
        config["id2label"] = {str(index): f"LABEL_{index}" for index in range(classes)}
        config["label2id"] = {f"LABEL_{index}": index for index in range(classes)}
    write_checkpoint(folder, tensors, json.dumps(config, indent=2))
