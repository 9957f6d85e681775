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

from kerastack.core._legacy_backend import backend_module, engine, standardize_dtype, static_shape
from kerastack.core._select import keras_module


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


def _keras_mask(tensor):
    """The Keras mask a tensor carries, or None."""
    if not _is_tensor(tensor):
        return None
    if engine() == "tensorflow":
        return getattr(tensor, "_keras_mask", None)
    history = getattr(tensor, "_keras_history", None)  # Keras 2.3 keeps masks in nodes
    if history is None:
        return None
    layer, node_index, tensor_index = history
    if layer is None or node_index >= len(layer._inbound_nodes):
        return None
    masks = layer._inbound_nodes[node_index].output_masks
    return masks[tensor_index] if isinstance(masks, list) else masks


def _with_argument_masks(call, arguments):
    """Keras 3's rule for a call with several tensors: argument ``x``'s Keras
    mask goes to the call's ``x_mask`` argument, unless one is given.

    Keras 2 hands over only ``mask``, and only the first input's; the masks
    are read from the tensors when the call runs.
    """
    parameters = inspect.signature(call).parameters
    tensors = {name: value for name, value in arguments.items() if _is_tensor(value)}
    if len(tensors) < 2:
        return arguments
    arguments = dict(arguments)
    for name, value in tensors.items():
        if f"{name}_mask" in parameters and arguments.get(f"{name}_mask") is None:
            mask = _keras_mask(value)
            if mask is not None:
                arguments[f"{name}_mask"] = mask
    return arguments


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
        if not name.startswith("_"):
            is_list = isinstance(value, (list, tuple))
            for layer in value if is_list else (value,):
                if isinstance(layer, _base_layer):
                    _scope_build(layer)
                    if engine() == "theano":
                        _give_input_shapes(layer)
                        if is_list and layer not in self.__dict__.setdefault("_layers", []):
                            self._layers.append(layer)  # Keras 2.3 tracks no lists
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
        if _PACKED in kwargs:  # Keras 2.3 re-applying a saved node: unpack it
            names = kwargs.pop(_PACKED)
            return self.__call__(*args[1:], **dict(zip(names, args[0], strict=True)), **kwargs)
        if not self.built and type(self).build is not _base_layer.build:
            if engine() == "tensorflow":
                import tensorflow as tf

                with tf.init_scope():
                    _build_like_keras3(self, args, kwargs)
            else:
                _build_like_keras3(self, args, kwargs)
        if engine() == "theano":
            return _theano_call(self, super().__call__, args, kwargs)
        return super().__call__(*args, **kwargs)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        wrappers = [("build", _marking_build)]
        if engine() == "tensorflow":
            wrappers.append(("call", _masking_call))
        if engine() == "theano":
            wrappers += [
                ("call", _unpacking_call),
                ("compute_mask", _unpacking_compute_mask),
                ("compute_output_shape", _deferred_output_shape),
            ]
        for name, wrap in wrappers:
            if name in cls.__dict__:
                setattr(cls, name, wrap(cls.__dict__[name]))

    if engine() == "theano":

        def compute_output_shape(self, input_shape):
            last_call = self.__dict__.pop("_kerastack_last_call", None)
            if last_call is not None:
                return _measure_output_shape(*last_call)
            return super().compute_output_shape(input_shape)


def _marking_build(build):
    """As on Keras 3, a layer is built once its ``build`` ran, however called;
    its weights are named inside its name scope (see ``_name_scope_of``)."""

    @functools.wraps(build)
    def marking(self, *args, **kwargs):
        with _name_scope_of(self):
            result = build(self, *args, **kwargs)
        self.built = True
        return result

    return marking


def _name_scope_of(layer):
    if engine() == "tensorflow":
        import tensorflow as tf

        return tf.name_scope(layer._name_scope())
    return backend_module().name_scope(layer.name)


# Keras 2.3 passes a layer one `inputs` argument and tracks only the tensors
# in it. A Keras 3 layer takes several (`call(query, value, key_mask=...)`):
# they travel packed in a list, with their names in this keyword, and the
# layer's own `call` receives them unpacked.
_PACKED = "_kerastack_packed"


def _nested_tensors(value):
    if isinstance(value, (list, tuple)):
        return bool(value) and builtins_all(_nested_tensors(item) for item in value)
    return _is_tensor(value)


