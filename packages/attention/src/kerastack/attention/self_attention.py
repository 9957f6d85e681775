from kerastack.attention import functional
from kerastack.core import check_float, check_int, keras, ops, serializable, static_shape

ATTENTION_TYPES = ("additive", "multiplicative")


@serializable
class SelfAttention(keras.layers.Layer):
    """Self-attention over a sequence, with additive or multiplicative scores.

    Each position `t` of the input `x` (shape `(B, T, D)`) becomes the
    attention-weighted sum of the sequence, `sum_s a[t, s] x[s]`, where the
    weights `a` are the softmax over `s` of a learned score `e[t, s]`:

    - `"additive"` (Bahdanau): `e[t, s] = w_a . tanh(x[t] W_t + x[s] W_x + b_h) + b_a`
    - `"multiplicative"` (Luong): `e[t, s] = x[t] W_a x[s]^T + b_a`

    `attention_activation` (e.g. `"sigmoid"`) is applied to the scores before
    the softmax. `attention_width` restricts each query to a local window of
    keys: centred on it, or the last `attention_width` positions when
    `causal=True`. Multiplicative scores without an activation run on the
    fused `keras.ops.dot_product_attention` kernel.

    Padding (a Keras mask, or an explicit boolean `attention_mask`) is
    respected in full: padded keys are never attended to, padded queries and
    queries with nothing to attend to give zeros. (keras-self-attention's
    `SeqSelfAttention` only masked pad-to-pad pairs, so real tokens attended
    to padding.) Whatever padded positions hold (NaN, Inf), the real
    positions' outputs are the same; a position hidden from some queries
    only (a window, causality) must be finite.

    Letters: B batch, T sequence length, D feature size, U `units`.

    Args:
        units: int, hidden size of the additive score (unused when
            multiplicative).
        attention_type: `"additive"` or `"multiplicative"`.
        attention_width: int or None, size of the local attention window.
        causal: bool, whether position `t` may only attend to `s <= t`.
        attention_activation: activation applied to the scores, or None.
        use_additive_bias: bool, whether the additive score has `b_h`.
        use_attention_bias: bool, whether the score has `b_a`.
        kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, kernel_constraint, bias_constraint: for the
            score weights, as in `keras.layers.Dense`.
        attention_regularizer_weight: float; when positive, adds
            `weight * sum((A A^T - I)^2) / B` to the layer's losses, which
            pushes positions to attend to different places. Padded rows
            contribute nothing.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `(B, T, D)`.
        mask: `(B, T)` boolean Keras mask, True for real positions.
        attention_mask: `(B, T, T)` boolean, True where `t` may attend to `s`.
        return_attention_scores: bool, also return the `(B, T, T)` weights.
        inputs_mask: how Keras passes the mask of `inputs` when
            `attention_mask` is given too; the same as `mask`.

    Example:

    >>> inputs = keras.Input((None,), dtype="int32")
    >>> x = keras.layers.Embedding(1000, 32, mask_zero=True)(inputs)
    >>> x = keras.layers.Bidirectional(keras.layers.LSTM(16, return_sequences=True))(x)
    >>> x = SelfAttention(attention_activation="sigmoid")(x)
    >>> outputs = keras.layers.Dense(5, activation="softmax")(x)
    >>> model = keras.Model(inputs, outputs)

    References:
        - [Bahdanau et al., 2015](https://arxiv.org/abs/1409.0473)
        - [Luong et al., 2015](https://arxiv.org/abs/1508.04025)
    """

    def __init__(
        self,
        units=32,
        attention_type="additive",
        attention_width=None,
        causal=False,
        attention_activation=None,
        use_additive_bias=True,
        use_attention_bias=True,
        kernel_initializer="glorot_normal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        attention_regularizer_weight=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if attention_type not in ATTENTION_TYPES:
            raise ValueError(
                f"`attention_type` must be one of {ATTENTION_TYPES}, "
                f"received attention_type={attention_type!r}."
            )
        attention_width = check_int("attention_width", attention_width, allow_none=True)
        units = check_int("units", units)
        attention_regularizer_weight = check_float(
            "attention_regularizer_weight", attention_regularizer_weight, minimum=0.0
        )
        self.units = units
        self.attention_type = attention_type
        self.attention_width = attention_width
        self.causal = causal
        self.attention_activation = keras.activations.get(attention_activation)
        self.use_additive_bias = use_additive_bias
        self.use_attention_bias = use_attention_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.attention_regularizer_weight = attention_regularizer_weight
        self.supports_masking = True
        self._has_activation = attention_activation is not None

    def build(self, input_shape):
        functional.check_rank(self, "inputs", input_shape, (3,))
        feature_dim = input_shape[-1]
        if feature_dim is None:
            raise ValueError(
                "SelfAttention needs the feature size (last axis) of its inputs, "
                f"received shape {tuple(input_shape)}."
            )
        if self.attention_type == "additive":
            # e = w_a . tanh(x_t W_t + x_s W_x + b_h) + b_a; b_h is the bias of
            # the key projection, which is the same sum.
            self.query_dense = self._dense(self.units, False, "query")
            self.key_dense = self._dense(self.units, self.use_additive_bias, "key")
            self.score_dense = self._dense(1, self.use_attention_bias, "score")
            self.query_dense.build(input_shape)
            self.key_dense.build(input_shape)
            self.score_dense.build(tuple(input_shape[:-1]) + (self.units,))
        else:
            # e = x_t W_a x_s^T + b_a
            self.query_dense = self._dense(feature_dim, False, "query")
            self.query_dense.build(input_shape)
            self.score_bias = None
            if self.use_attention_bias:
                self.score_bias = self.add_weight(
                    name="score_bias",
                    shape=(1,),
                    initializer=self.bias_initializer,
                    regularizer=self.bias_regularizer,
                    constraint=self.bias_constraint,
                )

    def _dense(self, units, use_bias, name):
        return keras.layers.Dense(
            units,
            use_bias=use_bias,
            kernel_initializer=_clone(self.kernel_initializer),
            bias_initializer=_clone(self.bias_initializer),
            kernel_regularizer=self.kernel_regularizer,
            bias_regularizer=self.bias_regularizer,
            kernel_constraint=self.kernel_constraint,
            bias_constraint=self.bias_constraint,
            dtype=self.dtype_policy,
            name=name,
        )

    def call(
        self,
        inputs,
        mask=None,
        attention_mask=None,
        return_attention_scores=False,
        inputs_mask=None,
    ):
        # Keras hands the Keras mask of `inputs` over as `inputs_mask` rather
        # than `mask` when `attention_mask` is a tensor too.
        mask = inputs_mask if mask is None else mask
        functional.check_floating(self, inputs=inputs)
        batch, length = static_shape(inputs)[:2]
        functional.check_mask_shape(self, "mask", mask, (batch, length))
        functional.check_mask_shape(self, "attention_mask", attention_mask, (batch, length, length))
        allowed = self._allowed(inputs, mask, attention_mask)  # (B, T, T) or None
        if (
            self.attention_type == "multiplicative"
            and not self._has_activation
            and not return_attention_scores
            and self.attention_regularizer_weight == 0
            and functional.can_fuse(inputs.dtype)
        ):
            # The constant b_a cancels in the softmax: the fused kernel serves.
            query = ops.expand_dims(self.query_dense(inputs), 2)  # (B, T, 1, D)
            values = ops.expand_dims(inputs, 2)  # (B, T, 1, D)
            outputs = functional.fused_attention(
                query, values, values, mask=functional.expand_mask(allowed, (1,)), scale=1.0
            )  # (B, T, 1, D)
            return ops.squeeze(outputs, 2)  # (B, T, D)

        scores = self._scores(inputs)  # (B, T, T)
        if self._has_activation:
            scores = self.attention_activation(scores)
        weights = functional.masked_softmax(scores, allowed)  # (B, T, T)
        values = inputs
        if allowed is not None:  # masked weights are 0, but 0 * NaN is NaN
            seen = ops.any(allowed, axis=1)  # (B|1, T): whether any query may see s
            values = ops.where(ops.expand_dims(seen, -1), inputs, 0.0)  # (B, T, D)
        outputs = ops.einsum("bts,bsd->btd", weights, values)  # (B, T, D)
        if self.attention_regularizer_weight > 0:
            self.add_loss(self._attention_regularization(weights, mask))
        if return_attention_scores:
            return outputs, weights
        return outputs

    def _scores(self, inputs):
        if self.attention_type == "additive":
            query = ops.expand_dims(self.query_dense(inputs), 2)  # (B, T, 1, U)
            key = ops.expand_dims(self.key_dense(inputs), 1)  # (B, 1, T, U)
            hidden = ops.tanh(query + key)  # (B, T, T, U)
            return ops.squeeze(self.score_dense(hidden), -1)  # (B, T, T)
        # The cast is a no-op, except on PyTorch, where Keras computes float64
        # matmuls in float32.
        query = ops.cast(self.query_dense(inputs), inputs.dtype)  # (B, T, D)
        scores = ops.einsum("btd,bsd->bts", query, inputs)  # (B, T, T)
        if self.score_bias is not None:
            # Indexed to a scalar: Theano broadcasts no axis it was not told is 1.
            scores = scores + ops.cast(self.score_bias[0], scores.dtype)
        return scores

    def _allowed(self, inputs, mask, attention_mask):
        """Boolean `(B, T, T)` mask of the pairs that may attend, or None."""
        length = ops.shape(inputs)[1]
        structure = None
        if self.attention_width is not None:
            structure = functional.window_mask(
                length, length, self.attention_width, causal=self.causal
            )
        elif self.causal:
            structure = functional.causal_mask(length, length)
        return functional.merge_masks(
            functional.expand_mask(mask, (2,)),  # (B, T, 1) padded queries
            functional.expand_mask(mask, (1,)),  # (B, 1, T) padded keys
            functional.expand_mask(structure, (0,)),  # (1, T, T)
            attention_mask,  # (B, T, T)
        )

    def _attention_regularization(self, weights, mask):
        length = ops.shape(weights)[-1]
        identity = ops.eye(length, dtype="float32")[None]  # (1, T, T)
        if mask is not None:
            identity = identity * ops.cast(functional.expand_mask(mask, (2,)), "float32")
        weights = ops.cast(weights, "float32")
        gram = ops.einsum("bts,brs->btr", weights, weights)  # (B, T, T)
        batch = ops.cast(ops.shape(weights)[0], "float32")
        return self.attention_regularizer_weight * ops.sum(ops.square(gram - identity)) / batch

    def compute_mask(self, inputs, previous_mask=None):
        # Keras calls this with the inputs and their mask.
        return previous_mask

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "attention_type": self.attention_type,
                "attention_width": self.attention_width,
                "causal": self.causal,
                "attention_activation": keras.activations.serialize(self.attention_activation)
                if self._has_activation
                else None,
                "use_additive_bias": self.use_additive_bias,
                "use_attention_bias": self.use_attention_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
                "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
                "bias_constraint": keras.constraints.serialize(self.bias_constraint),
                "attention_regularizer_weight": self.attention_regularizer_weight,
            }
        )
        return config


def _clone(initializer):
    """A fresh initializer with the same config, so sublayers do not share seeds."""
    return initializer.__class__.from_config(initializer.get_config())
