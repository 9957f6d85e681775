"""kerastack-bert against HF transformers: a tiny random BertModel saved by
transformers, and the real all-MiniLM-L6-v2 weights, on every Keras 3 lane.

References come from transformers (PyTorch, eager attention), written by
`python -m tests.conformance.make_references` in the torch lane; where
transformers is installed, the tests also check that they are still what it
gives, and that transformers loads what kerastack exports. Outputs at padded
positions are left out of comparisons: they are not defined by either model.
"""

import importlib.util
import os

import numpy as np
import pytest

from kerastack.bert import BertBackbone, save_hf_weights
from tests.conformance import make_references as refs
from tests.tolerances import RECORDED_MINILM_ATOL, RECORDED_TINY_ATOL

HAS_TRANSFORMERS = importlib.util.find_spec("transformers") is not None
NEEDS_TRANSFORMERS = pytest.mark.skipif(
    not HAS_TRANSFORMERS, reason="HF transformers (PyTorch) is installed in the torch lane only"
)
# Stated tolerances: float32 against float32 transformers (tests/tolerances.py
# says how they were measured).
TINY_ATOL = 1e-5
MINILM_ATOL = RECORDED_MINILM_ATOL
MINILM_COSINE = 0.99999


def run(backbone, ids, segments, mask):
    outputs = backbone.predict(
        {"token_ids": ids, "segment_ids": segments, "padding_mask": mask},
        batch_size=len(ids),
        verbose=0,
    )
    return outputs["sequence_output"], outputs["pooled_output"]


def mean_pool(sequence, mask):
    mask = mask.astype(bool)[..., None]
    return (sequence * mask).sum(1) / mask.sum(1)


def cosine(a, b):
    return (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)


def test_tiny_random_checkpoint_saved_by_transformers():
    ids, segments, mask, sequence, pooled = refs.load_reference(refs.TINY_REFERENCE)
    backbone = BertBackbone.from_pretrained(refs.TINY_FOLDER)
    ours_sequence, ours_pooled = run(backbone, ids, segments, mask)
    real = mask.astype(bool)
    np.testing.assert_allclose(ours_sequence[real], sequence[real], atol=TINY_ATOL, rtol=0)
    np.testing.assert_allclose(ours_pooled, pooled, atol=TINY_ATOL, rtol=0)


@pytest.fixture(scope="module")
def minilm():
    return BertBackbone.from_pretrained(refs.minilm_folder())


def test_minilm_matches_transformers(minilm):
    ids, segments, mask, sequence, pooled = refs.load_reference(refs.MINILM_REFERENCE)
    ours_sequence, ours_pooled = run(minilm, ids, segments, mask)
    real = mask.astype(bool)
    difference = np.abs(ours_sequence[real] - sequence[real]).max()
    assert difference < MINILM_ATOL, f"max abs difference {difference:.2e}"
    np.testing.assert_allclose(ours_pooled, pooled, atol=MINILM_ATOL, rtol=0)
    similarity = cosine(mean_pool(ours_sequence, mask), mean_pool(sequence, mask))
    assert similarity.min() > MINILM_COSINE, similarity


# Stated tolerances under mixed precision (half-precision matmuls, float32
# layer norms and softmax), against float32 transformers: the largest
# difference of a last hidden state at a real token, and the cosine of the
# mean-pooled sentence embeddings.
MIXED = {"mixed_float16": (2e-2, 0.99999), "mixed_bfloat16": (1.5e-1, 0.9999)}


@pytest.mark.parametrize("policy", sorted(MIXED))
def test_minilm_under_mixed_precision_stays_close(policy):
    ids, segments, mask, sequence, pooled = refs.load_reference(refs.MINILM_REFERENCE)
    half = BertBackbone.from_pretrained(refs.minilm_folder(), dtype=policy)
    ours_sequence, _ = run(half, ids, segments, mask)
    real = mask.astype(bool)
    ours_sequence = ours_sequence.astype("float32")
    assert np.all(np.isfinite(ours_sequence[real]))
    atol, min_cosine = MIXED[policy]
    difference = np.abs(ours_sequence[real] - sequence[real]).max()
    assert difference < atol, f"{policy}: max abs difference {difference:.2e}"
    similarity = cosine(mean_pool(ours_sequence, mask), mean_pool(sequence, mask))
    assert similarity.min() > min_cosine, similarity


@NEEDS_TRANSFORMERS
def test_references_are_what_transformers_gives():
    import torch
    import transformers

    torch.manual_seed(0)
    tiny = transformers.BertModel.from_pretrained(
        refs.TINY_FOLDER, attn_implementation="eager"
    ).eval()
    ids, segments, mask, sequence, pooled = refs.load_reference(refs.TINY_REFERENCE)
    live = refs.transformers_outputs(tiny, ids, segments, mask)
    np.testing.assert_allclose(live[0], sequence, atol=RECORDED_TINY_ATOL, rtol=0)
    np.testing.assert_allclose(live[1], pooled, atol=RECORDED_TINY_ATOL, rtol=0)
    ids, segments, mask, sequence, _ = refs.load_reference(refs.MINILM_REFERENCE)
    np.testing.assert_array_equal(refs.minilm_inputs()[0], ids)
    model = transformers.BertModel.from_pretrained(
        refs.minilm_folder(), attn_implementation="eager"
    ).eval()
    live = refs.transformers_outputs(model, ids, segments, mask)
    np.testing.assert_allclose(live[0], sequence, atol=RECORDED_MINILM_ATOL, rtol=0)


@NEEDS_TRANSFORMERS
def test_transformers_loads_what_kerastack_exports(tmp_path):
    import transformers

    backbone = BertBackbone(
        vocabulary_size=60,
        num_layers=2,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=24,
        max_sequence_length=20,
        activation="gelu_approximate",
    )
    save_hf_weights(backbone, str(tmp_path))
    model = transformers.BertModel.from_pretrained(str(tmp_path)).eval()
    ids, segments, mask = refs.tiny_inputs()
    ids = ids % 60
    sequence, pooled = refs.transformers_outputs(model, ids, segments, mask)
    ours_sequence, ours_pooled = run(backbone, ids, segments, mask)
    real = mask.astype(bool)
    np.testing.assert_allclose(ours_sequence[real], sequence[real], atol=TINY_ATOL, rtol=0)
    np.testing.assert_allclose(ours_pooled, pooled, atol=TINY_ATOL, rtol=0)


def test_minilm_folder_is_the_real_checkpoint():
    # The package ships the real weights, not a stand-in: 22.7M parameters.
    folder = refs.minilm_folder()
    assert os.path.getsize(os.path.join(folder, "model.safetensors")) > 80_000_000
