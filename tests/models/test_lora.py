"""LoRA on every family's backbone (`LoraMixin`, which `SavedByArguments`
takes): `enable_lora` leaves only the adapters trainable and the outputs
unchanged; `save_lora_weights` / `load_lora_weights` move only the adapters
and give a fresh model the same outputs; bad input is a clear error that
changes nothing; `.keras` files and task models; a short LoRA fine-tuning run
that reaches the held-out bar of full fine-tuning on the generated task."""

import os

import numpy as np
import pytest

from kerastack.core import keras
from kerastack.models import LoraMixin, SavedByArguments

TINY = dict(vocabulary_size=30, num_layers=1, num_heads=2, hidden_dim=8, intermediate_dim=16)
LENGTH = 5


def _bert(**overrides):
    from kerastack.bert import BertBackbone

    return BertBackbone(**{**TINY, "max_sequence_length": 16, **overrides})


def _families():
    from kerastack import bert, electra, gpt, nezha, roformer, t5

    encoder = dict(TINY, max_sequence_length=16)
    return {
        "bert": _bert,
        "roberta": lambda: bert.RobertaBackbone(**encoder),
        "xlm_roberta": lambda: bert.XLMRobertaBackbone(**encoder),
        "camembert": lambda: bert.CamembertBackbone(**encoder),
        "albert": lambda: bert.AlbertBackbone(**encoder, embedding_dim=4),
        "electra": lambda: electra.ElectraBackbone(**encoder, embedding_dim=6),
        "roformer": lambda: roformer.RoFormerBackbone(**encoder),
        "roformer_v2": lambda: roformer.RoFormerV2Backbone(**encoder),
        "nezha": lambda: nezha.NezhaBackbone(**encoder, max_relative_position=3),
        "gpt2": lambda: gpt.GPT2Backbone(**encoder),
        "openai_gpt": lambda: gpt.OpenAIGPTBackbone(**encoder),
        "t5": lambda: t5.T5Backbone(
            vocabulary_size=30,
            hidden_dim=8,
            key_value_dim=4,
            intermediate_dim=16,
            num_encoder_layers=1,
            num_decoder_layers=1,
            num_heads=2,
        ),
    }


FAMILIES = sorted(_families())


