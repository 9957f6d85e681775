"""Masking and softmax shared by every kerastack attention layer.

Masks are booleans, True meaning "may attend". A query row with nothing to
attend to gives all-zero weights (and so a zero output), never NaN, in every
dtype: masked logits are set to a finite large negative value, the softmax is
taken in float32, and disallowed weights are then set to exactly zero.

Masked keys hold anything: masked logits are selected away (`ops.where`,
never added to), and the keys and values of positions that no query may
attend to (padding) are set to zero before they enter a product, since a
zero weight times a NaN or Inf value is still NaN. A key masked for some
queries only (a causal mask's future, a custom `attention_mask`) stays in
the product of the queries that cannot see it: it must be finite there.

Letters in shape comments: B batch, T query length, S key length, N heads,
H head size.
"""

from kerastack.core import (
    chunk_long_attention,
    dot_product_attention,
    fused_attention_dtypes,
    large_negative,
    ops,
    standardize_dtype,
    static_shape,
)

_HALF_DTYPES = ("float16", "bfloat16")
# Where the backend's kernel would hold the whole (B, N, T, S) score tensor,
# attention whose scores (as float32) take more than CHUNK_ABOVE_BYTES is
# computed one head and one block of queries at a time, each block's scores
# taking at most BLOCK_BYTES.
CHUNK_ABOVE_BYTES = 32 * 2**20
BLOCK_BYTES = 4 * 2**20


def can_fuse(dtype):
    """Whether the fused kernel computes in `dtype` as given on this backend
    and device; others (float64; float16 on JAX's CPU) take the exact path."""
    return standardize_dtype(dtype) in fused_attention_dtypes()


def merge_masks(*masks):
    """AND of broadcastable boolean masks; ``None`` entries are skipped.

    Example:

    >>> padding = np.array([[True, True, False]])  # (B, S)
    >>> merged = merge_masks(None, causal_mask(3, 3), padding[:, None, :])
    >>> ops.convert_to_numpy(merged).astype(int)
    array([[[1, 0, 0],
            [1, 1, 0],
            [1, 1, 0]]])
    >>> merge_masks(None, None) is None
    True
    """
    merged = None
    for mask in masks:
        if mask is None:
            continue
        mask = ops.cast(mask, "bool")
        merged = mask if merged is None else ops.logical_and(merged, mask)
    return merged


def expand_mask(mask, axes):
    """``mask`` with new axes of size 1 inserted at ``axes`` (None stays None).

    Example:

    >>> tuple(expand_mask(np.ones((2, 5), bool), (1, 2)).shape)  # (B, S) -> (B, 1, 1, S)
    (2, 1, 1, 5)
    >>> expand_mask(None, (1,)) is None
    True
    """
    if mask is None:
        return None
    for axis in sorted(axes):
        mask = ops.expand_dims(mask, axis)
    return mask


def causal_mask(query_length, key_length, offset=0):
    """``(T, S)`` mask where query ``i`` may see keys ``j <= i + offset``.

    ``offset`` (an int or a scalar integer tensor) is the position of the first
    query among the keys: the write index of a key/value cache.

    Example:

    >>> ops.convert_to_numpy(causal_mask(2, 4, offset=2)).astype(int)
    array([[1, 1, 1, 0],
           [1, 1, 1, 1]])
    """
    rows = ops.expand_dims(ops.arange(query_length) + offset, 1)  # (T, 1)
    cols = ops.expand_dims(ops.arange(key_length), 0)  # (1, S)
    return ops.greater_equal(rows, cols)  # (T, S)


def window_mask(query_length, key_length, width, causal=False):
    """``(T, S)`` mask of a local window of ``width`` keys around each query.

    Causal: query ``i`` sees keys ``i - width + 1 .. i``. Otherwise the window
    is centred: keys ``i - width // 2 .. i - width // 2 + width - 1``.

    Example:

    >>> ops.convert_to_numpy(window_mask(4, 4, width=2, causal=True)).astype(int)
    array([[1, 0, 0, 0],
           [1, 1, 0, 0],
           [0, 1, 1, 0],
           [0, 0, 1, 1]])
    >>> ops.convert_to_numpy(window_mask(4, 4, width=3)).astype(int)
    array([[1, 1, 0, 0],
           [1, 1, 1, 0],
           [0, 1, 1, 1],
           [0, 0, 1, 1]])
    """
    rows = ops.expand_dims(ops.arange(query_length), 1)  # (T, 1)
    cols = ops.expand_dims(ops.arange(key_length), 0)  # (1, S)
    lower = rows - (width - 1) if causal else rows - width // 2
    return ops.logical_and(ops.greater_equal(cols, lower), ops.less(cols, lower + width))  # (T, S)


