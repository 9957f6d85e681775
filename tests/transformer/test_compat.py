"""kerastack.transformer.compat: keras-transformer's builders and decode,
keras-position-wise-feed-forward's FeedForward, keras-embed-sim's layers."""

import numpy as np
import pytest

from kerastack.core import keras
from kerastack.transformer import Seq2SeqTransformer, compat, decode
from tests.testing import TestCase, to_numpy


def small_model(**kwargs):
    keras.utils.set_random_seed(3)
    settings = dict(
        token_num=13, embed_dim=16, encoder_num=2, decoder_num=1, head_num=2, hidden_dim=24
    )
    settings.update(kwargs)
    return compat.get_model(**settings)


def numpy_gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))


class FeedForwardTest(TestCase):
    def test_old_arguments_weight_order_and_math(self):
        layer = compat.FeedForward(units=6, activation="relu", dropout_rate=0.1)
        x = np.random.default_rng(0).normal(size=(2, 3, 4)).astype("float32")
        layer(x)
        w1, b1, w2, b2 = (np.asarray(w) for w in layer.get_weights())
        self.assertEqual([w.shape for w in (w1, b1, w2, b2)], [(4, 6), (6,), (6, 4), (4,)])
        rng = np.random.default_rng(1)
        weights = [rng.normal(size=w.shape).astype("float32") for w in (w1, b1, w2, b2)]
        layer.set_weights(weights)
        w1, b1, w2, b2 = weights
        expected = np.maximum(x @ w1 + b1, 0.0) @ w2 + b2
        self.assert_close(layer(x), expected)
        self.assertEqual(layer.kernel_initializer.__class__.__name__, "GlorotNormal")

    def test_config_round_trip_keeps_old_names(self):
        layer = compat.FeedForward(units=5, dropout_rate=0.2, activation="tanh")
        config = layer.get_config()
        self.assertEqual((config["units"], config["dropout_rate"]), (5, 0.2))
        self.assertNotIn("intermediate_dim", config)
        restored = compat.FeedForward.from_config(config)
        self.assertEqual((restored.units, restored.dropout_rate), (5, 0.2))


class EmbeddingSimTest(TestCase):
    def test_returns_probabilities_tied_to_the_embedding(self):
        tokens = keras.Input((None,), dtype="int32")
        embedded, matrix = compat.EmbeddingRet(7, 4, mask_zero=True, name="emb")(tokens)
        logits = compat.EmbeddingSim(name="sim")([embedded, matrix])
        model = keras.Model(tokens, logits)
        ids = np.array([[1, 2, 3, 0]], "int32")
        table = np.asarray(model.get_layer("emb").get_weights()[0])
        model.get_layer("sim").set_weights([np.arange(7, dtype="float32")])
        logits = table[ids] @ table.T + np.arange(7)
        expected = np.exp(logits - logits.max(-1, keepdims=True))
        expected /= expected.sum(-1, keepdims=True)
        self.assert_close(model(ids), expected)  # probabilities, as keras-embed-sim gave

    def test_bad_inputs(self):
        with self.assertRaisesRegex(ValueError, "hidden_states, embedding_matrix"):
            compat.EmbeddingSim()(np.zeros((1, 2, 3), "float32"))


