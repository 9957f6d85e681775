"""OpenAI GPT (GPT-1) checkpoints in and out of `OpenAIGPTBackbone` and
`OpenAIGPTCausalLM`: Hugging Face's (`model.safetensors` + `config.json`,
both ways) and OpenAI's original release (`params_shapes.json` +
`params_0.npy` ... `params_9.npy`, read).

One mapping table (`openai_gpt_weight_table`) names, for every weight, the
HF tensor it comes from and how it is laid out; the kit's strict,
all-or-nothing loader (`kerastack.models.assign_hf_tensors`) assigns them,
from either format: a missing, unexpected or mis-shaped tensor is an error
listing them all, and no weight changes then.

HF's projections are `Conv1D` layers, weights `(D_in, D_out)` applied as
`x @ W + b`, as in GPT-2 (and as in OpenAI's TensorFlow code, whose
`conv1d` weights are `(1, D_in, D_out)`). Each block's `attn.c_attn` is the
query, key and value projections side by side, `(D, 3D)`, which the table
presents as one fused weight (`FusedWeights`) of HF's shape.

Letters: D width, N heads, H head size, F feed-forward width, V vocabulary.
"""

import json
import os

import numpy as np

from kerastack.core import ops
from kerastack.gpt.convert_hf import SAME, FusedWeights, _output_heads
from kerastack.models import assign_hf_tensors, read_checkpoint_tensors, write_checkpoint

# Keras activations as HF's OpenAI GPT names them (`afn`): its "gelu" is
# GELU's tanh form.
_AFN = {"gelu_approximate": "gelu", "relu": "relu", "silu": "silu"}

# Each block's variables in OpenAI's release, in the order its TensorFlow
# code created them (and so the order of `params_shapes.json`), with the
# HF name each becomes.
_OPENAI_BLOCK = (
    ("attn/c_attn/w", "attn.c_attn.weight"),
    ("attn/c_attn/b", "attn.c_attn.bias"),
    ("attn/c_proj/w", "attn.c_proj.weight"),
    ("attn/c_proj/b", "attn.c_proj.bias"),
    ("ln_1/g", "ln_1.weight"),
    ("ln_1/b", "ln_1.bias"),
    ("mlp/c_fc/w", "mlp.c_fc.weight"),
    ("mlp/c_fc/b", "mlp.c_fc.bias"),
    ("mlp/c_proj/w", "mlp.c_proj.weight"),
    ("mlp/c_proj/b", "mlp.c_proj.bias"),
    ("ln_2/g", "ln_2.weight"),
    ("ln_2/b", "ln_2.bias"),
)


