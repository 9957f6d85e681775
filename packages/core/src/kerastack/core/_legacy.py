"""Keras 2 behind the Keras 3 names kerastack layers use.

Two Keras 2 stacks are served:

- tf-keras (``TF_USE_LEGACY_KERAS=1``, as for ``tf.keras``): Keras 2 on
  TensorFlow 2;
- standalone Keras 2.3 with ``KERAS_BACKEND=theano``.

``keras`` becomes a namespace over the Keras 2 module with a few Keras 3
names added (``keras.ops``, ``keras.config.epsilon``, ...), and
``keras.layers.Layer`` a subclass of Keras 2's ``Layer`` that accepts what a
Keras 3 layer does: ``build`` taking one shape per call argument
(``build(self, query_shape, value_shape)``), ``add_weight(autocast=...)``,
``dtype_policy`` / ``compute_dtype``, and (on Keras 2.3) several tensors per
call. Layer files stay as they are.
"""

import functools
import inspect
import types

import numpy as np

from kerastack.core._select import keras_module, wants_tf_keras


def backend_module():
    return keras_module().backend


@functools.cache
def engine():
    """``"tensorflow"`` or ``"theano"``: what computes under Keras 2."""
    if wants_tf_keras():
        return "tensorflow"
    name = keras_module().backend.backend()
    if name != "theano":
        raise ImportError(
            f"kerastack serves standalone Keras {keras_module().__version__} on Theano only, "
            f"but its backend is {name!r}. On TensorFlow use tf-keras (TF_USE_LEGACY_KERAS=1) "
            "or Keras 3."
        )
    return name


def standardize_dtype(dtype):
    """The plain name of a dtype (``"float16"``), whatever object names it."""
    if dtype is None:
        return backend_module().floatx()
    if hasattr(dtype, "compute_dtype"):  # a mixed-precision policy
        dtype = dtype.compute_dtype
    name = getattr(dtype, "name", dtype)
    if not isinstance(name, str):
        name = np.dtype(name).name
    return {"float": "float32", "int": "int64", "double": "float64"}.get(name, name)


def static_shape(x):
    """Sizes known when the graph is built: a tuple of ints and None, or None."""
    if engine() == "theano":
        import theano

        if isinstance(x, theano.compile.SharedVariable):
            return tuple(x.get_value(borrow=True).shape)
        shape = getattr(x, "_keras_shape", None)
        if shape is None and isinstance(x, theano.tensor.TensorConstant):
            return tuple(x.data.shape)
        if shape is None:
            return (None,) * x.ndim
        return tuple(shape)
    shape = x.shape
    if getattr(shape, "rank", 0) is None:
        return None
    return tuple(shape.as_list()) if hasattr(shape, "as_list") else tuple(shape)


def _as_tuple(shape):
    if shape is None:
        return None
    if hasattr(shape, "as_list"):
        return tuple(shape.as_list()) if shape.rank is not None else None
    if isinstance(shape, list) and shape and isinstance(shape[0], (list, tuple)):
        return [_as_tuple(item) for item in shape]
    if isinstance(shape, (list, tuple)):
        return tuple(shape)
    return shape


def _is_tensor(value):
    if engine() == "theano":
        import theano

        return isinstance(value, theano.Variable)
    import tensorflow as tf

    return (
        tf.is_tensor(value)
        or hasattr(value, "_keras_history")
        or type(value).__name__ == "KerasTensor"
    )


def _shape_of(value):
    if isinstance(value, (list, tuple)):
        shapes = [_shape_of(item) for item in value]
        return None if any(shape is _NOT_TENSOR for shape in shapes) else type(value)(shapes)
    if not _is_tensor(value):
        return _NOT_TENSOR
    return static_shape(value)


_NOT_TENSOR = object()


def _shapes_for_build(layer, args, kwargs):
    """Keras 3's rule: one ``<argument>_shape`` per tensor argument of ``call``."""
    bound = inspect.signature(layer.call).bind(*args, **kwargs)
    shapes = {}
    for name, value in bound.arguments.items():
        if name in ("mask", "args", "kwargs") or name.startswith("mask_"):
            continue
        shape = _shape_of(value)
        if shape is not _NOT_TENSOR and shape is not None:
            shapes[f"{name}_shape"] = shape
    return shapes


