"""kerastack-roformer on every Keras 3 lane: the rotary convention against
a NumPy reference of HF's (interleaved pairs), the block under Keras's layer
harness, configs, strict loading, masking, saving, and a fine-tune."""

import json
import os
import re

import numpy as np
import pytest

from kerastack.core import keras
from kerastack.roformer import (
    RoFormerBackbone,
    RoFormerClassifier,
    RoFormerConfig,
    RoFormerEncoder,
    RoFormerMaskedLM,
    RoFormerQuestionAnswerer,
    RoFormerTokenClassifier,
    RoFormerV2Backbone,
    RoFormerV2Config,
    load_roformer_checkpoint,
    save_hf_weights,
    sinusoidal_table,
    weight_table,
)
from tests.testing import TestCase
from tests.tolerances import FLOAT32_ATOL, SAVE_ATOL

SMALL = dict(
    vocabulary_size=30,
    num_layers=2,
    num_heads=3,
    hidden_dim=12,
    intermediate_dim=20,
    max_sequence_length=16,
)


def inputs(batch=2, length=6, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, SMALL["vocabulary_size"], size=(batch, length)).astype("int32")
    mask = np.ones((batch, length), "int32")
    mask[0, length - 2 :] = 0
    ids[mask == 0] = 0
    return {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": mask}


def hf_rotate(x, positions):
    """HF RoFormer's rotation (NumPy, float64): pairs `(2i, 2i+1)` turned by
    `position / 10000**(2i/H)`, the sines and cosines from HF's table."""
    head_size = x.shape[-1]
    table = sinusoidal_table(int(positions.max()) + 1, head_size).astype("float64")[positions]
    sin, cos = np.split(table, 2, axis=-1)  # (T, H/2) each
    sin, cos = np.repeat(sin, 2, axis=-1), np.repeat(cos, 2, axis=-1)  # (T, H)
    rotated = np.stack([-x[..., 1::2], x[..., 0::2]], axis=-1).reshape(x.shape)
    return x * cos[:, None] + rotated * sin[:, None]  # x: (T, N, H)


def test_permuted_projections_give_hf_attention_scores():
    """The weight table's reordering of each head's features turns
    kerastack's half-split rotation into HF's interleaved one: the scores
    of one block's attention, built from HF-layout weights, are HF's."""
    rng = np.random.default_rng(1)
    backbone = RoFormerBackbone(**dict(SMALL, num_layers=1))
    x = rng.normal(size=(1, 7, 12)).astype("float32")  # (B, T, D)
    query_kernel = rng.normal(size=(12, 12))  # HF (out, in)
    key_kernel = rng.normal(size=(12, 12))
    hf = {
        "encoder.layer.0.attention.self.query.weight": query_kernel,
        "encoder.layer.0.attention.self.key.weight": key_kernel,
        "encoder.layer.0.attention.self.query.bias": np.zeros(12),
        "encoder.layer.0.attention.self.key.bias": np.zeros(12),
    }
    for variable, name, layout in weight_table(backbone):
        if name in hf:
            variable.assign(layout.to_ours(hf[name]))
    attention = backbone.get_layer("transformer_layer_0").self_attention
    _, scores = attention(x, x, return_attention_scores=True)  # (B, N, T, S)
    positions = np.arange(7)
    q = hf_rotate((x[0].astype("float64") @ query_kernel.T).reshape(7, 3, 4), positions)
    k = hf_rotate((x[0].astype("float64") @ key_kernel.T).reshape(7, 3, 4), positions)
    logits = np.einsum("tnh,snh->nts", q, k) / 2.0  # sqrt(H) = 2
    expected = np.exp(logits - logits.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(scores)[0], expected, atol=FLOAT32_ATOL, rtol=0
    )


class RoFormerEncoderTest(TestCase):
    def test_v1_block(self):
        # Attention 8 (4 kernels, 4 biases), two norms 2 + 2, feed-forward 4.
        self.run_layer_test(
            RoFormerEncoder,
            init_kwargs={"intermediate_dim": 12, "num_heads": 2},
            input_shape=(2, 4, 8),
            expected_output_shape=(2, 4, 8),
            expected_num_trainable_weights=16,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            supports_masking=True,
        )

    def test_v2_block_and_rotary_values(self):
        # No biases, norms without weights: 4 attention and 2 feed-forward kernels.
        self.run_layer_test(
            RoFormerEncoder,
            init_kwargs={
                "intermediate_dim": 12,
                "num_heads": 2,
                "use_bias": False,
                "normalization": "rms",
                "rotary_value": True,
            },
            input_shape=(2, 4, 8),
            expected_output_shape=(2, 4, 8),
            expected_num_trainable_weights=6,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            supports_masking=True,
            run_training_check=False,
        )

    def test_mixed_precision(self):
        x = np.random.default_rng(0).normal(size=(2, 5, 12)).astype("float32")
        self.run_precision_check(
            lambda policy: RoFormerEncoder(20, 3, rotary_value=True, dtype=policy), (x,)
        )

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="`use_bias` must be True or False"):
            RoFormerEncoder(12, 2, use_bias=1)
        with pytest.raises(ValueError, match="heads of an even size"):
            RoFormerEncoder(12, 3)(np.zeros((1, 2, 9), "float32"))