class GetModelTest(TestCase):
    def test_structure_names_and_probabilities(self):
        model = small_model()
        names = {layer.name for layer in model.layers}
        for name in (
            "Encoder-Input",
            "Decoder-Input",
            "Token-Embedding",
            "Encoder-Embedding",
            "Decoder-Embedding",
            "Encoder-1-MultiHeadSelfAttention",
            "Encoder-1-MultiHeadSelfAttention-Norm",
            "Encoder-2-FeedForward-Norm",
            "Decoder-1-MultiHeadSelfAttention",
            "Decoder-1-MultiHeadQueryAttention-Add",
            "Decoder-1-FeedForward-Norm",
            "Decoder-Output",
        ):
            self.assertIn(name, names)
        rng = np.random.default_rng(0)
        source = rng.integers(3, 13, (3, 6)).astype("int32")
        target = rng.integers(3, 13, (3, 5)).astype("int32")
        probabilities = to_numpy(model([source, target]))
        self.assertEqual(probabilities.shape, (3, 5, 13))
        np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-5)

    def test_separate_embeddings_and_given_weights(self):
        table = np.random.default_rng(2).normal(size=(13, 16)).astype("float32")
        model = small_model(use_same_embed=False, token_num=[13, 11], embed_weights=[table, None])
        encoder_embedding = model.get_layer("Encoder-Token-Embedding")
        np.testing.assert_array_equal(to_numpy(encoder_embedding.embeddings), table)
        self.assertFalse(encoder_embedding.trainable)  # given weights: frozen, as before
        self.assertTrue(model.get_layer("Decoder-Token-Embedding").trainable)
        out = model([np.ones((1, 4), "int32"), np.ones((1, 3), "int32")])
        self.assertEqual(tuple(out.shape), (1, 3, 11))

    def test_padding_does_not_change_real_positions(self):
        model = small_model()
        source = np.array([[5, 6, 7, 0, 0]], "int32")
        other = np.array([[5, 6, 7, 0, 0, 0, 0]], "int32")
        target = np.array([[1, 4, 8]], "int32")
        self.assert_close(model([source, target]), model([other, target]), atol=1e-5)

    def test_old_training_code_still_trains(self):
        model = small_model()
        model.compile("adam", "sparse_categorical_crossentropy")
        rng = np.random.default_rng(0)
        source = rng.integers(3, 13, (16, 6)).astype("int32")
        target = rng.integers(3, 13, (16, 5)).astype("int32")
        history = model.fit([source, target], target[..., None], epochs=3, verbose=0)
        losses = history.history["loss"]
        self.assertTrue(np.all(np.isfinite(losses)))
        self.assertLess(losses[-1], losses[0])

    def test_save_load_without_custom_objects(self):
        model = small_model()
        inputs = [np.array([[3, 4, 5, 0]], "int32"), np.array([[1, 6]], "int32")]
        self.run_save_load_check(model, inputs)

    def test_attention_activation_reaches_every_attention_layer(self):
        model = small_model(attention_activation="relu")
        attention = [layer for layer in model.layers if "Attention" in layer.name]
        attention = [layer for layer in attention if not layer.name.endswith(("Add", "Norm"))]
        self.assertEqual(len(attention), 4)  # two encoder blocks, a decoder's two
        for layer in attention:
            self.assertIs(layer.activation, keras.activations.relu, layer.name)
        self.assertEqual(
            [layer.history_only for layer in attention if layer.name.startswith("Decoder")],
            [True, False],  # causal self-attention, then attention to the encoder
        )

    def test_same_embedding_needs_one_vocabulary(self):
        with self.assertRaisesRegex(ValueError, r"token_num=\[13, 11\]"):
            small_model(token_num=[13, 11])


