"""keras-pos-embd's names and arguments.

For code moving from keras-pos-embd 0.13 (``PositionEmbedding``,
``TrigPosEmbedding``). The constructor arguments, their defaults, the
``MODE_*`` constants, the weight name and shapes, ``compute_mask`` and the
``get_config`` keys are the old ones, and so is the arithmetic of each mode:

- ``expand``: the inputs are integer positions ``(B, T)`` (negative ones
  allowed, floats truncated); the output is ``(B, T, output_dim)``.
- ``add``: ``x + table[:T]`` on ``x`` shaped ``(B, T, D)``.
- ``concat``: ``concat([x, table[:T]])`` along the features,
  ``(B, T, D + output_dim)``.

Differences, kept on purpose:

- Bad arguments raise ``ValueError`` when the layer is made or built: an
  unknown ``mode`` (the old layers fell through to ``concat``), an odd or
  missing ``output_dim`` in ``TrigPosEmbedding`` (the old one raised
  ``NotImplementedError``; this error is both, so old ``except`` clauses
  keep working), an odd feature size in ``TrigPosEmbedding``'s
  ``add`` mode, a sequence longer than ``input_dim`` or wider than
  ``output_dim`` in ``PositionEmbedding``'s ``add`` mode (each used to fail
  inside the backend with a shape error).
- ``supports_masking`` is True in every mode, so that in ``add`` and
  ``concat`` modes the incoming mask passes through on Keras 3 as the old
  ``compute_mask`` intended (Keras 3 drops the mask of a layer that does not
  support masking).
- Outputs are in the layer's compute dtype (mixed precision works), not
  ``floatx()``.

``weights=[table]`` works as with Keras 2 (``kerastack.core.InitialWeightsMixin``):
the table is set at the layer's first call, before it computes anything.

Kept as they were, so look before relying on them: ``mask_zero`` in
``PositionEmbedding``'s ``expand`` mode is the position value that marks
padding, compared with ``!=``; ``mask_zero=0`` (or False) means no mask, and
``mask_zero=True`` compares with 1, as before.

``PositionEmbedding`` is registered as ``"kerastack>LegacyPositionEmbedding"``
(the modern ``kerastack.position.PositionEmbedding`` has the same Python
name); use ``get_custom_objects()`` to load models saved under the old names.
"""

import numbers

from kerastack.core import InitialWeightsMixin, keras, ops, serializable
from kerastack.position._common import sinusoids, working_dtype

__all__ = ["PositionEmbedding", "TrigPosEmbedding", "get_custom_objects"]

MODE_EXPAND = "expand"
MODE_ADD = "add"
MODE_CONCAT = "concat"
MODES = (MODE_EXPAND, MODE_ADD, MODE_CONCAT)


def _check_mode(mode):
    """`mode`, checked. Keras 3's loader of old `.h5` model files turns a
    config string that names a Keras function into the function: the saved
    `"add"` arrives as `keras.layers.add`, and is read back as `"add"`."""
    if callable(mode) and getattr(mode, "__name__", None) in MODES:
        mode = mode.__name__
    if mode not in MODES:
        raise ValueError(f"`mode` must be one of {MODES}, received mode={mode!r}.")
    return mode


class _TrigArgumentError(ValueError, NotImplementedError):
    """A missing or odd `output_dim`: keras-pos-embd raised
    NotImplementedError, kerastack ValueError; this is both, so old `except`
    clauses keep working."""


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"`{name}` must be an int >= 1, received {name}={value!r}.")


