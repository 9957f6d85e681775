"""Compiled PyTorch (issue 23): every kerastack model and layer runs under
Keras's `jit_compile=True` on PyTorch (`torch.compile` of the train, test
and predict steps) with no graph break inside kerastack's code, and gives
eager's outputs.

Graph breaks are counted on Keras's own compiled path, with TorchDynamo's
graph-break log: `torch.compile` is given the "eager" backend there (the
graphs are captured, not compiled to kernels), so every model and task can
be traced in seconds. A break is kerastack's when TorchDynamo reports it
in a kerastack source file; Keras's own breaks (its training step's
`loss.backward()`, NumPy inputs converted inside the step) are listed by
`graph_breaks` and left alone. Inductor, the backend users get, then
compiles BERT's and GPT-2's task models for real, whose predictions and
training must equal eager's within float32 noise.
"""

import functools
import logging
import re

import numpy as np
import pytest

from kerastack.core import keras
from tests.models.test_config_keys import _cases

if keras.config.backend() != "torch":
    pytest.skip(
        "torch.compile is PyTorch's compiler: Keras compiles with XLA on TensorFlow and "
        "JAX, which every other test of those lanes runs through",
        allow_module_level=True,
    )

import torch  # noqa: E402  (PyTorch only: the skip above)

from kerastack.models import TaskModel  # noqa: E402

_ALL = {cls.__name__: make for cls, make in _cases().items()}
# One model per implementation of a backbone, a task model where its heads
# are its own (BERT's and GPT-2's backbones are in their task models here;
# RoBERTa, CamemBERT and XLM-R are BERT's blocks with other embeddings'
# settings, OpenAI GPT is GPT-2's with the norms moved; a classifier is its
# backbone and a Dense head). Tracing a model costs 10 to 20 s of CI's time even
# on the "eager" backend.
TRACED = [
    "AlbertBackbone",
    "ElectraBackbone",
    "RoFormerBackbone",
    "NezhaBackbone",
    "T5Backbone",
    "Seq2SeqTransformer",
    "RobertaMaskedLM",
    "BertSeq2SeqLM",
    "GPT2CausalLM",
]
# Trained one step under torch.compile ("eager" backend), with sparse targets
# of these shapes; BERT's classifier trains under Inductor below.
TRAINED = {"T5Seq2SeqLM": (2, 5)}

# Where a graph break is reported: "Graph break ... in user code at <file>:<line>",
# then (unless TorchDynamo suppresses a repeated one) the Python stack.
_WHERE = re.compile(r"in user code at (\S+?):(\d+)")
_FRAME = re.compile(r'File "([^"]+)", line (\d+), in ')
# Keras's ops and backend functions: a break there is its caller's doing
# (a NumPy array passed to an op inside the step, say).
_KERAS_OPS = ("/keras/src/ops/", "/keras/src/backend/")


class _BreakLog(logging.Handler):
    def __init__(self):
        super().__init__()
        self.breaks = []
        self._owners = {}

    def emit(self, record):
        message = record.getMessage()
        found = _WHERE.search(message)
        if found is None:
            return
        where = (found.group(1), int(found.group(2)))
        frames = [(f, int(line)) for f, line in _FRAME.findall(message.split("User code")[-1])]
        while frames and any(part in frames[-1][0] for part in _KERAS_OPS):
            frames.pop()
        # A repeated break comes without its stack: the owner found the first time.
        owner = frames[-1][0] if frames else self._owners.get(where, where[0])
        self._owners[where] = owner
        reason = next(
            (line.strip() for line in message.splitlines()[1:] if line.strip() and ":" not in line),
            "",
        )
        self.breaks.append((where[0], where[1], reason, owner))


