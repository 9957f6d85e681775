"""kerastack-bert4keras's `build_transformer_model` against the real
bert4keras's outputs on the tiny Google BERT and ALBERT checkpoints (recorded
on tf-keras by tests/conformance/make_bert4keras_models.py; the tfkeras lane
recomputes them with bert4keras itself)."""

import numpy as np
import pytest

from kerastack.bert4keras.models import ALBERT, BERT, build_transformer_model
from tests.conformance import make_bert4keras_models as references
from tests.tolerances import RECORDED_TINY_ATOL

RECORDED = np.load(references.OUTPUT)


@pytest.mark.parametrize("case", list(references.ALL_CASES))
def test_outputs_equal_bert4keras_at_every_real_token(case):
    arguments, token_ids = references.ALL_CASES[case]
    model = build_transformer_model(*references.sources(case), **arguments)
    outputs = model.predict([token_ids, references.SEGMENT_IDS], verbose=0)
    outputs = outputs if isinstance(outputs, list) else [outputs]
    expected = sorted(key for key in RECORDED.files if key.startswith(f"{case}/"))
    assert len(outputs) == len(expected)
    real = token_ids != 0
    for output, key in zip(outputs, expected, strict=True):
        reference = RECORDED[key]
        assert output.shape == reference.shape, key
        if reference.ndim == 3:
            # Padding (token id 0) rows differ: kerastack's attention gives
            # padded queries zeros, bert4keras let them attend (see models.py).
            output, reference = output[real], reference[real]
        np.testing.assert_allclose(output, reference, rtol=0, atol=RECORDED_TINY_ATOL, err_msg=key)


def test_probabilities_sum_to_one_and_the_lm_is_causal():
    model = build_transformer_model(references.CONFIG, references.CHECKPOINT, application="lm")
    token_ids = references.TOKEN_IDS[1:]
    probabilities = model.predict([token_ids, 0 * token_ids], verbose=0)
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-5)
    changed = token_ids.copy()
    changed[0, 5:] = [9, 9, 9]  # later tokens cannot change earlier outputs
    again = model.predict([changed, 0 * changed], verbose=0)
    np.testing.assert_allclose(again[0, :5], probabilities[0, :5], atol=1e-6)
    assert not np.allclose(again[0, 5:], probabilities[0, 5:], atol=1e-6)


def test_unilm_sources_see_each_other_and_targets_see_only_the_past():
    model = build_transformer_model(references.CONFIG, references.CHECKPOINT, application="unilm")
    token_ids, segment_ids = references.TOKEN_IDS[1:], references.SEGMENT_IDS[1:]
    first = model.predict([token_ids, segment_ids], verbose=0)
    changed = token_ids.copy()
    changed[0, 6] = 9  # a target token: the source and earlier targets keep their outputs
    second = model.predict([changed, segment_ids], verbose=0)
    np.testing.assert_allclose(second[0, :6], first[0, :6], atol=1e-6)
    changed = token_ids.copy()
    changed[0, 2] = 9  # a source token: every position sees it
    third = model.predict([changed, segment_ids], verbose=0)
    assert not np.allclose(third[0, 0], first[0, 0], atol=1e-6)


def test_a_checkpoint_that_does_not_fit_changes_nothing():
    transformer = build_transformer_model(
        references.CONFIG, None, return_keras_model=False, with_mlm=True, num_hidden_layers=3
    )
    assert isinstance(transformer, BERT)
    before = [w.copy() for w in transformer.model.get_weights()]
    with pytest.raises(ValueError, match="missing tensors: .*encoder.layer.2"):
        transformer.load_weights_from_checkpoint(references.CHECKPOINT)
    for old, new in zip(before, transformer.model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"model": "nezha"},
            "builds \\['bert', 'roberta', 'albert', 'albert_unshared'\\] models; "
            "received model='nezha'; kerastack has it on its own API: kerastack.nezha",
        ),
        ({"model": "gpt2_ml"}, "received model='gpt2_ml' \\(the other families come"),
        ({"application": "seq2seq"}, "application must be one of"),
        ({"with_pool": "nonsense"}, "with_pool must be True, False or an activation name"),
        ({"segment_vocab_size": 0}, "segment_vocab_size must be at least 1"),
        ({"attention_dropout_rate": 0.3}, "one dropout rate"),
        ({"hierarchical_position": True}, "does not build hierarchical_position=True"),
        ({"residual_attention_scores": True}, "does not build residual_attention_scores"),
        ({"attention_key_size": 3}, "received attention_key_size=3"),
    ],
)
def test_what_it_does_not_build_is_a_clear_error(arguments, message):
    with pytest.raises(ValueError, match=message):
        build_transformer_model(references.CONFIG, **arguments)


def test_albert_shares_one_block_and_albert_unshared_has_one_per_layer():
    shared = build_transformer_model(
        references.ALBERT_CONFIG, references.ALBERT_CHECKPOINT, "albert", return_keras_model=False
    )
    unshared = build_transformer_model(
        references.ALBERT_CONFIG,
        references.ALBERT_CHECKPOINT,
        "albert_unshared",
        return_keras_model=False,
    )
    assert isinstance(shared, ALBERT) and isinstance(unshared, ALBERT)
    layers = references.ALBERT_SETTINGS["num_hidden_layers"]
    assert shared.backbone.num_groups == 1 and unshared.backbone.num_groups == layers
    block = 16  # weights of one block
    assert len(unshared.backbone.weights) == len(shared.backbone.weights) + (layers - 1) * block
    # Each unshared layer starts from the shared block.
    first = unshared.backbone.get_layer("transformer_group_0_0").get_weights()
    for group in range(1, layers):
        again = unshared.backbone.get_layer(f"transformer_group_{group}_0").get_weights()
        for a, b in zip(first, again, strict=True):
            np.testing.assert_array_equal(a, b)


def test_an_albert_checkpoint_that_does_not_fit_changes_nothing():
    # A BERT builder finds none of BERT's names in ALBERT's checkpoint.
    with pytest.raises(ValueError, match="missing tensors: .*encoder.layer.0"):
        build_transformer_model(references.ALBERT_CONFIG, references.ALBERT_CHECKPOINT)
    transformer = build_transformer_model(
        references.ALBERT_CONFIG,
        None,
        "albert",
        return_keras_model=False,
        with_mlm=True,
        embedding_size=8,
    )
    before = [w.copy() for w in transformer.model.get_weights()]
    with pytest.raises(ValueError, match="shape mismatches.*embeddings.word_embeddings"):
        transformer.load_weights_from_checkpoint(references.ALBERT_CHECKPOINT)
    for old, new in zip(before, transformer.model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)
