"""Export for serving (issue 22): `model.export(path, format=...)` on a BERT
backbone and a BERT classifier (and a GPT-2 backbone to ONNX), with batch
size and sequence length left open. Each export is loaded back by the serving runtime alone
(`tf.saved_model.load`, onnxruntime) and run on two (batch, length) shapes,
neither of them the shape Keras traced with; its outputs must match the Keras
model's on the same ids.

What Keras 3.15 can export, and where these tests run:

| format         | tensorflow        | jax                   | torch                      |
| -------------- | ----------------- | --------------------- | -------------------------- |
| tf_saved_model | tested            | skipped: needs TF     | skipped: needs TF and XLA  |
| onnx           | tested (tf2onnx)  | skipped: jax2onnx     | tested (torch.onnx)        |

BERT to ONNX on TensorFlow is the one known gap: TensorFlow's exact GELU
emits an `Erfc` op that tf2onnx 1.17 does not convert (ONNX has no Erfc), so
the file does not load; a test asserts this, and fails (to be updated) once a
converter handles it. GPT-2 (tanh GELU) exports to ONNX on TensorFlow.
"""

import os
import warnings

import numpy as np
import pytest

from kerastack.bert import BertBackbone, BertClassifier
from kerastack.core import keras, ops
from kerastack.gpt import GPT2Backbone
from tests.tolerances import FLOAT32_ATOL, FLOAT32_RTOL

BACKEND = keras.config.backend()
TINY = {
    "vocabulary_size": 20,
    "num_layers": 1,
    "num_heads": 2,
    "hidden_dim": 8,
    "intermediate_dim": 16,
    "max_sequence_length": 8,
    "dropout": 0.0,
}
# Two (batch, length) shapes, each other than the (1 or 2, 1 or 2) sample
# the exporters trace with, so a size taken as a constant shows up.
SHAPES = ((2, 5), (3, 8))
# The served outputs against Keras's on the same weights: only the kernels
# differ (onnxruntime's own, or TensorFlow's graph against its eager ops).
# Largest difference measured (outputs up to about 3): 3.6e-7 (onnxruntime on
# torch's export), 2.4e-7 (SavedModel and onnxruntime on TensorFlow's), so
# the float32 tolerances leave more than 20x for other CPUs' kernels.
EXPORT_ATOL, EXPORT_RTOL = FLOAT32_ATOL, FLOAT32_RTOL

SAVED_MODEL_SKIP = {
    "jax": "Keras 3.15 writes a SavedModel on JAX through jax2tf, which needs "
    "TensorFlow; the jax lane has none",
    "torch": "Keras 3.15 writes a SavedModel on PyTorch through torch_xla and "
    "TensorFlow; the torch lane has neither",
}
ONNX_SKIP = {
    "jax": "Keras 3.15 exports ONNX on JAX through jax2onnx, which (0.17.1) cannot "
    "trace an open sequence length through PositionEmbedding's dynamic slice and "
    "mis-sizes the mask's broadcast with an open batch; not installed in the jax lane",
}


def _make(name):
    keras.utils.set_random_seed(0)
    if name == "gpt2_backbone":
        return GPT2Backbone(**TINY)
    backbone = BertBackbone(**TINY)
    if name == "bert_backbone":
        return backbone
    return BertClassifier(backbone, num_classes=3, dropout=0.0)


def _inputs(model, batch, length):
    """Random ids for the model's inputs; the first row ends in two pads."""
    rng = np.random.default_rng(batch * 100 + length)
    inputs = {
        "token_ids": rng.integers(1, TINY["vocabulary_size"], (batch, length)).astype("int32"),
        "padding_mask": np.ones((batch, length), "int32"),
    }
    inputs["padding_mask"][0, length - 2 :] = 0
    if "segment_ids" in model.input:
        inputs["segment_ids"] = rng.integers(0, 2, (batch, length)).astype("int32")
    return inputs