def test_padding_never_changes_the_real_positions():
    backbone = RoFormerBackbone(**SMALL, rotary_value=True)
    data = inputs()
    before = backbone.predict(data, verbose=0)["sequence_output"]
    data["token_ids"][0, -2:] = [5, 9]
    after = backbone.predict(data, verbose=0)["sequence_output"]
    np.testing.assert_array_equal(before[0, :-2], after[0, :-2])
    np.testing.assert_array_equal(before[1], after[1])


def test_relative_positions_only():
    """Rotary attention sees relative positions: with no absolute positions
    anywhere, a sequence of one repeated token gives the same output at
    every position (a BERT with a position table would not)."""
    backbone = RoFormerV2Backbone(**SMALL)
    ids = np.full((1, 6), 7, "int32")
    outputs = backbone.predict(
        {"token_ids": ids, "segment_ids": 0 * ids, "padding_mask": 1 + 0 * ids}, verbose=0
    )["sequence_output"][0]
    np.testing.assert_allclose(outputs, np.broadcast_to(outputs[0], outputs.shape), atol=1e-5)


def test_configs():
    config = RoFormerConfig.from_dict(
        {"vocab_size": 30, "hidden_size": 12, "num_attention_heads": 3, "rotary_value": True}
    )
    assert config.backbone_arguments()["rotary_value"] is True
    assert config.backbone_arguments()["embedding_dim"] == 12
    with pytest.raises(ValueError, match="decoders are not supported"):
        RoFormerConfig.from_dict({"vocab_size": 30, "is_decoder": True})
    with pytest.raises(ValueError, match="rotary_value"):
        RoFormerConfig(vocab_size=30, rotary_value="yes")
    with pytest.raises(ValueError, match="not a 'roformer_v2' one"):
        RoFormerV2Config.from_dict({"model_type": "roformer", "vocab_size": 30})
    assert RoFormerV2Config(vocab_size=30).activation == "relu"


def test_get_config_round_trips_and_lists_every_argument():
    for backbone in (RoFormerBackbone(**SMALL, embedding_dim=8), RoFormerV2Backbone(**SMALL)):
        config = backbone.get_config()
        assert set(type(backbone).CONFIG_KEYS) <= set(config)
        clone = type(backbone).from_config(config)
        assert clone.get_config() == config


