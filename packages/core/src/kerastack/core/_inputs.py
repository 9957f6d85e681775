"""Checks of a model's inputs where their values are known, and one lock per
model for the calls that must not overlap.

Ids index tables: an id out of range is no error in a compiled gather (JAX
returns NaN rows for ids past the end and wraps negative ids; TensorFlow
raises on CPU and gives zero rows on GPU), and float ids would be truncated
silently. So kerastack checks
ids, masks and shapes where their values are known: in eager calls and
before Keras's `predict` is entered. Inside compiled functions (`fit` on
TensorFlow and JAX, `jax.jit`, `tf.function`) the values are not known and
nothing is checked.
"""

import contextlib
import numbers
import threading
import weakref
from typing import NamedTuple

import numpy as np

from kerastack.core._seam import (
    is_keras2,
    is_theano,
    keras,
    ops,
    standardize_dtype,
    static_shape,
)

# The kinds of model inputs `check_model_inputs` knows.
IDS = "ids"  # int (B, T): rows of a table, 0 <= id < size
MASK = "mask"  # (B, T): 0 or 1 (bool, int or float)
PAIR_MASK = "pair_mask"  # (B, T, T): 0 or 1, token t may attend to token s
POSITIONS = "positions"  # int (B, P): positions in the sequence, 0 <= p < T


class InputRule(NamedTuple):
    """What one input of a model holds, for `check_model_inputs`.

    `kind` is one of `"ids"` (int `(B, T)`, rows of a table: `0 <= id <
    size`), `"mask"` (`(B, T)` of 0 and 1), `"pair_mask"` (`(B, T, T)` of 0
    and 1) or `"positions"` (int `(B, P)`, positions in the sequence: `0 <=
    p < T`). For ids, `size` is the rows of their table and `size_name` the
    argument that set it, for messages.

    Example:

    >>> InputRule("ids", 30522, "vocabulary_size")
    InputRule(kind='ids', size=30522, size_name='vocabulary_size')
    """

    kind: str
    size: int | None = None
    size_name: str | None = None


_RANKS = {IDS: 2, MASK: 2, PAIR_MASK: 3, POSITIONS: 2}
_state = threading.local()


def concrete_value(x):
    """The NumPy value of `x` where it is known now, else None.

    Known: NumPy arrays, Python lists and scalars, and backend tensors in
    eager code. Not known: Keras's symbolic tensors, JAX tracers,
    TensorFlow graph tensors (inside `tf.function`) and PyTorch's shape-only
    ("meta") tensors. A ragged list is a ValueError.

    Example:

    >>> concrete_value([[1, 2]]).shape
    (1, 2)
    >>> concrete_value(keras.Input((3,))) is None
    True
    """
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, (list, tuple, numbers.Number, np.generic, str, bytes)):
        return np.asarray(x)
    if is_keras2():
        return _keras2_value(x)
    if isinstance(x, keras.KerasTensor):
        return None
    backend = keras.config.backend()
    if backend == "jax":
        import jax

        if isinstance(x, jax.core.Tracer):
            return None
    elif backend == "tensorflow":
        import tensorflow as tf

        if tf.is_tensor(x) and (tf.is_symbolic_tensor(x) or not hasattr(x, "numpy")):
            return None  # a graph tensor, or a ragged / sparse one
    elif backend == "torch":
        import torch

        if torch.is_tensor(x) and (x.device.type == "meta" or torch.compiler.is_compiling()):
            return None
    if hasattr(x, "dtype") and hasattr(x, "shape") and not isinstance(x, np.ndarray):
        value = ops.convert_to_numpy(x)
    else:
        value = np.asarray(x)
    if value.dtype.name == "bfloat16":
        value = value.astype("float32")
    return value


def _keras2_value(x):
    """tf-keras: an eager tensor's value; symbolic tensors (and Theano's,
    which have no `numpy`) are not known."""
    if not hasattr(x, "numpy"):
        return None
    import tensorflow as tf

    if not tf.executing_eagerly() or tf.is_symbolic_tensor(x):
        return None
    try:
        return np.asarray(x.numpy())
    except (AttributeError, NotImplementedError, TypeError, ValueError):
        return None  # a Keras 2 symbolic tensor


@contextlib.contextmanager
def inputs_checked():
    """Within this block (in this thread), `embedding_lookup` and the models
    of `CheckedInputs` take their inputs as already checked: a model that
    checked its inputs whole does not check them again in each layer."""
    _state.depth = getattr(_state, "depth", 0) + 1
    try:
        yield
    finally:
        _state.depth -= 1


