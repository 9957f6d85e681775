"""bert4keras's `snippets` module on kerastack (Keras 3).

The NumPy helpers bert4keras code imports from `bert4keras.snippets`:
padding and truncation of id sequences, text splitting, a file wrapper with
a line index, parallel mapping, a batch-generator template, Viterbi decoding
and the autoregressive decoders (beam search and random sampling). They give
the outputs bert4keras 0.11.5 gives for the same inputs (and, for the
sampling functions, the same NumPy random seed); where they differ, the
docstring says so.

Not provided: `DataGenerator.to_dataset` (it builds a `tf.data.Dataset`, and
package code imports no backend: hand `forfit()` to `model.fit` instead),
`WebServing` (a bottle server bound to TensorFlow 1 sessions) and the
Python 2 `uniout` hook.
"""

import builtins
import json
import os
import queue
import re
import unicodedata
from collections import defaultdict

import numpy as np

from kerastack.core import keras

__all__ = [
    "AutoRegressiveDecoder",
    "DataGenerator",
    "ViterbiDecoder",
    "convert_to_str",
    "convert_to_unicode",
    "delete_arguments",
    "insert_arguments",
    "is_one_of",
    "is_string",
    "longest_common_subsequence",
    "longest_common_substring",
    "lowercase_and_normalize",
    "open",
    "orthogonally_resize",
    "parallel_apply",
    "parallel_apply_generator",
    "sequence_padding",
    "softmax",
    "strQ2B",
    "string_matching",
    "text_segmentate",
    "to_array",
    "truncate_sequences",
]

_builtin_open = builtins.open


def to_array(*args):
    """Each argument as a NumPy array; a single argument comes back alone.

    Example:

    >>> to_array([1, 2]).shape
    (2,)
    >>> [a.tolist() for a in to_array([1], [[2, 3]])]
    [[1], [[2, 3]]]
    """
    arrays = [np.array(arg) for arg in args]
    return arrays[0] if len(arrays) == 1 else arrays


def is_string(s):
    """Whether `s` is a `str`.

    Example:

    >>> is_string("abc"), is_string(b"abc"), is_string(1)
    (True, False, False)
    """
    return isinstance(s, str)


def strQ2B(ustring):
    """`ustring` with full-width characters turned into their half-width forms.

    The ideographic space (U+3000) becomes a space; U+FF01 to U+FF5E become
    U+0021 to U+007E; every other character is kept.

    Example:

    >>> strQ2B("ＡＢＣ，１２３！\\u3000你好")
    'ABC,123! 你好'
    """
    characters = []
    for character in ustring:
        code = ord(character)
        if code == 0x3000:
            code = 0x20
        elif 0xFF01 <= code <= 0xFF5E:
            code -= 0xFEE0
        characters.append(chr(code))
    return "".join(characters)


def string_matching(s, keywords):
    """Whether any of `keywords` (regular expressions) is found in `s`.

    Example:

    >>> string_matching("hello world", ["wor", "xyz"])
    True
    >>> string_matching("hello world", [r"\\d+"])
    False
    """
    return any(re.search(keyword, s) for keyword in keywords)


def convert_to_unicode(text, encoding="utf-8", errors="ignore"):
    """`text` as `str`: bytes are decoded, anything else is returned as is.

    Example:

    >>> convert_to_unicode("你好".encode("utf-8"))
    '你好'
    """
    if isinstance(text, bytes):
        return text.decode(encoding, errors=errors)
    return text


def convert_to_str(text, encoding="utf-8", errors="ignore"):
    """`text` as `str` (on Python 3 the same as `convert_to_unicode`).

    Example:

    >>> convert_to_str(b"abc")
    'abc'
    """
    return convert_to_unicode(text, encoding, errors)


def lowercase_and_normalize(text):
    """`text` lowercased, NFD-normalized, with combining marks (accents) removed.

    Example:

    >>> lowercase_and_normalize("Café ÀB")
    'cafe ab'
    """
    text = unicodedata.normalize("NFD", text.lower())
    return "".join(ch for ch in text if unicodedata.category(ch) != "Mn")


