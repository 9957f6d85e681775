"""Hugging Face checkpoints (`model.safetensors`) in and out of the
encoders of kerastack-bert (BERT, RoBERTa, XLM-R, CamemBERT, ALBERT) and
their task models.

Each model's table (`hf_weight_table()`; BERT's is
`kerastack.bert.weight_table`) names, for each weight, the HF tensor it
comes from and how it is laid out. Loading is strict and all-or-nothing
(`kerastack.models.assign_hf_tensors`): every tensor is read and checked
first, then every weight assigned; a missing, unexpected or mis-shaped
tensor is an error listing them all. One exception: a checkpoint with no
pooler at all (masked-LM checkpoints such as roberta-base) loads the rest
and warns, as transformers does.
"""

import json

import numpy as np

from kerastack.bert.bert_backbone import EncoderBackbone
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
    >>> from kerastack.bert import BertBackbone
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


def save_hf_weights(model, folder):
    """Write `model` as an HF checkpoint: `config.json` and
    `model.safetensors` in `folder`, which transformers' class of the same
    model (`BertModel`, `RobertaForSequenceClassification`,
    `AlbertForMaskedLM`, ...) and kerastack's `from_pretrained` load.

    `model` is an encoder backbone of this package (`BertBackbone`,
    `RobertaBackbone`, `XLMRobertaBackbone`, `CamembertBackbone`,
    `AlbertBackbone`) or one of their task models (`BertClassifier`,
    `RobertaClassifier`, `AlbertMaskedLM`, ...). The config names the
    backbone's `model_type` and transformers' class (`architectures`); a
    task model's encoder tensors take HF's prefix (`bert.`, `roberta.`,
    `albert.`), its head's keep HF's names, and a masked-LM decoder is left
    for transformers to tie to the word embeddings, as it saves them.

    Both files are replaced at once, or neither (see
    `kerastack.models.write_checkpoint`): a failure while writing is an
    `OSError` naming the file.

    Example:

    >>> import os, tempfile
    >>> from kerastack.bert import BertBackbone
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
    A task model is written whole:

    >>> from kerastack.bert import AlbertBackbone, AlbertClassifier
    >>> classifier = AlbertClassifier(AlbertBackbone(vocabulary_size=30, num_layers=2,
    ...     num_heads=2, hidden_dim=8, intermediate_dim=16, embedding_dim=4), num_classes=3)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     save_hf_weights(classifier, folder)
    ...     with open(os.path.join(folder, "config.json")) as file:
    ...         config = json.load(file)
    ...     reloaded = AlbertClassifier.from_pretrained(folder, num_classes=3)
    >>> config["model_type"], config["architectures"], config["num_labels"]
    ('albert', ['AlbertForSequenceClassification'], 3)
    """
    from kerastack.bert.encoder_heads import HF_TASK_CLASSES
    from kerastack.bert.heads import (
        BertClassifier,
        BertPretrainer,
        BertQuestionAnswerer,
        BertTokenClassifier,
    )

    bert_tasks = {
        BertClassifier: "ForSequenceClassification",
        BertTokenClassifier: "ForTokenClassification",
        BertQuestionAnswerer: "ForQuestionAnswering",
        BertPretrainer: "ForPreTraining",
    }
    kind = type(model)
    backbone = getattr(model, "backbone", None)
    if kind in HF_TASK_CLASSES or kind in bert_tasks:
        suffix = HF_TASK_CLASSES.get(kind) or bert_tasks[kind]
        head = {name for _, name, _ in model._head_table()}
    elif isinstance(model, EncoderBackbone) and backbone is None:
        backbone, suffix, head = model, "Model", set()
    else:
        raise TypeError(
            "save_hf_weights writes the encoders of kerastack-bert (BertBackbone, "
            "RobertaBackbone, XLMRobertaBackbone, CamembertBackbone, AlbertBackbone) and "
            f"their task models, received a {kind.__name__}."
        )
    if not isinstance(backbone, EncoderBackbone) or not hasattr(backbone, "hf_model_type"):
        raise TypeError(
            f"save_hf_weights cannot write a {kind.__name__} on a {type(backbone).__name__}."
        )
    prefix = "" if backbone is model else backbone.hf_prefix
    tensors = {}
    for variable, name, layout in model.hf_weight_table():
        value = np.asarray(ops.convert_to_numpy(variable))
        tensors[name if name in head else prefix + name] = np.ascontiguousarray(layout.to_hf(value))
    config = hf_config(backbone)
    config["architectures"] = [backbone.hf_architecture + suffix]
    num_classes = getattr(model, "_arguments", {}).get("num_classes")
    if num_classes is not None:
        config["num_labels"] = int(num_classes)
        config["id2label"] = {str(i): f"LABEL_{i}" for i in range(num_classes)}
        config["label2id"] = {f"LABEL_{i}": i for i in range(num_classes)}
    dropout = getattr(model, "_arguments", {}).get("dropout")
    if dropout is not None:
        config["classifier_dropout"] = float(dropout)
        if backbone.hf_model_type == "albert":
            config["classifier_dropout_prob"] = float(dropout)
    write_checkpoint(folder, tensors, json.dumps(config, indent=2))


def hf_config(backbone):
    """HF's `config.json` (a dict) of an encoder backbone of this package:
    BERT's keys, RoBERTa's special-token ids, ALBERT's factorization and
    sharing, under the backbone's `model_type`.

    Example:

    >>> from kerastack.bert import RobertaBackbone
    >>> config = hf_config(RobertaBackbone(vocabulary_size=30, num_layers=1, num_heads=2,
    ...     hidden_dim=8, intermediate_dim=16, max_sequence_length=16))
    >>> config["model_type"], config["pad_token_id"], config["max_position_embeddings"]
    ('roberta', 1, 16)
    """
    activation = {"gelu": "gelu", "gelu_approximate": "gelu_new"}.get(
        backbone.activation, backbone.activation
    )
    config = {
        "model_type": backbone.hf_model_type,
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
    if hasattr(backbone, "padding_id"):  # RoBERTa and its kin
        config["pad_token_id"] = int(backbone.padding_id)
        if backbone.hf_model_type == "camembert":
            config.update(bos_token_id=5, eos_token_id=6)
        else:
            config.update(bos_token_id=0, eos_token_id=2)
    if hasattr(backbone, "embedding_dim"):  # ALBERT
        config.update(
            embedding_size=int(backbone.embedding_dim),
            num_hidden_groups=int(backbone.num_groups),
            inner_group_num=int(backbone.layers_per_group),
            pad_token_id=0,
            bos_token_id=2,
            eos_token_id=3,
        )
    return config
