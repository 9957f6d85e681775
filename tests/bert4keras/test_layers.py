"""kerastack.bert4keras.layers against the real bert4keras 0.11.5, plus
independent checks: the CRF's loss against brute-force enumeration of every
tag path, training inside compiled steps, and `.keras` round trips.

The references are what the real bert4keras computed on tf-keras with the
same weights (tests/conformance/make_bert4keras_layers.py, set from NumPy
arrays there and here). Floats within FLOAT32_ATOL (1e-5): the same float32
computations, only the order of rounding differs; `-inf` entries (masked
steps and spans) must match exactly.
"""

import itertools
import math
import os

import numpy as np
import pytest

from kerastack.bert4keras import backend as B
from kerastack.bert4keras import layers as L
from kerastack.core import keras, ops
from tests.bert4keras.test_backend import assert_matches
from tests.tolerances import FLOAT32_ATOL, SAVE_ATOL

FIXTURE = os.path.join(
    os.path.dirname(__file__), "..", "conformance", "fixtures", "bert4keras", "layers.npz"
)
HEADS, HEAD_SIZE = 2, 4


@pytest.fixture(scope="module")
def ref():
    with np.load(FIXTURE) as data:
        return {name: data[name] for name in data.files}


def numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


def global_pointer_loss(y_true, y_pred):
    """The loss bert4keras's GlobalPointer examples use: one multilabel
    problem per (sample, head) over its T * T spans."""
    shape = ops.shape(y_pred)
    rows = shape[0] * shape[1]
    y_true = ops.reshape(ops.cast(y_true, y_pred.dtype), (rows, -1))
    y_pred = ops.reshape(y_pred, (rows, -1))
    return ops.mean(B.multilabel_categorical_crossentropy(y_true, y_pred))


# --- the real bert4keras's outputs ---


@pytest.mark.parametrize("lr", [1, 3])
def test_crf_matches_the_real_bert4keras(ref, lr):
    x, mask, labels = ref["crf_x"], ref["crf_mask"], ref["crf_labels"]
    onehot = np.eye(x.shape[-1], dtype="float32")[labels]
    crf = L.ConditionalRandomField(lr_multiplier=lr)
    crf(x, mask=mask)
    crf.set_weights([ref["crf_trans"]])  # the stored weight, as set on the real layer
    y = crf(x, mask=mask)
    assert_matches(y, ref[f"crf{lr}_out"])
    assert_matches(crf.dense_loss(onehot, y), ref[f"crf{lr}_dense_loss"])
    assert_matches(crf.sparse_loss(labels, y), ref[f"crf{lr}_sparse_loss"])
    assert_matches(crf.dense_accuracy(onehot, y), ref[f"crf{lr}_dense_accuracy"])
    assert_matches(crf.sparse_accuracy(labels, y), ref[f"crf{lr}_sparse_accuracy"])
    np.testing.assert_allclose(numpy(crf.trans), lr * ref["crf_trans"], atol=1e-6)


def test_crf_without_mask_matches_the_real_bert4keras(ref):
    crf = L.ConditionalRandomField()
    crf(ref["crf_x"])
    crf.set_weights([ref["crf_trans"]])
    loss = crf.sparse_loss(ref["crf_labels"], crf(ref["crf_x"]))
    assert_matches(loss, ref["crf_nomask_sparse_loss"])


@pytest.mark.parametrize("name, hidden_dim", [("memm", None), ("memm_lowrank", 2)])
def test_memm_matches_the_real_bert4keras(ref, name, hidden_dim):
    x, mask, labels = ref["crf_x"], ref["crf_mask"], ref["crf_labels"]
    onehot = np.eye(x.shape[-1], dtype="float32")[labels]
    weights = (
        [ref["crf_trans"]] if hidden_dim is None else [ref["memm_l_trans"], ref["memm_r_trans"]]
    )
    memm = L.MaximumEntropyMarkovModel(hidden_dim=hidden_dim)
    memm(x, mask=mask)
    memm.set_weights(weights)
    y = memm(x, mask=mask)
    assert_matches(memm.sparse_loss(labels, y), ref[f"{name}_sparse_loss"])
    assert_matches(memm.dense_loss(onehot, y), ref[f"{name}_dense_loss"])
    assert_matches(memm.sparse_accuracy(labels, y), ref[f"{name}_sparse_accuracy"])
    assert_matches(memm.dense_accuracy(onehot, y), ref[f"{name}_sparse_accuracy"])


GLOBAL_POINTERS = {
    "gp": (L.GlobalPointer, {}, ["gp_kernel", "gp_bias"]),
    "gp_plain": (L.GlobalPointer, {"RoPE": False, "tril_mask": False}, ["gp_kernel", "gp_bias"]),
    "egp": (
        L.EfficientGlobalPointer,
        {},
        ["egp_p_kernel", "egp_p_bias", "egp_q_kernel", "egp_q_bias"],
    ),
}


