"""Which Keras runs, and the small surface kerastack layers use from it.

On Keras 3, ``ops`` is ``keras.ops`` itself: no wrapper and no cost. The
backend is whatever Keras was told by its own settings (``KERAS_BACKEND``,
``keras.json``).

Keras 2 is served too, as ``tf.keras`` chooses it: tf-keras when
``TF_USE_LEGACY_KERAS=1``, or standalone Keras 2.3 on Theano. Then
``keras`` is a namespace over that Keras with the Keras 3 names kerastack
uses added, and ``ops`` a module implementing ``keras.ops`` names over
``keras.backend`` (see ``_legacy.py`` and ``_legacy_ops.py``); no layer
changes.
"""

import functools
import re

from kerastack.core import _select

KERAS_MIN_VERSION = (3, 8)
# Keras 2 stacks served: tf-keras 2.x and standalone Keras 2.3 (Theano).
KERAS2_MIN_VERSION = (2, 3)

_keras = _select.keras_module()


def _parse_version(text):
    parts = []
    for piece in text.split(".")[:3]:
        digits = re.match(r"\d*", piece).group()  # "0rc1" -> "0"
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def _once(fn):
    """``functools.cache`` for a function of no arguments, in a form that
    ``torch.compile`` traces: it reads the stored value as a constant, where
    it warns about ``functools.cache`` wrappers and calls through them."""
    value = []

    @functools.wraps(fn)
    def once():
        if not value:
            value.append(fn())
        return value[0]

    return once


@_once
def keras_version():
    """The running Keras version as a tuple of ints, e.g. ``(3, 15, 1)``.

    Example:

    >>> version = keras_version()  # e.g. (3, 15, 1)
    >>> len(version), all(isinstance(part, int) for part in version)
    (3, True)
    """
    return _parse_version(_keras.__version__)


def is_keras2():
    """True when kerastack runs on Keras 2 (tf-keras or Keras 2.3 on Theano)."""
    return keras_version()[0] < 3


if is_keras2():
    if keras_version()[:2] < KERAS2_MIN_VERSION:
        raise ImportError(
            f"kerastack serves Keras 2 from {'.'.join(map(str, KERAS2_MIN_VERSION))} "
            f"and Keras 3 from {'.'.join(map(str, KERAS_MIN_VERSION))}, but the installed "
            f"Keras is {_keras.__version__}."
        )
    from kerastack.core import _legacy
    from kerastack.core import _legacy_ops as ops

    keras = _legacy.build_namespace(ops)
else:
    if keras_version()[:2] < KERAS_MIN_VERSION:
        raise ImportError(
            f"kerastack needs Keras >= {'.'.join(map(str, KERAS_MIN_VERSION))}, "
            f"but the installed Keras is {_keras.__version__}. "
            "Install a newer Keras with `pip install -U keras`."
        )
    keras = _keras
    ops = keras.ops


def serializable(cls=None, *, name=None):
    """Register a class with Keras under the package name ``"kerastack"``.

    A model that uses registered layers saves and loads without
    ``custom_objects``. Use it bare (``@serializable``), or with ``name`` when
    two classes share a Python name (a compat class and its modern
    namesake): ``@serializable(name="LegacyScaledDotProductAttention")``.

    Example:

    >>> @serializable(name="ExampleDouble")
    ... class Double(keras.layers.Layer):
    ...     def call(self, x):
    ...         return 2 * x
    >>> keras.saving.get_registered_name(Double)
    'kerastack>ExampleDouble'
    """
    if is_keras2():

        def register(cls):
            return _legacy.register(cls, "kerastack", name)  # noqa: F821 (imported on Keras 2)

    else:
        register = keras.saving.register_keras_serializable(package="kerastack", name=name)
    return register if cls is None else register(cls)


