"""keras-self-attention's names and arguments, as thin wrappers.

For code moving from keras-self-attention 0.51 (``SeqSelfAttention``,
``SeqWeightedAttention``, ``ScaledDotProductAttention``). The constructor
arguments, their defaults, ``return_attention`` and ``get_config`` keys are
the old ones; the computation is the modern layers', with the old rules:

- Padding is masked as before: ``SeqSelfAttention`` masks only pad-to-pad
  pairs (a real token attends to padded ones too, a padded one to the real
  ones), ``ScaledDotProductAttention`` and
  ``ResidualScaledDotProductAttention`` the keys only, and
  ``SeqWeightedAttention`` leaves padded steps out. (kerastack's own layers
  mask padding in full.)
- Weights load in the old order with ``set_weights``: ``[Wt, Wx, bh, Wa, ba]``
  (additive), ``[Wa, ba]`` (multiplicative), ``[W, b]`` (weighted).

Differences, kept on purpose: softmax is exact (``SeqWeightedAttention``
used to add ``1e-7`` to the denominator, so its weights summed to slightly
less than one); and a query that may see no key at all (every key in its
window masked) gives zeros, where the old layers' equal -10,000 penalties
cancelled and it attended to every key.
"""

from kerastack.attention import scaled_dot_product_attention as _sdpa
from kerastack.attention.self_attention import SelfAttention
from kerastack.attention.weighted_attention import WeightedAttention
from kerastack.core import InitialWeightsMixin, keras, keras_version, ops, serializable

__all__ = [
    "ResidualScaledDotProductAttention",
    "ScaledDotProductAttention",
    "SeqSelfAttention",
    "SeqWeightedAttention",
    "get_custom_objects",
    "split_qkv",
]


class _AttentionTypeError(ValueError, NotImplementedError):
    """An unknown `attention_type`: keras-self-attention raised
    NotImplementedError, kerastack ValueError; this is both, so old `except`
    clauses keep working."""


@serializable
class SeqSelfAttention(InitialWeightsMixin, SelfAttention):
    """keras-self-attention's `SeqSelfAttention` over `SelfAttention`.

    `history_only` is `causal`; `return_attention=True` makes every call
    return `[outputs, attention]`.

    Example:

    >>> x = np.random.rand(2, 5, 8).astype("float32")  # (B, T, D)
    >>> layer = SeqSelfAttention(units=16, history_only=True, return_attention=True)
    >>> outputs, attention = layer(x)
    >>> tuple(outputs.shape), tuple(attention.shape)
    ((2, 5, 8), (2, 5, 5))
    >>> [tuple(w.shape) for w in layer.get_weights()]  # the old order: Wt, Wx, bh, Wa, ba
    [(8, 16), (8, 16), (16,), (16, 1), (1,)]
    """

    ATTENTION_TYPE_ADD = "additive"
    ATTENTION_TYPE_MUL = "multiplicative"

    def __init__(
        self,
        units=32,
        attention_width=None,
        attention_type="additive",
        return_attention=False,
        history_only=False,
        kernel_initializer="glorot_normal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        use_additive_bias=True,
        use_attention_bias=True,
        attention_activation=None,
        attention_regularizer_weight=0.0,
        **kwargs,
    ):
        if attention_type not in (self.ATTENTION_TYPE_ADD, self.ATTENTION_TYPE_MUL):
            raise _AttentionTypeError(
                "`attention_type` must be 'additive' or 'multiplicative', "
                f"received attention_type={attention_type!r}."
            )
        if history_only and attention_width is not None and attention_width >= int(1e9):
            attention_width = None  # the old "no window" marker
        super().__init__(
            units=units,
            attention_type=attention_type,
            attention_width=attention_width,
            causal=history_only,
            attention_activation=attention_activation,
            use_additive_bias=use_additive_bias,
            use_attention_bias=use_attention_bias,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
            attention_regularizer_weight=attention_regularizer_weight,
            **kwargs,
        )
        self.return_attention = return_attention
        self.history_only = history_only

    def call(
        self,
        inputs,
        mask=None,
        attention_mask=None,
        return_attention_scores=False,
        inputs_mask=None,
    ):
        result = super().call(
            inputs,
            mask=mask,
            attention_mask=attention_mask,
            return_attention_scores=self.return_attention or return_attention_scores,
            inputs_mask=inputs_mask,
        )
        return list(result) if self.return_attention else result

    def _allowed(self, inputs, mask, attention_mask):
        # keras-self-attention's rule: only pad-to-pad pairs are masked (a
        # real token attends to padded ones, a padded one to every real one).
        allowed = super()._allowed(inputs, None, attention_mask)  # structure only
        if mask is None:
            return allowed
        mask = ops.cast(mask, "bool")
        not_both_padded = ops.logical_or(ops.expand_dims(mask, 2), ops.expand_dims(mask, 1))
        if allowed is None:
            return not_both_padded
        return ops.logical_and(not_both_padded, allowed)

    def _attention_regularization(self, weights, mask):
        # keras-self-attention's regularizer reads no mask.
        return super()._attention_regularization(weights, None)

    def compute_mask(self, inputs, previous_mask=None):
        if self.return_attention:
            return [previous_mask, None]
        return previous_mask

    def get_weights(self):
        return _to_legacy_order(self, super().get_weights())

    def set_weights(self, weights):
        super().set_weights(_to_legacy_order(self, list(weights)))

    def get_config(self):
        config = super().get_config()
        config.pop("causal")
        config.update(
            {"return_attention": self.return_attention, "history_only": self.history_only}
        )
        return config

    @staticmethod
    def get_custom_objects():
        return {"SeqSelfAttention": SeqSelfAttention}


