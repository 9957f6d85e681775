"""keras-bert's Tokenizer: the keras-bert README's examples give its printed results."""

import numpy as np
import pytest

from kerastack.bert.compat import Tokenizer

# The keras-bert README's token_dict.
TOKEN_DICT = {"[CLS]": 0, "[SEP]": 1, "un": 2, "##aff": 3, "##able": 4, "[UNK]": 5}


def test_readme_tokenize_and_encode():
    tokenizer = Tokenizer(TOKEN_DICT)
    assert tokenizer.tokenize("unaffable") == ["[CLS]", "un", "##aff", "##able", "[SEP]"]
    indices, segments = tokenizer.encode("unaffable")
    assert indices == [0, 2, 3, 4, 1]
    assert segments == [0, 0, 0, 0, 0]
    assert tokenizer.tokenize(first="unaffable", second="钢") == [
        "[CLS]", "un", "##aff", "##able", "[SEP]", "钢", "[SEP]",
    ]  # fmt: skip
    indices, segments = tokenizer.encode(first="unaffable", second="钢", max_len=10)
    assert indices == [0, 2, 3, 4, 1, 5, 1, 0, 0, 0]
    assert segments == [0, 0, 0, 0, 0, 1, 1, 0, 0, 0]


def test_truncation_longest_first_and_rematch():
    tokenizer = Tokenizer(TOKEN_DICT)
    indices, segments = tokenizer.encode("unaffable unaffable", "unaffable", max_len=8)
    # 5 = 8 - 3 pieces fit: the longer text loses a piece, the second on a tie.
    assert indices == [0, 2, 3, 4, 1, 2, 3, 1]
    assert segments == [0, 0, 0, 0, 0, 1, 1, 1]
    assert tokenizer.encode("unaffable", max_len=3)[0] == [0, 2, 1]
    # keras-bert's rematch: static, the pieces without [CLS] / [SEP].
    assert Tokenizer.rematch("UnAffable", ["un", "##aff", "##able"]) == [(0, 2), (2, 5), (5, 9)]
    pieces = ["all", "rights", "re", "##ser", "[UNK]", "."]
    assert tokenizer.rematch("All rights reserved.", pieces) == [
        (0, 3), (4, 10), (11, 13), (13, 16), (16, 19), (19, 20),
    ]  # fmt: skip


def test_cased_and_missing_specials():
    cased = Tokenizer({**TOKEN_DICT, "Un": 6}, cased=True)
    assert cased.tokenize("Unaffable") == ["[CLS]", "Un", "##aff", "##able", "[SEP]"]
    with pytest.raises(ValueError, match=r"lacks the special tokens \['\[UNK\]'\]"):
        Tokenizer({"[CLS]": 0, "[SEP]": 1})


def test_masked_counts_only_chosen_real_positions_in_the_loss():
    """The loss of a model ending in `Masked` is the mean cross-entropy over
    the positions both chosen and real (the input's own mask), computed here
    with NumPy from the probabilities. (Masked used to keep the input's
    mask, so the loss covered every real position.)"""
    from kerastack.bert.compat import Masked
    from kerastack.core import keras

    keras.utils.set_random_seed(0)
    ids = keras.Input((5,), dtype="int32")
    chosen = keras.Input((5,), dtype="int32")
    wide = keras.initializers.RandomNormal(stddev=0.7, seed=0)  # probabilities apart
    hidden = keras.layers.Embedding(7, 4, mask_zero=True, embeddings_initializer=wide)(ids)
    probabilities = keras.layers.Dense(7, activation="softmax", kernel_initializer=wide)(hidden)
    model = keras.Model([ids, chosen], Masked()([probabilities, chosen]))
    model.compile(loss="sparse_categorical_crossentropy")
    x = np.array([[1, 2, 3, 0, 0], [4, 5, 6, 1, 2]])
    picked = np.array([[0, 1, 1, 1, 0], [1, 0, 0, 1, 1]])  # one padded position picked
    y = np.array([[1, 2, 3, 4, 5], [6, 5, 4, 3, 2]])
    p = keras.ops.convert_to_numpy(model.predict([x, picked], verbose=0))
    cross_entropy = -np.log(np.take_along_axis(p, y[..., None], -1)[..., 0])  # (B, T)
    scored = (x != 0) & (picked != 0)
    expected = cross_entropy[scored].mean()
    np.testing.assert_allclose(model.evaluate([x, picked], y, verbose=0), expected, rtol=1e-5)
    assert abs(expected - cross_entropy[x != 0].mean()) > 0.05  # the choice matters here
    _, weights = Masked(return_masked=True)([np.zeros((2, 5, 7), "float32"), picked])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(weights), picked.astype("float32"))