def _already_checked():
    return getattr(_state, "depth", 0) > 0


def _where(index):
    """`"batch row 1, position 3"` for an index into a `(B, T, ...)` array."""
    names = ("batch row", "position", "key position")
    parts = [f"{name} {int(i)}" for name, i in zip(names, index, strict=False)]
    return ", ".join(parts) if parts else "its only element"


def check_ids(ids, size, name, size_name=None):
    """Raise a ValueError when concrete `ids` are not integers in
    `[0, size)`; return them as NumPy, or None when they are not known
    (symbolic or traced: then nothing is checked).

    The message names `name` (the input or layer), the first offending id
    and where it is (batch row, position), and the table size (`size_name`
    is the argument that set it, e.g. `"vocabulary_size"`).

    Example:

    >>> check_ids(np.array([[1, 2]]), 3, "token_ids").tolist()
    [[1, 2]]
    >>> check_ids(np.array([[1, 3]]), 3, "token_ids")
    Traceback (most recent call last):
    ValueError: `token_ids` holds the id 3 at batch row 0, position 1, ...
    """
    values = concrete_value(ids)
    if values is None:
        return None
    if values.dtype.kind not in "iu":
        hint = " (floats would be truncated)" if values.dtype.kind in "fc" else ""
        raise ValueError(
            f"`{name}` must hold integer ids; received an array of dtype "
            f"{values.dtype}{hint}, shape {values.shape}."
        )
    bad = (values < 0) | (values >= size)
    if bad.any():
        index = tuple(np.argwhere(bad)[0]) if values.ndim else ()
        table = f"{size_name}={size}" if size_name else f"the table has {size} rows"
        raise ValueError(
            f"`{name}` holds the id {values[index]} at {_where(index)}, outside "
            f"[0, {size}) ({table})."
        )
    return values


def _check_mask(name, values):
    if values.dtype.kind not in "biuf":
        raise ValueError(
            f"`{name}` must be a mask of 0 and 1 (bool, int or float); received an "
            f"array of dtype {values.dtype}, shape {values.shape}."
        )
    bad = (values != 0) & (values != 1)
    if bad.any():
        index = tuple(np.argwhere(bad)[0])
        raise ValueError(
            f"`{name}` must hold only 0 (masked) and 1 (kept); received {values[index]} "
            f"at {_where(index)}."
        )


def check_model_inputs(inputs, rules, model_name="the model"):
    """Check a model's dict of `inputs` against `rules` (`{name: InputRule}`)
    where their values are known; return them as `{name: NumPy array}`, or
    None when any is symbolic or traced (nothing is checked then).

    Raises ValueError naming the input and what is wrong: not a dict,
    missing or unknown keys, a None, a ragged list, a dtype (ids must be
    integers; masks bool, int or float of 0 and 1), a rank, shapes that
    disagree (`"ids"` and `"mask"` inputs `(B, T)`, `"pair_mask"`
    `(B, T, T)`, `"positions"` `(B, P)`), an empty batch or sequence, an id out of its
    table or a position out of the sequence. `B` and `T` are those of the
    first `(B, T)` input in `rules`.

    Example:

    >>> rules = {"token_ids": InputRule("ids", 100, "vocabulary_size"),
    ...          "padding_mask": InputRule("mask")}
    >>> ids = np.array([[5, 6, 7]])
    >>> sorted(check_model_inputs({"token_ids": ids, "padding_mask": ids > 0}, rules))
    ['padding_mask', 'token_ids']
    """
    expected = list(rules)
    if not isinstance(inputs, dict):
        leaves = keras.tree.flatten(inputs)
        if leaves and not all(_is_known(leaf) for leaf in leaves):
            return None
        raise ValueError(
            f"{model_name} takes a dict of arrays with the keys {expected}; received "
            f"{type(inputs).__name__}."
        )
    missing = [key for key in expected if key not in inputs]
    unknown = sorted(str(key) for key in inputs if key not in rules)
    if missing or unknown:
        raise ValueError(
            f"{model_name} takes the inputs {expected}; received the keys "
            f"{sorted(map(str, inputs))}"
            + (f", missing {missing}" if missing else "")
            + (f", unknown {unknown}" if unknown else "")
            + "."
        )
    values = {}
    for key in expected:
        if inputs[key] is None:
            raise ValueError(f"Input `{key}` of {model_name} is None.")
        try:
            value = concrete_value(inputs[key])
        except ValueError as error:
            raise ValueError(f"Input `{key}` is not an array of one shape: {error}") from error
        if value is None:
            return None
        values[key] = value
    _check_shapes(values, rules)
    for key, rule in rules.items():
        value = values[key]
        if rule.kind == IDS:
            check_ids(value, rule.size, key, rule.size_name)
        elif rule.kind == POSITIONS:
            length = _length(values, rules)
            check_ids(value, length, key, "the sequence length T")
        else:
            _check_mask(key, value)
    return values


