"""`kerastack.transformer.Seq2SeqTransformer`: logits shape and dtype,
config and `.keras` round trips, shared embeddings and tied output, padding
of the source, cached decoding against the full pass, and argument checks.

Letters: B batch, S source length, T target length, D width, V vocabulary.
"""

import keras
import numpy as np

from kerastack.transformer import Seq2SeqTransformer
from tests.testing import TestCase, to_numpy
from tests.transformer.helpers import randomize

V, D, MAX_LENGTH = 12, 8, 8
SOURCE = np.array([[3, 4, 5, 6, 7], [8, 9, 10, 0, 0]], "int32")
TARGET = np.array([[1, 5, 6, 7, 2, 3], [1, 9, 11, 4, 0, 0]], "int32")


def make_model(seed=0, target=TARGET, **kwargs):
    kwargs = {
        "encoder_vocabulary_size": V,
        "hidden_dim": D,
        "num_heads": 2,
        "intermediate_dim": 16,
        "num_encoder_layers": 1,
        "num_decoder_layers": 2,
        "max_sequence_length": MAX_LENGTH,
        **kwargs,
    }
    model = Seq2SeqTransformer(**kwargs)
    model(inputs(SOURCE, target))
    randomize(model, seed)
    return model


def inputs(source=SOURCE, target=TARGET, **extra):
    return {"encoder_token_ids": source, "decoder_token_ids": target, **extra}


class OutputTest(TestCase):
    def test_logits_shape_and_dtype(self):
        model = make_model()
        logits = model(inputs())
        self.assertEqual(tuple(logits.shape), (2, 6, V))
        self.assertEqual(keras.backend.standardize_dtype(logits.dtype), "float32")

    def test_float32_logits_under_mixed_precision(self):
        reference = make_model(1)
        expected = to_numpy(reference(inputs()))
        for policy in ("mixed_bfloat16",):
            model = Seq2SeqTransformer(**reference.get_config() | {"dtype": policy})
            model(inputs())
            model.set_weights(reference.get_weights())
            logits = model(inputs())
            self.assertEqual(keras.backend.standardize_dtype(logits.dtype), "float32")
            for weight in model.weights:
                self.assertEqual(keras.backend.standardize_dtype(weight.dtype), "float32")
            for layer in model._flatten_layers(include_self=False):
                self.assertEqual(layer.dtype_policy.name, policy, layer.name)
            self.assert_close(logits, expected, atol=0.1, rtol=0.1, msg=policy)

    def test_matches_the_blocks_run_by_hand(self):
        # Embeddings + positions, encoder blocks, decoder blocks with
        # cross-attention, pre-norm final norms, then the projection.
        model = make_model(2, normalize_first=True, position_encoding="sine")
        x = model.encoder_token_embedding(SOURCE)
        x = x + model.encoder_position(x)
        for layer in model.encoder_layers:
            x = layer(x)
        encoded = model.encoder_final_norm(x)
        y = model.decoder_token_embedding(TARGET)
        y = y + model.decoder_position(y)
        for layer in model.decoder_layers:
            y = layer(y, encoded)
        expected = model.output_projection(model.decoder_final_norm(y))
        self.assert_close(model(inputs()), expected)
        self.assertEqual(model.count_params(), sum(int(np.prod(w.shape)) for w in model.weights))


class SerializationTest(TestCase):
    def test_config_round_trip(self):
        model = make_model(
            decoder_vocabulary_size=V,
            dropout=0.1,
            activation="gelu",
            gated=True,
            normalize_first=True,
            layer_norm_epsilon=1e-6,
            position_encoding="sine",
            share_embeddings=True,
            tie_output=True,
            padding_id=0,
        )
        config = model.get_config()
        for name, value in {
            "encoder_vocabulary_size": V,
            "decoder_vocabulary_size": V,
            "hidden_dim": D,
            "num_encoder_layers": 1,
            "num_decoder_layers": 2,
            "max_sequence_length": MAX_LENGTH,
            "activation": "gelu",
            "position_encoding": "sine",
            "share_embeddings": True,
            "tie_output": True,
            "padding_id": 0,
        }.items():
            self.assertEqual(config[name], value, name)
        revived = Seq2SeqTransformer.from_config(config)
        self.assertEqual(revived.get_config(), config)
        revived(inputs())
        revived.set_weights(model.get_weights())
        self.assert_close(revived(inputs()), model(inputs()))

    def test_keras_round_trip(self):
        for kwargs in ({}, {"share_embeddings": True, "tie_output": True, "padding_id": 0}):
            model = make_model(3, **kwargs)
            restored = self.run_save_load_check(model, inputs())
            self.assertIsInstance(restored, Seq2SeqTransformer)
            self.assertEqual(restored.get_config(), model.get_config())


class EmbeddingTest(TestCase):
    def test_share_embeddings_shares_one_variable(self):
        separate = make_model()
        shared = make_model(share_embeddings=True)
        self.assertIs(shared.decoder_token_embedding, shared.encoder_token_embedding)
        self.assertLen(shared.weights, len(separate.weights) - 1)
        self.assertEqual(separate.count_params() - shared.count_params(), V * D)
        # Changing the one table changes both the encoder and the decoder.
        before = to_numpy(shared(inputs()))
        table = to_numpy(shared.encoder_token_embedding.embeddings)
        table[TARGET[0, 1]] += 1.0  # a target token that is not a source token
        shared.encoder_token_embedding.embeddings.assign(table)
        after = to_numpy(shared(inputs()))
        self.assertFalse(np.allclose(before[0, 1:], after[0, 1:]))
        np.testing.assert_array_equal(
            to_numpy(shared.decoder_token_embedding(TARGET)), table[TARGET]
        )

    def test_tie_output_uses_the_embedding_transpose(self):
        untied = make_model()
        tied = make_model(5, tie_output=True)
        # No projection kernel and bias, one output bias instead.
        self.assertLen(tied.weights, len(untied.weights) - 1)
        self.assertFalse(hasattr(tied, "output_projection"))
        bias = np.random.default_rng(5).normal(size=(V,)).astype("float32")
        tied.output_bias.assign(bias)
        encoded = tied.encode(SOURCE)
        # The decoder's hidden states: every step of decode_sequence but the
        # projection.
        y = tied.decoder_token_embedding(TARGET)
        y = y + tied.decoder_position(y)
        for layer in tied.decoder_layers:
            y = layer(y, encoded)
        table = to_numpy(tied.decoder_token_embedding.embeddings)  # (V, D)
        expected = to_numpy(y).astype("float64") @ table.T.astype("float64") + bias
        self.assert_close(tied(inputs()), expected)


