"""kerastack-nezha against Huawei-format TensorFlow checkpoints and the real
bert4keras, on every Keras 3 lane (TensorFlow or not).

The fixtures are written by `python -m tests.conformance.make_nezha_references`
(tfkeras lane's environment): a tiny checkpoint under Huawei's (Google
BERT's) names from fixed random weights, and the real bert4keras 0.11.5's
NEZHA outputs on it. The checkpoint is read with the kit's
`read_tf_checkpoint` (no TensorFlow) and checked against the NumPy
reference of the paper's formulas (tests/nezha/reference.py) and against
bert4keras's recorded outputs."""

import importlib.util
import re

import numpy as np
import pytest

from kerastack.models import read_tf_checkpoint
from kerastack.nezha import (
    NezhaBackbone,
    NezhaConfig,
    NezhaMaskedLM,
    huawei_to_hf_name,
    load_huawei_checkpoint,
)
from tests.conformance.make_nezha_references import (
    CHECKPOINT,
    FOLDER,
    LONG_IDS,
    LONG_SEGMENTS,
    RECORDED,
    SHORT_IDS,
    SHORT_SEGMENTS,
    hf_reference_weights,
)
from tests.nezha import reference
from tests.tolerances import FLOAT32_ATOL, FLOAT32_RTOL, RECORDED_TINY_ATOL

_TRAINING_STATE = re.compile(r"(adam_m|adam_v|global_step)$")


@pytest.fixture(scope="module")
def weights():
    """The checkpoint's weights by HF's names, renamed by the fixture
    maker's own rules (not kerastack's)."""
    tensors = {
        name: value
        for name, value in read_tf_checkpoint(CHECKPOINT).items()
        if not _TRAINING_STATE.search(name)
    }
    return hf_reference_weights(tensors)


@pytest.fixture(scope="module")
def recorded():
    with np.load(RECORDED) as arrays:
        return dict(arrays)


def _inputs(ids, segments):
    return {"token_ids": ids, "segment_ids": segments, "padding_mask": (ids != 0).astype("int32")}


def softmax(x):
    x = np.exp(x - x.max(-1, keepdims=True))
    return x / x.sum(-1, keepdims=True)


def test_masked_lm_from_huawei_checkpoint_matches_numpy_and_bert4keras(weights, recorded):
    model = NezhaMaskedLM.from_pretrained(FOLDER)
    length = SHORT_IDS.shape[1]
    positions = np.tile(np.arange(length, dtype="int32"), (len(SHORT_IDS), 1))
    outputs = model.predict(
        dict(_inputs(SHORT_IDS, SHORT_SEGMENTS), mask_positions=positions), verbose=0
    )
    sequence, _ = reference.encoder(
        weights, SHORT_IDS, SHORT_SEGMENTS, SHORT_IDS != 0, num_heads=3, max_relative_position=3
    )
    expected = reference.masked_lm_logits(weights, sequence)
    np.testing.assert_allclose(outputs, expected, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL)
    np.testing.assert_allclose(
        softmax(outputs), recorded["mlm_probabilities_3"], atol=RECORDED_TINY_ATOL, rtol=0
    )


def test_backbone_from_huawei_checkpoint_matches_numpy_and_bert4keras(weights, recorded):
    backbone = NezhaBackbone.from_pretrained(FOLDER)
    assert backbone.max_relative_position == 3
    outputs = backbone.predict(_inputs(SHORT_IDS, SHORT_SEGMENTS), verbose=0)
    sequence, pooled = reference.encoder(
        weights, SHORT_IDS, SHORT_SEGMENTS, SHORT_IDS != 0, num_heads=3, max_relative_position=3
    )
    np.testing.assert_allclose(
        outputs["sequence_output"], sequence, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL
    )
    np.testing.assert_allclose(
        outputs["pooled_output"], pooled, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL
    )
    np.testing.assert_allclose(
        outputs["sequence_output"], recorded["sequence_output_3"], atol=RECORDED_TINY_ATOL, rtol=0
    )
    np.testing.assert_allclose(
        outputs["pooled_output"], recorded["pooled_output_3"], atol=RECORDED_TINY_ATOL, rtol=0
    )


def test_released_bert4keras_nezha_on_long_rows(weights, recorded):
    """bert4keras's NEZHA as released (distances clipped at 64) on rows of
    70 tokens: the same weights, max_relative_position=64."""
    arguments = NezhaConfig.from_json(FOLDER).backbone_arguments()
    backbone = NezhaBackbone(**dict(arguments, max_relative_position=64))
    left_out = load_huawei_checkpoint(backbone, FOLDER)
    assert left_out and all(name.startswith("cls.") for name in left_out)
    outputs = backbone.predict(_inputs(LONG_IDS, LONG_SEGMENTS), verbose=0)["sequence_output"]
    np.testing.assert_allclose(
        outputs, recorded["long_sequence_output_64"], atol=RECORDED_TINY_ATOL, rtol=0
    )
    sequence, _ = reference.encoder(
        weights, LONG_IDS, LONG_SEGMENTS, LONG_IDS != 0, num_heads=3, max_relative_position=64
    )
    np.testing.assert_allclose(outputs, sequence, atol=FLOAT32_ATOL, rtol=FLOAT32_RTOL)


def test_renaming_agrees_with_the_fixture_makers():
    tensors = {
        name: value
        for name, value in read_tf_checkpoint(CHECKPOINT).items()
        if not _TRAINING_STATE.search(name) and not name.startswith("cls/seq_relationship")
    }
    ours = {}
    for name, value in tensors.items():
        hf_name, transpose = huawei_to_hf_name(name)
        ours[hf_name] = value.T if transpose else value
    theirs = hf_reference_weights(tensors)
    assert ours.keys() == theirs.keys()
    for name, value in ours.items():
        np.testing.assert_array_equal(value, theirs[name])


def test_wrong_shape_is_an_error_naming_it():
    arguments = NezhaConfig.from_json(FOLDER).backbone_arguments()
    backbone = NezhaBackbone(**dict(arguments, intermediate_dim=24))
    before = backbone.get_weights()
    with pytest.raises(ValueError, match=r"encoder\.layer\.0\.intermediate\.dense\.weight"):
        load_huawei_checkpoint(backbone, FOLDER)
    for a, b in zip(before, backbone.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.skipif(
    importlib.util.find_spec("tensorflow") is None,
    reason="TensorFlow, the reference reader, is installed in the tensorflow lane only",
)
def test_reader_equals_tensorflows_reader():
    import tensorflow as tf

    reader = tf.train.load_checkpoint(CHECKPOINT)
    ours = read_tf_checkpoint(CHECKPOINT)
    assert set(ours) == set(reader.get_variable_to_shape_map())
    for name, value in ours.items():
        np.testing.assert_array_equal(value, reader.get_tensor(name))
