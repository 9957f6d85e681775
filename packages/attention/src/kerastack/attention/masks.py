"""Attention-mask builders: boolean `(B, T, T)` masks, True where a query
may attend to a key, for the `attention_mask` argument of kerastack's
attention layers and blocks (and `keras.layers.MultiHeadAttention`).

Letters: B batch, T length. Every builder takes an optional `padding_mask`
`(B, T)` (True on real tokens) and then also hides padded keys and gives
padded queries nothing to attend to (kerastack's layers output zeros
there); combine masks with `&`.
"""

from kerastack.core import ops


def _with_padding(mask, padding_mask):
    if padding_mask is None:
        return mask
    return mask & padding_attention_mask(padding_mask)


def padding_attention_mask(padding_mask):
    """`(B, T, T)`: every real query may attend to every real key; padded
    queries attend to nothing (and so give zeros in kerastack's layers).

    Example:

    >>> mask = padding_attention_mask(np.array([[True, True, False]]))
    >>> ops.convert_to_numpy(mask).astype(int)
    array([[[1, 1, 0],
            [1, 1, 0],
            [0, 0, 0]]])
    """
    padding = ops.cast(padding_mask, "bool")  # (B, T)
    return ops.expand_dims(padding, 2) & ops.expand_dims(padding, 1)  # (B, T, T)


def causal_attention_mask(length, batch_size=1, padding_mask=None):
    """`(batch_size, T, T)` with T = `length`: query i may attend to keys
    j <= i (a language model's mask).

    Example:

    >>> ops.convert_to_numpy(causal_attention_mask(3)).astype(int)
    array([[[1, 0, 0],
            [1, 1, 0],
            [1, 1, 1]]])
    >>> padding = np.array([[True, True, False], [True, True, True]])
    >>> tuple(causal_attention_mask(3, batch_size=2, padding_mask=padding).shape)
    (2, 3, 3)
    """
    positions = ops.arange(length)
    mask = ops.expand_dims(positions, 1) >= ops.expand_dims(positions, 0)  # (T, T)
    mask = ops.broadcast_to(ops.expand_dims(mask, 0), (batch_size, length, length))
    return _with_padding(mask, padding_mask)


def prefix_lm_attention_mask(segment_ids, padding_mask=None):
    """UniLM's sequence-to-sequence mask (Dong et al., 2019), the prefix
    language model's: tokens of segment 0 (the source) attend to the whole
    source; tokens of segment 1 (the target) attend to the source and to
    the target up to themselves.

    Args:
        segment_ids: int `(B, T)`, 0 on the source, 1 on the target (the
            target follows the source).
        padding_mask: optional `(B, T)`, True on real tokens.

    Example:

    >>> segment_ids = np.array([[0, 0, 1, 1]])  # a 2-token source, then the target
    >>> ops.convert_to_numpy(prefix_lm_attention_mask(segment_ids)).astype(int)
    array([[[1, 1, 0, 0],
            [1, 1, 0, 0],
            [1, 1, 1, 0],
            [1, 1, 1, 1]]])
    """
    # A key j is visible to query i when the target tokens up to j are no
    # more than those up to i: the source (none) to all, the target causally.
    order = ops.cumsum(ops.cast(segment_ids, "int32"), axis=1)  # (B, T)
    mask = ops.expand_dims(order, 1) <= ops.expand_dims(order, 2)  # (B, T, T)
    return _with_padding(mask, padding_mask)


def packed_attention_mask(sequence_ids, causal=False, padding_mask=None):
    """Block-diagonal mask for several sequences packed in one row: a token
    attends only to tokens of its own sequence (causally, with `causal`).

    Args:
        sequence_ids: int `(B, T)`, the same value along each packed
            sequence (for example 1, 1, 1, 2, 2, 3, ...).
        causal: bool, also let position i attend only to j <= i.
        padding_mask: optional `(B, T)`, True on real tokens.

    Example:

    >>> sequence_ids = np.array([[1, 1, 2, 2]])  # two sequences of two tokens
    >>> ops.convert_to_numpy(packed_attention_mask(sequence_ids)).astype(int)
    array([[[1, 1, 0, 0],
            [1, 1, 0, 0],
            [0, 0, 1, 1],
            [0, 0, 1, 1]]])
    >>> ops.convert_to_numpy(packed_attention_mask(sequence_ids, causal=True)).astype(int)
    array([[[1, 0, 0, 0],
            [1, 1, 0, 0],
            [0, 0, 1, 0],
            [0, 0, 1, 1]]])
    """
    ids = ops.convert_to_tensor(sequence_ids)
    mask = ops.expand_dims(ids, 1) == ops.expand_dims(ids, 2)  # (B, T, T)
    if causal:
        length = ops.shape(ids)[1]
        mask = mask & causal_attention_mask(length)
    return _with_padding(mask, padding_mask)
