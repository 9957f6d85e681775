"""The keras-transformer, keras-position-wise-feed-forward and keras-embed-sim
names, as thin wrappers over kerastack's transformer.

- `FeedForward(units, activation, use_bias, ..., dropout_rate)`: the
  position-wise feed-forward layer of keras-position-wise-feed-forward, with
  its weight order (`W1, b1, W2, b2`) and `glorot_normal` default.
- `EmbeddingRet` and `EmbeddingSim` (keras-embed-sim): an embedding that also
  returns its weight matrix, and the tied output layer scoring hidden states
  against it. **Difference:** `EmbeddingSim` returns logits
  (`x · Eᵀ + b`); the old layer returned `softmax` of them. Apply
  `keras.layers.Softmax()` (or train with `from_logits=True`) where old code
  expected probabilities.
- `get_encoders`, `get_decoders`, `get_model`, `decode`: keras-transformer's
  builders, with its arguments and layer names (`Encoder-1`, `Decoder-1`,
  `Token-Embedding`, `Decoder-Output`, ...). `get_model` still returns
  probabilities (a softmax after `EmbeddingSim`), as before, so that code
  compiled with `sparse_categorical_crossentropy` keeps training correctly.
  Each encoder and decoder component is one `TransformerEncoder` /
  `TransformerDecoder` block (post-norm, as in keras-transformer), so the
  old per-sublayer names (`Encoder-1-MultiHeadSelfAttention-Norm`, ...) and
  old weight files do not carry over. `attention_activation` (an activation
  on the attention projections, off by default) is not supported: a value
  other than None is an error.

Old code moves over by changing its import:
`from kerastack.transformer.compat import get_model, decode`.
"""

import numpy as np

from kerastack.core import keras, ops, predict_arrays, serializable
from kerastack.position import SinePositionEncoding
from kerastack.transformer.feed_forward import FeedForward as _FeedForward
from kerastack.transformer.seq2seq import Seq2SeqTransformer
from kerastack.transformer.transformer_decoder import TransformerDecoder
from kerastack.transformer.transformer_encoder import TransformerEncoder

__all__ = [
    "EmbeddingRet",
    "EmbeddingSim",
    "FeedForward",
    "check_attention_activation",
    "decode",
    "gelu",
    "get_custom_objects",
    "get_decoders",
    "get_encoders",
    "get_model",
]

# keras-layer-normalization's default epsilon, K.epsilon() ** 2.
_LEGACY_EPSILON = 1e-14


@serializable(name="legacy_gelu")
def gelu(x):
    """keras-transformer's gelu: the tanh approximation.

    Example:

    >>> np.round(ops.convert_to_numpy(gelu(np.array([-1.0, 0.0, 1.0], "float32"))), 3)
    array([-0.159,  0.   ,  0.841], dtype=float32)
    """
    return keras.activations.gelu(x, approximate=True)


@serializable(name="LegacyFeedForward")
class FeedForward(_FeedForward):
    """keras-position-wise-feed-forward's `FeedForward`.

    `units` is the hidden width (`intermediate_dim`), `dropout_rate` the
    dropout after the hidden activation. Weights in the old order:
    `W1 (D, units), b1, W2 (units, D), b2`.

    Example:

    >>> x = np.random.rand(2, 5, 8).astype("float32")
    >>> layer = FeedForward(units=32, dropout_rate=0.1)
    >>> tuple(layer(x).shape)
    (2, 5, 8)
    >>> [tuple(w.shape) for w in layer.get_weights()]  # W1, b1, W2, b2
    [(8, 32), (32,), (32, 8), (8,)]
    """

    def __init__(
        self,
        units,
        activation="relu",
        use_bias=True,
        kernel_initializer="glorot_normal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        dropout_rate=0.0,
        **kwargs,
    ):
        for modern in ("intermediate_dim", "dropout", "gated", "output_dim"):
            kwargs.pop(modern, None)
        super().__init__(
            intermediate_dim=units,
            activation=activation,
            dropout=dropout_rate,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
            **kwargs,
        )
        self.units = self.intermediate_dim
        self.dropout_rate = self.dropout

    def get_config(self):
        config = super().get_config()
        for modern in ("intermediate_dim", "dropout", "gated", "output_dim"):
            config.pop(modern)
        config.update({"units": self.units, "dropout_rate": self.dropout_rate})
        return config


