"""Hugging Face GPT-2 checkpoints (`model.safetensors`) into `GPT2Backbone`
and `GPT2CausalLM`.

One mapping table (`gpt2_weight_table`) names, for every weight, the HF
tensor it comes from and how it is laid out; kerastack-bert's strict,
all-or-nothing loader (`kerastack.models.assign_hf_tensors`)
assigns them: a missing, unexpected or mis-shaped tensor is an error listing
them all, and no weight changes then.

HF's GPT-2 projections are `Conv1D` layers: weights `(D_in, D_out)`, applied
as `x @ W + b` (not transposed like `nn.Linear`'s). Each block's
`attn.c_attn` is the query, key and value projections side by side,
`(D, 3D)`; kerastack holds them as three `EinsumDense` kernels `(D, N, H)`
(and biases `(N, H)`), which the table presents as one fused weight
(`FusedWeights`) of HF's shape.

Letters: D width, N heads, H head size, F feed-forward width.
"""

import numpy as np

from kerastack.core import ops, static_shape
from kerastack.models import Layout, assign_hf_tensors, read_checkpoint_tensors

SAME = Layout(lambda value: value, lambda value: value)


def _output_heads(num_heads):
    """Conv1D `(D_in, D_out)` = `(N*H, D)` <-> EinsumDense kernel `(N, H, D)`."""
    return Layout(
        lambda value: value.reshape(num_heads, -1, value.shape[-1]),
        lambda value: value.reshape(-1, value.shape[-1]),
    )


class FusedWeights:
    """Several weights seen as one HF tensor: each is flattened after its
    first `leading` axes and they are joined along the last axis.

    The query, key and value kernels `(D, N, H)` (`leading=1`) are HF's
    `c_attn.weight` `(D, 3*N*H)`; their biases `(N, H)` (`leading=0`) are
    `c_attn.bias` `(3*N*H,)`. It has what the loader reads of a variable
    (`shape`, `dtype`, `assign`) and `numpy()` for the way back.

    Example:

    >>> from kerastack.core import keras, ops
    >>> query = keras.Variable(np.zeros((4, 2, 2)), dtype="float32")  # (D, N, H)
    >>> key = keras.Variable(np.zeros((4, 2, 2)), dtype="float32")
    >>> fused = FusedWeights([query, key], leading=1)
    >>> fused.shape  # (D, 2 * N * H)
    (4, 8)
    >>> fused.assign(np.arange(32, dtype="float32").reshape(4, 8))
    >>> ops.convert_to_numpy(key)[0].tolist()  # the second half of each row
    [[4.0, 5.0], [6.0, 7.0]]
    >>> fused.numpy()[0].tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    """

    def __init__(self, variables, leading):
        self.variables = list(variables)
        self.leading = leading
        shapes = [tuple(static_shape(v)) for v in self.variables]
        self._widths = [int(np.prod(shape[leading:])) for shape in shapes]
        self.shape = shapes[0][:leading] + (sum(self._widths),)
        self.dtype = self.variables[0].dtype

    def assign(self, value):
        pieces = np.split(value, np.cumsum(self._widths)[:-1], axis=-1)
        for variable, piece in zip(self.variables, pieces, strict=True):
            variable.assign(piece.reshape(static_shape(variable)))

    def numpy(self):
        flat = [
            np.asarray(ops.convert_to_numpy(v)).reshape(self.shape[: self.leading] + (-1,))
            for v in self.variables
        ]
        return np.concatenate(flat, axis=-1)


