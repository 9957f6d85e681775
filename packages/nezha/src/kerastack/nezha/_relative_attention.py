"""NEZHA's self-attention with functional relative positions (private: the
layer `NezhaBackbone` builds its blocks from)."""

import math

import numpy as np

from kerastack.core import (
    check_float,
    check_int,
    concrete_value,
    keras,
    large_negative,
    ops,
    serializable,
)


def relative_position_table(max_relative_position, depth):
    """The fixed sinusoidal table of NEZHA's relative positions, float32
    NumPy `(2 * max_relative_position + 1, depth)`.

    Row `r` encodes the clipped distance `r - max_relative_position`, but
    its sinusoid is taken of the row index `r` itself, as in Huawei's code
    (and HF's and bert4keras's ports): column `2c` holds
    `sin(r / 10000 ** (2c / depth))` and column `2c + 1` the cosine of the
    same angle. Computed in float64, then rounded once.

    Example:

    >>> table = relative_position_table(2, 4)
    >>> table.shape
    (5, 4)
    >>> table[0].tolist()  # row 0: sin(0), cos(0), ...
    [0.0, 1.0, 0.0, 1.0]
    >>> bool(np.isclose(table[3, 2], np.sin(3 / 100)))
    True
    """
    rows = np.arange(2 * max_relative_position + 1, dtype="float64")[:, None]  # (R, 1)
    columns = np.arange(depth)
    inverse_frequency = 10000.0 ** (-(columns - columns % 2) / depth)  # (H,)
    angles = rows * inverse_frequency  # (R, H)
    table = np.where(columns % 2 == 0, np.sin(angles), np.cos(angles))
    return table.astype("float32")


def relative_position_ids(query_length, key_length, max_relative_position):
    """`clip(j - i, -R, R) + R` for query `i` and key `j`: int32 `(T, S)`
    rows of `relative_position_table` (R `max_relative_position`)."""
    queries = ops.expand_dims(ops.arange(query_length, dtype="int32"), 1)  # (T, 1)
    keys = ops.expand_dims(ops.arange(key_length, dtype="int32"), 0)  # (1, S)
    distance = ops.clip(keys - queries, -max_relative_position, max_relative_position)
    return distance + max_relative_position  # (T, S)