@serializable(name="LegacyEmbeddingRet")
class EmbeddingRet(keras.layers.Embedding):
    """keras-embed-sim's `EmbeddingRet`: an `Embedding` that returns
    `[embedded, embedding_matrix]`, so a later `EmbeddingSim` can tie to it.

    Example:

    >>> embedded, matrix = EmbeddingRet(input_dim=10, output_dim=4)(np.array([[1, 2, 3]]))
    >>> tuple(embedded.shape), tuple(matrix.shape)
    ((1, 3, 4), (10, 4))
    """

    def call(self, inputs):
        return [super().call(inputs), ops.convert_to_tensor(self.embeddings)]

    def compute_mask(self, inputs, mask=None):
        return [super().compute_mask(inputs, mask), None]

    def compute_output_shape(self, input_shape):
        return [super().compute_output_shape(input_shape), (self.input_dim, self.output_dim)]

    def compute_output_spec(self, inputs):
        return [
            keras.KerasTensor(self.compute_output_shape(inputs.shape)[0], dtype=self.compute_dtype),
            keras.KerasTensor((self.input_dim, self.output_dim), dtype=self.compute_dtype),
        ]


@serializable(name="LegacyEmbeddingSim")
class EmbeddingSim(keras.layers.Layer):
    """keras-embed-sim's `EmbeddingSim`: scores `(B, T, D)` hidden states
    against a `(V, D)` embedding matrix, `x · Eᵀ + b`.

    Returns **logits**; the old layer returned their softmax.

    Example:

    >>> embedded, matrix = EmbeddingRet(input_dim=10, output_dim=4)(np.array([[1, 2, 3]]))
    >>> logits = EmbeddingSim()([embedded, matrix])  # (B, T, V)
    >>> tuple(logits.shape)
    (1, 3, 10)
    >>> probabilities = keras.layers.Softmax()(logits)  # what the old layer returned
    """

    def __init__(
        self,
        use_bias=True,
        initializer="zeros",
        regularizer=None,
        constraint=None,
        stop_gradient=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.use_bias = use_bias
        self.initializer = keras.initializers.get(initializer)
        self.regularizer = keras.regularizers.get(regularizer)
        self.constraint = keras.constraints.get(constraint)
        self.stop_gradient = stop_gradient
        self.supports_masking = True

    def build(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2:
            raise ValueError(
                "EmbeddingSim expects [hidden_states, embedding_matrix], "
                f"received input shape {input_shape}."
            )
        vocabulary = input_shape[1][0]
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(vocabulary,),
                initializer=self.initializer,
                regularizer=self.regularizer,
                constraint=self.constraint,
                name="bias",
            )

    def call(self, inputs, mask=None):
        hidden, embeddings = inputs
        if self.stop_gradient:
            embeddings = ops.stop_gradient(embeddings)
        logits = ops.matmul(hidden, ops.transpose(ops.cast(embeddings, hidden.dtype)))
        if self.use_bias:
            logits = logits + ops.cast(self.bias, logits.dtype)
        return logits  # (B, T, V)

    def compute_mask(self, inputs, mask=None):
        return None if mask is None else mask[0]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:-1]) + (input_shape[1][0],)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "use_bias": self.use_bias,
                "initializer": keras.initializers.serialize(self.initializer),
                "regularizer": keras.regularizers.serialize(self.regularizer),
                "constraint": keras.constraints.serialize(self.constraint),
                "stop_gradient": self.stop_gradient,
            }
        )
        return config


