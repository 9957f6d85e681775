"""keras-multi-head's names and arguments, as thin wrappers.

For code moving from keras-multi-head 0.29 (``MultiHead``,
``MultiHeadAttention(head_num=...)``). Differences, kept on purpose:

- ``MultiHeadAttention`` keeps the old default ``activation="relu"`` on the
  query, key, value and output projections, because old checkpoints were
  trained with it; the modern layer (and ``keras.layers.MultiHeadAttention``)
  has no activation there. Pass ``activation=None`` to drop it.
- ``MultiHeadAttention`` is the old layer to the letter otherwise: its
  weights are the old 2-D ``Wq, bq, Wk, bk, Wv, bv, Wo, bo`` (so weights and
  ``.h5`` files saved by keras-multi-head, keras-transformer and keras-bert
  load as they are), padded keys are never attended to, and padded queries
  attend to the real keys, as before.
- ``MultiHead``'s ``reg_factor`` regularizer is computed on the live weights
  and so has a gradient; the old one read the weights once, at build time,
  and was a constant.
- ``MultiHead(hidden_dim=...)`` builds each copy for ``hidden_dim`` inputs;
  0.29 built them for the original width, which broke most layers.
"""

import numpy as np

from kerastack.attention.compat import split_qkv
from kerastack.core import (
    InitialWeightsMixin,
    keras,
    keras_version,
    ops,
    serializable,
    static_shape,
)
from kerastack.multihead import multi_head_attention as _mha
from kerastack.multihead.multi_head import MultiHead as _MultiHead

__all__ = ["MultiHead", "MultiHeadAttention", "get_custom_objects"]


@serializable(name="LegacyMultiHead")
class MultiHead(InitialWeightsMixin, _MultiHead):
    """keras-multi-head's `MultiHead`: copies stacked on a new last axis.

    Example:

    >>> x = np.random.rand(2, 7, 16).astype("float32")
    >>> layer = MultiHead(keras.layers.Dense(4), layer_num=3)
    >>> tuple(layer(x).shape)  # (B, T, 4, layer_num)
    (2, 7, 4, 3)
    """

    def __init__(
        self,
        layer,
        layer_num=1,
        hidden_dim=None,
        use_bias=True,
        reg_index=None,
        reg_slice=None,
        reg_factor=0.0,
        **kwargs,
    ):
        for modern in ("num_copies", "merge", "diversity_weights", "diversity_factor"):
            kwargs.pop(modern, None)  # present when re-created from a saved config
        reg_index = [] if reg_index is None else reg_index
        reg_index = [reg_index] if isinstance(reg_index, int) else list(reg_index)
        if not isinstance(reg_slice, list):
            reg_slice = [reg_slice] * len(reg_index)
        if not isinstance(reg_factor, list):
            reg_factor = [reg_factor] * len(reg_index)
        diversity_weights = [
            index if slices is None else [index, _slices_to_triples(slices)]
            for index, slices in zip(reg_index, reg_slice, strict=True)
        ]
        kwargs.setdefault("kernel_initializer", "uniform")
        super().__init__(
            layer,
            num_copies=layer_num,
            merge="stack",
            hidden_dim=hidden_dim,
            use_bias=use_bias,
            diversity_weights=diversity_weights,
            diversity_factor=reg_factor,
            **kwargs,
        )
        self.layer_num = self.num_copies
        self.reg_index = reg_index
        self.reg_slice = [
            None if slices is None else _slices_to_triples(slices) for slices in reg_slice
        ]
        self.reg_factor = list(self._diversity_factors)

    def get_config(self):
        config = super().get_config()
        for modern in ("num_copies", "merge", "diversity_weights", "diversity_factor"):
            config.pop(modern)
        config.update(
            {
                "layer_num": self.layer_num,
                "reg_index": self.reg_index,
                "reg_slice": self.reg_slice,
                "reg_factor": self.reg_factor,
            }
        )
        return config


def _slices_to_triples(slices):
    """A slice, a tuple of slices, or their saved `[start, stop, step]` form,
    as a list of triples (one per axis)."""
    if isinstance(slices, slice):
        slices = (slices,)
    elif slices and isinstance(slices[0], (int, type(None))) and len(slices) == 3:
        slices = (slices,)
    return [[s.start, s.stop, s.step] if isinstance(s, slice) else list(s) for s in slices]


class _HeadNumberError(ValueError, IndexError):
    """A width that head_num does not divide: keras-multi-head raised
    IndexError, kerastack ValueError; this is both, so old `except` clauses
    keep working."""


