"""kerastack-bert4keras's `snippets` against the real bert4keras's outputs
(recorded on tf-keras by tests/conformance/make_bert4keras_snippets.py; the
tfkeras lane recomputes them with bert4keras itself), plus checks of what the
references do not pin down."""

# bert4keras's shuffling and sampling draw from NumPy's global random state:
# the cases seed it with np.random.seed.
# ruff: noqa: NPY002

import json
import os

import numpy as np
import pytest

from kerastack.bert4keras import snippets
from kerastack.core import keras, predict_arrays
from tests.conformance import make_bert4keras_snippets as references

RECORDED = references.load()
# Ids, paths, texts and padded integers must match exactly. Floats: the NumPy
# cases run the same float64 operations as bert4keras; the tiny Keras model's
# float32 probabilities (keras/probas) come from another backend than the
# recording's tf-keras, which moves them by float32 rounding (~1e-7).
ATOL = 1e-6


@pytest.fixture(scope="module")
def computed():
    return references.cases(snippets, keras, predict_arrays)


def test_every_recorded_case_is_computed(computed):
    assert sorted(computed) == sorted(RECORDED)


@pytest.mark.parametrize("key", sorted(key for key in RECORDED if key != "strQ2B"))
def test_case_equals_bert4keras(computed, key):
    references.assert_matches(computed[key], RECORDED[key], ATOL, key)


def test_strQ2B_gives_what_bert4keras_meant():
    # bert4keras 0.11.5's strQ2B raises NameError on Python 3 (Python 2's
    # unichr); the reference is its output with chr lent under that name.
    assert RECORDED["strQ2B"]["error"].startswith("NameError")
    text = "ＡＢＣ　ｘｙｚ，１２３！？（全角）～ 你好。"
    assert snippets.strQ2B(text) == RECORDED["strQ2B"]["with_chr"]


def test_the_comparison_sees_a_changed_id():
    changed = json.loads(json.dumps(RECORDED["beam/logits/topk5"]))
    changed[-1] += 1
    with pytest.raises(AssertionError):
        references.assert_matches(changed, RECORDED["beam/logits/topk5"], ATOL)


class Batches(snippets.DataGenerator):
    def __iter__(self, random=False):
        batch = []
        for is_end, d in self.sample(random):
            batch.append(d)
            if len(batch) == self.batch_size or is_end:
                yield np.array(batch), np.array(batch) * 10
                batch = []


def _epoch(generator, random):
    return [x.tolist() for x, _ in generator.__iter__(random)]


def test_data_generator_batches_and_length():
    batches = Batches(list(range(7)), batch_size=3)
    assert len(batches) == 3
    assert _epoch(batches, False) == [[0, 1, 2], [3, 4, 5], [6]]
    assert len(Batches(list(range(6)), batch_size=3)) == 2


def test_data_generator_shuffles_the_same_way_for_the_same_seed():
    batches = Batches(list(range(20)), batch_size=4)
    np.random.seed(3)
    first = _epoch(batches, True)
    np.random.seed(3)
    assert _epoch(batches, True) == first
    assert sorted(sum(first, [])) == list(range(20))
    assert first != _epoch(batches, False)


def test_data_generator_shuffles_a_stream_through_its_buffer():
    stream = Batches((i for i in range(30)), batch_size=5, buffer_size=4)
    assert stream.steps is None
    np.random.seed(0)
    samples = sum(_epoch(stream, True), [])
    assert sorted(samples) == list(range(30))
    # A buffer of 4 (plus the sample read): nothing leaves more than 4 early.
    assert all(sample <= position + 4 for position, sample in enumerate(samples))


def test_forfit_loops_and_fortest_yields_inputs():
    batches = Batches(list(range(5)), batch_size=2)
    forfit = batches.forfit(random=False)
    seen = [next(forfit)[1].tolist() for _ in range(7)]
    assert seen == [[0, 10], [20, 30], [40], [0, 10], [20, 30], [40], [0, 10]]
    fortest = batches.fortest()
    assert [next(fortest).tolist() for _ in range(4)] == [[0, 1], [2, 3], [4], [0, 1]]