def check_attention_activation(attention_activation):
    """Refuse the old builders' `attention_activation` (kerastack has none).

    keras-transformer and keras-bert could put an activation on the attention
    projections; kerastack's blocks cannot, so any value other than None is a
    `ValueError` naming it.

    Example:

    >>> check_attention_activation(None)  # the default: accepted
    >>> check_attention_activation("relu")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: kerastack's ... received attention_activation='relu' (only None is supported).
    """
    if attention_activation is not None:
        raise ValueError(
            "kerastack's transformer blocks have no activation on the attention projections; "
            f"received attention_activation={attention_activation!r} (only None is supported)."
        )


def get_encoders(
    encoder_num,
    input_layer,
    head_num,
    hidden_dim,
    attention_activation=None,
    feed_forward_activation=gelu,
    dropout_rate=0.0,
    trainable=True,
):
    """`encoder_num` encoder blocks (`Encoder-1`, ...) applied to `input_layer`.

    Example:

    >>> inputs = keras.Input((None, 32))
    >>> encoded = get_encoders(2, inputs, head_num=4, hidden_dim=64)
    >>> encoded.shape
    (None, None, 32)
    >>> [layer.name for layer in keras.Model(inputs, encoded).layers[1:]]
    ['Encoder-1', 'Encoder-2']
    """
    check_attention_activation(attention_activation)
    x = input_layer
    for i in range(encoder_num):
        x = TransformerEncoder(
            intermediate_dim=hidden_dim,
            num_heads=head_num,
            dropout=dropout_rate,
            activation=feed_forward_activation,
            layer_norm_epsilon=_LEGACY_EPSILON,
            trainable=trainable,
            name=f"Encoder-{i + 1}",
        )(x)
    return x


def get_decoders(
    decoder_num,
    input_layer,
    encoded_layer,
    head_num,
    hidden_dim,
    attention_activation=None,
    feed_forward_activation=gelu,
    dropout_rate=0.0,
    trainable=True,
):
    """`decoder_num` decoder blocks (`Decoder-1`, ...) on `input_layer`,
    each attending to `encoded_layer`.

    Example:

    >>> targets, sources = keras.Input((None, 32)), keras.Input((None, 32))
    >>> decoded = get_decoders(2, targets, sources, head_num=4, hidden_dim=64)
    >>> decoded.shape
    (None, None, 32)
    >>> [layer.name for layer in keras.Model([targets, sources], decoded).layers[2:]]
    ['Decoder-1', 'Decoder-2']
    """
    check_attention_activation(attention_activation)
    x = input_layer
    for i in range(decoder_num):
        x = TransformerDecoder(
            intermediate_dim=hidden_dim,
            num_heads=head_num,
            dropout=dropout_rate,
            activation=feed_forward_activation,
            layer_norm_epsilon=_LEGACY_EPSILON,
            trainable=trainable,
            name=f"Decoder-{i + 1}",
        )(x, encoded_layer)
    return x


