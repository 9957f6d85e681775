"""A tiny NEZHA checkpoint in Huawei's TensorFlow format, and the real
bert4keras's NEZHA outputs on it: the references kerastack-nezha is checked
against on every Keras 3 lane (tests/conformance/test_nezha_conformance.py).

Run from the repository root in the tfkeras lane's environment (TensorFlow
and bert4keras 0.11.5):

    TF_KERAS=1 TF_USE_LEGACY_KERAS=1 python -m tests.conformance.make_nezha_references

1. `checkpoint` writes tests/conformance/fixtures/tiny_nezha_huawei/:
   `bert_config.json` (Huawei's keys: BERT's, `max_relative_position` 3,
   `use_relative_position`) and `model.ckpt.*`, saved by
   `tf.compat.v1.train.Saver` under Huawei's (Google BERT's) TensorFlow 1
   names, with the masked-LM and next-sentence heads, Adam slots and
   `global_step`, from fixed random weights made here (`huawei_weights`).
   Odd sizes: width 12 in 3 heads of 4, feed-forward 20, 2 blocks.
2. `bert4keras` records into tests/conformance/fixtures/tiny_nezha_bert4keras.npz
   the outputs of `build_transformer_model(model="nezha")` on that
   checkpoint. bert4keras builds NEZHA with `max_relative_position` 64
   always (its `compute_position_bias`), so it is recorded twice: as
   released, on rows of 70 tokens (distances beyond 64 clipped), and with
   its `compute_position_bias` given 3 (a subclass changing that number
   only), on rows of 9 tokens (most distances clipped), with the pooler and
   the masked-LM head.

With no argument, both run, each in its own process.
"""

import json
import os
import re
import subprocess
import sys

import numpy as np

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
FOLDER = os.path.join(FIXTURES, "tiny_nezha_huawei")
CHECKPOINT = os.path.join(FOLDER, "model.ckpt")
CONFIG_PATH = os.path.join(FOLDER, "bert_config.json")
RECORDED = os.path.join(FIXTURES, "tiny_nezha_bert4keras.npz")
SEED = 20261206

CONFIG = {
    "vocab_size": 40,
    "hidden_size": 12,
    "num_hidden_layers": 2,
    "num_attention_heads": 3,
    "intermediate_size": 20,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "max_position_embeddings": 128,
    "max_relative_position": 3,
    "type_vocab_size": 2,
    "initializer_range": 0.02,
    "use_relative_position": True,
}


def _rows(batch, length, seed, padding):
    """Token ids (0 pads the last `padding` tokens of the last row) and
    segment ids (the second half is segment 1)."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, CONFIG["vocab_size"], size=(batch, length)).astype("int32")
    ids[:, 0] = 2
    ids[-1, length - padding :] = 0
    segments = np.zeros_like(ids)
    segments[:, length // 2 :] = 1
    return ids, segments


SHORT_IDS, SHORT_SEGMENTS = _rows(2, 9, 1, padding=3)
LONG_IDS, LONG_SEGMENTS = _rows(2, 70, 2, padding=5)


def huawei_weights():
    """`{Huawei's name: float32 array}` in TensorFlow's layout (kernels
    `(in, out)`), random and of order 1 so that every term counts."""
    rng = np.random.default_rng(SEED)
    d, f, v = CONFIG["hidden_size"], CONFIG["intermediate_size"], CONFIG["vocab_size"]

    def normal(*shape):
        return rng.normal(0.0, 0.5, shape).astype("float32")

    def norm(prefix):
        return {
            prefix + "/gamma": (1.0 + 0.2 * rng.normal(size=d)).astype("float32"),
            prefix + "/beta": normal(d),
        }

    weights = {
        "bert/embeddings/word_embeddings": normal(v, d),
        "bert/embeddings/token_type_embeddings": normal(CONFIG["type_vocab_size"], d),
        **norm("bert/embeddings/LayerNorm"),
    }
    for layer in range(CONFIG["num_hidden_layers"]):
        p = f"bert/encoder/layer_{layer}/"
        for name, shape in (
            ("attention/self/query", (d, d)),
            ("attention/self/key", (d, d)),
            ("attention/self/value", (d, d)),
            ("attention/output/dense", (d, d)),
            ("intermediate/dense", (d, f)),
            ("output/dense", (f, d)),
        ):
            weights[p + name + "/kernel"] = normal(*shape)
            weights[p + name + "/bias"] = normal(shape[1])
        weights.update(norm(p + "attention/output/LayerNorm"))
        weights.update(norm(p + "output/LayerNorm"))
    weights["bert/pooler/dense/kernel"] = normal(d, d)
    weights["bert/pooler/dense/bias"] = normal(d)
    weights["cls/predictions/transform/dense/kernel"] = normal(d, d)
    weights["cls/predictions/transform/dense/bias"] = normal(d)
    weights.update(norm("cls/predictions/transform/LayerNorm"))
    weights["cls/predictions/output_bias"] = normal(v)
    weights["cls/seq_relationship/output_weights"] = normal(2, d)
    weights["cls/seq_relationship/output_bias"] = normal(2)
    return weights


def hf_reference_weights(weights):
    """Huawei's tensors by HF NEZHA's names in HF's layout (Linear weights
    `(out, in)`), for the NumPy reference: the renaming written here by its
    own rules, apart from kerastack's."""
    renamed = {}
    for name, value in weights.items():
        if name == "cls/predictions/output_bias":
            renamed["cls.predictions.bias"] = value
            continue
        if name.startswith("cls/seq_relationship"):
            continue
        hf = re.sub(r"^bert/", "", name)
        hf = re.sub(r"layer_(\d+)", r"layer.\1", hf).replace("/", ".")
        if hf.endswith(".kernel"):
            hf, value = hf[: -len("kernel")] + "weight", value.T
        elif hf.endswith(".gamma"):
            hf = hf[: -len("gamma")] + "weight"
        elif hf.endswith(".beta"):
            hf = hf[: -len("beta")] + "bias"
        elif hf.endswith("_embeddings"):
            hf += ".weight"
        renamed[hf] = value
    return renamed


