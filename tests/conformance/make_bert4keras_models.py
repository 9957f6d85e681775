"""Outputs of the real bert4keras's `build_transformer_model` on the tiny Google
BERT checkpoint (tests/conformance/fixtures/tiny_google), the references
kerastack-bert4keras's models are checked against on every Keras 3 lane.

Run on tf-keras with bert4keras 0.11.5 installed (the tfkeras lane's
environment; it recomputes them there in tests/bert4keras_real):

    TF_KERAS=1 TF_USE_LEGACY_KERAS=1 python -m tests.conformance.make_bert4keras_models
"""

import os

import numpy as np

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
FOLDER = os.path.join(FIXTURES, "tiny_google")
CONFIG = os.path.join(FOLDER, "bert_config.json")
CHECKPOINT = os.path.join(FOLDER, "bert_model.ckpt")
OUTPUT = os.path.join(FIXTURES, "bert4keras", "models.npz")

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


def compute():
    """`{case/output: array}` from the real bert4keras."""
    from bert4keras.models import build_transformer_model

    results = {"token_ids": TOKEN_IDS, "segment_ids": SEGMENT_IDS, "kept_ids": KEPT_IDS}
    for case, (arguments, token_ids) in CASES.items():
        model = build_transformer_model(CONFIG, CHECKPOINT, **arguments)
        outputs = model.predict([token_ids, SEGMENT_IDS], verbose=0)
        outputs = outputs if isinstance(outputs, list) else [outputs]
        for index, output in enumerate(outputs):
            results[f"{case}/{index}"] = np.asarray(output, "float32")
    return results


def main():
    os.makedirs(os.path.dirname(OUTPUT), exist_ok=True)
    np.savez_compressed(OUTPUT, **compute())
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
