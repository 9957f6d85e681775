"""T5 (relu, tied output) and T5.1.1-style (gated GELU, untied `lm_head`)
against HF transformers, on every Keras 3 lane.

Tiny random `T5ForConditionalGeneration` checkpoints were saved by
transformers with its outputs (encoder output, decoder logits on padded
batches, greedy `generate` tokens, relative position buckets) by
`python -m tests.conformance.make_t5_references`. Here kerastack's
`T5Seq2SeqLM`, loaded from those folders, must give the same outputs within
RECORDED_TINY_ATOL (logits: LOGITS_ATOL) and the same greedy tokens, with
and without the cache; where transformers is installed (the torch lane) the
references are recomputed live.
"""

import importlib.util

import numpy as np
import pytest

from kerastack.core import ops
from kerastack.t5 import T5Backbone, T5Seq2SeqLM, relative_position_bucket
from kerastack.tokenizers import T5Tokenizer
from tests.conformance import make_t5_references as refs
from tests.tolerances import RECORDED_TINY_ATOL

HAS_TRANSFORMERS = importlib.util.find_spec("transformers") is not None
NEEDS_TRANSFORMERS = pytest.mark.skipif(
    not HAS_TRANSFORMERS, reason="HF transformers (PyTorch) is installed in the torch lane only"
)
# The untied head's logits reach about 9 (the hidden states about 4), so
# their float32 rounding spread is larger than RECORDED_TINY_ATOL's (which
# is for outputs up to about 3): kerastack against transformers' recording
# measured 6.1e-6 (torch), 6.4e-6 (jax), 5.0e-6 (tensorflow); the bound is
# about 4x the largest, as the recorded tolerances are.
LOGITS_ATOL = 2.5e-5

NAMES = sorted(refs.FOLDERS)


@pytest.fixture(scope="module", params=NAMES)
def case(request):
    name = request.param
    model = T5Seq2SeqLM.from_pretrained(refs.FOLDERS[name])
    return name, model, dict(np.load(refs.REFERENCES[name]))


def decoder_inputs(reference):
    rows = len(reference["source_ids"])
    ids = np.concatenate([reference["decoder_ids"]] * 2)[:rows]
    mask = np.concatenate([reference["decoder_mask"]] * 2)[:rows]
    return ids, mask


def test_encoder_output_and_logits_match_transformers(case):
    name, model, reference = case
    ids, mask = decoder_inputs(reference)
    inputs = {
        "encoder_token_ids": reference["source_ids"],
        "encoder_padding_mask": reference["source_mask"],
        "decoder_token_ids": ids,
        "decoder_padding_mask": mask,
    }
    logits = ops.convert_to_numpy(model(inputs))
    np.testing.assert_allclose(logits, reference["logits"], atol=LOGITS_ATOL, rtol=0)
    encoded = ops.convert_to_numpy(
        model.encode(reference["source_ids"], reference["source_mask"].astype(bool))
    )
    np.testing.assert_allclose(
        encoded, reference["encoder_output"], atol=RECORDED_TINY_ATOL, rtol=0
    )
    # The untied model has its own head, the tied one none.
    assert (model.lm_head is None) == (name == "tiny_t5")


@pytest.mark.parametrize("use_cache", [True, False])
def test_greedy_generation_matches_transformers(case, use_cache):
    _, model, reference = case
    tokens = model.generate(
        reference["source_ids"], max_length=refs.MAX_NEW_TOKENS, use_cache=use_cache
    )
    np.testing.assert_array_equal(tokens, reference["generated"])


def test_relative_position_buckets_match_transformers(case):
    _, model, reference = case
    backbone = model.backbone
    settings = (
        backbone.relative_attention_num_buckets,
        backbone.relative_attention_max_distance,
    )
    for prefix, default in (("", settings), ("default_", (32, 128))):
        positions = reference[prefix + "bucket_positions"]
        for direction, bidirectional in (("bidirectional", True), ("causal", False)):
            buckets = relative_position_bucket(positions, bidirectional, *default)
            np.testing.assert_array_equal(
                ops.convert_to_numpy(buckets), reference[f"{prefix}buckets_{direction}"]
            )


