"""Which Keras module kerastack runs on, chosen as ``tf.keras`` chooses it."""

import functools
import os

_TRUE = ("1", "true", "yes")


def wants_tf_keras():
    """True when the environment asks for Keras 2 inside TensorFlow, as tf.keras does."""
    return os.environ.get("TF_USE_LEGACY_KERAS", "").strip().lower() in _TRUE


@functools.cache
def keras_module():
    """``tf_keras`` when asked for (as ``tf.keras`` decides), else ``keras``."""
    if wants_tf_keras():
        try:
            import tf_keras
        except ImportError as error:
            raise ImportError(
                "TF_USE_LEGACY_KERAS=1 asks for Keras 2 on TensorFlow, but tf-keras is not "
                "installed. Install it with `pip install tf-keras`, or unset TF_USE_LEGACY_KERAS "
                "to use Keras 3."
            ) from error
        return tf_keras
    import keras

    return keras