def openai_gpt_weight_table(backbone):
    """`[(weight, hf_name, layout)]` for every weight of an
    `OpenAIGPTBackbone`, with HF's names without the `transformer.` prefix
    of `OpenAIGPTLMHeadModel`:

    | kerastack | HF |
    |---|---|
    | `token_embedding` `(V, D)` | `tokens_embed.weight` |
    | `position_embedding` `(T_max, D)` | `positions_embed.weight` |
    | block i query, key, value kernels `(D, N, H)` | `h.{i}.attn.c_attn.weight` `(D, 3D)` |
    | block i query, key, value biases `(N, H)` | `h.{i}.attn.c_attn.bias` `(3D,)` |
    | block i `attention_output` kernel `(N, H, D)`, bias | `h.{i}.attn.c_proj.weight`, `.bias` |
    | block i `self_attention_norm` gamma, beta (after attention) | `h.{i}.ln_1.weight`, `.bias` |
    | block i `intermediate_dense` kernel `(D, F)`, bias | `h.{i}.mlp.c_fc.weight`, `.bias` |
    | block i `output_dense` kernel `(F, D)`, bias | `h.{i}.mlp.c_proj.weight`, `.bias` |
    | block i `feed_forward_norm` gamma, beta (after the MLP) | `h.{i}.ln_2.weight`, `.bias` |

    There is no final norm; the output projection is the token embedding
    (tied): HF's `lm_head.weight` is `tokens_embed.weight`.

    Example:

    >>> from kerastack.gpt import OpenAIGPTBackbone
    >>> backbone = OpenAIGPTBackbone(vocabulary_size=90, num_layers=2, num_heads=3,
    ...     hidden_dim=12, intermediate_dim=48, max_sequence_length=32)
    >>> table = openai_gpt_weight_table(backbone)
    >>> len(table)  # 2 embeddings, 12 per block
    26
    >>> fused, name, _ = table[2]  # the query, key and value kernels, (D, N, H) each
    >>> name, fused.shape
    ('h.0.attn.c_attn.weight', (12, 36))
    """
    table = [
        (backbone.token_embedding.embeddings, "tokens_embed.weight", SAME),
        (backbone.position_embedding.embeddings, "positions_embed.weight", SAME),
    ]
    output_heads = _output_heads(backbone.num_heads)
    for index, block in enumerate(backbone.transformer_layers):
        prefix = f"h.{index}."
        attention, feed_forward = block.self_attention, block.feed_forward
        projections = (attention.query_dense, attention.key_dense, attention.value_dense)
        attention_norm, feed_forward_norm = (
            block.self_attention_layer_norm,
            block.feed_forward_layer_norm,
        )
        table += [
            (
                FusedWeights([p.kernel for p in projections], leading=1),
                prefix + "attn.c_attn.weight",
                SAME,
            ),
            (
                FusedWeights([p.bias for p in projections], leading=0),
                prefix + "attn.c_attn.bias",
                SAME,
            ),
            (attention.output_dense.kernel, prefix + "attn.c_proj.weight", output_heads),
            (attention.output_dense.bias, prefix + "attn.c_proj.bias", SAME),
            (attention_norm.gamma, prefix + "ln_1.weight", SAME),
            (attention_norm.beta, prefix + "ln_1.bias", SAME),
            (feed_forward.intermediate_dense.kernel, prefix + "mlp.c_fc.weight", SAME),
            (feed_forward.intermediate_dense.bias, prefix + "mlp.c_fc.bias", SAME),
            (feed_forward.output_dense.kernel, prefix + "mlp.c_proj.weight", SAME),
            (feed_forward.output_dense.bias, prefix + "mlp.c_proj.bias", SAME),
            (feed_forward_norm.gamma, prefix + "ln_2.weight", SAME),
            (feed_forward_norm.beta, prefix + "ln_2.bias", SAME),
        ]
    return table


def ignored_openai_gpt_tensors(num_layers):
    """HF buffers a checkpoint may hold: each block's causal mask
    (`h.{i}.attn.bias`, saved by older transformers) and `position_ids`."""
    return ("position_ids",) + tuple(f"h.{index}.attn.bias" for index in range(num_layers))


def _backbone(model):
    backbone = getattr(model, "backbone", model)
    if not hasattr(backbone, "transformer_layers") or not hasattr(backbone, "hf_weight_table"):
        raise TypeError(
            f"Expected an OpenAIGPTBackbone or OpenAIGPTCausalLM, received {type(model).__name__}."
        )
    return backbone


def load_openai_gpt_weights(model, path, allow_longer_position_table=False):
    """Assign the weights of an HF OpenAI GPT checkpoint to `model`.

    Args:
        model: an `OpenAIGPTBackbone` or `OpenAIGPTCausalLM` of the
            checkpoint's shape.
        path: a `model.safetensors` file, a `pytorch_model.bin` (needs
            PyTorch), or the folder holding one. Tensors of
            `OpenAIGPTLMHeadModel` (`transformer.` prefix) and of
            `OpenAIGPTModel` (none) are both understood.
        allow_longer_position_table: a longer checkpoint position table is
            sliced to the model's `max_sequence_length` rows (otherwise it
            is a shape error).

    Returns:
        The names of checkpoint tensors left out (buffers, and an
        `lm_head.weight` equal to `tokens_embed.weight`).

    Raises:
        ValueError: listing every missing, unexpected or mis-shaped tensor,
            or naming an `lm_head.weight` that differs from
            `tokens_embed.weight` (the output projection is tied); no weight
            is changed then.

    Example:

    >>> import tempfile
    >>> from kerastack.gpt import OpenAIGPTBackbone
    >>> arguments = dict(vocabulary_size=90, num_layers=1, num_heads=3, hidden_dim=12,
    ...     intermediate_dim=48, max_sequence_length=32)
    >>> source, target = OpenAIGPTBackbone(**arguments), OpenAIGPTBackbone(**arguments)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     save_openai_gpt_weights(source, folder)
    ...     left_out = load_openai_gpt_weights(target, folder)
    >>> left_out
    []
    >>> all(np.array_equal(a, b) for a, b in zip(source.get_weights(), target.get_weights()))
    True
    """
    path, tensors = read_checkpoint_tensors(path)
    left_out = []
    for name in ("lm_head.weight", "transformer.lm_head.weight"):
        if name not in tensors:
            continue
        head = tensors.pop(name)
        embedding = tensors.get(
            "transformer.tokens_embed.weight", tensors.get("tokens_embed.weight")
        )
        if embedding is not None and not np.array_equal(head, embedding):
            raise ValueError(
                f"{path} holds an `{name}` that differs from `tokens_embed.weight`: its output "
                f"projection is not tied to the token embedding, and {type(model).__name__}'s is."
            )
        left_out.append(name)
    return sorted(left_out + assign_hf_tensors(model, tensors, path, allow_longer_position_table))


