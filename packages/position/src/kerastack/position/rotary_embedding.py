import numbers

from kerastack.core import check_float, keras, ops, serializable, static_shape
from kerastack.position._common import sin_cos, working_dtype


@serializable
class RotaryEmbedding(keras.layers.Layer):
    """Rotary position embedding (RoPE), "rotate half" convention.

    Rotates pairs of features by an angle proportional to the position, so
    that the dot product of a rotated query at position `i` and a rotated key
    at position `j` depends only on `i - j`. Features are paired as the two
    halves of the feature axis (feature `k` with feature `k + H/2`), as in
    Hugging Face LLaMA and keras-hub's `RotaryEmbedding`:

        inv_freq = 1 / max_wavelength ** (arange(0, H, 2) / H)      # (H/2,)
        angles = outer((arange(T) + start_index) / scaling_factor, inv_freq)
        cos, sin = cos([angles, angles]), sin([angles, angles])      # (T, H)
        out = x * cos + concat([-x2, x1]) * sin                      # x = [x1, x2]

    The angles and the rotation are computed in float32 (float64 for a
    float64 layer) and cast to the compute dtype at the end. Each position's
    result depends on its own position only, so rotating a whole sequence
    and taking step `t` gives bit for bit what rotating step `t` alone with
    `start_index=t` gives, op by op on every backend: incremental decoding
    matches the full pass. (A step traced inside a compiled loop is one
    fused XLA program and may round differently, by an ulp.)

    Letters: B batch, T sequence length, N heads, H feature (head) size.

    Args:
        max_wavelength: number > 0, the base of the frequencies; `10000` in
            RoFormer and LLaMA.
        scaling_factor: number > 0; positions are divided by it (linear
            position interpolation, to stretch a trained context).
        sequence_axis: int, the axis of positions in the input.
        feature_axis: int, the axis of the features (even size) to rotate.
            Every other axis is broadcast over.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `(B, T, H)` or `(B, T, N, H)` with the default axes; any rank
            with `sequence_axis` and `feature_axis` naming two different
            axes.
        start_index: int or scalar integer tensor, the position of the first
            step: the cache position during incremental decoding.

    Returns a tensor of the input's shape, in the layer's compute dtype. A
    Keras mask on the input passes through unchanged.

    Example:

    >>> rotary = RotaryEmbedding()
    >>> query = np.random.normal(size=(2, 16, 4, 8))  # (B, T, N, H)
    >>> rotated = rotary(query)  # (B, T, N, H)
    >>> step = rotary(query[:, 5:6], start_index=5)  # equals rotated[:, 5:6]

    References:
        - [Su et al., 2021, RoFormer](https://arxiv.org/abs/2104.09864)
        - `keras_hub.layers.RotaryEmbedding`; `rotate_half` in Hugging Face
          `transformers.models.llama.modeling_llama`
    """

    def __init__(
        self,
        max_wavelength=10000,
        scaling_factor=1.0,
        sequence_axis=1,
        feature_axis=-1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.max_wavelength = _positive("max_wavelength", max_wavelength)
        self.scaling_factor = _positive("scaling_factor", scaling_factor)
        for name, value in (("sequence_axis", sequence_axis), ("feature_axis", feature_axis)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise ValueError(f"`{name}` must be an int, received {name}={value!r}.")
        self.sequence_axis = int(sequence_axis)
        self.feature_axis = int(feature_axis)
        self.supports_masking = True

    def build(self, input_shape):
        self._axes(input_shape)

    def call(self, inputs, start_index=0):
        sequence_axis, feature_axis = self._axes(static_shape(inputs))
        rank, size = len(static_shape(inputs)), ops.shape(inputs)[feature_axis]
        dtype = working_dtype(self.compute_dtype)

        length = ops.shape(inputs)[sequence_axis]
        positions = ops.arange(length, dtype=dtype) + ops.cast(start_index, dtype)  # (T,)
        positions = positions / ops.cast(self.scaling_factor, dtype)  # (T,)
        exponent = ops.arange(0, size, 2, dtype=dtype) / ops.cast(size, dtype)  # (H/2,)
        inverse_frequencies = 1.0 / ops.power(ops.cast(self.max_wavelength, dtype), exponent)
        angles = ops.expand_dims(positions, 1) * inverse_frequencies  # (T, H/2)
        sin, cos = sin_cos(angles)  # (T, H/2) each
        sin = ops.concatenate([sin, sin], axis=-1)  # (T, H)
        cos = ops.concatenate([cos, cos], axis=-1)  # (T, H)
        if feature_axis < sequence_axis:
            sin, cos = ops.transpose(sin), ops.transpose(cos)  # (H, T)
        # Ones on every other axis, e.g. (1, T, 1, H) for (B, T, N, H).
        for axis in range(rank):
            if axis not in (sequence_axis, feature_axis):
                sin, cos = ops.expand_dims(sin, axis), ops.expand_dims(cos, axis)

        x = ops.cast(inputs, dtype)
        x1, x2 = ops.split(x, 2, axis=feature_axis)  # two halves, each (..., H/2)
        rotated = ops.concatenate([-x2, x1], axis=feature_axis)  # like x
        outputs = x * cos + rotated * sin  # like x
        return ops.cast(outputs, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_mask(self, inputs, previous_mask=None):
        return previous_mask

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "max_wavelength": self.max_wavelength,
                "scaling_factor": self.scaling_factor,
                "sequence_axis": self.sequence_axis,
                "feature_axis": self.feature_axis,
            }
        )
        return config

    def _axes(self, shape):
        """`(sequence_axis, feature_axis)` as non-negative axes of `shape`,
        after checking them and the feature size."""
        shape = tuple(shape)
        rank = len(shape)
        axes = []
        for name, axis in (
            ("sequence_axis", self.sequence_axis),
            ("feature_axis", self.feature_axis),
        ):
            if not -rank <= axis < rank:
                raise ValueError(
                    f"{name}={axis} is out of range for inputs of rank {rank} (shape {shape})."
                )
            axes.append(axis % rank)
        sequence_axis, feature_axis = axes
        if sequence_axis == feature_axis:
            raise ValueError(
                f"sequence_axis={self.sequence_axis} and feature_axis={self.feature_axis} "
                f"name the same axis of inputs of shape {shape}."
            )
        size = shape[feature_axis]
        if size is None or size % 2:
            raise ValueError(
                "The rotated feature axis must have a known, even size; received "
                f"size {size} (axis {self.feature_axis} of shape {shape})."
            )
        return sequence_axis, feature_axis


def _positive(name, value):
    """A finite number > 0, kept an int when given as one (so configs keep 10000)."""
    check_float(name, value, minimum=0.0, exclusive_minimum=True)
    return int(value) if isinstance(value, numbers.Integral) else float(value)
