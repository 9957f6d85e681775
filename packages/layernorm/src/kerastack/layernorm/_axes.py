"""Argument and axis checks shared by the normalization layers."""

import numbers

from kerastack.core import check_float


def check_axis_argument(axis):
    """`axis` as the layer keeps it: an int, or a list of ints."""
    if isinstance(axis, (list, tuple)):
        items = list(axis)
    else:
        items = [axis]
    if not items or not all(
        isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in items
    ):
        raise ValueError(
            f"`axis` must be an int or a non-empty list of ints, received axis={axis!r}."
        )
    return [int(a) for a in items] if isinstance(axis, (list, tuple)) else int(axis)


def check_epsilon(epsilon):
    """`epsilon` must be a finite number > 0; returned as a float."""
    return check_float("epsilon", epsilon, minimum=0.0, exclusive_minimum=True)


def normalized_axes(layer, input_shape):
    """The layer's `axis` as sorted, non-negative, distinct axes of `input_shape`.

    Raises `ValueError` for an axis out of range or named twice.
    """
    rank = len(input_shape)
    axis = layer.axis if isinstance(layer.axis, list) else [layer.axis]
    for a in axis:
        if not -rank <= a < rank:
            raise ValueError(
                f"{type(layer).__name__} received axis={layer.axis!r}: axis {a} is out of "
                f"range for inputs of rank {rank} (shape {tuple(input_shape)})."
            )
    axes = sorted(a % rank for a in axis)
    if len(set(axes)) != len(axes):
        raise ValueError(
            f"{type(layer).__name__} received axis={layer.axis!r}, which names one axis "
            f"twice for inputs of rank {rank}."
        )
    return axes


def weight_shape(layer, input_shape):
    """Shape of the per-feature weights: the input's sizes on the normalized
    axes, in increasing axis order. Those sizes must be known."""
    axes = normalized_axes(layer, input_shape)
    shape = tuple(input_shape[a] for a in axes)
    if any(size is None for size in shape):
        raise ValueError(
            f"{type(layer).__name__} needs known sizes on the normalized axes "
            f"axis={layer.axis!r}, received input shape {tuple(input_shape)}."
        )
    return shape


def broadcast_shape(axes, rank, shape):
    """`shape` (the sizes on `axes`) placed in a rank-`rank` shape of ones."""
    out = [1] * rank
    for a, size in zip(axes, shape, strict=True):
        out[a] = size
    return out


def statistics_dtype(compute_dtype):
    """At least float32: half-precision inputs are normalized in float32."""
    return "float64" if compute_dtype == "float64" else "float32"