def get_model(
    token_num,
    embed_dim,
    encoder_num,
    decoder_num,
    head_num,
    hidden_dim,
    attention_activation=None,
    feed_forward_activation=gelu,
    dropout_rate=0.0,
    use_same_embed=True,
    embed_weights=None,
    embed_trainable=None,
    trainable=True,
):
    """keras-transformer's encoder-decoder model, uncompiled.

    Inputs `[encoder_ids, decoder_ids]` (id 0 is padding), output the
    probabilities of the next token `(B, T, token_num)`. `token_num`,
    `embed_weights` and `embed_trainable` may be pairs (encoder, decoder)
    when `use_same_embed=False`.

    Example:

    >>> model = get_model(
    ...     token_num=12, embed_dim=16, encoder_num=1, decoder_num=1, head_num=2, hidden_dim=32
    ... )
    >>> model.output.shape
    (None, None, 12)
    >>> model.compile("adam", "sparse_categorical_crossentropy")  # outputs are probabilities
    """
    check_attention_activation(attention_activation)
    token_num = _pair(token_num)
    embed_weights = _pair(embed_weights)
    embed_trainable = _pair(embed_trainable)
    if use_same_embed and token_num[0] != token_num[1]:
        raise ValueError(
            f"use_same_embed=True needs one token_num, received token_num={list(token_num)}."
        )

    def embedding(index, name):
        weights = embed_weights[index]
        trainable_embedding = embed_trainable[index]
        if trainable_embedding is None:
            trainable_embedding = weights is None
        layer = EmbeddingRet(
            input_dim=token_num[index],
            output_dim=embed_dim,
            mask_zero=True,
            trainable=trainable_embedding,
            name=name,
        )
        if weights is not None:
            layer.build((None, None))
            layer.set_weights([np.asarray(weights)])
        return layer

    if use_same_embed:
        encoder_embedding = decoder_embedding = embedding(0, "Token-Embedding")
    else:
        encoder_embedding = embedding(0, "Encoder-Token-Embedding")
        decoder_embedding = embedding(1, "Decoder-Token-Embedding")

    encoder_input = keras.Input(shape=(None,), dtype="int32", name="Encoder-Input")
    decoder_input = keras.Input(shape=(None,), dtype="int32", name="Decoder-Input")
    encoder_embedded = encoder_embedding(encoder_input)[0]
    encoder_embedded = keras.layers.Add(name="Encoder-Embedding")(
        [encoder_embedded, SinePositionEncoding(name="Encoder-Position")(encoder_embedded)]
    )
    encoded = get_encoders(
        encoder_num,
        encoder_embedded,
        head_num,
        hidden_dim,
        feed_forward_activation=feed_forward_activation,
        dropout_rate=dropout_rate,
        trainable=trainable,
    )
    decoder_embedded, decoder_matrix = decoder_embedding(decoder_input)
    decoder_embedded = keras.layers.Add(name="Decoder-Embedding")(
        [decoder_embedded, SinePositionEncoding(name="Decoder-Position")(decoder_embedded)]
    )
    decoded = get_decoders(
        decoder_num,
        decoder_embedded,
        encoded,
        head_num,
        hidden_dim,
        feed_forward_activation=feed_forward_activation,
        dropout_rate=dropout_rate,
        trainable=trainable,
    )
    dense = keras.layers.Dense(embed_dim, activation="tanh", name="Decoder-Dense")(decoded)
    logits = EmbeddingSim(trainable=trainable, name="Decoder-Output")([dense, decoder_matrix])
    probabilities = keras.layers.Activation("softmax", name="Decoder-Softmax")(logits)
    return keras.Model(inputs=[encoder_input, decoder_input], outputs=probabilities)


def decode(
    model,
    tokens,
    start_token,
    end_token,
    pad_token,
    top_k=1,
    temperature=1.0,
    max_len=10000,
    max_repeat=10,
    max_repeat_block=10,
):
    """keras-transformer's `decode`: token lists in, token lists out.

    `tokens` is one list of encoder ids or a list of them; each result starts
    with `start_token` and ends with `end_token` (or stops at `max_len`
    tokens, or when a block of up to `max_repeat_block` tokens has repeated
    `max_repeat` times at its end, as before). `top_k=1` is greedy; a larger
    `top_k` samples from the `top_k` most likely tokens as keras-transformer
    did: weighted by `softmax(p / temperature)` of their probabilities, drawn
    with NumPy's global generator (`np.random.seed` repeats a run). A
    `Seq2SeqTransformer` samples in its compiled loop by kerastack's rule
    instead (`softmax(logits / temperature)`, Keras's seeded generator).

    A `Seq2SeqTransformer` decodes with its key/value cache (compiled);
    other models (such as `get_model`'s) are run on the whole prefix at each
    step, as keras-transformer did.

    Example:

    >>> model = get_model(
    ...     token_num=12, embed_dim=16, encoder_num=1, decoder_num=1, head_num=2, hidden_dim=32
    ... )
    >>> outputs = decode(
    ...     model, [[3, 4, 5, 2], [3, 2]], start_token=1, end_token=2, pad_token=0, max_len=5
    ... )
    >>> [(out[0], len(out) <= 5) for out in outputs]  # each starts with start_token
    [(1, True), (1, True)]
    """
    single = not isinstance(tokens[0], (list, tuple, np.ndarray))
    batch = [list(tokens)] if single else [list(t) for t in tokens]
    width = max(len(t) for t in batch)
    sources = np.array([t + [pad_token] * (width - len(t)) for t in batch], dtype="int32")
    if isinstance(model, Seq2SeqTransformer):
        from kerastack.transformer.decoding import decode as modern_decode

        length = min(max_len - 1, model.max_sequence_length)
        sampling = {} if top_k == 1 else {"strategy": "sample", "top_k": top_k}
        if top_k != 1 and temperature != 1.0:
            sampling["temperature"] = temperature
        generated = modern_decode(
            model,
            sources,
            start_token_id=start_token,
            end_token_id=end_token,
            max_length=length,
            encoder_padding_mask=sources != pad_token,
            padding_id=pad_token,
            **sampling,
        )
        outputs = []
        for row in generated:
            sequence = [start_token]
            for token in row:
                sequence.append(int(token))
                if token == end_token:
                    break
            outputs.append(_cut_repeats(sequence, max_repeat, max_repeat_block))
    else:
        outputs = _decode_uncached(
            model,
            sources,
            start_token,
            end_token,
            top_k,
            temperature,
            max_len,
            max_repeat,
            max_repeat_block,
        )
    return outputs[0] if single else outputs