def write_checkpoint():
    import tensorflow as tf

    os.makedirs(FOLDER, exist_ok=True)
    graph = tf.Graph()
    with graph.as_default():
        for name, value in sorted(huawei_weights().items()):
            tf.compat.v1.get_variable(name, initializer=value)
            for slot in ("adam_m", "adam_v"):
                tf.compat.v1.get_variable(f"{name}/{slot}", initializer=np.zeros_like(value))
        tf.compat.v1.train.get_or_create_global_step()
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver.save(session, CHECKPOINT, write_meta_graph=False)
    os.remove(os.path.join(FOLDER, "checkpoint"))
    with open(CONFIG_PATH, "w", encoding="utf-8") as file:
        json.dump(CONFIG, file, indent=2)
    print(f"Wrote {FOLDER}: {sorted(os.listdir(FOLDER))}")


def record_bert4keras():
    from bert4keras.layers import RelativePositionEmbedding
    from bert4keras.models import NEZHA, build_transformer_model

    class ClippedAtThree(NEZHA):
        """bert4keras's NEZHA with max_relative_position 3 instead of 64."""

        def compute_position_bias(self, inputs=None):
            if self.position_bias is None:
                self.position_bias = self.apply(
                    inputs=[inputs, inputs],
                    layer=RelativePositionEmbedding,
                    input_dim=2 * 3 + 1,
                    output_dim=self.attention_key_size,
                    embeddings_initializer="Sinusoidal",
                    name="Embedding-Relative-Position",
                    trainable=False,
                )
            return self.position_bias

    released = build_transformer_model(CONFIG_PATH, CHECKPOINT, model="nezha")
    clipped = build_transformer_model(CONFIG_PATH, CHECKPOINT, model=ClippedAtThree)
    heads = build_transformer_model(
        CONFIG_PATH, CHECKPOINT, model=ClippedAtThree, with_pool=True, with_mlm=True
    )
    pooled, mlm_probabilities = heads.predict([SHORT_IDS, SHORT_SEGMENTS], verbose=0)
    np.savez(
        RECORDED,
        long_sequence_output_64=released.predict([LONG_IDS, LONG_SEGMENTS], verbose=0),
        sequence_output_3=clipped.predict([SHORT_IDS, SHORT_SEGMENTS], verbose=0),
        pooled_output_3=pooled,
        mlm_probabilities_3=mlm_probabilities,
    )
    print(f"Wrote {RECORDED}")


def main():
    steps = {"checkpoint": write_checkpoint, "bert4keras": record_bert4keras}
    if len(sys.argv) > 1:
        steps[sys.argv[1]]()
        return
    for step in steps:
        subprocess.run(
            [sys.executable, "-m", "tests.conformance.make_nezha_references", step], check=True
        )


if __name__ == "__main__":
    main()