def test_backbone_loads_the_language_model_checkpoint():
    backbone = T5Backbone.from_pretrained(refs.FOLDERS["tiny_t5_gated"])
    assert backbone.num_encoder_layers == 3 and backbone.num_decoder_layers == 2
    assert backbone.gated and not backbone.tie_embedding_weights
    reference = np.load(refs.REFERENCES["tiny_t5_gated"])
    encoded = backbone.encode(reference["source_ids"], reference["source_mask"].astype(bool))
    np.testing.assert_allclose(
        ops.convert_to_numpy(encoded), reference["encoder_output"], atol=RECORDED_TINY_ATOL, rtol=0
    )


@NEEDS_TRANSFORMERS
@pytest.mark.parametrize("name", NAMES)
def test_references_are_what_transformers_gives(name):
    import transformers

    reference = dict(np.load(refs.REFERENCES[name]))
    model = transformers.T5ForConditionalGeneration.from_pretrained(
        refs.FOLDERS[name], attn_implementation="eager"
    ).eval()
    inputs = {key: reference[key] for key in ("source_ids", "source_mask")}
    inputs["decoder_ids"], inputs["decoder_mask"] = (
        reference["decoder_ids"],
        reference["decoder_mask"],
    )
    live = refs.model_outputs(model, inputs)
    np.testing.assert_allclose(
        live["encoder_output"], reference["encoder_output"], atol=RECORDED_TINY_ATOL, rtol=0
    )
    np.testing.assert_allclose(live["logits"], reference["logits"], atol=LOGITS_ATOL, rtol=0)
    np.testing.assert_array_equal(live["generated"], reference["generated"])
    live_buckets = refs.relative_buckets(refs.CONFIGS[name])
    for key, value in live_buckets.items():
        np.testing.assert_array_equal(value, reference[key])


# -- the tokenizer ----------------------------------------------------------------------


def test_tokenizer_gives_the_recorded_ids():
    tokenizer = T5Tokenizer.from_folder(refs.SPIECE_FOLDER)
    reference = np.load(refs.REFERENCES["tiny_t5"])
    sources = tokenizer.encode_batch(refs.TEXTS)
    np.testing.assert_array_equal(sources["token_ids"], reference["source_ids"])
    np.testing.assert_array_equal(sources["padding_mask"], reference["source_mask"])
    targets = tokenizer.encode_batch(refs.TARGETS)["token_ids"]
    np.testing.assert_array_equal(targets[:, :-1], reference["decoder_ids"][:, 1:])
    assert tokenizer.vocabulary_size == refs.SPIECE_SIZE + 100
    assert tokenizer.sentinel_id(0) == tokenizer.vocabulary_size - 1
    assert (tokenizer.pad_id, tokenizer.end_id, tokenizer.unk_id) == (0, 1, 2)
    # The pieces spell the text again (its whitespace runs made one space).
    text = "summarize: The quick brown fox jumps."
    ids = tokenizer.encode(text + " <extra_id_1>")["token_ids"]
    assert tokenizer.detokenize(ids) == text + "<extra_id_1></s>"
    assert tokenizer.detokenize(ids, skip_special_tokens=True) == text


def test_tokenizer_errors(tmp_path):
    tokenizer = T5Tokenizer.from_folder(refs.SPIECE_FOLDER)
    with pytest.raises(ValueError, match="ids"):
        tokenizer.detokenize([tokenizer.vocabulary_size])
    with pytest.raises(ValueError, match="sentinels"):
        tokenizer.sentinel_id(100)
    with pytest.raises(ValueError, match="must be a str"):
        tokenizer.encode(3)
    (tmp_path / "spiece.model").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="Not a readable SentencePiece model"):
        T5Tokenizer.from_folder(tmp_path)


@NEEDS_TRANSFORMERS
def test_tokenizer_agrees_with_transformers_on_the_corpus():
    from tests.conformance.corpus import corpus

    theirs = refs.t5_tokenizer()
    ours = T5Tokenizer.from_folder(refs.SPIECE_FOLDER)
    texts = corpus() + refs.TEXTS + ["a▁▁b", "x▁", "▁", "a ▁ b", "</s>a<pad>", " <unk> "]
    differ = [t for t in texts if theirs(t)["input_ids"] != ours.token_ids(t) + [ours.end_id]]
    assert not differ, f"{len(differ)} of {len(texts)} texts differ, e.g. {differ[0][:200]!r}"
    pairs = ours.encode_batch(refs.TEXTS[:2], refs.TARGETS[:2])
    expected = theirs(refs.TEXTS[:2], refs.TARGETS[:2], padding=True, return_tensors="np")
    np.testing.assert_array_equal(pairs["token_ids"], expected["input_ids"])