@serializable(name="LegacyPositionEmbedding")
class PositionEmbedding(InitialWeightsMixin, keras.layers.Layer):
    """keras-pos-embd's trainable `PositionEmbedding`.

    Letters: B batch, T sequence length, D feature size.

    Args:
        input_dim: int, in `expand` mode the largest absolute position (the
            table has `2 * input_dim + 1` rows, for positions
            `-input_dim .. input_dim`; others are clipped to that range); in
            `add` and `concat` modes the longest sequence (`input_dim` rows).
        output_dim: int, the width of the table.
        mode: `"expand"` (default), `"add"` or `"concat"`; also the class
            constants `MODE_EXPAND`, `MODE_ADD`, `MODE_CONCAT`.
        embeddings_initializer, embeddings_regularizer, embeddings_constraint:
            for the table, named `"embeddings"`.
        activity_regularizer: on the output, as in any Keras layer.
        mask_zero: in `expand` mode, the position value that marks padding
            (`mask = inputs != mask_zero`); False or 0 for no mask.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: integer positions `(B, T)` in `expand` mode, else `(B, T, D)`.

    Example:

    >>> inputs = keras.Input((None,), dtype="int32")
    >>> x = keras.layers.Embedding(1000, 16, mask_zero=True)(inputs)
    >>> x = PositionEmbedding(input_dim=100, output_dim=16, mode="add")(x)
    >>> x.shape
    (None, None, 16)
    >>> layer = PositionEmbedding(input_dim=10, output_dim=4)  # expand mode
    >>> tuple(layer(np.array([[0, 1, -2]])).shape)  # positions -10 .. 10
    (1, 3, 4)

    References:
        - keras-pos-embd, https://github.com/CyberZHG/keras-pos-embd
    """

    MODE_EXPAND = MODE_EXPAND
    MODE_ADD = MODE_ADD
    MODE_CONCAT = MODE_CONCAT

    def __init__(
        self,
        input_dim,
        output_dim,
        mode=MODE_EXPAND,
        embeddings_initializer="uniform",
        embeddings_regularizer=None,
        activity_regularizer=None,
        embeddings_constraint=None,
        mask_zero=False,
        **kwargs,
    ):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        _check_positive_int("input_dim", input_dim)
        _check_positive_int("output_dim", output_dim)
        mode = _check_mode(mode)
        self.input_dim = int(input_dim)
        self.output_dim = int(output_dim)
        self.mode = mode
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.embeddings_regularizer = keras.regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = keras.constraints.get(embeddings_constraint)
        self.mask_zero = mask_zero
        self.supports_masking = True

    def build(self, input_shape):
        if self.mode == MODE_EXPAND:
            rows = 2 * self.input_dim + 1
        else:
            if len(input_shape) != 3:
                raise ValueError(
                    f"mode={self.mode!r} takes inputs shaped (B, T, D); received shape "
                    f"{tuple(input_shape)}."
                )
            length, features = input_shape[1], input_shape[2]
            if length is not None and length > self.input_dim:
                raise ValueError(
                    f"The input has {length} positions, more than input_dim={self.input_dim}."
                )
            if self.mode == MODE_ADD and (features is None or features > self.output_dim):
                raise ValueError(
                    f"mode='add' adds the first D columns of the table to inputs of width D; "
                    f"received D={features} with output_dim={self.output_dim}."
                )
            rows = self.input_dim
        self.embeddings = self.add_weight(
            name="embeddings",
            shape=(rows, self.output_dim),
            initializer=self.embeddings_initializer,
            regularizer=self.embeddings_regularizer,
            constraint=self.embeddings_constraint,
            trainable=True,
        )

    def call(self, inputs):
        embeddings = ops.cast(self.embeddings, self.compute_dtype)
        if self.mode == MODE_EXPAND:
            positions = ops.cast(inputs, "int32")  # (B, T)
            rows = ops.clip(positions, -self.input_dim, self.input_dim) + self.input_dim
            return ops.take(embeddings, rows, axis=0)  # (B, T, output_dim)
        shape = ops.shape(inputs)
        width = shape[2] if self.mode == MODE_ADD else self.output_dim
        table = ops.slice(embeddings, (0, 0), (shape[1], width))  # (T, width)
        if self.mode == MODE_ADD:
            return inputs + table  # (B, T, D)
        table = ops.broadcast_to(table, (shape[0], shape[1], width))  # (B, T, output_dim)
        return ops.concatenate([inputs, table], axis=-1)  # (B, T, D + output_dim)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self.mode == MODE_EXPAND:
            return input_shape + (self.output_dim,)
        if self.mode == MODE_CONCAT:
            width = None if input_shape[-1] is None else input_shape[-1] + self.output_dim
            return input_shape[:-1] + (width,)
        return input_shape

    def compute_mask(self, inputs, mask=None):
        if self.mode == MODE_EXPAND:
            if self.mask_zero:
                return ops.not_equal(inputs, self.mask_zero)
            return None
        return mask

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "input_dim": self.input_dim,
                "output_dim": self.output_dim,
                "mode": self.mode,
                "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
                "embeddings_regularizer": keras.regularizers.serialize(self.embeddings_regularizer),
                "activity_regularizer": keras.regularizers.serialize(self.activity_regularizer),
                "embeddings_constraint": keras.constraints.serialize(self.embeddings_constraint),
                "mask_zero": self.mask_zero,
            }
        )
        return config