def _inputs(model, seed=0):
    """Token ids, segments and padding masks for every input of `model`,
    by its input names (the last position of the second row is padding)."""
    rng = np.random.default_rng(seed)
    data = {}
    for name in model.input:
        if "mask" in name:
            value = np.ones((2, LENGTH), "int32")
            value[1, -1] = 0
        elif "segment" in name:
            value = np.zeros((2, LENGTH), "int32")
            value[:, LENGTH // 2 :] = 1
        else:
            value = rng.integers(1, TINY["vocabulary_size"], size=(2, LENGTH)).astype("int32")
        data[name] = value
    return data


def _outputs(model, data):
    return [keras.ops.convert_to_numpy(x) for x in keras.tree.flatten(model(data))]


def _assert_outputs_close(actual, expected, atol=1e-6):
    for a, e in zip(actual, expected, strict=True):
        np.testing.assert_allclose(a, e, atol=atol)


def _lora_variables(model):
    return [v for v in model.weights if v.path.split("/")[-1].startswith("lora_")]


def _set_lora_weights(model, seed):
    """Nonzero adapters, so that they change the outputs."""
    rng = np.random.default_rng(seed)
    for variable in _lora_variables(model):
        variable.assign(rng.normal(0, 0.5, size=tuple(variable.shape)).astype("float32"))


def _layers_named(model, names):
    return [layer for layer in model._flatten_layers() if layer.name in names]


def test_every_backbone_has_lora():
    assert issubclass(SavedByArguments, LoraMixin)


@pytest.mark.parametrize("family", FAMILIES)
def test_lora_adapts_query_and_value_and_round_trips(family, tmp_path):
    make = _families()[family]
    keras.utils.set_random_seed(0)
    model = make()
    data = _inputs(model)
    before = _outputs(model, data)
    frozen = model.get_weights()
    model.enable_lora(2)

    targets = _layers_named(model, ("query", "value"))
    assert targets and all(layer.lora_enabled and layer.lora_rank == 2 for layer in targets)
    # Only the adapters train: two per query and value projection.
    assert len(model.trainable_weights) == 2 * len(targets)
    assert {id(v) for v in model.trainable_weights} == {id(v) for v in _lora_variables(model)}
    # B starts at zero: the outputs do not move.
    _assert_outputs_close(_outputs(model, data), before)

    _set_lora_weights(model, seed=1)
    adapted = _outputs(model, data)
    # They do once B is not zero: by far more than the tolerance of the round trip.
    assert np.max(np.abs(adapted[0] - before[0])) > 1e-4
    path = str(tmp_path / f"{family}.lora.safetensors")
    model.save_lora_weights(path)

    fresh = make()
    fresh.set_weights(frozen)
    fresh.load_lora_weights(path)
    assert len(fresh.trainable_weights) == len(model.trainable_weights)
    _assert_outputs_close(_outputs(fresh, data), adapted)


def test_other_targets_embeddings_included(tmp_path):
    keras.utils.set_random_seed(0)
    model = _bert()
    data = _inputs(model)
    before = _outputs(model, data)
    frozen = model.get_weights()
    targets = ["token_embedding", "key", "intermediate_dense"]
    model.enable_lora(3, target_layer_names=targets, lora_alpha=6)
    assert sorted(v.path.split("/")[-1] for v in model.trainable_weights) == [
        "lora_embeddings_a",
        "lora_embeddings_b",
        "lora_kernel_a",
        "lora_kernel_a",
        "lora_kernel_b",
        "lora_kernel_b",
    ]
    _assert_outputs_close(_outputs(model, data), before)
    assert model.get_layer("token_embedding").lora_alpha == 6

    _set_lora_weights(model, seed=2)
    path = str(tmp_path / "bert.lora.safetensors")
    model.save_lora_weights(path)
    # A model that enabled the same LoRA itself (targets in any order) loads it too.
    fresh = _bert()
    fresh.set_weights(frozen)
    fresh.enable_lora(3, target_layer_names=list(reversed(targets)), lora_alpha=6)
    fresh.load_lora_weights(path)
    _assert_outputs_close(_outputs(fresh, data), _outputs(model, data))


def _trainable_state(model):
    return [(v.path, v.trainable) for v in model.weights]


@pytest.mark.parametrize("rank", [0, -1, 2.5, True, "2", None])
def test_a_rank_that_is_not_a_positive_int_is_refused(rank):
    model = _bert()
    state = _trainable_state(model)
    with pytest.raises(ValueError, match=f"rank must be a positive int, got {rank!r}"):
        model.enable_lora(rank)
    assert _trainable_state(model) == state


@pytest.mark.parametrize(
    "names, message",
    [
        (
            ["query", "nope"],
            r"target_layer_names \['nope'\] name no layer of this BertBackbone; "
            r"the layers that LoRA can adapt are named \['attention_output', 'intermediate_dense'",
        ),
        (
            ["embeddings_layer_norm"],
            "LoRA adapts Dense, EinsumDense and Embedding layers; these "
            r"targets are not one: \['embeddings_layer_norm \(LayerNormalization\)'\]",
        ),
        ("query", "target_layer_names must be a list of layer names"),
        ([], "target_layer_names is empty"),
    ],
)
def test_bad_targets_are_refused_and_change_nothing(names, message):
    model = _bert()
    state = _trainable_state(model)
    with pytest.raises(ValueError, match=message):
        model.enable_lora(2, target_layer_names=names)
    assert _trainable_state(model) == state
    assert not _lora_variables(model)


def test_bad_alpha_is_refused():
    with pytest.raises(ValueError, match="lora_alpha must be a positive number or None, got 0"):
        _bert().enable_lora(2, lora_alpha=0)


def test_lora_is_enabled_once():
    model = _bert()
    model.enable_lora(2)
    count = len(model.weights)
    with pytest.raises(
        ValueError,
        match=r"already enabled on this BertBackbone with rank 2 .*"
        r"\(asked: rank 4 on \['query', 'value'\]\)",
    ):
        model.enable_lora(4)
    with pytest.raises(ValueError, match="already enabled"):
        model.enable_lora(2, target_layer_names=["key"])
    assert len(model.weights) == count
    assert all(layer.lora_rank == 2 for layer in _layers_named(model, ("query", "value")))


def test_save_needs_lora_and_a_safetensors_name(tmp_path):
    model = _bert()
    with pytest.raises(ValueError, match="LoRA is not enabled on this BertBackbone"):
        model.save_lora_weights(str(tmp_path / "a.lora.safetensors"))
    model.enable_lora(2)
    with pytest.raises(ValueError, match="name ends in '.safetensors'.*got '.*a.lora.h5'"):
        model.save_lora_weights(str(tmp_path / "a.lora.h5"))
    assert not os.listdir(tmp_path)


def test_files_that_do_not_fit_are_refused_and_change_nothing(tmp_path):
    keras.utils.set_random_seed(0)
    saved = _bert()
    saved.enable_lora(2)
    path = str(tmp_path / "rank2.lora.safetensors")
    saved.save_lora_weights(path)

    # LoRA of another rank, or on other layers, already enabled.
    for rank, names in [(4, None), (2, ["query", "key", "value"])]:
        other = _bert()
        other.enable_lora(rank, target_layer_names=names)
        values = [keras.ops.convert_to_numpy(v) for v in _lora_variables(other)]
        with pytest.raises(
            ValueError,
            match=r"rank2.lora.safetensors holds LoRA of rank 2 with "
            r"lora_alpha 2 on the layers \['query', 'value'\], but this "
            f"BertBackbone has rank {rank}",
        ):
            other.load_lora_weights(path)
        for value, variable in zip(values, _lora_variables(other), strict=True):
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(variable), value)

    # A model of other shapes: every misfit named, and no LoRA enabled.
    wider = _bert(hidden_dim=12, num_layers=2)
    state = _trainable_state(wider)
    with pytest.raises(
        ValueError,
        match=r"does not fit this BertBackbone's LoRA \(missing: "
        r"transformer_layer_1/self_attention/query/lora_kernel_a, .*mis-shaped: "
        r"transformer_layer_0/self_attention/query/lora_kernel_a: \(8, 2, 2\) in "
        r"the file, \(12, 2, 2\) in the model",
    ):
        wider.load_lora_weights(path)
    assert _trainable_state(wider) == state and not _lora_variables(wider)

    # Not a LoRA file, not a safetensors file, no file.
    from safetensors.numpy import save_file

    plain = str(tmp_path / "plain.safetensors")
    save_file({"w": np.zeros(2, "float32")}, plain)
    with pytest.raises(ValueError, match="plain.safetensors is not a LoRA weights file"):
        wider.load_lora_weights(plain)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not safetensors")
    with pytest.raises(ValueError, match="broken.safetensors is not a readable safetensors file"):
        wider.load_lora_weights(str(broken))
    with pytest.raises(FileNotFoundError, match="No LoRA weights file at"):
        wider.load_lora_weights(str(tmp_path / "none.safetensors"))
    assert _trainable_state(wider) == state and not _lora_variables(wider)


