"""Write the keras-hub presets the keras-hub conformance tests load.

keras-hub itself writes them: run from the repository root in the
tensorflow lane's environment with keras-hub added (its tokenizers need
TensorFlow Text; the rest of its dependencies the lane has, but `regex`):

    python -m pip install --no-deps keras-hub==0.32.0 tensorflow-text==2.21.1 regex
    python -m tests.conformance.make_keras_hub_presets

It writes, by keras-hub's own `save_to_preset` (`config.json`,
`model.weights.h5`, `metadata.json`, and for a tokenizer `tokenizer.json` and
`assets/tokenizer/`), tiny keras-hub backbones of odd sizes (hidden width
12, 3 heads) with random weights of a larger scale than keras-hub's
initializers (so the outputs depend on every weight), each with
`reference.npz`: keras-hub's outputs (float32) on a padded batch of two,
and its tokenizer's ids for the texts, where it has one:

- tests/conformance/fixtures/keras_hub_bert/: `BertBackbone` (vocabulary
  23, 2 layers) and `BertTokenizer` (ids of `TEXTS`);
- keras_hub_gpt2/: `GPT2Backbone` (vocabulary 401, 2 layers) and
  `GPT2Tokenizer` on the tiny RoBERTa fixture's byte-level BPE plus
  `<|endoftext|>` (ids of `GPT2_TEXTS`);
- keras_hub_albert/: `AlbertBackbone`, 2 groups of 2 blocks over 4 passes,
  embeddings 6 wide;
- keras_hub_electra/: `ElectraBackbone`, embeddings 6 wide (with keras-hub's
  pooler, which kerastack leaves out).

keras-hub 0.32.0 (Keras 3.15.1, TensorFlow 2.21) wrote the committed ones.
"""

import json
import os
import shutil

import numpy as np

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
BERT_FOLDER = os.path.join(FIXTURES, "keras_hub_bert")
GPT2_FOLDER = os.path.join(FIXTURES, "keras_hub_gpt2")
ALBERT_FOLDER = os.path.join(FIXTURES, "keras_hub_albert")
ELECTRA_FOLDER = os.path.join(FIXTURES, "keras_hub_electra")
# The byte-level BPE vocabulary and merges of the tiny RoBERTa fixture, with
# GPT-2's one special token added.
BPE_FOLDER = os.path.join(FIXTURES, "tiny_roberta")
REFERENCE = "reference.npz"

VOCABULARY = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "cat", "dog", "sat",
    "on", "mat", "##s", "##ing", "run", "big", "small", ".", ",", "!", "un", "##able", "é",
]  # fmt: skip
BERT_CONFIG = {
    "vocabulary_size": len(VOCABULARY),
    "num_layers": 2,
    "num_heads": 3,
    "hidden_dim": 12,
    "intermediate_dim": 20,
    "dropout": 0.0,
    "max_sequence_length": 16,
    "num_segments": 2,
}
TEXTS = ["The cats sat on the mat.", "A big dog, running!", "Unable: café"]
GPT2_CONFIG = {
    "vocabulary_size": 401,
    "num_layers": 2,
    "num_heads": 3,
    "hidden_dim": 12,
    "intermediate_dim": 20,
    "dropout": 0.0,
    "max_sequence_length": 16,
}
GPT2_TEXTS = ["aaaa bb", " hello world, again!", "tiny\nlines<|endoftext|>"]
# Two groups of two blocks, four passes: group 0 runs twice, then group 1.
ALBERT_CONFIG = {
    "vocabulary_size": 23,
    "num_layers": 4,
    "num_heads": 3,
    "embedding_dim": 6,
    "hidden_dim": 12,
    "intermediate_dim": 20,
    "num_groups": 2,
    "num_inner_repetitions": 2,
    "dropout": 0.0,
    "max_sequence_length": 16,
    "num_segments": 2,
}
# keras-hub's ELECTRA names its vocabulary size `vocab_size`.
ELECTRA_CONFIG = {
    "vocab_size": 23,
    "num_layers": 2,
    "num_heads": 3,
    "hidden_dim": 12,
    "embedding_dim": 6,
    "intermediate_dim": 20,
    "dropout": 0.0,
    "max_sequence_length": 16,
    "num_segments": 2,
}


def batch():
    """The inputs the references are recorded on: two rows, the second
    padded (ids below `vocabulary_size`, both segments)."""
    token_ids = np.array(
        [[2, 5, 7, 12, 9, 10, 5, 11, 17, 3], [2, 6, 15, 8, 18, 14, 13, 3, 0, 0]], "int32"
    )
    segment_ids = np.array([[0] * 5 + [1] * 5, [0] * 4 + [1] * 4 + [0, 0]], "int32")
    padding_mask = (token_ids != 0).astype("int32")
    padding_mask[0, :] = 1
    return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}