def static_shape(x):
    """The sizes of tensor ``x`` known before it is computed: ints, None where unknown.

    On Keras 3 this is ``tuple(x.shape)``. Theano tensors carry no sizes
    (``x.shape`` is itself a symbolic tensor): there, sizes come from Keras 2.3's
    bookkeeping where it has them, else they are None, and a layer computes
    with ``ops.shape(x)`` instead.

    Example:

    >>> static_shape(np.zeros((2, 3)))
    (2, 3)
    >>> static_shape(keras.Input((None, 8)))  # batch and length not known yet
    (None, None, 8)
    """
    if is_keras2():
        return _legacy.static_shape(x)  # noqa: F821 (imported on Keras 2)
    return tuple(x.shape)


def standardize_dtype(dtype):
    """The plain name of a dtype (``"float16"``), whatever object names it.

    Example:

    >>> standardize_dtype(np.float16), standardize_dtype(np.dtype("int32"))
    ('float16', 'int32')
    """
    if is_keras2():
        return _legacy.standardize_dtype(dtype)
    return keras.backend.standardize_dtype(dtype)


def set_dtype_policy(layer, policy):
    """Give an existing ``layer`` the dtype policy ``policy`` (Keras 3's setter).

    Keras 2 has no setter: tf-keras sets it with ``_set_dtype_policy``, and
    Keras 2.3 layers have a plain ``dtype``.

    Example:

    >>> layer = keras.layers.Dense(2)
    >>> set_dtype_policy(layer, "mixed_float16")
    >>> layer.compute_dtype, layer.variable_dtype
    ('float16', 'float32')
    """
    if not is_keras2():
        layer.dtype_policy = policy
    elif hasattr(layer, "_set_dtype_policy"):
        layer._set_dtype_policy(policy)
    else:
        layer.dtype = standardize_dtype(policy)


def require_keras3(feature, reason="random seeds carried through compiled loops"):
    """Raise a clear ``NotImplementedError`` when ``feature`` runs on Keras 2:
    it needs ``reason``, which only Keras 3 has.

    Example:

    >>> require_keras3("Seeded sampling")  # returns None on Keras 3
    >>> require_keras3("LoRA", "Keras 3's LoRA layers")
    """
    if is_keras2():
        raise NotImplementedError(
            f"{feature} needs Keras 3 ({reason}), but kerastack runs on Keras "
            f"{keras.__version__}. Use Keras 3 with the TensorFlow, JAX or PyTorch backend."
        )


def is_theano():
    """Whether Keras 2.3 on Theano runs (no eager execution there).

    Example:

    >>> is_theano()  # Keras 3 here
    False
    """
    return is_keras2() and _legacy.engine() == "theano"  # noqa: F821 (imported on Keras 2)


# Logit added where attention is not allowed. Finite, so a row with nothing to
# attend to gives a uniform softmax (which callers then zero) rather than NaN;
# in float16 it is the most negative finite value, elsewhere -1e9 as in Keras.
_LARGE_NEGATIVE = {"float16": -65504.0}


def large_negative(dtype):
    """The most negative logit that is safe to use as "masked" in ``dtype``.

    Example:

    >>> large_negative("float16"), large_negative("float32")
    (-65504.0, -1000000000.0)
    """
    return _LARGE_NEGATIVE.get(standardize_dtype(dtype), -1e9)