def zero_unattended(mask, *sequences):
    """``sequences`` ``(B, S, N, X)`` with zeros at the keys no query may see.

    Args:
        mask: boolean, broadcastable to ``(B, N, T, S)`` and of rank 4.
        *sequences: keys and values, ``(B, S, N, X)``.

    Returns:
        The sequences (a tuple), with the rows of keys that ``mask`` hides
        from every query (of their batch row and head) set to zero, so that
        a NaN or Inf held there cannot reach any output.

    Example:

    >>> mask = np.array([True, True, False])[None, None, None]  # (1, 1, 1, S)
    >>> key = np.full((1, 3, 1, 2), np.nan, "float32")
    >>> (key,) = zero_unattended(mask, key)
    >>> ops.convert_to_numpy(key)[0, :, 0]  # the hidden key is 0, the others NaN
    array([[nan, nan],
           [nan, nan],
           [ 0.,  0.]], dtype=float32)
    """
    seen = ops.any(ops.cast(mask, "bool"), axis=2)  # (B|1, N|1, S)
    seen = ops.expand_dims(ops.transpose(seen, (0, 2, 1)), -1)  # (B|1, S, N|1, 1)
    return tuple(ops.where(seen, x, 0.0) for x in sequences)


def masked_softmax(scores, mask=None, axis=-1):
    """Softmax of ``scores`` over ``axis`` where ``mask`` allows, zero elsewhere.

    Half-precision scores are normalized in float32 and cast back. A slice
    with nothing allowed gives zeros.

    Example:

    >>> scores = np.zeros((2, 3), "float32")
    >>> mask = np.array([[True, True, False], [False, False, False]])
    >>> ops.convert_to_numpy(masked_softmax(scores, mask))
    array([[0.5, 0.5, 0. ],
           [0. , 0. , 0. ]], dtype=float32)
    """
    dtype = standardize_dtype(scores.dtype)
    logits = ops.cast(scores, "float32") if dtype in _HALF_DTYPES else scores
    if mask is None:
        return ops.cast(ops.softmax(logits, axis=axis), dtype)
    mask = ops.cast(mask, "bool")
    logits = ops.where(mask, logits, large_negative(logits.dtype))
    weights = ops.softmax(logits, axis=axis)
    weights = ops.where(mask, weights, ops.zeros_like(weights))
    return ops.cast(weights, dtype)


def fused_attention(query, key, value, mask=None, scale=None, is_causal=False):
    """``keras.ops.dot_product_attention`` with kerastack's mask guarantees.

    Where the backend's kernel would hold the whole ``(B, N, T, S)`` score
    tensor (TensorFlow, JAX on CPU: ``kerastack.core.chunk_long_attention``)
    and it would take more than ``CHUNK_ABOVE_BYTES``, attention is computed
    one head and one block of queries at a time (``keras.ops.map``). Each
    query's softmax is over
    all its keys either way, so the result is the same; memory holds one
    block's scores instead of all of them.

    Args:
        query: ``(B, T, N, H)``.
        key: ``(B, S, N, H)``.
        value: ``(B, S, N, V)``.
        mask: boolean, broadcastable to ``(B, N, T, S)``, or None.
        scale: logit scale; ``1 / sqrt(H)`` when None.
        is_causal: query ``i`` sees keys ``j <= i`` only.

    Returns:
        ``(B, T, N, V)``; rows of ``mask`` that allow nothing give zeros,
        and keys that ``mask`` hides from every query cannot change the
        result, whatever they hold (see ``zero_unattended``).

    Example:

    >>> q = np.random.rand(2, 4, 2, 8).astype("float32")  # (B, T, N, H)
    >>> kv = np.random.rand(2, 5, 2, 8).astype("float32")  # (B, S, N, H)
    >>> mask = np.array([True, True, True, False, False])[None, None, None]  # (1, 1, 1, S)
    >>> outputs = fused_attention(q, kv, kv, mask=mask)
    >>> tuple(outputs.shape)
    (2, 4, 2, 8)
    >>> kv[:, 3:] = np.nan  # hidden keys cannot reach the result
    >>> bool(np.all(np.isfinite(ops.convert_to_numpy(fused_attention(q, kv, kv, mask=mask)))))
    True
    """
    if mask is not None:
        key, value = zero_unattended(
            expand_mask(mask, range(4 - len(static_shape(mask)))), key, value
        )
    block = _query_block(query, key) if chunk_long_attention() else None
    if block is None:
        return _attend(query, key, value, mask, scale, is_causal)
    return _attend_in_blocks(query, key, value, mask, scale, is_causal, block)


