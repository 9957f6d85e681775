"""kerastack demo: a small attention model learns a toy task on the active backend.

The task: each sequence holds 2 to 16 random tokens, padded with 0 to 16. The
label says which of the two marker tokens, 1 or 2, occurs more often. The
model embeds the tokens (with a padding mask), mixes them with kerastack's
MultiHeadAttention and SelfAttention, pools them with WeightedAttention and
classifies. It prints held-out accuracy before and after a few epochs, and
its answers for a few new sequences.

Run it with `make demo` (or `nox -s demo`); choose the backend as for any
Keras program, with KERAS_BACKEND=tensorflow|jax|torch.
"""

import numpy as np

from kerastack.attention import SelfAttention, WeightedAttention
from kerastack.core import keras
from kerastack.multihead import MultiHeadAttention

MAX_LENGTH = 16
VOCABULARY = 12  # 0 is padding, 1 and 2 are the markers, 3..11 are filler


def make_data(count, rng):
    tokens = np.zeros((count, MAX_LENGTH), dtype="int32")
    labels = np.zeros((count,), dtype="int32")
    for row in range(count):
        length = rng.integers(2, MAX_LENGTH + 1)
        ones, twos = 0, 0
        while ones == twos:  # no ties
            sequence = rng.integers(3, VOCABULARY, size=length)
            markers = rng.random(length) < 0.4
            sequence[markers] = rng.integers(1, 3, size=markers.sum())
            ones, twos = (sequence == 1).sum(), (sequence == 2).sum()
        tokens[row, :length] = sequence
        labels[row] = int(ones > twos)
    return tokens, labels


def build_model():
    tokens = keras.Input((MAX_LENGTH,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(VOCABULARY, 32, mask_zero=True, name="embedding")(tokens)
    x = MultiHeadAttention(num_heads=4, key_dim=8, name="multi_head_attention")(x, x)
    x = SelfAttention(units=16, attention_activation="sigmoid", name="self_attention")(x)
    pooled = WeightedAttention(name="pooling")(x)
    outputs = keras.layers.Dense(2, activation="softmax", name="classifier")(pooled)
    return keras.Model(tokens, outputs)


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x_train, y_train = make_data(3000, rng)
    x_test, y_test = make_data(500, rng)

    model = build_model()
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    before = model.evaluate(x_test, y_test, verbose=0)[1]
    model.fit(x_train, y_train, batch_size=64, epochs=6, verbose=2)
    after = model.evaluate(x_test, y_test, verbose=0)[1]

    print(f"\nbackend: {keras.config.backend()}")
    print(f"held-out accuracy: {before:.1%} before training, {after:.1%} after")

    # Ask it about sequences it has never seen, of different lengths.
    probes = [[1, 5, 2, 1, 9], [2, 7, 7, 2, 1, 3, 4, 8, 2], [2], [4, 1, 6, 2, 11, 2, 10, 1, 3, 1]]
    padded = np.zeros((len(probes), MAX_LENGTH), dtype="int32")
    for row, probe in enumerate(probes):
        padded[row, : len(probe)] = probe
    probabilities = model.predict(padded, verbose=0)
    print("new sequences -> which marker is more frequent (probability):")
    for probe, p in zip(probes, probabilities, strict=True):
        answer = "1" if p[1] > 0.5 else "2"
        print(f"  {' '.join(map(str, probe)):<30} -> {answer} ({max(p):.3f})")


if __name__ == "__main__":
    main()
