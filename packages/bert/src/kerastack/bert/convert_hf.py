"""Hugging Face BERT checkpoints (`model.safetensors`) in and out of `BertBackbone`.

One mapping table names, for each backbone weight, the HF tensor it comes
from and how it is laid out. Loading is strict and all-or-nothing: every
tensor is read and checked first, then every weight assigned; a missing,
unexpected or mis-shaped tensor is an error listing them all. One exception:
a checkpoint with no pooler at all (masked-LM checkpoints such as
roberta-base) loads the rest and warns, as transformers does.
"""

import os
import warnings

import numpy as np

from kerastack.core import static_shape

# Tensors an HF BERT checkpoint may hold beside the encoder: buffers, and the
# heads of BertForPreTraining / BertForSequenceClassification / ... (a
# backbone takes the encoder and leaves them).
_IGNORED_PREFIXES = ("cls.", "classifier.", "qa_outputs.", "embeddings.position_ids")


class Layout:
    """How an HF tensor is laid out in a weight, both ways: `to_ours(hf_array)`
    and `to_hf(our_array)` (every family's tables use it)."""

    def __init__(self, to_ours, to_hf):
        self.to_ours, self.to_hf = to_ours, to_hf


SAME = Layout(lambda value: value, lambda value: value)
# HF Linear weights are (D_out, D_in); Keras Dense kernels (D_in, D_out).
TRANSPOSE = Layout(lambda value: value.T, lambda value: value.T)


def _heads(num_heads):
    """(D_out, D_in) HF matrix <-> (D_in, N, H) EinsumDense kernel."""
    return Layout(
        lambda value: value.T.reshape(value.shape[1], num_heads, -1),
        lambda value: value.reshape(value.shape[0], -1).T,
    )


def _head_bias(num_heads):
    """(D,) HF bias <-> (N, H) EinsumDense bias."""
    return Layout(lambda value: value.reshape(num_heads, -1), lambda value: value.reshape(-1))


def _output_heads(num_heads):
    """(D_out, D_in) HF matrix <-> (N, H, D_out) EinsumDense kernel."""
    return Layout(
        lambda value: value.T.reshape(num_heads, -1, value.shape[0]),
        lambda value: value.reshape(-1, value.shape[-1]).T,
    )


# HF BERT's names of one encoder block's sublayers, after "encoder.layer.N.".
BERT_BLOCK_NAMES = {
    "query": "attention.self.query",
    "key": "attention.self.key",
    "value": "attention.self.value",
    "attention_output": "attention.output.dense",
    "attention_norm": "attention.output.LayerNorm",
    "intermediate": "intermediate.dense",
    "output": "output.dense",
    "output_norm": "output.LayerNorm",
}


def block_weight_table(block, num_heads, prefix, names):
    """The table of one post-norm `TransformerEncoder` block whose HF
    sublayers are `prefix + names[part]` (see `BERT_BLOCK_NAMES`)."""
    attention, feed_forward = block.self_attention, block.feed_forward
    table = []
    for part in ("query", "key", "value"):
        dense = getattr(attention, f"{part}_dense")
        name = prefix + names[part]
        table.append((dense.kernel, name + ".weight", _heads(num_heads)))
        table.append((dense.bias, name + ".bias", _head_bias(num_heads)))
    for dense, part, layout in (
        (attention.output_dense, "attention_output", _output_heads(num_heads)),
        (feed_forward.intermediate_dense, "intermediate", TRANSPOSE),
        (feed_forward.output_dense, "output", TRANSPOSE),
    ):
        table.append((dense.kernel, prefix + names[part] + ".weight", layout))
        table.append((dense.bias, prefix + names[part] + ".bias", SAME))
    for norm, part in (
        (block.self_attention_layer_norm, "attention_norm"),
        (block.feed_forward_layer_norm, "output_norm"),
    ):
        table.append((norm.gamma, prefix + names[part] + ".weight", SAME))
        table.append((norm.beta, prefix + names[part] + ".bias", SAME))
    return table


