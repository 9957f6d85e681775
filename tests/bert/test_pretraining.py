"""MLM masking and the MLM + NSP PyDataset (every Keras 3 lane), and a
BertPretrainer that learns from it."""

import numpy as np
import pytest

from kerastack.bert import BertBackbone, BertPretrainer, BertTokenizer
from kerastack.bert.pretraining import BertPretrainingDataset, mask_tokens
from kerastack.core import keras

WORDS = [f"w{i}" for i in range(20)]
TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, "##s"]
SPECIAL = [0, 1, 2, 3, 4]
MASK = 4


def tokenizer():
    return BertTokenizer(TOKENS, lowercase=True)


def counting_documents(count=12, sentences=6, seed=0):
    """Documents whose sentences count on: "w3 w4 w5 w6", "w7 w8 w9 w10", ...
    (mod 20), so a masked word and the next sentence can be inferred."""
    rng = np.random.default_rng(seed)
    documents = []
    for _ in range(count):
        start = int(rng.integers(20))
        document = []
        for s in range(sentences):
            words = [WORDS[(start + 4 * s + k) % 20] for k in range(4)]
            document.append(" ".join(words))
        documents.append(document)
    return documents


def test_mask_tokens_chooses_the_share_and_splits_80_10_10():
    rng = np.random.default_rng(0)
    length, chosen, masked, kept, replaced = 100, 0, 0, 0, 0
    for _ in range(400):
        ids = np.concatenate([[2], rng.integers(5, 25, size=length - 2), [3]]).astype("int32")
        corrupted, positions, labels = mask_tokens(ids, rng, 26, MASK, SPECIAL)
        assert len(positions) == 15  # round(0.15 * 100)
        assert np.all(np.diff(positions) > 0)
        np.testing.assert_array_equal(labels, ids[positions])
        assert 0 not in positions and length - 1 not in positions  # [CLS], [SEP]
        untouched = np.setdiff1d(np.arange(length), positions)
        np.testing.assert_array_equal(corrupted[untouched], ids[untouched])
        new = corrupted[positions]
        chosen += len(positions)
        masked += int(np.sum(new == MASK))
        kept += int(np.sum(new == labels))
        replaced += int(np.sum((new != MASK) & (new != labels)))
        assert not np.isin(new[new != MASK], SPECIAL).any()  # random tokens are words
    # 6000 choices: each share within 2.5 points of its rate (about 5 sigma for 10%).
    assert abs(masked / chosen - 0.8) < 0.025
    # A random replacement equals the original 1 time in 20, counted as kept.
    assert abs(kept / chosen - (0.1 + 0.1 / 20)) < 0.025
    assert abs(replaced / chosen - 0.1 * 19 / 20) < 0.025


def test_mask_tokens_cap_minimum_and_rates():
    rng = np.random.default_rng(1)
    ids = np.array([2, 5, 6, 7, 3], "int32")
    _, positions, _ = mask_tokens(ids, rng, 26, MASK, SPECIAL)
    assert len(positions) == 1  # at least one
    long = np.array([2, *range(5, 25), *range(5, 25), 3], "int32")
    _, positions, _ = mask_tokens(long, rng, 26, MASK, SPECIAL, max_predictions=3)
    assert len(positions) == 3
    corrupted, positions, _ = mask_tokens(
        long, rng, 26, MASK, SPECIAL, mask_rate=0.5, mask_token_rate=1.0
    )
    assert len(positions) == 21 and np.all(corrupted[positions] == MASK)
    corrupted, positions, _ = mask_tokens(
        long, rng, 26, MASK, SPECIAL, mask_rate=0.5, mask_token_rate=0.0, random_token_rate=0.0
    )
    np.testing.assert_array_equal(corrupted, long)  # chosen but all kept