builtins_all = all


def _with_shape(tensor, layer=None):
    """Keras 2.3's layers read ``_keras_shape``, which Theano tensors made inside
    a layer lack (or hold as None): give them one, with the sizes the receiving
    layer's ``input_spec`` fixes (a built Dense's input width) and None elsewhere."""
    if not _is_tensor(tensor):
        return tensor
    known = getattr(tensor, "_keras_shape", None)
    shape = list(known) if known is not None else [None] * tensor.ndim
    specs = getattr(layer, "input_spec", None)
    specs = specs if isinstance(specs, list) else [specs]
    for axis, size in (getattr(specs[0], "axes", None) or {}).items():
        if -tensor.ndim <= axis < tensor.ndim and shape[axis] is None:
            shape[axis] = size
    if known is None or tuple(shape) != tuple(known):
        tensor._keras_shape = tuple(shape)
    return tensor


def _give_input_shapes(layer):
    """Every tensor a Keras 2.3 sublayer receives gets a ``_keras_shape``."""
    check = layer.assert_input_compatibility
    if getattr(check, "_kerastack_shapes", False):
        return

    def assert_input_compatibility(inputs):
        for tensor in _flatten(inputs):
            _with_shape(tensor, layer)
        return check(inputs)

    assert_input_compatibility._kerastack_shapes = True
    object.__setattr__(layer, "assert_input_compatibility", assert_input_compatibility)


def _theano_call(layer, keras_call, args, kwargs):
    signature = inspect.signature(layer.call)
    bound = signature.bind(*args, **kwargs)
    arguments = dict(bound.arguments)
    for parameter in signature.parameters.values():
        if parameter.kind == parameter.VAR_KEYWORD and parameter.name in arguments:
            arguments.update(arguments.pop(parameter.name))
    first = next(iter(signature.parameters))
    for value in arguments.values():
        for tensor in _flatten(value):
            _with_shape(tensor)
    names = [first] + [
        name
        for name, value in arguments.items()
        if name != first and value is not None and _is_tensor(value)
    ]
    if len(names) == 1:
        return keras_call(arguments.pop(first), **arguments)
    tensors = [arguments.pop(name) for name in names]
    layer._kerastack_packed_names = tuple(names)
    return keras_call(tensors, **{_PACKED: list(names)}, **arguments)


def _masking_call(call):
    @functools.wraps(call)
    def masked(self, *args, **kwargs):
        arguments = inspect.signature(call).bind(self, *args, **kwargs).arguments
        arguments.pop(next(iter(arguments)))  # self
        return call(self, **_with_argument_masks(call, arguments))

    masked.__signature__ = inspect.signature(call)  # tf-keras reads it for mask/training
    return masked


def _unpacking_call(call):
    @functools.wraps(call)
    def unpacked(self, inputs, *args, **kwargs):
        names = kwargs.pop(_PACKED, None)
        if names is None:
            outputs = call(self, inputs, *args, **kwargs)
        else:
            arguments = dict(zip(names, inputs, strict=True))
            masks = kwargs.pop("mask", None)
            if "mask" not in arguments and _accepts(call, "mask") and masks is not None:
                arguments["mask"] = masks[0] if isinstance(masks, list) else masks
            arguments.update(kwargs)
            outputs = call(self, *args, **_with_argument_masks(call, arguments))
        if isinstance(outputs, tuple):
            outputs = list(outputs)  # Keras 2.3 takes several outputs as a list only
        # Keras 2.3 asks compute_output_shape next: it is measured on these.
        self._kerastack_last_call = (inputs, outputs)
        return outputs

    return unpacked


def _unpacking_compute_mask(compute_mask):
    @functools.wraps(compute_mask)
    def unpacked(self, inputs, mask=None):
        names = getattr(self, "_kerastack_packed_names", None)
        if names and isinstance(inputs, list) and len(inputs) == len(names):
            inputs = inputs[0]  # as on Keras 3: the first argument's mask
            mask = mask[0] if isinstance(mask, list) else mask
        return compute_mask(self, inputs, mask)

    return unpacked