def weight_table(backbone):
    """`[(variable, hf_name, layout)]` for every weight of `backbone`:
    `layout.to_ours(hf_array)` is the variable's value, `layout.to_hf` the
    way back."""
    n = backbone.num_heads
    table = [
        (
            backbone.get_layer("token_embedding").embeddings,
            "embeddings.word_embeddings.weight",
            SAME,
        ),
        (
            backbone.get_layer("position_embedding").embeddings,
            "embeddings.position_embeddings.weight",
            SAME,
        ),
        (
            backbone.get_layer("segment_embedding").embeddings,
            "embeddings.token_type_embeddings.weight",
            SAME,
        ),
        (backbone.get_layer("embeddings_layer_norm").gamma, "embeddings.LayerNorm.weight", SAME),
        (backbone.get_layer("embeddings_layer_norm").beta, "embeddings.LayerNorm.bias", SAME),
    ]
    for index in range(backbone.num_layers):
        block = backbone.get_layer(f"transformer_layer_{index}")
        table += block_weight_table(block, n, f"encoder.layer.{index}.", BERT_BLOCK_NAMES)
    pooler = backbone.get_layer("pooled_dense")
    table += [
        (pooler.kernel, "pooler.dense.weight", TRANSPOSE),
        (pooler.bias, "pooler.dense.bias", SAME),
    ]
    return table


def _canonical(name, prefix="bert."):
    """HF's name for a tensor: without the prefix of task models ("bert.",
    "roberta.", ...), and with the old LayerNorm names (gamma, beta) as
    today's (weight, bias)."""
    if prefix and name.startswith(prefix):
        name = name[len(prefix) :]
    if ".LayerNorm." in name:
        name = name.replace("LayerNorm.gamma", "LayerNorm.weight")
        name = name.replace("LayerNorm.beta", "LayerNorm.bias")
    return name


def read_safetensors(path):
    """`{name: array}` of a `.safetensors` file, with a clear error for a
    missing, truncated or corrupt file."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    if not os.path.exists(path):
        raise FileNotFoundError(f"No checkpoint file at {path}.")
    try:
        return load_file(path)
    except (SafetensorError, OSError, ValueError) as error:
        raise ValueError(f"{path} is not a readable safetensors file: {error}") from error


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
    """
    path, tensors = read_checkpoint_tensors(path)
    return assign_hf_tensors(backbone, tensors, path, allow_longer_position_table)


