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
import threading
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
# How many kerastack layer calls are under way in this thread (Keras 2.3): an
# op outside all of them builds a functional model (see `OpLayer`).
_CALLS = threading.local()


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
            _CALLS.depth = getattr(_CALLS, "depth", 0) + 1
            try:
                return _theano_call(self, super().__call__, args, kwargs)
            finally:
                _CALLS.depth -= 1
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
    inputs = [x for x in _flatten(inputs) if _is_tensor(x)]
    flat_outputs = _flatten(outputs)
    unknown = [None if y.ndim == 0 else (None,) * y.ndim for y in flat_outputs]
    first = inputs[0] if inputs else None
    if (
        first is None
        or getattr(first, "_keras_shape", None) in (None, ())
        or (first._keras_shape[-1] is None)
    ):  # features unknown: nothing to measure with
        return unknown if isinstance(outputs, (list, tuple)) else unknown[0]
    measured = []
    for fill in (2, 3):
        sizes = _evaluate_shapes(inputs, flat_outputs, fill)
        if sizes is None:  # an unknown size mattered: the shape stays unknown
            return unknown if isinstance(outputs, (list, tuple)) else unknown[0]
        measured.append(sizes)
    shapes = [
        tuple(int(a) if a == b else None for a, b in zip(first, second, strict=True))
        for first, second in zip(measured[0], measured[1], strict=True)
    ]
    return shapes if isinstance(outputs, (list, tuple)) else shapes[0]


def _evaluate_shapes(inputs, outputs, fill):
    """The sizes of `outputs` with `inputs` replaced by zeros of their known
    sizes (unknown ones `fill`); or, where an output also depends on a tensor
    the layer was not given as an argument, with the graph's own inputs (the
    model's `keras.Input`s) set to such zeros instead. None if neither runs."""
    import theano

    def run(replace):
        shapes = theano.clone([y.shape for y in outputs], replace=replace)
        free = [
            v
            for v in theano.gof.graph.inputs(shapes)
            if not isinstance(v, (theano.tensor.Constant, theano.compile.SharedVariable))
        ]
        function = theano.function(free, shapes, mode="FAST_COMPILE", on_unused_input="ignore")
        return function(*[_zeros_like(v, fill) for v in free])

    try:
        return run({x: theano.tensor.constant(_zeros_like(x, fill)) for x in inputs})
    except Exception:  # noqa: BLE001 (Theano raises many kinds)
        pass
    try:
        return run({})
    except Exception:  # noqa: BLE001
        return None


def _zeros_like(tensor, fill):
    """Zeros shaped like ``tensor``, unknown sizes set to ``fill``."""
    shape = getattr(tensor, "_keras_shape", None) or (None,) * tensor.ndim
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
        """Keras 2.3's functional ``Model`` taking Keras 3's dicts of inputs
        and outputs: the inputs go in as a list (``predict`` takes a dict by
        input name, as Keras 2.3 does), the outputs as a list that
        ``predict`` gives back as a dict by the same keys."""

        def __init__(self, *args, **kwargs):
            if not args and "inputs" not in kwargs:
                raise NotImplementedError(
                    f"{type(self).__name__} is a subclassed keras.Model, which Keras "
                    f"{keras_module().__version__} on Theano cannot serve (no eager calls, "
                    "no HDF5 saving of subclassed models). Use Keras 3 or tf-keras, or "
                    "build a functional model from kerastack layers."
                )
            arguments = dict(zip(("inputs", "outputs"), args, strict=False), **kwargs)
            output_keys = None
            if isinstance(arguments["inputs"], dict):
                arguments["inputs"] = list(arguments["inputs"].values())
            if isinstance(arguments.get("outputs"), dict):
                output_keys = list(arguments["outputs"])
                arguments["outputs"] = list(arguments["outputs"].values())
            super().__init__(**arguments)
            self._kerastack_output_keys = output_keys

        def predict(self, *args, **kwargs):
            outputs = super().predict(*args, **kwargs)
            keys = getattr(self, "_kerastack_output_keys", None)
            return outputs if keys is None else dict(zip(keys, outputs, strict=True))

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


def _py_dataset_class():
    sequence = keras_module().utils.Sequence

    class PyDataset(sequence):
        """Keras 3's ``PyDataset`` over Keras 2's ``Sequence``: the same
        ``__len__``/``__getitem__``/``on_epoch_end`` protocol. Keras 3's
        reading options (``workers``, ``use_multiprocessing``,
        ``max_queue_size``) are ``fit``'s arguments on Keras 2: taken and
        kept, not used."""

        def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
            self.workers = workers
            self.use_multiprocessing = use_multiprocessing
            self.max_queue_size = max_queue_size

    PyDataset.__module__ = __name__
    return PyDataset