def _deferred_output_shape(compute_output_shape):
    @functools.wraps(compute_output_shape)
    def deferred(self, *args, **kwargs):
        last_call = self.__dict__.pop("_kerastack_last_call", None)
        if last_call is not None:  # Keras 2.3 asking right after a call
            return _measure_output_shape(*last_call)
        return compute_output_shape(self, *args, **kwargs)

    return deferred


def _accepts(fn, name):
    return name in inspect.signature(fn).parameters


def _measure_output_shape(inputs, outputs):
    """The static output shape(s) Keras 2.3 keeps in ``_keras_shape``.

    Theano knows no static shapes, and a Keras 3 layer has no
    ``compute_output_shape`` for Keras 2.3 to ask. The shape is measured
    instead: the outputs' symbolic shapes are evaluated with the inputs
    replaced by zeros of their known shapes, twice, unknown sizes set to 2
    and then to 3; a size that changes is unknown (None).
    """
    import theano

    inputs = [x for x in _flatten(inputs) if _is_tensor(x)]
    flat_outputs = _flatten(outputs)
    unknown = [None if y.ndim == 0 else (None,) * y.ndim for y in flat_outputs]
    if not builtins_all(
        getattr(x, "_keras_shape", None) is not None and x._keras_shape[-1:] != (None,)
        for x in inputs
    ):  # features unknown: nothing to measure with
        return unknown if isinstance(outputs, (list, tuple)) else unknown[0]
    measured = []
    for fill in (2, 3):
        replace = {}
        for x in inputs:
            replace[x] = theano.tensor.constant(_zeros_like(x, fill))
        shapes = theano.clone([y.shape for y in flat_outputs], replace=replace)
        free = [
            v
            for v in theano.gof.graph.inputs(shapes)
            if not isinstance(v, (theano.tensor.Constant, theano.compile.SharedVariable))
        ]
        try:
            function = theano.function(free, shapes, mode="FAST_COMPILE", on_unused_input="ignore")
            measured.append(function(*[_zeros_like(v, fill) for v in free]))
        except Exception:  # an unknown size mattered: the shape stays unknown
            return unknown if isinstance(outputs, (list, tuple)) else unknown[0]
    shapes = [
        tuple(int(a) if a == b else None for a, b in zip(first, second, strict=True))
        for first, second in zip(measured[0], measured[1], strict=True)
    ]
    return shapes if isinstance(outputs, (list, tuple)) else shapes[0]


def _zeros_like(tensor, fill):
    """Zeros shaped like ``tensor``, unknown sizes set to ``fill``."""
    shape = getattr(tensor, "_keras_shape", None) or (1,) * tensor.ndim
    return np.zeros(tuple(fill if size is None else size for size in shape), dtype=tensor.dtype)


def _flatten(value):
    if isinstance(value, (list, tuple)):
        return [item for part in value for item in _flatten(part)]
    return [value]