def test_strict_loading_changes_nothing(tmp_path):
    saved = RoFormerBackbone(**SMALL)
    save_hf_weights(saved, tmp_path)
    from kerastack.models import read_safetensors, write_checkpoint

    tensors = read_safetensors(os.path.join(tmp_path, "model.safetensors"))
    del tensors["encoder.layer.1.attention.self.key.bias"]
    tensors["encoder.layer.0.intermediate.dense.weight"] = np.zeros((21, 12), "float32")
    with open(os.path.join(tmp_path, "config.json")) as file:
        config_text = file.read()
    write_checkpoint(tmp_path, tensors, config_text)
    target = RoFormerBackbone(**SMALL)
    before = target.get_weights()
    with pytest.raises(ValueError) as error:
        load_roformer_checkpoint(target, tmp_path)
    assert "missing tensors: encoder.layer.1.attention.self.key.bias" in str(error.value)
    assert "encoder.layer.0.intermediate.dense.weight: checkpoint (21, 12)" in str(error.value)
    assert all(np.array_equal(a, b) for a, b in zip(before, target.get_weights(), strict=True))


def test_weight_table_round_trips_every_weight():
    backbone = RoFormerBackbone(**SMALL, embedding_dim=8, rotary_value=True)
    table = weight_table(backbone)
    assert len({id(variable) for variable, _, _ in table}) == len(backbone.weights)
    for variable, _, layout in table:
        value = keras.ops.convert_to_numpy(variable)
        np.testing.assert_array_equal(layout.to_ours(layout.to_hf(value)), value)


def test_bad_inputs_are_named():
    backbone = RoFormerBackbone(**SMALL)
    data = inputs()
    data["token_ids"][1, 2] = 30
    with pytest.raises(ValueError, match="vocabulary_size"):
        backbone.predict(data, verbose=0)
    with pytest.raises(ValueError, match="max_sequence_length"):
        backbone.predict(inputs(length=17), verbose=0)


