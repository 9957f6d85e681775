from kerastack.core import fused_layer_norm, keras, ops, serializable, static_shape
from kerastack.layernorm import _axes


@serializable
class LayerNormalization(keras.layers.Layer):
    """Layer normalization, with float32 statistics under mixed precision.

    Each example is normalized over `axis`:
    `y = (x - mean) / sqrt(var + epsilon) * gamma + beta`, with the mean and
    (biased) variance taken over the axes in `axis`. `gamma` and `beta` span
    those axes.

    The arguments, defaults, weight names (`gamma`, then `beta`) and weight
    shapes are those of `keras.layers.LayerNormalization`, so weights copy
    across with `set_weights`. The computation is written with plain
    `keras.ops` (mean, then the variance of the centred values: two passes,
    exact for inputs far from zero). The centred values carry an added
    `0 * inputs` (zero, and cut from the gradient) so that XLA computes them
    once per layer; see `call`. On PyTorch, normalization over the trailing
    axes runs torch's `layer_norm` kernel instead (the same statistics, one
    kernel instead of nine; `kerastack.core.fused_layer_norm`).
    Inputs in float16 or bfloat16 are normalized in float32 and the result
    is cast back to the compute dtype; the weights stay float32.

    Args:
        axis: int or list of ints, the axis or axes to normalize over.
            Defaults to `-1`.
        epsilon: positive float added to the variance. Defaults to `1e-3`.
        center: bool, whether to add the offset `beta`.
        scale: bool, whether to multiply by `gamma`.
        beta_initializer, gamma_initializer, beta_regularizer,
        gamma_regularizer, beta_constraint, gamma_constraint: for the
            weights, as in `keras.layers.LayerNormalization`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a tensor of any rank that has every axis in `axis`.

    A Keras mask passes through unchanged.

    Note: axes are put in increasing order after negative ones are resolved,
    so `axis=[-1, 1]` gives weights of shape `(d1, d_last)`. Keras sorts the
    raw values and gives `(d_last, d1)` there; for axes of one sign the
    shapes agree.

    Example:

    >>> layer = LayerNormalization(axis=[1, 2])
    >>> layer.build((None, 4, 8))
    >>> [tuple(w.shape) for w in layer.weights]
    [(4, 8), (4, 8)]
    >>> y = LayerNormalization()(keras.random.normal((2, 5, 8)))  # (2, 5, 8)

    References:
        - [Ba et al., 2016, Layer Normalization](https://arxiv.org/abs/1607.06450)
    """

    def __init__(
        self,
        axis=-1,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.axis = _axes.check_axis_argument(axis)
        self.epsilon = _axes.check_epsilon(epsilon)
        self.center = center
        self.scale = scale
        self.beta_initializer = keras.initializers.get(beta_initializer)
        self.gamma_initializer = keras.initializers.get(gamma_initializer)
        self.beta_regularizer = keras.regularizers.get(beta_regularizer)
        self.gamma_regularizer = keras.regularizers.get(gamma_regularizer)
        self.beta_constraint = keras.constraints.get(beta_constraint)
        self.gamma_constraint = keras.constraints.get(gamma_constraint)
        self.supports_masking = True
        # Weights are read in float32 and inputs are not cast down first:
        # the statistics are computed in at least float32 (see `call`).
        self.autocast = False

    def build(self, input_shape):
        shape = _axes.weight_shape(self, input_shape)
        self.gamma = None
        self.beta = None
        if self.scale:
            self.gamma = self.add_weight(
                name="gamma",
                shape=shape,
                initializer=self.gamma_initializer,
                regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint,
                trainable=True,
                autocast=False,
            )
        if self.center:
            self.beta = self.add_weight(
                name="beta",
                shape=shape,
                initializer=self.beta_initializer,
                regularizer=self.beta_regularizer,
                constraint=self.beta_constraint,
                trainable=True,
                autocast=False,
            )

    def call(self, inputs):
        dtype = _axes.statistics_dtype(self.compute_dtype)
        shape = static_shape(inputs)
        rank = len(shape)
        axes = _axes.normalized_axes(self, shape)
        x = ops.cast(inputs, dtype)
        sizes = [shape[axis] for axis in sorted(axes)]
        if sorted(axes) == list(range(rank - len(axes), rank)) and all(
            isinstance(size, int) for size in sizes
        ):  # trailing axes: the backend's kernel, where kerastack takes it
            outputs = fused_layer_norm(x, sizes, self.gamma, self.beta, self.epsilon)
            if outputs is not None:
                return ops.cast(outputs, self.compute_dtype)
        mean = ops.mean(x, axis=axes, keepdims=True)  # size 1 on `axes`
        # `centered` is `x - mean` exactly: `0 * x` is zero wherever `x` is
        # finite, a row holding an inf or a NaN comes out all NaN either way,
        # and stop_gradient leaves the gradient as it was. The term is for
        # XLA, which copies an op into every fusion that reads it when the op
        # has one large operand (`x - mean`, `* rsqrt`, `* gamma`, `+ beta`
        # each have). With small layers (widths up to 32 with jax 0.10's
        # XLA:CPU) the residual stream of a deep model was then never stored:
        # every reduction recomputed it from the first block, and a training
        # step's compile time grew with the square of the depth. With two
        # large operands, and consumers reached through the rsqrt, which XLA
        # does not copy, `centered` is computed once per layer.
        centered = (x - mean) + ops.stop_gradient(0.0 * x)
        variance = ops.mean(ops.square(centered), axis=axes, keepdims=True)
        outputs = centered * ops.rsqrt(variance + self.epsilon)
        if self.gamma is not None:
            shape = _axes.broadcast_shape(axes, rank, static_shape(self.gamma))
            outputs = outputs * ops.reshape(ops.cast(self.gamma, dtype), shape)
        if self.beta is not None:
            shape = _axes.broadcast_shape(axes, rank, static_shape(self.beta))
            outputs = outputs + ops.reshape(ops.cast(self.beta, dtype), shape)
        return ops.cast(outputs, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        _axes.normalized_axes(self, input_shape)
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "axis": self.axis,
                "epsilon": self.epsilon,
                "center": self.center,
                "scale": self.scale,
                "beta_initializer": keras.initializers.serialize(self.beta_initializer),
                "gamma_initializer": keras.initializers.serialize(self.gamma_initializer),
                "beta_regularizer": keras.regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": keras.regularizers.serialize(self.gamma_regularizer),
                "beta_constraint": keras.constraints.serialize(self.beta_constraint),
                "gamma_constraint": keras.constraints.serialize(self.gamma_constraint),
            }
        )
        return config