def gpt2_weight_table(backbone):
    """`[(weight, hf_name, layout)]` for every weight of a `GPT2Backbone`,
    with HF's names without the `transformer.` prefix of `GPT2LMHeadModel`:

    | kerastack | HF |
    |---|---|
    | `token_embedding` `(V, D)` | `wte.weight` |
    | `position_embedding` `(T_max, D)` | `wpe.weight` |
    | block i `self_attention_norm` gamma, beta | `h.{i}.ln_1.weight`, `.bias` |
    | block i query, key, value kernels `(D, N, H)` | `h.{i}.attn.c_attn.weight` `(D, 3D)` |
    | block i query, key, value biases `(N, H)` | `h.{i}.attn.c_attn.bias` `(3D,)` |
    | block i `attention_output` kernel `(N, H, D)`, bias | `h.{i}.attn.c_proj.weight`, `.bias` |
    | block i `feed_forward_norm` gamma, beta | `h.{i}.ln_2.weight`, `.bias` |
    | block i `intermediate_dense` kernel `(D, F)`, bias | `h.{i}.mlp.c_fc.weight`, `.bias` |
    | block i `output_dense` kernel `(F, D)`, bias | `h.{i}.mlp.c_proj.weight`, `.bias` |
    | `layer_norm` gamma, beta | `ln_f.weight`, `.bias` |

    The output projection is the token embedding (tied): HF's
    `lm_head.weight` is `wte.weight`.

    Example:

    >>> from kerastack.gpt import GPT2Backbone
    >>> backbone = GPT2Backbone(vocabulary_size=96, num_layers=2, num_heads=4,
    ...     hidden_dim=32, intermediate_dim=128, max_sequence_length=64)
    >>> table = gpt2_weight_table(backbone)
    >>> len(table)  # 2 embeddings, 12 per block, the final norm's 2
    28
    >>> fused, name, _ = table[4]  # the query, key and value kernels, (D, N, H) each
    >>> name, fused.shape
    ('h.0.attn.c_attn.weight', (32, 96))
    >>> kernel, name, layout = table[6]
    >>> name, tuple(kernel.shape), layout.to_hf(kernel.numpy()).shape  # (N, H, D), (N*H, D)
    ('h.0.attn.c_proj.weight', (4, 8, 32), (32, 32))
    """
    table = [
        (backbone.token_embedding.embeddings, "wte.weight", SAME),
        (backbone.position_embedding.embeddings, "wpe.weight", SAME),
    ]
    output_heads = _output_heads(backbone.num_heads)
    for index, block in enumerate(backbone.transformer_layers):
        prefix = f"h.{index}."
        attention, feed_forward = block.self_attention, block.feed_forward
        projections = (attention.query_dense, attention.key_dense, attention.value_dense)
        table += [
            (block.self_attention_layer_norm.gamma, prefix + "ln_1.weight", SAME),
            (block.self_attention_layer_norm.beta, prefix + "ln_1.bias", SAME),
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
            (block.feed_forward_layer_norm.gamma, prefix + "ln_2.weight", SAME),
            (block.feed_forward_layer_norm.beta, prefix + "ln_2.bias", SAME),
            (feed_forward.intermediate_dense.kernel, prefix + "mlp.c_fc.weight", SAME),
            (feed_forward.intermediate_dense.bias, prefix + "mlp.c_fc.bias", SAME),
            (feed_forward.output_dense.kernel, prefix + "mlp.c_proj.weight", SAME),
            (feed_forward.output_dense.bias, prefix + "mlp.c_proj.bias", SAME),
        ]
    norm = backbone.layer_norm
    table += [(norm.gamma, "ln_f.weight", SAME), (norm.beta, "ln_f.bias", SAME)]
    return table


def ignored_tensor_names(num_layers):
    """HF GPT-2 buffers a checkpoint may hold (older transformers saved each
    block's causal-mask `attn.bias` and `attn.masked_bias`)."""
    names = []
    for index in range(num_layers):
        names += [f"h.{index}.attn.bias", f"h.{index}.attn.masked_bias"]
    return tuple(names)


def load_gpt2_weights(model, path, allow_longer_position_table=False):
    """Assign the weights of an HF GPT-2 checkpoint to `model`.

    Args:
        model: a `GPT2Backbone` or `GPT2CausalLM` of the checkpoint's shape.
        path: a `model.safetensors` file, a `pytorch_model.bin` (read with
            `torch.load(weights_only=True)`; needs PyTorch), or the folder
            holding one (`model.safetensors` first). Tensors of
            `GPT2LMHeadModel` (`transformer.` prefix) and of `GPT2Model`
            (none) are both understood.
        allow_longer_position_table: a checkpoint position table longer than
            the model's `max_sequence_length` is sliced to its first rows
            (otherwise it is a shape error).

    Returns:
        The names of checkpoint tensors left out (buffers, and a
        `lm_head.weight` equal to `wte.weight`).

    Raises:
        ValueError: listing every missing, unexpected or mis-shaped tensor,
            or naming an `lm_head.weight` that differs from `wte.weight`
            (the model's output projection is tied); no weight is changed
            then.

    Example:

    A checkpoint in HF's names, written here from one model and read into
    another (`kerastack.models.write_checkpoint` writes the folder):

    >>> import json, tempfile
    >>> from kerastack.gpt import GPT2Backbone
    >>> from kerastack.models import write_checkpoint
    >>> arguments = dict(vocabulary_size=96, num_layers=1, num_heads=4, hidden_dim=32,
    ...     intermediate_dim=64, max_sequence_length=64)
    >>> source, target = GPT2Backbone(**arguments), GPT2Backbone(**arguments)
    >>> tensors = {name: layout.to_hf(np.asarray(weight.numpy()))
    ...            for weight, name, layout in gpt2_weight_table(source)}
    >>> tensors["lm_head.weight"] = tensors["wte.weight"]  # tied, as GPT2LMHeadModel saves
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_checkpoint(folder, tensors, json.dumps({"model_type": "gpt2"}))
    ...     left_out = load_gpt2_weights(target, folder)
    >>> left_out
    ['lm_head.weight']
    >>> all(np.array_equal(a, b) for a, b in zip(source.get_weights(), target.get_weights()))
    True
    """
    path, tensors = read_checkpoint_tensors(path)
    left_out = []
    for name in ("lm_head.weight", "transformer.lm_head.weight"):
        if name not in tensors:
            continue
        head = tensors.pop(name)
        embedding = tensors.get("transformer.wte.weight", tensors.get("wte.weight"))
        if embedding is not None and not np.array_equal(head, embedding):
            raise ValueError(
                f"{path} holds an `{name}` that differs from `wte.weight`: its output "
                f"projection is not tied to the token embedding, and {type(model).__name__}'s is."
            )
        left_out.append(name)
    return sorted(left_out + assign_hf_tensors(model, tensors, path, allow_longer_position_table))
