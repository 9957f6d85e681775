"""bert4keras's `layers` module on kerastack (Keras 3).

The output layers bert4keras scripts put on top of a model: the linear-chain
`ConditionalRandomField` and its cheaper `MaximumEntropyMarkovModel`
(each a layer with a transition matrix whose losses and accuracies are
methods, `model.compile(loss=crf.sparse_loss, metrics=[crf.sparse_accuracy])`),
and `GlobalPointer` / `EfficientGlobalPointer` for span extraction. They
compute with `keras.ops` only, so they train inside compiled steps on
TensorFlow, JAX and PyTorch (the CRF's partition function is a
`keras.ops.scan`, not a Python loop over steps).

Shape letters: B batch, T length, L labels (tags), N heads, H head size,
D input width.

`Loss` is here too: a layer that adds a loss computed from its inputs, as
bert4keras scripts subclass it. bert4keras's other layers (attention,
embeddings, normalization, feed forward) are inside kerastack.bert4keras's
models, as kerastack's own.
"""

import math
import warnings

from kerastack.bert4keras.backend import (
    apply_rotary_position_embeddings,
    sequence_masking,
    sinusoidal_embeddings,
)
from kerastack.core import keras, ops, serializable

__all__ = [
    "ConditionalRandomField",
    "Loss",
    "EfficientGlobalPointer",
    "GlobalPointer",
    "MaximumEntropyMarkovModel",
]


def _check_lr_multiplier(value):
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"lr_multiplier must be a positive number, got {value!r}")


def _valid_steps(y_pred):
    """(B, T) bool: the steps whose scores hold no -inf (the layer's mask)."""
    return ops.all(ops.not_equal(y_pred, ops.cast(-math.inf, y_pred.dtype)), axis=2)


def _sparse_labels(y_true, y_pred):
    """Integer labels (B, T), whatever shape and dtype Keras hands them in."""
    shape = tuple(ops.shape(y_pred))[:-1]
    return ops.reshape(ops.cast(y_true, "int32"), shape)


def _masked_mean(values, mask):
    mask = ops.cast(mask, values.dtype)
    return ops.sum(values * mask) / ops.sum(mask)


def _frame_accuracy(y_true, scores, mask):
    """Share of valid steps whose best-scoring label is the true one."""
    hits = ops.cast(ops.equal(y_true, ops.cast(ops.argmax(scores, axis=2), "int32")), scores.dtype)
    return _masked_mean(hits, mask)