def save_openai_gpt_weights(model, folder):
    """Write `model` (an `OpenAIGPTBackbone` or `OpenAIGPTCausalLM`) as an HF
    OpenAI GPT checkpoint: `config.json` and `model.safetensors` (the
    tensors of `OpenAIGPTLMHeadModel`, whose `lm_head.weight` is tied to
    `transformer.tokens_embed.weight` and so not written), which
    `transformers.OpenAIGPTLMHeadModel.from_pretrained(folder)` and
    `OpenAIGPTCausalLM.from_pretrained(folder)` load.

    Both files are replaced at once, or neither (see
    `kerastack.models.write_checkpoint`). HF's OpenAI GPT has a
    feed-forward width of `4 * hidden_dim` and knows the activations
    `"gelu_approximate"` (its "gelu"), `"relu"` and `"silu"`: another model
    is a `ValueError`.

    Example:

    >>> import json, os, tempfile
    >>> from kerastack.gpt import OpenAIGPTBackbone
    >>> backbone = OpenAIGPTBackbone(vocabulary_size=90, num_layers=1, num_heads=3,
    ...     hidden_dim=12, intermediate_dim=48, max_sequence_length=32)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     save_openai_gpt_weights(backbone, folder)
    ...     files = sorted(os.listdir(folder))
    ...     with open(os.path.join(folder, "config.json")) as file:
    ...         config = json.load(file)
    >>> files
    ['config.json', 'model.safetensors']
    >>> config["model_type"], config["n_embd"], config["afn"]
    ('openai-gpt', 12, 'gelu')
    """
    backbone = _backbone(model)
    activation = backbone.activation
    if not isinstance(activation, str) or activation not in _AFN:
        raise ValueError(
            f"HF's OpenAI GPT has no activation {activation!r} (it knows "
            f"{sorted(_AFN)}): this model cannot be written as its checkpoint."
        )
    if backbone.intermediate_dim != 4 * backbone.hidden_dim:
        raise ValueError(
            f"HF's OpenAI GPT has a feed-forward width of 4 * hidden_dim = "
            f"{4 * backbone.hidden_dim}, this model intermediate_dim={backbone.intermediate_dim}."
        )
    tensors = {}
    for variable, name, layout in openai_gpt_weight_table(backbone):
        tensors["transformer." + name] = np.ascontiguousarray(layout.to_hf(_numpy(variable)))
    config = {
        "architectures": ["OpenAIGPTLMHeadModel"],
        "model_type": "openai-gpt",
        "vocab_size": int(backbone.vocabulary_size),
        "n_positions": int(backbone.max_sequence_length),
        "n_embd": int(backbone.hidden_dim),
        "n_layer": int(backbone.num_layers),
        "n_head": int(backbone.num_heads),
        "afn": _AFN[activation],
        "resid_pdrop": float(backbone.dropout),
        "embd_pdrop": float(backbone.dropout),
        "attn_pdrop": float(backbone.dropout),
        "layer_norm_epsilon": float(backbone.layer_norm_epsilon),
        "initializer_range": float(backbone.initializer_range),
        "tie_word_embeddings": True,
    }
    write_checkpoint(folder, tensors, json.dumps(config, indent=2))


def _numpy(variable):
    if isinstance(variable, FusedWeights):
        return variable.numpy()
    return np.asarray(ops.convert_to_numpy(variable))