@serializable
class TrigPosEmbedding(InitialWeightsMixin, keras.layers.Layer):
    """keras-pos-embd's sinusoidal `TrigPosEmbedding` (no weights).

    The encoding is `SinePositionEncoding`'s with `max_wavelength=10000`:
    feature `2k` is `sin(p / 10000^(2k/D))`, feature `2k+1` is
    `cos(p / 10000^(2k/D))`.

    Letters: B batch, T sequence length, D feature size.

    Args:
        mode: `"add"` (default): `x + encoding(0 .. T-1)` on `(B, T, D)`, D
            even; `"concat"`: `concat([x, encoding])` with an encoding of
            width `output_dim`; `"expand"`: the encoding `(B, T, output_dim)`
            of the positions given as inputs `(B, T)`.
        output_dim: even int, required in `expand` and `concat` modes;
            unused in `add` mode (the width is the input's).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: positions `(B, T)` in `expand` mode, else `(B, T, D)`.

    Example:

    >>> inputs = keras.Input((None,), dtype="int32")
    >>> x = keras.layers.Embedding(1000, 16, mask_zero=True)(inputs)
    >>> x = TrigPosEmbedding(mode=TrigPosEmbedding.MODE_ADD)(x)
    >>> x.shape
    (None, None, 16)
    >>> encoding = TrigPosEmbedding(mode="expand", output_dim=4)(np.array([[0.0, 1.0]]))
    >>> np.round(ops.convert_to_numpy(encoding), 3)  # sin, cos, sin, cos
    array([[[0.   , 1.   , 0.   , 1.   ],
            [0.841, 0.54 , 0.01 , 1.   ]]], dtype=float32)

    References:
        - [Vaswani et al., 2017](https://arxiv.org/abs/1706.03762)
        - keras-pos-embd, https://github.com/CyberZHG/keras-pos-embd
    """

    MODE_EXPAND = MODE_EXPAND
    MODE_ADD = MODE_ADD
    MODE_CONCAT = MODE_CONCAT

    def __init__(self, mode=MODE_ADD, output_dim=None, **kwargs):
        super().__init__(**kwargs)
        mode = _check_mode(mode)
        if mode != MODE_ADD or output_dim is not None:
            if output_dim is None:
                raise _TrigArgumentError(
                    f"`output_dim` is required in mode={mode!r}, received output_dim=None."
                )
            _check_positive_int("output_dim", output_dim)
            if output_dim % 2:
                raise _TrigArgumentError(
                    f"`output_dim` must be even, received output_dim={output_dim}."
                )
        self.mode = mode
        self.output_dim = None if output_dim is None else int(output_dim)
        self.supports_masking = True

    def build(self, input_shape):
        if self.mode != MODE_EXPAND and len(input_shape) != 3:
            raise ValueError(
                f"mode={self.mode!r} takes inputs shaped (B, T, D); received shape "
                f"{tuple(input_shape)}."
            )
        if self.mode == MODE_ADD and (input_shape[-1] is None or input_shape[-1] % 2):
            raise ValueError(
                "mode='add' needs inputs of known, even width; received width "
                f"{input_shape[-1]} (shape {tuple(input_shape)})."
            )

    def call(self, inputs):
        dtype = working_dtype(self.compute_dtype)
        if self.mode == MODE_EXPAND:
            positions = ops.cast(inputs, dtype)  # (B, T)
            encoding = sinusoids(positions, self.output_dim, 10000, dtype)  # (B, T, output_dim)
            return ops.cast(encoding, self.compute_dtype)
        shape = ops.shape(inputs)
        width = shape[-1] if self.mode == MODE_ADD else self.output_dim
        positions = ops.arange(shape[1], dtype=dtype)  # (T,)
        encoding = ops.cast(sinusoids(positions, width, 10000, dtype), self.compute_dtype)
        if self.mode == MODE_ADD:
            return inputs + encoding  # (B, T, D)
        encoding = ops.broadcast_to(encoding, (shape[0], shape[1], width))  # (B, T, output_dim)
        return ops.concatenate([inputs, encoding], axis=-1)  # (B, T, D + output_dim)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self.mode == MODE_EXPAND:
            return input_shape + (self.output_dim,)
        if self.mode == MODE_CONCAT:
            width = None if input_shape[-1] is None else input_shape[-1] + self.output_dim
            return input_shape[:-1] + (width,)
        return input_shape

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        config = super().get_config()
        config.update({"mode": self.mode, "output_dim": self.output_dim})
        return config


def get_custom_objects():
    """The old names, for `load_model(..., custom_objects=get_custom_objects())`.

    Example:

    >>> sorted(get_custom_objects())
    ['PositionEmbedding', 'TrigPosEmbedding']
    """
    return {"PositionEmbedding": PositionEmbedding, "TrigPosEmbedding": TrigPosEmbedding}
