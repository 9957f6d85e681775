"""Independent NumPy (float64) references for the position layers.

Written from the papers' formulas and from keras-pos-embd's arithmetic, with
plain loops where that is clearer, sharing no code with the package.

Letters: B batch, T sequence length, N heads, H / D feature size.
"""

import math

import numpy as np


def position_embedding(table, shape, start_index=0):
    """Rows `start_index .. start_index + T - 1` of `table`, broadcast to
    `shape` `(..., T, D)`."""
    table = np.asarray(table, "float64")
    length = shape[-2]
    return np.broadcast_to(table[start_index : start_index + length], shape)


def sine_position_encoding(length, features, max_wavelength=10000, start_index=0):
    """`(T, D)`: feature `i` of position `p` is `sin(p * w_i)` (even `i`) or
    `cos(p * w_i)` (odd `i`), `w_i = max_wavelength ** (-2 * (i // 2) / D)`."""
    out = np.zeros((length, features))
    for t in range(length):
        p = start_index + t
        for i in range(features):
            w = float(max_wavelength) ** (-2.0 * (i // 2) / features)
            out[t, i] = math.sin(p * w) if i % 2 == 0 else math.cos(p * w)
    return out


def paper_positional_encoding(length, d_model, start_index=0):
    """Vaswani et al. 2017, section 3.5, as printed:
    `PE(pos, 2i) = sin(pos / 10000^(2i / d_model))`,
    `PE(pos, 2i + 1) = cos(pos / 10000^(2i / d_model))` (even `d_model`)."""
    pe = np.zeros((length, d_model))
    for row in range(length):
        pos = start_index + row
        for i in range(d_model // 2):
            denominator = 10000.0 ** (2 * i / d_model)
            pe[row, 2 * i] = np.sin(pos / denominator)
            pe[row, 2 * i + 1] = np.cos(pos / denominator)
    return pe


def rotary(
    x, start_index=0, max_wavelength=10000, scaling_factor=1.0, sequence_axis=1, feature_axis=-1
):
    """RoPE as a rotation of feature pairs `(k, k + H/2)` by the angle
    `pos * max_wavelength ** (-2k / H)`, `pos = (t + start_index) / scaling_factor`
    (RoFormer, in the LLaMA "rotate half" pairing)."""
    x = np.moveaxis(np.asarray(x, "float64"), (sequence_axis, feature_axis), (0, -1))
    length, size = x.shape[0], x.shape[-1]
    half = size // 2
    out = np.empty_like(x)
    for t in range(length):
        pos = (t + start_index) / scaling_factor
        for k in range(half):
            theta = pos * float(max_wavelength) ** (-2.0 * k / size)
            c, s = math.cos(theta), math.sin(theta)
            a, b = x[t, ..., k], x[t, ..., k + half]
            out[t, ..., k] = a * c - b * s
            out[t, ..., k + half] = b * c + a * s
    return np.moveaxis(out, (0, -1), (sequence_axis, feature_axis))


# keras-pos-embd 0.13, one function per mode.


def legacy_embedding_expand(table, positions, input_dim):
    """`table[clip(int(p), -input_dim, input_dim) + input_dim]` per position."""
    table = np.asarray(table, "float64")
    positions = np.asarray(positions).astype("int32")
    out = np.zeros(positions.shape + (table.shape[1],))
    for index in np.ndindex(positions.shape):
        p = min(max(int(positions[index]), -input_dim), input_dim)
        out[index] = table[p + input_dim]
    return out


def legacy_embedding_add(table, x):
    """`x + table[:T, :D]` for `x` `(B, T, D)`."""
    x = np.asarray(x, "float64")
    _, length, features = x.shape
    return x + np.asarray(table, "float64")[None, :length, :features]


def legacy_embedding_concat(table, x):
    """`concat([x, table[:T]])` along the features."""
    x = np.asarray(x, "float64")
    rows = np.asarray(table, "float64")[: x.shape[1]]
    return np.concatenate([x, np.broadcast_to(rows, (x.shape[0],) + rows.shape)], axis=-1)


def legacy_trig(mode, x, output_dim=None):
    """TrigPosEmbedding: even feature `j` is `sin(p / 10000^(j / D))`, odd
    feature `j` is `cos(p / 10000^((j - 1) / D))`, as keras-pos-embd's tests
    state it; `p` is the input value (expand) or the step index."""
    x = np.asarray(x, "float64")
    if mode == "expand":
        positions, width = x, output_dim
    else:
        width = x.shape[-1] if mode == "add" else output_dim
        positions = np.broadcast_to(np.arange(x.shape[1], dtype="float64"), x.shape[:2])
    encoding = np.zeros(positions.shape + (width,))
    for index in np.ndindex(positions.shape):
        p = positions[index]
        for j in range(width):
            if j % 2 == 0:
                encoding[index + (j,)] = math.sin(p / 10000.0 ** (j / width))
            else:
                encoding[index + (j,)] = math.cos(p / 10000.0 ** ((j - 1) / width))
    if mode == "expand":
        return encoding
    if mode == "add":
        return x + encoding
    return np.concatenate([x, encoding], axis=-1)