def read_openai_params(folder):
    """The tensors of OpenAI's original GPT release in `folder`, by HF name
    (`{name: float32 array}`).

    The release (OpenAI's `finetune-transformer-lm`, which BERT-keras's
    `load_openai` and HF's `load_tf_weights_in_openai_gpt` read) is:

    - `params_shapes.json`: the shape of every variable, in the order
      OpenAI's TensorFlow code created them: the position table
      `(n_ctx, D)`, the token table `(V, D)`, then for each block `h{i}`:
      `attn/c_attn/w` `(1, D, 3D)`, `attn/c_attn/b`, `attn/c_proj/w`
      `(1, D, D)`, `attn/c_proj/b`, `ln_1/g`, `ln_1/b`, `mlp/c_fc/w`
      `(1, D, 4D)`, `mlp/c_fc/b`, `mlp/c_proj/w` `(1, 4D, D)`,
      `mlp/c_proj/b`, `ln_2/g`, `ln_2/b`;
    - `params_0.npy`, `params_1.npy`, ...: one flat float32 array cut in
      pieces (the release has 10): concatenated in order, they are every
      variable flattened, one after the other, in that order;
    - optionally `parameters_names.json`: the TensorFlow names, `model/we:0`
      (the two tables, which OpenAI's code joined into one) then
      `model/h{i}/.../w:0` and so on; when present they must be these.

    The `conv1d` weights' leading axis of 1 is dropped (HF's `Conv1D`
    weights are `(D_in, D_out)`, applied as `x @ W + b`, as OpenAI's).

    A missing or malformed file, a count of values that does not match the
    shapes, or a variable list that is not this layout, is a `ValueError`
    (or `FileNotFoundError`) naming the file.

    Example:

    >>> import tempfile
    >>> from kerastack.gpt import OpenAIGPTBackbone
    >>> backbone = OpenAIGPTBackbone(vocabulary_size=90, num_layers=1, num_heads=3,
    ...     hidden_dim=12, intermediate_dim=48, max_sequence_length=32)
    >>> folder = tempfile.mkdtemp()
    >>> save_openai_params(backbone, folder)
    >>> tensors = read_openai_params(folder)
    >>> tensors["h.0.attn.c_attn.weight"].shape  # (1, D, 3D) in the files
    (12, 36)
    >>> sorted(tensors)[:3]
    ['h.0.attn.c_attn.bias', 'h.0.attn.c_attn.weight', 'h.0.attn.c_proj.bias']
    """
    if not isinstance(folder, (str, os.PathLike)):
        raise ValueError(f"An OpenAI GPT folder is a str or os.PathLike, received {folder!r}.")
    folder = os.fspath(folder)
    shapes_path = os.path.join(folder, "params_shapes.json")
    if not os.path.isfile(shapes_path):
        raise FileNotFoundError(f"No params_shapes.json in {folder}.")
    with open(shapes_path, encoding="utf-8") as file:
        try:
            shapes = json.load(file)
        except json.JSONDecodeError as error:
            raise ValueError(f"{shapes_path} is not JSON: {error}") from error
    if (
        not isinstance(shapes, list)
        or not shapes
        or not all(
            isinstance(shape, list)
            and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)
            for shape in shapes
        )
    ):
        raise ValueError(f"{shapes_path} must hold a list of shapes (lists of ints).")
    if len(shapes) < 2 or (len(shapes) - 2) % len(_OPENAI_BLOCK):
        raise ValueError(
            f"{shapes_path} lists {len(shapes)} variables: OpenAI GPT's are the position and "
            f"token tables and {len(_OPENAI_BLOCK)} per block."
        )
    num_layers = (len(shapes) - 2) // len(_OPENAI_BLOCK)
    openai_names = ["model/we:0"] + [
        f"model/h{index}/{name}:0" for index in range(num_layers) for name, _ in _OPENAI_BLOCK
    ]
    names_path = os.path.join(folder, "parameters_names.json")
    if os.path.isfile(names_path):
        with open(names_path, encoding="utf-8") as file:
            try:
                names = json.load(file)
            except json.JSONDecodeError as error:
                raise ValueError(f"{names_path} is not JSON: {error}") from error
        if names != openai_names:
            raise ValueError(
                f"{names_path} does not name OpenAI GPT's variables in their order "
                f"(expected {openai_names[:3]} ... for {num_layers} blocks)."
            )
    pieces = []
    while os.path.isfile(os.path.join(folder, f"params_{len(pieces)}.npy")):
        path = os.path.join(folder, f"params_{len(pieces)}.npy")
        try:
            piece = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise ValueError(f"{path} is not a NumPy array file: {error}") from error
        if piece.ndim != 1 or piece.dtype.kind != "f":
            raise ValueError(
                f"{path} must hold a flat floating-point array, holds {piece.dtype} {piece.shape}."
            )
        pieces.append(piece)
    if not pieces:
        raise FileNotFoundError(f"No params_0.npy in {folder}.")
    values = np.concatenate(pieces)
    sizes = [int(np.prod(shape)) for shape in shapes]
    if values.size != sum(sizes):
        raise ValueError(
            f"{folder}: params_0.npy ... params_{len(pieces) - 1}.npy hold {values.size} values, "
            f"params_shapes.json's shapes {sum(sizes)}."
        )
    arrays = [
        piece.reshape(shape)
        for piece, shape in zip(np.split(values, np.cumsum(sizes)[:-1]), shapes, strict=True)
    ]
    tensors = {"positions_embed.weight": arrays[0], "tokens_embed.weight": arrays[1]}
    hf_names = [f"h.{index}.{name}" for index in range(num_layers) for _, name in _OPENAI_BLOCK]
    for name, array in zip(hf_names, arrays[2:], strict=True):
        if array.ndim == 3 and array.shape[0] == 1:
            array = array[0]  # conv1d's (1, D_in, D_out)
        tensors[name] = array
    return tensors