def compile_function(fn, variables, updated_variables=()):
    """``fn`` compiled for the running backend, traced once per input signature.

    ``fn(*args)`` may read ``variables`` (Keras variables, e.g. a model's
    weights) and update ``updated_variables`` (e.g. a ``SeedGenerator``'s
    state). The compiled function always sees the variables' current values,
    so training between calls is picked up without tracing again.

    - TensorFlow: a ``tf.function`` compiled by XLA (``jit_compile=True``;
      traced once per input shapes and dtypes). XLA runs a decoding loop about
      5x faster than a plain graph on CPU.
    - JAX: ``jax.jit`` over a pure function that receives the variables'
      values and returns the updated ones (Keras's ``StatelessScope``).
    - PyTorch: eager execution without autograd; nothing to trace.

    Arguments must be tensors or NumPy arrays (Python scalars that change
    between calls would cause a new trace on TensorFlow and JAX).

    Example:

    >>> scale = keras.Variable(np.float32(2.0))
    >>> times_scale = compile_function(lambda x: ops.multiply(x, scale), [scale])
    >>> float(times_scale(np.float32(3.0)))
    6.0
    >>> _ = scale.assign(np.float32(10.0))  # no new trace: the current value is read
    >>> float(times_scale(np.float32(3.0)))
    30.0
    """
    backend = keras.config.backend()
    variables = list(variables)
    updated_variables = list(updated_variables)
    if backend == "tensorflow":
        import tensorflow as tf

        graph_fn = tf.function(fn, autograph=False, jit_compile=True)

        def call(*args):
            return graph_fn(*(tf.convert_to_tensor(a) for a in args))

        return call
    if backend == "jax":
        import jax

        def pure(values, updated_values, *args):
            mapping = list(zip(variables + updated_variables, values + updated_values, strict=True))
            with keras.StatelessScope(state_mapping=mapping) as scope:
                outputs = fn(*args)
            new_values = []
            for variable, value in zip(updated_variables, updated_values, strict=True):
                current = scope.get_current_value(variable)
                new_values.append(value if current is None else current)
            return outputs, new_values

        jitted = jax.jit(pure)

        def call(*args):
            outputs, new_values = jitted(
                [v.value for v in variables], [v.value for v in updated_variables], *args
            )
            for variable, value in zip(updated_variables, new_values, strict=True):
                variable.assign(value)
            return outputs

        return call
    if backend == "torch":
        import torch

        def call(*args):
            with torch.no_grad():
                return fn(*(ops.convert_to_tensor(a) for a in args))

        return call
    raise NotImplementedError(f"compile_function has no rule for the {backend!r} backend.")


@_once
def fused_attention_dtypes():
    """The dtypes `keras.ops.dot_product_attention` computes in on the running
    backend's default device. JAX on CPU has no float16 kernel (XLA's CPU dot
    refuses float16 inputs with float32 accumulation); Keras 2 serves an exact
    fallback in every dtype.

    Example:

    >>> "float32" in fused_attention_dtypes()  # float16 depends on the backend
    True
    """
    if not is_keras2() and keras.config.backend() == "jax":
        import jax

        if jax.default_backend() == "cpu":
            return ("bfloat16", "float32")
    return ("float16", "bfloat16", "float32")


def dot_product_attention(query, key, value, mask=None, scale=None, is_causal=False):
    """``keras.ops.dot_product_attention`` over ``(B, T, N, H)`` inputs and
    a boolean ``mask`` broadcastable to ``(B, N, T, S)``.

    On PyTorch, Keras hands the kernel (``scaled_dot_product_attention``)
    contiguous copies of the transposed query, key and value: three extra
    tensors of their size, 75 MB for 8,192 tokens of BERT-base. Here the
    kernel reads the transposed views, which it accepts; the result is the
    same kernel's. Every other backend is served by Keras as it is.

    Example:

    >>> q = np.ones((1, 4, 2, 8), "float32")  # (B, T, N, H)
    >>> tuple(dot_product_attention(q, q, q, is_causal=True).shape)
    (1, 4, 2, 8)
    """
    if is_keras2() or keras.config.backend() != "torch":
        return ops.dot_product_attention(
            query, key, value, mask=mask, scale=scale, is_causal=is_causal
        )
    import torch

    query, key, value = (ops.convert_to_tensor(x).transpose(1, 2) for x in (query, key, value))
    if mask is not None:
        mask = ops.convert_to_tensor(mask, "bool")
        if is_causal:  # the kernel takes a mask or causality, not both
            causal = torch.ones(query.shape[2], key.shape[2], dtype=torch.bool, device=mask.device)
            mask, is_causal = torch.logical_and(mask, torch.tril(causal)), False
    outputs = torch.nn.functional.scaled_dot_product_attention(
        query, key, value, attn_mask=mask, is_causal=is_causal, scale=scale
    )
    return outputs.transpose(1, 2)


