"""Pretraining data (`mask_tokens`, `BertPretrainingDataset`,
`BertPretrainingFileDataset`) with odd settings and documents: every outcome
is the batches the settings ask for, or a ValueError naming the argument."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kerastack.bert import BertPretrainingDataset, BertPretrainingFileDataset, mask_tokens
from tests.bert.test_pretraining import counting_documents, tokenizer

# Each setting: valid values, and values that must be refused.
SETTINGS = {
    "batch_size": ([1, 3, np.int64(2)], [0, -1, 2.5, True, "4", None]),
    "sequence_length": ([5, 16, np.int32(9)], [4, 0, 8.0, "16", None]),
    "mask_rate": ([0.0, 0.15, 1, np.float32(0.5)], [-0.1, 1.5, float("nan"), "0.1", None]),
    "max_predictions": ([1, 5, np.int64(3)], [0, -2, 2.0, None]),
    "random_next_rate": ([0.0, 0.5, 1.0], [-1e-9, 1.01, float("inf"), True]),
    "mask_token_rate": ([0.0, 0.8], [-0.5, 2.0, float("nan")]),
    "random_token_rate": ([0.0, 0.1], [-0.1, 1.1]),
    "whole_word_masking": ([True, False, np.bool_(True)], [1, "yes", None]),
    "shuffle": ([True, False], [0, "no"]),
    "seed": ([0, 7, np.int64(3)], [-1, 1.5, "0", None]),
}


@st.composite
def settings(draw):
    chosen = {}
    for name in draw(st.lists(st.sampled_from(sorted(SETTINGS)), max_size=3, unique=True)):
        good, bad = SETTINGS[name]
        chosen[name] = draw(st.sampled_from(good + bad))
    return chosen


def refused(chosen):
    bad = [name for name, value in chosen.items() if _is_bad(name, value)]
    return bad


def _is_bad(name, value):
    # sampled_from hands back the listed objects themselves.
    return any(value is bad for bad in SETTINGS[name][1])


@given(settings())
def test_dataset_settings_give_batches_or_a_named_error(chosen):
    bad = refused(chosen)
    documents = counting_documents(count=4, sentences=3)
    if bad:
        with pytest.raises(ValueError) as error:
            BertPretrainingDataset(documents, tokenizer(), **chosen)
        assert any(name in str(error.value) for name in bad), (chosen, error.value)
        return
    data = BertPretrainingDataset(documents, tokenizer(), **chosen)
    inputs, labels, weights = data[0]
    length = int(chosen.get("sequence_length", 128))
    predictions = int(chosen.get("max_predictions", 20))
    rows = min(int(chosen.get("batch_size", 32)), len(data._examples))
    assert inputs["token_ids"].shape == (rows, length)
    assert inputs["mask_positions"].shape == (rows, predictions)
    assert labels["mlm_logits"].shape == (rows, predictions)
    assert np.all((inputs["token_ids"] >= 0) & (inputs["token_ids"] < len(tokenizer().vocabulary)))
    assert set(np.unique(weights["mlm_logits"])) <= {0.0, 1.0}


@given(chosen=settings())
def test_file_dataset_settings_give_batches_or_a_named_error(chosen, tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    for index, document in enumerate(counting_documents(count=4, sentences=3)):
        (folder / f"part-{index}.txt").write_text("\n".join(document) + "\n\n", encoding="utf-8")
    files = str(folder / "part-*.txt")
    bad = refused(chosen)
    chosen = dict(chosen, process_index=0, process_count=1)
    if bad:
        with pytest.raises(ValueError) as error:
            BertPretrainingFileDataset(files, tokenizer(), **chosen)
        assert any(name in str(error.value) for name in bad), (chosen, error.value)
        return
    data = BertPretrainingFileDataset(files, tokenizer(), **chosen)
    inputs, _, _ = data[0]
    assert inputs["token_ids"].shape[1] == int(chosen.get("sequence_length", 128))


@pytest.mark.parametrize(
    "argument, value",
    [
        ("example_bytes", 0),
        ("example_bytes", 2.5),
        ("num_batches", 0),
        ("num_batches", "3"),
        ("process_index", -1),
        ("process_index", 1.0),
        ("process_count", 0),
    ],
)
def test_file_dataset_arguments_are_checked(argument, value, tmp_path):
    (tmp_path / "a.txt").write_text("w1 w2\nw3 w4\n\nw5 w6\nw7\n", encoding="utf-8")
    others = {"process_index": 0, "process_count": 1}
    with pytest.raises(ValueError, match=argument):
        BertPretrainingFileDataset(
            str(tmp_path / "a.txt"), tokenizer(), **{**others, argument: value}
        )


@pytest.mark.parametrize("documents", ["w1 w2", [["w1 w2", "w3"], "w4 w5"], [["w1", b"w2"]], [5]])
def test_documents_that_are_not_lists_of_str_are_refused(documents):
    with pytest.raises(ValueError, match="Document|documents"):
        BertPretrainingDataset(documents, tokenizer())


@pytest.mark.parametrize(
    "argument, value",
    [
        ("mask_rate", 1.5),
        ("mask_rate", float("nan")),
        ("max_predictions", 0),
        ("max_predictions", 2.0),
        ("mask_token_rate", -0.1),
        ("random_token_rate", 1.5),
    ],
)
def test_mask_tokens_arguments_are_checked(argument, value):
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=argument):
        mask_tokens(np.arange(2, 12), rng, 20, 1, [0, 1], **{argument: value})
