"""Google's T5 checkpoints (Mesh TensorFlow's names, as the T5, T5.1.1 and
mT5 releases hold them) into `T5Backbone` and `T5Seq2SeqLM`, read without
TensorFlow (`kerastack.models.read_tf_checkpoint`).

The names are HF's table (`t5_weight_table`) renamed: `.` paths become `/`
paths with three-digit block and layer numbers, norms' `weight` is
`scale`, the feed-forward kernels are `.../wi/kernel`, the attention
projections `.../q` (no `kernel`), `shared.weight` is `shared/embedding`
and an untied `lm_head.weight` is `decoder/logits/kernel`. Mesh
TensorFlow's matrices are `(D_in, D_out)`, HF's `(D_out, D_in)`; the
relative position bias is `(N, K)` there, `(K, N)` in HF.
"""

import re

from kerastack.models import read_tf_checkpoint
from kerastack.t5.convert_hf import t5_weight_table

# What a Google checkpoint holds besides the weights: the step and
# Adafactor's slots.
_IGNORED = re.compile(r"(^global_step$)|(_slot_(v|vc|vr|m)$)|(/(adam_m|adam_v)$)")


def google_name(hf_name):
    """`(name, transposed)`: the Mesh TensorFlow name of an HF T5 tensor, and
    whether its matrix is stored transposed.

    Example:

    >>> google_name("encoder.block.1.layer.0.SelfAttention.q.weight")
    ('encoder/block_001/layer_000/SelfAttention/q', True)
    >>> google_name("decoder.block.0.layer.2.DenseReluDense.wi_1.weight")
    ('decoder/block_000/layer_002/DenseReluDense/wi_1/kernel', True)
    >>> google_name("encoder.final_layer_norm.weight")
    ('encoder/final_layer_norm/scale', False)
    """
    if hf_name == "shared.weight":
        return "shared/embedding", False
    if hf_name == "lm_head.weight":
        return "decoder/logits/kernel", True
    name = re.sub(r"block\.(\d+)", lambda m: f"block_{int(m.group(1)):03d}", hf_name)
    name = re.sub(r"layer\.(\d+)", lambda m: f"layer_{int(m.group(1)):03d}", name)
    parts = name.split(".")
    if parts[-2] in ("layer_norm", "final_layer_norm"):
        return "/".join(parts[:-1] + ["scale"]), False
    if parts[-3] == "DenseReluDense":
        return "/".join(parts[:-1] + ["kernel"]), True
    # q, k, v, o and relative_attention_bias: no `kernel`.
    return "/".join(parts[:-1]), True


def load_t5_google_weights(model, path):
    """Assign the weights of a Google T5 checkpoint (Mesh TensorFlow's
    names) to `model`, all or nothing.

    Args:
        model: a `T5Backbone` or `T5Seq2SeqLM` of the checkpoint's shape
            (an untied `T5Seq2SeqLM` reads `decoder/logits/kernel`; a
            backbone leaves it out).
        path: the checkpoint prefix (`.../model.ckpt-1000000`), its
            `.index`, or the folder holding it.

    Returns:
        The names left out: `global_step`, the optimizer's slots, and the
        output kernel when loading a backbone.

    Raises:
        ValueError: listing every missing, unexpected and mis-shaped tensor;
            no weight is changed then.

    Example:

    >>> import os, tempfile
    >>> from kerastack.t5 import T5Backbone
    >>> backbone = T5Backbone(vocabulary_size=40, hidden_dim=20, key_value_dim=6,
    ...     intermediate_dim=24, num_encoder_layers=1, num_decoder_layers=1, num_heads=3)
    >>> load_t5_google_weights(backbone, os.path.join(tempfile.mkdtemp(), "model.ckpt"))
    Traceback (most recent call last):
    ...
    FileNotFoundError: ...
    """
    tensors = read_tf_checkpoint(path)
    table = t5_weight_table(model)
    wanted = {}
    for weight, hf_name, layout in table:
        name, transposed = google_name(hf_name)
        wanted[name] = (weight, hf_name, layout, transposed)
    left_out = sorted(name for name in tensors if _IGNORED.search(name))
    if getattr(model, "lm_head", None) is None and "decoder/logits/kernel" in tensors:
        if hasattr(model, "backbone"):
            # A tied language model would silently compute its logits from the
            # shared embedding instead of the checkpoint's own projection.
            raise ValueError(
                f"{path} holds its own output projection (decoder/logits/kernel: T5.1.1 or "
                "mT5), but this T5Seq2SeqLM ties its output to the shared embedding; build "
                "its backbone with tie_embedding_weights=False."
            )
        left_out.append("decoder/logits/kernel")  # a backbone has no output projection
    missing = sorted(name for name in wanted if name not in tensors)
    unexpected = sorted(name for name in tensors if name not in wanted and name not in left_out)
    values, mismatched = [], []
    for name, (weight, _, layout, transposed) in wanted.items():
        if name not in tensors:
            continue
        value = tensors[name]
        value = value.T if transposed else value
        expected = tuple(layout.to_hf(_zeros(weight)).shape)
        if value.shape != expected:
            mismatched.append(f"{name}: checkpoint {value.T.shape if transposed else value.shape}")
            continue
        values.append((weight, layout.to_ours(value).astype(weight.dtype)))
    problems = []
    if missing:
        problems.append(f"missing tensors: {', '.join(missing)}")
    if unexpected:
        problems.append(f"unexpected tensors: {', '.join(unexpected)}")
    if mismatched:
        problems.append("shape mismatches: " + "; ".join(mismatched))
    if problems:
        raise ValueError(
            f"The checkpoint {path} does not fit this {type(model).__name__} "
            f"({'; '.join(problems)})."
        )
    for weight, value in values:
        weight.assign(value)
    return sorted(left_out)


def _zeros(weight):
    import numpy as np

    return np.zeros(tuple(weight.shape), "float32")