class open:  # noqa: A001 - bert4keras's name for its file wrapper
    """A file opened like the built-in `open`, with an optional line index.

    With `indexable=True` it reads the file once on opening and records the
    offset of every line, so `f[i]` reads line `i` and `len(f)` is the number
    of lines. `indexable` may also name a JSON file: the offsets are read
    from it when it exists, and computed and written to it otherwise. With
    an `encoding`, bytes read are decoded and text written is encoded with it.

    Differs from bert4keras: indexing shows a `keras.utils.Progbar` for files
    over 1 MiB only and prints no "creating indexes" lines; the index file is
    written and closed at once.

    Args:
        name: the file's path.
        mode: as for the built-in `open`.
        encoding: the text encoding, or `None`.
        errors: how encoding errors are handled, as for the built-in `open`.
        indexable: `False`, `True` or the path of a JSON index file.

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "lines.txt")
    >>> with open(path, "w", encoding="utf-8") as f:
    ...     f.write("first\\nsecond\\nthird\\n")
    >>> with open(path, encoding="utf-8", indexable=True) as f:
    ...     len(f), f[1], f[0]
    (3, 'second\\n', 'first\\n')
    """

    def __init__(self, name, mode="r", encoding=None, errors="strict", indexable=False):
        self.name = name
        self.file = _builtin_open(name, mode, encoding=encoding, errors=errors)
        self.encoding = encoding
        self.errors = errors
        self.iterator = None
        if indexable:
            if is_string(indexable) and os.path.exists(indexable):
                with _builtin_open(indexable) as index_file:
                    self.offsets = json.load(index_file)
            else:
                self.create_indexes()
                if is_string(indexable):
                    with _builtin_open(indexable, "w") as index_file:
                        json.dump(self.offsets, index_file)

    def create_indexes(self):
        """Record the offset of every line in `self.offsets`."""
        self.offsets = []
        offset = 0
        size = os.path.getsize(self.name)
        # Progress shows for files over 1 MiB only: small ones index at once.
        progbar = keras.utils.Progbar(size, verbose=1 if size > 2**20 else 0)
        while self.readline():
            self.offsets.append(offset)
            offset = self.tell()
            progbar.update(offset)
        self.seek(0)

    def _decoded(self, text):
        if self.encoding:
            return convert_to_unicode(text, self.encoding, self.errors)
        return text

    def __getitem__(self, key):
        self.seek(self.offsets[key])
        return self.readline()

    def __len__(self):
        return len(self.offsets)

    def __iter__(self):
        for line in self.file:
            yield self._decoded(line)

    def next(self):
        """The next line."""
        if self.iterator is None:
            self.iterator = self.__iter__()
        return next(self.iterator)

    def __next__(self):
        return self.next()

    def read(self):
        """The rest of the file."""
        return self._decoded(self.file.read())

    def readline(self):
        """The next line, read with the file's `readline`."""
        return self._decoded(self.file.readline())

    def readlines(self):
        """The remaining lines, as a list."""
        return [self._decoded(line) for line in self.file.readlines()]

    def write(self, text):
        """Write `text`."""
        if self.encoding:
            text = convert_to_str(text, self.encoding, self.errors)
        self.file.write(text)

    def flush(self):
        """Flush the file."""
        self.file.flush()

    def close(self):
        """Close the file."""
        self.file.close()

    def tell(self):
        """The file's position."""
        return self.file.tell()

    def seek(self, offset=0):
        """Move to `offset`."""
        return self.file.seek(offset)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.close()


class _Failure:
    """An exception raised by the mapped function in a worker."""

    def __init__(self, error):
        self.error = error


_STOP = "kerastack.bert4keras.snippets: stop"


def _worker_loop(func, in_queue, out_queue, seed_queue):
    # Runs as the pool's initializer: it takes inputs until told to stop.
    try:
        seed = seed_queue.get(block=False)
    except queue.Empty:
        pass
    else:
        np.random.seed(seed)  # noqa: NPY002 - bert4keras seeds the global state
    while True:
        item = in_queue.get()
        if isinstance(item, str) and item == _STOP:
            return
        index, value = item
        try:
            result = func(value)
        except Exception as error:  # handed to the caller, who raises it
            result = _Failure(error)
        out_queue.put((index, result))


def parallel_apply_generator(
    func, iterable, workers, max_queue_size, dummy=False, random_seeds=True
):
    """Yields `(i, func(x_i))` for the items of `iterable`, computed in parallel.

    Results come as they are ready, not in input order. At most
    `max_queue_size` inputs wait for a worker at once.

    Differs from bert4keras: workers are started from a module-level function,
    so with the "spawn" or "forkserver" start methods `func` only needs to be
    picklable; an exception raised by `func` is raised here (bert4keras's
    worker dies and the generator waits forever); worker threads are stopped
    when the generator ends.

    Args:
        func: the function to apply.
        iterable: its inputs.
        workers: the number of processes (threads with `dummy=True`).
        max_queue_size: how many inputs may wait for a worker.
        dummy: `True` for threads, `False` for processes.
        random_seeds: `True` for a fresh NumPy seed per worker, a list of
            seeds (one per worker), or `False`/`None` to seed nothing.

    Example:

    >>> pairs = parallel_apply_generator(abs, [-1, 2, -3], 2, 4, dummy=True)
    >>> sorted(pairs)
    [(0, 1), (1, 2), (2, 3)]
    """
    if dummy:
        from multiprocessing.dummy import Pool, Queue
    else:
        from multiprocessing import Pool, Queue

    in_queue, out_queue, seed_queue = Queue(max_queue_size), Queue(), Queue()
    if random_seeds is True:
        random_seeds = [None] * workers
    elif random_seeds is None or random_seeds is False:
        random_seeds = []
    for seed in random_seeds:
        seed_queue.put(seed)

    pool = Pool(workers, _worker_loop, (func, in_queue, out_queue, seed_queue))

    def result():
        index, value = out_queue.get()
        if isinstance(value, _Failure):
            raise value.error
        return index, value

    try:
        sent = received = 0
        for index, value in enumerate(iterable):
            sent += 1
            while True:
                try:
                    in_queue.put((index, value), block=False)
                    break
                except queue.Full:
                    while out_queue.qsize() > max_queue_size:
                        yield result()
                        received += 1
            if out_queue.qsize() > 0:
                yield result()
                received += 1
        while received != sent:
            yield result()
            received += 1
    finally:
        if dummy:
            for _ in range(workers):
                in_queue.put(_STOP)
        pool.terminate()