def _is_known(x):
    try:
        return concrete_value(x) is not None
    except ValueError:
        return True


def _length(values, rules):
    return next(values[key].shape[1] for key, rule in rules.items() if rule.kind in (IDS, MASK))


def _check_shapes(values, rules):
    for key, rule in rules.items():
        rank = _RANKS[rule.kind]
        if values[key].ndim != rank:
            layout = "(B, T, T)" if rank == 3 else "(B, P)" if rule.kind == POSITIONS else "(B, T)"
            raise ValueError(
                f"Input `{key}` must have rank {rank}, shaped {layout}; received shape "
                f"{values[key].shape}."
            )
    first = next(key for key, rule in rules.items() if rule.kind in (IDS, MASK))
    batch, length = values[first].shape
    if batch == 0:
        raise ValueError(
            f"Input `{first}` has 0 rows (shape {values[first].shape}): an empty batch."
        )
    if length == 0:
        raise ValueError(
            f"Input `{first}` has sequences of length 0 (shape {values[first].shape}): "
            "each row needs at least one token."
        )
    for key, rule in rules.items():
        shape = values[key].shape
        if rule.kind == POSITIONS:
            wanted, ok = f"({batch}, P)", shape[0] == batch
        else:
            wanted = (batch, length, length) if rule.kind == PAIR_MASK else (batch, length)
            ok = shape == wanted
        if not ok:
            raise ValueError(
                f"Input `{key}` has shape {shape}, but `{first}` has shape "
                f"{values[first].shape}: `{key}` must be {wanted}."
            )


def check_length(values, key, limit, limit_name):
    """Raise a ValueError when the sequences of input `key` in `values` (a
    `(B, T)` NumPy array) are longer than `limit`, the argument `limit_name`.

    Example:

    >>> check_length({"token_ids": np.zeros((1, 600), "int32")}, "token_ids", 512,
    ...              "max_sequence_length")
    Traceback (most recent call last):
    ValueError: Input `token_ids` has sequences of 600 tokens, ...
    """
    length = values[key].shape[1]
    if length > limit:
        raise ValueError(
            f"Input `{key}` has sequences of {length} tokens, more than the model "
            f"takes ({limit_name}={limit}); received shape {values[key].shape}."
        )


_locks = weakref.WeakKeyDictionary()
_locks_lock = threading.Lock()


def model_lock(model):
    """The re-entrant lock kerastack holds around `predict`,
    `predict_on_batch` and eager calls of `model`. Task models share their
    backbone's (`model.backbone`), whose weights they use.

    Keras's JAX trainer hands a model's weight buffers to the compiled
    predict function (which frees them) and detaches them from the
    variables until it ends, so two overlapping calls from two threads
    fail ("Array has been deleted"). Holding this lock makes them take
    turns; on every backend, for one rule.

    Example:

    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> with model_lock(model):  # other threads' predict calls wait here
    ...     outputs = model.predict(np.zeros((4, 3), "float32"), verbose=0)
    >>> outputs.shape
    (4, 2)
    >>> model_lock(model) is model_lock(model)  # one lock per model
    True
    """
    owner = getattr(model, "backbone", None)
    if not isinstance(owner, keras.Model):
        owner = model
    with _locks_lock:
        lock = _locks.get(owner)
        if lock is None:
            lock = _locks[owner] = threading.RLock()
    return lock


