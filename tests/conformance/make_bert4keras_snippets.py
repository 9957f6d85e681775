"""Outputs of the real bert4keras's `snippets` on fixed inputs, the references
kerastack-bert4keras's `snippets` is checked against on every Keras 3 lane.

`cases(snippets, keras, run)` runs every case with a given `snippets` module
(bert4keras's or kerastack's), the `keras` it runs on and `run(model, x)`,
how a Keras model's outputs are computed; `compute()` runs it with the real
bert4keras. The decoders decode with fixed NumPy "models" (a seeded
transition table: the next token's scores are a row of it), so both sides
run the identical model; one case decodes with a tiny Keras model whose
weights are set from a seeded table.

Run on tf-keras with bert4keras 0.11.5 installed (the tfkeras lane's
environment; it recomputes them there in tests/bert4keras_real):

    TF_KERAS=1 TF_USE_LEGACY_KERAS=1 python -m tests.conformance.make_bert4keras_snippets
"""

# bert4keras's shuffling and sampling draw from NumPy's global random state:
# the cases seed it with np.random.seed.
# ruff: noqa: NPY002

import json
import os
import tempfile

import numpy as np

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
OUTPUT = os.path.join(FIXTURES, "bert4keras", "snippets.json")

VOCAB = 12
START, END = 1, 3
TABLE = np.random.RandomState(7).randn(VOCAB, VOCAB) * 2.0  # next-token logits per token
TABLE[:, END] += 1.0  # outputs end, some sooner, some later
BIAS = np.random.RandomState(8).randn(VOCAB, VOCAB) * 0.5  # per first input token
TEXT = (
    "今天天气很好，我们一起去公园散步吧！公园里有很多花，红的、黄的、白的，"
    "真是美极了。你想不想去？\n明天可能会下雨。那我们就在家里看书，好不好？"
)


def _array(x):
    x = np.asarray(x)
    return {"dtype": str(x.dtype), "shape": list(x.shape), "values": x.tolist()}


def _arrays(xs):
    return [_array(x) for x in xs]


def _padding(snippets):
    ragged = [[1, 2, 3], [4], [5, 6]]
    rng = np.random.RandomState(0)
    rows = [rng.randn(n, 3).astype("float32") for n in (2, 4, 1)]
    grids = [np.arange(r * c).reshape(r, c) + 1 for r, c in ((2, 3), (4, 1), (3, 2))]
    pad = snippets.sequence_padding
    return {
        "pad/1d": _array(pad(ragged)),
        "pad/1d_length5": _array(pad(ragged, length=5)),
        "pad/1d_pre_length2_value": _array(pad(ragged, length=2, value=-1, mode="pre")),
        "pad/1d_pre": _array(pad(ragged, mode="pre")),
        "pad/1d_arrays": _array(pad([np.array(r) for r in ragged], length=[2])),
        "pad/2d_rows": _array(pad(rows)),
        "pad/2d_rows_pre_value": _array(pad(rows, length=3, value=0.5, mode="pre")),
        "pad/seq_dims2": _array(pad(grids, seq_dims=2)),
        "pad/seq_dims2_pre_value": _array(pad(grids, seq_dims=2, value=-7, mode="pre")),
        "pad/seq_dims2_length": _array(pad(grids, length=[3, 2], seq_dims=2)),
    }


def _truncation(snippets):
    results = {}
    cases = {
        "last": (8, -1, [[1, 2, 3, 4, 5, 6], [7, 8, 9, 10]]),
        "first": (5, 0, [[1, 2, 3, 4, 5, 6], [7, 8, 9, 10]]),
        "second_to_last": (6, -2, [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11, 12]]),
        "per_sequence": (7, [-1, 1], [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]),
        "ties": (4, -1, [[1, 2, 3], [4, 5, 6]]),
        "three": (6, -1, [[1, 2, 3, 4], [5, 6], [7, 8, 9, 10, 11]]),
        "with_empty": (3, -1, [[1, 2, 3], [], [4, 5]]),
        "short_enough": (20, -1, [[1, 2], [3]]),
    }
    for name, (maxlen, indices, sequences) in cases.items():
        returned = snippets.truncate_sequences(maxlen, indices, *sequences)
        results[f"truncate/{name}"] = {"returned": returned, "inputs_after": sequences}
    return results