def graph_breaks(run, backend="eager", graphs=None):
    """`(kerastack's, others')`: the graph breaks `run()` meets, each as
    `(file, line, reason, owner)`, with `torch.compile` compiling on the
    `backend` ("eager": graphs captured, no kernels built). A break is
    kerastack's when it is in a kerastack file, or in a Keras op that
    kerastack's code called (`owner`: the file responsible). On the "eager"
    backend, each graph TorchDynamo captures is appended to `graphs`."""
    original = torch.compile
    handler = _BreakLog()
    if backend == "eager" and graphs is not None:

        def backend(graph, example_inputs):
            graphs.append(graph)
            return graph.forward

    logger = logging.getLogger("torch._dynamo")
    torch._dynamo.reset()
    torch._logging.set_logs(graph_breaks=True)
    logger.addHandler(handler)
    torch.compile = functools.partial(original, backend=backend)
    try:
        run()
    finally:
        torch.compile = original
        logger.removeHandler(handler)
        torch._logging.set_logs()
        torch._dynamo.reset()
    ours = [b for b in handler.breaks if "/kerastack/" in b[3]]
    return ours, [b for b in handler.breaks if b not in ours]


def _inputs(model):
    """Batch 2, length 5 of ones for every input, as torch tensors, with the
    last position of row 1 padded where the model takes a padding mask."""
    if model.built and getattr(model, "inputs", None):
        names = [tensor.name for tensor in model.inputs]
    else:  # a subclassed model (Seq2SeqTransformer), built by its first call
        names = ["encoder_token_ids", "decoder_token_ids", "encoder_padding_mask"]
    inputs = {}
    for name in names:
        array = np.ones((2, 5), "int32")
        if "mask" in name:
            array[1, -1] = 0
        inputs[name] = keras.ops.convert_to_tensor(array)
    if not model.built:
        # Built by an eager call, as Keras's fit() builds a model before its
        # first compiled step: its layers are made in build(), which
        # TorchDynamo cannot trace.
        model(inputs)
    return inputs


def _numpy(outputs):
    return [keras.ops.convert_to_numpy(x) for x in keras.tree.flatten(outputs)]


def _assert_no_breaks_of_ours(breaks, what):
    ours, _ = breaks
    assert not ours, f"{what}: graph breaks in kerastack's code: " + "; ".join(
        f"{file}:{line} ({reason}; from {owner})" for file, line, reason, owner in ours
    )


def test_the_traced_models_cover_every_model_family():
    families = {cls.__module__.split(".")[1] for cls in _cases() if issubclass(cls, TaskModel)}
    traced = {_module_of(name) for name in TRACED}
    assert families <= traced, f"no model traced for {sorted(families - traced)}"


def _module_of(name):
    for cls in _cases():
        if cls.__name__ == name:
            return cls.__module__.split(".")[1]
    raise KeyError(name)


@pytest.mark.parametrize("name", TRACED)
def test_models_predict_compiled_without_breaks_in_kerastack(name):
    model = _ALL[name]()
    inputs = _inputs(model)
    model.compile(jit_compile=True)
    outputs, graphs = [], []

    def predict_twice():
        outputs.append(model.predict_on_batch(inputs))
        outputs.append(model.predict_on_batch(inputs))

    breaks = graph_breaks(predict_twice, graphs=graphs)
    _assert_no_breaks_of_ours(breaks, f"{name}.predict_on_batch")
    # With torch tensors in, the whole step is one graph: nothing of Keras's
    # or kerastack's runs outside it, whoever a break would be blamed on. And
    # the first call leaves no state behind that the second call's guards
    # reject (a sublayer that Keras sets up at its first call, say): a
    # retrace would be a second compile, of up to a minute for a real model.
    assert len(graphs) == 1, f"{name}.predict_on_batch twice: {len(graphs)} graphs, {breaks[1]}"
    model.compile(jit_compile=False)
    for actual, expected in zip(
        _numpy(outputs[0]), _numpy(model.predict_on_batch(inputs)), strict=True
    ):
        np.testing.assert_array_equal(actual, expected)  # the "eager" backend runs the same ops


def _compiled_for_training(model, jit_compile):
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )


