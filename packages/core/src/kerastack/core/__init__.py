"""kerastack-core: the one seam between kerastack and the installed Keras.

Package code writes ``from kerastack.core import keras, ops, serializable``
and never imports a backend (TensorFlow, JAX, PyTorch, Theano) itself.
"""

from kerastack.core._checks import check_float, check_int
from kerastack.core._initial_weights import InitialWeightsMixin
from kerastack.core._inputs import (
    CheckedInputs,
    InputRule,
    check_ids,
    check_length,
    check_model_inputs,
    concrete_value,
    embedding_lookup,
    model_lock,
    predict_arrays,
)
from kerastack.core._seam import (
    KERAS_MIN_VERSION,
    chunk_long_attention,
    compile_function,
    dot_product_attention,
    fused_attention_dtypes,
    fused_layer_norm,
    keras,
    keras_version,
    large_negative,
    ops,
    read_torch_file,
    require_keras3,
    serializable,
    set_dtype_policy,
    standardize_dtype,
    static_shape,
)
from kerastack.core._version import __version__

__all__ = [
    "CheckedInputs",
    "InitialWeightsMixin",
    "InputRule",
    "KERAS_MIN_VERSION",
    "__version__",
    "check_float",
    "check_ids",
    "check_int",
    "check_length",
    "check_model_inputs",
    "chunk_long_attention",
    "compile_function",
    "concrete_value",
    "dot_product_attention",
    "embedding_lookup",
    "fused_attention_dtypes",
    "fused_layer_norm",
    "keras",
    "keras_version",
    "large_negative",
    "model_lock",
    "ops",
    "predict_arrays",
    "read_torch_file",
    "require_keras3",
    "serializable",
    "set_dtype_policy",
    "standardize_dtype",
    "static_shape",
]
