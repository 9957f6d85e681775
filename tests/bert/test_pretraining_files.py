"""BertPretrainingFileDataset: MLM + NSP batches read lazily from sharded
text files, each process reading only its own files (every Keras 3 lane)."""

import pickle

import numpy as np
import pytest

from kerastack.bert import BertBackbone, BertPretrainer, BertTokenizer, pretraining
from kerastack.bert.pretraining import BertPretrainingFileDataset
from kerastack.core import keras

FILES, DOCUMENTS, SENTENCES, WORDS = 4, 5, 6, 3
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def word(file, document, sentence, position):
    return f"x{((file * DOCUMENTS + document) * SENTENCES + sentence) * WORDS + position}"


def where(token):
    """(file, document, sentence, position) of a corpus word."""
    number = int(token[1:])
    number, position = divmod(number, WORDS)
    number, sentence = divmod(number, SENTENCES)
    file, document = divmod(number, DOCUMENTS)
    return file, document, sentence, position


TOKENS = SPECIAL + [
    word(f, d, s, w)
    for f in range(FILES)
    for d in range(DOCUMENTS)
    for s in range(SENTENCES)
    for w in range(WORDS)
]


def tokenizer():
    return BertTokenizer(TOKENS, lowercase=True)


def write_corpus(folder):
    """Four files in Google's format: a sentence a line, a blank line (with
    spaces, once) between documents; every word names its place."""
    for f in range(FILES):
        blocks = [
            "\n".join(" ".join(word(f, d, s, w) for w in range(WORDS)) for s in range(SENTENCES))
            for d in range(DOCUMENTS)
        ]
        text = "\n\n".join(blocks) + "\n  \n"
        (folder / f"part-{f}.txt").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def corpus(tmp_path):
    return write_corpus(tmp_path)


def decode(inputs, labels, weights, row):
    """The row's two segments as lists of words, masks undone."""
    ids = inputs["token_ids"][row].copy()
    count = int(weights["mlm_logits"][row].sum())
    ids[inputs["mask_positions"][row, :count]] = labels["mlm_logits"][row, :count]
    length = int(inputs["padding_mask"][row].sum())
    segments = inputs["segment_ids"][row, :length]
    words = [TOKENS[i] for i in ids[:length]]
    assert words[0] == "[CLS]" and words[-1] == "[SEP]"
    first = words[1 : int(np.argmax(segments)) - 1]
    second = words[int(np.argmax(segments)) : -1]
    return first, second


def make(corpus, **kwargs):
    arguments = dict(batch_size=8, sequence_length=16, max_predictions=3, seed=1)
    return BertPretrainingFileDataset(
        str(corpus / "part-*.txt"), tokenizer(), **{**arguments, **kwargs}
    )


@pytest.mark.parametrize("process_index", [0, 1])
def test_each_process_reads_its_own_files_and_makes_google_pairs(corpus, process_index):
    data = make(corpus, process_index=process_index, process_count=2)
    own = {process_index, process_index + 2}
    assert [int(path[-5]) for path in data.files] == sorted(own)
    nsp = []
    for index in range(len(data)):
        inputs, labels, weights = data[index]
        assert inputs["token_ids"].shape[1] == 16 and inputs["mask_positions"].shape[1] == 3
        for row in range(len(inputs["token_ids"])):
            first, second = decode(inputs, labels, weights, row)
            places = [where(w) for w in first + second]
            assert {place[0] for place in places} <= own  # only this process's files
            assert len(first) + len(second) <= 13 and first
            # A is consecutive text of one document
            a = [where(w) for w in first]
            assert all(
                (p[1], p[2] * WORDS + p[3]) == (q[1], q[2] * WORDS + q[3] - 1) and p[0] == q[0]
                for p, q in zip(a[:-1], a[1:], strict=True)
            )
            label = labels["nsp_logits"][row]
            nsp.append(label)
            if second:
                b = where(second[0])
                if label == 0:  # B starts at the sentence after A's last one
                    assert b[:2] == a[-1][:2] and (b[2], b[3]) == (a[-1][2] + 1, 0)
                else:  # B is from another document
                    assert b[:2] != a[-1][:2]
    assert 0.25 < np.mean(nsp) < 0.75
    # example_bytes decides the examples: each document of 6 x ~12 bytes
    # is cut into ceil(bytes / 64) starting points
    assert len(data) == int(np.ceil(int(data._first_example[-1]) / 8))


