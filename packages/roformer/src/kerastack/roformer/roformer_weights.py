"""RoFormer's weight table (HF's names, for v1 and v2), the permutation
between HF's interleaved rotary pairs and kerastack's half-split ones, the
sinusoidal table HF keeps as `encoder.embed_positions.weight`, and the
renaming of Zhuiyi's (bert4keras's) TensorFlow checkpoint names."""

import os
import re

import numpy as np

from kerastack.models import (
    SAME,
    TRANSPOSE,
    CheckpointError,
    Layout,
    assign_hf_tensors,
    attention_head_layouts,
    checkpoint_prefix,
    read_checkpoint_tensors,
    read_tf_checkpoint,
)

__all__ = ["bert4keras_to_hf_name", "load_roformer_checkpoint", "sinusoidal_table", "weight_table"]

# HF's names of one block's sublayers, after "encoder.layer.N.".
_BLOCK_NAMES = {
    "query": "attention.self.query",
    "key": "attention.self.key",
    "value": "attention.self.value",
    "attention_output": "attention.output.dense",
    "attention_norm": "attention.output.LayerNorm",
    "intermediate": "intermediate.dense",
    "output": "output.dense",
    "output_norm": "output.LayerNorm",
}
# HF's buffer of sinusoids (RoFormerModel recomputes it; checked, not loaded).
POSITIONS = "encoder.embed_positions.weight"
# Tensors a RoFormer checkpoint may hold beside the encoder: task heads, and
# the pooler and NSP head of Zhuiyi's pretraining checkpoints.
IGNORED_PREFIXES = (
    "cls.predictions.",
    "cls.seq_relationship.",
    "classifier.",
    "qa_outputs.",
    "pooler.",
)


def _pairs_to_halves(head_size):
    """Feature `k` of a kerastack head is feature `order[k]` of HF's:
    `[0, 2, 4, ..., 1, 3, 5, ...]` (HF rotates pairs `(2i, 2i+1)`,
    `RotaryEmbedding` pairs `(i, i + H/2)`, with the same frequencies)."""
    order = np.concatenate([np.arange(0, head_size, 2), np.arange(1, head_size, 2)])
    return order, np.argsort(order)


def _permuted(layout, head_size, axis):
    """`layout`, then each head's features reordered from HF's rotary pairs
    to kerastack's halves along `axis` of our weight (and back)."""
    order, inverse = _pairs_to_halves(head_size)
    return Layout(
        lambda value: np.take(layout.to_ours(value), order, axis=axis),
        lambda value: layout.to_hf(np.take(value, inverse, axis=axis)),
    )


def sinusoidal_table(num_positions, head_size):
    """HF RoFormer's `encoder.embed_positions.weight` `(P, H)`: the sines
    of the rotary angles in the first half, their cosines in the second
    (computed in float64, as HF does, then float32).

    Example:

    >>> table = sinusoidal_table(4, 6)
    >>> table.shape, table.dtype.name
    ((4, 6), 'float32')
    >>> [round(float(v), 4) for v in table[1]]  # sin(1/10000**(2i/6)), then cos
    [0.8415, 0.0464, 0.0022, 0.5403, 0.9989, 1.0]
    """
    positions = np.arange(num_positions, dtype="float64")[:, None]
    angles = positions / np.power(10000.0, np.arange(0, head_size, 2) / head_size)  # (P, H/2)
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1).astype("float32")


