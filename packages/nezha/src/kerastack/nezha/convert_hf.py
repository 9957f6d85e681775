"""HF NEZHA checkpoints (`model.safetensors` + `config.json`, transformers
4.x `NezhaModel`'s layout) in and out of `NezhaBackbone`."""

import json

import numpy as np

from kerastack.core import ops
from kerastack.models import write_checkpoint
from kerastack.nezha.nezha_backbone import NezhaBackbone, load_checkpoint
from kerastack.nezha.nezha_weights import weight_table

__all__ = ["load_hf_weights", "save_hf_weights"]

_HF_ACTIVATIONS = {"gelu_approximate": "gelu_new"}


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


def save_hf_weights(backbone, folder):
    """Write `backbone` as an HF NEZHA checkpoint: `config.json` (model_type
    "nezha", transformers 4.x `NezhaConfig`'s keys) and `model.safetensors`
    (`NezhaModel`'s names) in `folder`, which
    `NezhaBackbone.from_pretrained(folder)` loads back. Both files are
    replaced at once, or neither (`kerastack.models.write_checkpoint`).

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
    """

    if not isinstance(backbone, NezhaBackbone):
        raise TypeError(
            f"save_hf_weights writes NEZHA checkpoints from a NezhaBackbone, received a "
            f"{type(backbone).__name__}."
        )
    tensors = {
        name: np.ascontiguousarray(layout.to_hf(np.asarray(ops.convert_to_numpy(variable))))
        for variable, name, layout in weight_table(backbone)
    }
    config = {
        "architectures": ["NezhaModel"],
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
    write_checkpoint(folder, tensors, json.dumps(config, indent=2))