class DecodeTest(TestCase):
    def test_greedy_matches_argmax_of_the_model(self):
        model = small_model()
        sequences = [[3, 4, 5, 6], [7, 8]]
        outputs = compat.decode(
            model, sequences, start_token=1, end_token=2, pad_token=0, max_len=6, max_repeat=100
        )
        for source, output in zip(sequences, outputs, strict=True):
            self.assertEqual(output[0], 1)
            prefix = [1]
            for token in output[1:]:
                probabilities = to_numpy(
                    model([np.array([source], "int32"), np.array([prefix], "int32")])
                )
                self.assertEqual(token, int(probabilities[0, -1].argmax()))
                prefix.append(token)
            self.assertTrue(output[-1] == 2 or len(output) == 6)

    def test_top_k_samples_as_keras_transformer_did(self):
        """With top_k > 1: the top_k probabilities p of the last position,
        softmax(p / temperature) over them, drawn by np.random.choice: under
        one np.random.seed, the old rule replayed here with NumPy gives the
        same tokens."""
        model = small_model()
        source = [3, 4, 5, 6]
        np.random.seed(7)  # noqa: NPY002 (the old rule draws from the global generator)
        output = compat.decode(
            model, source, start_token=1, end_token=2, pad_token=0, max_len=8,
            top_k=4, temperature=0.3, max_repeat=100,
        )  # fmt: skip
        np.random.seed(7)  # noqa: NPY002 (the old rule draws from the global generator)
        replayed = [1]
        while len(replayed) < 8:
            p = to_numpy(model([np.array([source], "int32"), np.array([replayed], "int32")]))
            p = p[0, -1].astype("float64")
            top = sorted(((p[j], j) for j in range(len(p))), reverse=True)[:4]
            scores = np.array([q for q, _ in top]) / 0.3
            weights = np.exp(scores - scores.max())
            choice = np.random.choice([j for _, j in top], p=weights / weights.sum())  # noqa: NPY002
            replayed.append(int(choice))
            if replayed[-1] == 2:
                break
        self.assertEqual(output, replayed)

    def test_max_len_none_stops_at_the_end_token_or_a_repeat(self):
        model = small_model()
        output = compat.decode(
            model, [3, 4, 5], start_token=1, end_token=2, pad_token=0, max_len=None,
            max_repeat=2, max_repeat_block=2,
        )  # fmt: skip
        self.assertEqual(output[0], 1)
        self.assertTrue(
            output[-1] == 2 or compat._get_max_suffix_repeat_times(output, 4) >= 2, output
        )

    def test_single_sequence_returns_one_list(self):
        output = compat.decode(
            small_model(), [3, 4, 5], start_token=1, end_token=2, pad_token=0, max_len=4
        )
        self.assertIsInstance(output[0], int)
        self.assertLessEqual(len(output), 4)

    def test_repeat_count_follows_keras_transformer(self):
        count = compat._get_max_suffix_repeat_times
        self.assertEqual(count([1, 5, 6, 5, 6, 5, 6], 100), 3)
        self.assertEqual(count([1, 5, 5, 5, 5], 100), 4)
        self.assertEqual(count([1, 5, 5], 100), 1)  # a 2-item ending counts once, as before
        self.assertEqual(count([7, 8, 9] * 3, 9), 3)
        self.assertEqual(count([7, 8, 9] * 3, 8), 2)  # only the last max_len items are seen
        self.assertEqual(count([7, 8, 9] * 3, 5), 1)
        self.assertEqual(count("xyzxyzxyz", 100), 3)  # strings too
        self.assertEqual(compat._cut_repeats([1, 5, 5, 5, 5, 5], 3, 10), [1, 5, 5, 5])

    def test_seq2seq_model_uses_the_cached_decoder(self):
        model = Seq2SeqTransformer(
            encoder_vocabulary_size=13,
            hidden_dim=16,
            num_heads=2,
            intermediate_dim=24,
            num_encoder_layers=1,
            num_decoder_layers=1,
            max_sequence_length=8,
            padding_id=0,
        )
        outputs = compat.decode(
            model,
            [[3, 4, 5], [6, 7]],
            start_token=1,
            end_token=2,
            pad_token=0,
            max_len=6,
            max_repeat=100,
        )
        modern = decode(
            model,
            np.array([[3, 4, 5], [6, 7, 0]], "int32"),
            start_token_id=1,
            end_token_id=2,
            max_length=5,
        )
        for output, row in zip(outputs, modern, strict=True):
            expected = [1]
            for token in row:
                expected.append(int(token))
                if token == 2:
                    break
            self.assertEqual(output, expected)


@pytest.mark.parametrize("x", [np.linspace(-4, 4, 9, dtype="float32")])
def test_gelu_is_the_tanh_approximation(x):
    np.testing.assert_allclose(to_numpy(compat.gelu(x)), numpy_gelu_tanh(x), atol=1e-6)