def parallel_apply(
    func,
    iterable,
    workers,
    max_queue_size,
    callback=None,
    dummy=False,
    random_seeds=True,
    unordered=True,
):
    """`func` applied to every item of `iterable` in parallel.

    Without a `callback` it returns the results as a list: in the order they
    were ready, or in input order with `unordered=False`. With a `callback`
    it calls it on each result (as ready) and returns `None`. The other
    arguments are `parallel_apply_generator`'s.

    Example:

    >>> parallel_apply(abs, [-1, 2, -3], 2, 4, dummy=True, unordered=False)
    [1, 2, 3]
    """
    pairs = parallel_apply_generator(func, iterable, workers, max_queue_size, dummy, random_seeds)
    if callback is not None:
        for _, value in pairs:
            callback(value)
        return None
    if unordered:
        return [value for _, value in pairs]
    return [value for _, value in sorted(pairs, key=lambda pair: pair[0])]


def sequence_padding(inputs, length=None, value=0, seq_dims=1, mode="post"):
    """`inputs` padded (or cut) to one length and stacked into a NumPy array.

    The first `seq_dims` axes of every input are padded with `value` to
    `length` (an int or one int per axis; by default the longest input) or
    cut to it. `mode="post"` pads at the end, `"pre"` at the start; cutting
    always keeps the first `length` items.

    Example:

    >>> sequence_padding([[1, 2, 3], [4]])
    array([[1, 2, 3],
           [4, 0, 0]])
    >>> sequence_padding([[1, 2, 3], [4]], length=2, value=-1, mode="pre")
    array([[ 1,  2],
           [-1,  4]])
    """
    if mode not in ("post", "pre"):
        raise ValueError(f'"mode" argument must be "post" or "pre", got {mode!r}.')
    if length is None:
        length = np.max([np.shape(x)[:seq_dims] for x in inputs], axis=0)
    elif np.ndim(length) == 0:  # one length (a NumPy integer too)
        length = [length]

    cut = tuple(slice(None, length[axis]) for axis in range(seq_dims))
    padded = []
    for x in inputs:
        x = np.asarray(x)[cut]
        pad_width = [(0, 0)] * x.ndim
        for axis in range(seq_dims):
            missing = length[axis] - x.shape[axis]
            pad_width[axis] = (0, missing) if mode == "post" else (missing, 0)
        padded.append(np.pad(x, pad_width, "constant", constant_values=value))
    return np.array(padded)


def truncate_sequences(maxlen, indices, *sequences):
    """Cuts `sequences` (lists) in place until their total length is at most `maxlen`.

    Each step removes one item, at position `indices` (or `indices[i]` for
    the i-th sequence), from the longest sequence (the first one among
    equals). Empty sequences are left out of the returned list.

    Example:

    >>> first, second = [1, 2, 3, 4], [5, 6]
    >>> truncate_sequences(4, -1, first, second)
    [[1, 2], [5, 6]]
    >>> first
    [1, 2]
    """
    sequences = [s for s in sequences if s]
    if not isinstance(indices, (list, tuple)):
        indices = [indices] * len(sequences)
    while True:
        lengths = [len(s) for s in sequences]
        if sum(lengths) <= maxlen:
            return sequences
        longest = int(np.argmax(lengths))
        sequences[longest].pop(indices[longest])


