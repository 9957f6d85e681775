"""The keras-transformer, keras-position-wise-feed-forward and keras-embed-sim
names, on Keras 3.

- `FeedForward(units, activation, use_bias, ..., dropout_rate)`: the
  position-wise feed-forward layer of keras-position-wise-feed-forward, with
  its weight order (`W1, b1, W2, b2`) and `glorot_normal` default.
- `EmbeddingRet` and `EmbeddingSim` (keras-embed-sim): an embedding that also
  returns its weight matrix, and the tied output layer giving the softmax of
  hidden states scored against it (probabilities, as before).
- `get_encoders`, `get_decoders`, `get_model`, `decode` and the builders
  under them (`attention_builder`, `feed_forward_builder`,
  `get_encoder_component`, `get_decoder_component`): keras-transformer's,
  layer for layer. The graphs hold the same layers under the same names
  (`Encoder-1-MultiHeadSelfAttention`, `...-Add`, `...-Norm`,
  `Decoder-1-MultiHeadQueryAttention`, `Token-Embedding`,
  `Encoder-Embedding`, `Decoder-Output`, ...) with the same weights in the
  same order, built from the compat layers (`kerastack.multihead.compat`,
  `kerastack.layernorm.compat`, `kerastack.position.compat`), so weights and
  `.h5` models saved by keras-transformer load into them
  (`get_custom_objects()` names the classes).

Old code moves over by changing its import:
`from kerastack.transformer.compat import get_model, decode`.
"""

import numpy as np

from kerastack.core import InitialWeightsMixin, keras, ops, predict_arrays, serializable
from kerastack.layernorm.compat import LayerNormalization
from kerastack.multihead.compat import MultiHeadAttention
from kerastack.position.compat import TrigPosEmbedding
from kerastack.transformer.feed_forward import FeedForward as _FeedForward
from kerastack.transformer.seq2seq import Seq2SeqTransformer

__all__ = [
    "EmbeddingRet",
    "EmbeddingSim",
    "FeedForward",
    "attention_builder",
    "decode",
    "feed_forward_builder",
    "gelu",
    "get_custom_objects",
    "get_decoder_component",
    "get_decoders",
    "get_encoder_component",
    "get_encoders",
    "get_model",
]


@serializable(name="legacy_gelu")
def gelu(x):
    """keras-transformer's gelu: the tanh approximation.

    Example:

    >>> np.round(ops.convert_to_numpy(gelu(np.array([-1.0, 0.0, 1.0], "float32"))), 3)
    array([-0.159,  0.   ,  0.841], dtype=float32)
    """
    return keras.activations.gelu(x, approximate=True)


