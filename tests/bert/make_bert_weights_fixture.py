"""Write the BERT weight-crossing fixture of the running lane.

Run from the repository root, in the lane's environment:

    python -m tests.bert.make_bert_weights_fixture

It builds `build_classifier` (a 2-block `BertBackbone` under a
`BertClassifier`), sets seeded weights, fine-tunes it for a few steps so
that every weight moves, and writes

- `fixtures/bert-weights-<lane>.h5`: the fine-tuned weights, in the HDF5
  layout `model.load_weights` reads on Keras 2 and 3
  (`tests.portable.make_weights_fixture.save_weights`);
- `fixtures/bert-weights-<lane>.npz`: inputs and the fine-tuned model's
  logits on them (`logits`);
- `fixtures/bert-backbone-<lane>.h5` and `.npz`: the same for its backbone
  alone (`sequence_output`, `pooled_output`), which the theano lane reads
  too (Keras 2.3 serves the functional backbone, not the task models).

`<lane>` is "keras3" (any backend) or "tfkeras";
tests/bert/test_bert_weights_cross.py loads every lane's files on every lane
that runs kerastack-bert.
"""

import os

import numpy as np

from kerastack.bert import BertBackbone, BertClassifier
from kerastack.core import keras
from tests.portable.make_weights_fixture import lane, save_weights

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
LANES = ("keras3", "tfkeras")
VOCABULARY, LENGTH, CLASSES = 30, 12, 3


def fixture_paths(name, part="weights"):
    """`(h5, npz)` paths of lane `name`'s fixture: the classifier's
    (`part="weights"`) or its backbone's (`part="backbone"`)."""
    stem = os.path.join(FIXTURES, f"bert-{part}-{name}")
    return stem + ".h5", stem + ".npz"


def build_classifier():
    """A tiny BERT classifier on `build_backbone()`, dropout off."""
    return BertClassifier(build_backbone(), num_classes=CLASSES, dropout=0.0)


def build_backbone():
    """The classifier's backbone: 2 blocks, width 16, dropout off."""
    return BertBackbone(
        vocabulary_size=VOCABULARY,
        num_layers=2,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
        max_sequence_length=16,
        dropout=0.0,
    )


def make_data(seed, batch=8):
    """`{token_ids, segment_ids, padding_mask}` of rows padded after a random
    length (two segments), and class labels."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(4, LENGTH + 1, size=batch)
    mask = np.arange(LENGTH)[None, :] < lengths[:, None]
    ids = np.where(mask, rng.integers(5, VOCABULARY, size=(batch, LENGTH)), 0)
    ids[:, 0] = 2  # [CLS]
    segments = (np.arange(LENGTH)[None, :] >= lengths[:, None] // 2) & mask
    inputs = {
        "token_ids": ids.astype("int32"),
        "segment_ids": segments.astype("int32"),
        "padding_mask": mask.astype("int32"),
    }
    return inputs, rng.integers(0, CLASSES, size=batch).astype("int32")


def initialize(model, seed):
    """Seeded weights from NumPy, the same on every lane: `normal * 0.3`,
    layer-normalization scales `1 + normal * 0.3`."""
    rng = np.random.default_rng(seed)
    values = []
    for weight, current in zip(model.weights, model.get_weights(), strict=True):
        value = rng.normal(size=current.shape) * 0.3
        leaf = weight.name.split(":")[0].split("/")[-1]
        values.append((value + (leaf == "gamma")).astype("float32"))
    model.set_weights(values)


def predict(model, inputs):
    """The classifier's logits, or the backbone's outputs by name."""
    outputs = model.predict(inputs, batch_size=len(inputs["token_ids"]), verbose=0)
    if isinstance(outputs, dict):
        return {name: np.asarray(value) for name, value in outputs.items()}
    return np.asarray(outputs)


def main():
    name = lane()
    h5_path, npz_path = fixture_paths(name)
    model = build_classifier()
    initialize(model, seed=0)
    before = [w.copy() for w in model.get_weights()]
    inputs, labels = make_data(seed=0)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(inputs, labels, batch_size=4, epochs=2, shuffle=False, verbose=0)
    changed = sum(not np.allclose(b, a) for b, a in zip(before, model.get_weights(), strict=True))
    if changed < len(before) * 0.9:
        raise RuntimeError(f"Fine-tuning changed only {changed} of {len(before)} weights.")
    test_inputs, _ = make_data(seed=1, batch=4)
    logits = predict(model, test_inputs)
    os.makedirs(FIXTURES, exist_ok=True)
    save_weights(model, h5_path)
    np.savez(npz_path, logits=logits, **test_inputs)
    print(f"Wrote {h5_path} and {npz_path} ({changed} of {len(before)} weights fine-tuned).")
    backbone_h5, backbone_npz = fixture_paths(name, "backbone")
    save_weights(model.backbone, backbone_h5)
    np.savez(backbone_npz, **predict(model.backbone, test_inputs), **test_inputs)
    print(f"Wrote {backbone_h5} and {backbone_npz}.")


if __name__ == "__main__":
    main()