def _embedding_class():
    base = keras_module().layers.Embedding

    class Embedding(base):
        """Keras 2's ``Embedding`` keeping its table as Keras 3 does: in
        ``_embeddings``, behind an ``embeddings`` property (which a subclass
        may redefine, as kerastack's own does), with Keras 3's
        ``quantization_mode`` and ``lora_enabled`` (neither served on Keras 2)."""

        quantization_mode = None
        lora_enabled = False

        def build(self, input_shape=None):
            self._embeddings = self.add_weight(
                shape=(self.input_dim, self.output_dim),
                initializer=self.embeddings_initializer,
                name="embeddings",
                regularizer=self.embeddings_regularizer,
                constraint=self.embeddings_constraint,
            )
            self.built = True

        @property
        def embeddings(self):
            return self._embeddings

        if engine() == "theano":  # Keras 2.3's layers have one dtype

            @property
            def dtype_policy(self):
                return self.dtype

            compute_dtype = variable_dtype = dtype_policy

    Embedding.__module__ = base.__module__
    return Embedding


def _optimizer_class():
    base = keras_module().optimizers.Optimizer

    class Optimizer(base):
        """tf-keras's ``Optimizer`` taking a Keras 3 optimizer's code:
        ``__init__(learning_rate, name, ...)``, ``built``,
        ``update_step(gradient, variable, learning_rate)``, ``assign``,
        ``assign_add``, ``assign_sub`` and ``_get_variable_index``; its
        config carries the learning rate, as Keras 3's does."""

        def __init__(self, learning_rate=0.001, name=None, **kwargs):
            super().__init__(name=name or type(self).__name__, **kwargs)
            self._learning_rate = self._build_learning_rate(learning_rate)

        def __init_subclass__(cls, **kwargs):
            super().__init_subclass__(**kwargs)
            step = cls.__dict__.get("update_step")
            if step is not None and len(inspect.signature(step).parameters) == 4:

                @functools.wraps(step)
                def update_step(self, gradient, variable):
                    return step(self, gradient, variable, self.learning_rate)

                cls.update_step = update_step

        @property
        def built(self):
            return getattr(self, "_built", False)

        def build(self, var_list):
            super().build(var_list)
            self._built = True

        def assign(self, variable, value):
            variable.assign(value)

        def assign_add(self, variable, value):
            variable.assign_add(value)

        def assign_sub(self, variable, value):
            variable.assign_sub(value)

        def apply(self, grads, trainable_variables=None):
            return self.apply_gradients(zip(grads, trainable_variables, strict=True))

        def _get_variable_index(self, variable):
            return self._index_dict[self._var_key(variable)]

        def get_config(self):
            config = super().get_config()
            config["learning_rate"] = self._serialize_hyperparameter(self._learning_rate)
            return config

    Optimizer.__module__ = __name__
    return Optimizer


class LearningRateSchedule:
    """Keras 3's ``LearningRateSchedule`` base for Keras 2.3, which has none:
    ``schedule(step)`` gives the rate at ``step``; the config rebuilds it."""

    def __call__(self, step):
        raise NotImplementedError(f"{type(self).__name__} must define __call__(step).")

    def get_config(self):
        raise NotImplementedError(f"{type(self).__name__} must define get_config().")

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _tree_flatten(structure):
    """Keras 3's ``keras.tree.flatten`` for lists, tuples and dicts (by sorted key)."""
    if isinstance(structure, dict):
        return [leaf for key in sorted(structure) for leaf in _tree_flatten(structure[key])]
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in _tree_flatten(item)]
    return [structure]


def _tree_map_structure(fn, *structures):
    """Keras 3's ``keras.tree.map_structure`` for lists, tuples and dicts."""
    first = structures[0]
    if isinstance(first, dict):
        return type(first)(
            (key, _tree_map_structure(fn, *(s[key] for s in structures))) for key in first
        )
    if isinstance(first, (list, tuple)):
        items = [_tree_map_structure(fn, *parts) for parts in zip(*structures, strict=True)]
        return type(first)(*items) if hasattr(first, "_fields") else type(first)(items)
    return fn(*structures)