def make_global_pointer(ref, name):
    cls, kwargs, weights = GLOBAL_POINTERS[name]
    layer = cls(HEADS, HEAD_SIZE, **kwargs)
    layer(ref["gp_x"])
    layer.set_weights([ref[w] for w in weights])
    return layer


@pytest.mark.parametrize("name", sorted(GLOBAL_POINTERS))
def test_global_pointers_match_the_real_bert4keras(ref, name):
    layer = make_global_pointer(ref, name)
    y = layer(ref["gp_x"], mask=ref["gp_mask"])
    assert_matches(y, ref[f"{name}_out"])
    assert_matches(global_pointer_loss(ref["gp_true"], y), ref[f"{name}_loss"])


def test_global_pointer_without_mask_matches_the_real_bert4keras(ref):
    layer = make_global_pointer(ref, "gp")
    assert_matches(layer(ref["gp_x"]), ref["gp_nomask_out"])


def test_global_pointer_takes_the_keras_mask(ref):
    # The padding mask flows in through Keras masking, as in a bert4keras model.
    layer = make_global_pointer(ref, "gp")
    x = keras.Input((None, ref["gp_x"].shape[-1]))
    model = keras.Model(x, layer(keras.layers.Masking(0.0)(x)))
    padded = ref["gp_x"] * ref["gp_mask"][..., None]
    assert_matches(model(padded), ref["gp_out"])


# --- independent checks ---


def test_crf_loss_against_every_path():
    rng = np.random.default_rng(7)
    steps, labels = 4, 3
    scores = rng.normal(size=(2, steps, labels)).astype("float32")
    trans = rng.normal(size=(labels, labels)).astype("float32")
    tags = np.array([[0, 2, 1, 1], [2, 2, 0, 1]])
    lengths = [4, 3]
    mask = (np.arange(steps)[None] < np.array(lengths)[:, None]).astype("float32")
    crf = L.ConditionalRandomField()
    y = crf(scores, mask=mask)
    crf.set_weights([trans])
    got = numpy(crf.sparse_loss(tags, y))

    def path_score(b, path):
        total = sum(scores[b, t, path[t]] for t in range(len(path)))
        return total + sum(trans[path[t], path[t + 1]] for t in range(len(path) - 1))

    for b, length in enumerate(lengths):
        every = [path_score(b, p) for p in itertools.product(range(labels), repeat=length)]
        log_z = np.log(np.sum(np.exp(np.array(every, "float64"))))
        expected = log_z - path_score(b, tags[b, :length])
        np.testing.assert_allclose(got[b], expected, atol=FLOAT32_ATOL * 10, rtol=1e-6)


def test_crf_mask_in_the_middle_as_bert4keras():
    # As bert4keras's: a masked step inside a row carries the recursion's state
    # on (log Z as if the step were removed), but the path score drops the
    # transitions into and out of it, so the loss is the one without the step
    # plus the transition across it. Masks are meant to be right padding.
    rng = np.random.default_rng(8)
    scores = rng.normal(size=(1, 4, 3)).astype("float32")
    tags = np.array([[1, 0, 2, 2]])
    crf = L.ConditionalRandomField()
    holed = crf(scores, mask=np.array([[1, 0, 1, 1]]))
    removed = crf(np.delete(scores, 1, axis=1))
    across = numpy(crf.trans)[1, 2]
    np.testing.assert_allclose(
        numpy(crf.sparse_loss(tags, holed)),
        numpy(crf.sparse_loss(np.delete(tags, 1, axis=1), removed)) + across,
        atol=FLOAT32_ATOL,
    )


def tagger_data(seed=0, samples=32, steps=7, vocab=12, labels=4):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, steps + 1, size=samples)
    ids = rng.integers(1, vocab, size=(samples, steps))
    ids[np.arange(steps)[None] >= lengths[:, None]] = 0  # 0 pads (mask_zero)
    tags = (ids % labels).astype("int32")  # a tag the token decides
    return ids.astype("int32"), tags


def crf_tagger(vocab=12, labels=4, lr_multiplier=10):
    ids = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(vocab, 16, mask_zero=True)(ids)
    x = keras.layers.Dense(labels)(x)
    crf = L.ConditionalRandomField(lr_multiplier=lr_multiplier, name="crf")
    return keras.Model(ids, crf(x)), crf