@serializable
class ConditionalRandomField(keras.layers.Layer):
    """A linear-chain conditional random field: per-step label scores plus a
    learned `(L, L)` transition matrix `trans`.

    The layer passes its input `(B, T, L)` through, with the masked steps set
    to `-inf` (the padding mask comes from Keras masking, an
    `Embedding(mask_zero=True)` upstream, or a `mask=` argument); the losses
    read the mask back from those `-inf`s, as bert4keras's do. Train with
    `loss=crf.sparse_loss` (integer tags `(B, T)`) or `crf.dense_loss` (one-hot
    `(B, T, L)`), each `-log p(tags | scores)` per sample; the metrics
    `sparse_accuracy` / `dense_accuracy` are per-step argmax accuracies over
    the valid steps. Decode with Viterbi on `trans` (bert4keras's
    `ViterbiDecoder`).

    Args:
        lr_multiplier: the transition matrix is stored divided by this and
            used multiplied by it, so it learns this many times faster.

    The stored weight is `_trans` (named `"trans"`); the `trans` property is
    `lr_multiplier * _trans`. The log partition function runs as a
    `keras.ops.scan` over steps. A model compiled with these methods as loss
    and metrics saves to `.keras`; load it with `compile=False` and compile
    it again (Keras cannot rebuild a bound method from the file; bert4keras
    needed `custom_objects` there). Masks are meant to be right padding: as in
    bert4keras, a masked step inside a row carries the recursion's state on
    but drops its transitions from the true path's score.

    Example:

    >>> crf = ConditionalRandomField()
    >>> scores = np.zeros((1, 3, 2), "float32")
    >>> y = crf(scores, mask=np.array([[1, 1, 0]]))
    >>> _ = crf.trans.assign(np.zeros((2, 2), "float32"))
    >>> np.isinf(ops.convert_to_numpy(y)[0, :, 0]).tolist()
    [False, False, True]
    >>> loss = ops.convert_to_numpy(crf.sparse_loss(np.array([[0, 1, 0]]), y))
    >>> round(float(loss[0]), 4)  # log 4: two steps of two equally likely tags
    1.3863
    """

    def __init__(self, lr_multiplier=1, **kwargs):
        super().__init__(**kwargs)
        _check_lr_multiplier(lr_multiplier)
        self.lr_multiplier = lr_multiplier
        self.supports_masking = True

    def build(self, input_shape):
        labels = input_shape[-1]
        if labels is None:
            raise ValueError(f"the last axis (labels) must be known, got input shape {input_shape}")
        self._trans = self.add_weight(
            name="trans", shape=(labels, labels), initializer="glorot_uniform"
        )
        if self.lr_multiplier != 1:
            self._trans.assign(self._trans / self.lr_multiplier)

    @property
    def trans(self):
        """The transition scores `(L, L)`: `trans[i, j]` scores tag i followed by tag j."""
        if self.lr_multiplier != 1:
            return self.lr_multiplier * self._trans
        return self._trans

    def call(self, inputs, mask=None):
        return sequence_masking(inputs, mask, -math.inf, 1)

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        config = super().get_config()
        config["lr_multiplier"] = self.lr_multiplier
        return config

    def _target_score(self, y_true, y_pred):
        """The unnormalized score of the true path (B,): steps plus transitions."""
        trans = ops.cast(self.trans, y_pred.dtype)
        point = ops.einsum("bti,bti->b", y_true, y_pred)
        moves = ops.einsum("bti,ij,btj->b", y_true[:, :-1], trans, y_true[:, 1:])
        return point + moves

    def _log_partition(self, y_pred, mask):
        """log Z (B,), by the forward recursion in log space."""
        trans = ops.expand_dims(ops.cast(self.trans, y_pred.dtype), 0)  # (1, L, L)

        def step(state, inputs):
            scores, valid, first = inputs  # (B, L), (B, 1), ()
            # state[b, i] + trans[i, j], summed out over i -> (B, L)
            new = ops.logsumexp(ops.expand_dims(state, 2) + trans, axis=1) + scores
            new = ops.where(valid, new, state)  # a masked step carries the state on
            new = ops.where(first, scores, new)  # the first step starts the recursion
            return new, new

        # Every step is scanned, the first included, so that one-step sequences
        # scan something on every backend.
        steps = ops.transpose(y_pred, (1, 0, 2))  # (T, B, L)
        valid = ops.transpose(mask, (1, 0, 2))  # (T, B, 1)
        first = ops.equal(ops.arange(ops.shape(y_pred)[1]), 0)  # (T,)
        state, _ = ops.scan(step, ops.zeros_like(y_pred[:, 0]), (steps, valid, first))
        return ops.logsumexp(state, axis=1)

    def dense_loss(self, y_true, y_pred):
        """`-log p(path)` per sample (B,), for one-hot tags `y_true` (B, T, L)."""
        y_pred = ops.convert_to_tensor(y_pred)
        mask = ops.expand_dims(_valid_steps(y_pred), 2)  # (B, T, 1)
        y_true = ops.where(mask, ops.cast(y_true, y_pred.dtype), 0.0)
        y_pred = ops.where(mask, y_pred, 0.0)
        return self._log_partition(y_pred, mask) - self._target_score(y_true, y_pred)

    def sparse_loss(self, y_true, y_pred):
        """`-log p(path)` per sample (B,), for integer tags `y_true` (B, T)."""
        y_pred = ops.convert_to_tensor(y_pred)
        labels = ops.shape(self._trans)[0]
        y_true = ops.one_hot(_sparse_labels(y_true, y_pred), labels, dtype=y_pred.dtype)
        return self.dense_loss(y_true, y_pred)

    def dense_accuracy(self, y_true, y_pred):
        """Per-step accuracy of the argmax tags over the valid steps, one-hot `y_true`."""
        return self.sparse_accuracy(ops.argmax(y_true, axis=2), y_pred)

    def sparse_accuracy(self, y_true, y_pred):
        """Per-step accuracy of the argmax tags over the valid steps, integer `y_true`."""
        y_pred = ops.convert_to_tensor(y_pred)
        return _frame_accuracy(_sparse_labels(y_true, y_pred), y_pred, _valid_steps(y_pred))