def test_reading_is_lazy(corpus, monkeypatch):
    """Building the dataset tokenizes nothing; a batch reads a few lines of
    its own documents, not the files."""
    tokenized = []
    reads = []
    real_open = open

    class Counting:
        def __init__(self, path, mode):
            self.file, self.path = real_open(path, mode), path

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

        def __iter__(self):
            for line in self.file:
                reads.append((self.path, len(line)))
                yield line

        def seek(self, offset):
            return self.file.seek(offset)

        def readline(self):
            line = self.file.readline()
            reads.append((self.path, len(line)))
            return line

    monkeypatch.setattr(pretraining, "open", Counting, raising=False)
    tok = tokenizer()
    real_tokenize = tok.tokenize
    monkeypatch.setattr(tok, "tokenize", lambda text: tokenized.append(text) or real_tokenize(text))
    data = BertPretrainingFileDataset(
        str(corpus / "part-*.txt"), tok, batch_size=2, sequence_length=8,
        process_index=1, process_count=4,
    )  # fmt: skip
    assert tokenized == []
    indexed = sum(n for _, n in reads)
    assert indexed == (corpus / "part-1.txt").stat().st_size  # one pass over its own file
    assert {path for path, _ in reads} == {str(corpus / "part-1.txt")}
    reads.clear()
    data[0]
    assert 0 < sum(n for _, n in reads) < indexed / 3
    assert 0 < len(tokenized) < DOCUMENTS * SENTENCES / 3


def test_batches_are_reproducible_picklable_and_change_each_epoch(corpus):
    data = make(corpus)
    first = [data[i][0]["token_ids"] for i in range(len(data))]
    again = make(corpus)
    copied = pickle.loads(pickle.dumps(again))  # as multiprocessing workers get it
    for i, ids in enumerate(first):
        np.testing.assert_array_equal(again[i][0]["token_ids"], ids)
        np.testing.assert_array_equal(copied[i][0]["token_ids"], ids)
    data.on_epoch_end()
    assert any(np.any(data[i][0]["token_ids"] != ids) for i, ids in enumerate(first))


@pytest.mark.keras3("keras.distribution is Keras 3's (on Keras 2 every process reads all files)")
def test_process_shard_comes_from_the_keras_distribution(corpus, monkeypatch):
    class Distribution:  # 4 processes, 2 model replicas of 2 processes each
        num_processes, num_model_replicas, data_shard_id = 4, 2, 1

    monkeypatch.setattr(keras.distribution, "distribution", lambda: Distribution())
    data = make(corpus)
    assert (data.process_index, data.process_count) == (1, 2)
    assert [int(path[-5]) for path in data.files] == [1, 3]


def test_pretrainer_trains_on_it_with_workers(corpus):
    data = make(corpus, batch_size=16, workers=2)
    backbone = BertBackbone(
        vocabulary_size=len(TOKENS), num_layers=1, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=16, dropout=0.0,
    )  # fmt: skip
    model = BertPretrainer(backbone)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(keras.optimizers.Adam(1e-3), loss={"mlm_logits": loss, "nsp_logits": loss})
    history = model.fit(data, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))


def test_errors(corpus, tmp_path):
    tok = tokenizer()
    pattern = str(corpus / "part-*.txt")
    with pytest.raises(ValueError, match=r"4 file\(s\) for 5 processes"):
        BertPretrainingFileDataset(pattern, tok, process_index=0, process_count=5)
    with pytest.raises(ValueError, match="process_index=2 is not in 0..1"):
        BertPretrainingFileDataset(pattern, tok, process_index=2, process_count=2)
    with pytest.raises(ValueError, match="together"):
        BertPretrainingFileDataset(pattern, tok, process_index=0)
    with pytest.raises(FileNotFoundError, match="No file matches"):
        BertPretrainingFileDataset(str(corpus / "none-*.txt"), tok)
    with pytest.raises(FileNotFoundError, match="No such file"):
        BertPretrainingFileDataset(str(corpus / "absent.txt"), tok)
    (tmp_path / "empty.txt").write_text("\n \n", encoding="utf-8")
    with pytest.raises(ValueError, match="hold no text"):
        BertPretrainingFileDataset(str(tmp_path / "empty.txt"), tok)
    (tmp_path / "one.txt").write_text("x0 x1\nx2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="one document"):
        BertPretrainingFileDataset(str(tmp_path / "one.txt"), tok)
    (tmp_path / "bad.txt").write_bytes(b"x0 x1\n\xff\xfe x2\n\nx3\n")
    data = BertPretrainingFileDataset(
        str(tmp_path / "bad.txt"), tok, batch_size=4, sequence_length=16, shuffle=False
    )
    with pytest.raises(ValueError, match=r"bad\.txt: the line at byte 6 is not UTF-8"):
        data[0]


def test_num_batches_makes_every_batch_full(corpus):
    """Processes training together need the same steps and whole batches:
    `num_batches` gives both, taking examples again when they run out."""
    plain = make(corpus, process_index=0, process_count=4, shuffle=False)
    examples = int(plain._first_example[-1])
    assert examples % 8 and len(plain[len(plain) - 1][0]["token_ids"]) == examples % 8
    fixed = make(corpus, process_index=0, process_count=4, shuffle=False, num_batches=7)
    assert len(fixed) == 7 and 7 * 8 > examples
    for index in range(7):
        assert fixed[index][0]["token_ids"].shape == (8, 16)
    with pytest.raises(ValueError, match="num_batches=0"):
        make(corpus, num_batches=0)
