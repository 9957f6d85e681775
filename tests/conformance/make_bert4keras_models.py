"""Outputs of the real bert4keras's `build_transformer_model` on the tiny Google
BERT checkpoint (tests/conformance/fixtures/tiny_google) and on a tiny ALBERT
checkpoint in Google's format (tests/conformance/fixtures/tiny_albert_google),
the references kerastack-bert4keras's models are checked against on every
Keras 3 lane.

Run on tf-keras with bert4keras 0.11.5 installed (the tfkeras lane's
environment; it recomputes them there in tests/bert4keras_real):

    TF_KERAS=1 TF_USE_LEGACY_KERAS=1 python -m tests.conformance.make_bert4keras_models

The ALBERT checkpoint is written by bert4keras itself (its
`save_weights_as_checkpoint`, Google's ALBERT names) when its folder is
missing, or again with `--checkpoint`; its weights come from a fixed seed.
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
FOLDER = os.path.join(FIXTURES, "tiny_google")
CONFIG = os.path.join(FOLDER, "bert_config.json")
CHECKPOINT = os.path.join(FOLDER, "bert_model.ckpt")
OUTPUT = os.path.join(FIXTURES, "bert4keras", "models.npz")
ALBERT_FOLDER = os.path.join(FIXTURES, "tiny_albert_google")
ALBERT_CONFIG = os.path.join(ALBERT_FOLDER, "albert_config.json")
ALBERT_CHECKPOINT = os.path.join(ALBERT_FOLDER, "albert_model.ckpt")
# Google's albert_config.json keys; tiny_google's 99-token vocabulary.
ALBERT_SETTINGS = {
    "vocab_size": 99,
    "embedding_size": 16,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_hidden_groups": 1,
    "inner_group_num": 1,
    "num_attention_heads": 4,
    "intermediate_size": 37,
    "hidden_act": "gelu",
    "max_position_embeddings": 64,
    "type_vocab_size": 2,
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
    "initializer_range": 0.02,
}
ALBERT_SEED = 20261206

# Two rows of token ids (0 pads) and segment ids: the second row is a
# source (segment 0) followed by a target (segment 1), as UniLM reads them.
TOKEN_IDS = np.array([[2, 15, 27, 33, 48, 3, 0, 0], [2, 61, 7, 19, 3, 44, 52, 3]], dtype="int32")
SEGMENT_IDS = np.array([[0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 1, 1, 1]], dtype="int32")
KEEP_TOKENS = [0, 1, 2, 3, 7, 15, 19, 27, 33, 44, 48, 52, 61, 98]
KEPT_IDS = np.array([[2, 5, 7, 8, 10, 3, 0, 0], [2, 12, 4, 6, 3, 9, 11, 3]], dtype="int32")

# name -> (build_transformer_model keyword arguments, token ids)
CASES = {
    "encoder": ({}, TOKEN_IDS),
    "pool": ({"with_pool": True}, TOKEN_IDS),
    "nsp": ({"with_pool": True, "with_nsp": True}, TOKEN_IDS),
    "mlm": ({"with_mlm": True}, TOKEN_IDS),
    "pool_mlm": ({"with_pool": True, "with_mlm": True}, TOKEN_IDS),
    "linear_mlm": ({"with_mlm": "linear"}, TOKEN_IDS),
    "lm": ({"application": "lm"}, TOKEN_IDS),
    "unilm": ({"application": "unilm"}, TOKEN_IDS),
    # SimBERT's model: a linear pooler and UniLM's MLM output.
    "simbert": ({"with_pool": "linear", "application": "unilm"}, TOKEN_IDS),
    "keep_tokens": ({"with_mlm": True, "keep_tokens": KEEP_TOKENS}, KEPT_IDS),
}
# The same, on the tiny ALBERT checkpoint (bert4keras's "albert": one shared
# block; "albert_unshared": a block per layer, each loaded from the shared one).
ALBERT_CASES = {
    "albert_encoder": ({"model": "albert"}, TOKEN_IDS),
    "albert_pool": ({"model": "albert", "with_pool": True}, TOKEN_IDS),
    "albert_nsp": ({"model": "albert", "with_pool": True, "with_nsp": True}, TOKEN_IDS),
    "albert_mlm": ({"model": "albert", "with_mlm": True}, TOKEN_IDS),
    "albert_pool_mlm": ({"model": "albert", "with_pool": True, "with_mlm": True}, TOKEN_IDS),
    "albert_lm": ({"model": "albert", "application": "lm"}, TOKEN_IDS),
    "albert_unilm": ({"model": "albert", "application": "unilm"}, TOKEN_IDS),
    "albert_keep_tokens": (
        {"model": "albert", "with_mlm": True, "keep_tokens": KEEP_TOKENS},
        KEPT_IDS,
    ),
    "albert_unshared_encoder": ({"model": "albert_unshared"}, TOKEN_IDS),
    "albert_unshared_mlm": ({"model": "albert_unshared", "with_mlm": True}, TOKEN_IDS),
}
ALL_CASES = {**CASES, **ALBERT_CASES}


def sources(case):
    """`(config, checkpoint)` a case's model is built from."""
    if case in ALBERT_CASES:
        return ALBERT_CONFIG, ALBERT_CHECKPOINT
    return CONFIG, CHECKPOINT


