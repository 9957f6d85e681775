"""Huawei's original NEZHA checkpoints (TensorFlow 1, Google BERT's names:
`bert/embeddings/word_embeddings`, `bert/encoder/layer_N/attention/self/
query/kernel`, ...) into `NezhaBackbone` and the task models, on every
backend, with no TensorFlow: tensors are read by the kit's
`read_tf_checkpoint`, renamed to HF's names (`huawei_to_hf_name`) and
assigned by the same strict code as HF files."""

import re

from kerastack.models import (
    CheckpointError,
    assign_hf_tensors,
    checkpoint_prefix,
    read_tf_checkpoint,
)

__all__ = ["huawei_to_hf_name", "load_huawei_checkpoint"]

# Training state saved beside the weights (Adam's or LAMB's slots, the step).
_TRAINING_STATE = re.compile(
    r"(^|/)(global_step|adam_m|adam_v|lamb_m|lamb_v|beta1_power|beta2_power)$"
)
# Names that do not follow the rules below: the masked-LM bias, and the
# next-sentence head, (2, D) in both layouts.
_SPECIAL = {
    "cls/predictions/output_bias": ("cls.predictions.bias", False),
    "cls/seq_relationship/output_weights": ("cls.seq_relationship.weight", False),
    "cls/seq_relationship/output_bias": ("cls.seq_relationship.bias", False),
}
_TABLES = ("word_embeddings", "token_type_embeddings", "position_embeddings")
_LEAVES = {"kernel": ("weight", True), "gamma": ("weight", False), "beta": ("bias", False)}


def huawei_to_hf_name(name):
    """`(hf_name, transpose)` for a tensor of Huawei's NEZHA checkpoint:
    TensorFlow kernels are `(in, out)`, HF's Linear weights `(out, in)`.

    Example:

    >>> huawei_to_hf_name("bert/encoder/layer_2/attention/self/key/kernel")
    ('encoder.layer.2.attention.self.key.weight', True)
    >>> huawei_to_hf_name("bert/embeddings/LayerNorm/beta")
    ('embeddings.LayerNorm.bias', False)
    >>> huawei_to_hf_name("bert/embeddings/token_type_embeddings")
    ('embeddings.token_type_embeddings.weight', False)
    >>> huawei_to_hf_name("cls/predictions/transform/dense/kernel")
    ('cls.predictions.transform.dense.weight', True)
    """
    if name in _SPECIAL:
        return _SPECIAL[name]
    parts = name.split("/")
    if parts[0] == "bert":
        parts = parts[1:]
    renamed, transpose = [], False
    for part in parts:
        layer = re.fullmatch(r"layer_(\d+)", part)
        if layer:
            renamed += ["layer", layer.group(1)]
        elif part in _LEAVES:
            leaf, transpose = _LEAVES[part]
            renamed.append(leaf)
        else:
            renamed.append(part)
    if parts and parts[-1] in _TABLES:
        renamed.append("weight")
    return ".".join(renamed), transpose


def load_huawei_checkpoint(model, path):
    """Assign the weights of Huawei's NEZHA checkpoint at `path` (the prefix
    `.../model.ckpt`, its `.index` file, or the folder holding it) to
    `model` (a `NezhaBackbone` or a task model), strictly: missing,
    unexpected or mis-shaped tensors are a ValueError listing them all, and
    no weight changes. Optimizer state is always left out.

    Returns:
        The HF names of the checkpoint tensors left out (task heads a
        backbone does not have).

    Example:

    >>> import tempfile
    >>> from kerastack.nezha import NezhaBackbone
    >>> backbone = NezhaBackbone(vocabulary_size=30, num_layers=1, num_heads=3,
    ...     hidden_dim=12, intermediate_dim=16, max_relative_position=3)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     load_huawei_checkpoint(backbone, folder)
    Traceback (most recent call last):
    ...
    FileNotFoundError: Expected one checkpoint (*.index) in ..., found none.
    """
    prefix = checkpoint_prefix(path)
    tensors, sources = {}, {}
    for name, value in read_tf_checkpoint(prefix).items():
        if _TRAINING_STATE.search(name):
            continue
        hf_name, transpose = huawei_to_hf_name(name)
        if hf_name in sources:
            raise CheckpointError(
                f"{prefix} holds both {sources[hf_name]!r} and {name!r}, which are the "
                f"same weight ({hf_name!r}); remove one"
            )
        sources[hf_name] = name
        tensors[hf_name] = value.T if transpose else value
    return assign_hf_tensors(model, tensors, prefix)
