"""Compiled PyTorch (issue 23) for the layer packages: each public layer,
kerastack's own and the compat ones that keras-bert-family users drop into
their models, runs inside a small functional model under Keras's
`jit_compile=True` on PyTorch as one graph with no break in kerastack's
code, twice without retracing, with eager's outputs; a few also train.

The models (`test_torch_compile.py`) cover the layers as their families
use them; this covers them as users call them: on a Keras mask from
`Embedding(mask_zero=True)`, causal, windowed, wrapped in `MultiHead`.
"""

import numpy as np
import pytest

from kerastack.core import keras

if keras.config.backend() != "torch":
    pytest.skip(
        "torch.compile is PyTorch's compiler: Keras compiles with XLA on TensorFlow and "
        "JAX, which every other test of those lanes runs through",
        allow_module_level=True,
    )

from kerastack import attention, layernorm, multihead, position  # noqa: E402
from kerastack.attention import compat as attention_compat  # noqa: E402
from kerastack.layernorm import compat as layernorm_compat  # noqa: E402
from kerastack.multihead import compat as multihead_compat  # noqa: E402
from kerastack.position import compat as position_compat  # noqa: E402
from tests.models.test_torch_compile import (  # noqa: E402
    _assert_no_breaks_of_ours,
    _numpy,
    graph_breaks,
)

WIDTH = 8


def _add(make):
    """x + make()(x): a position layer as users add it."""
    return lambda x: keras.layers.Add()([x, make()(x)])


# name -> x (batch 2, length 6, WIDTH features, a Keras mask on the padding)
# -> output. One small model per layer: a trace takes 1 to 4 s on the "eager"
# backend, while a model with all of them as branches took minutes.
OWN = {
    "SelfAttention additive": lambda x: attention.SelfAttention(units=4)(x),
    "SelfAttention multiplicative, causal, width 3": lambda x: attention.SelfAttention(
        attention_type="multiplicative", causal=True, attention_width=3
    )(x),
    "WeightedAttention": lambda x: attention.WeightedAttention()(x),
    "ScaledDotProductAttention causal": lambda x: attention.ScaledDotProductAttention(causal=True)(
        x, x
    ),
    "MultiHead of SelfAttention": lambda x: multihead.MultiHead(
        attention.SelfAttention(units=4), num_copies=2
    )(x),
    "MultiHeadAttention": lambda x: multihead.MultiHeadAttention(num_heads=2, key_dim=4)(x, x),
    "MultiHeadAttention causal": lambda x: multihead.MultiHeadAttention(
        num_heads=2, key_dim=4, causal=True
    )(x, x),
    "PositionEmbedding": _add(lambda: position.PositionEmbedding(max_sequence_length=16)),
    "RotaryEmbedding": lambda x: position.RotaryEmbedding()(x),
    "SinePositionEncoding": _add(position.SinePositionEncoding),
    "LayerNormalization": lambda x: layernorm.LayerNormalization()(x),
    "RMSNormalization": lambda x: layernorm.RMSNormalization()(x),
}
COMPAT = {
    "compat SeqSelfAttention, history only, width 3": lambda x: attention_compat.SeqSelfAttention(
        units=4, attention_width=3, history_only=True, attention_activation="sigmoid"
    )(x),
    "compat SeqWeightedAttention": lambda x: attention_compat.SeqWeightedAttention()(x),
    "compat MultiHeadAttention": lambda x: multihead_compat.MultiHeadAttention(head_num=2)(x),
    "compat PositionEmbedding, add": lambda x: position_compat.PositionEmbedding(
        input_dim=16, output_dim=WIDTH, mode="add"
    )(x),
    "compat TrigPosEmbedding, concat": lambda x: position_compat.TrigPosEmbedding(
        mode="concat", output_dim=4
    )(x),
    "compat LayerNormalization": lambda x: layernorm_compat.LayerNormalization()(x),
}
# Layers that add a loss at each call (`add_loss`): a regularizer on the
# attention weights, a diversity term between MultiHead's copies.
ADDING_LOSSES = {
    "SelfAttention with its regularizer": lambda x: attention.SelfAttention(
        units=4, attention_regularizer_weight=1e-3
    )(x),
    "MultiHead with a diversity loss": lambda x: multihead.MultiHead(
        attention.SelfAttention(units=4), num_copies=2, diversity_weights=[0], diversity_factor=1e-3
    )(x),
}
BRANCHES = {**OWN, **COMPAT, **ADDING_LOSSES}
# Trained two steps, compiled and eager (20 to 30 s each: the models'
# tests train MultiHeadAttention, inside T5 and BERT).
TRAINED = ["SelfAttention with its regularizer", "compat SeqSelfAttention, history only, width 3"]


