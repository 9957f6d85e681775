"""Record what keras-bert 0.89's `gen_batch_inputs` gives under fixed
`np.random.seed`s: the reference `kerastack.bert.compat.gen_batch_inputs`
is checked against on every Keras 3 lane (it draws from NumPy's global
generator as keras-bert did, so an old seed gives the old batches).

Run from the repository root in the tfkeras lane's environment, where the
real keras-bert is installed (`--no-deps`, on tf-keras):

    TF_KERAS=1 TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=2 \\
        .tox/tfkeras/bin/python -m tests.conformance.make_keras_bert_batches

It writes tests/conformance/fixtures/keras_bert/batches.npz.
`record(gen_batch_inputs, get_base_dict)` makes the same calls with any
function of keras-bert's signature; tests/conformance/
test_keras_bert_batches.py runs it on kerastack's, and
tests/keras_bert_real/test_batches.py checks the real keras-bert still gives
the file.
"""

import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.path.join(HERE, "fixtures", "keras_bert", "batches.npz")

# (seed, keyword arguments): the defaults, a high share of random tokens, no
# swapping, and a short seq_len that cuts the pairs.
CASES = (
    (0, {}),
    (1, {"mask_rate": 0.5, "mask_random_rate": 0.6, "mask_mask_rate": 0.2}),
    (2, {"swap_sentence_rate": 0.0, "mask_rate": 0.3}),
    (3, {"seq_len": 7, "swap_sentence_rate": 1.0, "force_mask": False}),
)


def pairs():
    """Twelve sentence pairs over a vocabulary of 30 words."""
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(30)]
    return [
        [
            [words[j] for j in rng.integers(0, 30, rng.integers(1, 6))],
            [words[j] for j in rng.integers(0, 30, rng.integers(1, 6))],
        ]
        for _ in range(12)
    ]


def record(gen_batch_inputs, get_base_dict):
    """`{key: array}`: each case's inputs and outputs, under its seed."""
    token_dict = get_base_dict()
    for pair in pairs():
        for token in pair[0] + pair[1]:
            token_dict.setdefault(token, len(token_dict))
    token_list = list(token_dict)
    out = {}
    for seed, arguments in CASES:
        np.random.seed(seed)  # noqa: NPY002 (keras-bert draws from the global generator)
        inputs, outputs = gen_batch_inputs(
            pairs(), token_dict, token_list, **{"seq_len": 16, **arguments}
        )
        for name, array in zip(("tokens", "segments", "masked"), inputs, strict=True):
            out[f"{seed}/{name}"] = np.asarray(array)
        for name, array in zip(("mlm", "nsp"), outputs, strict=True):
            out[f"{seed}/{name}"] = np.asarray(array)
    return out


def load():
    with np.load(REFERENCE) as data:
        return dict(data)


if __name__ == "__main__":
    import keras_bert

    recorded = record(keras_bert.gen_batch_inputs, keras_bert.get_base_dict)
    np.savez_compressed(REFERENCE, **recorded)
    print(f"wrote {REFERENCE}: {len(recorded)} arrays")