def _text(snippets):
    segment = snippets.text_segmentate
    results = {
        "segment/newline_40": segment(TEXT, 40),
        "segment/marks_20": segment(TEXT, 20, seps="\n。！？"),
        "segment/marks_commas_12": segment(TEXT, 12, seps="\n。！？，"),
        "segment/marks_commas_strips_12": segment(TEXT, 12, seps="\n。！？，", strips="。！？，"),
        "segment/marks_5": segment(TEXT, 5, seps="。！？"),
        "segment/short": segment("  很短的句子。  ", 32, seps="。"),
        "segment/no_seps": segment(TEXT, 10, seps=""),
        "strQ2B": _strQ2B(snippets, "ＡＢＣ　ｘｙｚ，１２３！？（全角）～ 你好。"),
        "string_matching": [
            snippets.string_matching("今天天气很好", ["天气", "下雨"]),
            snippets.string_matching("今天天气很好", [r"\d+", "下雨"]),
            snippets.string_matching("room 101", [r"\d+"]),
        ],
        "is_string": [snippets.is_string(x) for x in ("a", b"a", 1, None)],
        "lowercase_and_normalize": snippets.lowercase_and_normalize("Héllo WÖRLD Ça Ñ 你好"),
        "convert_to_unicode": snippets.convert_to_unicode("你好".encode()),
        "convert_to_str": snippets.convert_to_str(b"abc"),
        "longest_common_substring": snippets.longest_common_substring(
            "今天天气很好啊", "明天天气很好吗"
        ),
        "longest_common_subsequence": snippets.longest_common_subsequence("abcbdab", "bdcaba"),
    }
    resized = snippets.orthogonally_resize(np.random.RandomState(3).randn(4, 2), (6, 5))
    results["orthogonally_resize"] = _array(resized)
    results["softmax"] = _array(snippets.softmax(np.random.RandomState(4).randn(3, 5), axis=0))
    return results


def _strQ2B(snippets, text):
    """`strQ2B(text)`, and the error it raises as is.

    bert4keras 0.11.5's strQ2B calls Python 2's `unichr`, a NameError on
    Python 3: its output is recorded with `chr` (what `unichr` is on
    Python 3) lent to it under that name, as it was meant to run.
    """
    try:
        snippets.strQ2B(text)
        error = None
    except NameError as exception:
        error = f"NameError: {exception}"
        function = snippets.strQ2B
        function.__globals__.setdefault("unichr", chr)
        try:
            return {"error": error, "with_chr": function(text)}
        finally:
            del function.__globals__["unichr"]
    return {"error": error, "with_chr": snippets.strQ2B(text)}


def _open(snippets):
    folder = tempfile.mkdtemp()
    path = os.path.join(folder, "lines.txt")
    index = os.path.join(folder, "lines.index.json")
    with snippets.open(path, "w", encoding="utf-8") as f:
        f.write("第一行\nsecond line\n\n第四行 four\nlast")
    results = {}
    with snippets.open(path, encoding="utf-8", indexable=index) as f:
        results["open/indexed"] = [len(f), f[3], f[0], f[4], f[2], list(f.offsets)]
    with snippets.open(path, encoding="utf-8", indexable=index) as f:  # from the index file
        results["open/index_file"] = [len(f), f[1], list(f.offsets)]
    with snippets.open(path, encoding="utf-8") as f:
        results["open/read"] = [f.readline(), f.next(), f.readlines()]
    with snippets.open(path) as f:
        # Not list(f): list asks len(f), which only an indexed file has.
        results["open/iterate"] = [line for line in f]
    return results


def _data_generators(snippets):
    class Batches(snippets.DataGenerator):
        def __iter__(self, random=False):
            batch = []
            for is_end, d in self.sample(random):
                batch.append(d)
                if len(batch) == self.batch_size or is_end:
                    yield [int(x) for x in batch], is_end
                    batch = []

    class Stream:  # an iterable without a length
        def __iter__(self):
            return iter(range(20))

    results = {}
    batches = Batches(list(range(10)), batch_size=3)
    results["data/len"] = [len(batches), len(Batches(list(range(9)), batch_size=3))]
    results["data/ordered"] = list(batches)
    np.random.seed(11)
    results["data/shuffled"] = list(batches.__iter__(True))
    results["data/shuffled_again"] = list(batches.__iter__(True))
    np.random.seed(12)
    stream = Batches(Stream(), batch_size=4, buffer_size=5)
    results["data/stream_len_is_none"] = stream.steps is None
    results["data/stream_shuffled"] = list(stream.__iter__(True))
    results["data/stream_buffer_default"] = Batches(Stream(), batch_size=4).buffer_size
    np.random.seed(13)
    forfit = batches.forfit()
    results["data/forfit"] = [next(forfit) for _ in range(9)]
    fortest = batches.fortest()
    results["data/fortest"] = [next(fortest) for _ in range(5)]
    results["data/sample"] = list(snippets.DataGenerator(["a", "b", "c"]).sample())
    return results