# -- export ------------------------------------------------------------------------------


@NEEDS_TRANSFORMERS
def test_transformers_loads_the_export(case, tmp_path):
    import torch
    import transformers

    from kerastack.t5 import save_t5_checkpoint

    name, model, reference = case
    save_t5_checkpoint(model, tmp_path)
    exported = transformers.T5ForConditionalGeneration.from_pretrained(
        tmp_path, attn_implementation="eager"
    ).eval()
    ids, mask = decoder_inputs(reference)
    with torch.no_grad():
        logits = exported(
            input_ids=torch.tensor(reference["source_ids"], dtype=torch.long),
            attention_mask=torch.tensor(reference["source_mask"], dtype=torch.long),
            decoder_input_ids=torch.tensor(ids, dtype=torch.long),
            decoder_attention_mask=torch.tensor(mask, dtype=torch.long),
        ).logits.numpy()
    # The same weights in transformers: the recorded logits again.
    np.testing.assert_allclose(logits, reference["logits"], atol=LOGITS_ATOL, rtol=0)
    tied = exported.lm_head.weight.data_ptr() == exported.shared.weight.data_ptr()
    assert tied == (name == "tiny_t5")


def test_the_generic_entry_point_builds_t5():
    from kerastack.models import from_pretrained

    model = from_pretrained(refs.FOLDERS["tiny_t5_gated"], task="seq2seq_lm")
    assert isinstance(model, T5Seq2SeqLM) and model.lm_head is not None
    assert isinstance(from_pretrained(refs.FOLDERS["tiny_t5"]), T5Backbone)


# -- Google's checkpoints --------------------------------------------------------------


def test_google_checkpoint_loads_to_the_same_outputs():
    from kerastack.t5.convert_google import load_t5_google_weights

    reference = np.load(refs.REFERENCES["tiny_t5_gated"])
    model = T5Seq2SeqLM.from_config_file(refs.FOLDERS["tiny_t5_gated"])
    left_out = load_t5_google_weights(model, refs.GOOGLE_FOLDER)
    assert "global_step" in left_out and all(
        name == "global_step" or "_slot_" in name for name in left_out
    )
    ids, mask = decoder_inputs(reference)
    logits = model(
        {
            "encoder_token_ids": reference["source_ids"],
            "encoder_padding_mask": reference["source_mask"],
            "decoder_token_ids": ids,
            "decoder_padding_mask": mask,
        }
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(logits), reference["logits"], atol=LOGITS_ATOL, rtol=0
    )
    np.testing.assert_array_equal(
        model.generate(reference["source_ids"], max_length=refs.MAX_NEW_TOKENS),
        reference["generated"],
    )
    backbone = T5Backbone.from_config_file(refs.FOLDERS["tiny_t5_gated"])
    assert "decoder/logits/kernel" in load_t5_google_weights(backbone, refs.GOOGLE_FOLDER)
    # A tied language model would drop the checkpoint's own output projection.
    tied = T5Seq2SeqLM(T5Backbone(**dict(backbone.get_config(), tie_embedding_weights=True)))
    with pytest.raises(ValueError, match="tie_embedding_weights=False"):
        load_t5_google_weights(tied, refs.GOOGLE_FOLDER)
    # A model of another shape: every misfit named, nothing changed.
    other = T5Backbone.from_config_file(refs.FOLDERS["tiny_t5"])
    before = other.get_weights()
    with pytest.raises(ValueError) as error:
        load_t5_google_weights(other, refs.GOOGLE_FOLDER)
    message = str(error.value)
    assert "missing tensors: decoder/block_000/layer_002/DenseReluDense/wi/kernel" in message
    assert "decoder/block_002/layer_000/SelfAttention/q" in message
    assert "unexpected tensors: decoder/block_000/layer_002/DenseReluDense/wi_0/kernel" in message
    assert "shape mismatches: " in message
    for a, b in zip(before, other.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