def _to_legacy_order(layer, weights):
    # Multiplicative scores keep b_a on the layer itself, so Keras lists it
    # before W_a; the old order is [Wa, ba]. The swap is its own inverse.
    if layer.attention_type == "multiplicative" and layer.use_attention_bias:
        return weights[::-1]
    return weights


@serializable
class SeqWeightedAttention(InitialWeightsMixin, WeightedAttention):
    """keras-self-attention's `SeqWeightedAttention` over `WeightedAttention`.

    The score kernel starts from `"uniform"` as before.

    Example:

    >>> x = np.random.rand(2, 5, 8).astype("float32")  # (B, T, D)
    >>> outputs, weights = SeqWeightedAttention(return_attention=True)(x)
    >>> tuple(outputs.shape), tuple(weights.shape)
    ((2, 8), (2, 5))
    >>> from kerastack.core import ops
    >>> np.allclose(ops.convert_to_numpy(weights).sum(axis=-1), 1.0)
    True
    """

    def __init__(self, use_bias=True, return_attention=False, **kwargs):
        kwargs.setdefault("kernel_initializer", "uniform")
        super().__init__(use_bias=use_bias, **kwargs)
        self.return_attention = return_attention

    def call(self, inputs, mask=None, return_attention_scores=False):
        result = super().call(
            inputs,
            mask=mask,
            return_attention_scores=self.return_attention or return_attention_scores,
        )
        return list(result) if self.return_attention else result

    def compute_mask(self, inputs, previous_mask=None):
        return [None, None] if self.return_attention else None

    def get_config(self):
        config = super().get_config()
        config["return_attention"] = self.return_attention
        return config

    @staticmethod
    def get_custom_objects():
        return {"SeqWeightedAttention": SeqWeightedAttention}