def read_checkpoint_tensors(path):
    """`(file, {name: array})` of an HF checkpoint: a `model.safetensors`, a
    `pytorch_model.bin` (needs PyTorch), or the folder holding one
    (`model.safetensors` first)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        candidates = [
            os.path.join(path, name) for name in ("model.safetensors", "pytorch_model.bin")
        ]
        path = next((p for p in candidates if os.path.exists(p)), candidates[0])
    if path.endswith(".bin"):
        from kerastack.core import read_torch_file

        if not os.path.exists(path):
            raise FileNotFoundError(f"No checkpoint file at {path}.")
        return path, read_torch_file(path)
    return path, read_safetensors(path)


# What a Hub download fetches: the config, the safetensors weights and every
# family's tokenizer files (WordPiece; byte-level BPE; SentencePiece).
HUB_FILES = [
    "config.json",
    "model.safetensors",
    "tokenizer_config.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "spiece.model",
]


def checkpoint_folder(path_or_name, cache_dir=None, revision=None):
    """The local folder of a checkpoint: `path_or_name` itself when it is a
    folder; otherwise a Hugging Face Hub model name (`"org/name"`), whose
    config, safetensors weights and vocabulary `huggingface_hub` downloads
    (or finds in its cache; `HF_HUB_OFFLINE=1` never downloads)."""
    path = os.fspath(path_or_name)
    if os.path.isdir(path):
        return path
    if os.path.exists(path) or path.startswith((".", "/", "~")) or path.count("/") > 1:
        raise FileNotFoundError(f"No checkpoint folder at {path}.")
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(
            path, allow_patterns=HUB_FILES, cache_dir=cache_dir, revision=revision
        )
    except Exception as error:  # huggingface_hub's network, cache and name errors
        raise OSError(
            f"No checkpoint folder at {path!r}, and the Hugging Face Hub model of that "
            f"name could not be had: {error}"
        ) from error


# The pooler's tensors (BERT and RoBERTa's names, ALBERT's): the only ones a
# checkpoint may lack, all together.
POOLER_TENSORS = ("pooler.dense.weight", "pooler.dense.bias", "pooler.weight", "pooler.bias")


def assign_hf_tensors(backbone, tensors, source, allow_longer_position_table=False):
    """`load_hf_weights` for tensors already read (`{hf_name: array}`);
    `source` names where they came from in errors.

    Any model family can use it: the model gives its table as
    `hf_weight_table()`, and may name the prefix of HF's task models
    (`hf_prefix`, "bert." by default), the tensors it leaves out
    (`hf_ignored_prefixes`) and its position table (`hf_position_table`).
    """
    prefix = getattr(backbone, "hf_prefix", "bert.")
    ignored_prefixes = tuple(getattr(backbone, "hf_ignored_prefixes", _IGNORED_PREFIXES))
    position_table = getattr(backbone, "hf_position_table", "embeddings.position_embeddings.weight")
    tensors = {_canonical(name, prefix): value for name, value in tensors.items()}
    # The decoder of the masked-LM head is the word embedding table, tied.
    tensors.pop("cls.predictions.decoder.weight", None)
    tensors.pop("cls.predictions.decoder.bias", None)
    if hasattr(backbone, "hf_weight_table"):
        table = backbone.hf_weight_table()
    else:
        table = weight_table(backbone)
    wanted = {name for _, name, _ in table}
    ignored = sorted(n for n in tensors if n not in wanted and n.startswith(ignored_prefixes))
    unexpected = sorted(n for n in tensors if n not in wanted and n not in ignored)
    missing = sorted(name for name in wanted if name not in tensors)
    # Masked-LM checkpoints (roberta-base, roberta-large, ...) were saved
    # without a pooler: with no pooler tensor at all, the rest loads and the
    # pooler keeps its initialization, as in transformers (with a warning).
    pooler = sorted(name for name in wanted if name in POOLER_TENSORS)
    no_pooler = bool(pooler) and missing == pooler
    if no_pooler:
        missing = []
    values, mismatched = [], []
    for variable, name, layout in table:
        if name not in tensors:
            continue
        value = np.asarray(tensors[name])
        if (
            allow_longer_position_table
            and name == position_table
            and value.shape[0] > static_shape(variable)[0]
        ):
            value = value[: static_shape(variable)[0]]
        try:
            value = layout.to_ours(value)
        except ValueError:
            pass  # reported below as a shape mismatch
        if tuple(value.shape) != tuple(static_shape(variable)):
            mismatched.append(
                f"{name}: checkpoint {tuple(tensors[name].shape)}, "
                f"model {tuple(static_shape(variable))}"
            )
            continue
        values.append((variable, value.astype(variable.dtype)))
    problems = []
    if missing:
        problems.append(f"missing tensors: {', '.join(missing)}")
    if unexpected:
        problems.append(f"unexpected tensors: {', '.join(unexpected)}")
    if mismatched:
        problems.append("shape mismatches: " + "; ".join(mismatched))
    if problems:
        kind = type(backbone).__name__
        raise ValueError(f"{source} does not fit this {kind} ({'; '.join(problems)}).")
    for variable, value in values:
        variable.assign(value)
    if no_pooler:
        warnings.warn(
            f"{source} has no pooler ({', '.join(pooler)}): it was saved without one (a "
            "masked-LM checkpoint). Every other weight is loaded; the pooler keeps its "
            "random initialization, so `pooled_output` means nothing until fine-tuned.",
            stacklevel=2,
        )
    return ignored


def save_hf_weights(backbone, folder):
    """Write `backbone` as an HF BERT checkpoint: `config.json` and
    `model.safetensors` in `folder`, which `transformers.BertModel
    .from_pretrained(folder)` (and `BertBackbone.from_pretrained`) load."""
    import json

    from safetensors.numpy import save_file

    from kerastack.bert.bert_backbone import BertBackbone
    from kerastack.core import ops

    if type(backbone) is not BertBackbone:
        raise TypeError(
            f"save_hf_weights writes BERT checkpoints from a BertBackbone, received a "
            f"{type(backbone).__name__}."
        )
    os.makedirs(folder, exist_ok=True)
    tensors = {
        name: np.ascontiguousarray(layout.to_hf(np.asarray(ops.convert_to_numpy(variable))))
        for variable, name, layout in weight_table(backbone)
    }
    save_file(tensors, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    activation = {"gelu": "gelu", "gelu_approximate": "gelu_new"}.get(
        backbone.activation, backbone.activation
    )
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": backbone.vocabulary_size,
        "hidden_size": backbone.hidden_dim,
        "num_hidden_layers": backbone.num_layers,
        "num_attention_heads": backbone.num_heads,
        "intermediate_size": backbone.intermediate_dim,
        "hidden_act": activation,
        "hidden_dropout_prob": backbone.dropout,
        "attention_probs_dropout_prob": backbone.dropout,
        "max_position_embeddings": backbone.max_sequence_length,
        "type_vocab_size": backbone.num_segments,
        "initializer_range": backbone.initializer_range,
        "layer_norm_eps": backbone.layer_norm_epsilon,
        "position_embedding_type": "absolute",
    }
    with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as file:
        json.dump(config, file, indent=2)
