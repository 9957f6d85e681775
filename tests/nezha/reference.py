"""NEZHA in NumPy float64, from the paper's formulas (Wei et al., 2019, and
Shaw et al., 2018, for the relative positions), written here independently
of kerastack: the reference the tests compare every lane with.

Weights are given by HF NEZHA's names (without the `nezha.` prefix), in
HF's layout (Linear weights `(out, in)`)."""

import math

import numpy as np

_erf = np.vectorize(math.erf)


def gelu(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def layer_norm(x, gamma, beta, epsilon):
    mean = x.mean(-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon) * gamma + beta


def sinusoid_table(max_relative_position, depth):
    """Huawei's table, one entry at a time: row r, columns 2c and 2c+1."""
    table = np.zeros((2 * max_relative_position + 1, depth))
    for r in range(2 * max_relative_position + 1):
        for c in range(0, depth, 2):
            angle = r / 10000.0 ** (c / depth)
            table[r, c] = math.sin(angle)
            if c + 1 < depth:
                table[r, c + 1] = math.cos(angle)
    return table


def relative_embeddings(length, max_relative_position, depth, sign=1):
    """`a[i, j]` = the table's row for `clip(j - i)` (query i, key j);
    `sign=-1` gives the opposite convention, `clip(i - j)`."""
    table = sinusoid_table(max_relative_position, depth)
    a = np.zeros((length, length, depth))
    for i in range(length):
        for j in range(length):
            distance = np.clip(sign * (j - i), -max_relative_position, max_relative_position)
            a[i, j] = table[distance + max_relative_position]
    return a


def _linear(x, w, name):
    return x @ w[name + ".weight"].T.astype("float64") + w[name + ".bias"].astype("float64")


def encoder(w, ids, segments, mask, num_heads, max_relative_position, epsilon=1e-12, sign=1):
    """`(sequence_output, pooled_output)` for int `ids`, `segments` and
    boolean `mask`, each `(B, T)`."""
    w = {name: np.asarray(value, "float64") for name, value in w.items()}
    x = (
        w["embeddings.word_embeddings.weight"][ids]
        + w["embeddings.token_type_embeddings.weight"][segments]
    )
    x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], epsilon)
    batch, length, width = x.shape
    depth = width // num_heads
    a = relative_embeddings(length, max_relative_position, depth, sign)
    layer = 0
    while f"encoder.layer.{layer}.attention.self.query.weight" in w:
        p = f"encoder.layer.{layer}."
        q, k, v = (
            _linear(x, w, p + "attention.self." + part).reshape(batch, length, num_heads, depth)
            for part in ("query", "key", "value")
        )
        out = np.zeros((batch, length, num_heads, depth))
        for b in range(batch):
            for n in range(num_heads):
                for i in range(length):
                    scores = np.array(
                        [q[b, i, n] @ (k[b, j, n] + a[i, j]) for j in range(length)]
                    ) / math.sqrt(depth)
                    scores = np.where(mask[b], scores, -np.inf)
                    p_ij = np.exp(scores - scores.max())
                    p_ij /= p_ij.sum()
                    out[b, i, n] = sum(p_ij[j] * (v[b, j, n] + a[i, j]) for j in range(length))
        y = _linear(out.reshape(batch, length, width), w, p + "attention.output.dense")
        x = layer_norm(
            x + y,
            w[p + "attention.output.LayerNorm.weight"],
            w[p + "attention.output.LayerNorm.bias"],
            epsilon,
        )
        y = _linear(gelu(_linear(x, w, p + "intermediate.dense")), w, p + "output.dense")
        x = layer_norm(
            x + y, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], epsilon
        )
        layer += 1
    pooled = np.tanh(_linear(x[:, 0], w, "pooler.dense")) if "pooler.dense.weight" in w else None
    return x, pooled


def masked_lm_logits(w, sequence, epsilon=1e-12):
    """BERT's `cls.predictions` head on `sequence` `(B, P, D)`: `(B, P, V)`."""
    w = {name: np.asarray(value, "float64") for name, value in w.items()}
    x = gelu(_linear(sequence, w, "cls.predictions.transform.dense"))
    x = layer_norm(
        x,
        w["cls.predictions.transform.LayerNorm.weight"],
        w["cls.predictions.transform.LayerNorm.bias"],
        epsilon,
    )
    return x @ w["embeddings.word_embeddings.weight"].T + w["cls.predictions.bias"]