@serializable(name="LegacyScaledDotProductAttention")
class ScaledDotProductAttention(InitialWeightsMixin, _sdpa.ScaledDotProductAttention):
    """keras-self-attention's `ScaledDotProductAttention`.

    Called on `[query, key, value]` or on one tensor used as all three; a
    list of masks is read as `[query_mask, key_mask, value_mask]`.
    `history_only` is `causal`.

    Example:

    >>> q = np.random.rand(2, 4, 8).astype("float32")
    >>> kv = np.random.rand(2, 6, 8).astype("float32")
    >>> tuple(ScaledDotProductAttention()([q, kv, kv]).shape)
    (2, 4, 8)
    >>> outputs, attention = ScaledDotProductAttention(return_attention=True)(q)  # q, k, v
    >>> tuple(attention.shape)
    (2, 4, 4)
    """

    def __init__(self, return_attention=False, history_only=False, **kwargs):
        super().__init__(causal=history_only, **kwargs)
        self.return_attention = return_attention
        self.history_only = history_only

    def build(self, input_shape):
        query_shape, key_shape, value_shape = split_qkv(input_shape)
        super().build(query_shape, value_shape, key_shape)

    def call(self, inputs, mask=None):
        query, key, value = split_qkv(inputs)
        # As keras-self-attention: the keys' mask only (a padded query
        # attends to the real keys). On Keras 2, kerastack's layer call would
        # hand the query's and value's own Keras masks on: all-true ones keep
        # the old rule.
        key_mask = split_qkv(mask)[1]
        query_mask = value_mask = None
        if keras_version()[0] < 3:
            query_mask = ops.cast(ops.ones_like(query[:, :, 0]), "bool")
            value_mask = ops.cast(ops.ones_like(value[:, :, 0]), "bool")
        result = super().call(
            query,
            value,
            key=key,
            query_mask=query_mask,
            key_mask=key_mask,
            value_mask=value_mask,
            return_attention_scores=self.return_attention,
        )
        return list(result) if self.return_attention else result

    def compute_mask(self, inputs, previous_mask=None):
        query_mask = split_qkv(previous_mask)[0]
        return [query_mask, None] if self.return_attention else query_mask

    def get_config(self):
        config = super().get_config()
        config.pop("causal")
        config.update(
            {"return_attention": self.return_attention, "history_only": self.history_only}
        )
        return config

    @staticmethod
    def get_custom_objects():
        return {"ScaledDotProductAttention": ScaledDotProductAttention}