def _attend(query, key, value, mask, scale, is_causal):
    if mask is None:
        return dot_product_attention(query, key, value, scale=scale, is_causal=is_causal)
    mask = ops.cast(mask, "bool")
    # Kernels differ on rows that allow no key (uniform weights, or NaN): let
    # such rows see every key, then zero their output.
    has_key = ops.any(mask, axis=-1, keepdims=True)  # (B, N, T, 1)
    mask = ops.logical_or(mask, ops.logical_not(has_key))
    outputs = dot_product_attention(
        query, key, value, mask=mask, scale=scale, is_causal=is_causal
    )  # (B, T, N, V)
    has_key = ops.transpose(has_key, (0, 2, 1, 3))  # (B, T, N, 1)
    return ops.where(has_key, outputs, 0.0)


def _query_block(query, key):
    """Queries per block (a power of two), or None when the whole score
    tensor takes at most ``CHUNK_ABOVE_BYTES`` or its size is not known."""
    batch, length, heads, _ = static_shape(query)
    key_length = static_shape(key)[1]
    # Unknown sizes are None, or symbolic while Keras infers output shapes on JAX.
    if not all(isinstance(size, int) for size in (length, key_length, heads)):
        return None
    batch = batch if isinstance(batch, int) else 1
    row_bytes = batch * key_length * 4  # one query's scores, one head
    if length * heads * row_bytes <= CHUNK_ABOVE_BYTES:
        return None
    block = min(length, max(1, BLOCK_BYTES // row_bytes))
    return 2 ** (block.bit_length() - 1)


def _attend_in_blocks(query, key, value, mask, scale, is_causal, block):
    batch, length, heads, width = static_shape(query)
    key_length, value_width = static_shape(key)[1], static_shape(value)[-1]
    blocks = -(-length // block)
    batch = batch or ops.shape(query)[0]
    if mask is not None:
        mask = ops.cast(mask, "bool")
        mask = expand_mask(mask, range(4 - len(static_shape(mask))))  # rank 4
        _, mask_heads, mask_queries, _ = static_shape(mask)
        mask_size = ops.shape(mask)

    def attend(index):
        head = index // blocks
        # The last block ends at the last query: when `block` does not divide
        # the length it overlaps the block before it.
        start = ops.minimum((index % blocks) * block, length - block)
        q = ops.slice(query, (0, start, head, 0), (batch, block, 1, width))
        k = ops.slice(key, (0, 0, head, 0), (batch, key_length, 1, width))
        v = ops.slice(value, (0, 0, head, 0), (batch, key_length, 1, value_width))
        piece = None
        if mask is not None:
            piece = ops.slice(
                mask,
                (0, head if mask_heads != 1 else 0, start if mask_queries != 1 else 0, 0),
                (mask_size[0], 1, block if mask_queries != 1 else 1, mask_size[3]),
            )
        if is_causal:
            rows = ops.expand_dims(ops.arange(block) + start, 1)
            causal = ops.greater_equal(rows, ops.expand_dims(ops.arange(key_length), 0))
            piece = merge_masks(piece, causal[None, None])  # (B|1, 1, block, S)
        return ops.squeeze(_attend(q, k, v, piece, scale, False), 2)  # (B, block, V)

    # One head and one block of queries at a time, in order (keras.ops.map
    # runs them one after another; its gradient is defined on every backend).
    # One flat loop rather than blocks nested in heads: measured at 8,192
    # tokens, nesting ran 1.6x faster on JAX's CPU but held 1.61x the memory
    # of Q, K, V and the output instead of 1.31x (about one more copy of
    # K and V).
    outputs = ops.map(attend, ops.arange(heads * blocks))  # (N * blocks, B, block, V)
    outputs = ops.reshape(outputs, (heads, blocks, batch, block, value_width))
    outputs = ops.transpose(outputs, (2, 1, 3, 0, 4))  # (B, blocks, block, N, V)
    outputs = ops.reshape(outputs, (batch, blocks * block, heads, value_width))
    overlap = blocks * block - length
    if overlap:  # drop the rows the last block recomputed
        last = (blocks - 1) * block
        outputs = ops.concatenate([outputs[:, :last], outputs[:, last + overlap :]], axis=1)
    return outputs  # (B, T, N, V)


def check_rank(layer, argument, shape, ranks):
    """Raise ``ValueError`` unless ``shape`` has one of ``ranks``.

    Example:

    >>> from kerastack.core import keras
    >>> layer = keras.layers.Layer(name="attention")
    >>> check_rank(layer, "query", (2, 5, 8), ranks=(3,))  # accepted
    >>> check_rank(layer, "query", (2, 5), ranks=(3,))
    Traceback (most recent call last):
    ...
    ValueError: Layer expects `query` of rank 3, received shape (2, 5) (rank 2).
    """
    if shape is not None and len(shape) not in ranks:
        expected = " or ".join(str(rank) for rank in ranks)
        raise ValueError(
            f"{type(layer).__name__} expects `{argument}` of rank {expected}, "
            f"received shape {tuple(shape)} (rank {len(shape)})."
        )


def check_floating(layer, **inputs):
    """Raise ``ValueError`` unless every input (given by name) is floating-point.

    Attention reads features; integer or boolean tensors (token ids, masks
    passed in the wrong place) are refused rather than cast.

    Example:

    >>> from kerastack.core import keras
    >>> layer = keras.layers.Layer()
    >>> check_floating(layer, query=np.zeros((1, 2, 4), "float32"))  # accepted
    >>> check_floating(layer, query=np.zeros((1, 2), "int32"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Layer expects floating-point `query` (features), received dtype int32 ...
    """
    for argument, x in inputs.items():
        if x is None:
            continue
        dtype = standardize_dtype(x.dtype)
        if "float" not in dtype:
            raise ValueError(
                f"{type(layer).__name__} expects floating-point `{argument}` (features), "
                f"received dtype {dtype} (shape {static_shape(x)}). Embed token ids first, "
                "for example with keras.layers.Embedding, or cast the features to float."
            )


def check_batch_sizes(layer, **shapes):
    """Raise ``ValueError`` if the known batch sizes of ``shapes`` differ.

    Example:

    >>> from kerastack.core import keras
    >>> layer = keras.layers.Layer()
    >>> check_batch_sizes(layer, query=(2, 5, 8), value=(None, 7, 8))  # None: unknown
    >>> check_batch_sizes(layer, query=(2, 5, 8), value=(3, 7, 8))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Layer needs inputs of one batch size, received shapes query=(2, 5, 8), ...
    """
    # Only Python ints are known sizes: an exporter's tracing gives symbols
    # (torch tensors, JAX dimension expressions) that stand for any size.
    known = {
        name: shape[0] for name, shape in shapes.items() if shape and isinstance(shape[0], int)
    }
    if len(set(known.values())) > 1:
        listed = ", ".join(f"{name}={tuple(shapes[name])}" for name in known)
        raise ValueError(
            f"{type(layer).__name__} needs inputs of one batch size, received shapes {listed}."
        )


def check_mask_shape(layer, argument, mask, expected_shape):
    """Raise ``ValueError`` if ``mask`` cannot belong to ``expected_shape``.

    Dimensions unknown on either side (None) are not compared.

    Example:

    >>> from kerastack.core import keras
    >>> layer = keras.layers.Layer()
    >>> check_mask_shape(layer, "mask", np.ones((2, 5), bool), (2, 5))  # accepted
    >>> check_mask_shape(layer, "mask", np.ones((2, 4), bool), (2, 5))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Layer received `mask` of shape (2, 4), which does not match ...
    """
    if mask is None:
        return
    shape = static_shape(mask)
    expected_shape = tuple(expected_shape)
    compatible = len(shape) == len(expected_shape) and all(
        a is None or b is None or a == b for a, b in zip(shape, expected_shape, strict=True)
    )
    if not compatible:
        raise ValueError(
            f"{type(layer).__name__} received `{argument}` of shape {shape}, "
            f"which does not match the expected shape {expected_shape}."
        )


__all__ = [
    "causal_mask",
    "check_batch_sizes",
    "check_floating",
    "check_mask_shape",
    "check_rank",
    "expand_mask",
    "fused_attention",
    "masked_softmax",
    "merge_masks",
    "window_mask",
    "zero_unattended",
]
