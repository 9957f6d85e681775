"""A linear-chain conditional random field over per-token tag scores: the
head of a sequence tagger that scores whole tag paths (Lafferty et al.,
2001), trained by the paths' log-likelihood and decoded by Viterbi."""

from kerastack.core import keras, large_negative, ops, require_keras3, serializable

__all__ = ["ConditionalRandomField"]


@serializable
class ConditionalRandomField(keras.layers.Layer):
    """A linear-chain CRF: a tag path `y` of a sequence with tag scores
    (emissions) `e` scores `start[y_0] + sum_t e[t, y_t] + sum_t
    transitions[y_(t-1), y_t] + end[y_last]`, and `p(y) = exp(score(y)) /
    Z`, Z summing over every path of the sequence's real tokens.

    The layer holds the weights (`transitions` `(K, K)`, `start` and `end`
    `(K,)`) and passes the emissions on unchanged, so it sits at the end of
    a model's graph; `loss` trains it and `decode` reads the best paths.
    Everything runs in float32 with `keras.ops` (a `scan` over steps), on
    every backend and inside compiled functions.

    Real tokens come first in each row (padding on the right, as
    `kerastack.tokenizers` pads) and the first token of each row is real.

    Letters: B batch, T length, K tags.

    Args:
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        emissions: float `(B, T, K)`, each token's tag scores.

    Example:

    >>> crf = ConditionalRandomField()
    >>> emissions = np.array([[[2.0, 0.0], [0.0, 1.0], [5.0, 0.0]]], "float32")
    >>> _ = crf(emissions)  # builds K = 2, weights zero but the transitions
    >>> _ = crf.transitions.assign(np.zeros((2, 2), "float32"))
    >>> ops.convert_to_numpy(crf.decode(emissions, np.array([[1, 1, 0]]))).tolist()
    [[0, 1, -1]]
    >>> loss = crf.loss(np.array([[0, 1, 0]]), emissions, np.array([[1, 1, 1]]))
    >>> round(float(ops.convert_to_numpy(loss)[0]), 4)  # log Z - (2 + 1 + 5)
    0.4469
    """

    def __init__(self, **kwargs):
        require_keras3("CRF", "keras.ops.scan, which the Keras 2 ops do not serve")
        super().__init__(**kwargs)
        self.supports_masking = True

    def build(self, emissions_shape):
        tags = emissions_shape[-1]
        if tags is None or len(emissions_shape) != 3:
            raise ValueError(
                "ConditionalRandomField takes emissions (B, T, K) with K known, received "
                f"shape {tuple(emissions_shape)}."
            )
        self.num_tags = tags
        self.transitions = self.add_weight(
            name="transitions", shape=(tags, tags), initializer="glorot_uniform", dtype="float32"
        )
        self.start = self.add_weight(
            name="start", shape=(tags,), initializer="zeros", dtype="float32"
        )
        self.end = self.add_weight(name="end", shape=(tags,), initializer="zeros", dtype="float32")

    def call(self, emissions):
        return emissions

    def compute_output_shape(self, emissions_shape):
        return emissions_shape

    # -- the two recursions -----------------------------------------------------------

    def _steps(self, emissions, padding_mask):
        """`(emissions (T, B, K) float32, real (T, B) bool, first (T,) bool)`."""
        emissions = ops.cast(emissions, "float32")
        if padding_mask is None:
            padding_mask = ops.ones(ops.shape(emissions)[:2], dtype="bool")
        real = ops.cast(padding_mask, "bool")
        first = ops.equal(ops.arange(ops.shape(emissions)[1]), 0)  # (T,)
        return ops.transpose(emissions, (1, 0, 2)), ops.transpose(real, (1, 0)), first

    def log_partition(self, emissions, padding_mask=None):
        """`log Z` `(B,)`: the log of the summed exp-scores of every path over
        each row's real tokens (the forward algorithm)."""
        steps, real, first = self._steps(emissions, padding_mask)
        transitions = ops.expand_dims(ops.convert_to_tensor(self.transitions), 0)  # (1, K, K)

        def step(alpha, inputs):
            scores, valid, is_first = inputs  # (B, K), (B,), ()
            new = ops.logsumexp(ops.expand_dims(alpha, 2) + transitions, axis=1) + scores
            new = ops.where(ops.expand_dims(valid, 1), new, alpha)  # padding carries it on
            new = ops.where(is_first, self.start + scores, new)
            return new, new

        # Every step is scanned, the first too (a one-token row scans something).
        alpha, _ = ops.scan(step, ops.zeros_like(steps[0]), (steps, real, first))
        return ops.logsumexp(alpha + self.end, axis=1)  # (B,)

    def path_score(self, tags, emissions, padding_mask=None):
        """The score `(B,)` of the tag paths `tags` (int `(B, T)`, each in
        `0..K-1`; entries at padding are ignored)."""
        emissions = ops.cast(emissions, "float32")
        shape = ops.shape(emissions)
        if padding_mask is None:
            padding_mask = ops.ones(shape[:2], dtype="bool")
        real = ops.cast(ops.cast(padding_mask, "bool"), "float32")  # (B, T)
        tags = ops.where(real > 0, ops.cast(tags, "int32"), 0)
        one_hot = ops.one_hot(tags, self.num_tags, dtype="float32")  # (B, T, K)
        emitted = ops.sum(ops.sum(one_hot * emissions, axis=2) * real, axis=1)
        both = real[:, 1:] * real[:, :-1]  # (B, T - 1): a transition between real tokens
        moves = ops.einsum("bti,ij,btj->bt", one_hot[:, :-1], self.transitions, one_hot[:, 1:])
        # The last real token: real, and the next one is not (or the row ends).
        after = ops.concatenate([real[:, 1:], ops.zeros_like(real[:, :1])], axis=1)
        last = real * (1.0 - after)  # (B, T)
        ends = ops.sum(ops.sum(one_hot * self.end, axis=2) * last, axis=1)
        starts = ops.sum(one_hot[:, 0] * self.start, axis=1)
        return starts + emitted + ops.sum(moves * both, axis=1) + ends

    def log_likelihood(self, tags, emissions, padding_mask=None):
        """`log p(tags)` `(B,)` for int `tags` `(B, T)`.

        A tag outside `0..K-1` at a real token (Hugging Face's -100 on
        `[CLS]`, `[SEP]` or a word's later pieces) leaves that token's tag
        unknown: the likelihood sums over the paths that agree with the
        known tags (with every tag known, that is one path's probability)."""
        emissions = ops.cast(emissions, "float32")
        tags = ops.cast(tags, "int32")
        known = ops.logical_and(tags >= 0, tags < self.num_tags)  # (B, T)
        chosen = ops.one_hot(ops.where(known, tags, 0), self.num_tags, dtype="float32")
        # Where the tag is known, every other tag is ruled out.
        ruled_out = ops.logical_and(ops.expand_dims(known, -1), chosen == 0)  # (B, T, K)
        allowed = ops.where(ruled_out, large_negative("float32"), emissions)
        return self.log_partition(allowed, padding_mask) - self.log_partition(
            emissions, padding_mask
        )

    def loss(self, tags, emissions, padding_mask=None):
        """The negative log-likelihood `(B,)`, what training minimizes (see
        `log_likelihood` for unknown tags)."""
        return -self.log_likelihood(tags, emissions, padding_mask)

    def decode(self, emissions, padding_mask=None):
        """The most likely tag path of each row (Viterbi): int32 `(B, T)`,
        -1 at padding."""
        steps, real, first = self._steps(emissions, padding_mask)
        transitions = ops.expand_dims(ops.convert_to_tensor(self.transitions), 0)  # (1, K, K)
        identity = ops.arange(self.num_tags, dtype="int32")  # (K,)

        def forward(score, inputs):
            scores, valid, is_first = inputs
            candidates = ops.expand_dims(score, 2) + transitions  # (B, K from, K to)
            best = ops.cast(ops.argmax(candidates, axis=1), "int32")  # (B, K)
            new = ops.max(candidates, axis=1) + scores
            keep = ops.logical_or(is_first, ops.logical_not(ops.expand_dims(valid, 1)))
            new = ops.where(ops.expand_dims(valid, 1), new, score)
            new = ops.where(is_first, self.start + scores, new)
            # A first or padding step points each tag at itself.
            best = ops.where(keep, ops.broadcast_to(identity, ops.shape(best)), best)
            # Scanned outputs are float32 (TensorFlow's scan keeps one dtype).
            return new, ops.cast(best, "float32")

        score, pointers = ops.scan(forward, ops.zeros_like(steps[0]), (steps, real, first))
        last = ops.cast(ops.argmax(score + self.end, axis=1), "float32")  # (B,)

        def backward(tag, step_pointers):
            index = ops.expand_dims(ops.cast(tag, "int32"), 1)  # (B, 1)
            previous = ops.take_along_axis(step_pointers, index, axis=1)[:, 0]
            return previous, tag

        _, path = ops.scan(backward, last, pointers, reverse=True)  # (T, B)
        path = ops.cast(ops.transpose(path, (1, 0)), "int32")  # (B, T)
        return ops.where(ops.transpose(real, (1, 0)), path, -1)