def weight_table(backbone):
    """`[(variable, hf_name, layout)]` for every weight of a
    `RoFormerBackbone` or `RoFormerV2Backbone`, in HF RoFormer's names
    (RoFormer-v2, which has no HF class, in the same names: no biases, no
    norm weights).

    The query and key projections (and the values and output projection,
    with `rotary_value`) are stored with each head's features reordered:
    HF rotates interleaved pairs `(2i, 2i+1)`, kerastack's `RotaryEmbedding`
    the halves `(i, i + H/2)`; reordering the projection's output features
    `[0, 2, 4, ..., 1, 3, 5, ...]` makes one rotation the other, exactly,
    and the dot products of queries and keys are unchanged by it.

    Example:

    >>> from kerastack.roformer import RoFormerBackbone
    >>> backbone = RoFormerBackbone(vocabulary_size=30, num_layers=1, num_heads=2,
    ...     hidden_dim=8, intermediate_dim=16, embedding_dim=6)
    >>> table = weight_table(backbone)
    >>> len(table) == len(backbone.weights)
    True
    >>> [name for _, name, _ in table[:6]]  # doctest: +NORMALIZE_WHITESPACE
    ['embeddings.word_embeddings.weight', 'embeddings.token_type_embeddings.weight',
     'embeddings.LayerNorm.weight', 'embeddings.LayerNorm.bias',
     'embeddings_project.weight', 'embeddings_project.bias']
    >>> query, name, layout = table[6]
    >>> hf = np.arange(64.0).reshape(8, 8)  # HF (out, in): out = head * 4 + feature
    >>> layout.to_ours(hf)[0, 0].tolist()  # head 0's features 0, 2, 1, 3
    [0.0, 16.0, 8.0, 24.0]
    >>> np.array_equal(layout.to_hf(layout.to_ours(hf)), hf)
    True
    """
    num_heads = backbone.num_heads
    head_size = backbone.hidden_dim // num_heads
    kernel, bias, output = attention_head_layouts(num_heads)
    rotated_kernel = _permuted(kernel, head_size, axis=2)  # (D, N, H)
    rotated_bias = _permuted(bias, head_size, axis=1)  # (N, H)
    rotated_output = _permuted(output, head_size, axis=1)  # (N, H, D)
    use_bias = backbone.use_bias
    value_layouts = (rotated_kernel, rotated_bias) if backbone.rotary_value else (kernel, bias)
    output_layout = rotated_output if backbone.rotary_value else output

    table = [
        (
            backbone.get_layer("token_embedding").embeddings,
            "embeddings.word_embeddings.weight",
            SAME,
        ),
        (
            backbone.get_layer("segment_embedding").embeddings,
            "embeddings.token_type_embeddings.weight",
            SAME,
        ),
    ]
    if use_bias:
        norm = backbone.get_layer("embeddings_layer_norm")
        table += [
            (norm.gamma, "embeddings.LayerNorm.weight", SAME),
            (norm.beta, "embeddings.LayerNorm.bias", SAME),
        ]
    if backbone.embedding_dim != backbone.hidden_dim:
        projection = backbone.get_layer("embeddings_projection")
        table.append((projection.kernel, "embeddings_project.weight", TRANSPOSE))
        if use_bias:
            table.append((projection.bias, "embeddings_project.bias", SAME))

    for index in range(backbone.num_layers):
        block = backbone.get_layer(f"transformer_layer_{index}")
        prefix = f"encoder.layer.{index}."
        attention, feed_forward = block.self_attention, block.feed_forward
        parts = [
            (attention.query_dense, "query", rotated_kernel, rotated_bias),
            (attention.key_dense, "key", rotated_kernel, rotated_bias),
            (attention.value_dense, "value", *value_layouts),
            (attention.output_dense, "attention_output", output_layout, SAME),
            (feed_forward.intermediate_dense, "intermediate", TRANSPOSE, SAME),
            (feed_forward.output_dense, "output", TRANSPOSE, SAME),
        ]
        for dense, part, kernel_layout, bias_layout in parts:
            name = prefix + _BLOCK_NAMES[part]
            table.append((dense.kernel, name + ".weight", kernel_layout))
            if use_bias:
                table.append((dense.bias, name + ".bias", bias_layout))
        if use_bias:
            for norm, part in (
                (block.self_attention_layer_norm, "attention_norm"),
                (block.feed_forward_layer_norm, "output_norm"),
            ):
                table.append((norm.gamma, prefix + _BLOCK_NAMES[part] + ".weight", SAME))
                table.append((norm.beta, prefix + _BLOCK_NAMES[part] + ".bias", SAME))
    return table


# Training state saved beside the weights, never part of a model.
_TRAINING_STATE = re.compile(r"(^|/)(global_step|adam_m|adam_v|beta1_power|beta2_power)$")
_BERT4KERAS_SPECIAL = {
    "cls/predictions/output_bias": ("cls.predictions.bias", False),
    "cls/seq_relationship/output_weights": ("cls.seq_relationship.weight", False),
    "cls/seq_relationship/output_bias": ("cls.seq_relationship.bias", False),
    "bert/encoder/embedding_hidden_mapping_in/kernel": ("embeddings_project.weight", True),
    "bert/encoder/embedding_hidden_mapping_in/bias": ("embeddings_project.bias", False),
}


