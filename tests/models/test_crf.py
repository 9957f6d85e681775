"""kerastack.models.ConditionalRandomField against a NumPy reference that
enumerates every tag path, and BertTokenClassifier's CRF head trained on a
generated tagging task."""

import itertools
import os
import tempfile

import numpy as np
import pytest

from kerastack.bert import BertBackbone, BertTokenClassifier, BertTokenizer
from kerastack.core import keras, ops
from kerastack.models import ConditionalRandomField
from tests.tolerances import FLOAT32_ATOL, SAVE_ATOL


def _crf(tags, seed=0):
    rng = np.random.default_rng(seed)
    crf = ConditionalRandomField()
    crf.build((None, None, tags))
    crf.transitions.assign(rng.normal(size=(tags, tags)).astype("float32"))
    crf.start.assign(rng.normal(size=tags).astype("float32"))
    crf.end.assign(rng.normal(size=tags).astype("float32"))
    return crf


def _reference(crf, emissions, lengths):
    """`(log Z, best path, score of each path)` per row, by enumeration."""
    transitions, start, end = (
        np.asarray(ops.convert_to_numpy(w), "float64")
        for w in (crf.transitions, crf.start, crf.end)
    )
    results = []
    for row, length in zip(emissions.astype("float64"), lengths, strict=True):
        scores = {}
        for path in itertools.product(range(row.shape[1]), repeat=length):
            score = start[path[0]] + end[path[-1]] + sum(row[t, k] for t, k in enumerate(path))
            score += sum(transitions[a, b] for a, b in zip(path, path[1:], strict=False))
            scores[path] = score
        values = np.array(list(scores.values()))
        log_z = values.max() + np.log(np.exp(values - values.max()).sum())
        results.append((log_z, max(scores, key=scores.get), scores))
    return results


def test_log_likelihood_and_viterbi_equal_enumerating_every_path():
    rng = np.random.default_rng(1)
    crf = _crf(3)
    lengths = [5, 3, 1]
    emissions = rng.normal(scale=2.0, size=(3, 5, 3)).astype("float32")
    mask = np.arange(5)[None, :] < np.array(lengths)[:, None]
    tags = rng.integers(0, 3, size=(3, 5))
    reference = _reference(crf, emissions, lengths)

    log_z = ops.convert_to_numpy(crf.log_partition(emissions, mask))
    np.testing.assert_allclose(log_z, [r[0] for r in reference], rtol=0, atol=FLOAT32_ATOL)
    likelihood = ops.convert_to_numpy(crf.log_likelihood(tags, emissions, mask))
    expected = [
        r[2][tuple(row[:length])] - r[0]
        for r, row, length in zip(reference, tags, lengths, strict=True)
    ]
    np.testing.assert_allclose(likelihood, expected, rtol=0, atol=FLOAT32_ATOL)
    np.testing.assert_allclose(
        ops.convert_to_numpy(crf.loss(tags, emissions, mask)),
        -np.array(expected),
        atol=FLOAT32_ATOL,
    )
    paths = ops.convert_to_numpy(crf.decode(emissions, mask))
    for row, length, r in zip(paths, lengths, reference, strict=True):
        assert tuple(row[:length]) == r[1]
        assert (row[length:] == -1).all()
    # Labels at padding change nothing.
    other = np.where(mask, tags, 2)
    np.testing.assert_allclose(
        ops.convert_to_numpy(crf.log_likelihood(other, emissions, mask)), likelihood, atol=1e-6
    )


def test_without_a_mask_every_token_is_real():
    crf = _crf(2, seed=3)
    emissions = np.random.default_rng(4).normal(size=(2, 4, 2)).astype("float32")
    reference = _reference(crf, emissions, [4, 4])
    np.testing.assert_allclose(
        ops.convert_to_numpy(crf.log_partition(emissions)), [r[0] for r in reference], atol=1e-5
    )
    paths = ops.convert_to_numpy(crf.decode(emissions))
    assert [tuple(row) for row in paths] == [r[1] for r in reference]


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match=r"emissions \(B, T, K\)"):
        ConditionalRandomField()(np.zeros((2, 3), "float32"))
    backbone = _backbone(30)
    with pytest.raises(ValueError, match="`crf` must be True or False"):
        BertTokenClassifier(backbone, num_classes=2, crf="yes")
    tagger = BertTokenClassifier(backbone, num_classes=2, crf=True)
    tagger.compile(optimizer="adam")
    ids = np.array([[2, 7, 3]])
    inputs = {"token_ids": ids, "segment_ids": 0 * ids, "padding_mask": 1 + 0 * ids}
    with pytest.raises(ValueError, match="one weight per row"):
        tagger.fit(inputs, 0 * ids, sample_weight=np.ones((1, 3)), verbose=0)


