"""Pretraining batches for BERT: masked language modelling (MLM) and
next-sentence prediction (NSP), as Google's `create_pretraining_data.py`
makes them, served by a `keras.utils.PyDataset` for `BertPretrainer.fit`."""

import glob
import math
import os

import numpy as np

from kerastack.core import check_float, check_int, keras
from kerastack.tokenizers import BertTokenizer


def mask_tokens(
    token_ids,
    rng,
    vocabulary_size,
    mask_id,
    special_ids,
    mask_rate=0.15,
    max_predictions=None,
    word_starts=None,
    mask_token_rate=0.8,
    random_token_rate=0.1,
):
    """Choose the positions of one sequence to predict and corrupt them.

    `round(mask_rate * len(token_ids))` positions (at least 1, at most
    `max_predictions`) are chosen among the non-special tokens; each is
    replaced by `[MASK]` with probability `mask_token_rate`, by a random
    non-special token with probability `random_token_rate`, and kept
    otherwise (Google BERT's 80/10/10).

    Args:
        token_ids: sequence of int, one example's ids.
        rng: a `numpy.random.Generator`.
        vocabulary_size: int; random replacements are drawn from its ids.
        mask_id: int, the id of `[MASK]`.
        special_ids: ids never chosen nor drawn (`[CLS]`, `[SEP]`, `[PAD]`...).
        mask_rate: float, the share of the sequence to predict.
        max_predictions: int or None, a cap on the number of positions.
        word_starts: None, or a bool per token, false on a piece that
            continues a word (`##...`): whole-word masking, where a word's
            pieces are chosen together (a word that would overshoot the
            count is passed over, as Google's code does).
        mask_token_rate, random_token_rate: floats in [0, 1], the 80/10/10
            split (a random token takes what `[MASK]` leaves, if less).

    Returns:
        `(corrupted_ids, positions, labels)`: an int32 array like
        `token_ids`, and the chosen positions (ascending) with their
        original ids.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> special = [0, 1, 2, 3, 4]  # [PAD] [UNK] [CLS] [SEP] [MASK]
    >>> ids = [2, 10, 11, 12, 13, 14, 15, 16, 17, 3]  # [CLS] ... [SEP]
    >>> corrupted, positions, labels = mask_tokens(ids, rng, vocabulary_size=30,
    ...     mask_id=4, special_ids=special, mask_rate=0.2)
    >>> corrupted.shape, len(positions)  # round(0.2 * 10) positions
    ((10,), 2)
    >>> bool(np.all(np.asarray(ids)[positions] == labels))
    True

    Every token chosen, every one masked, the special ones never:

    >>> corrupted, positions, labels = mask_tokens([2, 10, 11, 3], rng, 30, 4, special,
    ...     mask_rate=1.0, mask_token_rate=1.0, random_token_rate=0.0)
    >>> corrupted.tolist(), positions.tolist(), labels.tolist()
    ([2, 4, 4, 3], [1, 2], [10, 11])
    """
    mask_rate = check_float("mask_rate", mask_rate, minimum=0.0, maximum=1.0)
    max_predictions = check_int("max_predictions", max_predictions, allow_none=True)
    mask_token_rate, random_token_rate = _check_replacement_rates(
        mask_token_rate, random_token_rate
    )
    token_ids = np.asarray(token_ids, dtype="int32")
    special = np.isin(token_ids, np.asarray(list(special_ids), dtype="int32"))
    candidates = np.flatnonzero(~special)
    if word_starts is None:
        words = [[int(i)] for i in candidates]
    else:
        words = []
        for i in candidates:
            if words and not word_starts[i] and words[-1][-1] == i - 1:
                words[-1].append(int(i))
            else:
                words.append([int(i)])
    count = max(1, round(len(token_ids) * mask_rate))
    if max_predictions is not None:
        count = min(count, max_predictions)
    chosen = []
    for word in (words[i] for i in rng.permutation(len(words))):
        if len(chosen) >= count:
            break
        if len(chosen) + len(word) <= count:
            chosen.extend(word)
    positions = np.sort(np.asarray(chosen, dtype="int32"))
    labels = token_ids[positions]
    corrupted = token_ids.copy()
    draws = rng.random(len(positions))
    to_mask = draws < mask_token_rate
    to_random = (draws >= mask_token_rate) & (draws < mask_token_rate + random_token_rate)
    corrupted[positions[to_mask]] = mask_id
    if to_random.any():
        pool = np.setdiff1d(np.arange(vocabulary_size, dtype="int32"), list(special_ids))
        corrupted[positions[to_random]] = rng.choice(pool, size=int(to_random.sum()))
    return corrupted, positions, labels


