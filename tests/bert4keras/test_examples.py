"""Scripts written the way bert4keras's examples are (its API only, imported
from kerastack.bert4keras), on tiny generated data and the tiny Google BERT
checkpoint, trained on every Keras 3 lane.

They are kerastack's own scripts, in the style of bert4keras's examples
(`task_sentiment_albert.py`, `task_seq2seq_autotitle.py`), not copies: each
uses the names such a script uses and must reach a stated accuracy."""

import os

import numpy as np

from tests.conformance import make_bert4keras_models as references

FOLDER = references.FOLDER
WORDS = ["all", "work", "and", "no", "makes", "jack", "a", "dull", "boy", "from", "the", "day"]


def _sentences(count, seed):
    """Sentences of 4 to 8 words; half hold "play" (the positive label)."""
    rng = np.random.default_rng(seed)
    data = []
    for index in range(count):
        words = list(rng.choice(WORDS, size=rng.integers(4, 9)))
        label = index % 2
        if label:
            words.insert(int(rng.integers(0, len(words) + 1)), "play")
        data.append((" ".join(words), label))
    return data


def test_sentiment_classifier_script():
    from kerastack.bert4keras.backend import keras
    from kerastack.bert4keras.models import build_transformer_model
    from kerastack.bert4keras.snippets import DataGenerator, sequence_padding
    from kerastack.bert4keras.tokenizers import Tokenizer

    maxlen, batch_size = 16, 16
    config_path = os.path.join(FOLDER, "bert_config.json")
    checkpoint_path = os.path.join(FOLDER, "bert_model.ckpt")
    dict_path = os.path.join(FOLDER, "vocab.txt")
    tokenizer = Tokenizer(dict_path, do_lower_case=True)

    class data_generator(DataGenerator):  # noqa: N801 (bert4keras's examples' name)
        def __iter__(self, random=False):
            batch_token_ids, batch_segment_ids, batch_labels = [], [], []
            for is_end, (text, label) in self.sample(random):
                token_ids, segment_ids = tokenizer.encode(text, maxlen=maxlen)
                batch_token_ids.append(token_ids)
                batch_segment_ids.append(segment_ids)
                batch_labels.append([label])
                if len(batch_token_ids) == self.batch_size or is_end:
                    batch_token_ids = sequence_padding(batch_token_ids)
                    batch_segment_ids = sequence_padding(batch_segment_ids)
                    batch_labels = sequence_padding(batch_labels)
                    yield [batch_token_ids, batch_segment_ids], batch_labels
                    batch_token_ids, batch_segment_ids, batch_labels = [], [], []

    bert = build_transformer_model(
        config_path=config_path,
        checkpoint_path=checkpoint_path,
        with_pool=True,
        return_keras_model=False,
    )
    output = keras.layers.Dropout(rate=0.1)(bert.model.output)
    output = keras.layers.Dense(units=2, activation="softmax")(output)
    model = keras.models.Model(bert.model.input, output)
    model.compile(
        loss="sparse_categorical_crossentropy",
        optimizer=keras.optimizers.Adam(3e-3),
        metrics=["accuracy"],
    )

    keras.utils.set_random_seed(0)
    train_generator = data_generator(_sentences(160, seed=1), batch_size)
    valid_generator = data_generator(_sentences(64, seed=2), batch_size)
    model.fit(train_generator.forfit(), steps_per_epoch=len(train_generator), epochs=4, verbose=0)

    total, right = 0.0, 0.0
    for x_true, y_true in valid_generator:
        y_pred = model.predict(x_true, verbose=0).argmax(axis=1)
        y_true = y_true[:, 0]
        total += len(y_true)
        right += (y_true == y_pred).sum()
    assert right / total >= 0.95, right / total


def _titles(count, seed):
    """(content, title) pairs: 4 to 6 words, and their first two as the title."""
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(count):
        words = list(rng.choice(WORDS, size=rng.integers(4, 7)))
        pairs.append((" ".join(words), " ".join(words[:2])))
    return pairs