@pytest.mark.parametrize("name", list(TRAINED))
def test_task_models_train_compiled_without_breaks_in_kerastack(name):
    model = _ALL[name]()
    inputs = _inputs(model)
    targets = keras.ops.convert_to_tensor(np.ones(TRAINED[name], "int32"))
    _compiled_for_training(model, jit_compile=True)
    ours, others = graph_breaks(lambda: model.train_on_batch(inputs, targets))
    _assert_no_breaks_of_ours((ours, others), f"{name}.train_on_batch")
    # Keras's own: its training step calls loss.backward() inside the compiled step.
    assert any("backward" in reason for _, _, reason, _ in others), others


def _bert_classifier(seed):
    from kerastack.bert import BertBackbone, BertClassifier

    keras.utils.set_random_seed(seed)
    backbone = BertBackbone(
        vocabulary_size=50,
        num_layers=1,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
        max_sequence_length=16,
        dropout=0.0,
    )
    return BertClassifier(backbone, num_classes=3, dropout=0.0)


def _classification_data():
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 50, (8, 12)).astype("int32")
    mask = np.ones((8, 12), "int32")
    mask[::2, 9:] = 0
    x = {
        "token_ids": ids * mask,
        "segment_ids": np.zeros((8, 12), "int32"),
        "padding_mask": mask,
    }
    return x, rng.integers(0, 3, (8,)).astype("int32")


def test_inductor_compiled_predictions_and_training_equal_eager():
    # Inductor, the backend `jit_compile=True` gives users, builds fused CPU
    # kernels, which may order float32 sums differently: outputs agree to
    # float32 noise (logits of order 1; 1e-5 is about 100 ulps), and two SGD
    # steps keep them together.
    x, y = _classification_data()
    x = {name: keras.ops.convert_to_tensor(array) for name, array in x.items()}
    y = keras.ops.convert_to_tensor(y)
    results = {}

    def run(jit_compile):
        model = _bert_classifier(seed=3)
        _compiled_for_training(model, jit_compile)
        before = keras.ops.convert_to_numpy(model.predict_on_batch(x))
        losses = [float(model.train_on_batch(x, y)) for _ in range(2)]
        after = keras.ops.convert_to_numpy(model.predict_on_batch(x))
        results[jit_compile] = before, losses, after

    run(jit_compile=False)
    ours, others = graph_breaks(lambda: run(jit_compile=True), backend="inductor")
    _assert_no_breaks_of_ours((ours, others), "BertClassifier (predict, train, Inductor)")
    # Keras's own: its training step calls loss.backward() inside the compiled step.
    assert any("backward" in reason for _, _, reason, _ in others), others
    eager, compiled = results[False], results[True]
    np.testing.assert_allclose(compiled[0], eager[0], atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(compiled[1], eager[1], atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(compiled[2], eager[2], atol=1e-5, rtol=1e-5)
    assert not np.allclose(eager[2], eager[0], atol=1e-3)  # the steps changed the model


# In a fresh process, as a user's program starts: a compiled predict step
# traced before anything else of kerastack's ran must not trace again at its
# second call (each trace of a real model is a compile of up to a minute).
FRESH_PROCESS = """
import numpy as np, torch
from kerastack.core import keras
from kerastack.bert import BertBackbone

graphs = []

def count(graph, example_inputs):
    graphs.append(graph)
    return graph.forward

torch.compile = __import__("functools").partial(torch.compile, backend=count)
model = BertBackbone(vocabulary_size=50, num_layers=1, num_heads=2, hidden_dim=16,
                     intermediate_dim=32, max_sequence_length=16)
model.compile(jit_compile=True)
x = {name: keras.ops.convert_to_tensor(np.ones((2, 5), "int32"))
     for name in ("token_ids", "segment_ids", "padding_mask")}
for _ in range(3):
    model.predict_on_batch(x)
print(len(graphs))
"""


def test_a_compiled_step_is_traced_once_in_a_fresh_process():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[-1] == "1", (result.stdout, result.stderr[-3000:])