def test_whole_word_masking_takes_every_piece_of_a_word():
    rng = np.random.default_rng(2)
    # Words of 1 to 3 pieces: ids 5.. start a word, 25 ("##s") continues one.
    for _ in range(200):
        pieces, starts = [2], [True]
        for _ in range(int(rng.integers(5, 30))):
            size = int(rng.integers(1, 4))
            pieces += [int(rng.integers(5, 25))] + [25] * (size - 1)
            starts += [True] + [False] * (size - 1)
        pieces.append(3)
        starts.append(True)
        word = np.cumsum(starts)  # a word number per piece
        _, positions, _ = mask_tokens(
            pieces, rng, 26, MASK, SPECIAL, word_starts=starts, mask_rate=0.3
        )
        assert len(positions) <= max(1, round(0.3 * len(pieces)))
        for w in np.unique(word[positions]):
            pieces_of_w = np.flatnonzero(word == w)
            np.testing.assert_array_equal(np.intersect1d(positions, pieces_of_w), pieces_of_w)


def test_dataset_batches_shapes_segments_and_labels():
    documents = counting_documents()
    data = BertPretrainingDataset(
        documents, tokenizer(), batch_size=8, sequence_length=12, max_predictions=3, seed=3
    )
    assert len(data) == 8  # 12 documents x 5 pairs = 60 examples, 8 a batch
    vocabulary = tokenizer().vocabulary
    following = {}
    for document in documents:
        for a, b in zip(document[:-1], document[1:], strict=True):
            following[a] = b
    segments = {segment for document in documents for segment in document}
    nsp = []
    for index in range(len(data)):
        inputs, labels, weights = data[index]
        size = 8 if index < 7 else 4
        assert inputs["token_ids"].shape == (size, 12) and inputs["token_ids"].dtype == np.int32
        assert inputs["mask_positions"].shape == (size, 3)
        assert labels["mlm_logits"].shape == (size, 3) and labels["nsp_logits"].shape == (size,)
        for row in range(size):
            ids = inputs["token_ids"][row]
            real = inputs["padding_mask"][row].astype(bool)
            assert real.sum() == 11  # [CLS] 4 words [SEP] 4 words [SEP]
            assert ids[0] == vocabulary["[CLS]"] and ids[5] == ids[10] == vocabulary["[SEP]"]
            np.testing.assert_array_equal(inputs["segment_ids"][row], [0] * 6 + [1] * 5 + [0])
            count = int(weights["mlm_logits"][row].sum())
            assert count == 2  # round(0.15 * 11)
            positions = inputs["mask_positions"][row, :count]
            restored = ids.copy()
            restored[positions] = labels["mlm_logits"][row, :count]
            words = [TOKENS[i] for i in restored]
            first, second = " ".join(words[1:5]), " ".join(words[6:10])
            if labels["nsp_logits"][row] == 0:
                assert following[first] == second
            else:  # a random segment (of another document: see below)
                assert second in segments
            nsp.append(labels["nsp_logits"][row])
    assert 0.3 < np.mean(nsp) < 0.7