def make_albert_checkpoint():
    """Write tests/conformance/fixtures/tiny_albert_google: `albert_config.json`,
    `vocab.txt` (tiny_google's) and `albert_model.ckpt.{index,data-*}`, an
    ALBERT with its pooler, NSP and MLM heads saved by bert4keras's
    `save_weights_as_checkpoint` (Google's names). The weights are drawn
    from `ALBERT_SEED`: normal, 0.15 wide (LayerNorm scales about 1).

    bert4keras's `save_weights_as_checkpoint` is TensorFlow 1 code
    (`tf.Session`, `tf.train.Saver`): it runs in a process of its own, in
    graph mode, with `tf.compat.v1` as bert4keras's `tf`."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    command = [sys.executable, "-m", "tests.conformance.make_bert4keras_models", "--tf1-save"]
    subprocess.run(command, cwd=root, check=True)


def _save_albert_checkpoint():
    """`make_albert_checkpoint`'s work, in its own process."""
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    import bert4keras.models
    from bert4keras.models import build_transformer_model

    bert4keras.models.tf = tf.compat.v1
    shutil.rmtree(ALBERT_FOLDER, ignore_errors=True)
    os.makedirs(ALBERT_FOLDER)
    with open(ALBERT_CONFIG, "w") as file:
        json.dump(ALBERT_SETTINGS, file, indent=2)
        file.write("\n")
    shutil.copy(os.path.join(FOLDER, "vocab.txt"), os.path.join(ALBERT_FOLDER, "vocab.txt"))
    albert = build_transformer_model(
        ALBERT_CONFIG,
        None,
        model="albert",
        with_pool=True,
        with_nsp=True,
        with_mlm=True,
        return_keras_model=False,
    )
    rng = np.random.default_rng(ALBERT_SEED)
    values = []
    for weight in albert.model.weights:
        shape = tuple(weight.shape)
        value = rng.normal(0.0, 0.15, shape)
        if "gamma" in weight.name:
            value = 1.0 + value
        values.append(value.astype("float32"))
    albert.model.set_weights(values)
    albert.save_weights_as_checkpoint(ALBERT_CHECKPOINT)
    # Only the tensors: no graph (.meta) and no `checkpoint` state file.
    for name in os.listdir(ALBERT_FOLDER):
        if name.endswith(".meta") or name == "checkpoint":
            os.remove(os.path.join(ALBERT_FOLDER, name))
    print(f"wrote {ALBERT_FOLDER}")


def compute():
    """`{case/output: array}` from the real bert4keras."""
    from bert4keras.models import build_transformer_model

    results = {"token_ids": TOKEN_IDS, "segment_ids": SEGMENT_IDS, "kept_ids": KEPT_IDS}
    for case, (arguments, token_ids) in ALL_CASES.items():
        model = build_transformer_model(*sources(case), **arguments)
        outputs = model.predict([token_ids, SEGMENT_IDS], verbose=0)
        outputs = outputs if isinstance(outputs, list) else [outputs]
        for index, output in enumerate(outputs):
            results[f"{case}/{index}"] = np.asarray(output, "float32")
    return results


def main():
    if "--tf1-save" in sys.argv[1:]:
        _save_albert_checkpoint()
        return
    if "--checkpoint" in sys.argv[1:] or not os.path.exists(ALBERT_CHECKPOINT + ".index"):
        make_albert_checkpoint()
    os.makedirs(os.path.dirname(OUTPUT), exist_ok=True)
    np.savez_compressed(OUTPUT, **compute())
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