def _model(names):
    """One model: a masked embedding, then a branch per name."""
    keras.utils.set_random_seed(0)
    ids = keras.Input((6,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(20, WIDTH, mask_zero=True)(ids)
    return keras.Model(ids, [BRANCHES[name](x) for name in names])


def _ids():
    ids = np.arange(1, 13, dtype="int32").reshape(2, 6)
    ids[1, -2:] = 0  # padding, masked by the Embedding
    return keras.ops.convert_to_tensor(ids)


def _predict_compiled_twice(names):
    """`(graphs, breaks)` of two compiled predicts of the model of `names`,
    checked for kerastack's graph breaks and against eager's outputs."""
    name = ", ".join(names)
    model, ids = _model(names), _ids()
    model.compile(jit_compile=True)
    outputs, graphs = [], []

    def predict_twice():
        outputs.append(model.predict_on_batch(ids))
        outputs.append(model.predict_on_batch(ids))

    breaks = graph_breaks(predict_twice, graphs=graphs)
    _assert_no_breaks_of_ours(breaks, name)
    model.compile(jit_compile=False)
    expected = _numpy(model.predict_on_batch(ids))
    for actual in outputs:
        for got, want in zip(_numpy(actual), expected, strict=True):
            assert np.isfinite(got).all(), name
            np.testing.assert_array_equal(got, want)  # the "eager" backend runs the same ops
    return graphs, breaks


@pytest.mark.parametrize("name", [*OWN, *COMPAT])
def test_layers_predict_compiled_as_one_graph(name):
    graphs, breaks = _predict_compiled_twice([name])
    assert len(graphs) == 1, f"{name}, predicted twice: {len(graphs)} graphs, {breaks[1]}"


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="Keras 3.15's add_loss on PyTorch keeps each call's loss tensor in the layer's "
    "`_losses` until the next call clears it inside the compiled step, so TorchDynamo "
    "guards on that tensor, which is gone by the next call: every call retraces (Keras's "
    "own ActivityRegularization too). Strict: passes, and fails the lane, once Keras "
    "stops it",
)
@pytest.mark.parametrize("name", ADDING_LOSSES)
def test_layers_adding_losses_predict_compiled_as_one_graph(name):
    graphs, breaks = _predict_compiled_twice([name])
    assert len(graphs) == 1, f"{name}, predicted twice: {len(graphs)} graphs, {breaks[1]}"


@pytest.mark.parametrize("name", TRAINED)
def test_layers_train_compiled_without_breaks_in_kerastack(name):
    ids = _ids()
    losses = {}
    for jit_compile in (False, True):
        model = _model([name])
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", jit_compile=jit_compile)
        targets = [keras.ops.ones((2, *output.shape[1:])) for output in model.outputs]
        found = []

        def train():
            for _ in range(2):
                loss = model.train_on_batch(ids, targets)  # noqa: B023
                found.append(float(keras.tree.flatten(loss)[0]))  # noqa: B023

        if jit_compile:
            _assert_no_breaks_of_ours(graph_breaks(train), f"{name}, training")
        else:
            train()
        losses[jit_compile] = found
    # Two SGD steps from the same weights, the added losses included: the
    # same total losses, compiled or not.
    assert losses[False][1] < losses[False][0]
    np.testing.assert_allclose(losses[True], losses[False], rtol=1e-5, atol=1e-6)