def test_random_next_segments_come_from_other_documents():
    # Five documents of two segments, each document with its own words.
    documents = [[f"w{4 * d} w{4 * d + 1}", f"w{4 * d + 2} w{4 * d + 3}"] for d in range(5)]
    owner = {f"w{i}": i // 4 for i in range(20)}
    data = BertPretrainingDataset(
        documents, tokenizer(), batch_size=5, sequence_length=8, mask_rate=0.01,
        random_next_rate=0.5, mask_token_rate=0.0, random_token_rate=0.0,
    )  # fmt: skip
    labels_seen = []
    for _ in range(40):
        inputs, labels, _ = data[0]
        for ids, label in zip(inputs["token_ids"], labels["nsp_logits"], strict=True):
            words = [TOKENS[i] for i in ids]
            first, second = owner[words[1]], owner[words[4]]
            assert (first == second) == (label == 0)
            labels_seen.append(label)
        data.on_epoch_end()
    assert 0.4 < np.mean(labels_seen) < 0.6  # 200 pairs


def test_dataset_is_reproducible_and_changes_each_epoch():
    def batches(data):
        return [data[i][0]["token_ids"] for i in range(len(data))]

    make = lambda: BertPretrainingDataset(counting_documents(), tokenizer(), batch_size=16, seed=7)  # noqa: E731
    first, again = make(), make()
    for a, b in zip(batches(first), batches(again), strict=True):
        np.testing.assert_array_equal(a, b)
    before = batches(first)
    first.on_epoch_end()
    assert any(
        a.shape != b.shape or np.any(a != b) for a, b in zip(before, batches(first), strict=True)
    )


def test_truncation_is_longest_first_within_sequence_length():
    documents = [["w1 w2 w3 w4 w5 w6 w7 w8", "w9"], ["w10 w11", "w12 w13"]]
    data = BertPretrainingDataset(
        documents, tokenizer(), batch_size=2, sequence_length=7, random_next_rate=0.0, shuffle=False
    )
    inputs, _, _ = data[0]
    np.testing.assert_array_equal(inputs["padding_mask"].sum(axis=1), [7, 7])
    np.testing.assert_array_equal(inputs["segment_ids"][0], [0, 0, 0, 0, 0, 1, 1])  # 3 + 1 words


def test_dataset_errors():
    tok = tokenizer()
    with pytest.raises(ValueError, match="only one non-empty document"):
        BertPretrainingDataset([["w1", "w2"]], tok)
    with pytest.raises(ValueError, match="no example"):
        BertPretrainingDataset([["w1"], ["w2"]], tok)
    with pytest.raises(ValueError, match="Document 1 holds a int"):
        BertPretrainingDataset([["w1", "w2"], ["w3", 4]], tok)
    with pytest.raises(ValueError, match="sequence_length=4"):
        BertPretrainingDataset(counting_documents(), tok, sequence_length=4)
    with pytest.raises(ValueError, match="random_next_rate"):
        BertPretrainingDataset(counting_documents(), tok, random_next_rate=1.5)
    with pytest.raises(IndexError):
        BertPretrainingDataset(counting_documents(), tok, batch_size=64)[1]


def masked_accuracy(model, data):
    hits = total = 0
    for index in range(len(data)):
        inputs, labels, weights = data[index]
        logits = model.predict_on_batch(inputs)["mlm_logits"]
        real = weights["mlm_logits"] > 0
        hits += int(np.sum((np.argmax(logits, -1) == labels["mlm_logits"])[real]))
        total += int(real.sum())
    return hits / total


def test_pretrainer_learns_from_the_dataset():
    keras.utils.set_random_seed(0)
    backbone = BertBackbone(
        vocabulary_size=len(TOKENS),
        num_layers=2,
        num_heads=2,
        hidden_dim=64,
        intermediate_dim=128,
        max_sequence_length=12,
        dropout=0.0,
    )
    model = BertPretrainer(backbone)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss={
            "mlm_logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            "nsp_logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        },
    )
    train = BertPretrainingDataset(
        counting_documents(48), tokenizer(), batch_size=16, sequence_length=12,
        max_predictions=3, mask_rate=0.25, seed=0,
    )  # fmt: skip
    held_out = BertPretrainingDataset(
        counting_documents(16, seed=1), tokenizer(), batch_size=16, sequence_length=12,
        max_predictions=3, mask_rate=0.25, seed=1,
    )  # fmt: skip
    before = masked_accuracy(model, held_out)
    history = model.fit(train, epochs=10, verbose=0)
    after = masked_accuracy(model, held_out)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < 0.7 * losses[0]
    # 20 words, each inferable from its neighbours: chance is 1 in 20 (about
    # 0.53-0.64 after 10 epochs on the three backends, about 0.9 after 20).
    assert before < 0.2 and after > 0.35, (before, after)
