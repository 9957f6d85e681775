"""Independent NumPy (float64) references for the transformer blocks.

Written from the papers' formulas (Vaswani et al., 2017; Xiong et al., 2020
for pre-norm; Shazeer, 2020 for gated feed-forward networks), sharing no
code with the package. Weights are plain dicts of arrays, read from a built
layer by `block_weights` (the only place that knows the layer's attributes).

Masks are booleans, True meaning "may attend". A query with nothing to
attend to gets zero heads; a padded query gets a zero output, as the
package documents.

Letters: B batch, T query length, S key length, D width, N heads, H head
size, F intermediate width.
"""

import math

import numpy as np

# -- activations ------------------------------------------------------------------

_erf = np.vectorize(math.erf)


def relu(x):
    return np.maximum(x, 0.0)


def gelu(x):
    """The exact GELU, `x * Phi(x)` (Keras's default, `approximate=False`)."""
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def silu(x):
    return x / (1.0 + np.exp(-x))


ACTIVATIONS = {"relu": relu, "gelu": gelu, "silu": silu, "swish": silu}


# -- pieces -----------------------------------------------------------------------


def feed_forward(x, weights, activation="relu", gated=False):
    """`W2 act(W1 x + b1) + b2`, or `W2 (act(W1 x + b1) * (Wg x + bg)) + b2`.
    `weights`: dict with `w1`, `w2` (and `wg`), biases `b1`, `b2` (`bg`)
    optional."""
    x = np.asarray(x, "float64")
    act = ACTIVATIONS[activation]
    hidden = act(x @ weights["w1"] + weights.get("b1", 0.0))
    if gated:
        hidden = hidden * (x @ weights["wg"] + weights.get("bg", 0.0))
    return hidden @ weights["w2"] + weights.get("b2", 0.0)


def layer_norm(x, gamma, beta, epsilon):
    mean = x.mean(-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon) * gamma + beta


def attention(query, value, weights, allowed=None, query_mask=None):
    """Multi-head attention with kernels `(D, N, H)` and `(N, H, O)`.
    `allowed`: `(B, T, S)`; `query_mask`: `(B, T)`, zeroes padded queries."""
    q = np.einsum("btd,dnh->btnh", query, weights["wq"]) + weights["bq"]
    k = np.einsum("bsd,dnh->bsnh", value, weights["wk"]) + weights["bk"]
    v = np.einsum("bsd,dnh->bsnh", value, weights["wv"]) + weights["bv"]
    batch, length, heads, size = q.shape
    scores = np.einsum("btnh,bsnh->bnts", q, k) / math.sqrt(size)
    if allowed is None:
        allowed = np.ones((batch, length, value.shape[1]), bool)
    probabilities = np.zeros_like(scores)
    for b in range(batch):
        for t in range(length):
            ok = allowed[b, t]
            if not ok.any():
                continue
            row = scores[b, :, t][:, ok]  # (N, allowed S)
            e = np.exp(row - row.max(-1, keepdims=True))
            probabilities[b, :, t][:, ok] = e / e.sum(-1, keepdims=True)
    context = np.einsum("bnts,bsnh->btnh", probabilities, v)
    outputs = np.einsum("btnh,nho->bto", context, weights["wo"]) + weights["bo"]
    if query_mask is not None:
        outputs = outputs * np.asarray(query_mask, bool)[..., None]
    return outputs


def self_allowed(batch, length, padding_mask=None, causal=False):
    """`(B, T, T)`: the keys each query may see."""
    allowed = np.ones((batch, length, length), bool)
    if padding_mask is not None:
        padding_mask = np.asarray(padding_mask, bool)
        allowed &= padding_mask[:, None, :] & padding_mask[:, :, None]
    if causal:
        allowed &= np.tril(np.ones((length, length), bool))[None]
    return allowed


def _sublayer(x, norm, fn, normalize_first, epsilon):
    """One residual sub-block, post-norm `norm(x + f(x))` or pre-norm
    `x + f(norm(x))`."""
    gamma, beta = norm
    if normalize_first:
        return x + fn(layer_norm(x, gamma, beta, epsilon))
    return layer_norm(x + fn(x), gamma, beta, epsilon)


# -- blocks -----------------------------------------------------------------------


