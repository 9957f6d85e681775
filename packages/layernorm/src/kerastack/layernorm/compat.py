"""keras-layer-normalization's names and arguments, as thin wrappers.

For code moving from keras-layer-normalization (``LayerNormalization`` with
``center``, ``scale``, ``epsilon`` and the ``gamma_*`` / ``beta_*``
arguments; releases before ``epsilon`` was an argument used the same
``K.epsilon() ** 2``). The constructor arguments, their defaults, the
``get_config`` keys, the weights (``gamma`` then ``beta``, each of the last
axis's size) and the mask pass-through are the old ones; the computation is the modern
layer's, over the last axis:
``(x - mean) / sqrt(var + epsilon) * gamma + beta``, epsilon added to the
variance as before. ``epsilon=None`` still means ``K.epsilon() ** 2``
(``1e-14`` with Keras's default), read once at construction and saved as a
number. Weights saved by the old package with Keras 2 ``save_weights`` (HDF5)
load with ``model.load_weights``. Differences, kept on purpose:

- Statistics are computed in float32 under mixed precision and the result is
  cast back. The old layer computed in the input dtype, where in float16 the
  squares overflow for values above about 256 and the default epsilon
  underflows to zero (a constant row gave NaN).
- ``epsilon`` must be positive; the old layer accepted zero or less.
- Only the last axis's size must be known when building; the old layer
  pinned the whole build shape in its ``input_spec``.
- It is registered as ``kerastack>LegacyLayerNormalization``. A model saved
  by Keras 2 with the old layer (class name ``LayerNormalization``) loads with
  ``custom_objects=get_custom_objects()``.
"""

from kerastack.core import InitialWeightsMixin, keras, serializable
from kerastack.layernorm import layer_normalization as _modern

__all__ = ["LayerNormalization", "get_custom_objects"]


@serializable(name="LegacyLayerNormalization")
class LayerNormalization(InitialWeightsMixin, _modern.LayerNormalization):
    """keras-layer-normalization's `LayerNormalization` over the modern one.

    Normalizes over the last axis. `epsilon=None` is `K.epsilon() ** 2`. The
    `training` call argument is accepted and ignored, as before.

    Args:
        center: bool, whether to add the offset `beta`.
        scale: bool, whether to multiply by `gamma`.
        epsilon: positive float added to the variance, or None for
            `keras.config.epsilon() ** 2`.
        gamma_initializer, beta_initializer, gamma_regularizer,
        beta_regularizer, gamma_constraint, beta_constraint: for the weights.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Example:

    >>> inputs = keras.Input((None, 16))
    >>> outputs = LayerNormalization(name="Layer-Normalization")(inputs)
    >>> outputs.shape
    (None, None, 16)
    >>> x = np.array([[1.0, 2.0, 3.0]], "float32")
    >>> np.round(keras.ops.convert_to_numpy(LayerNormalization()(x)), 3)
    array([[-1.225,  0.   ,  1.225]], dtype=float32)

    References:
        - [keras-layer-normalization](
          https://github.com/CyberZHG/keras-layer-normalization)
        - [Ba et al., 2016, Layer Normalization](https://arxiv.org/abs/1607.06450)
    """

    def __init__(
        self,
        center=True,
        scale=True,
        epsilon=None,
        gamma_initializer="ones",
        beta_initializer="zeros",
        gamma_regularizer=None,
        beta_regularizer=None,
        gamma_constraint=None,
        beta_constraint=None,
        **kwargs,
    ):
        if epsilon is None:
            epsilon = keras.backend.epsilon() ** 2
        super().__init__(
            axis=-1,
            epsilon=epsilon,
            center=center,
            scale=scale,
            beta_initializer=beta_initializer,
            gamma_initializer=gamma_initializer,
            beta_regularizer=beta_regularizer,
            gamma_regularizer=gamma_regularizer,
            beta_constraint=beta_constraint,
            gamma_constraint=gamma_constraint,
            **kwargs,
        )

    def call(self, inputs, training=None):
        return super().call(inputs)

    def compute_mask(self, inputs, previous_mask=None):
        return previous_mask

    def get_config(self):
        config = super().get_config()
        config.pop("axis")  # always the last axis; not an old argument
        return config


def get_custom_objects():
    """The old name, for `load_model(..., custom_objects=get_custom_objects())`.

    Example:

    >>> get_custom_objects()["LayerNormalization"] is LayerNormalization
    True
    """
    return {"LayerNormalization": LayerNormalization}