def _reverse_valid(x, lengths):
    """Reverse the first `lengths[b]` steps of each row of x (B, T, ...), keep the rest."""
    steps = ops.shape(x)[1]
    position = ops.expand_dims(ops.arange(steps, dtype="int32"), 0)  # (1, T)
    lengths = ops.expand_dims(lengths, 1)  # (B, 1)
    index = ops.where(position < lengths, lengths - 1 - position, position)  # (B, T)
    for _ in range(len(x.shape) - 2):
        index = ops.expand_dims(index, -1)
    if len(x.shape) > 2:
        index = ops.broadcast_to(index, ops.shape(x))
    return ops.take_along_axis(x, index, axis=1)


@serializable
class MaximumEntropyMarkovModel(keras.layers.Layer):
    """A bidirectional maximum-entropy Markov model: a CRF-like tagger whose
    loss normalizes each step on its own (a softmax over labels of the step's
    scores averaged with the previous true tag's transition row), read left to
    right and right to left, then averaged. Faster and simpler than
    `ConditionalRandomField`, used the same way.

    Args:
        lr_multiplier: the transition weights learn this many times faster
            (stored divided by it, used multiplied by it).
        hidden_dim: None for a full `(L, L)` transition matrix `trans`, or a
            rank: `trans = l_trans @ r_trans.T` with `l_trans`, `r_trans`
            `(L, hidden_dim)`.

    Differs from bert4keras on JAX only: Keras's JAX trainer computes compiled
    metrics without the model's weights, so the accuracies (which read the
    transitions) raise there inside `fit` / `evaluate`; compute them eagerly
    instead. The losses train on every backend.

    Example:

    >>> memm = MaximumEntropyMarkovModel()
    >>> y = memm(np.zeros((1, 3, 2), "float32"), mask=np.array([[1, 1, 0]]))
    >>> _ = memm.trans.assign(np.zeros((2, 2), "float32"))
    >>> round(float(ops.convert_to_numpy(memm.sparse_loss(np.array([[0, 1, 0]]), y))), 4)  # log 2
    0.6931
    """

    def __init__(self, lr_multiplier=1, hidden_dim=None, **kwargs):
        super().__init__(**kwargs)
        _check_lr_multiplier(lr_multiplier)
        if hidden_dim is not None and (not isinstance(hidden_dim, int) or hidden_dim < 1):
            raise ValueError(f"hidden_dim must be None or a positive int, got {hidden_dim!r}")
        self.lr_multiplier = lr_multiplier
        self.hidden_dim = hidden_dim
        self.supports_masking = True

    def build(self, input_shape):
        labels = input_shape[-1]
        if labels is None:
            raise ValueError(f"the last axis (labels) must be known, got input shape {input_shape}")
        if self.hidden_dim is None:
            self._trans = self.add_weight(
                name="trans", shape=(labels, labels), initializer="glorot_uniform"
            )
            stored = [self._trans]
        else:
            shape = (labels, self.hidden_dim)
            self._l_trans = self.add_weight(
                name="l_trans", shape=shape, initializer="glorot_uniform"
            )
            self._r_trans = self.add_weight(
                name="r_trans", shape=shape, initializer="glorot_uniform"
            )
            stored = [self._l_trans, self._r_trans]
        if self.lr_multiplier != 1:
            for variable in stored:
                variable.assign(variable / self.lr_multiplier)

    def _scaled(self, variable):
        return self.lr_multiplier * variable if self.lr_multiplier != 1 else variable

    @property
    def trans(self):
        """The full transition matrix `(L, L)` (hidden_dim None)."""
        return self._scaled(self._trans)

    @property
    def l_trans(self):
        """The left factor `(L, hidden_dim)` of a low-rank transition matrix."""
        return self._scaled(self._l_trans)

    @property
    def r_trans(self):
        """The right factor `(L, hidden_dim)` of a low-rank transition matrix."""
        return self._scaled(self._r_trans)

    def call(self, inputs, mask=None):
        return sequence_masking(inputs, mask, -math.inf, 1)

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        config = super().get_config()
        config.update({"lr_multiplier": self.lr_multiplier, "hidden_dim": self.hidden_dim})
        return config

    def _step_logits(self, y_true, y_pred, mask, go_backwards):
        """Each step's logits (B, T, L): its scores averaged with the
        transition row of the previous true tag (the step itself at t = 0),
        read right to left with go_backwards; the tags come back in that order too."""
        if go_backwards:
            lengths = ops.cast(ops.sum(ops.cast(mask, "int32"), axis=1), "int32")
            y_true = _reverse_valid(y_true, lengths)
            y_pred = _reverse_valid(y_pred, lengths)
        if self.hidden_dim is None:
            trans = ops.cast(self.trans, y_pred.dtype)
            trans = ops.transpose(trans) if go_backwards else trans
            history = ops.take(trans, y_true, axis=0)  # (B, T, L)
        else:
            left = ops.cast(self.l_trans, y_pred.dtype)
            right = ops.cast(self.r_trans, y_pred.dtype)
            if go_backwards:
                left, right = right, left
            history = ops.einsum("btd,ld->btl", ops.take(left, y_true, axis=0), right)
        history = ops.concatenate([y_pred[:, :1], history[:, :-1]], axis=1)
        return y_true, (y_pred + history) / 2

    def _basic_loss(self, y_true, y_pred, go_backwards):
        mask = _valid_steps(y_pred)
        y_true, logits = self._step_logits(y_true, y_pred, mask, go_backwards)
        logits = ops.where(ops.expand_dims(mask, 2), logits, 0.0)
        loss = ops.sparse_categorical_crossentropy(y_true, logits, from_logits=True)
        return _masked_mean(loss, mask)

    def _basic_accuracy(self, y_true, y_pred, go_backwards):
        mask = _valid_steps(y_pred)
        try:
            y_true, logits = self._step_logits(y_true, y_pred, mask, go_backwards)
        except TypeError as error:  # a weight with no value: Keras's JAX trainer
            raise RuntimeError(
                "MaximumEntropyMarkovModel's accuracy reads the transition weights, which "
                "Keras's JAX trainer does not hand to compiled metrics: on JAX, compute "
                "it outside model.fit / evaluate (eagerly, on model.predict's output)"
            ) from error
        return _frame_accuracy(y_true, logits, mask)

    def sparse_loss(self, y_true, y_pred):
        """The mean cross entropy over valid steps and both directions (a
        scalar), for integer tags `y_true` (B, T)."""
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = _sparse_labels(y_true, y_pred)
        forward = self._basic_loss(y_true, y_pred, False)
        return (forward + self._basic_loss(y_true, y_pred, True)) / 2

    def dense_loss(self, y_true, y_pred):
        """`sparse_loss` for one-hot tags `y_true` (B, T, L)."""
        return self.sparse_loss(ops.argmax(y_true, axis=2), y_pred)

    def sparse_accuracy(self, y_true, y_pred):
        """Per-step accuracy over valid steps, averaged over both directions,
        integer `y_true`."""
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = _sparse_labels(y_true, y_pred)
        forward = self._basic_accuracy(y_true, y_pred, False)
        return (forward + self._basic_accuracy(y_true, y_pred, True)) / 2

    def dense_accuracy(self, y_true, y_pred):
        """`sparse_accuracy` for one-hot `y_true`."""
        return self.sparse_accuracy(ops.argmax(y_true, axis=2), y_pred)