def load_openai_params(model, folder, allow_longer_position_table=False):
    """Assign OpenAI's original GPT weights (`params_shapes.json` and
    `params_*.npy` in `folder`, see `read_openai_params`; no TensorFlow
    needed) to `model`, an `OpenAIGPTBackbone` or `OpenAIGPTCausalLM`.

    Loading is strict, as from HF's files: missing, unexpected and
    mis-shaped variables are one `ValueError` listing them, and no weight
    changes then. OpenAI's position table has 512 rows:
    `allow_longer_position_table` slices it for a shorter model. The
    release's vocabulary is 40,478 tokens (HF's `openai-gpt`); special
    tokens added for fine-tuning need a larger model and their own rows.

    Returns:
        The names of the tensors left out (none).

    Example:

    >>> import tempfile
    >>> from kerastack.gpt import OpenAIGPTBackbone
    >>> arguments = dict(vocabulary_size=90, num_layers=1, num_heads=3, hidden_dim=12,
    ...     intermediate_dim=48, max_sequence_length=32)
    >>> source, target = OpenAIGPTBackbone(**arguments), OpenAIGPTBackbone(**arguments)
    >>> folder = tempfile.mkdtemp()
    >>> save_openai_params(source, folder)
    >>> load_openai_params(target, folder)
    []
    >>> all(np.array_equal(a, b) for a, b in zip(source.get_weights(), target.get_weights()))
    True
    """
    tensors = read_openai_params(folder)
    return assign_hf_tensors(
        _backbone(model), tensors, os.fspath(folder), allow_longer_position_table
    )


def save_openai_params(model, folder, pieces=10):
    """Write `model` (an `OpenAIGPTBackbone` or `OpenAIGPTCausalLM`) in
    OpenAI's original release layout (see `read_openai_params`):
    `params_shapes.json`, `parameters_names.json` and `params_0.npy` ...
    `params_{pieces - 1}.npy` (float32) in `folder`, which it makes.

    Example:

    >>> import os, tempfile
    >>> from kerastack.gpt import OpenAIGPTBackbone
    >>> backbone = OpenAIGPTBackbone(vocabulary_size=90, num_layers=1, num_heads=3,
    ...     hidden_dim=12, intermediate_dim=48, max_sequence_length=32)
    >>> folder = tempfile.mkdtemp()
    >>> save_openai_params(backbone, folder, pieces=2)
    >>> sorted(os.listdir(folder))
    ['parameters_names.json', 'params_0.npy', 'params_1.npy', 'params_shapes.json']
    """
    backbone = _backbone(model)
    pieces = int(pieces)
    if pieces < 1:
        raise ValueError(f"`pieces` must be a positive int, received pieces={pieces}.")
    hf = {
        name: np.asarray(layout.to_hf(_numpy(variable)), "float32")
        for variable, name, layout in openai_gpt_weight_table(backbone)
    }
    arrays = [hf["positions_embed.weight"], hf["tokens_embed.weight"]]
    names = ["model/we:0"]
    for index in range(backbone.num_layers):
        for openai_name, hf_name in _OPENAI_BLOCK:
            array = hf[f"h.{index}.{hf_name}"]
            arrays.append(array[None] if openai_name.endswith("/w") else array)
            names.append(f"model/h{index}/{openai_name}:0")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "params_shapes.json"), "w", encoding="utf-8") as file:
        json.dump([list(array.shape) for array in arrays], file)
    with open(os.path.join(folder, "parameters_names.json"), "w", encoding="utf-8") as file:
        json.dump(names, file)
    flat = np.concatenate([array.reshape(-1) for array in arrays])
    for index, piece in enumerate(np.array_split(flat, pieces)):
        np.save(os.path.join(folder, f"params_{index}.npy"), piece)
