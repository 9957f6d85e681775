"""Write a Google-format BERT checkpoint with TensorFlow, from the weights of
the tiny HF pretraining checkpoint (tests/conformance/fixtures/tiny_pretraining).

Run from the repository root in the tensorflow lane's environment:

    python -m tests.conformance.make_google_checkpoint

It writes tests/conformance/fixtures/tiny_google/: `bert_config.json` (Google's
keys: no layer_norm_eps), a `vocab.txt` of 99 tokens (the keras-bert
README's words: its examples run on this folder) and
`bert_model.ckpt.index` / `.data-00000-of-00001`,
saved by `tf.compat.v1.train.Saver` under Google's TensorFlow 1 names, with
Adam slots and `global_step` as Google's released files have them. The names
are made here by their own rules (not kerastack's), so the test checks
kerastack's renaming against an independent one.
"""

import json
import os
import re

import numpy as np

from tests.conformance import make_references as refs

FOLDER = os.path.join(refs.FIXTURES, "tiny_google")


def hf_to_google(name):
    """`(google_name, transpose)` for an HF BERT tensor name."""
    special = {
        "cls.predictions.bias": "cls/predictions/output_bias",
        "cls.seq_relationship.weight": "cls/seq_relationship/output_weights",
        "cls.seq_relationship.bias": "cls/seq_relationship/output_bias",
    }
    if name in special:
        return special[name], False
    if name.startswith("bert."):
        name = name[len("bert.") :]
    name = re.sub(r"layer\.(\d+)", r"layer_\1", name)
    parts = name.split(".")
    transpose = False
    if parts[-2] == "LayerNorm":
        parts[-1] = {"weight": "gamma", "bias": "beta"}[parts[-1]]
    elif parts[-2].endswith("_embeddings"):
        parts = parts[:-1]
    elif parts[-1] == "weight":
        parts[-1], transpose = "kernel", True
    prefix = [] if parts[0] == "cls" else ["bert"]
    return "/".join(prefix + parts), transpose


# The words of the keras-bert README's examples, then filler up to 99 tokens.
VOCABULARY = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "~", ".", ",", "!", "?",
    "all", "work", "and", "no", "play", "makes", "jack", "a", "dull", "boy",
    "from", "the", "day", "forth", "my", "arm", "changed", "voice", "echoed",
    "power", "give", "me", "more", "un", "##aff", "##able", "##s", "##ed",
]  # fmt: skip


def write_vocabulary(folder=FOLDER):
    tokens = VOCABULARY + [
        f"[unused{i}]" for i in range(refs.TINY_CONFIG["vocab_size"] - len(VOCABULARY))
    ]
    with open(os.path.join(folder, "vocab.txt"), "w", encoding="utf-8") as file:
        file.write("".join(token + "\n" for token in tokens))


def main():
    import tensorflow as tf
    from safetensors.numpy import load_file

    source = os.path.join(refs.FIXTURES, "tiny_pretraining")
    tensors = load_file(os.path.join(source, "model.safetensors"))
    os.makedirs(FOLDER, exist_ok=True)
    graph = tf.Graph()
    with graph.as_default():
        variables = []
        for name, value in sorted(tensors.items()):
            if name.startswith("cls.predictions.decoder"):
                continue  # tied to the word embeddings
            google, transpose = hf_to_google(name)
            value = value.T if transpose else value
            variables.append(tf.compat.v1.get_variable(google, initializer=value))
            for slot in ("adam_m", "adam_v"):
                tf.compat.v1.get_variable(f"{google}/{slot}", initializer=np.zeros_like(value))
        tf.compat.v1.train.get_or_create_global_step()
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver.save(session, os.path.join(FOLDER, "bert_model.ckpt"), write_meta_graph=False)
    os.remove(os.path.join(FOLDER, "checkpoint"))
    config = dict(refs.TINY_CONFIG, hidden_act="gelu", hidden_dropout_prob=0.1,
                  attention_probs_dropout_prob=0.1, initializer_range=0.02)  # fmt: skip
    with open(os.path.join(FOLDER, "bert_config.json"), "w", encoding="utf-8") as file:
        json.dump(config, file, indent=2)
    write_vocabulary()
    print(f"Wrote {FOLDER}: {sorted(os.listdir(FOLDER))}")


if __name__ == "__main__":
    main()
