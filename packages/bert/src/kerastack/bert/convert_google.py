"""Google's original BERT checkpoints (`bert_model.ckpt.*`, TensorFlow 1 names)
into `BertBackbone` and the task models, on every backend, TensorFlow or not.

Tensors are read by `read_tf_checkpoint` (no TensorFlow), renamed to HF's
names by one table of rules, and loaded by the same strict code as HF files.
"""

import re

from kerastack.models import (
    CheckpointError,
    assign_hf_tensors,
    checkpoint_prefix,
    read_tf_checkpoint,
)

# Training state saved beside the weights, never part of a model.
_TRAINING_STATE = re.compile(r"(^|/)(global_step|adam_m|adam_v|beta1_power|beta2_power)$")
# Google names that do not follow the rules below.
_SPECIAL = {
    "cls/predictions/output_bias": "cls.predictions.bias",
    # (2, D) in both files: no transpose.
    "cls/seq_relationship/output_weights": "cls.seq_relationship.weight",
    "cls/seq_relationship/output_bias": "cls.seq_relationship.bias",
}
_EMBEDDINGS = ("word_embeddings", "position_embeddings", "token_type_embeddings")


def google_to_hf_name(name):
    """`(hf_name, transpose)` for a Google BERT tensor name.

    `bert/encoder/layer_3/attention/self/query/kernel` ->
    `("encoder.layer.3.attention.self.query.weight", True)`: kernels are
    `(in, out)` in TensorFlow and `(out, in)` in PyTorch.

    Example:

    >>> google_to_hf_name("bert/encoder/layer_3/attention/self/query/kernel")
    ('encoder.layer.3.attention.self.query.weight', True)
    >>> google_to_hf_name("bert/embeddings/LayerNorm/gamma")
    ('embeddings.LayerNorm.weight', False)
    >>> google_to_hf_name("bert/embeddings/word_embeddings")
    ('embeddings.word_embeddings.weight', False)
    >>> google_to_hf_name("cls/predictions/output_bias")
    ('cls.predictions.bias', False)
    """
    if name in _SPECIAL:
        return _SPECIAL[name], False
    parts = name.split("/")
    if parts[0] == "bert":
        parts = parts[1:]
    renamed, transpose = [], False
    for part in parts:
        if re.fullmatch(r"layer_\d+", part):
            renamed += ["layer", part[len("layer_") :]]
        elif part == "kernel":
            renamed.append("weight")
            transpose = True
        elif part == "gamma":
            renamed.append("weight")
        elif part == "beta":
            renamed.append("bias")
        else:
            renamed.append(part)
    if parts and parts[-1] in _EMBEDDINGS:
        renamed.append("weight")
    return ".".join(renamed), transpose


def load_google_checkpoint(model, path, allow_longer_position_table=False):
    """Assign the weights of a Google BERT checkpoint to `model` (a
    `BertBackbone` or a task model), strictly, as `load_hf_weights` does.

    Args:
        path: the checkpoint prefix (`.../bert_model.ckpt`), its `.index`
            file, or the folder holding it.

    Returns:
        The HF names of checkpoint tensors left out (task heads a backbone
        does not have); optimizer state (`adam_m`, `adam_v`, `global_step`)
        is always left out.

    Raises:
        CheckpointError: the checkpoint is corrupt or unsupported (see
            `read_tf_checkpoint`), or two of its tensors name the same
            weight (`bert/embeddings/...` and `embeddings/...`).
        ValueError: missing, unexpected or mis-shaped weights, as in
            `load_hf_weights`; the model is left unchanged.

    Example:

    With a folder of Google's (`uncased_L-12_H-768_A-12`: `bert_config.json`,
    `bert_model.ckpt.*`, `vocab.txt`), `BertBackbone.from_config_file(folder)`
    makes the model and `load_google_checkpoint(backbone, folder)` fills it,
    returning the pretraining heads' names it left out
    (`['cls.predictions.bias', ...]`). A folder without a checkpoint, or with
    a damaged one, is an error and leaves the model as it was:

    >>> import json, os, tempfile
    >>> from kerastack.bert import BertBackbone
    >>> folder = tempfile.TemporaryDirectory()
    >>> with open(os.path.join(folder.name, "bert_config.json"), "w") as file:
    ...     json.dump({"vocab_size": 30, "hidden_size": 8, "num_hidden_layers": 1,
    ...         "num_attention_heads": 2, "intermediate_size": 16}, file)
    >>> backbone = BertBackbone.from_config_file(folder.name)
    >>> load_google_checkpoint(backbone, folder.name)
    Traceback (most recent call last):
    ...
    FileNotFoundError: Expected one checkpoint (*.index) in ..., found none.
    >>> with open(os.path.join(folder.name, "bert_model.ckpt.index"), "wb") as file:
    ...     _ = file.write(b"not a checkpoint")
    >>> try:
    ...     load_google_checkpoint(backbone, folder.name)
    ... except CheckpointError as error:
    ...     print("CheckpointError:", "bert_model.ckpt" in str(error))
    CheckpointError: True
    >>> folder.cleanup()
    """
    prefix = checkpoint_prefix(path)
    tensors, sources = {}, {}
    for name, value in read_tf_checkpoint(prefix).items():
        if _TRAINING_STATE.search(name):
            continue
        hf_name, transpose = google_to_hf_name(name)
        if hf_name in sources:
            raise CheckpointError(
                f"{prefix} holds both {sources[hf_name]!r} and {name!r}, which are the "
                f"same weight ({hf_name!r}); remove one"
            )
        sources[hf_name] = name
        tensors[hf_name] = value.T if transpose else value
    return assign_hf_tensors(model, tensors, prefix, allow_longer_position_table)