def test_keras_files_hold_the_merged_weights(tmp_path):
    """A `.keras` file of a task model whose backbone has LoRA loads back with
    the same outputs: Keras saves each kernel with its adapters merged in."""
    from kerastack.bert import BertClassifier

    keras.utils.set_random_seed(0)
    classifier = BertClassifier(_bert(), num_classes=3, dropout=0.0)
    head = len(classifier.trainable_weights) - len(classifier.backbone.trainable_weights)
    classifier.backbone.enable_lora(4)
    # The backbone trains only its adapters (query and value, 2 each); the head still trains.
    assert len(classifier.backbone.trainable_weights) == 4
    assert len(classifier.trainable_weights) == 4 + head and head == 2
    _set_lora_weights(classifier, seed=3)
    data = _inputs(classifier.backbone)
    expected = _outputs(classifier, data)

    path = str(tmp_path / "classifier.keras")
    classifier.save(path)
    loaded = keras.saving.load_model(path)
    assert not _lora_variables(loaded)
    _assert_outputs_close(_outputs(loaded, data), expected, atol=1e-5)


def _rule_task(count, rng):
    """The generated task of ELECTRA's fine-tuning test: is token 5 in the
    first segment (positions 0-3 of 8)? Otherwise token 7 is there."""
    ids = rng.integers(5, 30, size=(count, 8)).astype("int32")
    labels = rng.integers(0, 2, size=count)
    ids[:, :4] = np.where(ids[:, :4] == 5, 6, ids[:, :4])
    ids[np.arange(count), rng.integers(0, 4, size=count)] = np.where(labels == 1, 5, 7)
    segments = np.zeros_like(ids)
    segments[:, 4:] = 1
    data = {"token_ids": ids, "segment_ids": segments, "padding_mask": np.ones_like(ids)}
    return data, labels.astype("int32")


def test_lora_fine_tuning_reaches_the_full_fine_tuning_bar():
    """LoRA (rank 4 on query and value) fine-tuning a random ELECTRA reaches
    the 90% held-out bar that full fine-tuning reaches on the same generated
    task (tests/electra/test_electra.py::test_fine_tuning_learns_a_held_out_rule),
    training 30 epochs on 256 examples, with a sixth of the weights trainable
    (its adapters a seventeenth of the backbone's). A frozen random backbone
    needs some width for LoRA to find the rule: hidden 64, not 12."""
    from kerastack.electra import ElectraBackbone, ElectraClassifier

    rng = np.random.default_rng(0)
    train, train_labels = _rule_task(256, rng)
    test, test_labels = _rule_task(256, rng)
    keras.utils.set_random_seed(0)
    backbone = ElectraBackbone(
        vocabulary_size=30,
        num_layers=1,
        num_heads=4,
        hidden_dim=64,
        intermediate_dim=128,
        embedding_dim=64,
        max_sequence_length=16,
        dropout=0.0,
    )
    model = ElectraClassifier(backbone, num_classes=2, dropout=0.0)
    full = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    backbone.enable_lora(4)
    adapters = 2 * (64 * 4 * 4 + 4 * 16)  # query and value: A (64, 4 heads, 4), B (4, 16)
    head = 64 * 64 + 64 + 64 * 2 + 2
    assert sum(int(np.prod(v.shape)) for v in backbone.trainable_weights) == adapters
    lora = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    assert lora == adapters + head and lora * 5 < full, (lora, full)

    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=3e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(train, train_labels, batch_size=128, epochs=30, verbose=0)
    predicted = model.predict(test, batch_size=256, verbose=0).argmax(-1)
    accuracy = float(np.mean(predicted == test_labels))
    assert accuracy >= 0.9, accuracy