def fused_layer_norm(x, normalized_shape, gamma, beta, epsilon):
    """Layer normalization of `x` over its trailing axes of sizes
    `normalized_shape` by the backend's own kernel, or None where kerastack
    writes it with `keras.ops` (every backend but PyTorch, and Keras 2).

    On PyTorch, `torch.nn.functional.layer_norm` is one kernel where the
    `keras.ops` form is nine eager ones (measured: 1.8-1.9x Keras's
    `LayerNormalization` time). It computes the same statistics: the mean,
    and the biased variance of the centred values (a constant row gives 0
    and so `beta`). `gamma` and `beta` (or None) have `normalized_shape`.

    Example:

    >>> x = np.array([[1.0, 2.0, 3.0]], "float32")
    >>> y = fused_layer_norm(x, (3,), None, None, 1e-5)  # None except on PyTorch
    >>> y is None or np.allclose(ops.convert_to_numpy(y), [[-1.2247, 0.0, 1.2247]], atol=1e-4)
    True
    """
    if is_keras2() or keras.config.backend() != "torch":
        return None
    import torch

    x = ops.convert_to_tensor(x)
    weights = [None if w is None else ops.cast(w, x.dtype) for w in (gamma, beta)]
    return torch.nn.functional.layer_norm(x, tuple(normalized_shape), *weights, epsilon)


@_once
def chunk_long_attention():
    """Whether kerastack computes long attention in blocks of queries on the
    running backend: where `keras.ops.dot_product_attention` may hold the
    whole `(B, N, T, S)` score tensor in memory, that is on TensorFlow and
    on JAX, on CPU and on GPU alike (cuDNN's fused kernel serves only half
    precision without a mask: on an H200, float32 attention with a padding
    mask held 66x the memory of Q, K, V and the output at 8,192 tokens).
    PyTorch's kernel
    (`scaled_dot_product_attention`) is memory-efficient on CPU and GPU.
    Keras 2 (the legacy lanes) computes the full matrix, unchunked.

    Example:

    >>> chunk_long_attention() == (keras.config.backend() != "torch")
    True
    """
    if is_keras2():
        return False
    return keras.config.backend() != "torch"


def read_torch_file(path):
    """`{name: numpy array}` of a PyTorch state-dict file (`pytorch_model.bin`),
    read with `torch.load(weights_only=True)`: tensors only, no code runs.
    Needs PyTorch installed (any Keras backend).

    Example:

    >>> import os, tempfile, torch
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "pytorch_model.bin")
    ...     torch.save({"dense.weight": torch.ones(2, 3)}, path)
    ...     tensors = read_torch_file(path)
    >>> {name: array.shape for name, array in tensors.items()}
    {'dense.weight': (2, 3)}
    """
    try:
        import torch
    except ImportError as error:
        raise ImportError(
            f"{path} is a PyTorch file, and reading it needs PyTorch (pip install "
            "torch), which is not installed; a model.safetensors file needs no PyTorch."
        ) from error
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds for a bad file
        raise ValueError(f"{path} is not a readable PyTorch weights file: {error}") from error
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise ValueError(f"{path} does not hold a state dict of tensors.")
    # NumPy has no bfloat16: such tensors come as float32.
    return {
        name: (tensor.float() if tensor.dtype == torch.bfloat16 else tensor).detach().numpy()
        for name, tensor in state.items()
    }


# On PyTorch every cached setting is known at import, and filled then: a
# `torch.compile`d step that filled one while tracing would be guarded on its
# being unset, and its second call would trace and compile again (a BERT-base
# predict step: 50 s more). On JAX, `fused_attention_dtypes` would start the
# device runtime at import; it is filled by its first use, outside `jax.jit`'s
# cache (which keys on shapes, not on Python state).
if not is_keras2() and _keras.config.backend() == "torch":
    keras_version(), fused_attention_dtypes(), chunk_long_attention()