def _check_replacement_rates(mask_token_rate, random_token_rate):
    mask_token_rate = check_float("mask_token_rate", mask_token_rate, minimum=0.0, maximum=1.0)
    random_token_rate = check_float(
        "random_token_rate", random_token_rate, minimum=0.0, maximum=1.0
    )
    return mask_token_rate, random_token_rate


def _checked_settings(settings):
    """The datasets' shared settings, checked (a ValueError names the
    argument and the value), as plain Python numbers."""
    checked = dict(settings)
    checked["batch_size"] = check_int("batch_size", settings["batch_size"])
    checked["sequence_length"] = check_int("sequence_length", settings["sequence_length"])
    if checked["sequence_length"] < 5:
        raise ValueError(
            f"sequence_length={checked['sequence_length']} leaves no room for two "
            "segments and [CLS] [SEP] [SEP]."
        )
    checked["mask_rate"] = check_float("mask_rate", settings["mask_rate"], minimum=0.0, maximum=1.0)
    checked["max_predictions"] = check_int("max_predictions", settings["max_predictions"])
    for name in ("random_next_rate",):
        checked[name] = check_float(name, settings[name], minimum=0.0, maximum=1.0)
    checked["mask_token_rate"], checked["random_token_rate"] = _check_replacement_rates(
        settings["mask_token_rate"], settings["random_token_rate"]
    )
    for name in ("whole_word_masking", "shuffle"):
        if not isinstance(settings[name], (bool, np.bool_)):
            raise ValueError(f"`{name}` must be a bool, received {name}={settings[name]!r}.")
        checked[name] = bool(settings[name])
    checked["seed"] = check_int("seed", settings["seed"], minimum=0)
    return checked


