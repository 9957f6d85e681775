from kerastack.core import keras, ops, serializable, static_shape
from kerastack.layernorm import _axes


@serializable
class RMSNormalization(keras.layers.Layer):
    """Root-mean-square normalization, with float32 statistics under mixed
    precision.

    Each example is divided by its root mean square over `axis`:
    `y = x / sqrt(mean(x**2) + epsilon) * gamma`. There is no centring and
    no offset. `gamma` spans the axes in `axis`.

    Matches `keras.layers.RMSNormalization` (same `axis` and `epsilon`
    defaults, one weight named `"scale"` of the same shape, so weights copy
    across with `set_weights`). The weight is held on the attribute `gamma`
    because `scale` is the boolean argument here. Any axes work: Keras 3.15's
    layer multiplies by its weight without reshaping it, so it serves only
    the trailing axes (`-1`, `[-2, -1]`, ...). Inputs in float16 or
    bfloat16 are normalized in float32 and the result is cast back to the
    compute dtype; the weight stays float32.

    Args:
        axis: int or list of ints, the axis or axes to normalize over.
            Defaults to `-1`.
        epsilon: positive float added to the mean square. Defaults to `1e-6`.
        scale: bool, whether to multiply by the learned `gamma` (the weight
            named `"scale"`).
        gamma_initializer, gamma_regularizer, gamma_constraint: for that
            weight.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a tensor of any rank that has every axis in `axis`.

    A Keras mask passes through unchanged.

    Example:

    >>> layer = RMSNormalization()
    >>> y = layer(keras.random.normal((2, 5, 8)))  # (2, 5, 8)
    >>> layer.weights[0].name, tuple(layer.weights[0].shape)
    ('scale', (8,))

    References:
        - [Zhang and Sennrich, 2019, Root Mean Square Layer Normalization](
          https://arxiv.org/abs/1910.07467)
    """

    def __init__(
        self,
        axis=-1,
        epsilon=1e-6,
        scale=True,
        gamma_initializer="ones",
        gamma_regularizer=None,
        gamma_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.axis = _axes.check_axis_argument(axis)
        self.epsilon = _axes.check_epsilon(epsilon)
        self.scale = scale
        self.gamma_initializer = keras.initializers.get(gamma_initializer)
        self.gamma_regularizer = keras.regularizers.get(gamma_regularizer)
        self.gamma_constraint = keras.constraints.get(gamma_constraint)
        self.supports_masking = True
        # Weights are read in float32 and inputs are not cast down first:
        # the statistics are computed in at least float32 (see `call`).
        self.autocast = False

    def build(self, input_shape):
        shape = _axes.weight_shape(self, input_shape)
        self.gamma = None
        if self.scale:
            self.gamma = self.add_weight(
                name="scale",  # as in keras.layers.RMSNormalization
                shape=shape,
                initializer=self.gamma_initializer,
                regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint,
                trainable=True,
                autocast=False,
            )

    def call(self, inputs):
        dtype = _axes.statistics_dtype(self.compute_dtype)
        axes = _axes.normalized_axes(self, static_shape(inputs))
        x = ops.cast(inputs, dtype)
        mean_square = ops.mean(ops.square(x), axis=axes, keepdims=True)  # size 1 on `axes`
        outputs = x * ops.rsqrt(mean_square + self.epsilon)
        if self.gamma is not None:
            shape = _axes.broadcast_shape(axes, len(static_shape(inputs)), static_shape(self.gamma))
            outputs = outputs * ops.reshape(ops.cast(self.gamma, dtype), shape)
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
                "scale": self.scale,
                "gamma_initializer": keras.initializers.serialize(self.gamma_initializer),
                "gamma_regularizer": keras.regularizers.serialize(self.gamma_regularizer),
                "gamma_constraint": keras.constraints.serialize(self.gamma_constraint),
            }
        )
        return config
