"""Pretraining batches for BERT: masked language modelling (MLM) and
next-sentence prediction (NSP), as Google's `create_pretraining_data.py`
makes them, served by a `keras.utils.PyDataset` for `BertPretrainer.fit`."""

import math

import numpy as np

from kerastack.bert.tokenizer import SPECIAL_TOKENS
from kerastack.core import keras


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
        mask_token_rate, random_token_rate: floats, the 80/10/10 split.

    Returns:
        `(corrupted_ids, positions, labels)`: an int32 array like
        `token_ids`, and the chosen positions (ascending) with their
        original ids.
    """
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
        if sequence_length < 5:
            raise ValueError(
                f"sequence_length={sequence_length} leaves no room for two segments "
                "and [CLS] [SEP] [SEP]."
            )
        if not 0.0 <= random_next_rate <= 1.0:
            raise ValueError(f"random_next_rate must be in [0, 1], received {random_next_rate}.")
        documents = [list(document) for document in documents]
        for index, document in enumerate(documents):
            for segment in document:
                if not isinstance(segment, str):
                    raise TypeError(
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
        self._special_ids = sorted(vocabulary[token] for token in SPECIAL_TOKENS)
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
        size, length, predictions = len(rows), self.sequence_length, self.max_predictions
        token_ids = np.full((size, length), self.tokenizer.pad_id, dtype="int32")
        segment_ids = np.zeros((size, length), dtype="int32")
        padding_mask = np.zeros((size, length), dtype="int32")
        mask_positions = np.zeros((size, predictions), dtype="int32")
        mask_labels = np.zeros((size, predictions), dtype="int32")
        mask_weights = np.zeros((size, predictions), dtype="float32")
        nsp_labels = np.zeros((size,), dtype="int32")
        for row, example in enumerate(rows):
            document, segment = self._examples[example]
            first = self._segments[document][segment]
            if rng.random() < self.random_next_rate:
                second, nsp_labels[row] = self._random_segment(rng, document), 1
            else:
                second = self._segments[document][segment + 1]
            (a, a_starts), (b, b_starts) = _truncate_pair(first, second, length - 3)
            cls, sep = self.tokenizer.cls_id, self.tokenizer.sep_id
            ids = [cls, *a, sep, *b, sep]
            starts = [True, *a_starts, True, *b_starts, True]
            corrupted, positions, labels = mask_tokens(
                ids,
                rng,
                self.tokenizer.vocabulary_size,
                self.tokenizer.mask_id,
                self._special_ids,
                mask_rate=self.mask_rate,
                max_predictions=predictions,
                word_starts=starts if self.whole_word_masking else None,
                mask_token_rate=self.mask_token_rate,
                random_token_rate=self.random_token_rate,
            )
            token_ids[row, : len(ids)] = corrupted
            segment_ids[row, len(a) + 2 : len(ids)] = 1
            padding_mask[row, : len(ids)] = 1
            mask_positions[row, : len(positions)] = positions
            mask_labels[row, : len(positions)] = labels
            mask_weights[row, : len(positions)] = 1.0
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