class BertPretrainingDataset(keras.utils.PyDataset):
    """Batches of MLM and NSP examples from documents, for `BertPretrainer`.

    Each example is a segment of a document and, as its second segment,
    the document's next segment or (with probability `random_next_rate`)
    a random segment of another document; NSP label 0 means "is next".
    The pair is cut longest-first to `sequence_length`, and masked by
    `mask_tokens`. Texts are tokenized once; each epoch shuffles the
    examples and draws new masks and random partners. The batches depend
    only on `seed`, the epoch and the batch index (not on workers).

    Args:
        documents: a list of documents, each a list of segments (str: a
            sentence, or a passage you joined).
        tokenizer: a `BertTokenizer`.
        batch_size: int.
        sequence_length: int, every batch is padded to it.
        mask_rate, max_predictions, mask_token_rate, random_token_rate: see
            `mask_tokens`; batches have `max_predictions` mask positions,
            the unused ones with weight 0.
        whole_word_masking: bool, choose whole words (Google's
            `do_whole_word_mask`).
        random_next_rate: float, the share of random second segments (0
            makes every label 0: use it to train the MLM head alone).
        shuffle: bool, shuffle the examples each epoch.
        seed: int.
        **kwargs: `keras.utils.PyDataset` arguments (`workers`, ...).

    Each batch is `(inputs, labels, sample_weights)`: `inputs` has
    `token_ids`, `segment_ids`, `padding_mask` `(B, sequence_length)` and
    `mask_positions` `(B, max_predictions)`; `labels` has `mlm_logits`
    `(B, max_predictions)` and `nsp_logits` `(B,)`; `sample_weights` has
    `mlm_logits` (1 on real predictions) and `nsp_logits` (ones).

    Example:

    >>> tokenizer = BertTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    ...     "the", "cat", "dog", "sat", "ran", "far"])
    >>> documents = [["the cat sat", "the dog ran"], ["the dog sat", "far far"]]
    >>> dataset = BertPretrainingDataset(documents, tokenizer, batch_size=2,
    ...     sequence_length=12, max_predictions=3)
    >>> len(dataset)  # two examples: each document's pair of segments
    1
    >>> inputs, labels, weights = dataset[0]
    >>> {name: value.shape for name, value in inputs.items()}
    {'token_ids': (2, 12), 'segment_ids': (2, 12), 'padding_mask': (2, 12),
     'mask_positions': (2, 3)}
    >>> labels["mlm_logits"].shape, labels["nsp_logits"].shape
    ((2, 3), (2,))
    >>> bool(np.all(inputs["token_ids"][:, 0] == tokenizer.cls_id))
    True
    """

    def __init__(
        self,
        documents,
        tokenizer,
        batch_size=32,
        sequence_length=128,
        mask_rate=0.15,
        max_predictions=20,
        whole_word_masking=False,
        random_next_rate=0.5,
        mask_token_rate=0.8,
        random_token_rate=0.1,
        shuffle=True,
        seed=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        settings = _checked_settings(locals())
        batch_size, sequence_length = settings["batch_size"], settings["sequence_length"]
        mask_rate, max_predictions = settings["mask_rate"], settings["max_predictions"]
        random_next_rate, seed = settings["random_next_rate"], settings["seed"]
        mask_token_rate = settings["mask_token_rate"]
        random_token_rate = settings["random_token_rate"]
        if isinstance(documents, (str, bytes)):
            raise ValueError(
                "`documents` is a list of documents, each a list of str; received a "
                f"{type(documents).__name__}."
            )
        documents = list(documents)
        for index, document in enumerate(documents):
            if isinstance(document, (str, bytes)) or not hasattr(document, "__iter__"):
                raise ValueError(
                    f"Document {index} is a {type(document).__name__}, not a list of str: "
                    f"{document!r:.80}. Documents are lists of segments (str)."
                )
        documents = [list(document) for document in documents]
        for index, document in enumerate(documents):
            for segment in document:
                if not isinstance(segment, str):
                    raise ValueError(
                        f"Document {index} holds a {type(segment).__name__}, not a str: "
                        f"{segment!r}. Documents are lists of str."
                    )
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.sequence_length = sequence_length
        self.mask_rate = mask_rate
        self.max_predictions = max_predictions
        self.whole_word_masking = whole_word_masking
        self.random_next_rate = random_next_rate
        self.mask_token_rate = mask_token_rate
        self.random_token_rate = random_token_rate
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        vocabulary = tokenizer.vocabulary
        self._special_ids = sorted(vocabulary[token] for token in BertTokenizer.SPECIAL_TOKENS)
        # Every segment tokenized once: (ids, word_starts) per document.
        self._segments = []
        for document in documents:
            pieces = tokenizer.tokenize_batch(document) if document else []
            self._segments.append(
                [
                    (
                        [vocabulary[piece] for piece in segment],
                        [not piece.startswith("##") for piece in segment],
                    )
                    for segment in pieces
                ]
            )
        self._examples = [
            (d, s)
            for d, segments in enumerate(self._segments)
            for s in range(len(segments) - 1)
            if segments[s][0] and segments[s + 1][0]
        ]
        if not self._examples:
            raise ValueError(
                "No document has two consecutive non-empty segments: there is no example to make."
            )
        if random_next_rate > 0 and sum(1 for s in self._segments if s) < 2:
            raise ValueError(
                "Random next segments come from other documents, but there is only "
                "one non-empty document; pass more, or random_next_rate=0."
            )
        self._order = self._epoch_order()

    def __len__(self):
        return math.ceil(len(self._examples) / self.batch_size)

    def _epoch_order(self):
        if not self.shuffle:
            return np.arange(len(self._examples))
        return np.random.default_rng([self.seed, self.epoch]).permutation(len(self._examples))

    def on_epoch_end(self):
        self.epoch += 1
        self._order = self._epoch_order()

    def _random_segment(self, rng, avoid):
        while True:
            document = int(rng.integers(len(self._segments)))
            if document != avoid and self._segments[document]:
                segments = self._segments[document]
                return segments[int(rng.integers(len(segments)))]

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"Batch {index} of a dataset of {len(self)} batches.")
        rng = np.random.default_rng([self.seed, self.epoch, index])
        rows = self._order[index * self.batch_size : (index + 1) * self.batch_size]

        def pairs():  # drawn one row at a time, between that row's masks
            for example in rows:
                document, segment = self._examples[example]
                first = self._segments[document][segment]
                if rng.random() < self.random_next_rate:
                    yield first, self._random_segment(rng, document), 1
                else:
                    yield first, self._segments[document][segment + 1], 0

        return masked_batch(self, len(rows), pairs(), rng)