def test_unilm_autotitle_script():
    from kerastack.bert4keras.backend import K, keras
    from kerastack.bert4keras.layers import Loss
    from kerastack.bert4keras.models import build_transformer_model
    from kerastack.bert4keras.snippets import (
        AutoRegressiveDecoder,
        DataGenerator,
        sequence_padding,
    )
    from kerastack.bert4keras.tokenizers import Tokenizer

    maxlen, batch_size = 24, 16
    config_path = os.path.join(FOLDER, "bert_config.json")
    checkpoint_path = os.path.join(FOLDER, "bert_model.ckpt")
    tokenizer = Tokenizer(os.path.join(FOLDER, "vocab.txt"), do_lower_case=True)

    class data_generator(DataGenerator):  # noqa: N801 (bert4keras's examples' name)
        def __iter__(self, random=False):
            batch_token_ids, batch_segment_ids = [], []
            for is_end, (content, title) in self.sample(random):
                token_ids, segment_ids = tokenizer.encode(content, title, maxlen=maxlen)
                batch_token_ids.append(token_ids)
                batch_segment_ids.append(segment_ids)
                if len(batch_token_ids) == self.batch_size or is_end:
                    batch_token_ids = sequence_padding(batch_token_ids)
                    batch_segment_ids = sequence_padding(batch_segment_ids)
                    yield [batch_token_ids, batch_segment_ids], None
                    batch_token_ids, batch_segment_ids = [], []

    class CrossEntropy(Loss):
        """Cross-entropy of the title's tokens only (segment 1), each
        predicted from the position before it."""

        def compute_loss(self, inputs, mask=None):
            y_true, y_mask, y_pred = inputs
            y_true = y_true[:, 1:]
            y_mask = y_mask[:, 1:]
            y_pred = y_pred[:, :-1]
            loss = K.sparse_categorical_crossentropy(y_true, y_pred)
            return K.sum(loss * y_mask) / K.sum(y_mask)

    keras.utils.set_random_seed(0)
    model = build_transformer_model(config_path, checkpoint_path, application="unilm")
    output = CrossEntropy(2)(model.inputs + model.outputs)
    model = keras.models.Model(model.inputs, output)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))

    class AutoTitle(AutoRegressiveDecoder):
        @AutoRegressiveDecoder.wraps(default_rtype="probas")
        def predict(self, inputs, output_ids, states):
            token_ids, segment_ids = inputs
            token_ids = np.concatenate([token_ids, output_ids], 1)
            segment_ids = np.concatenate([segment_ids, np.ones_like(output_ids)], 1)
            return self.last_token(model).predict([token_ids, segment_ids], verbose=0)

        def generate(self, text, topk=1):
            token_ids, segment_ids = tokenizer.encode(text, maxlen=maxlen - self.maxlen)
            output_ids = self.beam_search([token_ids, segment_ids], topk=topk)
            return tokenizer.decode(output_ids)

    autotitle = AutoTitle(start_id=None, end_id=tokenizer._token_end_id, maxlen=6)
    train_generator = data_generator(_titles(400, seed=1), batch_size)
    model.fit(train_generator.forfit(), steps_per_epoch=1200, epochs=1, verbose=0)

    held_out = _titles(20, seed=2)
    right = sum(autotitle.generate(content, topk=2) == title for content, title in held_out)
    assert right / len(held_out) >= 0.95, [autotitle.generate(c) for c, _ in held_out]


def _tagged(count, seed):
    """Sentences and their word tags: 1 for the names ("jack", "boy"), else 0."""
    rng = np.random.default_rng(seed)
    names = ["jack", "boy"]
    data = []
    for _ in range(count):
        words = list(rng.choice(WORDS, size=rng.integers(4, 9)))
        data.append((words, [int(word in names) for word in words]))
    return data