@serializable(name="LegacyResidualScaledDotProductAttention")
class ResidualScaledDotProductAttention(InitialWeightsMixin, keras.layers.Layer):
    """keras-self-attention's `ResidualScaledDotProductAttention` (RealFormer,
    He et al., 2020): scaled dot-product attention whose scores add the
    previous layer's, `softmax(q kᵀ / sqrt(d) + previous) v`.

    Called on `[query, key, value, previous]`, or `[x, previous]` with `x`
    as query, key and value. Returns `[output (B, Tq, D), scores (B, Tq,
    Tk)]`, the scores before any mask (the next layer's `previous`), and the
    attention weights third with `return_attention`. As in the old layer,
    masked keys (the key's mask, or `x`'s) and, with `history_only`, later
    keys get 10,000 subtracted from their scores.

    **Difference:** the old `compute_mask` returned a wrong mask for the
    scores (a row of the query mask); here the output keeps the query's mask
    and the scores (and weights) have none.

    Example:

    >>> x = np.random.rand(2, 4, 8).astype("float32")
    >>> output, scores = ResidualScaledDotProductAttention()([x, np.zeros((2, 4, 4), "float32")])
    >>> tuple(output.shape), tuple(scores.shape)
    ((2, 4, 8), (2, 4, 4))
    """

    def __init__(self, return_attention=False, history_only=False, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.return_attention = return_attention
        self.history_only = history_only

    def call(self, inputs, mask=None):
        masks = list(mask) if isinstance(mask, (list, tuple)) else [mask] * len(inputs)
        if len(inputs) == 4:
            query, key, value, previous = inputs
            key_mask = masks[1]
        elif len(inputs) == 2:
            query = key = value = inputs[0]
            previous = inputs[1]
            key_mask = masks[0]
        else:
            raise ValueError(
                "ResidualScaledDotProductAttention takes [query, key, value, previous] or "
                f"[x, previous]; received {len(inputs)} inputs."
            )
        width = ops.cast(ops.shape(query)[-1], query.dtype)
        scores = ops.matmul(query, ops.transpose(key, (0, 2, 1))) / ops.sqrt(width)
        scores = scores + ops.cast(previous, scores.dtype)  # (B, Tq, Tk)
        logits = scores
        if self.history_only:
            order_q = ops.arange(ops.shape(query)[1])
            order_k = ops.arange(ops.shape(key)[1])
            later = ops.cast(
                ops.expand_dims(order_k, 0) > ops.expand_dims(order_q, 1), logits.dtype
            )
            logits = logits - 10000.0 * ops.expand_dims(later, 0)
        if key_mask is not None:
            hidden = 1.0 - ops.cast(ops.expand_dims(key_mask, -2), logits.dtype)  # (B, 1, Tk)
            logits = logits - 10000.0 * hidden
        attention = ops.softmax(logits, axis=-1)
        outputs = [ops.matmul(attention, value), scores]
        if self.return_attention:
            outputs.append(attention)
        return outputs

    def compute_mask(self, inputs, mask=None):
        query_mask = mask[0] if isinstance(mask, (list, tuple)) else mask
        return [query_mask, None, None] if self.return_attention else [query_mask, None]

    def compute_output_spec(self, inputs, mask=None):
        query, key, value = (inputs[0],) * 3 if len(inputs) == 2 else inputs[:3]
        batch, length = query.shape[0], query.shape[1]
        specs = [
            keras.KerasTensor((batch, length, value.shape[-1]), dtype=query.dtype),
            keras.KerasTensor((batch, length, key.shape[1]), dtype=query.dtype),
        ]
        if self.return_attention:
            specs.append(keras.KerasTensor((batch, length, key.shape[1]), dtype=query.dtype))
        return specs

    def get_config(self):
        config = super().get_config()
        config.update(
            {"return_attention": self.return_attention, "history_only": self.history_only}
        )
        return config

    @staticmethod
    def get_custom_objects():
        return {"ResidualScaledDotProductAttention": ResidualScaledDotProductAttention}


def split_qkv(items):
    """The old layers' `[q, k, v]` inputs (or one item used as all three) as a
    `(q, k, v)` tuple; works for tensors, shapes and masks.

    Example:

    >>> split_qkv([(2, 4, 8), (2, 6, 8), (2, 6, 16)])  # three shapes
    ((2, 4, 8), (2, 6, 8), (2, 6, 16))
    >>> split_qkv((2, 4, 8))  # one shape, used as all three
    ((2, 4, 8), (2, 4, 8), (2, 4, 8))
    >>> split_qkv(None)
    (None, None, None)
    """
    # A shape (a tuple, or a list once read back from JSON) holds ints and Nones.
    is_shape = (
        isinstance(items, (list, tuple))
        and all(item is None or isinstance(item, int) for item in items)
        and any(isinstance(item, int) for item in items)
    )
    if isinstance(items, (list, tuple)) and not is_shape:
        if len(items) != 3:
            raise ValueError(
                f"Expected [query, key, value] or a single tensor, received {len(items)} items."
            )
        return tuple(items)
    return items, items, items


def get_custom_objects():
    """The old names, for `load_model(..., custom_objects=get_custom_objects())`.

    Example:

    >>> sorted(get_custom_objects())  # doctest: +NORMALIZE_WHITESPACE
    ['ResidualScaledDotProductAttention', 'ScaledDotProductAttention', 'SeqSelfAttention',
     'SeqWeightedAttention']
    """
    return {
        "ResidualScaledDotProductAttention": ResidualScaledDotProductAttention,
        "SeqSelfAttention": SeqSelfAttention,
        "SeqWeightedAttention": SeqWeightedAttention,
        "ScaledDotProductAttention": ScaledDotProductAttention,
    }
