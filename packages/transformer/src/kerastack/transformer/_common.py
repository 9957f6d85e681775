"""Pieces shared by the encoder and decoder blocks."""

from kerastack.core import check_float, check_int, keras, ops


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


def check_dropout(dropout):
    """`dropout` as a float in [0, 1)."""
    return check_float("dropout", dropout, minimum=0.0, maximum=1.0, exclusive_maximum=True)


def validate_block_arguments(intermediate_dim, num_heads, dropout, layer_norm_epsilon):
    """The blocks' shared arguments as plain Python numbers (NumPy scalars
    become ints and floats), or a `ValueError` naming the first bad one."""
    return (
        check_int("intermediate_dim", intermediate_dim),
        check_int("num_heads", num_heads),
        check_dropout(dropout),
        check_float("layer_norm_epsilon", layer_norm_epsilon, minimum=0.0, exclusive_minimum=True),
    )


def clone_initializer(initializer):
    """A fresh initializer with the same config, so sublayers do not share seeds."""
    initializer = keras.initializers.get(initializer)
    return initializer.__class__.from_config(initializer.get_config())
