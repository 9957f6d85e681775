"""T5's relative position buckets and the per-head bias they select."""

import math

from kerastack.core import check_int, keras, ops, serializable


def relative_position_bucket(relative_position, bidirectional, num_buckets, max_distance):
    """The bucket of each relative position (key position minus query
    position), as T5 (Raffel et al., 2020) and Mesh TensorFlow define it.

    Half of the buckets (of each direction, when `bidirectional`) hold one
    distance each (0, 1, ...); the other half spread logarithmically up to
    `max_distance`, beyond which every distance shares the last bucket.
    Without `bidirectional` (a causal decoder) keys after the query all
    fall in bucket 0.

    Args:
        relative_position: int tensor of any shape.
        bidirectional: bool.
        num_buckets: int, buckets in all (both directions together).
        max_distance: int.

    Returns:
        int32 tensor of the same shape, in `[0, num_buckets)`.

    Example:

    >>> distances = np.array([-200, -20, -3, 0, 3, 20, 200])
    >>> ops.convert_to_numpy(relative_position_bucket(distances, True, 32, 128)).tolist()
    [15, 10, 3, 0, 19, 26, 31]
    >>> ops.convert_to_numpy(relative_position_bucket(distances, False, 32, 128)).tolist()
    [31, 17, 3, 0, 0, 0, 0]
    """
    relative_position = ops.cast(relative_position, "int32")
    buckets = ops.zeros_like(relative_position)
    if bidirectional:
        num_buckets //= 2
        buckets = buckets + ops.cast(relative_position > 0, "int32") * num_buckets
        distance = ops.abs(relative_position)
    else:
        distance = -ops.minimum(relative_position, 0)
    max_exact = num_buckets // 2
    is_small = distance < max_exact
    # Log-spaced buckets from max_exact to max_distance, in float32 as T5's
    # reference computes them (the log's argument kept >= 1 where unused).
    scaled = ops.cast(ops.maximum(distance, 1), "float32") / float(max_exact)
    logarithmic = ops.log(scaled) / math.log(max_distance / max_exact)
    large = max_exact + ops.cast(logarithmic * (num_buckets - max_exact), "int32")
    large = ops.minimum(large, num_buckets - 1)
    return buckets + ops.where(is_small, distance, large)


@serializable
class T5RelativePositionBias(keras.layers.Layer):
    """The attention bias of T5's relative positions: one learned scalar per
    head and relative position bucket, added to the attention logits of
    every block of a stack (computed once, by the stack's first block in
    T5's checkpoints).

    Letters: B batch, T query length, S key length, N heads, D width.

    Args:
        num_heads: int, N.
        num_buckets: int (T5: 32).
        max_distance: int (T5: 128).
        bidirectional: bool, True for the encoder (keys on both sides),
            False for the causal decoder.
        embeddings_initializer: of the `(num_buckets, N)` table.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `(B, T, D)` hidden states of the queries (only their length
            is read).
        key_length: int, S; T when None.
        start_index: int or scalar int tensor, the position of the first
            query (keys count from 0): a cached decoder's step.

    Returns:
        float32 `(1, N, T, S)`.

    Example:

    >>> layer = T5RelativePositionBias(num_heads=3, num_buckets=8, max_distance=16)
    >>> tuple(layer(np.zeros((2, 5, 4), "float32")).shape)
    (1, 3, 5, 5)
    """

    def __init__(
        self,
        num_heads,
        num_buckets=32,
        max_distance=128,
        bidirectional=True,
        embeddings_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = check_int("num_heads", num_heads)
        self.num_buckets = check_int("num_buckets", num_buckets, minimum=2)
        self.max_distance = check_int("max_distance", max_distance)
        if not isinstance(bidirectional, bool):
            raise ValueError(
                f"`bidirectional` must be True or False, received bidirectional={bidirectional!r}."
            )
        self.bidirectional = bidirectional
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)

    def build(self, inputs_shape=None):
        self.embeddings = self.add_weight(
            name="embeddings",
            shape=(self.num_buckets, self.num_heads),
            initializer=self.embeddings_initializer,
            autocast=False,
        )

    def call(self, inputs, key_length=None, start_index=0):
        query_length = ops.shape(inputs)[1]
        key_length = query_length if key_length is None else key_length
        queries = ops.arange(query_length, dtype="int32") + ops.cast(start_index, "int32")
        keys = ops.arange(key_length, dtype="int32")
        relative = ops.expand_dims(keys, 0) - ops.expand_dims(queries, 1)  # (T, S)
        buckets = relative_position_bucket(
            relative, self.bidirectional, self.num_buckets, self.max_distance
        )
        values = ops.take(ops.cast(self.embeddings, "float32"), buckets, axis=0)  # (T, S, N)
        return ops.expand_dims(ops.transpose(values, (2, 0, 1)), 0)  # (1, N, T, S)

    def compute_output_spec(self, inputs, key_length=None, start_index=0):
        query_length = inputs.shape[1]
        key_length = query_length if key_length is None else key_length
        return keras.KerasTensor((1, self.num_heads, query_length, key_length), dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "num_buckets": self.num_buckets,
                "max_distance": self.max_distance,
                "bidirectional": self.bidirectional,
                "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
            }
        )
        return config