def _expected(model, inputs):
    """Keras's outputs, flattened as the exporters flatten them (dict keys sorted)."""
    outputs = model(inputs, training=False)
    return [np.asarray(ops.convert_to_numpy(x)) for x in keras.tree.flatten(outputs)]


def _export(model, path, export_format):
    # A model exports once it has been called (Keras 3.15's rule); the call
    # traces no shape of SHAPES. The exporters warn that traced sizes may be
    # taken as constants: the two shapes below are the check of that.
    model(_inputs(model, 1, 2), training=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.export(path, format=export_format, verbose=False)


def _assert_outputs(served, expected, shape):
    assert len(served) == len(expected), shape
    for actual, reference in zip(served, expected, strict=True):
        assert actual.shape == reference.shape, shape
        np.testing.assert_allclose(
            actual, reference, atol=EXPORT_ATOL, rtol=EXPORT_RTOL, err_msg=str(shape)
        )


@pytest.mark.parametrize("name", ["bert_backbone", "bert_classifier"])
def test_saved_model_serves_any_batch_and_length(name, tmp_path):
    if BACKEND in SAVED_MODEL_SKIP:
        pytest.skip(SAVED_MODEL_SKIP[BACKEND])
    import tensorflow as tf

    model = _make(name)
    path = str(tmp_path / "saved_model")
    _export(model, path, "tf_saved_model")
    loaded = tf.saved_model.load(path)
    serving = loaded.signatures["serving_default"]  # what TF Serving calls
    input_specs = serving.structured_input_signature[1]
    assert sorted(input_specs) == sorted(model.input)
    for spec in input_specs.values():
        assert spec.shape.as_list() == [None, None] and spec.dtype == tf.int32
    for shape in SHAPES:
        inputs = _inputs(model, *shape)
        expected = _expected(model, inputs)
        tensors = {key: tf.constant(value) for key, value in inputs.items()}
        served = loaded.serve(tensors)  # the endpoint Keras names `serve`
        served = keras.tree.flatten(served) if isinstance(served, dict) else [served]
        _assert_outputs([np.asarray(x) for x in served], expected, shape)
        signed = serving(**tensors)  # {name: output}, names sorted as Keras's keys
        _assert_outputs([np.asarray(signed[key]) for key in sorted(signed)], expected, shape)


def _onnx_session(model, tmp_path):
    import onnxruntime

    path = os.path.join(tmp_path, "model.onnx")
    _export(model, path, "onnx")
    return onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("name", ["bert_backbone", "bert_classifier", "gpt2_backbone"])
def test_onnx_serves_any_batch_and_length(name, tmp_path):
    if BACKEND in ONNX_SKIP:
        pytest.skip(ONNX_SKIP[BACKEND])
    if BACKEND == "tensorflow" and name.startswith("bert"):
        pytest.skip(
            "tf2onnx 1.17 does not convert the Erfc op of TensorFlow's exact GELU "
            "(test_onnx_bert_on_tensorflow_meets_the_erfc_gap asserts it)"
        )
    model = _make(name)
    session = _onnx_session(model, tmp_path)
    feeds = session.get_inputs()
    assert sorted(feed.name for feed in feeds) == sorted(model.input)
    for feed in feeds:  # open sizes are named or unnamed symbols, never numbers
        assert len(feed.shape) == 2 and not any(isinstance(d, int) for d in feed.shape)
    for shape in SHAPES:
        inputs = _inputs(model, *shape)
        served = session.run(None, {feed.name: inputs[feed.name] for feed in feeds})
        _assert_outputs(served, _expected(model, inputs), shape)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf2onnx converts TensorFlow graphs only")
def test_onnx_bert_on_tensorflow_meets_the_erfc_gap(tmp_path):
    """The known gap, asserted: when tf2onnx (or ONNX) learns Erfc, this fails,
    and BERT joins the ONNX test above on TensorFlow."""
    with pytest.raises(Exception, match="Erfc"):
        _onnx_session(_make("bert_backbone"), tmp_path)