def test_crf_tagger_script():
    from kerastack.bert4keras.backend import K, keras
    from kerastack.bert4keras.layers import ConditionalRandomField
    from kerastack.bert4keras.models import build_transformer_model
    from kerastack.bert4keras.snippets import (
        DataGenerator,
        ViterbiDecoder,
        sequence_padding,
        to_array,
    )
    from kerastack.bert4keras.tokenizers import Tokenizer

    batch_size, num_labels, maxlen = 16, 2, 12
    config_path = os.path.join(FOLDER, "bert_config.json")
    checkpoint_path = os.path.join(FOLDER, "bert_model.ckpt")
    tokenizer = Tokenizer(os.path.join(FOLDER, "vocab.txt"), do_lower_case=True)

    class data_generator(DataGenerator):  # noqa: N801 (bert4keras's examples' name)
        def __iter__(self, random=False):
            batch_token_ids, batch_segment_ids, batch_labels = [], [], []
            for is_end, (words, tags) in self.sample(random):
                token_ids = [tokenizer._token_start_id]
                token_ids += tokenizer.tokens_to_ids(words) + [tokenizer._token_end_id]
                batch_token_ids.append(token_ids)
                batch_segment_ids.append([0] * len(token_ids))
                batch_labels.append([0] + tags + [0])
                if len(batch_token_ids) == self.batch_size or is_end:
                    # One length for every batch: on TensorFlow, Keras 3's
                    # fit fixes a length the first two batches agree on.
                    batch_token_ids = sequence_padding(batch_token_ids, maxlen)
                    batch_segment_ids = sequence_padding(batch_segment_ids, maxlen)
                    batch_labels = sequence_padding(batch_labels, maxlen)
                    yield [batch_token_ids, batch_segment_ids], batch_labels
                    batch_token_ids, batch_segment_ids, batch_labels = [], [], []

    keras.utils.set_random_seed(0)
    model = build_transformer_model(config_path, checkpoint_path)
    output = keras.layers.Dense(num_labels)(model.output)
    CRF = ConditionalRandomField(lr_multiplier=100)  # noqa: N806 (the examples' name)
    output = CRF(output)
    model = keras.models.Model(model.input, output)
    model.compile(
        loss=CRF.sparse_loss,
        optimizer=keras.optimizers.Adam(2e-3),
        metrics=[CRF.sparse_accuracy],
    )
    train_generator = data_generator(_tagged(160, seed=1), batch_size)
    model.fit(train_generator.forfit(), steps_per_epoch=len(train_generator), epochs=4, verbose=0)

    class NamedEntityRecognizer(ViterbiDecoder):
        def recognize(self, words):
            token_ids = [tokenizer._token_start_id]
            token_ids += tokenizer.tokens_to_ids(words) + [tokenizer._token_end_id]
            token_ids, segment_ids = to_array([token_ids], [[0] * len(token_ids)])
            nodes = model.predict([token_ids, segment_ids], verbose=0)[0]
            return self.decode(nodes)[1:-1].tolist()

    ner = NamedEntityRecognizer(trans=K.eval(CRF.trans), starts=[0], ends=[0])
    held_out = _tagged(20, seed=2)
    right = sum(ner.recognize(words) == tags for words, tags in held_out)
    assert right / len(held_out) >= 0.95, right / len(held_out)


def _synonyms(count, seed):
    """(text, synonym) pairs: 3 to 6 distinct words, and the same words in
    another order (what a sentence is about, said differently)."""
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(count):
        words = list(rng.choice(WORDS, size=rng.integers(3, 7), replace=False))
        pairs.append((" ".join(words), " ".join(rng.permutation(words))))
    return pairs