def _upper_triangle(length):
    """(T, T) bool, True where end >= start."""
    position = ops.arange(length, dtype="int32")
    return ops.expand_dims(position, 1) <= ops.expand_dims(position, 0)


@serializable
class GlobalPointer(keras.layers.Layer):
    """Global pointer: scores every (start, end) span of a sequence for each
    of `heads` entity types, `(B, N, T, T)`.

    Each head projects the tokens `(B, T, D)` to queries and keys of size
    `head_size`, rotated by RoPE (with `RoPE`), and scores a span by
    `q_start . k_end / sqrt(head_size)`. Spans that touch a masked token, and
    with `tril_mask` spans that end before they start, score `-inf`. Train
    with `multilabel_categorical_crossentropy` over each (sample, head)'s
    `T * T` spans; predict the spans that score above 0.

    Args:
        heads: N, the number of span types.
        head_size: H, the query / key size (even when `RoPE`).
        RoPE: rotary position embeddings on queries and keys.
        use_bias: a bias in the projection.
        tril_mask: mask the spans with end < start.
        kernel_initializer: the projection's initializer.

    The projection is a `keras.layers.Dense` named `dense`, of `2 * N * H`
    units laid out head by head, each head's queries then keys (bert4keras's
    layout, so its kernels load as they are).

    Example:

    >>> layer = GlobalPointer(heads=2, head_size=4)
    >>> scores = layer(np.ones((1, 3, 8), "float32"), mask=np.array([[1, 1, 0]]))
    >>> tuple(scores.shape)
    (1, 2, 3, 3)
    >>> np.isfinite(ops.convert_to_numpy(scores)[0, 0]).astype(int).tolist()
    [[1, 1, 0], [0, 1, 0], [0, 0, 0]]
    """

    def __init__(
        self,
        heads,
        head_size,
        RoPE=True,
        use_bias=True,
        tril_mask=True,
        kernel_initializer="lecun_normal",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(heads, int) or heads < 1:
            raise ValueError(f"heads must be a positive int, got {heads!r}")
        if not isinstance(head_size, int) or head_size < 1:
            raise ValueError(f"head_size must be a positive int, got {head_size!r}")
        if RoPE and head_size % 2:
            raise ValueError(f"head_size must be even with RoPE=True, got {head_size}")
        self.heads = heads
        self.head_size = head_size
        self.RoPE = RoPE
        self.use_bias = use_bias
        self.tril_mask = tril_mask
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.supports_masking = True

    def build(self, input_shape):
        self.dense = keras.layers.Dense(
            self.heads * self.head_size * 2,
            use_bias=self.use_bias,
            kernel_initializer=self._fresh_initializer(),
            dtype=self.dtype_policy,
            name="dense",
        )
        self.dense.build(input_shape)

    def _fresh_initializer(self):
        return self.kernel_initializer.__class__.from_config(self.kernel_initializer.get_config())

    def _rope(self, inputs, qw, kw):
        if not self.RoPE:
            return qw, kw
        position = ops.expand_dims(ops.arange(ops.shape(inputs)[1], dtype=qw.dtype), 0)  # (1, T)
        codes = ops.cast(sinusoidal_embeddings(position, self.head_size), qw.dtype)  # (1, T, H)
        return apply_rotary_position_embeddings(codes, qw, kw)

    def _finish(self, logits, mask):
        bias = _upper_triangle(ops.shape(logits)[-1]) if self.tril_mask else None
        return sequence_masking(logits, mask, -math.inf, [2, 3], bias)

    def call(self, inputs, mask=None):
        x = self.dense(inputs)  # (B, T, N * 2H)
        x = ops.reshape(x, tuple(ops.shape(x)[:-1]) + (self.heads, 2 * self.head_size))
        qw, kw = x[..., : self.head_size], x[..., self.head_size :]  # (B, T, N, H) each
        qw, kw = self._rope(x, qw, kw)
        logits = ops.einsum("bmnh,bknh->bnmk", qw, kw) / self.head_size**0.5  # (B, N, T, T)
        return self._finish(logits, mask)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.heads, input_shape[1], input_shape[1])

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "heads": self.heads,
                "head_size": self.head_size,
                "RoPE": self.RoPE,
                "use_bias": self.use_bias,
                "tril_mask": self.tril_mask,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            }
        )
        return config