@serializable
class RelativePositionAttention(keras.layers.Layer):
    """Multi-head self-attention with NEZHA's functional relative position
    encoding (Wei et al., 2019; Shaw et al., 2018).

    For query `i` and key `j`, with `a_ij` the row
    `clip(j - i, -R, R) + R` of the fixed sinusoidal table
    (`relative_position_table`, R `max_relative_position`), each head
    computes `s_ij = q_i . (k_j + a_ij) / sqrt(H)`, `p = softmax_j(s)` over
    the keys it may attend to, and `o_i = sum_j p_ij (v_j + a_ij)`; the
    heads' outputs are concatenated and projected back to D.

    Letters: B batch, T length (queries), S length (keys, S = T), D width,
    N heads, H head size.

    Args:
        num_heads: int, N.
        key_dim: int, H.
        max_relative_position: int, R: distances beyond it share a row.
        dropout: float, dropout on the attention weights in training.
        kernel_initializer, bias_initializer: for the projections.

    Call arguments:
        inputs: `(B, T, D)`.
        padding_mask: boolean `(B, T)`, True on real tokens (keys that may
            be attended to).
        attention_mask: boolean `(B, T, T)`, True where query t may attend
            to key s, on top of `padding_mask`.

    A query with no key to attend to gets zeros before the output
    projection (never NaN).

    Example:

    >>> layer = RelativePositionAttention(num_heads=3, key_dim=4, max_relative_position=3)
    >>> x = np.random.default_rng(0).random((2, 5, 12), "float32")
    >>> tuple(layer(x, padding_mask=np.array([[1, 1, 1, 0, 0], [1] * 5], bool)).shape)
    (2, 5, 12)
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        max_relative_position,
        dropout=0.0,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = check_int("num_heads", num_heads, minimum=1)
        self.key_dim = check_int("key_dim", key_dim, minimum=1)
        self.max_relative_position = check_int(
            "max_relative_position", max_relative_position, minimum=1
        )
        self.dropout = check_float(
            "dropout", dropout, minimum=0.0, maximum=1.0, exclusive_maximum=True
        )
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.supports_masking = True

    def build(self, inputs_shape):
        width = inputs_shape[-1]
        if width is None:
            raise ValueError(
                f"RelativePositionAttention needs the width of its input, received shape "
                f"{tuple(inputs_shape)}."
            )
        # Kernels: query/key/value (D, N, H), output (N, H, D).
        self.query_dense = self._projection(
            "query", "btd,dnh->btnh", (None, self.num_heads, self.key_dim), "nh"
        )
        self.key_dense = self._projection(
            "key", "bsd,dnh->bsnh", (None, self.num_heads, self.key_dim), "nh"
        )
        self.value_dense = self._projection(
            "value", "bsd,dnh->bsnh", (None, self.num_heads, self.key_dim), "nh"
        )
        self.output_dense = self._projection(
            "attention_output", "btnh,nhd->btd", (None, width), "d"
        )
        for projection in (self.query_dense, self.key_dense, self.value_dense):
            projection.build(inputs_shape)
        self.output_dense.build((None, None, self.num_heads, self.key_dim))
        self.dropout_layer = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="attention_dropout"
        )
        # Built now: set up by its first call inside torch.compile, it would retrace.
        self.dropout_layer.build(inputs_shape)
        self._table = relative_position_table(self.max_relative_position, self.key_dim)
        self._table_tensor = None
        self._relative_table()  # made here, eagerly, where the layer is built outside a trace

    def _relative_table(self):
        """The table as a backend tensor `(2R+1, H)`, converted once where
        that can be kept (eagerly): converting a NumPy array inside a
        compiled step costs a graph break on PyTorch's torch.compile. A
        layer built inside a trace converts on each trace instead (a tracer
        must not outlive it)."""
        if self._table_tensor is not None:
            return self._table_tensor
        table = ops.convert_to_tensor(self._table)
        if concrete_value(table) is not None:
            self._table_tensor = table
        return table

    def _projection(self, name, equation, output_shape, bias_axes):
        projection = keras.layers.EinsumDense(
            equation,
            output_shape=output_shape,
            bias_axes=bias_axes,
            kernel_initializer=self.kernel_initializer.__class__.from_config(
                self.kernel_initializer.get_config()
            ),
            bias_initializer=self.bias_initializer.__class__.from_config(
                self.bias_initializer.get_config()
            ),
            dtype=self.dtype_policy,
            name=name,
        )
        projection.supports_masking = True
        return projection

    def call(self, inputs, padding_mask=None, attention_mask=None, training=None):
        query = self.query_dense(inputs)  # (B, T, N, H)
        key = self.key_dense(inputs)  # (B, S, N, H)
        value = self.value_dense(inputs)  # (B, S, N, H)
        length = ops.shape(inputs)[1]
        ids = relative_position_ids(length, length, self.max_relative_position)  # (T, S)
        table = ops.cast(self._relative_table(), self.compute_dtype)  # (2R+1, H)
        relative = ops.take(table, ids, axis=0)  # (T, S, H)
        scores = ops.einsum("btnh,bsnh->bnts", query, key)  # (B, N, T, S)
        scores = scores + ops.einsum("btnh,tsh->bnts", query, relative)  # (B, N, T, S)
        scores = ops.cast(scores, "float32") / math.sqrt(self.key_dim)
        mask = None
        if padding_mask is not None:
            mask = ops.cast(padding_mask, "bool")[:, None, None, :]  # (B, 1, 1, S)
        if attention_mask is not None:
            pairs = ops.cast(attention_mask, "bool")[:, None, :, :]  # (B, 1, T, S)
            mask = pairs if mask is None else mask & pairs
        if mask is not None:
            scores = ops.where(mask, scores, large_negative("float32"))
        weights = ops.softmax(scores, axis=-1)  # (B, N, T, S)
        if mask is not None:
            # A query with no key to attend to gets zeros, not a uniform average.
            weights = weights * ops.cast(ops.any(mask, axis=-1, keepdims=True), "float32")
        weights = ops.cast(weights, self.compute_dtype)
        weights = self.dropout_layer(weights, training=training)
        outputs = ops.einsum("bnts,bsnh->btnh", weights, value)  # (B, T, N, H)
        outputs = outputs + ops.einsum("bnts,tsh->btnh", weights, relative)  # (B, T, N, H)
        return self.output_dense(outputs)  # (B, T, D)

    def compute_output_shape(self, inputs_shape):
        return inputs_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "key_dim": self.key_dim,
                "max_relative_position": self.max_relative_position,
                "dropout": self.dropout,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config