def encoder_block(
    x,
    weights,
    padding_mask=None,
    causal=False,
    activation="relu",
    gated=False,
    normalize_first=False,
    epsilon=1e-5,
):
    """A transformer encoder block (`weights` from `block_weights`)."""
    x = np.asarray(x, "float64")
    allowed = self_allowed(x.shape[0], x.shape[1], padding_mask, causal)
    x = _sublayer(
        x,
        weights["self_attention_norm"],
        lambda h: attention(h, h, weights["self_attention"], allowed, padding_mask),
        normalize_first,
        epsilon,
    )
    return _sublayer(
        x,
        weights["feed_forward_norm"],
        lambda h: feed_forward(h, weights["feed_forward"], activation, gated),
        normalize_first,
        epsilon,
    )


def decoder_block(
    x,
    weights,
    encoder_sequence=None,
    padding_mask=None,
    encoder_padding_mask=None,
    causal=True,
    activation="relu",
    gated=False,
    normalize_first=False,
    epsilon=1e-5,
):
    """A transformer decoder block: causal self-attention, cross-attention
    (when `encoder_sequence` is given) and the feed-forward network."""
    x = np.asarray(x, "float64")
    batch, length = x.shape[:2]
    allowed = self_allowed(batch, length, padding_mask, causal)
    x = _sublayer(
        x,
        weights["self_attention_norm"],
        lambda h: attention(h, h, weights["self_attention"], allowed, padding_mask),
        normalize_first,
        epsilon,
    )
    if encoder_sequence is not None:
        encoder_sequence = np.asarray(encoder_sequence, "float64")
        cross_allowed = np.ones((batch, length, encoder_sequence.shape[1]), bool)
        if encoder_padding_mask is not None:
            cross_allowed &= np.asarray(encoder_padding_mask, bool)[:, None, :]
        if padding_mask is not None:
            cross_allowed &= np.asarray(padding_mask, bool)[:, :, None]
        x = _sublayer(
            x,
            weights["cross_attention_norm"],
            lambda h: attention(
                h, encoder_sequence, weights["cross_attention"], cross_allowed, padding_mask
            ),
            normalize_first,
            epsilon,
        )
    return _sublayer(
        x,
        weights["feed_forward_norm"],
        lambda h: feed_forward(h, weights["feed_forward"], activation, gated),
        normalize_first,
        epsilon,
    )


# -- reading a layer's weights ------------------------------------------------------
# Through `get_weights()` only (NumPy out), so the same readers serve every
# lane, Keras 2 included.


def _kernel_and_bias(dense):
    """`(kernel, bias)` of a `Dense` or `EinsumDense` sublayer as float64; the
    bias is None when the sublayer has none."""
    weights = [np.asarray(w, "float64") for w in dense.get_weights()]
    return weights[0], (weights[1] if len(weights) > 1 else None)


def attention_weights(layer):
    """`MultiHeadAttention` weights by projection."""
    out = {}
    for prefix, dense in (
        ("q", layer.query_dense),
        ("k", layer.key_dense),
        ("v", layer.value_dense),
        ("o", layer.output_dense),
    ):
        kernel, bias = _kernel_and_bias(dense)
        out["w" + prefix] = kernel
        out["b" + prefix] = 0.0 if bias is None else bias
    return out


def feed_forward_weights(layer):
    """`FeedForward` weights: `w1`, `b1`, (`wg`, `bg`,) `w2`, `b2`."""
    out = {}
    denses = [("1", layer.intermediate_dense), ("2", layer.output_dense)]
    if layer.gated:
        denses.append(("g", layer.gate_dense))
    for suffix, dense in denses:
        kernel, bias = _kernel_and_bias(dense)
        out["w" + suffix] = kernel
        if bias is not None:
            out["b" + suffix] = bias
    return out


def norm_weights(layer):
    """`(gamma, beta)` of a `LayerNormalization` with both weights."""
    gamma, beta = (np.asarray(w, "float64") for w in layer.get_weights())
    return gamma, beta


def block_weights(block):
    """Every weight of a built `TransformerEncoder`/`TransformerDecoder`,
    read sublayer by sublayer."""
    out = {
        "self_attention": attention_weights(block.self_attention),
        "self_attention_norm": norm_weights(block.self_attention_layer_norm),
        "feed_forward": feed_forward_weights(block.feed_forward),
        "feed_forward_norm": norm_weights(block.feed_forward_layer_norm),
    }
    if getattr(block, "has_cross_attention", False):
        out["cross_attention"] = attention_weights(block.cross_attention)
        out["cross_attention_norm"] = norm_weights(block.cross_attention_layer_norm)
    return out


def log_softmax(logits):
    logits = np.asarray(logits, "float64")
    shifted = logits - logits.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
