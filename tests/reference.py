"""Independent NumPy (float64) references for the attention layers.

Written from the papers' formulas with plain loops where that is clearer,
sharing no code with the packages. Masks: True means "may attend". A row with
nothing to attend to gives zero weights.
"""

import numpy as np


def softmax_allowed(scores, allowed=None):
    """Softmax over the last axis among `allowed` entries; zeros elsewhere."""
    scores = np.asarray(scores, dtype="float64")
    if allowed is None:
        allowed = np.ones(scores.shape, dtype=bool)
    allowed = np.broadcast_to(allowed, scores.shape)
    out = np.zeros_like(scores)
    for index in np.ndindex(scores.shape[:-1]):
        row, ok = scores[index], allowed[index]
        if ok.any():
            e = np.exp(row[ok] - row[ok].max())
            out[index][ok] = e / e.sum()
    return out


def structure_mask(length, width=None, causal=False):
    """`(T, T)` window/causal mask, from the definitions in the docs."""
    allowed = np.ones((length, length), dtype=bool)
    for t in range(length):
        for s in range(length):
            if causal and s > t:
                allowed[t, s] = False
            if width is not None:
                if causal:
                    lower = t - width + 1
                else:
                    lower = t - width // 2
                if not lower <= s < lower + width:
                    allowed[t, s] = False
    return allowed


def pair_mask(mask, attention_mask=None, query_mask=None):
    """`(B, T, S)` from a key mask `(B, S)`, a query mask `(B, T)` and an
    explicit `(B, T, S)` mask, any of which may be None."""
    parts = []
    if mask is not None:
        parts.append(np.asarray(mask, bool)[:, None, :])
    if query_mask is not None:
        parts.append(np.asarray(query_mask, bool)[:, :, None])
    if attention_mask is not None:
        parts.append(np.asarray(attention_mask, bool))
    if not parts:
        return None
    out = parts[0]
    for part in parts[1:]:
        out = out & part
    return out


def self_attention(
    x,
    weights,
    attention_type="additive",
    attention_width=None,
    causal=False,
    activation=None,
    mask=None,
    attention_mask=None,
):
    """SelfAttention. `weights`: dict with Wt, Wx, bh, Wa, ba (additive) or
    Wa, ba (multiplicative); missing biases are zero."""
    x = np.asarray(x, "float64")
    batch, length, _ = x.shape
    scores = np.zeros((batch, length, length))
    for b in range(batch):
        for t in range(length):
            for s in range(length):
                if attention_type == "additive":
                    h = np.tanh(
                        x[b, t] @ weights["Wt"] + x[b, s] @ weights["Wx"] + weights.get("bh", 0)
                    )
                    scores[b, t, s] = (h @ weights["Wa"]).item() + np.sum(weights.get("ba", 0))
                else:
                    scores[b, t, s] = x[b, t] @ weights["Wa"] @ x[b, s] + np.sum(
                        weights.get("ba", 0)
                    )
    if activation is not None:
        scores = activation(scores)
    allowed = structure_mask(length, attention_width, causal)[None]
    pairs = pair_mask(mask, attention_mask, query_mask=mask)
    if pairs is not None:
        allowed = allowed & pairs
    a = softmax_allowed(scores, allowed)
    return np.einsum("bts,bsd->btd", a, x), a


def weighted_attention(x, w, b=0.0, mask=None):
    x = np.asarray(x, "float64")
    scores = (x @ np.asarray(w, "float64")).squeeze(-1) + np.sum(b)  # (B, T)
    a = softmax_allowed(scores, None if mask is None else np.asarray(mask, bool))
    return np.einsum("bt,btd->bd", a, x), a


def scaled_dot_product_attention(query, key, value, allowed=None, scale=None):
    """`(B, T, N, H)` inputs (or `(B, T, H)`), `allowed` broadcastable to `(B, N, T, S)`."""
    q, k, v = (np.asarray(a, "float64") for a in (query, key, value))
    squeeze = q.ndim == 3
    if squeeze:
        q, k, v = q[:, :, None], k[:, :, None], v[:, :, None]
        if allowed is not None and np.ndim(allowed) == 3:
            allowed = np.asarray(allowed)[:, None]
    scale = 1.0 / np.sqrt(q.shape[-1]) if scale is None else scale
    scores = np.einsum("btnh,bsnh->bnts", q, k) * scale
    a = softmax_allowed(scores, allowed)
    out = np.einsum("bnts,bsnv->btnv", a, v)
    if squeeze:
        return out[:, :, 0], a[:, 0]
    return out, a


def multi_head_attention(query, value, key, weights, allowed=None, activation=None):
    """Keras-layout weights `[Wq, bq, Wk, bk, Wv, bv, Wo, bo]` with kernels
    `(D, N, H)` / `(N, H, O)`. `activation` (keras-multi-head) is applied to
    each projection and to the output."""
    act = activation or (lambda z: z)
    wq, bq, wk, bk, wv, bv, wo, bo = (np.asarray(w, "float64") for w in weights)
    q = act(np.einsum("btd,dnh->btnh", query, wq) + bq)
    k = act(np.einsum("bsd,dnh->bsnh", key, wk) + bk)
    v = act(np.einsum("bsd,dnh->bsnh", value, wv) + bv)
    heads, a = scaled_dot_product_attention(q, k, v, allowed)
    return act(np.einsum("btnh,nho->bto", heads, wo) + bo), a


def keras_layout_from_legacy(weights, head_num):
    """keras-multi-head 0.29's 2-D weights `[Wq, bq, Wk, bk, Wv, bv, Wo, bo]`
    (kernels `(input width, D)`, D the value width) in the Keras layout of
    `multi_head_attention` above. Head h uses feature columns h*H:(h+1)*H of
    each projection, and rows h*H:(h+1)*H of Wo (H = D // head_num)."""
    wq, bq, wk, bk, wv, bv, wo, bo = weights
    size = wv.shape[1] // head_num

    def split_columns(kernel):  # (rows, N * H) -> (rows, N, H)
        return np.stack([kernel[:, h * size : (h + 1) * size] for h in range(head_num)], 1)

    def split_bias(bias):  # (N * H,) -> (N, H)
        return np.stack([bias[h * size : (h + 1) * size] for h in range(head_num)])

    output = np.stack([wo[h * size : (h + 1) * size] for h in range(head_num)])  # (N, H, D)
    return [
        split_columns(wq),
        split_bias(bq),
        split_columns(wk),
        split_bias(bk),
        split_columns(wv),
        split_bias(bv),
        output,
        bo,
    ]