def text_segmentate(text, maxlen, seps="\n", strips=None):
    """`text` split into pieces of at most `maxlen` characters where possible.

    The text is split at `seps[0]` (kept at the end of each piece) and
    neighbouring pieces are joined again while they fit in `maxlen`; a
    piece still too long is split at `seps[1]`, and so on. `strips` are
    the characters stripped from both ends of each piece (after
    whitespace).

    Example:

    >>> text_segmentate("今天天气很好。我们去公园吧！好不好？", 8, seps="。！？")
    ['今天天气很好。', '我们去公园吧！', '好不好？']
    """
    text = text.strip().strip(strips)
    if not seps or len(text) <= maxlen:
        return [text]
    sep = seps[0]
    pieces = text.split(sep)
    texts, current = [], ""
    for i, piece in enumerate(pieces):
        if current and piece and len(current) + len(piece) > maxlen - 1:
            texts.extend(text_segmentate(current, maxlen, seps[1:], strips))
            current = ""
        current += piece if i + 1 == len(pieces) else piece + sep
    if current:
        texts.extend(text_segmentate(current, maxlen, seps[1:], strips))
    return texts


def is_one_of(x, ys):
    """Whether `x` is (by identity) one of `ys`.

    Unlike `x in ys`, it never compares values, so it works for arrays and
    tensors.

    Example:

    >>> a = np.zeros(2)
    >>> is_one_of(a, [np.zeros(2), a]), is_one_of(np.zeros(2), [a])
    (True, False)
    """
    return any(x is y for y in ys)


def _lists_as_tuples(batch):
    """`batch` with every list in it a tuple (arrays and the rest as they are)."""
    if isinstance(batch, (list, tuple)):
        return tuple(_lists_as_tuples(item) for item in batch)
    return batch