def _build_like_keras3(layer, args, kwargs):
    parameters = [
        p
        for p in inspect.signature(layer.build).parameters.values()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    shapes = _shapes_for_build(layer, args, kwargs)
    if len(parameters) == 1:
        first = next(iter(shapes.values()), None)
        layer.build(first)
    else:
        layer.build(
            **{
                name: shape
                for name, shape in shapes.items()
                if name in {p.name for p in parameters}
            }
        )
    layer.built = True


_base_layer = keras_module().layers.Layer


class _LayerType(type(_base_layer)):
    def __instancecheck__(cls, instance):
        # `isinstance(x, keras.layers.Layer)` holds for every Keras 2 layer
        # (Dense, a user's own), as it does on Keras 3.
        if cls is Layer:
            return isinstance(instance, _base_layer)
        return super().__instancecheck__(instance)


class Layer(_base_layer, metaclass=_LayerType):
    """Keras 2's ``Layer`` that also accepts a Keras 3 layer's code."""

    def _autographed_call(self):
        # tf-keras: as on Keras 3, a layer's call is traced as written, without
        # AutoGraph rewriting its Python control flow.
        return self.call

    def __init__(self, **kwargs):
        kwargs.pop("autocast", None)
        activity_regularizer = (
            kwargs.pop("activity_regularizer", None) if engine() == "theano" else None
        )
        if engine() == "theano" and kwargs.get("dtype") is not None:
            kwargs["dtype"] = standardize_dtype(kwargs["dtype"])
        super().__init__(**kwargs)
        if engine() == "theano":
            self.activity_regularizer = keras_module().regularizers.get(activity_regularizer)

    if engine() == "theano":

        @property
        def dtype_policy(self):
            return self.dtype

        @property
        def compute_dtype(self):
            return self.dtype

        @property
        def variable_dtype(self):
            return self.dtype

    def __setattr__(self, name, value):
        if engine() == "tensorflow" and not name.startswith("_"):
            for layer in value if isinstance(value, (list, tuple)) else (value,):
                if isinstance(layer, _base_layer):
                    _scope_build(layer)
        super().__setattr__(name, value)

    def add_weight(
        self,
        name=None,
        shape=None,
        dtype=None,
        initializer=None,
        regularizer=None,
        trainable=True,
        constraint=None,
        autocast=True,
        **kwargs,
    ):
        del autocast  # Keras 2 casts inputs, not variables
        dtype = standardize_dtype(dtype or self.variable_dtype)
        if initializer is None:
            initializer = "glorot_uniform" if "float" in dtype else "zeros"
        return super().add_weight(
            name=name,
            shape=tuple(shape),
            dtype=dtype,
            initializer=initializer,
            regularizer=regularizer,
            trainable=trainable,
            constraint=constraint,
            **kwargs,
        )

    def __call__(self, *args, **kwargs):
        if not self.built and type(self).build is not _base_layer.build:
            if engine() == "tensorflow":
                import tensorflow as tf

                with tf.name_scope(self._name_scope()), tf.init_scope():
                    _build_like_keras3(self, args, kwargs)
            else:
                _build_like_keras3(self, args, kwargs)
        return super().__call__(*args, **kwargs)


def _scope_build(layer):
    """Give weights a sublayer creates in ``build`` the sublayer's name scope.

    tf-keras names weights after the TensorFlow name scopes open when they
    are made, and opens a layer's scope only when it builds itself in
    ``__call__``. A Keras 3 layer builds its sublayers directly in its own
    ``build``; without this, two sublayers' kernels would share one name
    (which HDF5 files cannot hold).
    """
    build = layer.build
    if getattr(build, "_kerastack_scoped", False):
        return
    import tensorflow as tf

    @functools.wraps(build)
    def scoped_build(*args, **kwargs):
        with tf.name_scope(layer._name_scope()):
            return build(*args, **kwargs)

    scoped_build._kerastack_scoped = True
    object.__setattr__(layer, "build", scoped_build)


def _namespace(name, base, **overrides):
    module = types.ModuleType(name)
    module.__dict__.update(overrides)

    def __getattr__(attribute):
        return getattr(base, attribute)

    module.__getattr__ = __getattr__
    return module


def register(cls, package, name):
    """Register ``cls`` for deserialization under Keras 2."""
    keras = keras_module()
    if hasattr(keras, "saving") and hasattr(keras.saving, "register_keras_serializable"):
        return keras.saving.register_keras_serializable(package=package, name=name)(cls)
    keras.utils.get_custom_objects()[name or cls.__name__] = cls
    return cls


def _deserialize_layer(config, custom_objects=None, **kwargs):
    """``keras.layers.deserialize`` that also finds layers registered under a package.

    tf-keras writes a nested layer's config with its plain ``class_name`` and
    its ``registered_name`` ("kerastack>RotaryEmbedding"), but reading a legacy
    HDF5 model looks only at ``class_name``.
    """
    keras = keras_module()
    registered = config.get("registered_name") if isinstance(config, dict) else None
    if registered and hasattr(keras, "saving"):
        cls = keras.saving.get_registered_object(registered)
        if cls is not None:
            custom_objects = {**(custom_objects or {}), config["class_name"]: cls}
    return keras.layers.deserialize(config, custom_objects=custom_objects, **kwargs)


def build_namespace(ops):
    """The ``keras`` kerastack layers see under Keras 2."""
    keras = keras_module()
    backend = keras.backend
    config = types.SimpleNamespace(
        epsilon=backend.epsilon,
        floatx=backend.floatx,
        backend=engine,
    )
    return _namespace(
        "kerastack.core.keras",
        keras,
        layers=_namespace(
            "kerastack.core.keras.layers", keras.layers, Layer=Layer, deserialize=_deserialize_layer
        ),
        backend=_namespace(
            "kerastack.core.keras.backend", backend, standardize_dtype=standardize_dtype
        ),
        config=config,
        ops=ops,
    )
