"""RoBERTa and ALBERT: what their layouts promise, saving, configs, strict
loading and tokenizer errors. (Parity with transformers: tests/conformance/
test_family_checkpoints.py.)"""

import json
import os

import numpy as np
import pytest

from kerastack.bert import (
    AlbertBackbone,
    AlbertConfig,
    AlbertTokenizer,
    BertBackbone,
    BertConfig,
    BytePairTokenizer,
    RobertaBackbone,
    RobertaConfig,
    RobertaTokenizer,
    load_hf_weights,
    read_safetensors,
)
from kerastack.core import keras, ops
from tests.conformance import make_family_references as refs

SMALL = {
    "vocabulary_size": 40,
    "num_layers": 2,
    "num_heads": 2,
    "hidden_dim": 16,
    "intermediate_dim": 32,
    "max_sequence_length": 24,
    "dropout": 0.0,
}


def _path(weight):
    """A weight's path in its model: Keras 3's `path`, tf-keras's name."""
    return getattr(weight, "path", None) or weight.name.split(":")[0]


def weights(model):
    return [np.array(ops.convert_to_numpy(v)) for v in model.weights]


def test_roberta_positions_count_real_tokens_so_left_padding_changes_nothing():
    backbone = RobertaBackbone(**SMALL)
    rng = np.random.default_rng(0)
    ids = rng.integers(3, 40, size=(1, 6)).astype("int32")
    plain = backbone({"token_ids": ids, "padding_mask": np.ones_like(ids)})
    padded_ids = np.concatenate([np.full((1, 3), 1, "int32"), ids], axis=1)
    mask = (np.arange(9) >= 3)[None].astype("int32")
    padded = backbone({"token_ids": padded_ids, "padding_mask": mask})
    np.testing.assert_allclose(
        ops.convert_to_numpy(padded["sequence_output"])[:, 3:],
        ops.convert_to_numpy(plain["sequence_output"]),
        atol=1e-5,
    )
    # The same tokens at other positions give other outputs (positions count).
    shifted = backbone({"token_ids": padded_ids, "padding_mask": np.ones_like(padded_ids)})
    difference = ops.convert_to_numpy(shifted["sequence_output"])[:, 3:] - ops.convert_to_numpy(
        plain["sequence_output"]
    )
    assert np.abs(difference).max() > 1e-3


def test_albert_shares_one_block_across_passes():
    one_pass = AlbertBackbone(**dict(SMALL, num_layers=1), embedding_dim=8)
    three_passes = AlbertBackbone(**dict(SMALL, num_layers=3), embedding_dim=8)
    # Same weights whatever the depth: (V + P + 2) x E tables, the E -> D
    # projection, one block, the pooler.
    assert len(three_passes.weights) == len(one_pass.weights)
    assert three_passes.count_params() == one_pass.count_params()
    assert keras.ops.shape(three_passes.get_layer("token_embedding").embeddings) == (40, 8)
    ids = np.random.default_rng(1).integers(0, 40, size=(2, 7)).astype("int32")
    mask = np.ones_like(ids)
    inputs = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": mask}
    # The output is the one block applied three times to the projected embeddings.
    embed = keras.Model(three_passes.input, three_passes.get_layer("embeddings_projection").output)
    block = three_passes.get_layer("transformer_group_0_0")
    x = embed(inputs)
    for _ in range(3):
        x = block(x, padding_mask=ops.cast(mask, "bool"))
    np.testing.assert_allclose(
        ops.convert_to_numpy(three_passes(inputs)["sequence_output"]),
        ops.convert_to_numpy(x),
        atol=1e-5,
    )


def test_albert_groups_take_consecutive_passes():
    backbone = AlbertBackbone(
        **dict(SMALL, num_layers=4), embedding_dim=8, num_groups=2, layers_per_group=2
    )
    names = [layer.name for layer in backbone.layers if layer.name.startswith("transformer_")]
    assert names == [f"transformer_group_{g}_{i}" for g in (0, 1) for i in (0, 1)]
    with pytest.raises(ValueError, match="num_layers=3 does not divide into num_groups=2"):
        AlbertBackbone(**dict(SMALL, num_layers=3), num_groups=2)


@pytest.mark.parametrize("kind", ["roberta", "albert"])
def test_save_and_load_keeps_outputs(kind, tmp_path):
    model = RobertaBackbone(**SMALL) if kind == "roberta" else AlbertBackbone(**SMALL)
    ids = np.random.default_rng(2).integers(0, 40, size=(2, 5)).astype("int32")
    inputs = {"token_ids": ids, "padding_mask": np.ones_like(ids)}
    if kind == "albert":
        inputs["segment_ids"] = np.zeros_like(ids)
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model)
    assert loaded.get_config() == model.get_config()
    for name in ("sequence_output", "pooled_output"):
        np.testing.assert_allclose(
            ops.convert_to_numpy(loaded(inputs)[name]),
            ops.convert_to_numpy(model(inputs)[name]),
            atol=1e-6,
        )