class EinsumDense(Layer):
    """Keras 3's ``EinsumDense`` for Keras 2.3, which has none.

    Same arguments and weights (``kernel``, ``bias``): ``output_shape``
    excludes the batch axis, None keeps an input size, ``bias_axes`` names
    the output axes the bias spans.
    """

    def __init__(
        self,
        equation,
        output_shape,
        activation=None,
        bias_axes=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        keras = keras_module()
        self.equation = equation
        self.partial_output_shape = (
            (output_shape,) if isinstance(output_shape, int) else tuple(output_shape)
        )
        self.activation = keras.activations.get(activation)
        self.bias_axes = bias_axes
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)

    def _sizes(self, input_shape):
        inputs, output = self.equation.replace(" ", "").split("->")
        input_spec, kernel_spec = inputs.split(",")
        sizes = dict(zip(input_spec, input_shape, strict=True))
        for letter, size in zip(output[1:], self.partial_output_shape, strict=True):
            if size is not None:
                sizes[letter] = size
        return input_spec, kernel_spec, output, sizes

    def build(self, input_shape):
        _, kernel_spec, output, sizes = self._sizes(input_shape)
        self.kernel = self.add_weight(
            name="kernel",
            shape=tuple(sizes[letter] for letter in kernel_spec),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.bias = None
        if self.bias_axes:
            first = min(output.index(letter) for letter in self.bias_axes)
            self.bias = self.add_weight(
                name="bias",
                shape=tuple(
                    sizes[letter] if letter in self.bias_axes else 1 for letter in output[first:]
                ),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self.built = True

    def call(self, inputs):
        from kerastack.core import _legacy_ops as ops

        outputs = ops.einsum(self.equation, inputs, self.kernel)
        if self.bias is not None:
            outputs = outputs + self.bias
        return self.activation(outputs) if self.activation is not None else outputs

    def compute_output_shape(self, input_shape):
        _, _, output, sizes = self._sizes(input_shape)
        return (input_shape[0],) + tuple(sizes.get(letter) for letter in output[1:])

    def get_config(self):
        keras = keras_module()
        config = super().get_config()
        config.update(
            {
                "equation": self.equation,
                "output_shape": self.partial_output_shape,
                "activation": keras.activations.serialize(self.activation),
                "bias_axes": self.bias_axes,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
                "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
                "bias_constraint": keras.constraints.serialize(self.bias_constraint),
            }
        )
        return config


def _scope_build(layer):
    """Give weights a sublayer creates in ``build`` the sublayer's name scope.

    Keras 2 names weights after the name scopes open when they are made, and
    opens a layer's scope only when it builds itself in ``__call__``. A Keras 3
    layer builds its sublayers directly in its own ``build``; without this,
    two sublayers' kernels would share one name (which HDF5 files cannot hold).
    """
    build = layer.build
    if getattr(build, "_kerastack_scoped", False) or issubclass(type(layer), Layer):
        return  # kerastack layers scope their own build

    @functools.wraps(build)
    def scoped_build(*args, **kwargs):
        with _name_scope_of(layer):
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
    # Keras 2.3 saves a layer under its Python class name: a class registered
    # under another name (a compat class beside its modern namesake) takes it.
    if name is not None:
        cls.__name__ = cls.__qualname__ = name
    keras.utils.get_custom_objects()[cls.__name__] = cls
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


def _model_class():
    base = keras_module().Model

    class Model(base):
        def __init__(self, *args, **kwargs):
            if not args and "inputs" not in kwargs:
                raise NotImplementedError(
                    f"{type(self).__name__} is a subclassed keras.Model, which Keras "
                    f"{keras_module().__version__} on Theano cannot serve (no eager calls, "
                    "no HDF5 saving of subclassed models). Use Keras 3 or tf-keras, or "
                    "build a functional model from kerastack layers."
                )
            super().__init__(*args, **kwargs)

    Model.__module__ = base.__module__
    return Model


def gelu(x, approximate=False):
    """Keras 3's ``gelu`` for Keras 2.3, which has none (Theano)."""
    import theano.tensor as T

    if approximate:
        inner = np.sqrt(2.0 / np.pi).astype(x.dtype) * (x + np.asarray(0.044715, x.dtype) * x**3)
        return np.asarray(0.5, x.dtype) * x * (1 + T.tanh(inner))
    return np.asarray(0.5, x.dtype) * x * (1 + T.erf(x / np.sqrt(2.0).astype(x.dtype)))


def silu(x):
    """Keras 3's ``silu`` (``x * sigmoid(x)``), which Keras 2 lacks."""
    return x * backend_module().sigmoid(x)


def build_namespace(ops):
    """The ``keras`` kerastack layers see under Keras 2."""
    keras = keras_module()
    backend = keras.backend
    config = types.SimpleNamespace(
        epsilon=backend.epsilon,
        floatx=backend.floatx,
        backend=engine,
    )
    layers = {"Layer": Layer, "deserialize": _deserialize_layer}
    extra = {}
    if not hasattr(keras.layers, "EinsumDense"):
        layers["EinsumDense"] = register(EinsumDense, "kerastack", None)
    missing = {
        name: fn
        for name, fn in (("gelu", gelu), ("silu", silu))
        if not hasattr(keras.activations, name)
    }
    if missing:
        keras.utils.get_custom_objects().update(missing)  # activations.get("gelu")
        extra["activations"] = _namespace(
            "kerastack.core.keras.activations", keras.activations, **missing
        )
    if engine() == "theano":
        extra["Model"] = _model_class()
    return _namespace(
        "kerastack.core.keras",
        keras,
        layers=_namespace("kerastack.core.keras.layers", keras.layers, **layers),
        backend=_namespace(
            "kerastack.core.keras.backend", backend, standardize_dtype=standardize_dtype
        ),
        config=config,
        ops=ops,
        **extra,
    )
