"""Masking and softmax shared by every kerastack attention layer.

Masks are booleans, True meaning "may attend". A query row with nothing to
attend to gives all-zero weights (and so a zero output), never NaN, in every
dtype: masked logits are set to a finite large negative value, the softmax is
taken in float32, and disallowed weights are then set to exactly zero.

Letters in shape comments: B batch, T query length, S key length, N heads,
H head size.
"""

from kerastack.core import (
    fused_attention_dtypes,
    large_negative,
    ops,
    standardize_dtype,
    static_shape,
)

_HALF_DTYPES = ("float16", "bfloat16")


def can_fuse(dtype):
    """Whether the fused kernel computes in `dtype` as given on this backend
    and device; others (float64; float16 on JAX's CPU) take the exact path."""
    return standardize_dtype(dtype) in fused_attention_dtypes()


def merge_masks(*masks):
    """AND of broadcastable boolean masks; ``None`` entries are skipped."""
    merged = None
    for mask in masks:
        if mask is None:
            continue
        mask = ops.cast(mask, "bool")
        merged = mask if merged is None else ops.logical_and(merged, mask)
    return merged


def expand_mask(mask, axes):
    """``mask`` with new axes of size 1 inserted at ``axes`` (None stays None)."""
    if mask is None:
        return None
    for axis in sorted(axes):
        mask = ops.expand_dims(mask, axis)
    return mask


def causal_mask(query_length, key_length, offset=0):
    """``(T, S)`` mask where query ``i`` may see keys ``j <= i + offset``.

    ``offset`` (an int or a scalar integer tensor) is the position of the first
    query among the keys: the write index of a key/value cache.
    """
    rows = ops.expand_dims(ops.arange(query_length) + offset, 1)  # (T, 1)
    cols = ops.expand_dims(ops.arange(key_length), 0)  # (1, S)
    return ops.greater_equal(rows, cols)  # (T, S)


def window_mask(query_length, key_length, width, causal=False):
    """``(T, S)`` mask of a local window of ``width`` keys around each query.

    Causal: query ``i`` sees keys ``i - width + 1 .. i``. Otherwise the window
    is centred: keys ``i - width // 2 .. i - width // 2 + width - 1``.
    """
    rows = ops.expand_dims(ops.arange(query_length), 1)  # (T, 1)
    cols = ops.expand_dims(ops.arange(key_length), 0)  # (1, S)
    lower = rows - (width - 1) if causal else rows - width // 2
    return ops.logical_and(ops.greater_equal(cols, lower), ops.less(cols, lower + width))  # (T, S)


def masked_softmax(scores, mask=None, axis=-1):
    """Softmax of ``scores`` over ``axis`` where ``mask`` allows, zero elsewhere.

    Half-precision scores are normalized in float32 and cast back. A slice
    with nothing allowed gives zeros.
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

    Args:
        query: ``(B, T, N, H)``.
        key: ``(B, S, N, H)``.
        value: ``(B, S, N, H)``.
        mask: boolean, broadcastable to ``(B, N, T, S)``, or None.
        scale: logit scale; ``1 / sqrt(H)`` when None.
        is_causal: let the kernel apply a causal mask itself.

    Returns:
        ``(B, T, N, H)``; rows of ``mask`` that allow nothing give zeros.
    """
    if mask is None:
        return ops.dot_product_attention(query, key, value, scale=scale, is_causal=is_causal)
    mask = ops.cast(mask, "bool")
    # Kernels differ on rows that allow no key (uniform weights, or NaN): let
    # such rows see every key, then zero their output.
    has_key = ops.any(mask, axis=-1, keepdims=True)  # (B, N, T, 1)
    mask = ops.logical_or(mask, ops.logical_not(has_key))
    outputs = ops.dot_product_attention(
        query, key, value, mask=mask, scale=scale, is_causal=is_causal
    )  # (B, T, N, H)
    has_key = ops.transpose(has_key, (0, 2, 1, 3))  # (B, T, N, 1)
    return ops.where(has_key, outputs, ops.zeros_like(outputs))


def check_rank(layer, argument, shape, ranks):
    """Raise ``ValueError`` unless ``shape`` has one of ``ranks``."""
    if shape is not None and len(shape) not in ranks:
        expected = " or ".join(str(rank) for rank in ranks)
        raise ValueError(
            f"{type(layer).__name__} expects `{argument}` of rank {expected}, "
            f"received shape {tuple(shape)} (rank {len(shape)})."
        )


def check_mask_shape(layer, argument, mask, expected_shape):
    """Raise ``ValueError`` if ``mask`` cannot belong to ``expected_shape``.

    Dimensions unknown on either side (None) are not compared.
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
    "expand_mask",
    "fused_attention",
    "masked_softmax",
    "merge_masks",
    "window_mask",
]