@serializable(name="LegacyMultiHeadAttention")
class MultiHeadAttention(InitialWeightsMixin, _mha.MultiHeadAttention):
    """keras-multi-head's `MultiHeadAttention(head_num, activation="relu", ...)`.

    Called on one tensor (self-attention) or on `[query, key, value]`; heads
    split the value width evenly (`key_dim = width // head_num`) and the
    output has the value's width. `history_only` is `causal`.
    `set_weights`/`get_weights` use the old 2-D kernels
    `[Wq, bq, Wk, bk, Wv, bv, Wo, bo]`.

    Example:

    >>> x = np.random.rand(2, 7, 16).astype("float32")
    >>> layer = MultiHeadAttention(head_num=4)
    >>> tuple(layer(x).shape)  # self-attention
    (2, 7, 16)
    >>> [tuple(w.shape) for w in layer.get_weights()][:2]  # Wq, bq
    [(16, 16), (16,)]
    >>> query = np.random.rand(2, 3, 16).astype("float32")
    >>> tuple(layer([query, x, x]).shape)
    (2, 3, 16)
    """

    def __init__(
        self,
        head_num,
        activation="relu",
        use_bias=True,
        kernel_initializer="glorot_normal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        history_only=False,
        **kwargs,
    ):
        for modern in ("num_heads", "key_dim", "value_dim", "output_shape", "causal"):
            kwargs.pop(modern, None)  # present when re-created from a saved config
        # key_dim is known only at build time (value width // head_num).
        super().__init__(
            num_heads=head_num,
            key_dim=1,
            use_bias=use_bias,
            causal=history_only,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
            **kwargs,
        )
        self.head_num = self.num_heads
        self.activation = keras.activations.get(activation)
        self.history_only = history_only

    def build(self, input_shape):
        query_shape, key_shape, value_shape = split_qkv(input_shape)
        feature_dim = value_shape[-1]
        if feature_dim is None or feature_dim % self.head_num != 0:
            raise _HeadNumberError(
                f"MultiHeadAttention needs a value width divisible by head_num={self.head_num}, "
                f"received value shape {tuple(value_shape)}."
            )
        self.key_dim = self.value_dim = feature_dim // self.head_num
        self._output_width = feature_dim
        super().build(query_shape, value_shape, key_shape)

    def _projection(self, name, equation, output_shape, bias_axes):
        # keras-multi-head's projections: 2-D kernels, then the activation.
        heads = output_shape[1] if len(output_shape) == 3 else None
        units = output_shape[1] * output_shape[2] if heads else output_shape[1]
        return _FlatProjection(
            units,
            heads=heads,
            activation=self.activation,
            use_bias=self.use_bias,
            kernel_initializer=_mha._clone(self.kernel_initializer),
            bias_initializer=_mha._clone(self.bias_initializer),
            kernel_regularizer=self.kernel_regularizer,
            bias_regularizer=self.bias_regularizer,
            kernel_constraint=self.kernel_constraint,
            bias_constraint=self.bias_constraint,
            dtype=self.dtype_policy,
            name=name,
        )

    def call(self, inputs, mask=None, training=None):
        query, key, value = split_qkv(inputs)
        _, key_mask, value_mask = split_qkv(mask)
        # The old layer masked the keys only: a padded query attends to the
        # real keys (kerastack's would give zeros there). On Keras 2,
        # kerastack's layer call would hand the query's own Keras mask on as
        # the query mask: an all-true one keeps the old rule.
        query_mask = None
        if keras_version()[0] < 3:
            query_mask = ops.cast(ops.ones_like(query[:, :, 0]), "bool")
        return super().call(
            query,
            value,
            key=key,
            query_mask=query_mask,
            key_mask=key_mask,
            value_mask=value_mask,
            training=training,
        )

    def compute_mask(self, inputs, previous_mask=None):
        return split_qkv(previous_mask)[0]

    def compute_output_shape(self, input_shape):
        query_shape, _, value_shape = split_qkv(input_shape)
        return tuple(query_shape[:-1]) + (value_shape[-1],)

    def get_config(self):
        config = keras.layers.Layer.get_config(self)
        config.update(
            {
                "head_num": self.head_num,
                "activation": keras.activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
                "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
                "bias_constraint": keras.constraints.serialize(self.bias_constraint),
                "history_only": self.history_only,
            }
        )
        return config


def get_custom_objects():
    """The old names, for `load_model(..., custom_objects=get_custom_objects())`.

    Example:

    >>> sorted(get_custom_objects())
    ['MultiHead', 'MultiHeadAttention']
    """
    return {"MultiHead": MultiHead, "MultiHeadAttention": MultiHeadAttention}


class _FlatProjection(keras.layers.Layer):
    """One projection of keras-multi-head's `MultiHeadAttention`: the input's
    feature axes flattened (`(B, T, N, H)` -> `(B, T, N * H)`), `x · W + b`
    with a 2-D kernel, the activation, then split into `heads` heads when
    given (`(B, T, heads, units / heads)`)."""

    def __init__(
        self,
        units,
        heads=None,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_normal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units, self.heads, self.use_bias = units, heads, use_bias
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        # Masked inputs are fine, but the outputs carry no mask: Keras 3 would
        # hand the query heads' mask to the attention as its query mask.
        self.supports_masking = True

    def build(self, input_shape):
        width = int(np.prod(input_shape[2:]))
        self.kernel = self.add_weight(
            shape=(width, self.units),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
            name="kernel",
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.units,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
                name="bias",
            )

    def call(self, x):
        batch, steps = ops.shape(x)[0], ops.shape(x)[1]
        if len(static_shape(x)) > 3:
            x = ops.reshape(x, (batch, steps, -1))
        y = ops.matmul(x, ops.cast(self.kernel, x.dtype))
        if self.bias is not None:
            y = y + ops.cast(self.bias, y.dtype)
        if self.activation is not None:
            y = self.activation(y)
        if self.heads:
            y = ops.reshape(y, (batch, steps, self.heads, self.units // self.heads))
        return y

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        if self.heads:
            return (input_shape[0], input_shape[1], self.heads, self.units // self.heads)
        return (input_shape[0], input_shape[1], self.units)
