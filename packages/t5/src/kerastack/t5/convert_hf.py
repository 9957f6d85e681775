"""Hugging Face T5 checkpoints (`T5ForConditionalGeneration`, `T5Model`,
`MT5ForConditionalGeneration`) into `T5Backbone` and `T5Seq2SeqLM`, and back.

One table (`t5_weight_table`) names, for every weight, the HF tensor and
its layout; the kit's strict loader (`kerastack.models.assign_hf_tensors`)
assigns them all or nothing, and `t5_hf_tensors` reads them back out in
HF's layout for `save_t5_checkpoint`.

Letters: D width, N heads, H head width (`d_kv`), F feed-forward width,
V vocabulary, K relative position buckets.
"""

import json

import numpy as np

from kerastack.core import ops
from kerastack.models import (
    SAME,
    TRANSPOSE,
    assign_hf_tensors,
    attention_head_layouts,
    read_checkpoint_tensors,
    write_checkpoint,
)

# Copies of `shared.weight` that T5's checkpoints may hold.
_EMBEDDING_COPIES = ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight")


def _backbone(model):
    return getattr(model, "backbone", model)


def t5_weight_table(model):
    """`[(weight, hf_name, layout)]` for every weight of a `T5Backbone` (or
    a `T5Seq2SeqLM`: its backbone's and, untied, its `lm_head`):

    - `token_embedding` `(V, D)`: `shared.weight`;
    - `{stack}_relative_position_bias` `(K, N)` (stack: encoder, decoder):
      `{stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight`;
    - block i's self-attention query, key, value kernels `(D, N, H)` and
      output kernel `(N, H, D)`:
      `{stack}.block.{i}.layer.0.SelfAttention.{q,k,v,o}.weight`
      (`(N*H, D)`, `(D, N*H)`), its norm `layer.0.layer_norm.weight`;
    - decoder block i's cross-attention and its norm:
      `decoder.block.{i}.layer.1.EncDecAttention.{q,k,v,o}.weight`,
      `layer.1.layer_norm.weight`;
    - block i's feed-forward kernels `(D, F)`, `(F, D)`:
      `layer.{1 (encoder) or 2 (decoder)}.DenseReluDense.wi.weight` (gated:
      `wi_0` the activated one, `wi_1` the gate), `wo.weight`, its norm
      `layer.{1 or 2}.layer_norm.weight`;
    - `{stack}_final_layer_norm`: `{stack}.final_layer_norm.weight`;
    - `lm_head` `(D, V)` (untied): `lm_head.weight` `(V, D)`.

    Example:

    >>> from kerastack.t5 import T5Backbone
    >>> backbone = T5Backbone(vocabulary_size=40, hidden_dim=20, key_value_dim=6,
    ...     intermediate_dim=24, num_encoder_layers=2, num_decoder_layers=1, num_heads=3)
    >>> table = t5_weight_table(backbone)
    >>> len(table)  # shared, 2 biases, 8 per encoder block, 13 per decoder block, 2 norms
    34
    >>> weight, name, layout = table[2]
    >>> name, tuple(weight.shape), layout.to_hf(np.zeros(weight.shape)).shape
    ('encoder.block.0.layer.0.SelfAttention.q.weight', (20, 3, 6), (18, 20))
    """
    backbone = _backbone(model)
    heads, _, output_heads = attention_head_layouts(backbone.num_heads)
    table = [(backbone.token_embedding.embeddings, "shared.weight", SAME)]
    for stack in ("encoder", "decoder"):
        parts = backbone._stack(stack)
        bias = parts["relative_position_bias"]
        if parts["layers"]:
            name = f"{stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight"
            table.append((bias.embeddings, name, SAME))
        for index, block in enumerate(parts["layers"]):
            prefix = f"{stack}.block.{index}.layer."
            sublayers = [(block.self_attention_layer_norm, block.self_attention, "SelfAttention")]
            if stack == "decoder":
                sublayers.append(
                    (block.cross_attention_layer_norm, block.cross_attention, "EncDecAttention")
                )
            for number, (norm, attention, hf_name) in enumerate(sublayers):
                here = f"{prefix}{number}."
                table += [
                    (attention.query_dense.kernel, f"{here}{hf_name}.q.weight", heads),
                    (attention.key_dense.kernel, f"{here}{hf_name}.k.weight", heads),
                    (attention.value_dense.kernel, f"{here}{hf_name}.v.weight", heads),
                    (attention.output_dense.kernel, f"{here}{hf_name}.o.weight", output_heads),
                    (norm.gamma, f"{here}layer_norm.weight", SAME),
                ]
            here = f"{prefix}{len(sublayers)}."
            feed_forward = block.feed_forward
            if block.gated:
                table += [
                    (
                        feed_forward.intermediate_dense.kernel,
                        f"{here}DenseReluDense.wi_0.weight",
                        TRANSPOSE,
                    ),
                    (
                        feed_forward.gate_dense.kernel,
                        f"{here}DenseReluDense.wi_1.weight",
                        TRANSPOSE,
                    ),
                ]
            else:
                table.append(
                    (
                        feed_forward.intermediate_dense.kernel,
                        f"{here}DenseReluDense.wi.weight",
                        TRANSPOSE,
                    )
                )
            table += [
                (feed_forward.output_dense.kernel, f"{here}DenseReluDense.wo.weight", TRANSPOSE),
                (block.feed_forward_layer_norm.gamma, f"{here}layer_norm.weight", SAME),
            ]
        table.append((parts["final_layer_norm"].gamma, f"{stack}.final_layer_norm.weight", SAME))
    lm_head = getattr(model, "lm_head", None)
    if lm_head is not None:
        table.append((lm_head.kernel, "lm_head.weight", TRANSPOSE))
    return table