# -- a tagger with a CRF head, trained ------------------------------------------------

WORDS = ["jack", "jill", "went", "up", "the", "hill", "to", "fetch", "a", "pail"]
VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
NAMES = {"jack", "jill"}


def _backbone(vocabulary_size):
    keras.utils.set_random_seed(0)
    return BertBackbone(
        vocabulary_size=vocabulary_size,
        num_layers=2,
        num_heads=2,
        hidden_dim=32,
        intermediate_dim=64,
        max_sequence_length=16,
        dropout=0.0,
    )


def _tagged(count, seed):
    """Texts and their tags at each position of `[CLS] words [SEP]`: 1 on a
    name, 2 on the word after a name, else 0 (0 on [CLS] and [SEP])."""
    rng = np.random.default_rng(seed)
    data = []
    for _ in range(count):
        words = list(rng.choice(WORDS, size=rng.integers(3, 9)))
        tags = [0]
        for index, word in enumerate(words):
            tags.append(1 if word in NAMES else 2 if index and words[index - 1] in NAMES else 0)
        data.append((" ".join(words), tags + [0]))
    return data


def _batch(tokenizer, data, length=12):
    inputs = tokenizer.encode_batch([text for text, _ in data], max_length=length)
    labels = np.zeros((len(data), length), "int32")
    for row, (_, tags) in enumerate(data):
        labels[row, : len(tags)] = tags
    return inputs, labels


def test_a_crf_tagger_learns_held_out_tags_and_saves():
    tokenizer = BertTokenizer(VOCABULARY)
    tagger = BertTokenClassifier(_backbone(len(VOCABULARY)), num_classes=3, dropout=0.0, crf=True)
    tagger.compile(optimizer=keras.optimizers.Adam(3e-3))
    inputs, labels = _batch(tokenizer, _tagged(512, seed=1))
    tagger.fit(inputs, labels, batch_size=32, epochs=20, verbose=0)

    held_inputs, held_labels = _batch(tokenizer, _tagged(40, seed=2))
    tags = tagger.predict_tags(held_inputs)
    real = held_inputs["padding_mask"].astype(bool)
    rows_right = [(t[m] == y[m]).all() for t, y, m in zip(tags, held_labels, real, strict=True)]
    assert np.mean(rows_right) >= 0.95, np.mean(rows_right)
    assert (tags[~real] == -1).all()

    path = os.path.join(tempfile.mkdtemp(), "tagger.keras")
    tagger.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    assert loaded.crf is not None
    np.testing.assert_allclose(
        ops.convert_to_numpy(loaded.crf.transitions),
        ops.convert_to_numpy(tagger.crf.transitions),
        atol=SAVE_ATOL,
    )
    np.testing.assert_array_equal(loaded.predict_tags(held_inputs), tags)


def test_unknown_tags_are_summed_over():
    """Tags outside 0..K-1 (HF's -100) at real tokens: log p of the known
    tags, summing over the unknown ones, as enumerating every path gives."""
    rng = np.random.default_rng(5)
    crf = _crf(3, seed=6)
    emissions = rng.normal(scale=2.0, size=(2, 4, 3)).astype("float32")
    lengths = [4, 3]
    mask = np.arange(4)[None, :] < np.array(lengths)[:, None]
    tags = np.array([[-100, 1, 2, -100], [0, 7, 1, 0]])  # 7 is no tag either
    likelihood = ops.convert_to_numpy(crf.log_likelihood(tags, emissions, mask))
    for row, (log_z, _, scores) in enumerate(_reference(crf, emissions, lengths)):
        agree = [
            score
            for path, score in scores.items()
            if all(not 0 <= tags[row, t] < 3 or path[t] == tags[row, t] for t in range(len(path)))
        ]
        expected = np.log(np.exp(np.array(agree) - log_z).sum())
        np.testing.assert_allclose(likelihood[row], expected, atol=FLOAT32_ATOL)