@serializable
class EfficientGlobalPointer(GlobalPointer):
    """`GlobalPointer` with far fewer weights: one query / key projection
    `p_dense` (`2 * H` units, queries and keys interleaved) shared by every
    head, and a per-head start and end bias from `q_dense` (`2 * N` units,
    read from the projected tokens): span score =
    `q_start . k_end / sqrt(H) + (bias_start + bias_end) / 2`.

    Arguments, masking and output are `GlobalPointer`'s.

    Example:

    >>> layer = EfficientGlobalPointer(heads=3, head_size=4)
    >>> tuple(layer(np.ones((2, 5, 8), "float32")).shape)
    (2, 3, 5, 5)
    >>> [w.path.split("/")[-2:] for w in layer.weights][:2]
    [['p_dense', 'kernel'], ['p_dense', 'bias']]
    """

    def build(self, input_shape):
        self.p_dense = keras.layers.Dense(
            self.head_size * 2,
            use_bias=self.use_bias,
            kernel_initializer=self._fresh_initializer(),
            dtype=self.dtype_policy,
            name="p_dense",
        )
        self.p_dense.build(input_shape)
        self.q_dense = keras.layers.Dense(
            self.heads * 2,
            use_bias=self.use_bias,
            kernel_initializer=self._fresh_initializer(),
            dtype=self.dtype_policy,
            name="q_dense",
        )
        self.q_dense.build(tuple(input_shape[:-1]) + (self.head_size * 2,))

    def call(self, inputs, mask=None):
        x = self.p_dense(inputs)  # (B, T, 2H)
        qw, kw = x[..., ::2], x[..., 1::2]  # (B, T, H) each
        qw, kw = self._rope(x, qw, kw)
        logits = ops.einsum("bmh,bkh->bmk", qw, kw) / self.head_size**0.5  # (B, T, T)
        bias = ops.transpose(self.q_dense(x), (0, 2, 1)) / 2  # (B, 2N, T)
        # even bias rows score the span's end, odd rows its start -> (B, N, T, T)
        logits = (
            ops.expand_dims(logits, 1)
            + ops.expand_dims(bias[:, ::2], 2)
            + ops.expand_dims(bias[:, 1::2], 3)
        )
        return self._finish(logits, mask)