def load_t5_weights(model, path):
    """Assign the weights of an HF T5 checkpoint to `model`.

    Args:
        model: a `T5Backbone` or `T5Seq2SeqLM` of the checkpoint's shape.
        path: a `model.safetensors` or `pytorch_model.bin` file, or the
            folder holding one.

    Returns:
        The names of checkpoint tensors left out: copies of `shared.weight`
        (`encoder.embed_tokens.weight`, ...), an `lm_head.weight` equal to
        it when the model's output is tied, and `lm_head.weight` when
        loading a backbone.

    Raises:
        ValueError: listing every missing, unexpected or mis-shaped tensor,
            or naming a tensor that should equal `shared.weight` and does
            not; no weight is changed then.

    Example:

    >>> import json, tempfile
    >>> from kerastack.t5 import T5Backbone
    >>> arguments = dict(vocabulary_size=40, hidden_dim=20, key_value_dim=6,
    ...     intermediate_dim=24, num_encoder_layers=1, num_decoder_layers=1, num_heads=3)
    >>> source, target = T5Backbone(**arguments), T5Backbone(**arguments)
    >>> folder = tempfile.mkdtemp()
    >>> save_t5_checkpoint(source, folder)
    >>> load_t5_weights(target, folder)  # a backbone has no head: it leaves it out
    ['lm_head.weight']
    >>> all(np.array_equal(a, b) for a, b in zip(source.get_weights(), target.get_weights()))
    True
    """
    path, tensors = read_checkpoint_tensors(path)
    tensors = dict(tensors)
    left_out = []
    shared = tensors.get("shared.weight")
    for name in _EMBEDDING_COPIES:
        if name in tensors:
            if shared is not None and not np.array_equal(tensors[name], shared):
                raise ValueError(
                    f"{path} holds an `{name}` that differs from `shared.weight`; T5's stacks "
                    "share one token embedding."
                )
            tensors.pop(name)
            left_out.append(name)
    has_head = getattr(model, "lm_head", None) is not None
    if has_head and "lm_head.weight" not in tensors and shared is not None:
        # transformers 5 saves an unscaled output it ties to the embedding
        # (a T5.1.1 config without its own head) without `lm_head.weight`.
        tensors["lm_head.weight"] = shared
    if "lm_head.weight" in tensors and not has_head:
        tied = _backbone(model).tie_embedding_weights
        if tied and hasattr(model, "backbone"):
            if shared is not None and not np.array_equal(tensors["lm_head.weight"], shared):
                raise ValueError(
                    f"{path} holds an `lm_head.weight` that differs from `shared.weight`, but "
                    f"this {type(model).__name__}'s output is tied to the token embedding "
                    "(tie_embedding_weights=True); its config should say "
                    "tie_word_embeddings=false."
                )
        tensors.pop("lm_head.weight")
        left_out.append("lm_head.weight")
    return sorted(left_out + assign_hf_tensors(model, tensors, path))