def _randomize(model, seed):
    rng = np.random.default_rng(seed)
    # Normal(0, 0.3) noise on every weight, centred on 1 for the norms' gammas
    # (the weights that start at 1).
    model.set_weights(
        [rng.normal(0.0, 0.3, w.shape).astype("float32") + (w == 1) for w in model.get_weights()]
    )


def write_bert():
    import keras_hub

    if os.path.isdir(BERT_FOLDER):
        shutil.rmtree(BERT_FOLDER)
    backbone = keras_hub.models.BertBackbone(**BERT_CONFIG)
    _randomize(backbone, 0)
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=VOCABULARY, lowercase=True)
    backbone.save_to_preset(BERT_FOLDER)
    tokenizer.save_to_preset(BERT_FOLDER)
    outputs = backbone.predict(batch(), verbose=0)
    ids = [np.asarray(tokenizer(text)).astype("int32") for text in TEXTS]
    np.savez_compressed(
        os.path.join(BERT_FOLDER, REFERENCE),
        sequence_output=np.asarray(outputs["sequence_output"], "float32"),
        pooled_output=np.asarray(outputs["pooled_output"], "float32"),
        **{f"ids_{index}": value for index, value in enumerate(ids)},
    )
    print("wrote", BERT_FOLDER, [v.tolist() for v in ids])


def gpt2_batch():
    """Two rows of GPT-2 ids, the second padded on the right."""
    token_ids = np.array(
        [[400, 5, 77, 123, 9, 300, 41, 12], [17, 250, 399, 8, 64, 0, 0, 0]], "int32"
    )
    padding_mask = np.array([[1] * 8, [1] * 5 + [0] * 3], "int32")
    return {"token_ids": token_ids, "padding_mask": padding_mask}


def _bpe_files():
    with open(os.path.join(BPE_FOLDER, "vocab.json"), encoding="utf-8") as file:
        vocabulary = json.load(file)
    vocabulary["<|endoftext|>"] = len(vocabulary)
    with open(os.path.join(BPE_FOLDER, "merges.txt"), encoding="utf-8") as file:
        merges = [line for line in file.read().splitlines() if line and not line.startswith("#")]
    return vocabulary, merges


def write_gpt2():
    import keras_hub

    if os.path.isdir(GPT2_FOLDER):
        shutil.rmtree(GPT2_FOLDER)
    backbone = keras_hub.models.GPT2Backbone(**GPT2_CONFIG)
    _randomize(backbone, 2)
    vocabulary, merges = _bpe_files()
    tokenizer = keras_hub.models.GPT2Tokenizer(vocabulary=vocabulary, merges=merges)
    backbone.save_to_preset(GPT2_FOLDER)
    tokenizer.save_to_preset(GPT2_FOLDER)
    outputs = backbone.predict(gpt2_batch(), verbose=0)
    ids = [np.asarray(tokenizer(text)).astype("int32") for text in GPT2_TEXTS]
    np.savez_compressed(
        os.path.join(GPT2_FOLDER, REFERENCE),
        sequence_output=np.asarray(outputs, "float32"),
        **{f"ids_{index}": value for index, value in enumerate(ids)},
    )
    print("wrote", GPT2_FOLDER, [v.tolist() for v in ids])


def write_albert():
    """The backbone alone: kerastack's ALBERT tokenizer follows HF's (its
    text clean-up before SentencePiece), not keras-hub's."""
    import keras_hub

    if os.path.isdir(ALBERT_FOLDER):
        shutil.rmtree(ALBERT_FOLDER)
    backbone = keras_hub.models.AlbertBackbone(**ALBERT_CONFIG)
    _randomize(backbone, 3)
    backbone.save_to_preset(ALBERT_FOLDER)
    outputs = backbone.predict(batch(), verbose=0)
    np.savez_compressed(
        os.path.join(ALBERT_FOLDER, REFERENCE),
        sequence_output=np.asarray(outputs["sequence_output"], "float32"),
        pooled_output=np.asarray(outputs["pooled_output"], "float32"),
    )
    print("wrote", ALBERT_FOLDER)


def write_electra():
    """The backbone alone (its tokenizer is BERT's)."""
    import keras_hub

    if os.path.isdir(ELECTRA_FOLDER):
        shutil.rmtree(ELECTRA_FOLDER)
    backbone = keras_hub.models.ElectraBackbone(**ELECTRA_CONFIG)
    _randomize(backbone, 4)
    backbone.save_to_preset(ELECTRA_FOLDER)
    outputs = backbone.predict(batch(), verbose=0)
    np.savez_compressed(
        os.path.join(ELECTRA_FOLDER, REFERENCE),
        sequence_output=np.asarray(outputs["sequence_output"], "float32"),
    )
    print("wrote", ELECTRA_FOLDER)


if __name__ == "__main__":
    write_bert()
    write_gpt2()
    write_albert()
    write_electra()
