"""The encoder backbones' optional `attention_mask` and `position_ids`
inputs: packed sequences give each sequence's own outputs, UniLM's mask hides
what it should, and the inputs survive configs, saving and task heads.

The reference for packing is the same backbone run on each sequence alone
(its outputs are checked against transformers in tests/conformance)."""

import numpy as np
import pytest

from kerastack.attention import packed_attention_mask, prefix_lm_attention_mask
from kerastack.bert import AlbertBackbone, BertBackbone, BertClassifier, RobertaBackbone
from kerastack.core import keras, ops
from tests.bert.test_families import SMALL  # the same small shape

FAMILIES = {
    "bert": (BertBackbone, SMALL),
    "roberta": (RobertaBackbone, SMALL),
    "albert": (
        AlbertBackbone,
        {**SMALL, "embedding_dim": 8, "num_layers": 4, "num_groups": 2, "layers_per_group": 2},
    ),
}
EXTRA = {"attention_mask_input": True, "position_ids_input": True}
TOLERANCE = 1e-5  # float32, the same weights on both sides


def numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


def model_inputs(family, ids, padding_mask, segment_ids=None):
    inputs = {"token_ids": ids, "padding_mask": padding_mask}
    if family != "roberta":
        inputs["segment_ids"] = np.zeros_like(ids) if segment_ids is None else segment_ids
    return inputs


def first_position(family):
    # RoBERTa's real tokens take the position rows from padding_id + 1 (= 2).
    return 2 if family == "roberta" else 0


@pytest.mark.parametrize("family", FAMILIES)
def test_packed_sequences_give_each_sequence_its_own_outputs(family):
    cls, arguments = FAMILIES[family]
    packed_backbone = cls(**arguments, **EXTRA)
    alone_backbone = cls(**arguments)
    alone_backbone.set_weights(packed_backbone.get_weights())  # no weights of their own
    rng = np.random.default_rng(0)
    lengths = [(5, 4), (3, 6)]  # two rows, each two sequences and one padding token
    T = 10
    ids = rng.integers(3, 40, size=(2, T)).astype("int32")
    sequence_ids = np.zeros((2, T), "int32")
    position_ids = np.zeros((2, T), "int32")
    for row, row_lengths in enumerate(lengths):
        start = 0
        for number, length in enumerate(row_lengths, start=1):
            sequence_ids[row, start : start + length] = number
            position_ids[row, start : start + length] = first_position(family) + np.arange(length)
            start += length
    padding_mask = (sequence_ids > 0).astype("int32")
    inputs = model_inputs(family, ids, padding_mask)
    inputs["attention_mask"] = numpy(packed_attention_mask(sequence_ids, padding_mask=padding_mask))
    inputs["position_ids"] = position_ids
    packed = numpy(packed_backbone(inputs)["sequence_output"])  # (2, T, D)

    for row, row_lengths in enumerate(lengths):
        start = 0
        for length in row_lengths:
            piece = ids[row : row + 1, start : start + length]
            alone = alone_backbone(model_inputs(family, piece, np.ones_like(piece)))
            np.testing.assert_allclose(
                packed[row, start : start + length],
                numpy(alone["sequence_output"])[0],
                atol=TOLERANCE,
                err_msg=f"{family}: row {row}, sequence at {start}",
            )
            start += length
    # Without the block mask and positions the packed row mixes its sequences.
    plain = numpy(alone_backbone(model_inputs(family, ids, padding_mask))["sequence_output"])
    assert np.abs(plain[0, 5:9] - packed[0, 5:9]).max() > 1e-3


@pytest.mark.parametrize("family", FAMILIES)
def test_a_full_attention_mask_and_default_positions_change_nothing(family):
    cls, arguments = FAMILIES[family]
    extra_backbone = cls(**arguments, **EXTRA)
    backbone = cls(**arguments)
    backbone.set_weights(extra_backbone.get_weights())
    rng = np.random.default_rng(1)
    ids = rng.integers(3, 40, size=(2, 7)).astype("int32")
    padding_mask = np.ones_like(ids)
    padding_mask[1, 5:] = 0
    inputs = model_inputs(family, ids, padding_mask)
    expected = backbone(inputs)
    inputs["attention_mask"] = np.ones((2, 7, 7), "int32")
    # RoBERTa's default positions count real tokens from padding_id + 1.
    inputs["position_ids"] = (
        np.where(padding_mask > 0, np.cumsum(padding_mask, axis=1) + 1, 1).astype("int32")
        if family == "roberta"
        else np.broadcast_to(np.arange(7, dtype="int32"), (2, 7))
    )
    actual = extra_backbone(inputs)
    for key in ("sequence_output", "pooled_output"):
        np.testing.assert_allclose(numpy(actual[key]), numpy(expected[key]), atol=TOLERANCE)


