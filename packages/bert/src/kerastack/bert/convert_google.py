"""Google's original BERT and ALBERT checkpoints (`bert_model.ckpt.*`,
`albert_model.ckpt.*`, TensorFlow 1 names) into `BertBackbone`,
`AlbertBackbone` and the task models, on every backend, TensorFlow or not.

Tensors are read by `read_tf_checkpoint` (no TensorFlow), renamed to HF's
names by one table of rules per family, and loaded by the same strict code
as HF files.
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
# Google ALBERT's names that differ from BERT's, as HF ALBERT names them.
_ALBERT_SPECIAL = {
    "cls/predictions/output_bias": "predictions.bias",
    "cls/seq_relationship/output_weights": "sop_classifier.classifier.weight",  # (2, D)
    "cls/seq_relationship/output_bias": "sop_classifier.classifier.bias",
}
_ALBERT_LAYERS = {  # Google's sublayer of a shared block -> HF's
    "attention_1/self/query": "attention.query",
    "attention_1/self/key": "attention.key",
    "attention_1/self/value": "attention.value",
    "attention_1/output/dense": "attention.dense",
    "LayerNorm": "attention.LayerNorm",
    "ffn_1/intermediate/dense": "ffn",
    "ffn_1/intermediate/output/dense": "ffn_output",
    "LayerNorm_1": "full_layer_layer_norm",
}
_ALBERT_BLOCK = re.compile(
    r"(?:bert/)?encoder/transformer/group_(\d+)/inner_group_(\d+)/(.+)/(kernel|bias|gamma|beta)"
)
_ALBERT_PREFIXES = {  # Google's -> HF's, before the generic rules
    "bert/pooler/dense/": "pooler/",
    "pooler/dense/": "pooler/",
    "cls/predictions/transform/": "predictions/",
}
_FAMILIES = ("bert", "albert")


def google_to_hf_name(name, family="bert"):
    """`(hf_name, transpose)` for a Google BERT (or ALBERT) tensor name.

    `bert/encoder/layer_3/attention/self/query/kernel` ->
    `("encoder.layer.3.attention.self.query.weight", True)`: kernels are
    `(in, out)` in TensorFlow and `(out, in)` in PyTorch.

    Args:
        name: the tensor's name in Google's checkpoint.
        family: `"bert"` (BERT's names, also RoBERTa checkpoints in BERT's
            layout) or `"albert"` (Google ALBERT's: the shared blocks
            `encoder/transformer/group_G/inner_group_I/...` become HF's
            `encoder.albert_layer_groups.G.albert_layers.I....`, the pooler
            `pooler`, the heads `predictions` and `sop_classifier`).

    Example:

    >>> google_to_hf_name("bert/encoder/layer_3/attention/self/query/kernel")
    ('encoder.layer.3.attention.self.query.weight', True)
    >>> google_to_hf_name("bert/embeddings/LayerNorm/gamma")
    ('embeddings.LayerNorm.weight', False)
    >>> google_to_hf_name("bert/embeddings/word_embeddings")
    ('embeddings.word_embeddings.weight', False)
    >>> google_to_hf_name("cls/predictions/output_bias")
    ('cls.predictions.bias', False)
    >>> google_to_hf_name("bert/encoder/transformer/group_0/inner_group_0/"
    ...     "ffn_1/intermediate/output/dense/kernel", family="albert")
    ('encoder.albert_layer_groups.0.albert_layers.0.ffn_output.weight', True)
    >>> google_to_hf_name("bert/encoder/transformer/group_0/inner_group_0/LayerNorm_1/gamma",
    ...     family="albert")
    ('encoder.albert_layer_groups.0.albert_layers.0.full_layer_layer_norm.weight', False)
    >>> google_to_hf_name("bert/encoder/embedding_hidden_mapping_in/kernel", family="albert")
    ('encoder.embedding_hidden_mapping_in.weight', True)
    >>> google_to_hf_name("bert/pooler/dense/kernel", family="albert")
    ('pooler.weight', True)
    >>> google_to_hf_name("cls/predictions/output_bias", family="albert")
    ('predictions.bias', False)
    >>> google_to_hf_name("bert/pooler/dense/kernel", family="gpt")
    Traceback (most recent call last):
    ...
    ValueError: family must be one of ['bert', 'albert']; received 'gpt'.
    """
    if family not in _FAMILIES:
        raise ValueError(f"family must be one of {list(_FAMILIES)}; received {family!r}.")
    if family == "albert":
        if name in _ALBERT_SPECIAL:
            return _ALBERT_SPECIAL[name], False
        block = _ALBERT_BLOCK.fullmatch(name)
        if block and block.group(3) in _ALBERT_LAYERS:
            group, inner, layer, kind = block.groups()
            hf_layer = _ALBERT_LAYERS[layer].replace(".", "/")
            name = f"encoder/albert_layer_groups/{group}/albert_layers/{inner}/{hf_layer}/{kind}"
        for google, hf in _ALBERT_PREFIXES.items():
            if name.startswith(google):
                name = hf + name[len(google) :]
                break
    elif name in _SPECIAL:
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
    `BertBackbone` or a task model), or those of a Google ALBERT checkpoint
    to an `AlbertBackbone`, strictly, as `load_hf_weights` does.

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
    family = "albert" if getattr(model, "hf_prefix", None) == "albert." else "bert"
    tensors, sources = {}, {}
    for name, value in read_tf_checkpoint(prefix).items():
        if _TRAINING_STATE.search(name):
            continue
        hf_name, transpose = google_to_hf_name(name, family)
        if hf_name in sources:
            raise CheckpointError(
                f"{prefix} holds both {sources[hf_name]!r} and {name!r}, which are the "
                f"same weight ({hf_name!r}); remove one"
            )
        sources[hf_name] = name
        tensors[hf_name] = value.T if transpose else value
    return assign_hf_tensors(model, tensors, prefix, allow_longer_position_table)