class DataGenerator:
    """A template for batch generators: subclass it and define `__iter__`.

    `__iter__(random)` yields batches; it reads the samples through
    `self.sample(random)`, which yields `(is_end, sample)` pairs.
    `forfit()` loops over the batches forever (for `model.fit` with
    `steps_per_epoch=len(generator)`) and `fortest()` yields their inputs
    only.

    Differs from bert4keras: no `to_dataset` (it builds a `tf.data.Dataset`,
    and kerastack package code imports no backend).

    Args:
        data: the samples (a sequence, or any iterable).
        batch_size: the batch size.
        buffer_size: for an iterable without a length, how many samples are
            shuffled at once when `random=True` (default
            `batch_size * 1000`).

    Example:

    >>> class Batches(DataGenerator):
    ...     def __iter__(self, random=False):
    ...         batch = []
    ...         for is_end, x in self.sample(random):
    ...             batch.append(x)
    ...             if len(batch) == self.batch_size or is_end:
    ...                 yield np.array(batch), np.array(batch) * 2
    ...                 batch = []
    >>> batches = Batches(list(range(5)), batch_size=2)
    >>> len(batches), [x.tolist() for x, y in batches]
    (3, [[0, 1], [2, 3], [4]])
    """

    def __init__(self, data, batch_size=32, buffer_size=None):
        self.data = data
        self.batch_size = batch_size
        if hasattr(data, "__len__"):
            self.steps = -(-len(data) // batch_size)  # ceil
        else:
            self.steps = None
        self.buffer_size = buffer_size or batch_size * 1000

    def __len__(self):
        return self.steps

    def _shuffled(self):
        if self.steps is not None:
            for i in np.random.permutation(len(self.data)):  # noqa: NPY002
                yield self.data[i]
            return
        # The global NumPy random state, as bert4keras (the same seed gives
        # the same order).
        # No length: a buffer of `buffer_size` samples; once full, each new
        # sample lets one random sample of the buffer out.
        buffer, full = [], False
        for d in self.data:
            buffer.append(d)
            if full:
                yield buffer.pop(np.random.randint(len(buffer)))  # noqa: NPY002
            elif len(buffer) == self.buffer_size:
                full = True
        while buffer:
            yield buffer.pop(np.random.randint(len(buffer)))  # noqa: NPY002

    def sample(self, random=False):
        """Yields `(is_end, sample)` for each sample, `is_end` being True for the last.

        With `random=True` the order is shuffled with NumPy's global random
        state (the same order as bert4keras's for the same seed).

        Example:

        >>> list(DataGenerator(["a", "b", "c"]).sample())
        [(False, 'a'), (False, 'b'), (True, 'c')]
        """
        samples = self._shuffled() if random else iter(self.data)
        current = next(samples)
        for following in samples:
            yield False, current
            current = following
        yield True, current

    def __iter__(self, random=False):
        raise NotImplementedError

    def forfit(self, random=True):
        """The batches of `__iter__(random)`, again and again, forever.

        Lists inside a batch (`[token_ids, segment_ids]`, a multi-input
        model's inputs) come as tuples: Keras 3's `fit` reads a list as one
        tensor on TensorFlow, where Keras 2 read it as the model's inputs.
        Also on TensorFlow, Keras 3 fixes every dimension the first two
        batches agree on: pad batches of varying length to one length
        (`sequence_padding(batch, maxlen)`) there.

        Example:

        >>> class Pairs(DataGenerator):
        ...     def __iter__(self, random=False):
        ...         for _, x in self.sample(random):
        ...             yield x, -x
        >>> batches = Pairs([1, 2]).forfit(random=False)
        >>> [next(batches) for _ in range(3)]
        [(1, -1), (2, -2), (1, -1)]
        """
        while True:
            for batch in self.__iter__(random):
                yield _lists_as_tuples(batch)

    def fortest(self, random=False):
        """The first element (the inputs) of each batch, forever.

        Example:

        >>> class Pairs(DataGenerator):
        ...     def __iter__(self, random=False):
        ...         for _, x in self.sample(random):
        ...             yield x, -x
        >>> inputs = Pairs([1, 2]).fortest()
        >>> [next(inputs) for _ in range(3)]
        [1, 2, 1]
        """
        while True:
            for batch in self.__iter__(random):
                yield batch[0]


class ViterbiDecoder:
    """Viterbi decoding: the best label path given per-step and transition scores.

    Args:
        trans: `(num_labels, num_labels)` transition scores, `trans[i, j]`
            scoring label `i` followed by label `j`.
        starts: the labels a path may start with (default: all).
        ends: the labels a path may end with (default: all).

    Differs from bert4keras: `decode` does not modify the `nodes` it is given
    (bert4keras subtracts infinity from the forbidden start and end scores of
    the caller's array).

    Example:

    >>> trans = np.array([[0.0, -5.0], [0.0, 0.0]])
    >>> decoder = ViterbiDecoder(trans, starts=[0], ends=[1])
    >>> decoder.decode(np.array([[0.0, 1.0], [2.0, 0.0], [0.0, 3.0]])).tolist()
    [0, 0, 1]
    """

    def __init__(self, trans, starts=None, ends=None):
        self.trans = trans
        self.num_labels = len(trans)
        labels = range(self.num_labels)
        self.non_starts = [] if starts is None else [i for i in labels if i not in starts]
        self.non_ends = [] if ends is None else [i for i in labels if i not in ends]

    def decode(self, nodes):
        """The best path for `nodes`, `(seq_len, num_labels)` scores, as an int array.

        Example:

        >>> ViterbiDecoder(np.zeros((3, 3))).decode(np.eye(3)).tolist()
        [0, 1, 2]
        """
        nodes = np.array(nodes)
        if not np.issubdtype(nodes.dtype, np.floating):
            nodes = nodes.astype("float64")
        nodes[0, self.non_starts] -= np.inf
        nodes[-1, self.non_ends] -= np.inf

        labels = np.arange(self.num_labels).reshape((1, -1))
        scores = nodes[0].reshape((-1, 1))  # best score of a path ending in each label
        paths = labels  # (steps so far, num_labels): that path, one column per end label
        for step in range(1, len(nodes)):
            # totals[i, j]: the best path ending in i, then label j
            totals = scores + self.trans + nodes[step].reshape((1, -1))
            previous = totals.argmax(0)
            scores = totals.max(0).reshape((-1, 1))
            paths = np.concatenate([paths[:, previous], labels], 0)
        return paths[:, scores[:, 0].argmax()]


def softmax(x, axis=-1):
    """NumPy softmax of `x` along `axis`.

    Example:

    >>> softmax(np.array([0.0, np.log(3.0)])).round(4).tolist()
    [0.25, 0.75]
    """
    x = np.exp(x - x.max(axis=axis, keepdims=True))
    return x / x.sum(axis=axis, keepdims=True)


class AutoRegressiveDecoder:
    """A template for autoregressive decoding: beam search and random sampling.

    Subclass it and define `predict(self, inputs, output_ids, states)`,
    decorated with `AutoRegressiveDecoder.wraps(...)`: given the batch of
    `inputs` (a list of arrays, one row per candidate) and the
    `output_ids` so far, it returns the scores of the next token,
    `(candidates, vocabulary)`, and with `use_states=True` a pair
    `(scores, states)`. A Keras model's last-step outputs come from
    `self.last_token(model)`; call it with `kerastack.core.predict_arrays`
    (quick on every backend) or its `predict`.

    Args:
        start_id: the id every output starts with, or `None` for none.
        end_id: the id that ends an output.
        maxlen: the most tokens decoded.
        minlen: the fewest tokens (counting `start_id`) an output may have.

    Example:

    >>> table = np.log(np.array([[0.1, 0.6, 0.3], [0.2, 0.1, 0.7], [0.3, 0.3, 0.4]]))
    >>> class Chain(AutoRegressiveDecoder):
    ...     @AutoRegressiveDecoder.wraps(default_rtype="logits")
    ...     def predict(self, inputs, output_ids, states):
    ...         return table[output_ids[:, -1]]
    >>> Chain(start_id=0, end_id=2, maxlen=5).beam_search([[0]], topk=2).tolist()
    [0, 1, 2]
    """

    def __init__(self, start_id, end_id, maxlen, minlen=1):
        self.start_id = start_id
        self.end_id = end_id
        self.maxlen = maxlen
        self.minlen = minlen
        self.models = {}
        if start_id is None:
            self.first_output_ids = np.empty((1, 0), dtype=int)
        else:
            self.first_output_ids = np.array([[start_id]])

    @staticmethod
    def wraps(default_rtype="probas", use_states=False):
        """Decorates `predict` with temperatures, return types and states.

        The decorated `predict(inputs, output_ids, states, temperature=1,
        rtype=default_rtype)` returns `(scores, states)`: probabilities with
        `rtype="probas"`, their logarithms (plus 1e-12) with
        `rtype="logits"`. `default_rtype` says what the undecorated
        function returns: `"logits"` (softmax is applied after dividing by
        the temperature) or `"probas"` (raised to `1 / temperature` and
        normalized). With `use_states=False` it returns scores only and
        states are `None`.

        Differs from bert4keras: an unknown `rtype` raises `ValueError`
        (bert4keras asserts), and so does an unknown `default_rtype`
        (bert4keras treats it as `"probas"`).

        Example:

        >>> class Fixed(AutoRegressiveDecoder):
        ...     @AutoRegressiveDecoder.wraps(default_rtype="probas")
        ...     def predict(self, inputs, output_ids, states):
        ...         return np.array([[0.2, 0.8]])
        >>> probas, states = Fixed(0, 1, 3).predict([], None, None, temperature=0.5)
        >>> probas.round(4).tolist(), states
        ([[0.0588, 0.9412]], None)
        """
        if default_rtype not in ("probas", "logits"):
            raise ValueError(f'default_rtype must be "probas" or "logits", got {default_rtype!r}.')

        def decorator(predict):
            def new_predict(self, inputs, output_ids, states, temperature=1, rtype=default_rtype):
                if rtype not in ("probas", "logits"):
                    raise ValueError(f'rtype must be "probas" or "logits", got {rtype!r}.')
                prediction = predict(self, inputs, output_ids, states)
                scores, states = prediction if use_states else (prediction, None)
                if default_rtype == "logits":
                    scores = softmax(scores / temperature)
                elif temperature != 1:
                    scores = np.power(scores, 1.0 / temperature)
                    scores = scores / scores.sum(axis=-1, keepdims=True)
                if rtype == "logits":
                    scores = np.log(scores + 1e-12)
                return scores, states

            new_predict.__name__ = predict.__name__
            new_predict.__doc__ = predict.__doc__
            return new_predict

        return decorator

    def last_token(self, model):
        """A model with `model`'s inputs whose outputs are `model`'s at the last step.

        It is made once per model and kept in `self.models`.

        Example:

        >>> from kerastack.core import predict_arrays
        >>> ids = keras.Input((None,), dtype="int32")
        >>> model = keras.Model(ids, keras.layers.Embedding(5, 3)(ids))
        >>> last = AutoRegressiveDecoder(0, 1, 4).last_token(model)
        >>> predict_arrays(last, np.array([[1, 2, 3]])).shape
        (1, 3)
        """
        if model not in self.models:
            outputs = [keras.layers.Lambda(lambda x: x[:, -1])(output) for output in model.outputs]
            # One output comes back alone, as from a Keras 2 model.
            outputs = outputs[0] if len(outputs) == 1 else outputs
            self.models[model] = keras.Model(model.input, outputs)
        return self.models[model]

    def predict(self, inputs, output_ids, states=None):
        """The next token's scores: define it in a subclass, decorated with `wraps`.

        Example:

        >>> AutoRegressiveDecoder(0, 1, 4).predict([], np.array([[0]]))
        Traceback (most recent call last):
        ...
        NotImplementedError: ...
        """
        raise NotImplementedError(
            "Define predict(self, inputs, output_ids, states) in a subclass, "
            "decorated with AutoRegressiveDecoder.wraps(...)."
        )

    def _finished(self, output_ids, min_ends):
        is_end = output_ids[:, -1] == self.end_id
        return is_end & ((output_ids == self.end_id).sum(1) >= min_ends)

    def beam_search(self, inputs, topk, states=None, temperature=1, min_ends=1):
        """The best output by beam search with beam size `topk`, as an int array.

        Outputs end at the `min_ends`-th `end_id`. Decoding stops when the
        best beam has ended (after `minlen` tokens) or after `maxlen` steps;
        ended beams leave the search and the beam shrinks.

        Example:

        >>> class Chain(AutoRegressiveDecoder):
        ...     @AutoRegressiveDecoder.wraps(default_rtype="probas")
        ...     def predict(self, inputs, output_ids, states):
        ...         return np.array([[0.1, 0.5, 0.4], [0.1, 0.1, 0.8], [1/3, 1/3, 1/3]])[
        ...             output_ids[:, -1]]
        >>> Chain(start_id=0, end_id=2, maxlen=4).beam_search([[0]], topk=3).tolist()
        [0, 1, 2]
        """
        inputs = [np.array([i]) for i in inputs]
        output_ids, output_scores = self.first_output_ids, np.zeros(1)
        for step in range(self.maxlen):
            scores, states = self.predict(inputs, output_ids, states, temperature, "logits")
            if step == 0:  # one candidate so far: its inputs serve every beam
                inputs = [np.repeat(i, topk, axis=0) for i in inputs]
            scores = output_scores.reshape((-1, 1)) + scores  # (beams, vocabulary)
            best = scores.argpartition(-topk, axis=None)[-topk:]  # flat indices
            rows, tokens = best // scores.shape[1], best % scores.shape[1]
            output_ids = np.concatenate([output_ids[rows], tokens.reshape((-1, 1))], 1)
            output_scores = np.take_along_axis(scores, best, axis=None)
            if output_ids.shape[1] < self.minlen:
                continue
            finished = self._finished(output_ids, min_ends)
            top = output_scores.argmax()
            if finished[top]:
                return output_ids[top]
            if finished.any():  # drop the ended beams that are not the best
                keep = ~finished
                inputs = [i[keep] for i in inputs]
                output_ids, output_scores = output_ids[keep], output_scores[keep]
                topk = int(keep.sum())
        return output_ids[output_scores.argmax()]

    def random_sample(
        self, inputs, n, topk=None, topp=None, states=None, temperature=1, min_ends=1
    ):
        """`n` outputs sampled token by token, as a list of int arrays.

        Each step samples from the predicted distribution, restricted to the
        `topk` likeliest tokens and/or to the likeliest tokens whose
        probabilities first reach `topp` in total. Sampling uses NumPy's
        global random state through `np.random.choice`, one call per
        candidate and step, as bert4keras does: the same seed gives the same
        outputs. Ended outputs come first, in the order they ended; outputs
        still open after `maxlen` steps follow.

        Example:

        >>> class Chain(AutoRegressiveDecoder):
        ...     @AutoRegressiveDecoder.wraps(default_rtype="probas")
        ...     def predict(self, inputs, output_ids, states):
        ...         return np.array([[0.0, 0.5, 0.5], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])[
        ...             output_ids[:, -1]]
        >>> np.random.seed(5)
        >>> outputs = Chain(start_id=0, end_id=2, maxlen=3).random_sample([[0]], 4)
        >>> [ids.tolist() for ids in outputs]
        [[0, 2], [0, 2], [0, 1, 2], [0, 1, 2]]
        """
        inputs = [np.array([i]) for i in inputs]
        output_ids = self.first_output_ids
        results = []
        for step in range(self.maxlen):
            probas, states = self.predict(inputs, output_ids, states, temperature, "probas")
            probas = probas / probas.sum(axis=1, keepdims=True)
            if step == 0:  # one candidate so far: it becomes n
                probas = np.repeat(probas, n, axis=0)
                inputs = [np.repeat(i, n, axis=0) for i in inputs]
                output_ids = np.repeat(output_ids, n, axis=0)
            if topk is not None:
                k_indices = probas.argpartition(-topk, axis=1)[:, -topk:]
                probas = np.take_along_axis(probas, k_indices, axis=1)
                probas = probas / probas.sum(axis=1, keepdims=True)
            if topp is not None:
                p_indices = probas.argsort(axis=1)[:, ::-1]  # likeliest first
                probas = np.take_along_axis(probas, p_indices, axis=1)
                reached = np.cumsum(probas, axis=1) >= topp
                # Keep up to and including the first token that reaches topp.
                drop = np.zeros_like(reached)
                drop[:, 1:] = reached[:, :-1]
                probas[drop] = 0
                probas = probas / probas.sum(axis=1, keepdims=True)
            # The global state, one draw per candidate: bert4keras's samples.
            sample_ids = np.array([np.random.choice(len(p), p=p) for p in probas])  # noqa: NPY002
            sample_ids = sample_ids.reshape((-1, 1))
            if topp is not None:
                sample_ids = np.take_along_axis(p_indices, sample_ids, axis=1)
            if topk is not None:
                sample_ids = np.take_along_axis(k_indices, sample_ids, axis=1)
            output_ids = np.concatenate([output_ids, sample_ids], 1)
            if output_ids.shape[1] < self.minlen:
                continue
            finished = self._finished(output_ids, min_ends)
            if finished.any():
                results.extend(output_ids[finished])
                keep = ~finished
                inputs = [i[keep] for i in inputs]
                output_ids = output_ids[keep]
                if len(output_ids) == 0:
                    break
        results.extend(output_ids)
        return results


def insert_arguments(**arguments):
    """Decorates `__init__` to take extra keyword arguments, stored as attributes.

    Each of `arguments` (name=default) is taken out of the keyword arguments
    (or its default used) and set on `self` before the method runs.

    Example:

    >>> class Box:
    ...     @insert_arguments(size=3)
    ...     def __init__(self, name):
    ...         self.name = name
    >>> box = Box("a", size=5)
    >>> box.name, box.size, Box("b").size
    ('a', 5, 3)
    """

    def decorator(func):
        def new_func(self, *args, **kwargs):
            for name, default in arguments.items():
                setattr(self, name, kwargs.pop(name, default))
            return func(self, *args, **kwargs)

        return new_func

    return decorator


def delete_arguments(*arguments):
    """Decorates `__init__` to refuse the keyword `arguments` with a `TypeError`.

    Example:

    >>> class Box:
    ...     @delete_arguments("size")
    ...     def __init__(self, **kwargs):
    ...         pass
    >>> Box(size=1)
    Traceback (most recent call last):
    ...
    TypeError: Box got an unexpected keyword argument 'size'
    """

    def decorator(func):
        def new_func(self, *args, **kwargs):
            for name in arguments:
                if name in kwargs:
                    raise TypeError(
                        f"{type(self).__name__} got an unexpected keyword argument '{name}'"
                    )
            return func(self, *args, **kwargs)

        return new_func

    return decorator


def longest_common_substring(source, target):
    """The length and span `(i0, i1, j0, j1)` of a longest common slice.

    `source[i0:i1] == target[j0:j1]`; of several longest, the one ending
    first in `source` (then in `target`).

    Example:

    >>> longest_common_substring("abcde", "xbcdy")
    (3, (1, 4, 1, 4))
    """
    runs, best, span = defaultdict(int), 0, (0, 0, 0, 0)
    for i, s in enumerate(source, 1):
        for j, t in enumerate(target, 1):
            if s == t:
                runs[i, j] = runs[i - 1, j - 1] + 1
                if runs[i, j] > best:
                    best = runs[i, j]
                    span = (i - best, i, j - best, j)
    return best, span


def longest_common_subsequence(source, target):
    """The length of a longest common subsequence and its `(i, j)` index pairs.

    Example:

    >>> longest_common_subsequence("abcde", "ace")
    (3, [(0, 0), (2, 1), (4, 2)])
    """
    table = defaultdict(int)  # table[i, j]: for source[:i] and target[:j]
    for i, s in enumerate(source, 1):
        for j, t in enumerate(target, 1):
            if s == t:
                table[i, j] = table[i - 1, j - 1] + 1
            else:
                table[i, j] = max(table[i, j - 1], table[i - 1, j])
    length, mapping = table[len(source), len(target)], []
    i, j = len(source) - 1, len(target) - 1
    while len(mapping) < length:
        if source[i] == target[j]:
            mapping.append((i, j))
            i, j = i - 1, j - 1
        elif table[i + 1, j] > table[i, j + 1]:
            j -= 1
        else:
            i -= 1
    return length, mapping[::-1]


def orthogonally_resize(a, new_shape, window=2):
    """`a` resized to `new_shape` by repeating blocks of `window` and cutting.

    Each axis that grows is cut into blocks of `window` entries, each
    block repeated; every axis is then cut to its new size, and the result
    scaled to `a`'s Frobenius norm.

    Example:

    >>> orthogonally_resize(np.eye(2), (4, 4)).round(3).tolist()
    [[0.5, 0.0, 0.5, 0.0], [0.0, 0.5, 0.0, 0.5], [0.5, 0.0, 0.5, 0.0], [0.0, 0.5, 0.0, 0.5]]
    """
    if a.ndim != len(new_shape):
        raise ValueError(f"new_shape {new_shape} must have {a.ndim} entries, as a.shape {a.shape}.")
    norm, cut = np.linalg.norm(a), []
    for axis, (old, new) in enumerate(zip(a.shape, new_shape, strict=True)):
        if old != new:
            repeats = -(-new // old)  # ceil
            if repeats > 1:
                if old % window != 0:
                    raise ValueError(
                        f"Axis {axis} (size {old}) must be a multiple of window={window} to grow."
                    )
                a = a.reshape(a.shape[:axis] + (old // window, window) + a.shape[axis + 1 :])
                a = np.repeat(a, repeats, axis=axis)
                a = a.reshape(a.shape[:axis] + (old * repeats,) + a.shape[axis + 2 :])
        cut.append(slice(None, new))
    a = a[tuple(cut)]
    return a / np.linalg.norm(a) * norm