@serializable
class Loss(keras.layers.Layer):
    """bert4keras's `Loss`: a layer that adds `compute_loss(inputs, mask)` to
    the model's losses (`add_loss`) and passes its inputs on: all of them
    (`output_axis=None`), one (an int) or several (a list of ints). A model
    built on it compiles with an optimizer alone and fits on batches with
    no targets, as bert4keras scripts do. Subclass it and write
    `compute_loss`.

    `compute_loss` gets the inputs' Keras masks as `mask` (the models' sequence
    and MLM outputs carry the padding mask; other inputs None), and the
    outputs keep them, as bert4keras's did.

    **Difference:** Keras 3 layers have no
    metrics of their own: `self.add_metric(value, name=...)` (SimBERT's
    scripts log their two losses so) is accepted and ignored, with a
    warning the first time, and `fit` logs the total loss only.

    Example:

    >>> from kerastack.bert4keras.backend import K, keras
    >>> class MeanSquare(Loss):
    ...     def compute_loss(self, inputs, mask=None):
    ...         return K.mean(K.square(inputs[1] - inputs[0]))
    >>> x = keras.Input((2,))
    >>> y = keras.layers.Dense(2)(x)
    >>> output = MeanSquare(1)([x, y])
    >>> model = keras.Model(x, output)
    >>> model.compile(optimizer="sgd")
    >>> history = model.fit(np.ones((8, 2)), epochs=2, verbose=0)
    >>> len(history.history["loss"])
    2
    """

    def __init__(self, output_axis=None, **kwargs):
        super().__init__(**kwargs)
        self.output_axis = output_axis
        self.supports_masking = True

    def compute_mask(self, inputs, mask=None):
        if mask is None or self.output_axis is None:
            return mask
        if isinstance(self.output_axis, list):
            return [mask[i] for i in self.output_axis]
        return mask[self.output_axis]

    def call(self, inputs, mask=None):
        self.add_loss(self.compute_loss(inputs, mask))
        if self.output_axis is None:
            return [ops.copy(x) for x in inputs] if isinstance(inputs, list) else ops.copy(inputs)
        if isinstance(self.output_axis, list):
            return [ops.copy(inputs[i]) for i in self.output_axis]
        return ops.copy(inputs[self.output_axis])

    def add_metric(self, value, name=None, **kwargs):
        """Keras 2's layer metric: ignored (see the class's differences)."""
        if not getattr(self, "_warned_add_metric", False):
            self._warned_add_metric = True
            warnings.warn(
                f"{type(self).__name__}.add_metric(name={name!r}) is ignored: Keras 3 layers "
                "have no metrics of their own, and fit logs the total loss only.",
                stacklevel=2,
            )

    def compute_loss(self, inputs, mask=None):
        """The loss (a scalar) of `inputs`; subclasses write it."""
        raise NotImplementedError(f"{type(self).__name__} must implement compute_loss.")

    def get_config(self):
        return {**super().get_config(), "output_axis": self.output_axis}