def test_configs_read_their_own_model_type(tmp_path):
    roberta = RobertaConfig.from_json(refs.ROBERTA_FOLDER)
    assert (roberta.pad_token_id, roberta.type_vocab_size) == (1, 1)
    assert RobertaBackbone.from_config_file(refs.ROBERTA_FOLDER).padding_id == 1
    albert = AlbertConfig.from_json(refs.ALBERT_FOLDER)
    assert (albert.embedding_size, albert.num_hidden_groups, albert.inner_group_num) == (16, 2, 2)
    with pytest.raises(ValueError, match="'roberta' config, not a 'bert' one"):
        BertConfig.from_json(refs.ROBERTA_FOLDER)
    with pytest.raises(ValueError, match="'albert' config, not a 'roberta' one"):
        RobertaConfig.from_json(refs.ALBERT_FOLDER)
    with open(os.path.join(refs.ALBERT_FOLDER, "config.json")) as file:
        values = json.load(file)
    values["num_hidden_groups"] = 3
    with pytest.raises(ValueError, match="num_hidden_layers=4 does not divide"):
        AlbertConfig.from_dict(values)


def test_loading_is_strict_and_all_or_nothing(tmp_path):
    from safetensors.numpy import save_file

    tensors = read_safetensors(os.path.join(refs.ROBERTA_FOLDER, "model.safetensors"))
    del tensors["encoder.layer.1.output.dense.bias"]
    tensors["encoder.layer.0.extra.weight"] = np.zeros(3, "float32")
    save_file(tensors, str(tmp_path / "model.safetensors"))
    backbone = RobertaBackbone.from_config_file(refs.ROBERTA_FOLDER)
    before = weights(backbone)
    with pytest.raises(ValueError) as error:
        load_hf_weights(backbone, str(tmp_path))
    message = str(error.value)
    assert "missing tensors: encoder.layer.1.output.dense.bias" in message
    assert "unexpected tensors: encoder.layer.0.extra.weight" in message
    for old, new in zip(before, weights(backbone), strict=True):
        np.testing.assert_array_equal(old, new)
    # A BERT backbone of the same shape does not take ALBERT's checkpoint.
    albert = AlbertBackbone.from_config_file(refs.ALBERT_FOLDER)
    assert load_hf_weights(albert, refs.ALBERT_FOLDER) == []
    bert = BertBackbone(**{**SMALL, "vocabulary_size": albert.vocabulary_size})
    with pytest.raises(ValueError, match="missing tensors"):
        load_hf_weights(bert, refs.ALBERT_FOLDER)


@pytest.mark.parametrize("kind", ["roberta", "albert"])
def test_a_checkpoint_without_a_pooler_loads_the_rest_and_warns(kind, tmp_path):
    # roberta-base and roberta-large were saved by a masked-LM model: no pooler.
    from safetensors.numpy import save_file

    cls, folder = {
        "roberta": (RobertaBackbone, refs.ROBERTA_FOLDER),
        "albert": (AlbertBackbone, refs.ALBERT_FOLDER),
    }[kind]
    tensors = read_safetensors(os.path.join(folder, "model.safetensors"))
    pooler = sorted(name for name in tensors if name.startswith("pooler."))
    assert len(pooler) == 2
    complete = cls.from_pretrained(folder)
    backbone = cls.from_config_file(folder)
    initial_pooler = weights(backbone.get_layer("pooled_dense"))
    save_file(
        {k: v for k, v in tensors.items() if k not in pooler}, str(tmp_path / "model.safetensors")
    )
    with pytest.warns(UserWarning, match="has no pooler"):
        load_hf_weights(backbone, str(tmp_path))
    for old, new in zip(initial_pooler, weights(backbone.get_layer("pooled_dense")), strict=True):
        np.testing.assert_array_equal(old, new)
    loaded = {_path(w): v for w, v in zip(backbone.weights, weights(backbone), strict=True)}
    for weight, value in zip(complete.weights, weights(complete), strict=True):
        if "pooled_dense" not in _path(weight):
            np.testing.assert_array_equal(loaded[_path(weight)], value)
    # Half a pooler is a damaged file: an error, and nothing loaded.
    save_file(
        {k: v for k, v in tensors.items() if k != pooler[0]}, str(tmp_path / "model.safetensors")
    )
    fresh = cls.from_config_file(folder)
    before = weights(fresh)
    with pytest.raises(ValueError, match=f"missing tensors: {pooler[0]}"):
        load_hf_weights(fresh, str(tmp_path))
    for old, new in zip(before, weights(fresh), strict=True):
        np.testing.assert_array_equal(old, new)