def test_crf_tagger_fit_lowers_the_loss():
    keras.utils.set_random_seed(0)
    ids, tags = tagger_data()
    model, crf = crf_tagger()
    model.compile(
        optimizer=keras.optimizers.Adam(0.05),
        loss=crf.sparse_loss,
        metrics=[crf.sparse_accuracy],
    )
    trans_before = numpy(crf.trans).copy()
    history = model.fit(ids, tags, batch_size=8, epochs=6, verbose=0)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses))
    assert losses[-1] < 0.5 * losses[0]
    assert history.history["sparse_accuracy"][-1] > 0.9
    assert not np.allclose(numpy(crf.trans), trans_before)  # the transitions train too


def test_memm_tagger_fit_lowers_the_loss():
    keras.utils.set_random_seed(0)
    ids, tags = tagger_data(seed=1)
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(12, 16, mask_zero=True)(inputs)
    memm = L.MaximumEntropyMarkovModel(hidden_dim=3)
    model = keras.Model(inputs, memm(keras.layers.Dense(4)(x)))
    # Keras's JAX trainer hands compiled metrics no model weights, and the
    # MEMM's accuracy reads its transitions: there it is computed eagerly.
    on_jax = keras.config.backend() == "jax"
    metrics = [] if on_jax else [memm.sparse_accuracy]
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss=memm.sparse_loss, metrics=metrics)
    history = model.fit(ids, tags, batch_size=8, epochs=5, verbose=0).history
    losses = history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < 0.5 * losses[0]
    accuracy = float(numpy(memm.sparse_accuracy(tags, model.predict(ids, verbose=0))))
    assert accuracy > 0.8
    if not on_jax:
        assert history["sparse_accuracy"][-1] > 0.8


@pytest.mark.skipif(keras.config.backend() != "jax", reason="Keras's JAX trainer only")
def test_memm_accuracy_as_a_compiled_metric_on_jax_says_why_it_fails():
    ids, tags = tagger_data(samples=8)
    inputs = keras.Input((None,), dtype="int32")
    memm = L.MaximumEntropyMarkovModel()
    model = keras.Model(inputs, memm(keras.layers.Embedding(12, 4, mask_zero=True)(inputs)))
    model.compile(optimizer="sgd", loss=memm.sparse_loss, metrics=[memm.sparse_accuracy])
    with pytest.raises(RuntimeError, match="JAX trainer"):
        model.fit(ids, tags, epochs=1, verbose=0)


def test_global_pointer_fit_lowers_the_loss():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(3)
    ids = rng.integers(1, 10, size=(16, 6)).astype("int32")
    ids[:, 4:][rng.random((16, 2)) < 0.5] = 0
    ids[:, 5][ids[:, 4] == 0] = 0  # right padding
    spans = np.zeros((16, 2, 6, 6), "float32")
    for b in range(16):  # type 0: a token 1..4 alone; type 1: (t, t + 1) when both > 5
        for t in range(6):
            if 1 <= ids[b, t] <= 4:
                spans[b, 0, t, t] = 1.0
            if t < 5 and ids[b, t] > 5 and ids[b, t + 1] > 5:
                spans[b, 1, t, t + 1] = 1.0
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(10, 16, mask_zero=True)(inputs)
    for cls in (L.GlobalPointer, L.EfficientGlobalPointer):
        model = keras.Model(inputs, cls(2, 8)(keras.layers.Dense(16, activation="relu")(x)))
        model.compile(optimizer=keras.optimizers.Adam(0.02), loss=global_pointer_loss)
        losses = model.fit(ids, spans, batch_size=8, epochs=8, verbose=0).history["loss"]
        assert np.all(np.isfinite(losses)) and losses[-1] < 0.7 * losses[0], cls.__name__