def _decode_uncached(
    model, sources, start_token, end_token, top_k, temperature, max_len, max_repeat, block
):
    sequences = [[start_token] for _ in range(len(sources))]
    done = [False] * len(sources)
    while not all(done):
        active = [i for i, d in enumerate(done) if not d]
        decoder_inputs = np.array([sequences[i] for i in active], dtype="int32")
        probabilities = predict_arrays(model, [sources[active], decoder_inputs])
        for row, i in enumerate(active):
            last = probabilities[row, -1]
            if top_k == 1:
                token = int(last.argmax())
            else:
                token = _sample_as_before(last, top_k, temperature)
            sequences[i].append(token)
            if (
                token == end_token
                or len(sequences[i]) >= max_len
                or _suffix_repeats(sequences[i], max_repeat * block) >= max_repeat
            ):
                done[i] = True
    return sequences


def _sample_as_before(probabilities, top_k, temperature):
    """keras-transformer's draw: the `top_k` most probable tokens (ties to
    the higher id), weighted by `softmax(p / temperature)` of their
    probabilities (not of the logits), drawn with NumPy's global generator,
    so `np.random.seed` repeats an old run."""
    ranked = sorted(((float(p), token) for token, p in enumerate(probabilities)), reverse=True)
    chosen = ranked[:top_k]
    scores = np.array([p for p, _ in chosen]) / temperature
    weights = np.exp(scores - scores.max())
    # The old global generator on purpose: np.random.seed repeats old runs.
    return int(np.random.choice([token for _, token in chosen], p=weights / weights.sum()))  # noqa: NPY002


def _suffix_repeats(tokens, window):
    """How many times a block repeats back to back at the end of `tokens`,
    the most over block sizes, looking at the last `window` tokens."""
    tail = tokens[-window:]
    best = 1
    for size in range(1, len(tail) // 2 + 1):
        count = 1
        while (count + 1) * size <= len(tail) and tail[len(tail) - (count + 1) * size :][
            :size
        ] == tail[len(tail) - size :]:
            count += 1
        best = max(best, count)
    return best


def _cut_repeats(sequence, max_repeat, block):
    for end in range(2, len(sequence) + 1):
        if _suffix_repeats(sequence[:end], max_repeat * block) >= max_repeat:
            return sequence[:end]
    return sequence


def _pair(value):
    return list(value) if isinstance(value, (list, tuple)) else [value, value]


def get_custom_objects():
    """The old names, for loading models saved by the keras-bert family.

    Example:

    >>> sorted(get_custom_objects())
    ['EmbeddingRet', 'EmbeddingSim', 'FeedForward', 'gelu']
    """
    return {
        "gelu": gelu,
        "FeedForward": FeedForward,
        "EmbeddingRet": EmbeddingRet,
        "EmbeddingSim": EmbeddingSim,
    }