def test_keras_files_round_trip(tmp_path):
    data = inputs()
    for model in (
        RoFormerMaskedLM(RoFormerBackbone(**SMALL, embedding_dim=8, rotary_value=True)),
        RoFormerClassifier(RoFormerV2Backbone(**SMALL), num_classes=3),
    ):
        path = os.path.join(tmp_path, f"{model.name}.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        assert type(loaded) is type(model) and type(loaded.backbone) is type(model.backbone)
        np.testing.assert_allclose(
            loaded.predict(data, verbose=0), model.predict(data, verbose=0), atol=SAVE_ATOL
        )


def stand_in_backbone():
    """A functional model with a backbone's inputs and outputs, but of no
    family's class (as another family's backbone would be)."""
    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    segment_ids = keras.Input(shape=(None,), dtype="int32", name="segment_ids")
    padding_mask = keras.Input(shape=(None,), dtype="int32", name="padding_mask")
    sequence = keras.layers.Embedding(30, 12)(token_ids)
    return keras.Model(
        {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask},
        {"sequence_output": sequence, "pooled_output": sequence[:, 0, :]},
    )


V1_AND_V2_HEADS = {
    "classifier": lambda backbone: RoFormerClassifier(backbone, num_classes=2),
    "token_classifier": lambda backbone: RoFormerTokenClassifier(backbone, num_classes=2),
    "question_answerer": RoFormerQuestionAnswerer,
}


@pytest.mark.parametrize("task", ["masked_lm", *V1_AND_V2_HEADS])
def test_task_models_refuse_other_backbones_at_once(task):
    build = V1_AND_V2_HEADS.get(task, RoFormerMaskedLM)
    expected = (
        "RoFormerBackbone" if task == "masked_lm" else "RoFormerBackbone or RoFormerV2Backbone"
    )
    with pytest.raises(ValueError, match=f"needs a {expected}, received a Functional\\."):
        build(stand_in_backbone())


def test_v2_backbones_take_every_head_but_the_masked_lm():
    backbone = RoFormerV2Backbone(**SMALL)
    with pytest.raises(
        ValueError, match="RoFormerMaskedLM needs a RoFormerBackbone, received a RoFormerV2Backbone"
    ):
        RoFormerMaskedLM(backbone)
    data = inputs(batch=1)
    for build in V1_AND_V2_HEADS.values():
        outputs = build(backbone)(data)
        for value in outputs.values() if isinstance(outputs, dict) else [outputs]:
            assert np.all(np.isfinite(keras.ops.convert_to_numpy(value)))


@pytest.fixture(scope="module")
def small_backbone():
    return RoFormerBackbone(**SMALL)


BAD_HEAD_ARGUMENTS = [
    ({"num_classes": 0}, "num_classes=0"),
    ({"num_classes": 2.5}, "num_classes=2.5"),
    ({"num_classes": True}, "num_classes=True"),
    ({"dropout": 1.5}, "dropout=1.5"),
    ({"dropout": -0.1}, "dropout=-0.1"),
    ({"dropout": 1.0}, "dropout=1.0"),
]


@pytest.mark.parametrize("head", [RoFormerClassifier, RoFormerTokenClassifier])
@pytest.mark.parametrize("arguments, shown", BAD_HEAD_ARGUMENTS)
def test_bad_head_arguments_are_value_errors_naming_them(small_backbone, head, arguments, shown):
    name = next(iter(arguments))
    with pytest.raises(ValueError, match=rf"`{name}` must be .*received {re.escape(shown)}\."):
        head(small_backbone, **{"num_classes": 2, **arguments})


def test_a_bad_masked_lm_epsilon_is_a_value_error_naming_it(small_backbone):
    with pytest.raises(
        ValueError, match=r"`layer_norm_epsilon` must be .*received layer_norm_epsilon=0"
    ):
        RoFormerMaskedLM(small_backbone, layer_norm_epsilon=0)


def test_v2_has_no_hf_export(tmp_path):
    with pytest.raises(TypeError, match="RoFormerV2Backbone"):
        save_hf_weights(RoFormerV2Backbone(**SMALL), tmp_path)


def test_zhuiyi_config_without_model_type(tmp_path):
    with open(os.path.join(tmp_path, "bert_config.json"), "w") as file:
        json.dump({"vocab_size": 30, "hidden_size": 12, "num_attention_heads": 3}, file)
    assert RoFormerV2Config.from_json(tmp_path).hidden_size == 12
    config = RoFormerConfig.from_json(tmp_path)
    assert (config.max_position_embeddings, config.layer_norm_eps) == (1536, 1e-7)
    assert (
        RoFormerConfig.from_dict({"model_type": "roformer", "vocab_size": 30}).layer_norm_eps
        == 1e-12
    )


def test_fine_tuning_learns_a_held_out_rule():
    """A generated task: is token 5 in the sequence? 8 epochs on 256
    examples (one block, kept small for the CI budget); at least 90% right
    on 256 held-out ones."""
    rng = np.random.default_rng(0)

    def make(count):
        data = inputs(batch=count, length=8, seed=int(rng.integers(1 << 30)))
        ids = data["token_ids"]
        labels = rng.integers(0, 2, size=count)
        ids[:] = np.where(ids == 5, 6, ids)
        ids[np.arange(count), rng.integers(0, 4, size=count)] = np.where(labels == 1, 5, 7)
        data["padding_mask"][:] = 1
        return data, labels.astype("int32")

    train, train_labels = make(256)
    test, test_labels = make(256)
    keras.utils.set_random_seed(0)
    backbone = RoFormerBackbone(**dict(SMALL, num_layers=1), dropout=0.0)
    model = RoFormerClassifier(backbone, num_classes=2, dropout=0.0)
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(train, train_labels, batch_size=64, epochs=8, verbose=0)
    accuracy = np.mean(model.predict(test, verbose=0).argmax(-1) == test_labels)
    assert accuracy >= 0.9, accuracy
