"""Pieces shared by the encoder and decoder blocks."""

from kerastack.core import keras, ops


def first_mask(*masks):
    """The first mask that is not None, as booleans, or None."""
    for mask in masks:
        if mask is not None:
            return ops.cast(mask, "bool")
    return None


def check_width(block, shape, num_heads, key_dim):
    """The model width D of `(B, T, D)` inputs and the head size it implies."""
    if len(shape) != 3 or shape[-1] is None:
        raise ValueError(
            f"{type(block).__name__} expects inputs of shape (batch, length, width) with a known "
            f"width, received shape {tuple(shape)}."
        )
    width = shape[-1]
    if key_dim is None:
        if width % num_heads:
            raise ValueError(
                f"{type(block).__name__}: the input width {width} is not divisible by "
                f"num_heads={num_heads}; pass `key_dim` explicitly."
            )
        key_dim = width // num_heads
    return width, key_dim


def is_positive_int(value):
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def validate_block_arguments(intermediate_dim, num_heads, dropout, layer_norm_epsilon):
    for argument, value in (("intermediate_dim", intermediate_dim), ("num_heads", num_heads)):
        if not is_positive_int(value):
            raise ValueError(f"`{argument}` must be a positive int, received {argument}={value!r}.")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"`dropout` must be in [0, 1), received dropout={dropout!r}.")
    if not layer_norm_epsilon > 0:
        raise ValueError(
            "`layer_norm_epsilon` must be positive, "
            f"received layer_norm_epsilon={layer_norm_epsilon!r}."
        )


def clone_initializer(initializer):
    """A fresh initializer with the same config, so sublayers do not share seeds."""
    initializer = keras.initializers.get(initializer)
    return initializer.__class__.from_config(initializer.get_config())