def bert4keras_to_hf_name(name):
    """`(hf_name, transpose)` for a tensor of Zhuiyi's RoFormer (v1 or v2)
    TensorFlow checkpoints, which bert4keras writes and reads under Google
    BERT's names; kernels are `(in, out)` there and `(out, in)` in HF.

    Example:

    >>> bert4keras_to_hf_name("bert/encoder/layer_1/attention/self/query/kernel")
    ('encoder.layer.1.attention.self.query.weight', True)
    >>> bert4keras_to_hf_name("bert/embeddings/LayerNorm/gamma")
    ('embeddings.LayerNorm.weight', False)
    >>> bert4keras_to_hf_name("bert/encoder/embedding_hidden_mapping_in/kernel")
    ('embeddings_project.weight', True)
    >>> bert4keras_to_hf_name("bert/embeddings/word_embeddings")
    ('embeddings.word_embeddings.weight', False)
    """
    if name in _BERT4KERAS_SPECIAL:
        return _BERT4KERAS_SPECIAL[name]
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
    if parts and parts[-1].endswith("_embeddings"):
        renamed.append("weight")
    return ".".join(renamed), transpose


def _read_bert4keras(path):
    prefix = checkpoint_prefix(path)
    tensors, sources = {}, {}
    for name, value in read_tf_checkpoint(prefix).items():
        if _TRAINING_STATE.search(name):
            continue
        hf_name, transpose = bert4keras_to_hf_name(name)
        if hf_name in sources:
            raise CheckpointError(
                f"{prefix} holds both {sources[hf_name]!r} and {name!r}, which are the same "
                f"weight ({hf_name!r}); remove one"
            )
        sources[hf_name] = name
        tensors[hf_name] = value.T if transpose else value
    return prefix, tensors


def _check_positions(model, tensors, source):
    """Take HF's sinusoid buffer out of `tensors`, after checking that it is
    the table the rotary embedding computes (a checkpoint with another one
    would compute something else)."""
    prefix = getattr(model, "hf_prefix", "")
    backbone = getattr(model, "backbone", model)
    for name in (POSITIONS, prefix + POSITIONS):
        if name not in tensors:
            continue
        value = np.asarray(tensors.pop(name))
        head_size = backbone.hidden_dim // backbone.num_heads
        expected = sinusoidal_table(backbone.max_sequence_length, head_size)
        if value.shape != expected.shape or not np.allclose(value, expected, atol=1e-6, rtol=0):
            raise ValueError(
                f"{source}: {name} {value.shape} is not the sinusoidal table "
                f"{expected.shape} of max_position_embeddings="
                f"{backbone.max_sequence_length} and head size {head_size} that the rotary "
                "position embedding computes."
            )


def load_roformer_checkpoint(model, path):
    """Assign the weights of a RoFormer checkpoint to `model` (a backbone
    or a task model), strictly (see `kerastack.models.assign_hf_tensors`):
    HF's `model.safetensors` (or `pytorch_model.bin`), or a TensorFlow
    checkpoint of Zhuiyi's (`bert_model.ckpt.*`, bert4keras's names; no
    TensorFlow needed). HF's `encoder.embed_positions.weight` is checked to
    be the sinusoids the model computes, and not loaded.

    Args:
        model: a RoFormer backbone or task model.
        path: a checkpoint file or prefix, or the folder holding one (HF's
            files first).

    Returns:
        The names (HF's) of the checkpoint tensors left out: task heads a
        backbone lacks, a pretraining checkpoint's pooler and NSP head.

    Example:

    >>> import tempfile
    >>> from kerastack.roformer import RoFormerBackbone, save_hf_weights
    >>> arguments = dict(vocabulary_size=30, num_layers=1, num_heads=2, hidden_dim=8,
    ...     intermediate_dim=16, max_sequence_length=16)
    >>> saved, loaded = RoFormerBackbone(**arguments), RoFormerBackbone(**arguments)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     save_hf_weights(saved, folder)
    ...     left_out = load_roformer_checkpoint(loaded, folder)
    >>> left_out, all(np.array_equal(a, b)
    ...     for a, b in zip(saved.get_weights(), loaded.get_weights()))
    ([], True)
    """
    hf_files = ("model.safetensors", "pytorch_model.bin")
    path = os.fspath(path)
    tf_checkpoint = (
        (
            os.path.isdir(path)
            and not any(os.path.exists(os.path.join(path, name)) for name in hf_files)
            and any(name.endswith(".index") for name in os.listdir(path))
        )
        or path.endswith(".index")
        or os.path.exists(path + ".index")
    )
    if tf_checkpoint:
        source, tensors = _read_bert4keras(path)
    else:
        source, tensors = read_checkpoint_tensors(path)
        tensors = dict(tensors)
    _check_positions(model, tensors, source)
    return assign_hf_tensors(model, tensors, source)