@contextlib.contextmanager
def keeping_jax_state(model):
    """On JAX, put `model`'s weights back when a Keras `predict` or
    `predict_on_batch` inside this block raises; elsewhere nothing.

    Keras's JAX `predict` detaches the weights from the variables for the
    time of the call and attaches the results at its end: an error on the
    way (a shape the model refuses, a failing callback) left every later
    call of the model failing (`'NoneType' object is not callable`).

    Example:

    >>> with keeping_jax_state(model):
    ...     model.predict(x)
    """
    if is_keras2() or keras.config.backend() != "jax":
        yield
        return
    variables = list(model.trainable_variables) + list(model.non_trainable_variables)
    values = [variable.value for variable in variables]
    state_before = getattr(model, "_jax_state", None)
    try:
        yield
    except BaseException:
        state = getattr(model, "_jax_state", None)
        if state is not None and state is not state_before:
            model.jax_state_sync()  # the results of the batches that ran
        for variable, value in zip(variables, values, strict=True):
            current = variable._value
            if (current is None or current.is_deleted()) and not value.is_deleted():
                variable.assign(value)
        model._jax_state = None
        model._jax_state_synced = True
        raise


class CheckedInputs:
    """A mixin for functional `keras.Model`s with a dict of inputs: eager
    calls, `predict` and `predict_on_batch` check the inputs before Keras
    sees them (see `check_model_inputs`) and take turns per model
    (`model_lock`); `fit` and `evaluate` check arrays (not datasets or
    generators) before Keras's compiled step.

    A model lists its inputs in `input_rules()` and adds its own checks of
    the NumPy values in `_check_input_values(values)`; a task model with a
    `backbone` of this kind inherits both from it. Inside compiled
    functions (the training and predict steps on TensorFlow and JAX,
    `jax.jit`, `tf.function`) nothing is checked: a dataset's batches are
    not, and see the module docstring for what each backend then does with
    a bad id. On PyTorch, whose steps run eagerly, each batch is checked.

    Example:

    >>> class MyBackbone(CheckedInputs, keras.Model):
    ...     def input_rules(self):
    ...         return {"token_ids": InputRule("ids", self.vocabulary_size, "vocabulary_size"),
    ...                 "padding_mask": InputRule("mask")}
    """

    def input_rules(self):
        """`{input name: InputRule}`: the backbone's for a task model, else
        none (nothing checked)."""
        backbone = getattr(self, "backbone", None)
        if isinstance(backbone, CheckedInputs):
            return backbone.input_rules()
        return None

    def _check_input_values(self, values):
        """Checks of the model's own (lengths); `values` are NumPy arrays."""
        backbone = getattr(self, "backbone", None)
        if isinstance(backbone, CheckedInputs):
            backbone._check_input_values(values)

    def _for_preprocessor(self, x):
        """Whether `x` is left to the model's preprocessor (a task model's
        `kerastack.models.TextClassifierPreprocessor`): anything but a dict
        of arrays, where it has one (raw text, which it tokenizes)."""
        return getattr(self, "preprocessor", None) is not None and not isinstance(x, dict)

    def _checked(self, inputs):
        """`(inputs, checked)`: whether `inputs` were known and checked
        (raises when bad), and the inputs to give Keras: Python lists as
        NumPy arrays (Keras's functional call would take a nested list for
        many inputs), NumPy ids of other integer dtypes as int32."""
        rules = self.input_rules()
        if rules is None or _already_checked():
            return inputs, False
        values = check_model_inputs(inputs, rules, f"{type(self).__name__} {self.name!r}")
        if values is None:
            return inputs, False
        self._check_input_values(values)
        given = {}
        for key, value in inputs.items():
            if isinstance(value, (list, tuple, np.ndarray)):
                value = values[key]
                if rules[key].kind in (IDS, POSITIONS) and value.dtype.name not in (
                    "int32",
                    "int64",
                ):
                    value = value.astype("int32")  # in range: checked (uint64 -> torch fails)
            given[key] = value
        return given, True

    def __call__(self, *args, **kwargs):
        if args:
            inputs, checked = self._checked(args[0])
            args = (inputs, *args[1:])
        else:
            kwargs["inputs"], checked = self._checked(kwargs.get("inputs"))
        if not checked:
            return super().__call__(*args, **kwargs)
        with model_lock(self), inputs_checked():
            return super().__call__(*args, **kwargs)

    def predict(self, x, *args, **kwargs):
        # Checked before Keras's predict is entered: on JAX an error inside
        # it used to leave the model unusable (see `keeping_jax_state`).
        checked = False
        if isinstance(x, (dict, list, tuple, np.ndarray)) and not self._for_preprocessor(x):
            x, checked = self._checked(x)
        with self._turn(checked):
            return super().predict(x, *args, **kwargs)

    def fit(self, x=None, *args, **kwargs):
        # Arrays are checked whole before Keras's compiled step, in which
        # nothing is (on JAX a step that fails to trace used to leave the
        # model unusable too).
        if isinstance(x, (dict, list, tuple, np.ndarray)) and not self._for_preprocessor(x):
            x, _ = self._checked(x)
        return super().fit(x, *args, **kwargs)

    def evaluate(self, x=None, *args, **kwargs):
        if isinstance(x, (dict, list, tuple, np.ndarray)) and not self._for_preprocessor(x):
            x, _ = self._checked(x)
        return super().evaluate(x, *args, **kwargs)

    def predict_on_batch(self, x):
        x, checked = self._checked(x)
        with self._turn(checked):
            return super().predict_on_batch(x)

    @contextlib.contextmanager
    def _turn(self, checked):
        with model_lock(self), keeping_jax_state(self):
            with inputs_checked() if checked else contextlib.nullcontext():
                yield


