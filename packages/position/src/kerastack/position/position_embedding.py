import numbers

import numpy as np

from kerastack.core import keras, ops, serializable, static_shape


@serializable
class PositionEmbedding(keras.layers.Layer):
    """Learned absolute position embeddings: one trainable row per position.

    Returns the embeddings of positions `start_index, ..., start_index + T - 1`
    (or of the given `position_ids`) broadcast to the shape of the input, for
    the caller to add to the token embeddings. Only the input's shape is
    read, never its values. The table has `max_sequence_length` rows; shorter
    inputs use the first rows (from `start_index`), longer ones are an error.

    Letters: B batch, T sequence length, D feature size.

    Args:
        max_sequence_length: int >= 1, the number of positions the table
            holds, i.e. the longest sequence the layer accepts.
        initializer: initializer of the `(max_sequence_length, D)` table.
            Defaults to `"glorot_uniform"`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `(B, T, D)` (more generally `(..., T, D)`). D is fixed by the
            first call.
        start_index: int or scalar integer tensor, the position of the first
            step: the cache position during incremental decoding. A tensor
            may be traced (inside a compiled decode loop); only a Python int
            is range-checked.
        position_ids: optional int `(B, T)` or `(T,)`, each step's row of the
            table (packed sequences restart them at each sequence); replaces
            `start_index`. Each id must be in `[0, max_sequence_length)`:
            checked where the ids are known (eager calls), not inside a
            compiled function, where an id out of range is the backend's
            gather (clamped, zeros or an error).

    Returns `(B, T, D)` in the layer's compute dtype. A Keras mask on the
    input passes through unchanged.

    Example:

    >>> inputs = keras.Input((None,), dtype="int32")
    >>> tokens = keras.layers.Embedding(1000, 32, mask_zero=True)(inputs)
    >>> positions = PositionEmbedding(max_sequence_length=128)(tokens)
    >>> x = keras.layers.Add()([tokens, positions])  # keeps the padding mask

    References:
        - [Devlin et al., 2019](https://arxiv.org/abs/1810.04805) (BERT's
          learned position embeddings)
        - `keras_hub.layers.PositionEmbedding`
    """

    def __init__(self, max_sequence_length, initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        if (
            isinstance(max_sequence_length, bool)
            or not isinstance(max_sequence_length, numbers.Integral)
            or max_sequence_length < 1
        ):
            raise ValueError(
                "`max_sequence_length` must be an int >= 1, received "
                f"max_sequence_length={max_sequence_length!r}."
            )
        self.max_sequence_length = int(max_sequence_length)
        self.initializer = keras.initializers.get(initializer)
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(
                "`inputs` must have rank >= 2, shaped (B, T, D); received "
                f"shape {tuple(input_shape)}."
            )
        if input_shape[-1] is None:
            raise ValueError(
                f"The last axis (D) of `inputs` must be known; received shape {tuple(input_shape)}."
            )
        self._check_range(input_shape[-2], 0)
        self.embeddings = self.add_weight(
            name="embeddings",
            shape=(self.max_sequence_length, input_shape[-1]),
            initializer=self.initializer,
            trainable=True,
        )

    def call(self, inputs, start_index=0, position_ids=None):
        shape = ops.shape(inputs)
        if position_ids is not None:
            self._check_ids(position_ids)
            embeddings = ops.cast(self.embeddings, self.compute_dtype)
            rows = ops.take(embeddings, ops.cast(position_ids, "int32"), axis=0)  # (B, T, D)
            return ops.broadcast_to(rows, shape)
        length, features = shape[-2], static_shape(self.embeddings)[-1]
        self._check_range(length, start_index)
        embeddings = ops.cast(self.embeddings, self.compute_dtype)
        # Rows start_index .. start_index + T - 1; ops.slice takes a traced
        # start (a dynamic slice), which Python slicing would not.
        embeddings = ops.slice(embeddings, (start_index, 0), (length, features))  # (T, D)
        return ops.broadcast_to(embeddings, shape)  # (B, T, D)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_mask(self, inputs, previous_mask=None):
        return previous_mask

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "max_sequence_length": self.max_sequence_length,
                "initializer": keras.initializers.serialize(self.initializer),
            }
        )
        return config

    def _check_ids(self, position_ids):
        """Raise on ids out of the table where their values are known."""
        try:
            ids = np.asarray(position_ids)
        except Exception:  # traced: known only at run time
            return
        if ids.dtype.kind not in "iu":  # symbolic (an object array), or not integers
            return
        if ids.size and (ids.min() < 0 or ids.max() >= self.max_sequence_length):
            raise ValueError(
                f"`position_ids` must be in [0, {self.max_sequence_length}) "
                f"(max_sequence_length={self.max_sequence_length}); received ids from "
                f"{ids.min()} to {ids.max()}."
            )

    def _check_range(self, length, start_index):
        """Raise when a known length (and a Python int start) overruns the table."""
        if not isinstance(length, int):
            return  # unknown until run time
        if length > self.max_sequence_length:
            raise ValueError(
                f"The input has {length} positions, more than "
                f"max_sequence_length={self.max_sequence_length}: received a sequence "
                f"of length {length}. Raise `max_sequence_length` or shorten the input."
            )
        if isinstance(start_index, numbers.Integral) and not isinstance(start_index, bool):
            if start_index < 0 or start_index + length > self.max_sequence_length:
                raise ValueError(
                    f"Positions start_index={start_index} to {start_index + length - 1} "
                    f"(a sequence of length {length}) do not fit in "
                    f"max_sequence_length={self.max_sequence_length}."
                )