@pytest.mark.parametrize("family", ["bert", "albert"])
def test_unilm_mask_source_sees_source_and_target_sees_the_past(family):
    cls, arguments = FAMILIES[family]
    backbone = cls(**arguments, attention_mask_input=True)
    rng = np.random.default_rng(2)
    ids = rng.integers(3, 40, size=(1, 9)).astype("int32")
    segment_ids = np.array([[0, 0, 0, 0, 1, 1, 1, 1, 1]], "int32")  # source 4, target 5
    padding_mask = np.ones_like(ids)

    def run(token_ids):
        inputs = model_inputs(family, token_ids, padding_mask, segment_ids)
        inputs["attention_mask"] = numpy(prefix_lm_attention_mask(segment_ids, padding_mask))
        return numpy(backbone(inputs)["sequence_output"])[0]

    base = run(ids)
    for changed in range(9):
        other = ids.copy()
        other[0, changed] = 3 + (ids[0, changed] - 3 + 7) % 37  # another token
        outputs = run(other)
        moved = np.abs(outputs - base).max(axis=-1) > 1e-4  # (T,)
        # Source tokens see the whole source; a target token sees the source
        # and the target up to itself.
        sees = np.array([changed < 4 or 4 <= changed <= query for query in range(9)])
        np.testing.assert_array_equal(moved, sees, err_msg=f"token {changed} changed")


@pytest.mark.parametrize("family", FAMILIES)
def test_config_and_keras_file_keep_the_inputs(family, tmp_path):
    cls, arguments = FAMILIES[family]
    backbone = cls(**arguments, **EXTRA)
    assert set(backbone.input) >= {"attention_mask", "position_ids"}
    config = backbone.get_config()
    assert config["attention_mask_input"] and config["position_ids_input"]
    assert set(cls.from_config(config).input) == set(backbone.input)
    plain = cls(**arguments)
    assert "attention_mask" not in plain.input and "position_ids" not in plain.input
    assert not plain.get_config()["attention_mask_input"]

    ids = np.array([[5, 6, 7, 8]], "int32")
    inputs = model_inputs(family, ids, np.ones_like(ids))
    inputs["attention_mask"] = np.tril(np.ones((1, 4, 4), "int32"))
    inputs["position_ids"] = np.array([[3, 2, 1, 4]], "int32")
    path = str(tmp_path / "backbone.keras")
    backbone.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(
        numpy(loaded(inputs)["sequence_output"]), numpy(backbone(inputs)["sequence_output"])
    )


def test_task_heads_take_the_backbones_inputs():
    backbone = BertBackbone(**SMALL, attention_mask_input=True)
    classifier = BertClassifier(backbone, num_classes=3)
    assert "attention_mask" in classifier.input
    ids = np.array([[5, 6, 7, 8], [9, 10, 11, 0]], "int32")
    padding_mask = (ids > 0).astype("int32")
    segment_ids = np.array([[0, 0, 1, 1], [0, 0, 1, 0]], "int32")
    inputs = {
        "token_ids": ids,
        "segment_ids": segment_ids,
        "padding_mask": padding_mask,
        "attention_mask": numpy(prefix_lm_attention_mask(segment_ids, padding_mask)),
    }
    assert numpy(classifier(inputs)).shape == (2, 3)


def test_missing_or_misshaped_attention_mask_is_an_error():
    backbone = BertBackbone(**SMALL, attention_mask_input=True)
    ids = np.array([[5, 6, 7]], "int32")
    inputs = model_inputs("bert", ids, np.ones_like(ids))
    with pytest.raises((ValueError, KeyError), match="attention_mask"):
        backbone(inputs)
    with pytest.raises(ValueError):
        backbone({**inputs, "attention_mask": np.ones((1, 3), "int32")})