def t5_hf_tensors(model):
    """`{hf_name: float32 array}` of every weight of `model` (a
    `T5Backbone` or `T5Seq2SeqLM`) in HF's layout; an untied
    `T5Seq2SeqLM` includes `lm_head.weight`.

    Example:

    >>> from kerastack.t5 import T5Backbone
    >>> backbone = T5Backbone(vocabulary_size=40, hidden_dim=20, key_value_dim=6,
    ...     intermediate_dim=24, num_encoder_layers=1, num_decoder_layers=1, num_heads=3)
    >>> t5_hf_tensors(backbone)["decoder.block.0.layer.1.EncDecAttention.o.weight"].shape
    (20, 18)
    """
    return {
        name: np.ascontiguousarray(
            layout.to_hf(np.asarray(ops.convert_to_numpy(weight), dtype="float32"))
        )
        for weight, name, layout in t5_weight_table(model)
    }


def t5_config_dict(model):
    """HF's `config.json` dict for `model` (a `T5Backbone` or `T5Seq2SeqLM`).

    Example:

    >>> from kerastack.t5 import T5Backbone
    >>> backbone = T5Backbone(vocabulary_size=40, hidden_dim=20, key_value_dim=6,
    ...     intermediate_dim=24, num_encoder_layers=1, num_decoder_layers=2, num_heads=3,
    ...     activation="gelu_approximate", gated=True, tie_embedding_weights=False)
    >>> config = t5_config_dict(backbone)
    >>> config["feed_forward_proj"], config["num_decoder_layers"], config["tie_word_embeddings"]
    ('gated-gelu', 2, False)
    """
    from kerastack.t5.t5_config import FEED_FORWARDS, T5Config

    backbone = _backbone(model)
    activation = backbone.activation
    projections = {value: key for key, value in FEED_FORWARDS.items()}
    if (activation, backbone.gated) not in projections:
        raise ValueError(
            f"T5 checkpoints name no feed-forward network of activation={activation!r} and "
            f"gated={backbone.gated}; HF's feed_forward_proj is one of {sorted(FEED_FORWARDS)}."
        )
    config = T5Config(
        vocab_size=backbone.vocabulary_size,
        d_model=backbone.hidden_dim,
        d_kv=backbone.key_value_dim,
        d_ff=backbone.intermediate_dim,
        num_layers=backbone.num_encoder_layers,
        num_decoder_layers=backbone.num_decoder_layers,
        num_heads=backbone.num_heads,
        relative_attention_num_buckets=backbone.relative_attention_num_buckets,
        relative_attention_max_distance=backbone.relative_attention_max_distance,
        dropout_rate=backbone.dropout,
        layer_norm_epsilon=backbone.layer_norm_epsilon,
        feed_forward_proj=projections[(activation, backbone.gated)],
        tie_word_embeddings=backbone.tie_embedding_weights,
        pad_token_id=backbone.padding_id,
        eos_token_id=backbone.end_token_id,
        decoder_start_token_id=backbone.decoder_start_token_id,
    )
    return config.to_hf_dict()


def save_t5_checkpoint(model, folder):
    """Write `model` (a `T5Backbone` or `T5Seq2SeqLM`) as an HF checkpoint
    folder that transformers' `T5ForConditionalGeneration` loads:
    `model.safetensors` (every weight in HF's names and layout; a tied
    model's `lm_head.weight` is `shared.weight`) and `config.json`.

    Example:

    >>> import os, tempfile
    >>> from kerastack.t5 import T5Backbone
    >>> backbone = T5Backbone(vocabulary_size=40, hidden_dim=20, key_value_dim=6,
    ...     intermediate_dim=24, num_encoder_layers=1, num_decoder_layers=1, num_heads=3)
    >>> folder = tempfile.mkdtemp()
    >>> save_t5_checkpoint(backbone, folder)
    >>> sorted(os.listdir(folder))
    ['config.json', 'model.safetensors']
    """
    tensors = t5_hf_tensors(model)
    backbone = _backbone(model)
    if "lm_head.weight" not in tensors and backbone.tie_embedding_weights:
        tensors["lm_head.weight"] = tensors["shared.weight"].copy()
    write_checkpoint(folder, tensors, json.dumps(t5_config_dict(model), indent=2))