class PaddingTest(TestCase):
    def assert_real_positions_unchanged(self, model, first, second, target_mask=None):
        real = np.ones(TARGET.shape, bool) if target_mask is None else target_mask
        a, b = to_numpy(model(first)), to_numpy(model(second))
        self.assert_close(a[real], b[real])

    def test_encoder_padding_mask(self):
        model = make_model(6)
        mask = SOURCE != 0
        other = np.where(mask, SOURCE, 11).astype("int32")
        self.assert_real_positions_unchanged(
            model,
            inputs(encoder_padding_mask=mask),
            inputs(other, encoder_padding_mask=mask),
        )
        # Without the mask the padded tokens are attended to.
        self.assertFalse(
            np.allclose(to_numpy(model(inputs()))[1], to_numpy(model(inputs(other)))[1])
        )

    def test_padding_id(self):
        model = make_model(7, padding_id=0)
        # The same source without its padding gives the same logits.
        short = {"encoder_token_ids": SOURCE[1:, :3], "decoder_token_ids": TARGET[1:]}
        self.assert_close(to_numpy(model(inputs()))[1], to_numpy(model(short))[0])

    def test_decoder_padding(self):
        model = make_model(8, padding_id=0)
        real = TARGET != 0
        other = np.where(real, TARGET, 7).astype("int32")
        self.assert_real_positions_unchanged(
            model, inputs(), inputs(target=other, decoder_padding_mask=real), real
        )


class CachedDecodingTest(TestCase):
    def test_decode_sequence_with_cache_matches_full_call(self):
        for kwargs in ({}, {"normalize_first": True, "position_encoding": "sine"}):
            model = make_model(9, **kwargs)
            full = to_numpy(model(inputs()))
            encoded = model.encode(SOURCE)
            cache = model.initial_cache(2, MAX_LENGTH)
            self.assertLen(cache, 2)
            steps = []
            for i in range(TARGET.shape[1]):
                logits, cache = model.decode_sequence(
                    TARGET[:, i : i + 1], encoded, cache=cache, cache_update_index=i
                )
                steps.append(to_numpy(logits))
            self.assert_close(np.concatenate(steps, axis=1), full)

    def test_decode_sequence_with_cache_and_padded_source(self):
        model = make_model(10, padding_id=0)
        full = to_numpy(model(inputs()))
        mask = SOURCE != 0
        encoded = model.encode(SOURCE, mask)
        cache = model.initial_cache(2, MAX_LENGTH)
        # Chunks of three: positions 0-2, then 3-5.
        first, cache = model.decode_sequence(
            TARGET[:, :3], encoded, mask, cache=cache, cache_update_index=0
        )
        second, _ = model.decode_sequence(
            TARGET[:, 3:], encoded, mask, cache=cache, cache_update_index=3
        )
        steps = np.concatenate([to_numpy(first), to_numpy(second)], axis=1)
        real = TARGET != 0
        self.assert_close(steps[real], full[real])


class ArgumentTest(TestCase):
    def base_kwargs(self, **kwargs):
        return {
            "encoder_vocabulary_size": V,
            "hidden_dim": D,
            "num_heads": 2,
            "intermediate_dim": 16,
            "num_encoder_layers": 1,
            "num_decoder_layers": 1,
            "max_sequence_length": MAX_LENGTH,
            **kwargs,
        }

    def test_share_embeddings_with_different_vocabularies(self):
        with self.assertRaisesRegex(ValueError, "decoder_vocabulary_size=7"):
            Seq2SeqTransformer(**self.base_kwargs(decoder_vocabulary_size=7, share_embeddings=True))

    def test_unknown_position_encoding(self):
        with self.assertRaisesRegex(ValueError, "position_encoding='rotary'"):
            Seq2SeqTransformer(**self.base_kwargs(position_encoding="rotary"))

    def test_bad_sizes(self):
        for kwargs, text in (
            ({"hidden_dim": 0}, "hidden_dim=0"),
            ({"max_sequence_length": 0}, "max_sequence_length=0"),
            ({"num_encoder_layers": -1}, "num_encoder_layers=-1"),
        ):
            with self.assertRaisesRegex(ValueError, text):
                Seq2SeqTransformer(**self.base_kwargs(**kwargs))

    def test_too_long_input(self):
        model = make_model()
        long = np.ones((1, MAX_LENGTH + 1), "int32")
        short = np.ones((1, 3), "int32")
        for source, target in ((long, short), (short, long)):
            with self.assertRaisesRegex(ValueError, f"max_sequence_length={MAX_LENGTH}"):
                model(inputs(source, target))

    def test_non_dict_input(self):
        model = make_model()
        with self.assertRaisesRegex(ValueError, "expects a dict"):
            model([SOURCE, TARGET])
        with self.assertRaisesRegex(ValueError, "encoder_token_ids"):
            model({"decoder_token_ids": TARGET})