def test_forfit_feeds_model_fit():
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")

    class Pairs(snippets.DataGenerator):
        def __iter__(self, random=False):
            batch = []
            for is_end, d in self.sample(random):
                batch.append(d)
                if len(batch) == self.batch_size or is_end:
                    x = np.array(batch, "float32").reshape((-1, 1))
                    yield x, 2 * x
                    batch = []

    pairs = Pairs(list(range(10)), batch_size=4)
    history = model.fit(pairs.forfit(), steps_per_epoch=len(pairs), epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2


def _square(x):
    return x * x


def _fail(x):
    raise ValueError(f"bad {x}")


@pytest.mark.parametrize("dummy", [True, False], ids=["threads", "processes"])
def test_parallel_apply_keeps_order_when_asked(dummy):
    results = snippets.parallel_apply(_square, range(25), 2, 3, dummy=dummy, unordered=False)
    assert results == [x * x for x in range(25)]


def test_parallel_apply_raises_what_func_raises():
    with pytest.raises(ValueError, match="bad"):
        snippets.parallel_apply(_fail, range(3), 2, 2, dummy=True)


def test_viterbi_leaves_nodes_alone_and_finds_the_best_path():
    rng = np.random.RandomState(0)
    trans, nodes = rng.randn(3, 3), rng.randn(4, 3)
    kept = nodes.copy()
    path = snippets.ViterbiDecoder(trans, starts=[0], ends=[2]).decode(nodes)
    np.testing.assert_array_equal(nodes, kept)

    def score(p):
        return sum(nodes[i, p[i]] for i in range(4)) + sum(trans[p[i], p[i + 1]] for i in range(3))

    allowed = [(a, b, c, d) for a in [0] for b in range(3) for c in range(3) for d in [2]]
    assert tuple(path.tolist()) == max(allowed, key=score)


def test_sequence_padding_rejects_an_unknown_mode():
    with pytest.raises(ValueError, match="middle"):
        snippets.sequence_padding([[1], [2, 3]], mode="middle")


def test_wraps_rejects_an_unknown_rtype():
    class Fixed(snippets.AutoRegressiveDecoder):
        @snippets.AutoRegressiveDecoder.wraps()
        def predict(self, inputs, output_ids, states):
            return np.array([[0.5, 0.5]])

    with pytest.raises(ValueError, match="scores"):
        Fixed(0, 1, 2).predict([], None, None, rtype="scores")


def test_last_token_gives_the_last_step_of_every_output():
    ids = keras.Input((None,), dtype="int32")
    hidden = keras.layers.Embedding(7, 4)(ids)
    model = keras.Model(ids, [hidden, keras.layers.Dense(3)(hidden)])
    decoder = snippets.AutoRegressiveDecoder(0, 1, 4)
    last = decoder.last_token(model)
    assert decoder.last_token(model) is last
    token_ids = np.array([[1, 2, 3], [4, 5, 6]])
    full = predict_arrays(model, token_ids)
    for step, whole in zip(predict_arrays(last, token_ids), full, strict=True):
        np.testing.assert_allclose(step, whole[:, -1], rtol=0, atol=1e-6)
    predicted = last.predict(token_ids, verbose=0)
    np.testing.assert_allclose(predicted[1], full[1][:, -1], rtol=0, atol=1e-5)


def test_last_token_keeps_a_multi_input_model_s_inputs():
    ids, segments = keras.Input((None,), dtype="int32"), keras.Input((None,), dtype="int32")
    summed = keras.layers.Add()(
        [keras.layers.Embedding(7, 4)(ids), keras.layers.Embedding(2, 4)(segments)]
    )
    model = keras.Model([ids, segments], summed)
    last = snippets.AutoRegressiveDecoder(0, 1, 4).last_token(model)
    token_ids, segment_ids = np.array([[1, 2, 3]]), np.array([[0, 0, 1]])
    step = predict_arrays(last, [token_ids, segment_ids])
    whole = predict_arrays(model, [token_ids, segment_ids])
    np.testing.assert_allclose(step, whole[:, -1], rtol=0, atol=1e-6)


def test_sequence_padding_takes_a_numpy_length():
    padded = snippets.sequence_padding([[1], [2, 3]], length=np.int64(3))
    assert padded.tolist() == [[1, 0, 0], [2, 3, 0]]


def test_open_indexes_lines_and_reuses_the_index_file(tmp_path):
    path, index = tmp_path / "data.txt", tmp_path / "data.index"
    with snippets.open(str(path), "w", encoding="utf-8") as f:
        for i in range(50):
            f.write(f"行 {i}\n")
    with snippets.open(str(path), encoding="utf-8", indexable=str(index)) as f:
        assert len(f) == 50 and f[37] == "行 37\n" and f[0] == "行 0\n"
    assert os.path.exists(index)
    with snippets.open(str(path), encoding="utf-8", indexable=str(index)) as f:
        assert f.offsets == json.loads(index.read_text()) and f[49] == "行 49\n"