def test_byte_pair_tokenizer_errors(tmp_path):
    tokenizer = RobertaTokenizer.from_folder(refs.ROBERTA_FOLDER)
    with pytest.raises(ValueError, match=r"Unknown token ids \[100000\]"):
        tokenizer.detokenize([0, 100000])
    with pytest.raises(ValueError, match="`text` must be a str, received bytes"):
        tokenizer.token_ids(b"bytes")
    with pytest.raises(FileNotFoundError, match="No vocabulary file"):
        BytePairTokenizer(tmp_path / "vocab.json", [])
    (tmp_path / "merges.txt").write_text("#version: 0.2\na b c\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2: a merge is two tokens"):
        BytePairTokenizer({"a": 0, "b": 1}, tmp_path / "merges.txt")
    with pytest.raises(ValueError, match="lacks the special tokens"):
        RobertaTokenizer({"a": 0, "b": 1, "ab": 2}, [("a", "b")])
    with pytest.raises(ValueError, match="max_length=2 leaves no room"):
        tokenizer.encode("x", "y", max_length=2)


def test_byte_pair_tokenizer_truncates_longest_first():
    tokenizer = RobertaTokenizer.from_folder(refs.ROBERTA_FOLDER)
    first, second = "a much longer first text than the second", "short"
    a, b = tokenizer.token_ids(first), tokenizer.token_ids(second)
    encoded = tokenizer.encode(first, second, max_length=len(b) + 10)
    ids = list(encoded["token_ids"])
    # <s> A </s></s> B </s>, A cut to what fits, B whole.
    assert ids == [0, *a[: 10 - 4], 2, 2, *b, 2]


def test_albert_tokenizer_preprocessing_on_a_model_trained_here(tmp_path):
    model = refs.train_sentencepiece(str(tmp_path / "spiece"), vocabulary_size=250)
    tokenizer = AlbertTokenizer(model)
    # Quotes, accents, case and spacing as ALBERT's preprocessing makes them.
    assert tokenizer.tokenize("``Café''  RÉSUMÉ") == tokenizer.tokenize('"cafe" resume')
    # Digits ending in a comma are cut again without it.
    pieces = tokenizer.tokenize("paid 1,000, then 22,")
    assert pieces.count(",") >= 2 and all(
        not (len(p) > 1 and p[-1] == "," and p[-2].isdigit()) for p in pieces
    )
    pieces = tokenizer.tokenize("the [MASK] sat")
    assert pieces.count("[MASK]") == 1 and pieces[0] != "[MASK]"
    assert tokenizer.token_ids("[MASK]") == [tokenizer.mask_id]
    encoded = tokenizer.encode("a b", "c")
    assert encoded["token_ids"][0] == tokenizer.cls_id
    assert list(encoded["segment_ids"]).count(1) == len(tokenizer.token_ids("c")) + 1
    with pytest.raises(ValueError, match="Not a readable SentencePiece model"):
        AlbertTokenizer(b"not a model")
    with pytest.raises(FileNotFoundError, match="No SentencePiece model"):
        AlbertTokenizer(tmp_path / "missing.model")
    with pytest.raises(ValueError, match="Unknown token ids"):
        tokenizer.ids_to_tokens([10**6])


@pytest.mark.parametrize("kind", ["bert", "roberta", "albert"])
def test_a_mixed_policy_is_the_models_own_and_survives_saving(kind, tmp_path):
    from kerastack.bert import BertClassifier

    model_class = {"bert": BertBackbone, "roberta": RobertaBackbone, "albert": AlbertBackbone}
    backbone = model_class[kind](**SMALL, dtype="mixed_float16")
    # Keras's functional Model.__init__ drops `dtype`; the backbones keep it.
    assert backbone.dtype_policy.name == "mixed_float16"
    assert backbone.get_config()["dtype"] == "mixed_float16"
    path = os.path.join(tmp_path, "model.keras")
    backbone.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.dtype_policy.name == "mixed_float16"
    assert {layer.dtype_policy.name for layer in loaded.layers if layer.weights} == {
        "mixed_float16"
    }
    if kind == "bert":
        classifier = BertClassifier(backbone, num_classes=2)
        classifier.compile("adam")
        # compile adds loss scaling for a mixed_float16 model.
        assert isinstance(classifier.optimizer, keras.optimizers.LossScaleOptimizer)
