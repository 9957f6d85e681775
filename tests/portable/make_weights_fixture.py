"""Write the weight-crossing fixture of the running lane.

Run from the repository root, in the lane's environment:

    python -m tests.portable.make_weights_fixture

It builds the model of `build_model` (token ids -> Embedding ->
PositionEmbedding + SinePositionEncoding -> TransformerEncoder -> kerastack
LayerNormalization -> Dense), trains it for a few steps on seeded NumPy data
so that its weights are not their initial values, and writes

- `fixtures/weights-<lane>.h5`: the trained weights, in the HDF5 layout every
  lane's `model.load_weights` reads;
- `fixtures/weights-<lane>.npz`: inputs (`token_ids`, `padding_mask`) and the
  trained model's predictions on them (`outputs`).

`<lane>` is "keras3" on Keras 3 (any backend; one file serves them all),
"tfkeras" on tf.keras 2 and "theano" on Keras 2 with Theano.
tests/portable/test_weights_cross.py loads every lane's file on every lane.
"""

import os

import numpy as np

from kerastack.core import keras, keras_version
from kerastack.layernorm import LayerNormalization
from kerastack.position import PositionEmbedding, SinePositionEncoding
from kerastack.transformer import TransformerEncoder

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
LANES = ("keras3", "tfkeras", "theano")
VOCABULARY, LENGTH, WIDTH, OUTPUTS = 12, 6, 8, 3


def lane():
    """The name of the running lane: "keras3", "tfkeras" or "theano"."""
    if keras_version() >= (3,):
        return "keras3"
    backend = keras.backend.backend()
    names = {"tensorflow": "tfkeras", "theano": "theano"}
    if backend not in names:
        raise RuntimeError(f"No weight-fixture lane for Keras 2 on the {backend!r} backend.")
    return names[backend]


def fixture_paths(name):
    """`(h5, npz)` paths of lane `name`'s fixture."""
    stem = os.path.join(FIXTURES, f"weights-{name}")
    return stem + ".h5", stem + ".npz"


def build_model():
    """The model: `[token_ids, padding_mask]` -> `(B, T, OUTPUTS)`.

    Layers are named, so files list the same names on every lane. Weights
    start at zeros (and ones): they always come from `initialize` or from a
    file, and zeros cost nothing, where random initializers compile a kernel
    per weight shape on JAX.
    """
    ids = keras.Input(shape=(LENGTH,), dtype="int32", name="token_ids")
    mask = keras.Input(shape=(LENGTH,), dtype="bool", name="padding_mask")
    tokens = keras.layers.Embedding(
        VOCABULARY, WIDTH, embeddings_initializer="zeros", name="token_embedding"
    )(ids)
    positions = PositionEmbedding(LENGTH, initializer="zeros", name="position_embedding")(tokens)
    sines = SinePositionEncoding(name="sine_encoding")(tokens)
    x = keras.layers.Add(name="embeddings")([tokens, positions, sines])
    x = TransformerEncoder(
        intermediate_dim=16, num_heads=2, kernel_initializer="zeros", name="encoder"
    )(x, padding_mask=mask)
    x = LayerNormalization(name="final_norm")(x)
    outputs = keras.layers.Dense(OUTPUTS, kernel_initializer="zeros", name="head")(x)
    return keras.Model([ids, mask], outputs)


def make_data(seed, batch=8):
    """Token ids `(B, T)` padded with 0 after a random length, the matching
    padding mask, and regression targets `(B, T, OUTPUTS)`."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, LENGTH + 1, size=batch)
    mask = np.arange(LENGTH)[None, :] < lengths[:, None]
    ids = np.where(mask, rng.integers(1, VOCABULARY, size=(batch, LENGTH)), 0).astype("int32")
    targets = rng.normal(size=(batch, LENGTH, OUTPUTS)).astype("float32")
    return ids, mask, targets


def initialize(model, seed):
    """Seeded weights from NumPy (the same on every lane, whatever its
    initializers draw): small random values by shape."""
    rng = np.random.default_rng(seed)
    model.set_weights(
        [(rng.normal(size=w.shape) * 0.3).astype("float32") for w in model.get_weights()]
    )


def predict(model, ids, mask):
    return np.asarray(model.predict([ids, mask], batch_size=len(ids), verbose=0))


def save_weights(model, path):
    """Write `model`'s weights to the `.h5` file `path`, readable by
    `model.load_weights(path)` on every lane.

    Keras 2 writes them with `save_weights`. Keras 3 only saves weights to
    `.weights.h5` files, a layout Keras 2 cannot read; it writes the whole
    model in the legacy HDF5 format instead, whose "model_weights" group is
    what Keras 2's `load_weights` reads from such a file.
    """
    if keras_version() >= (3,):
        model.save(path, include_optimizer=False)
    else:
        model.save_weights(path)


def main():
    name = lane()
    h5_path, npz_path = fixture_paths(name)
    model = build_model()
    initialize(model, seed=0)
    before = [w.copy() for w in model.get_weights()]
    ids, mask, targets = make_data(seed=0)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse")
    model.fit([ids, mask], targets, batch_size=4, epochs=2, shuffle=False, verbose=0)
    changed = sum(not np.allclose(b, a) for b, a in zip(before, model.get_weights(), strict=True))
    if changed < len(before) // 2:
        raise RuntimeError(f"Training changed only {changed} of {len(before)} weights.")
    test_ids, test_mask, _ = make_data(seed=1, batch=4)
    outputs = predict(model, test_ids, test_mask)
    os.makedirs(FIXTURES, exist_ok=True)
    save_weights(model, h5_path)
    np.savez(npz_path, token_ids=test_ids, padding_mask=test_mask, outputs=outputs)
    print(f"Wrote {h5_path} and {npz_path} ({changed} of {len(before)} weights trained).")


if __name__ == "__main__":
    main()
