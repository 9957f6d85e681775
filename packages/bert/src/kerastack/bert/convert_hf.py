"""Hugging Face BERT checkpoints (`model.safetensors`) in and out of `BertBackbone`.

BERT's table (`kerastack.bert.weight_table`) names, for each backbone
weight, the HF tensor it comes from and how it is laid out. Loading is
strict and all-or-nothing (`kerastack.models.assign_hf_tensors`): every
tensor is read and checked first, then every weight assigned; a missing,
unexpected or mis-shaped tensor is an error listing them all. One exception:
a checkpoint with no pooler at all (masked-LM checkpoints such as
roberta-base) loads the rest and warns, as transformers does.
"""

import json

import numpy as np

from kerastack.bert.bert_backbone import BertBackbone
from kerastack.bert.bert_weights import weight_table
from kerastack.core import ops
from kerastack.models import assign_hf_tensors, read_checkpoint_tensors, write_checkpoint


def load_hf_weights(backbone, path, allow_longer_position_table=False):
    """Assign the weights of an HF BERT checkpoint to `backbone`.

    Args:
        backbone: a `BertBackbone` of the checkpoint's shape, or a task model
            (`BertClassifier`, ...), whose head the checkpoint must then hold.
        path: a `model.safetensors` file, a `pytorch_model.bin` (read with
            `torch.load(weights_only=True)`; needs PyTorch), or the folder
            holding one (`model.safetensors` first).
        allow_longer_position_table: a checkpoint position table longer than
            the backbone's `max_sequence_length` is sliced to its first rows
            (otherwise it is a shape error).

    Returns:
        The names of checkpoint tensors left out (buffers and task heads).

    Raises:
        ValueError: listing every missing, unexpected or mis-shaped tensor;
            no weight is changed then. A checkpoint lacking only the whole
            pooler (a masked-LM checkpoint, such as roberta-base) is not an
            error: the rest loads, the pooler keeps its initialization and a
            warning says so.

    Example:

    >>> import tempfile
    >>> arguments = dict(vocabulary_size=30, num_layers=1, num_heads=2, hidden_dim=8,
    ...     intermediate_dim=16, max_sequence_length=16)
    >>> saved, loaded = BertBackbone(**arguments), BertBackbone(**arguments)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     save_hf_weights(saved, folder)
    ...     left_out = load_hf_weights(loaded, folder)
    >>> left_out
    []
    >>> all(np.array_equal(a, b) for a, b in zip(saved.get_weights(), loaded.get_weights()))
    True
    >>> with tempfile.TemporaryDirectory() as folder:  # strict: a wider model refuses it
    ...     save_hf_weights(saved, folder)
    ...     load_hf_weights(BertBackbone(**dict(arguments, hidden_dim=12)), folder)
    Traceback (most recent call last):
    ...
    ValueError: ...
    """
    path, tensors = read_checkpoint_tensors(path)
    return assign_hf_tensors(backbone, tensors, path, allow_longer_position_table)


def save_hf_weights(backbone, folder):
    """Write `backbone` as an HF BERT checkpoint: `config.json` and
    `model.safetensors` in `folder`, which `transformers.BertModel
    .from_pretrained(folder)` (and `BertBackbone.from_pretrained`) load.

    Both files are replaced at once, or neither (see
    `kerastack.models.write_checkpoint`): a failure while writing is an
    `OSError` naming the file.

    Example:

    >>> import os, tempfile
    >>> backbone = BertBackbone(vocabulary_size=30, num_layers=1, num_heads=2,
    ...     hidden_dim=8, intermediate_dim=16, max_sequence_length=16)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     save_hf_weights(backbone, folder)
    ...     files = sorted(os.listdir(folder))
    ...     reloaded = BertBackbone.from_pretrained(folder)
    >>> files
    ['config.json', 'model.safetensors']
    >>> reloaded.hidden_dim, reloaded.num_layers
    (8, 1)
    >>> all(np.array_equal(a, b) for a, b in zip(backbone.get_weights(), reloaded.get_weights()))
    True

    `transformers.BertModel.from_pretrained(folder)` reads the same folder.
    """
    if type(backbone) is not BertBackbone:
        raise TypeError(
            f"save_hf_weights writes BERT checkpoints from a BertBackbone, received a "
            f"{type(backbone).__name__}."
        )
    tensors = {
        name: np.ascontiguousarray(layout.to_hf(np.asarray(ops.convert_to_numpy(variable))))
        for variable, name, layout in weight_table(backbone)
    }
    activation = {"gelu": "gelu", "gelu_approximate": "gelu_new"}.get(
        backbone.activation, backbone.activation
    )
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": int(backbone.vocabulary_size),
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
        "position_embedding_type": "absolute",
    }
    write_checkpoint(folder, tensors, json.dumps(config, indent=2))