def test_keras_round_trip_with_crf_and_global_pointer(tmp_path):
    keras.utils.set_random_seed(0)
    ids = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(12, 16, mask_zero=True)(ids)
    tags = L.ConditionalRandomField(lr_multiplier=2, name="crf")(keras.layers.Dense(4)(x))
    spans = L.GlobalPointer(2, 4, name="gp")(x)
    efficient = L.EfficientGlobalPointer(2, 4, RoPE=False, name="egp")(x)
    memm = L.MaximumEntropyMarkovModel(hidden_dim=2, name="memm")(keras.layers.Dense(4)(x))
    model = keras.Model(ids, [tags, spans, efficient, memm])
    data, _ = tagger_data(samples=3)
    before = model.predict(data, verbose=0)
    path = str(tmp_path / "tagger.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)  # registered classes: no custom_objects
    after = loaded.predict(data, verbose=0)
    for b, a in zip(before, after, strict=True):
        assert_matches(a, np.asarray(b), atol=SAVE_ATOL)
    crf = loaded.get_layer("crf")
    assert isinstance(crf, L.ConditionalRandomField) and crf.lr_multiplier == 2
    np.testing.assert_array_equal(numpy(crf.trans), numpy(model.get_layer("crf").trans))
    assert loaded.get_layer("gp").get_config() == model.get_layer("gp").get_config()
    assert loaded.get_layer("memm").hidden_dim == 2


def test_config_round_trips():
    for layer in (
        L.ConditionalRandomField(lr_multiplier=4),
        L.MaximumEntropyMarkovModel(lr_multiplier=2, hidden_dim=3),
        L.GlobalPointer(3, 6, RoPE=False, use_bias=False, tril_mask=False),
        L.EfficientGlobalPointer(3, 6, kernel_initializer="zeros"),
    ):
        config = layer.get_config()
        again = type(layer).from_config(config)
        assert again.get_config() == config


def test_lr_multiplier_scales_the_stored_weight():
    keras.utils.set_random_seed(0)
    plain, fast = L.ConditionalRandomField(), L.ConditionalRandomField(lr_multiplier=5)
    plain.build((None, None, 3))
    keras.utils.set_random_seed(0)
    fast.build((None, None, 3))
    np.testing.assert_allclose(numpy(fast._trans), numpy(plain._trans) / 5, atol=1e-7)
    np.testing.assert_allclose(numpy(fast.trans), numpy(plain.trans), atol=1e-6)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="lr_multiplier"):
        L.ConditionalRandomField(lr_multiplier=0)
    with pytest.raises(ValueError, match="hidden_dim"):
        L.MaximumEntropyMarkovModel(hidden_dim=0)
    with pytest.raises(ValueError, match="head_size must be even"):
        L.GlobalPointer(2, 3)
    with pytest.raises(ValueError, match="heads"):
        L.GlobalPointer(0, 4)


def test_output_shapes_are_symbolic_and_eager_alike():
    x = keras.Input((5, 8))
    assert tuple(L.GlobalPointer(3, 4)(x).shape) == (None, 3, 5, 5)
    assert tuple(L.EfficientGlobalPointer(3, 4)(x).shape) == (None, 3, 5, 5)
    assert tuple(L.ConditionalRandomField()(x).shape) == (None, 5, 8)
    assert math.isinf(
        float(
            numpy(L.ConditionalRandomField()(np.ones((1, 2, 3)), mask=np.array([[1, 0]])))[0, 1, 0]
        )
    )


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision(policy):
    keras.config.set_dtype_policy(policy)  # the conftest fixture restores float32
    ids, tags = tagger_data(samples=4)
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(12, 8, mask_zero=True)(inputs)
    crf = L.ConditionalRandomField()
    memm = L.MaximumEntropyMarkovModel()
    outputs = [
        crf(keras.layers.Dense(4)(x)),
        memm(keras.layers.Dense(4)(x)),
        L.GlobalPointer(2, 4)(x),
        L.EfficientGlobalPointer(2, 4)(x),
    ]
    model = keras.Model(inputs, outputs)
    tag_scores, memm_scores, spans, efficient = model(ids)
    compute = policy.split("_")[1]
    for y in (tag_scores, spans, efficient):
        assert keras.backend.standardize_dtype(y.dtype) == compute
    for loss in (
        crf.sparse_loss(tags, tag_scores),
        memm.sparse_loss(tags, memm_scores),
        global_pointer_loss(np.zeros(tuple(spans.shape), "float32"), spans),
    ):
        assert np.all(np.isfinite(numpy(ops.cast(loss, "float32"))))


def test_crf_one_step_sequences():
    # The recursion has nothing to add: log Z = logsumexp of the one step's scores.
    scores = np.array([[[0.5, -1.0, 2.0]], [[0.0, 0.0, 0.0]]], "float32")
    crf = L.ConditionalRandomField()
    loss = numpy(crf.sparse_loss(np.array([[2], [1]]), crf(scores)))
    log_z = np.log(np.exp(scores[:, 0].astype("float64")).sum(-1))
    np.testing.assert_allclose(loss, log_z - np.array([2.0, 0.0]), atol=FLOAT32_ATOL)


def test_compiled_crf_model_saves_and_loads_for_compiling_again(tmp_path):
    keras.utils.set_random_seed(0)
    ids, tags = tagger_data(samples=8)
    model, crf = crf_tagger()
    model.compile(optimizer="adam", loss=crf.sparse_loss, metrics=[crf.sparse_accuracy])
    model.fit(ids, tags, epochs=1, verbose=0)
    path = str(tmp_path / "compiled.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    assert_matches(loaded.predict(ids, verbose=0), model.predict(ids, verbose=0), atol=SAVE_ATOL)
    crf = loaded.get_layer("crf")
    loaded.compile(optimizer="adam", loss=crf.sparse_loss, metrics=[crf.sparse_accuracy])
    assert np.isfinite(loaded.evaluate(ids, tags, verbose=0)[0])
