"""extract_embeddings / iter_embeddings with careless arguments, text files
that are not UTF-8, and calls from several threads (issue 17, section 6;
every Keras 3 lane).

Every outcome is either the result of the same call with clean arguments
(NumPy ints taken as ints) or a ValueError naming the argument, or the file
and line.
"""

import os
import pathlib
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kerastack.bert import BertBackbone, BertTokenizer, extract_embeddings, iter_embeddings
from tests.conformance import make_references as refs

GOOGLE = os.path.join(refs.FIXTURES, "tiny_google")
TEXTS = ["all work and no play", "makes jack", "a dull boy from the day forth", "my arm"]


@pytest.fixture(scope="module")
def model():
    backbone = BertBackbone.from_pretrained(GOOGLE)
    tokenizer = BertTokenizer(os.path.join(GOOGLE, "vocab.txt"))
    reference = extract_embeddings(backbone, TEXTS, tokenizer=tokenizer, pooling="mean")
    return backbone, tokenizer, reference


# Values for an int argument: (value, the int it stands for, or None if refused).
INTS = [
    (1, 1),
    (2, 2),
    (np.int64(3), 3),
    (np.int32(1), 1),
    (np.uint8(2), 2),
    (0, None),
    (-1, None),
    (2.5, None),
    (2.0, None),
    (True, None),
    (np.bool_(True), None),
    ("2", None),
    (None, None),
    ([2], None),
]
ARGUMENTS = {
    "batch_size": (INTS, lambda n, model: n >= 1),
    "num_layers": (INTS, lambda n, model: 1 <= n <= model.num_layers),
    "max_length": (INTS + [(64, 64), (65, None)], lambda n, model: 12 <= n <= 64),
    "truncate": ([(False, False), (np.bool_(False), False), (0, None), ("yes", None)], None),
    "verbose": ([(0, 0), ("auto", "auto"), (np.int64(0), 0), ("loud", None), (3, None)], None),
    "pooling": ([("mean", "mean"), (("mean",), "mean"), (3, None), ("sum", None)], None),
}


@settings(max_examples=max(1, settings.default.max_examples // 2))
@given(argument=st.sampled_from(sorted(ARGUMENTS)), data=st.data())
def test_arguments_give_the_clean_result_or_a_named_error(model, argument, data):
    backbone, tokenizer, reference = model
    values, in_range = ARGUMENTS[argument]
    value, clean = data.draw(st.sampled_from(values))
    if argument == "max_length" and value is None:
        clean = 64  # None: the model's max_sequence_length
    elif clean is not None and in_range is not None and not in_range(clean, backbone):
        clean = None
    kwargs = {"tokenizer": tokenizer, "pooling": "mean", argument: value}
    if clean is None:
        with pytest.raises(ValueError, match=argument):
            extract_embeddings(backbone, TEXTS, **kwargs)
        # A bad argument is an error at the call, not at the first text (a
        # max_length shorter than a text is found at that text).
        if not (argument == "max_length" and value in (1, 2, 3)):
            with pytest.raises(ValueError, match=argument):
                iter_embeddings(backbone, TEXTS, **kwargs)
        return
    result = extract_embeddings(backbone, TEXTS, **kwargs)
    if argument == "num_layers" and clean > 1:
        assert result.shape == (len(TEXTS), clean * reference.shape[1])
        result = result[:, -reference.shape[1] :]  # the last block's, last
    np.testing.assert_allclose(result, reference, atol=1e-5)


@settings(max_examples=max(1, settings.default.max_examples // 2))
@given(
    lines=st.lists(st.text("abcdefghij ", min_size=1, max_size=12), min_size=1, max_size=6),
    bad_line=st.integers(0, 5),
    bad_bytes=st.sampled_from([b"\xff", b"\xc3\x28", b"\xe2\x82", b"caf\xe9", b"\xed\xa0\x80"]),
    newline=st.sampled_from([b"\n", b"\r\n", b"\r"]),
)
def test_a_file_that_is_not_utf8_is_named_with_its_line(
    model, tmp_path, lines, bad_line, bad_bytes, newline
):
    backbone, tokenizer, _ = model
    bad_line %= len(lines)
    raw = [line.encode() for line in lines]
    raw[bad_line] += bad_bytes
    path = tmp_path / "texts.txt"
    path.write_bytes(newline.join(raw) + newline)
    with pytest.raises(ValueError) as error:
        extract_embeddings(backbone, path, tokenizer=tokenizer)
    assert f"{path}, line {bad_line + 1}: not UTF-8 text" in str(error.value)
    with open(path, encoding="utf-8") as file, pytest.raises(ValueError) as error:
        extract_embeddings(backbone, file, tokenizer=tokenizer, verbose=0)
    assert str(path) in str(error.value) and "not utf-8 text" in str(error.value)


def test_utf16_and_clean_files(model, tmp_path):
    backbone, tokenizer, reference = model
    path = tmp_path / "utf16.txt"
    path.write_text("\n".join(TEXTS) + "\n", encoding="utf-16")
    with pytest.raises(ValueError, match=r"utf16.txt, line 1: not UTF-8 text"):
        extract_embeddings(backbone, path, tokenizer=tokenizer)
    path = tmp_path / "clean.txt"
    path.write_bytes("\r\n".join(TEXTS).encode() + b"\r\n")
    from_file = extract_embeddings(backbone, path, tokenizer=tokenizer, pooling="mean")
    np.testing.assert_allclose(from_file, reference, atol=1e-6)


def test_other_bad_arguments_are_value_errors(model):
    backbone, tokenizer, _ = model
    cases = [
        ((backbone, 3), {"tokenizer": tokenizer}, "texts must be a list or iterable"),
        ((backbone, "one text"), {"tokenizer": tokenizer}, "texts is one str"),
        ((backbone, b"bytes"), {"tokenizer": tokenizer}, "texts is one str"),
        ((backbone, ["ok", None]), {"tokenizer": tokenizer}, "Text 1 is neither"),
        ((backbone, [("a", 1)]), {"tokenizer": tokenizer}, "Text 0 is neither"),
        ((backbone, TEXTS), {"tokenizer": "vocab.txt"}, "tokenizer must be a BertTokenizer"),
        ((object(), TEXTS), {"tokenizer": tokenizer}, "model must be a BertBackbone"),
    ]
    for args, kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            extract_embeddings(*args, **kwargs)
    with pytest.raises(FileNotFoundError):
        extract_embeddings(backbone, pathlib.Path("/nonexistent/texts.txt"), tokenizer=tokenizer)


def test_four_threads_get_the_serial_results(model):
    backbone, tokenizer, reference = model
    tokens = extract_embeddings(backbone, TEXTS, tokenizer=tokenizer)
    results, errors = [None] * 4, []

    def work(index):
        try:
            pooled = extract_embeddings(backbone, TEXTS, tokenizer=tokenizer, pooling="mean")
            results[index] = (pooled, extract_embeddings(backbone, TEXTS, tokenizer=tokenizer))
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(repr(error))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for pooled, token_rows in results:
        np.testing.assert_allclose(pooled, reference, atol=1e-6)
        for row, expected in zip(token_rows, tokens, strict=True):
            np.testing.assert_allclose(row, expected, atol=1e-6)
