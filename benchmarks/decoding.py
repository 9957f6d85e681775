"""Decoding speed of `kerastack.transformer.decode`, with and without the
key/value cache, on the active backend (set KERAS_BACKEND).

    python benchmarks/decoding.py --out results/decoding-jax.json [--quick]

A `Seq2SeqTransformer` with random weights generates `length` tokens greedily
for a batch of sources; the output bias makes the end token impossible, so
every run generates exactly `length` tokens. The two settings run interleaved, after a first call
apiece (trace and compile, reported separately); the clock stops when the
tokens are on the host. Figures: tokens per second (batch x length / time),
medians and spread over repeats.
"""

import argparse

import environment
import keras
import numpy as np
import timing

from kerastack.transformer import Seq2SeqTransformer, decode

VOCABULARY = 1000
END = VOCABULARY - 1


def build(length):
    keras.utils.set_random_seed(0)
    model = Seq2SeqTransformer(
        encoder_vocabulary_size=VOCABULARY,
        hidden_dim=256,
        num_heads=4,
        intermediate_dim=1024,
        num_encoder_layers=3,
        num_decoder_layers=3,
        max_sequence_length=length + 1,
    )
    model.build(None)
    # The end token can never win: every run generates `length` tokens.
    bias = model.output_projection.bias
    bias.assign(keras.ops.where(keras.ops.arange(VOCABULARY) == END, -1e9, 0.0))
    return model


def measure(model, sources, length, repeats):
    def run(use_cache):
        tokens = decode(
            model,
            sources,
            start_token_id=1,
            end_token_id=END,
            max_length=length,
            use_cache=use_cache,
        )
        assert tokens.shape == (len(sources), length) and not (tokens == END).any()

    figures = timing.interleaved(
        {"cached": lambda: run(True), "uncached": lambda: run(False)}, repeats
    )
    tokens = len(sources) * length
    for entry in figures.values():
        entry["tokens_per_s"] = tokens / entry["median_s"]
    figures["speedup"] = figures["uncached"]["median_s"] / figures["cached"]["median_s"]
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="32-token outputs only, 3 repeats")
    parser.add_argument("--out", required=True, help="JSON file to write")
    args = parser.parse_args()
    lengths = [32] if args.quick else [32, 64, 128]
    repeats = 3 if args.quick else 5
    batch = 8
    rng = np.random.default_rng(0)
    results = []
    for length in lengths:
        model = build(length)
        sources = rng.integers(3, END, size=(batch, 32)).astype("int32")
        figures = measure(model, sources, length, repeats)
        results.append({"batch": batch, "source_length": 32, "length": length, **figures})
        print(
            f"length {length}: cached {figures['cached']['tokens_per_s']:.0f} tok/s, "
            f"uncached {figures['uncached']['tokens_per_s']:.0f} tok/s, "
            f"speedup {figures['speedup']:.2f}x",
            flush=True,
        )
    environment.write_report(
        args.out,
        "decoding",
        results,
        model="Seq2SeqTransformer: width 256, 4 heads, 3+3 layers, vocabulary 1000",
        repeats=repeats,
    )


if __name__ == "__main__":
    main()
