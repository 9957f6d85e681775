"""A small encoder-decoder learns to reverse sequences of tokens.

The task is generated, so no download is needed: sources are 4 to 8 random
symbols, targets the same symbols in reverse order. A `Seq2SeqTransformer`
is trained from scratch with `fit` (teacher forcing), then decodes held-out
sources greedily, with its key/value cache; a prediction counts only when the
whole sequence is right.

    KERAS_BACKEND=jax python examples/reverse.py
"""

import time

import keras
import numpy as np

from kerastack.transformer import Seq2SeqTransformer, decode

PAD, START, END = 0, 1, 2
SYMBOLS = 10  # token ids 3 .. 12
VOCABULARY = 3 + SYMBOLS
MIN_LENGTH, MAX_LENGTH = 4, 8


def make_pairs(count, seed):
    """`count` random sources and their reversals, as padded id arrays.

    Returns sources `(n, MAX_LENGTH)`, decoder inputs `START + target`, and
    decoder targets `target + END`, each `(n, MAX_LENGTH + 1)`, padded with 0.
    """
    rng = np.random.default_rng(seed)
    sources = np.full((count, MAX_LENGTH), PAD, "int32")
    decoder_inputs = np.full((count, MAX_LENGTH + 1), PAD, "int32")
    decoder_targets = np.full((count, MAX_LENGTH + 1), PAD, "int32")
    for row in range(count):
        length = rng.integers(MIN_LENGTH, MAX_LENGTH + 1)
        symbols = rng.integers(3, VOCABULARY, size=length)
        target = symbols[::-1]
        sources[row, :length] = symbols
        decoder_inputs[row, : length + 1] = np.concatenate([[START], target])
        decoder_targets[row, : length + 1] = np.concatenate([target, [END]])
    return sources, decoder_inputs, decoder_targets


def build_model(seed=0):
    keras.utils.set_random_seed(seed)
    model = Seq2SeqTransformer(
        encoder_vocabulary_size=VOCABULARY,
        hidden_dim=64,
        num_heads=4,
        intermediate_dim=128,
        num_encoder_layers=2,
        num_decoder_layers=2,
        max_sequence_length=MAX_LENGTH + 2,
        share_embeddings=True,
        tie_output=True,
        padding_id=PAD,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=2e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        weighted_metrics=["accuracy"],
    )
    return model


def train(model, train_size=4000, epochs=6, seed=1, verbose=0):
    sources, decoder_inputs, decoder_targets = make_pairs(train_size, seed)
    inputs = {"encoder_token_ids": sources, "decoder_token_ids": decoder_inputs}
    weights = (decoder_targets != PAD).astype("float32")  # no loss on padding
    return model.fit(
        inputs,
        decoder_targets,
        sample_weight=weights,
        batch_size=64,
        epochs=epochs,
        verbose=verbose,
    )


def exact_match_accuracy(model, count=500, seed=2):
    """Share of held-out sources whose greedy decoding is exactly right."""
    sources, _, decoder_targets = make_pairs(count, seed)
    predictions = decode(
        model, sources, start_token_id=START, end_token_id=END, max_length=MAX_LENGTH + 1
    )
    return float(np.mean(np.all(predictions == decoder_targets, axis=1))), sources, predictions


def main():
    print(f"Keras {keras.__version__} on {keras.config.backend()}")
    model = build_model()
    start = time.perf_counter()
    history = train(model, verbose=2)
    print(
        f"trained in {time.perf_counter() - start:.0f} s, last loss "
        f"{history.history['loss'][-1]:.4f}"
    )
    accuracy, sources, predictions = exact_match_accuracy(model)
    print(f"held-out exact-sequence accuracy (greedy, cached decoding): {accuracy:.1%}")
    for source, prediction in zip(sources[:3], predictions[:3], strict=True):
        shown = [int(t) for t in prediction if t not in (PAD, END)]
        print(f"  {[int(t) for t in source if t != PAD]} -> {shown}")


if __name__ == "__main__":
    main()