def embedding_lookup(table, ids, name=None):
    """`keras.ops.take(table, ids, axis=0)`, whose gradient for `table` is
    a dense tensor on every backend, and whose `ids` are checked where
    their values are known.

    Ids that are not int32 or int64 are cast to int32. Where `ids` are
    known (eager calls, NumPy arrays; see `concrete_value`) they must be
    integers in `[0, rows of table)`: anything else is a ValueError naming
    `name` (the input or layer), the first offending id, where it is
    (batch row, position) and the table size. Inside compiled functions
    (`fit` and `predict`'s step on TensorFlow and JAX, `jax.jit`,
    `tf.function`) they are not checked, and a bad id is the backend's
    gather: JAX wraps negative ids to the table's end and returns NaN
    rows past it, TensorFlow raises InvalidArgumentError on CPU and gives
    zero rows on GPU; float ids are truncated. PyTorch runs eagerly, so
    its ids are checked in `fit` too (not under `torch.compile`, where a
    bad id is PyTorch's IndexError, or a device-side assertion on CUDA).

    On TensorFlow a lookup's gradient is a `tf.IndexedSlices` with one row
    per id looked up, repeated ids not summed, and Keras 3's optimizers
    square it row by row: Adam's, AdamW's and RMSprop's second moments then
    hold the sum of the squares instead of the square of the sum (and under
    `tf.distribute.MirroredStrategy` a further 1 / replicas), so training
    differs from JAX's and PyTorch's, whose gradients are dense. Here
    TensorFlow's gradient is dense too, as a table tied to an output layer
    gets anyway. Other backends and Keras 2 take Keras's lookup as it is.

    Example:

    >>> table = keras.Variable(np.eye(3, dtype="float32"))
    >>> tuple(embedding_lookup(table, np.array([[2, 0]]), name="token_ids").shape)
    (1, 2, 3)
    >>> embedding_lookup(table, np.array([[3]]), name="token_ids")
    Traceback (most recent call last):
    ValueError: `token_ids` holds the id 3 at batch row 0, position 0, ...
    """
    rows = static_shape(table)[0]
    if rows is not None and not _already_checked():
        check_ids(ids, rows, name or "ids")
    dtype = getattr(ids, "dtype", None)
    if dtype is not None and standardize_dtype(dtype) not in ("int32", "int64"):
        ids = ops.cast(ids, "int32")
    if is_keras2() or keras.config.backend() != "tensorflow":
        return ops.take(table, ids, axis=0)
    import tensorflow as tf

    @tf.custom_gradient
    def dense_gradient(x):
        return tf.identity(x), tf.convert_to_tensor

    # A tensor, not the tf.Variable Keras hands back: a custom gradient of
    # a function that reads a variable fails in eager calls.
    value = tf.convert_to_tensor(ops.convert_to_tensor(table))
    return ops.take(dense_gradient(value), ids, axis=0)


def predict_arrays(model, inputs):
    """``model``'s outputs for NumPy ``inputs``, as NumPy.

    An eager call on Keras 3 and tf-keras; ``predict_on_batch`` on Keras 2.3,
    whose Theano backend has no eager execution. It holds ``model_lock(model)``:
    calls from several threads take turns with the model's ``predict``.

    Example:

    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> outputs = predict_arrays(model, np.zeros((4, 3), "float32"))
    >>> type(outputs).__name__, outputs.shape
    ('ndarray', (4, 2))
    """
    if is_theano():
        with model_lock(model):
            return model.predict_on_batch(inputs)
    with model_lock(model):
        outputs = model(inputs)
    if isinstance(outputs, (list, tuple)):
        return [ops.convert_to_numpy(output) for output in outputs]
    return ops.convert_to_numpy(outputs)
