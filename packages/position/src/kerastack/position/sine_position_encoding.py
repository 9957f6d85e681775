import numbers

from kerastack.core import check_float, keras, ops, serializable
from kerastack.position._common import sinusoids, working_dtype


@serializable
class SinePositionEncoding(keras.layers.Layer):
    """The fixed sinusoidal position encoding of "Attention Is All You Need".

    Feature `i` of position `p` is `sin(p * w_i)` for even `i` and
    `cos(p * w_i)` for odd `i` (interleaved), with
    `w_i = max_wavelength ** (-2 * (i // 2) / D)`: the paper's
    `PE(p, 2k) = sin(p / 10000^(2k/D))`, `PE(p, 2k+1) = cos(p / 10000^(2k/D))`.
    This is the layout of keras-hub's `SinePositionEncoding` and of
    keras-pos-embd's `TrigPosEmbedding`. The layer returns the encoding
    broadcast to the input's shape, for the caller to add; only the input's
    shape is read. No weights.

    An odd D is allowed and follows the same formula: the last feature
    (index D - 1, even) is a sine with exponent `(D - 1) / D`, as in
    keras-hub.

    The angles and their sines are computed in float32 (float64 for a
    float64 layer) and cast to the compute dtype at the end, so positions in
    the thousands stay exact under mixed precision.

    Letters: B batch, T sequence length, D feature size.

    Args:
        max_wavelength: number > 0, the longest wavelength (reached by the
            last features), `10000` in the paper.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `(B, T, D)` (more generally `(..., T, D)`).
        start_index: int or scalar integer tensor, the position of the first
            step: the cache position during incremental decoding.

    Returns `(B, T, D)` in the layer's compute dtype. A Keras mask on the
    input passes through unchanged.

    Example:

    >>> inputs = keras.Input((None,), dtype="int32")
    >>> tokens = keras.layers.Embedding(1000, 32, mask_zero=True)(inputs)
    >>> positions = SinePositionEncoding()(tokens)
    >>> x = keras.layers.Add()([tokens, positions])

    References:
        - [Vaswani et al., 2017](https://arxiv.org/abs/1706.03762), section 3.5
    """

    def __init__(self, max_wavelength=10000, **kwargs):
        super().__init__(**kwargs)
        check_float("max_wavelength", max_wavelength, minimum=0.0, exclusive_minimum=True)
        # Kept an int when given as one (so configs keep 10000).
        self.max_wavelength = (
            int(max_wavelength)
            if isinstance(max_wavelength, numbers.Integral)
            else float(max_wavelength)
        )
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(
                "`inputs` must have rank >= 2, shaped (B, T, D), with D known; "
                f"received shape {tuple(input_shape)}."
            )

    def call(self, inputs, start_index=0):
        shape = ops.shape(inputs)
        dtype = working_dtype(self.compute_dtype)
        positions = ops.arange(shape[-2], dtype=dtype) + ops.cast(start_index, dtype)  # (T,)
        encoding = sinusoids(positions, shape[-1], self.max_wavelength, dtype)  # (T, D)
        return ops.broadcast_to(ops.cast(encoding, self.compute_dtype), shape)  # (B, T, D)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_mask(self, inputs, previous_mask=None):
        return previous_mask

    def get_config(self):
        config = super().get_config()
        config["max_wavelength"] = self.max_wavelength
        return config
