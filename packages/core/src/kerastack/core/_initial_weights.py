"""Keras 2's ``weights=[...]`` constructor argument, on every Keras kerastack serves."""

import functools

import numpy as np

from kerastack.core import _seam


class InitialWeightsMixin:
    """Gives a layer Keras 2's ``weights=[...]`` constructor argument.

    Keras 2's base ``Layer`` took ``weights=``: arrays set with
    ``set_weights`` once the layer is built, before its first call computes
    anything. Code written for Keras 2 passes it (``Embedding(...,
    weights=[table])``); Keras 3's ``Layer`` rejects it. Put this mixin
    before the Keras base class (``class MyLayer(InitialWeightsMixin,
    keras.layers.Layer)``) and pass ``**kwargs`` on to ``super().__init__``:

    - On Keras 3 it takes ``weights`` out of the arguments and, when the
      layer is first called (right after Keras builds it, before the call
      computes), checks the arrays against the layer's weights (their count
      and shapes, as ``get_weights()`` gives them, so a layer that lists its
      weights in an older order or shape takes them in that form) and loads
      them with the layer's own ``set_weights``. A wrong count or shape is a
      ``ValueError`` naming the layer and the mismatch; then nothing is set
      and the call does not run.
    - On Keras 2 (tf-keras, Keras 2.3 on Theano) ``weights`` goes to Keras's
      own ``Layer``, which keeps it; it is set, with the same checks, right
      after the layer's ``build`` (Keras 2 itself sets it only when its own
      ``__call__`` builds the layer, and kerastack builds its layers on Keras
      2 before that), or by Keras 2 for a layer with no ``build``.

    ``weights`` is never part of ``get_config``: a saved model carries the
    values themselves.

    Example:

    >>> from kerastack.core import InitialWeightsMixin, keras, ops
    >>> class Scale(InitialWeightsMixin, keras.layers.Layer):
    ...     def build(self, input_shape):
    ...         self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones")
    ...     def call(self, x):
    ...         return x * self.scale
    >>> layer = Scale(weights=[np.array([2.0, 3.0], "float32")], name="scale")
    >>> ops.convert_to_numpy(layer(np.ones((1, 2), "float32")))
    array([[2., 3.]], dtype=float32)
    >>> "weights" in layer.get_config()
    False
    >>> Scale(weights=[np.ones(3, "float32")], name="scale")(np.ones((1, 2), "float32"))
    Traceback (most recent call last):
    ...
    ValueError: Layer 'scale' was given weights=[...] ... (weight 0: (3,) given, (2,) expected).
    """

    if not _seam.is_keras2():

        def __new__(cls, *args, **kwargs):
            # Keras 3 records the constructor's arguments for a layer without
            # its own `get_config`: not `weights`.
            kwargs.pop("weights", None)
            return super().__new__(cls, *args, **kwargs)

    def __init__(self, *args, **kwargs):
        keras2 = _seam.is_keras2()
        initial = None if keras2 else kwargs.pop("weights", None)
        super().__init__(*args, **kwargs)
        if initial is not None:
            initial = tuple(np.asarray(weight) for weight in initial)
        self._kerastack_initial_weights = initial
        if keras2 and getattr(self, "_initial_weights", None) is not None:
            # Keras 2 sets `weights` when its own `__call__` builds the layer,
            # but kerastack's Keras 2 layers are built before it
            # (`_legacy.Layer.__call__`): set them right after the build.
            build = self.build

            @functools.wraps(build)
            def build_then_set_weights(*args, **kwargs):
                result = build(*args, **kwargs)
                self._set_initial_weights()
                return result

            self.build = build_then_set_weights

    def _maybe_build(self, *args, **kwargs):
        # Keras 3 builds a layer in `_maybe_build`, right before `call`.
        super()._maybe_build(*args, **kwargs)
        self._set_initial_weights()

    def _set_initial_weights(self):
        keras2 = _seam.is_keras2()
        initial = getattr(
            self, "_initial_weights" if keras2 else "_kerastack_initial_weights", None
        )
        if initial is None:
            return
        initial = [np.asarray(weight) for weight in initial]
        expected = [tuple(np.shape(weight)) for weight in self.get_weights()]
        given = [tuple(weight.shape) for weight in initial]
        if len(given) != len(expected):
            raise ValueError(
                f"Layer {self.name!r} was given weights=[...] of {len(given)} arrays, "
                f"but it has {len(expected)} weights (shapes {expected})."
            )
        for index, (got, want) in enumerate(zip(given, expected, strict=True)):
            if got != want:
                raise ValueError(
                    f"Layer {self.name!r} was given weights=[...] of shapes {given}, but its "
                    f"weights have shapes {expected} (weight {index}: {got} given, {want} "
                    "expected)."
                )
        self.set_weights(initial)
        if keras2:
            self._initial_weights = None  # Keras 2's own `_maybe_build` would set them again
        else:
            self._kerastack_initial_weights = None