@serializable(name="LegacyFeedForward")
class FeedForward(InitialWeightsMixin, _FeedForward):
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
class EmbeddingRet(InitialWeightsMixin, keras.layers.Embedding):
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
class EmbeddingSim(InitialWeightsMixin, keras.layers.Layer):
    """keras-embed-sim's `EmbeddingSim`: the softmax of `(B, T, D)` hidden
    states scored against a `(V, D)` embedding matrix, `softmax(x · Eᵀ + b)`
    (probabilities over the `V` tokens, as the old layer gave).

    Example:

    >>> embedded, matrix = EmbeddingRet(input_dim=10, output_dim=4)(np.array([[1, 2, 3]]))
    >>> probabilities = EmbeddingSim()([embedded, matrix])  # (B, T, V)
    >>> tuple(probabilities.shape)
    (1, 3, 10)
    >>> np.allclose(ops.convert_to_numpy(ops.sum(probabilities, axis=-1)), 1.0)
    True
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
        return ops.softmax(logits, axis=-1)  # (B, T, V)

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


def _wrap_layer(name, input_layer, build_func, dropout_rate=0.0, trainable=True):
    """keras-transformer's sublayer: `build_func(input_layer)`, dropout
    (`{name}-Dropout`, when `dropout_rate > 0`), the residual sum with the
    input (`{name}-Add`; the query when `input_layer` is `[q, k, v]`) and a
    layer normalization (`{name}-Norm`)."""
    built = build_func(input_layer)
    if dropout_rate > 0.0:
        built = keras.layers.Dropout(rate=dropout_rate, name=f"{name}-Dropout")(built)
    residual = input_layer[0] if isinstance(input_layer, list) else input_layer
    added = keras.layers.Add(name=f"{name}-Add")([residual, built])
    return LayerNormalization(trainable=trainable, name=f"{name}-Norm")(added)


def attention_builder(name, head_num, activation, history_only, trainable=True):
    """keras-transformer's `attention_builder`: a function applying one
    `MultiHeadAttention` (keras-multi-head's, named `name`) to its input.

    Example:

    >>> x = keras.Input((None, 8))
    >>> attend = attention_builder("Attention", head_num=2, activation="relu", history_only=True)
    >>> attend(x).shape
    (None, None, 8)
    """

    def build(x):
        return MultiHeadAttention(
            head_num=head_num,
            activation=activation,
            history_only=history_only,
            trainable=trainable,
            name=name,
        )(x)

    return build


def feed_forward_builder(name, hidden_dim, activation, trainable=True):
    """keras-transformer's `feed_forward_builder`: a function applying one
    `FeedForward(units=hidden_dim)` (named `name`) to its input.

    Example:

    >>> x = keras.Input((None, 8))
    >>> feed_forward_builder("FeedForward", hidden_dim=16, activation="relu")(x).shape
    (None, None, 8)
    """

    def build(x):
        return FeedForward(units=hidden_dim, activation=activation, trainable=trainable, name=name)(
            x
        )

    return build


def get_encoder_component(
    name,
    input_layer,
    head_num,
    hidden_dim,
    attention_activation=None,
    feed_forward_activation=gelu,
    dropout_rate=0.0,
    trainable=True,
):
    """keras-transformer's encoder block: self-attention
    (`{name}-MultiHeadSelfAttention`, with its `-Dropout`, `-Add`, `-Norm`)
    then the feed-forward layer (`{name}-FeedForward`, the same three after).

    Example:

    >>> x = keras.Input((None, 8))
    >>> encoded = get_encoder_component("Encoder-1", x, head_num=2, hidden_dim=16)
    >>> [layer.name for layer in keras.Model(x, encoded).layers[1:4]]
    ['Encoder-1-MultiHeadSelfAttention', 'Encoder-1-MultiHeadSelfAttention-Add', \
'Encoder-1-MultiHeadSelfAttention-Norm']
    """
    attention_name = f"{name}-MultiHeadSelfAttention"
    feed_forward_name = f"{name}-FeedForward"
    attended = _wrap_layer(
        attention_name,
        input_layer,
        attention_builder(attention_name, head_num, attention_activation, False, trainable),
        dropout_rate,
        trainable,
    )
    return _wrap_layer(
        feed_forward_name,
        attended,
        feed_forward_builder(feed_forward_name, hidden_dim, feed_forward_activation, trainable),
        dropout_rate,
        trainable,
    )


def get_decoder_component(
    name,
    input_layer,
    encoded_layer,
    head_num,
    hidden_dim,
    attention_activation=None,
    feed_forward_activation=gelu,
    dropout_rate=0.0,
    trainable=True,
):
    """keras-transformer's decoder block: causal self-attention
    (`{name}-MultiHeadSelfAttention`), attention to `encoded_layer`
    (`{name}-MultiHeadQueryAttention`) and the feed-forward layer
    (`{name}-FeedForward`), each with its `-Dropout`, `-Add` and `-Norm`.

    Example:

    >>> targets, sources = keras.Input((None, 8)), keras.Input((None, 8))
    >>> decoded = get_decoder_component("Decoder-1", targets, sources, head_num=2, hidden_dim=16)
    >>> decoded.shape
    (None, None, 8)
    """
    self_name = f"{name}-MultiHeadSelfAttention"
    query_name = f"{name}-MultiHeadQueryAttention"
    feed_forward_name = f"{name}-FeedForward"
    attended = _wrap_layer(
        self_name,
        input_layer,
        attention_builder(self_name, head_num, attention_activation, True, trainable),
        dropout_rate,
        trainable,
    )
    queried = _wrap_layer(
        query_name,
        [attended, encoded_layer, encoded_layer],
        attention_builder(query_name, head_num, attention_activation, False, trainable),
        dropout_rate,
        trainable,
    )
    return _wrap_layer(
        feed_forward_name,
        queried,
        feed_forward_builder(feed_forward_name, hidden_dim, feed_forward_activation, trainable),
        dropout_rate,
        trainable,
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
    """`encoder_num` encoder blocks (`Encoder-1`, ...; see
    `get_encoder_component`) applied to `input_layer`.

    Example:

    >>> inputs = keras.Input((None, 32))
    >>> encoded = get_encoders(2, inputs, head_num=4, hidden_dim=64, attention_activation="relu")
    >>> encoded.shape
    (None, None, 32)
    >>> keras.Model(inputs, encoded).layers[-1].name
    'Encoder-2-FeedForward-Norm'
    """
    x = input_layer
    for i in range(encoder_num):
        x = get_encoder_component(
            f"Encoder-{i + 1}",
            x,
            head_num,
            hidden_dim,
            attention_activation,
            feed_forward_activation,
            dropout_rate,
            trainable,
        )
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
    """`decoder_num` decoder blocks (`Decoder-1`, ...; see
    `get_decoder_component`) on `input_layer`, each attending to
    `encoded_layer`.

    Example:

    >>> targets, sources = keras.Input((None, 32)), keras.Input((None, 32))
    >>> decoded = get_decoders(2, targets, sources, head_num=4, hidden_dim=64)
    >>> decoded.shape
    (None, None, 32)
    >>> keras.Model([targets, sources], decoded).layers[-1].name
    'Decoder-2-FeedForward-Norm'
    """
    x = input_layer
    for i in range(decoder_num):
        x = get_decoder_component(
            f"Decoder-{i + 1}",
            x,
            encoded_layer,
            head_num,
            hidden_dim,
            attention_activation,
            feed_forward_activation,
            dropout_rate,
            trainable,
        )
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
    """keras-transformer's encoder-decoder model, uncompiled, layer for layer.

    Inputs `[Encoder-Input, Decoder-Input]` (ids; 0 is padding), output the
    probabilities of the next token `(B, T, token_num)` (`Decoder-Output`).
    `token_num`, `embed_weights` and `embed_trainable` may be pairs (encoder,
    decoder) when `use_same_embed=False`; an embedding given weights is
    frozen unless `embed_trainable` says otherwise.

    Example:

    >>> model = get_model(
    ...     token_num=12, embed_dim=16, encoder_num=1, decoder_num=1, head_num=2, hidden_dim=32
    ... )
    >>> model.output.shape
    (None, None, 12)
    >>> model.compile("adam", "sparse_categorical_crossentropy")  # outputs are probabilities
    """
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

    encoder_input = keras.Input(shape=(None,), name="Encoder-Input")
    encoder_embedded = TrigPosEmbedding(mode=TrigPosEmbedding.MODE_ADD, name="Encoder-Embedding")(
        encoder_embedding(encoder_input)[0]
    )
    encoded = get_encoders(
        encoder_num,
        encoder_embedded,
        head_num,
        hidden_dim,
        attention_activation,
        feed_forward_activation,
        dropout_rate,
        trainable,
    )
    decoder_input = keras.Input(shape=(None,), name="Decoder-Input")
    decoder_embedded, decoder_matrix = decoder_embedding(decoder_input)
    decoder_embedded = TrigPosEmbedding(mode=TrigPosEmbedding.MODE_ADD, name="Decoder-Embedding")(
        decoder_embedded
    )
    decoded = get_decoders(
        decoder_num,
        decoder_embedded,
        encoded,
        head_num,
        hidden_dim,
        attention_activation,
        feed_forward_activation,
        dropout_rate,
        trainable,
    )
    probabilities = EmbeddingSim(trainable=trainable, name="Decoder-Output")(
        [decoded, decoder_matrix]
    )
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
    tokens, unless it is None, or when a block of up to `max_repeat_block` tokens has repeated
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

        length = model.max_sequence_length
        if max_len is not None:
            length = min(max_len - 1, length)
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
                or (max_len is not None and len(sequences[i]) >= max_len)
                or _get_max_suffix_repeat_times(sequences[i], max_repeat * block) >= max_repeat
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


def _get_max_suffix_repeat_times(tokens, max_len):
    """keras-transformer's repeat count (its private name, which its tests
    import): the most times a block repeats back to back at the end of
    `tokens` (a list or a string), over the endings of 3 to `max_len` items
    (so a 2-item ending such as `[5, 5]` counts once, as before)."""
    window = min(max_len, len(tokens))
    backwards = list(tokens[len(tokens) - window :])[::-1]
    # border[m]: the longest proper prefix of backwards[:m] that is also its suffix.
    border = [0] * (window + 1)
    best = 1
    k = 0
    for m in range(2, window + 1):
        while k > 0 and backwards[m - 1] != backwards[k]:
            k = border[k]
        if backwards[m - 1] == backwards[k]:
            k += 1
        border[m] = k
        period = m - k
        if m >= 3 and m % period == 0:
            best = max(best, m // period)
    return best


def _cut_repeats(sequence, max_repeat, block):
    for end in range(2, len(sequence) + 1):
        if _get_max_suffix_repeat_times(sequence[:end], max_repeat * block) >= max_repeat:
            return sequence[:end]
    return sequence


def _pair(value):
    return list(value) if isinstance(value, (list, tuple)) else [value, value]


def get_custom_objects():
    """keras-transformer's `get_custom_objects`: the old class names, for
    `keras.models.load_model(path, custom_objects=get_custom_objects())` on
    models saved by keras-transformer (or by kerastack's compat).

    Example:

    >>> sorted(get_custom_objects())  # doctest: +NORMALIZE_WHITESPACE
    ['EmbeddingRet', 'EmbeddingSim', 'FeedForward', 'LayerNormalization', 'MultiHeadAttention',
     'TrigPosEmbedding', 'gelu']
    """
    return {
        "gelu": gelu,
        "LayerNormalization": LayerNormalization,
        "MultiHeadAttention": MultiHeadAttention,
        "FeedForward": FeedForward,
        "TrigPosEmbedding": TrigPosEmbedding,
        "EmbeddingRet": EmbeddingRet,
        "EmbeddingSim": EmbeddingSim,
    }