def build_namespace(ops):
    """The ``keras`` kerastack layers see under Keras 2."""
    keras = keras_module()
    backend = keras.backend
    config = types.SimpleNamespace(
        epsilon=backend.epsilon,
        floatx=backend.floatx,
        backend=engine,
    )
    layers = {"Layer": Layer, "Embedding": _embedding_class(), "deserialize": _deserialize_layer}
    extra = {
        "utils": _namespace(
            "kerastack.core.keras.utils", keras.utils, PyDataset=_py_dataset_class()
        ),
        "tree": types.SimpleNamespace(flatten=_tree_flatten, map_structure=_tree_map_structure),
    }
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
        # Keras 2.3 builds a functional model from layers only: an op applied
        # to its tensors outside a layer (BERT's boolean padding mask, say)
        # becomes a layer of its own, as tf.keras makes TensorFlow ops on its
        # tensors layers.
        for name in ops.__all__:
            setattr(ops, name, _functional_op(getattr(ops, name)))
        _index_as_layer()
        extra["Model"] = _model_class()
        extra["optimizers"] = _namespace(
            "kerastack.core.keras.optimizers",
            keras.optimizers,
            schedules=types.SimpleNamespace(LearningRateSchedule=LearningRateSchedule),
        )
    else:
        extra["optimizers"] = _namespace(
            "kerastack.core.keras.optimizers",
            keras.optimizers,
            Optimizer=_optimizer_class(),
            LossScaleOptimizer=keras.mixed_precision.LossScaleOptimizer,
        )
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


def _has_history(value):
    return _is_tensor(value) and getattr(value, "_keras_history", None) is not None


def _arguments_with_history(args, kwargs):
    """Each argument (and each item of a list argument) of an op call as
    `(is_keras_tensor, value)`, in order: positional, then keyword."""
    for value in (*args, *kwargs.values()):
        for item in value if isinstance(value, (list, tuple)) else (value,):
            yield _has_history(item), item


def _functional_op(fn):
    """`fn` that, applied to a functional model's tensors outside every
    kerastack layer call on Keras 2.3, becomes a layer of that model
    (`OpLayer`)."""

    @functools.wraps(fn)
    def op(*args, **kwargs):
        if not builds_model(args, kwargs):
            return fn(*args, **kwargs)  # inside a layer, or on plain tensors
        return OpLayer(fn, args, kwargs)(keras_tensors(args, kwargs))

    return op


def _index_as_layer():
    """Indexing a functional model's tensor outside every kerastack layer
    call (`x[:, 0, :]`, BERT's first token) becomes an `OpLayer` too, as
    tf.keras makes it a layer: Theano tensors index themselves, so their
    `__getitem__` takes the same rule as the ops."""
    import importlib

    # `theano.tensor.var` names the variance function: the module by its path.
    operators = importlib.import_module("theano.tensor.var")._tensor_py_operators
    if getattr(operators.__getitem__, "_kerastack_indexing", False):
        return
    original = operators.__getitem__

    def getitem(x, index):
        return original(x, index)

    indexing = _functional_op(getitem)
    indexing._kerastack_indexing = True
    operators.__getitem__ = indexing


def builds_model(args, kwargs):
    """Whether an op call builds a functional model (Keras 2.3): it runs
    outside every kerastack layer's call and takes a tensor of the model."""
    if getattr(_CALLS, "depth", 0):
        return False
    return any(is_keras for is_keras, _ in _arguments_with_history(args, kwargs))


def keras_tensors(args, kwargs):
    """The functional model's tensors an op call takes, in order."""
    return [item for is_keras, item in _arguments_with_history(args, kwargs) if is_keras]


class OpLayer(Layer):
    """A `keras.ops` function applied to a functional model's tensors
    outside any layer, as a layer of the model (Keras 2.3, which builds
    functional models from layers only). It has no weights, passes no mask,
    and is saved with the model's weights, not its config."""

    def __init__(self, fn, args, kwargs):
        super().__init__(name=f"{fn.__name__}_op_{backend_module().get_uid(fn.__name__)}")
        self._fn, self._args, self._kwargs = fn, args, kwargs
        self.supports_masking = True

    def call(self, inputs):
        tensors = iter(inputs if isinstance(inputs, list) else [inputs])

        def substitute(value):
            if isinstance(value, (list, tuple)):
                return type(value)(substitute(item) for item in value)
            return next(tensors) if _has_history(value) else value

        args = [substitute(value) for value in self._args]
        kwargs = {name: substitute(value) for name, value in self._kwargs.items()}
        return self._fn(*args, **kwargs)

    def compute_mask(self, inputs, mask=None):
        return None