class BertPretrainingFileDataset(keras.utils.PyDataset):
    """MLM and NSP batches for `BertPretrainer`, read lazily from sharded
    text files: for pretraining on corpora larger than memory, one process
    or many.

    The files are in the format of Google's `create_pretraining_data.py`:
    one sentence (or passage) per line, a blank line between documents,
    UTF-8. They are sorted by path and dealt to the processes in turn
    (`files[process_index::process_count]`); a process opens only its own.
    Building the dataset reads those files once, line by line, to note
    where each document starts and ends (24 bytes per document, the text is
    not kept); a batch then reads and tokenizes only the lines it uses.

    Examples are made as Google makes them: an example starts at a point of
    a document (one per `example_bytes` of it, at a line start) and takes
    its sentences until they fill `sequence_length - 3` tokens; a random
    number of the first ones are segment A, the rest segment B (NSP label
    0), or, with probability `random_next_rate` or when only one sentence
    was taken, B is sentences from a random point of another document of
    this shard (label 1). The pair is cut longest-first and masked by
    `mask_tokens`. Batches are a function of (`seed`, epoch, batch index,
    `process_index`) only, so any number of `workers` (threads or
    processes: the dataset pickles) make the same batch for an index.
    (Keras's `fit` reads the first batch, then ends an epoch before
    training: training starts at the second epoch, and `workers` may first
    serve batches they fetched before that.)

    Args:
        files: a path, a glob pattern (`"corpus/part-*.txt"`), or a list of
            them.
        tokenizer: a `BertTokenizer`.
        batch_size: int, this process's batch: with `keras.distribution`
            on several processes, the global batch / the number of
            processes.
        sequence_length, mask_rate, max_predictions, whole_word_masking,
        random_next_rate, mask_token_rate, random_token_rate, shuffle, seed:
            as in `BertPretrainingDataset`.
        example_bytes: int, bytes of a document per example; about the
            text `sequence_length` tokens take (4 bytes per token in
            English) when None.
        num_batches: int, the batches of an epoch, each full (the examples
            are taken again from the start of the epoch's order when they
            run out); the examples / `batch_size`, the last batch short,
            when None. Give every process the same number: processes
            training together must take the same steps, and the devices of
            each need whole batches.
        process_index, process_count: ints, the shard this process reads.
            When None, taken from the distribution Keras runs
            (`keras.distribution.distribution()`: its data shard, one per
            process or per model replica), else 0 and 1.
        **kwargs: `keras.utils.PyDataset` arguments (`workers`,
            `use_multiprocessing`, `max_queue_size`).

    Each batch is `(inputs, labels, sample_weights)` as in
    `BertPretrainingDataset`.

    Example:

    >>> import os, tempfile
    >>> tokenizer = BertTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    ...     "the", "cat", "dog", "sat", "ran", "far"])
    >>> folder = tempfile.TemporaryDirectory()
    >>> for index, text in enumerate(["the cat sat\\nthe dog ran\\n\\nthe dog sat\\nfar far\\n",
    ...                               "far far\\nthe cat ran\\n"]):
    ...     with open(os.path.join(folder.name, f"part-{index}.txt"), "w") as file:
    ...         _ = file.write(text)
    >>> dataset = BertPretrainingFileDataset(os.path.join(folder.name, "part-*.txt"),
    ...     tokenizer, batch_size=2, sequence_length=12, max_predictions=3)
    >>> len(dataset.files), len(dataset)  # three documents, one example each
    (2, 2)
    >>> inputs, labels, weights = dataset[0]
    >>> inputs["token_ids"].shape, inputs["mask_positions"].shape, labels["nsp_logits"].shape
    ((2, 12), (2, 3), (2,))
    >>> folder.cleanup()
    """

    def __init__(
        self,
        files,
        tokenizer,
        batch_size=32,
        sequence_length=128,
        mask_rate=0.15,
        max_predictions=20,
        whole_word_masking=False,
        random_next_rate=0.5,
        mask_token_rate=0.8,
        random_token_rate=0.1,
        shuffle=True,
        seed=0,
        example_bytes=None,
        num_batches=None,
        process_index=None,
        process_count=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        settings = _checked_settings(locals())
        batch_size, sequence_length = settings["batch_size"], settings["sequence_length"]
        mask_rate, max_predictions = settings["mask_rate"], settings["max_predictions"]
        random_next_rate, seed = settings["random_next_rate"], settings["seed"]
        mask_token_rate = settings["mask_token_rate"]
        random_token_rate = settings["random_token_rate"]
        if example_bytes is None:
            example_bytes = 4 * sequence_length
        example_bytes = check_int("example_bytes", example_bytes)
        num_batches = check_int("num_batches", num_batches, allow_none=True)
        process_index = check_int("process_index", process_index, minimum=0, allow_none=True)
        process_count = check_int("process_count", process_count, allow_none=True)
        if (process_index is None) != (process_count is None):
            raise ValueError(
                "Pass process_index and process_count together, received "
                f"process_index={process_index}, process_count={process_count}."
            )
        if process_index is None:
            process_index, process_count = _data_shard()
        if not 0 <= process_index < process_count:
            raise ValueError(
                f"process_index={process_index} is not in 0..{process_count - 1} "
                f"(process_count={process_count})."
            )
        paths = _expand(files)
        if len(paths) < process_count:
            raise ValueError(
                f"{len(paths)} file(s) for {process_count} processes: each process reads "
                "files of its own; split the corpus into at least as many files."
            )
        self.files = paths[process_index::process_count]
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.sequence_length = sequence_length
        self.mask_rate = mask_rate
        self.max_predictions = max_predictions
        self.whole_word_masking = whole_word_masking
        self.random_next_rate = random_next_rate
        self.mask_token_rate = mask_token_rate
        self.random_token_rate = random_token_rate
        self.shuffle = shuffle
        self.seed = seed
        self.example_bytes = example_bytes
        self.num_batches_per_epoch = num_batches
        self.process_index = process_index
        self.process_count = process_count
        self.epoch = 0
        vocabulary = tokenizer.vocabulary
        self._special_ids = sorted(vocabulary[token] for token in BertTokenizer.SPECIAL_TOKENS)
        # Documents as byte ranges: file, start, end (the text is not kept).
        self._file, self._start, self._end = _index_documents(self.files)
        if len(self._start) == 0:
            raise ValueError(f"The files of this process hold no text: {self.files}.")
        if random_next_rate > 0 and len(self._start) < 2:
            raise ValueError(
                "Random next segments come from other documents, but this process's "
                f"files hold one document ({self.files}); pass more, or random_next_rate=0."
            )
        chunks = np.maximum(1, -(-(self._end - self._start) // example_bytes))
        self._first_example = np.concatenate([[0], np.cumsum(chunks)])  # per document
        self._order = self._epoch_order()

    def __len__(self):
        if self.num_batches_per_epoch is not None:
            return self.num_batches_per_epoch
        return math.ceil(int(self._first_example[-1]) / self.batch_size)

    def _epoch_order(self):
        count = int(self._first_example[-1])
        if not self.shuffle:
            return np.arange(count)
        rng = np.random.default_rng([self.seed, self.epoch, self.process_index])
        return rng.permutation(count)

    def on_epoch_end(self):
        self.epoch += 1
        self._order = self._epoch_order()

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"Batch {index} of a dataset of {len(self)} batches.")
        rng = np.random.default_rng([self.seed, self.epoch, index, self.process_index])
        rows = np.arange(index * self.batch_size, (index + 1) * self.batch_size)
        if self.num_batches_per_epoch is None:
            rows = rows[rows < len(self._order)]
        rows = self._order[rows % len(self._order)]
        budget = self.sequence_length - 3

        def pairs():
            for example in rows:
                document = int(np.searchsorted(self._first_example, example, side="right")) - 1
                chunk = int(example - self._first_example[document])
                start = self._start[document] + chunk * self.example_bytes
                sentences = self._read(document, start, budget)
                cut = int(rng.integers(1, len(sentences))) if len(sentences) > 1 else 1
                first = _join(sentences[:cut])
                if len(sentences) == 1 or rng.random() < self.random_next_rate:
                    other = int(rng.integers(len(self._start) - 1))
                    other += other >= document  # any document but this one
                    point = int(rng.integers(self._start[other], self._end[other]))
                    second = _join(self._read(other, point, budget - len(first[0])))
                    yield first, second, 1
                else:
                    yield first, _join(sentences[cut:]), 0

        return masked_batch(self, len(rows), pairs(), rng)

    def _read(self, document, start, budget):
        """The tokenized sentences of `document` from the first line that
        starts at or after byte `start` (its first line when none does),
        until they hold `budget` tokens or the document ends: a list of
        `(ids, word_starts)`, at least one."""
        path = self.files[self._file[document]]
        doc_start, doc_end = int(self._start[document]), int(self._end[document])
        vocabulary = self.tokenizer.vocabulary
        sentences, count = [], 0
        with open(path, "rb") as f:
            position = int(start)
            if position > doc_start:  # move to the next line start
                f.seek(position - 1)
                position += len(f.readline()) - 1
            if position >= doc_end:
                position = doc_start
            f.seek(position)
            while position < doc_end and (count < budget or not sentences):
                raw = f.readline()
                position += len(raw)
                try:
                    line = raw.decode("utf-8").strip()
                except UnicodeDecodeError as error:
                    raise ValueError(
                        f"{path}: the line at byte {position - len(raw)} is not UTF-8 ({error})."
                    ) from None
                pieces = self.tokenizer.tokenize(line) if line else []
                if pieces:
                    ids = [vocabulary[piece] for piece in pieces]
                    sentences.append((ids, [not piece.startswith("##") for piece in pieces]))
                    count += len(ids)
        if not sentences:  # a document of lines that tokenize to nothing
            sentences.append(([], []))
        return sentences


def _join(sentences):
    return (
        [i for ids, _ in sentences for i in ids],
        [w for _, starts in sentences for w in starts],
    )


def _expand(files):
    """Sorted paths from a path, a glob pattern or a list of them."""
    if isinstance(files, (str, os.PathLike)):
        files = [files]
    paths = []
    for entry in files:
        entry = os.fspath(entry)
        matches = sorted(glob.glob(entry)) if glob.has_magic(entry) else [entry]
        if not matches:
            raise FileNotFoundError(f"No file matches {entry!r}.")
        for path in matches:
            if not os.path.isfile(path):
                raise FileNotFoundError(f"No such file: {path!r}.")
        paths.extend(matches)
    if not paths:
        raise ValueError("No files given.")
    return sorted(set(paths))


def _index_documents(paths):
    """`(file, start, end)` int64 arrays: the byte range of each document
    (lines between blank lines) of each file, read line by line."""
    files, starts, ends = [], [], []
    for number, path in enumerate(paths):
        with open(path, "rb") as f:
            position, start = 0, None
            for raw in f:
                if raw.strip():
                    if start is None:
                        start = position
                    end = position + len(raw)
                elif start is not None:
                    files.append(number), starts.append(start), ends.append(end)
                    start = None
                position += len(raw)
            if start is not None:
                files.append(number), starts.append(start), ends.append(end)
    return tuple(np.asarray(values, dtype="int64") for values in (files, starts, ends))


def _data_shard():
    """`(index, count)` of this process's data shard under the distribution
    Keras runs (`keras.distribution`), or `(0, 1)`."""
    distribution = getattr(keras, "distribution", None)
    distribution = distribution.distribution() if distribution is not None else None
    if distribution is None:
        return 0, 1
    count = min(distribution.num_processes, distribution.num_model_replicas)
    return distribution.data_shard_id, count


def masked_batch(dataset, size, pairs, rng):
    """One `(inputs, labels, sample_weights)` batch of `size` `pairs`, each
    `(first, second, nsp_label)` with segments as `(ids, word_starts)`:
    cut longest-first to fit, framed `[CLS] A [SEP] B [SEP]`, masked by
    `mask_tokens` with the dataset's settings, padded to its length."""
    tokenizer = dataset.tokenizer
    length, predictions = dataset.sequence_length, dataset.max_predictions
    token_ids = np.full((size, length), tokenizer.pad_id, dtype="int32")
    segment_ids = np.zeros((size, length), dtype="int32")
    padding_mask = np.zeros((size, length), dtype="int32")
    mask_positions = np.zeros((size, predictions), dtype="int32")
    mask_labels = np.zeros((size, predictions), dtype="int32")
    mask_weights = np.zeros((size, predictions), dtype="float32")
    nsp_labels = np.zeros((size,), dtype="int32")
    for row, (first, second, nsp_label) in enumerate(pairs):
        (a, a_starts), (b, b_starts) = _truncate_pair(first, second, length - 3)
        cls, sep = tokenizer.cls_id, tokenizer.sep_id
        ids = [cls, *a, sep, *b, sep]
        starts = [True, *a_starts, True, *b_starts, True]
        corrupted, positions, labels = mask_tokens(
            ids,
            rng,
            tokenizer.vocabulary_size,
            tokenizer.mask_id,
            dataset._special_ids,
            mask_rate=dataset.mask_rate,
            max_predictions=predictions,
            word_starts=starts if dataset.whole_word_masking else None,
            mask_token_rate=dataset.mask_token_rate,
            random_token_rate=dataset.random_token_rate,
        )
        token_ids[row, : len(ids)] = corrupted
        segment_ids[row, len(a) + 2 : len(ids)] = 1
        padding_mask[row, : len(ids)] = 1
        mask_positions[row, : len(positions)] = positions
        mask_labels[row, : len(positions)] = labels
        mask_weights[row, : len(positions)] = 1.0
        nsp_labels[row] = nsp_label
    inputs = {
        "token_ids": token_ids,
        "segment_ids": segment_ids,
        "padding_mask": padding_mask,
        "mask_positions": mask_positions,
    }
    labels = {"mlm_logits": mask_labels, "nsp_logits": nsp_labels}
    weights = {"mlm_logits": mask_weights, "nsp_logits": np.ones((size,), "float32")}
    return inputs, labels, weights


def _truncate_pair(first, second, budget):
    """Cut the longer of two `(ids, word_starts)` segments one piece at a
    time, from its end, until both fit in `budget` pieces (Google's rule
    cuts from either end at random; the end alone keeps words whole at the
    front)."""
    a, a_starts = list(first[0]), list(first[1])
    b, b_starts = list(second[0]), list(second[1])
    while len(a) + len(b) > budget:
        if len(a) > len(b):
            a.pop(), a_starts.pop()
        else:
            b.pop(), b_starts.pop()
    return (a, a_starts), (b, b_starts)