def test_simbert_similarity_script():
    import warnings

    from kerastack.bert4keras.backend import K, keras
    from kerastack.bert4keras.layers import Loss
    from kerastack.bert4keras.models import build_transformer_model
    from kerastack.bert4keras.snippets import DataGenerator, sequence_padding
    from kerastack.bert4keras.tokenizers import Tokenizer

    maxlen, batch_size = 8, 16  # 16 rows: 8 pairs, each both ways
    config_path = os.path.join(FOLDER, "bert_config.json")
    checkpoint_path = os.path.join(FOLDER, "bert_model.ckpt")
    tokenizer = Tokenizer(os.path.join(FOLDER, "vocab.txt"), do_lower_case=True)

    class data_generator(DataGenerator):  # noqa: N801 (bert4keras's examples' name)
        """Each pair twice, text then synonym and synonym then text: rows
        2i and 2i + 1 are each other's positives."""

        def __iter__(self, random=False):
            batch_token_ids, batch_segment_ids = [], []
            for is_end, (text, synonym) in self.sample(random):
                for first, second in ((text, synonym), (synonym, text)):
                    token_ids, segment_ids = tokenizer.encode(first, second, maxlen=maxlen * 2)
                    batch_token_ids.append(token_ids)
                    batch_segment_ids.append(segment_ids)
                if len(batch_token_ids) == self.batch_size or is_end:
                    batch_token_ids = sequence_padding(batch_token_ids, maxlen * 2)
                    batch_segment_ids = sequence_padding(batch_segment_ids, maxlen * 2)
                    yield [batch_token_ids, batch_segment_ids], None
                    batch_token_ids, batch_segment_ids = [], []

    class TotalLoss(Loss):
        """UniLM's generation loss and the in-batch similarity loss."""

        def compute_loss(self, inputs, mask=None):
            loss1 = self.compute_loss_of_seq2seq(inputs, mask)
            loss2 = self.compute_loss_of_similarity(inputs, mask)
            self.add_metric(loss1, name="seq2seq_loss")
            self.add_metric(loss2, name="similarity_loss")
            return loss1 + loss2

        def compute_loss_of_seq2seq(self, inputs, mask=None):
            y_true, y_mask, _, y_pred = inputs
            y_true = y_true[:, 1:]
            y_mask = y_mask[:, 1:]
            y_pred = y_pred[:, :-1]
            loss = K.sparse_categorical_crossentropy(y_true, y_pred)
            return K.sum(loss * y_mask) / K.sum(y_mask)

        def compute_loss_of_similarity(self, inputs, mask=None):
            _, _, y_pred, _ = inputs
            y_true = self.get_labels_of_similarity(y_pred)
            y_pred = K.l2_normalize(y_pred, axis=1)
            similarities = K.dot(y_pred, K.transpose(y_pred))
            similarities = similarities - K.eye(K.shape(y_pred)[0]) * 1e12
            similarities = similarities * 30
            loss = K.categorical_crossentropy(y_true, similarities, from_logits=True)
            return K.mean(loss)

        def get_labels_of_similarity(self, y_pred):
            idxs = K.arange(0, K.shape(y_pred)[0])
            idxs_1 = idxs[None, :]
            idxs_2 = (idxs + 1 - idxs % 2 * 2)[:, None]
            labels = K.equal(idxs_1, idxs_2)
            return K.cast(labels, K.floatx())

    keras.utils.set_random_seed(0)
    bert = build_transformer_model(
        config_path,
        checkpoint_path,
        with_pool="linear",
        application="unilm",
        return_keras_model=False,
        # The tiny checkpoint's [CLS] vectors start almost equal (cosine
        # 0.99999); dropout's noise would swamp what tells them apart.
        dropout_rate=0.0,
        attention_dropout_rate=0.0,
    )
    encoder = keras.models.Model(bert.model.inputs, bert.model.outputs[0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outputs = TotalLoss([2, 3])(bert.model.inputs + bert.model.outputs)
    assert any("add_metric" in str(warning.message) for warning in caught)
    model = keras.models.Model(bert.model.inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    train_generator = data_generator(_synonyms(512, seed=1), batch_size)
    model.fit(train_generator.forfit(), steps_per_epoch=len(train_generator) * 5, verbose=0)

    # Retrieval: each held-out text's nearest neighbour among the held-out
    # synonyms, by the cosine of their encodings, is its own synonym.
    held_out = _synonyms(40, seed=2)

    def encode(texts):
        token_ids = sequence_padding([tokenizer.encode(text)[0] for text in texts])
        vectors = encoder.predict([token_ids, np.zeros_like(token_ids)], verbose=0)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    similarities = encode([t for t, _ in held_out]) @ encode([s for _, s in held_out]).T
    right = (similarities.argmax(axis=1) == np.arange(len(held_out))).mean()
    assert right >= 0.95, right