def _parallel(snippets):
    squares = snippets.parallel_apply(
        _square, range(20), 3, 4, dummy=True, random_seeds=False, unordered=False
    )
    collected = []
    snippets.parallel_apply(_square, range(10), 2, 3, callback=collected.append, dummy=True)
    unordered = snippets.parallel_apply(_square, range(10), 2, 3, dummy=True)
    return {
        "parallel/ordered": squares,
        "parallel/callback_sorted": sorted(collected),
        "parallel/unordered_sorted": sorted(unordered),
    }


def _square(x):
    return x * x


def _viterbi(snippets):
    rng = np.random.RandomState(5)
    trans = rng.randn(5, 5)
    nodes = rng.randn(7, 5)
    results = {}
    settings = {
        "free": {},
        "starts": {"starts": [0, 2]},
        "ends": {"ends": [1]},
        "both": {"starts": [3], "ends": [0, 4]},
    }
    for name, arguments in settings.items():
        decoder = snippets.ViterbiDecoder(trans, **arguments)
        results[f"viterbi/{name}"] = decoder.decode(nodes.copy()).tolist()
    decoder = snippets.ViterbiDecoder(trans.astype("float32"), starts=[1, 2])
    results["viterbi/float32"] = decoder.decode(nodes.astype("float32")).tolist()
    results["viterbi/one_step"] = snippets.ViterbiDecoder(trans).decode(nodes[:1].copy()).tolist()
    long_nodes = np.random.RandomState(6).randn(30, 5)
    results["viterbi/long"] = snippets.ViterbiDecoder(trans, [0], [0]).decode(long_nodes).tolist()
    return results


def _last_tokens(inputs, output_ids):
    if output_ids.shape[1]:
        return output_ids[:, -1]
    return inputs[0][:, -1]


def _decoders(snippets):
    decoder_class = snippets.AutoRegressiveDecoder

    class Logits(decoder_class):
        @decoder_class.wraps(default_rtype="logits")
        def predict(self, inputs, output_ids, states):
            return TABLE[_last_tokens(inputs, output_ids)] + BIAS[inputs[0][:, 0]]

    class Probas(decoder_class):
        @decoder_class.wraps(default_rtype="probas")
        def predict(self, inputs, output_ids, states):
            return snippets.softmax(TABLE[_last_tokens(inputs, output_ids)] + BIAS[inputs[0][:, 0]])

    class States(decoder_class):
        @decoder_class.wraps(default_rtype="logits", use_states=True)
        def predict(self, inputs, output_ids, states):
            step = 0 if states is None else states + 1
            scores = TABLE[_last_tokens(inputs, output_ids)] + 0.3 * step * BIAS[0]
            return scores, step

    inputs = [np.array([2, 5, 9])]
    results = {}
    for name, cls in (("logits", Logits), ("probas", Probas), ("states", States)):
        decoder = cls(START, END, maxlen=8)
        output_ids = np.array([[1, 4], [1, 6]])
        batch = [np.array([[2, 5, 9], [0, 7, 7]])]
        for rtype in ("probas", "logits"):
            for temperature in (1, 0.7):
                scores, states = decoder.predict(batch, output_ids, None, temperature, rtype)
                results[f"wraps/{name}/{rtype}/{temperature}"] = {
                    "scores": _array(scores),
                    "states": states,
                }
        for topk in (1, 2, 3, 5):
            results[f"beam/{name}/topk{topk}"] = decoder.beam_search(inputs, topk).tolist()
        results[f"beam/{name}/temperature"] = [
            decoder.beam_search(inputs, 3, temperature=t).tolist() for t in (0.5, 1.5, 3.0)
        ]
        results[f"beam/{name}/min_ends2"] = decoder.beam_search(inputs, 3, min_ends=2).tolist()
        for seed, arguments in enumerate(
            (
                {},
                {"topk": 3},
                {"topp": 0.8},
                {"topk": 5, "topp": 0.6},
                {"temperature": 0.6},
                {"temperature": 1.8, "topp": 0.9},
                {"min_ends": 2},
            )
        ):
            np.random.seed(100 + seed)
            samples = decoder.random_sample(inputs, 6, **arguments)
            key = "_".join(f"{k}{v}" for k, v in arguments.items()) or "plain"
            results[f"sample/{name}/{key}"] = _arrays(samples)

    for name, arguments in {
        "minlen4": {"start_id": START, "end_id": END, "maxlen": 8, "minlen": 4},
        "no_start": {"start_id": None, "end_id": END, "maxlen": 8},
        "maxlen3": {"start_id": START, "end_id": END, "maxlen": 3},
        "end_never": {"start_id": START, "end_id": 99, "maxlen": 6},
    }.items():
        decoder = Logits(**arguments)
        results[f"beam/{name}"] = [decoder.beam_search(inputs, k).tolist() for k in (1, 3)]
        np.random.seed(200)
        results[f"sample/{name}"] = _arrays(decoder.random_sample(inputs, 5, topk=4))
    return results


