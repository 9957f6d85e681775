"""kerastack-bert's keras-bert API (`kerastack.bert.compat`) beside the real
keras-bert 0.89, in one process on tf-keras (the tfkeras lane): a keras-bert
user moves over without leaving Keras 2.

Each model case of tests/conformance/make_keras_bert_models.py is built by
both packages: `get_model` (features, several output layers, the MLM/NSP
pretraining model, task embeddings) with the same seeded weights, and
`load_trained_model_from_checkpoint` on the tiny Google checkpoint
(`training=False` and `True`, `output_layer_num=2`). Both must have the same
layers and give the same outputs within `SIDE_BY_SIDE_ATOL`; so must
`extract_embeddings` with each pooling, and `gen_batch_inputs` after the
same seed must give the same arrays.

`SIDE_BY_SIDE_ATOL` (1e-5): the two run on the same machine and
TensorFlow, but not the same graph (keras-bert builds attention from
`K.batch_dot`, kerastack from `einsum`), so the order of float32 sums
differs. Measured on a 2-core AMD EPYC (outputs up to about 3.6): at most
1.9e-6 (`bert_relu`), 1.2e-6 for the other models, 7.2e-7 for
`extract_embeddings`, 2.8e-9 for the checkpoint's MLM/NSP outputs.
"""

import os
import random

import numpy as np
import pytest

if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
    pytest.skip(
        reason="the real keras-bert runs on tf-keras: the tfkeras lane", allow_module_level=True
    )

keras_bert = pytest.importorskip(
    "keras_bert", reason="the real keras-bert runs on tf-keras: the tfkeras lane"
)
keras_transformer = pytest.importorskip(
    "keras_transformer", reason="the real keras-transformer runs on tf-keras: the tfkeras lane"
)

from tensorflow import keras as tf_keras  # noqa: E402

from kerastack.bert import compat as kb  # noqa: E402
from kerastack.core import keras  # noqa: E402
from kerastack.transformer import compat as kt  # noqa: E402
from tests.conformance import make_keras_bert_models as cases  # noqa: E402

SIDE_BY_SIDE_ATOL = 1e-5
BERT_CASES = [case for case, (builder, _) in cases.CASES.items() if builder.startswith("bert.")]
TEXTS = [
    "all work and no play makes jack a dull boy",
    ("from the day forth", "my arm changed"),
    "unaffable voice echoed, power!",
    "give me more power " * 30,  # longer than the model: cut as keras-bert cuts
]
POOLINGS = [None, kb.POOL_NSP, kb.POOL_MAX, kb.POOL_AVE, [kb.POOL_NSP, kb.POOL_MAX, kb.POOL_AVE]]


def _build_both(case):
    theirs = cases.build(case, keras_transformer, keras_bert, tf_keras)
    ours = cases.build(case, kt, kb, keras)
    if not cases.CASES[case][0].endswith("from_checkpoint"):
        cases.randomize(theirs, case)
        cases.randomize(ours, case)
    return theirs, ours


@pytest.mark.parametrize("case", BERT_CASES)
def test_models_equal_keras_berts(case):
    theirs, ours = _build_both(case)
    assert [layer.name for layer in ours.layers] == [layer.name for layer in theirs.layers]
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    arrays = cases.inputs(case)
    expected, got = cases.predict(theirs, arrays), cases.predict(ours, arrays)
    assert len(got) == len(expected)
    for index, (a, b) in enumerate(zip(got, expected, strict=True)):
        assert a.shape == b.shape, (case, index)
        np.testing.assert_allclose(a, b, rtol=0, atol=SIDE_BY_SIDE_ATOL, err_msg=f"{case}/{index}")
    assert any(np.abs(b).max() > 0.1 for b in expected)  # the outputs are not all tiny


@pytest.mark.parametrize("output_layer_num", [1, 2])
@pytest.mark.parametrize("poolings", POOLINGS, ids=str)
def test_extract_embeddings_equals_keras_berts(poolings, output_layer_num):
    arguments = dict(poolings=poolings, output_layer_num=output_layer_num, batch_size=3)
    expected = keras_bert.extract_embeddings(cases.GOOGLE, TEXTS, **arguments)
    got = kb.extract_embeddings(cases.GOOGLE, TEXTS, **arguments)
    assert len(got) == len(expected) == len(TEXTS)
    for index, (a, b) in enumerate(zip(got, expected, strict=True)):
        assert np.shape(a) == np.shape(b), index
        np.testing.assert_allclose(a, b, rtol=0, atol=SIDE_BY_SIDE_ATOL, err_msg=str(index))


def test_tokenizer_is_keras_berts():
    token_dict = kb.load_vocabulary(os.path.join(cases.GOOGLE, "vocab.txt"))
    assert token_dict == keras_bert.load_vocabulary(os.path.join(cases.GOOGLE, "vocab.txt"))
    ours, theirs = kb.Tokenizer(token_dict), keras_bert.Tokenizer(token_dict)
    for text in TEXTS:
        pair = (text, None) if isinstance(text, str) else text
        for max_len in (None, 8, 64):
            assert ours.encode(*pair, max_len=max_len) == theirs.encode(*pair, max_len=max_len)
        assert ours.tokenize(*pair) == theirs.tokenize(*pair)


def test_gen_batch_inputs_equals_keras_berts():
    pairs = [[text.split(), "my arm changed".split()] for text in TEXTS if isinstance(text, str)]
    token_dict = keras_bert.get_base_dict()
    for first, second in pairs:
        for token in first + second:
            token_dict.setdefault(token, len(token_dict))
    token_list = list(token_dict)
    results = []
    for module in (keras_bert, kb):
        random.seed(7)
        np.random.seed(7)  # noqa: NPY002 (keras-bert draws from the global generators)
        results.append(module.gen_batch_inputs(pairs, token_dict, token_list, seq_len=24))
    (their_inputs, their_outputs), (our_inputs, our_outputs) = results
    for a, b in zip(our_inputs + our_outputs, their_inputs + their_outputs, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