def _keras_decoder(snippets, keras, run):
    """Decoding with a tiny Keras model: ids -> Embedding -> Dense(softmax)."""
    ids = keras.layers.Input(shape=(None,), dtype="int32")
    hidden = keras.layers.Embedding(VOCAB, 6)(ids)
    probas = keras.layers.Dense(VOCAB, activation="softmax")(hidden)
    model = keras.models.Model(ids, probas)
    rng = np.random.RandomState(11)
    model.set_weights(
        [
            rng.randn(VOCAB, 6).astype("float32"),
            (rng.randn(6, VOCAB) * 2).astype("float32"),
            (rng.randn(VOCAB) + 2.0 * (np.arange(VOCAB) == END)).astype("float32"),
        ]
    )
    decoder_class = snippets.AutoRegressiveDecoder

    class Model(decoder_class):
        @decoder_class.wraps(default_rtype="probas")
        def predict(self, inputs, output_ids, states):
            token_ids = np.concatenate([inputs[0], output_ids], 1).astype("int32")
            return run(self.last_token(model), token_ids)

    decoder = Model(START, END, maxlen=6)
    inputs = [np.array([2, 5, 9])]
    probas, _ = decoder.predict([np.array([[2, 5, 9]])], np.array([[1, 4]]), None)
    np.random.seed(300)
    samples = decoder.random_sample(inputs, 4, topk=5, temperature=1.5)
    return {
        "keras/probas": _array(np.asarray(probas, "float64")),
        "keras/beam": [decoder.beam_search(inputs, k).tolist() for k in (1, 2, 4)],
        "keras/sample": _arrays(samples),
    }


def cases(snippets, keras, run):
    """`{name: JSON-able value}` for every case, computed with `snippets`."""
    results = {}
    for part in (_padding, _truncation, _text, _open, _data_generators, _parallel, _viterbi):
        results.update(part(snippets))
    results.update(_decoders(snippets))
    results.update(_keras_decoder(snippets, keras, run))
    # Tuples become lists, as in the JSON file.
    return json.loads(json.dumps(results, ensure_ascii=False))


def assert_matches(computed, recorded, atol, where=""):
    """`computed` equals `recorded`: floats within `atol`, everything else exactly."""
    if isinstance(recorded, float) or isinstance(computed, float):
        assert isinstance(computed, (int, float)) and not isinstance(computed, bool), where
        assert abs(computed - recorded) <= atol, f"{where}: {computed} != {recorded}"
    elif isinstance(recorded, dict):
        assert isinstance(computed, dict) and sorted(computed) == sorted(recorded), where
        for key, value in recorded.items():
            assert_matches(computed[key], value, atol, f"{where}/{key}")
    elif isinstance(recorded, list):
        assert isinstance(computed, list) and len(computed) == len(recorded), where
        for index, value in enumerate(recorded):
            assert_matches(computed[index], value, atol, f"{where}[{index}]")
    else:
        assert type(computed) is type(recorded) and computed == recorded, (
            f"{where}: {computed!r} != {recorded!r}"
        )


def load():
    """The recorded references."""
    with open(OUTPUT, encoding="utf-8") as f:
        return json.load(f)


def compute():
    """`{name: JSON-able value}` from the real bert4keras."""
    from bert4keras import snippets
    from bert4keras.backend import keras

    return cases(snippets, keras, lambda model, x: model.predict(x, verbose=0))


def main():
    os.makedirs(os.path.dirname(OUTPUT), exist_ok=True)
    results = compute()
    with open(OUTPUT, "w", encoding="utf-8") as f:
        json.dump(results, f, ensure_ascii=False, indent=0, sort_keys=True)
        f.write("\n")
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
