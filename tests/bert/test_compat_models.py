"""keras-bert's model API on kerastack-bert (every Keras 3 lane): the
keras-bert README's "Train & Use", "Use Warmup" and "Extract Features"
examples with only their import lines changed (and, in "Train & Use", the
step counts cut from 1000 x 100 epochs to 10 x 2 and the blocks from 12 to
2: a 12-block training step takes minutes to compile with XLA on 2 CPU
cores), and the pieces they use checked against independent references."""

import codecs
import os

import numpy as np
import pytest

from kerastack.bert import BertBackbone, BertConfig, BertPretrainer, BertTokenizer
from kerastack.bert.compat import (
    AdamWarmup,
    KerasBertModel,
    compile_model,
    gen_batch_inputs,
    get_base_dict,
    get_checkpoint_paths,
    get_model,
    load_trained_model_from_checkpoint,
)
from kerastack.bert.convert_google import load_google_checkpoint
from kerastack.core import keras, keras_version
from kerastack.transformer import compat as transformer_compat
from tests.conformance import make_references as refs

GOOGLE = os.path.join(refs.FIXTURES, "tiny_google")
# keras-bert's BERT, built with kerastack's own blocks: the name "gelu" is
# keras-transformer's tanh approximation, and its layer normalization's
# epsilon is K.epsilon() ** 2.
KERAS_BERT_SETTINGS = dict(activation=transformer_compat.gelu, layer_norm_epsilon=1e-14)


KERAS3 = keras_version()[0] >= 3


def keras_bert_like_backbone(config_file):
    arguments = BertConfig.from_json(config_file).backbone_arguments()
    return BertBackbone(**{**arguments, **KERAS_BERT_SETTINGS})


def test_readme_train_and_use():
    if KERAS3:
        import keras  # the README's first line
    else:
        from tensorflow import keras  # the README's first line with TF_KERAS=1

    from kerastack.bert.compat import compile_model, gen_batch_inputs, get_base_dict, get_model

    # A toy input example
    sentence_pairs = [
        [["all", "work", "and", "no", "play"], ["makes", "jack", "a", "dull", "boy"]],
        [["from", "the", "day", "forth"], ["my", "arm", "changed"]],
        [["and", "a", "voice", "echoed"], ["power", "give", "me", "more", "power"]],
    ]

    # Build token dictionary
    token_dict = get_base_dict()  # A dict that contains some special tokens
    for pairs in sentence_pairs:
        for token in pairs[0] + pairs[1]:
            if token not in token_dict:
                token_dict[token] = len(token_dict)
    token_list = list(token_dict.keys())  # Used for selecting a random word

    # Build & train the model
    model = get_model(
        token_num=len(token_dict),
        head_num=5,
        transformer_num=2,
        embed_dim=25,
        feed_forward_dim=100,
        seq_len=20,
        pos_num=20,
        dropout_rate=0.05,
    )
    compile_model(model)
    model.summary()

    def _generator():
        while True:
            yield gen_batch_inputs(
                sentence_pairs,
                token_dict,
                token_list,
                seq_len=20,
                mask_rate=0.3,
                swap_sentence_rate=1.0,
            )

    model.fit_generator(
        generator=_generator(),
        steps_per_epoch=10,
        epochs=2,
        validation_data=_generator(),
        validation_steps=2,
        callbacks=[keras.callbacks.EarlyStopping(monitor="val_loss", patience=5)],
    )

    # Use the trained model
    inputs, output_layer = get_model(
        token_num=len(token_dict),
        head_num=5,
        transformer_num=12,  # (only built: 4 of the 12 blocks' outputs)
        embed_dim=25,
        feed_forward_dim=100,
        seq_len=20,
        pos_num=20,
        dropout_rate=0.05,
        training=False,  # The input layers and output layer will be returned if `training` is `False`  # noqa: E501
        trainable=False,  # Whether the model is trainable. The default value is the same with `training`  # noqa: E501
        output_layer_num=4,  # The number of layers whose outputs will be concatenated as a single output.  # noqa: E501
        # Only available when `training` is `False`.
    )

    # What the README leaves to the reader, checked.
    history = model.history.history
    assert len(history["loss"]) == 2 and np.all(np.isfinite(history["val_loss"]))
    (x, _) = gen_batch_inputs(sentence_pairs, token_dict, token_list, seq_len=20)
    mlm, nsp = model.predict(x, verbose=0)
    assert mlm.shape == (3, 20, len(token_dict)) and nsp.shape == (3, 2)
    np.testing.assert_allclose(mlm.sum(-1), 1.0, atol=1e-5)  # probabilities
    extractor = keras.Model(inputs, output_layer)
    assert extractor.predict(x[:2], verbose=0).shape == (3, 20, 4 * 25)
    assert not extractor.trainable_weights


def keras_bert_adam_warmup(
    weights, gradients, steps, decay_steps, warmup_steps, lr, min_lr, weight_decay, decayed,
    beta_1=0.9, beta_2=0.999, epsilon=1e-7,
):  # fmt: skip
    """keras-bert's AdamWarmup update (its get_updates), in NumPy."""
    weights = [w.astype("float64") for w in weights]
    m = [np.zeros_like(w) for w in weights]
    v = [np.zeros_like(w) for w in weights]
    for t in range(1, steps + 1):
        if t <= warmup_steps:
            rate = lr * t / warmup_steps
        else:
            rate = min_lr + (lr - min_lr) * (1.0 - min(t, decay_steps) / decay_steps)
        rate_t = rate * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        for i, (w, g) in enumerate(zip(weights, gradients[t - 1], strict=True)):
            m[i] = beta_1 * m[i] + (1 - beta_1) * g
            v[i] = beta_2 * v[i] + (1 - beta_2) * g * g
            step = m[i] / (np.sqrt(v[i]) + epsilon)
            if decayed[i]:
                step = step + weight_decay * w
            weights[i] = w - rate_t * step
    return weights


def test_readme_use_warmup_and_adam_warmup_against_numpy():
    import numpy as np

    from kerastack.bert.compat import AdamWarmup, calc_train_steps

    train_x = np.random.standard_normal((1024, 100))  # noqa: NPY002

    total_steps, warmup_steps = calc_train_steps(
        num_example=train_x.shape[0],
        batch_size=32,
        epochs=10,
        warmup_proportion=0.1,
    )

    optimizer = AdamWarmup(total_steps, warmup_steps, lr=1e-3, min_lr=1e-5)

    assert (total_steps, warmup_steps) == (320, 32)
    assert calc_train_steps(1000, 32, 3) == (96, 9)  # 32 batches an epoch, the last short
    # The optimizer against keras-bert 0.89's update rule: weight decay on
    # every weight, the bias too (its tf.keras optimizer never reads the pattern).
    optimizer = AdamWarmup(
        decay_steps=6, warmup_steps=2, lr=0.05, min_lr=0.01, weight_decay=0.3,
        weight_decay_pattern=["kernel"],
    )  # fmt: skip
    dense = keras.layers.Dense(3, bias_initializer="ones")
    dense.build((None, 4))
    start = [np.array(w) for w in (dense.kernel, dense.bias)]
    rng = np.random.default_rng(0)
    gradients = [[rng.normal(size=w.shape) for w in start] for _ in range(8)]
    for step in gradients:
        optimizer.apply([g.astype("float32") for g in step], [dense.kernel, dense.bias])
    expected = keras_bert_adam_warmup(
        start, gradients, 8, 6, 2, 0.05, 0.01, 0.3, decayed=[True, True]
    )
    np.testing.assert_allclose(np.array(dense.kernel), expected[0], atol=1e-5)
    np.testing.assert_allclose(np.array(dense.bias), expected[1], atol=1e-5)
    patterned = keras_bert_adam_warmup(
        start, gradients, 8, 6, 2, 0.05, 0.01, 0.3, decayed=[True, False]
    )
    assert np.abs(patterned[1] - expected[1]).max() > 1e-3  # a pattern would have shown
    restored = AdamWarmup.from_config(optimizer.get_config())
    assert restored.weight_decay_pattern == ["kernel"] and restored.decay_rate == 0.3


def test_readme_extract_features(tmp_path):
    from kerastack.bert.compat import POOL_MAX, POOL_NSP, extract_embeddings

    model_path = GOOGLE
    texts = ["all work and no play", "makes jack a dull boy~"]

    embeddings = extract_embeddings(model_path, texts)

    assert [e.shape for e in embeddings] == [(7, 32), (8, 32)]  # [CLS] words [SEP]
    uncut = extract_embeddings(model_path, texts, cut_embed=False)
    assert [e.shape for e in uncut] == [(64, 32), (64, 32)]  # the position table's length
    np.testing.assert_allclose(uncut[0][:7], embeddings[0], atol=1e-6)
    # The same through kerastack's own API.
    backbone = keras_bert_like_backbone(os.path.join(GOOGLE, "bert_config.json"))
    load_google_checkpoint(backbone, GOOGLE)
    tokenizer = BertTokenizer(os.path.join(GOOGLE, "vocab.txt"))
    for text, embedding in zip(texts, embeddings, strict=True):
        expected = backbone.predict(tokenizer.encode_batch([text]), verbose=0)["sequence_output"]
        np.testing.assert_allclose(embedding, expected[0], atol=1e-5)

    texts = [
        ("all work and no play", "makes jack a dull boy"),
        ("makes jack a dull boy", "all work and no play"),
    ]

    embeddings = extract_embeddings(
        model_path, texts, output_layer_num=4, poolings=[POOL_NSP, POOL_MAX]
    )

    # The model has 2 blocks (keras-bert uses at most that many): 32 x 2 x 2.
    assert [e.shape for e in embeddings] == [(128,), (128,)]
    encoded = tokenizer.encode_batch([t[0] for t in texts], [t[1] for t in texts])
    layers = backbone.last_layers_model(2).predict(encoded, verbose=0)
    for row, embedding in enumerate(embeddings):
        np.testing.assert_allclose(embedding[:64], layers[row, 0], atol=1e-5)
        np.testing.assert_allclose(embedding[64:], layers[row].max(axis=0), atol=1e-5)

    (tmp_path / "xxx.txt").write_text("all work and no play\nmakes jack a dull boy~\n", "utf8")
    os.chdir(tmp_path)

    with codecs.open("xxx.txt", "r", "utf8") as reader:
        texts = map(lambda x: x.strip(), reader)
        embeddings = extract_embeddings(model_path, texts)

    assert [e.shape for e in embeddings] == [(7, 32), (8, 32)]


def test_pretraining_model_from_google_checkpoint_equals_bert_pretrainer():
    paths = get_checkpoint_paths(GOOGLE)
    model = load_trained_model_from_checkpoint(
        paths.config, paths.checkpoint, training=True, seq_len=None
    )
    assert isinstance(model, KerasBertModel)
    assert [i.name for i in model.inputs] == ["Input-Token", "Input-Segment", "Input-Masked"]
    reference = np.load(refs.FIXTURES + "/tiny_pretraining_reference.npz")
    mask = reference["arr_2"]
    ids = np.where(mask == 1, np.maximum(reference["arr_0"], 1), 0).astype("int32")
    segments = reference["arr_1"]
    mlm, nsp = model.predict([ids, segments, np.ones_like(ids)], verbose=0)
    folder = os.path.join(refs.FIXTURES, "tiny_pretraining")
    expected_model = BertPretrainer(keras_bert_like_backbone(os.path.join(folder, "config.json")))
    expected_model.load_checkpoint(folder)
    positions = np.tile(np.arange(ids.shape[1], dtype="int32"), (3, 1))
    expected = expected_model.predict(
        {"token_ids": ids, "segment_ids": segments, "padding_mask": mask,
         "mask_positions": positions}, verbose=0,
    )  # fmt: skip
    real = mask.astype(bool)
    np.testing.assert_allclose(
        mlm[real], keras.ops.convert_to_numpy(keras.ops.softmax(expected["mlm_logits"]))[real],
        atol=1e-5,
    )  # fmt: skip
    np.testing.assert_allclose(
        nsp, keras.ops.convert_to_numpy(keras.ops.softmax(expected["nsp_logits"])), atol=1e-5
    )


def test_masked_loss_counts_only_the_chosen_positions():
    model = get_model(token_num=12, head_num=2, transformer_num=1, embed_dim=8,
                      feed_forward_dim=16, seq_len=6, pos_num=6, dropout_rate=0.0)  # fmt: skip
    compile_model(model)
    rng = np.random.default_rng(0)
    tokens = rng.integers(5, 12, size=(4, 6)).astype("int32")
    segments = np.zeros_like(tokens)
    masked = np.zeros_like(tokens)
    masked[:, 2] = 1
    masked[0, 4] = 1
    targets = rng.integers(0, 12, size=(4, 6, 1))
    nsp_targets = np.zeros((4, 1))
    mlm, nsp = model.predict([tokens, segments, masked], verbose=0)
    chosen = masked.astype(bool)
    picked = np.take_along_axis(mlm, targets, axis=-1)[..., 0]
    expected = -np.log(picked[chosen]).mean() - np.log(nsp[:, 0]).mean()
    loss = model.evaluate([tokens, segments, masked], [targets, nsp_targets], verbose=0)
    assert loss[0] == pytest.approx(expected, rel=1e-4)


def test_trainable_takes_keras_bert_prefixes():
    model = get_model(token_num=12, head_num=2, transformer_num=2, embed_dim=8,
                      feed_forward_dim=16, seq_len=6, pos_num=6,
                      trainable=["Encoder-2", "MLM"])  # fmt: skip
    trainable = {layer.name for layer in model.layers if layer.trainable and layer.weights}
    assert trainable == {
        "Encoder-2-MultiHeadSelfAttention", "Encoder-2-MultiHeadSelfAttention-Norm",
        "Encoder-2-FeedForward", "Encoder-2-FeedForward-Norm", "MLM-Dense", "MLM-Norm", "MLM-Sim",
    }  # fmt: skip
    assert not model.get_layer("Embedding-Token").trainable  # tied to MLM-Sim, not "MLM"
    # 8 + 2 + 4 + 2 in the block, the head's 2 + 2 + 1
    assert len(model.trainable_weights) == 16 + 5
    inputs, output = get_model(token_num=12, head_num=2, transformer_num=2, embed_dim=8,
                               feed_forward_dim=16, seq_len=None, pos_num=6, training=False,
                               trainable=["Embedding"])  # fmt: skip
    extractor = keras.Model(inputs, output)
    names = {layer.name for layer in extractor.layers if layer.trainable and layer.weights}
    assert names == {"Embedding-Token", "Embedding-Position", "Embedding-Segment",
                     "Embedding-Norm"}  # fmt: skip
    assert len(extractor.trainable_weights) == 5


def test_attention_activation_and_task_embedding():
    model = get_model(token_num=12, head_num=2, transformer_num=2, embed_dim=8,
                      feed_forward_dim=16, seq_len=6, pos_num=6, attention_activation="gelu",
                      use_task_embed=True, task_num=3)  # fmt: skip
    assert [x.name for x in model.inputs] == [
        "Input-Token", "Input-Segment", "Input-Task", "Input-Masked"
    ]  # fmt: skip
    attention = model.get_layer("Encoder-2-MultiHeadSelfAttention")
    x = np.linspace(-3, 3, 7, dtype="float32")
    tanh_gelu = 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(attention.activation(x)), tanh_gelu, atol=1e-6
    )  # "gelu" is keras-transformer's tanh approximation, as in keras-bert
    tokens = np.array([[2, 5, 6, 3, 0, 0]] * 3, "int32")
    data = [tokens, np.zeros_like(tokens), np.array([[0], [1], [2]]), np.ones_like(tokens)]
    mlm, _ = model.predict(data, verbose=0)
    assert np.abs(mlm[0] - mlm[1]).max() > 1e-4  # the task changes the output
    model.get_layer("Embedding-Task").set_weights([np.zeros((3, 8), "float32")])
    mlm, _ = model.predict(data, verbose=0)
    np.testing.assert_allclose(mlm[0], mlm[2], atol=1e-6)


def test_keras_file_round_trip(tmp_path):
    model = get_model(token_num=12, head_num=2, transformer_num=1, embed_dim=8,
                      feed_forward_dim=16, seq_len=6, pos_num=6)  # fmt: skip
    compile_model(model)
    tokens = np.array([[2, 5, 6, 3, 0, 0]], "int32")
    data = [tokens, np.zeros_like(tokens), np.array([[0, 1, 0, 0, 0, 0]], "int32")]
    expected = model.predict(data, verbose=0)
    path = str(tmp_path / "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, KerasBertModel)
    assert isinstance(restored.optimizer, AdamWarmup)
    for a, e in zip(restored.predict(data, verbose=0), expected, strict=True):
        np.testing.assert_allclose(a, e, atol=1e-6)


def test_gen_batch_inputs_masks_and_swaps_as_keras_bert():
    pairs = [[[f"a{i}", f"b{i}", f"c{i}"], [f"d{i}", f"e{i}"]] for i in range(40)]
    token_dict = get_base_dict()
    for first, second in pairs:
        for token in first + second:
            token_dict[token] = len(token_dict)
    token_list = list(token_dict)
    np.random.seed(0)  # keras-bert's generator: numpy's global one  # noqa: NPY002
    chosen = masked = kept = 0
    for _ in range(20):
        (tokens, segments, masks), (targets, nsp) = gen_batch_inputs(
            pairs, token_dict, token_list, seq_len=10, swap_sentence_rate=0.5, force_mask=False
        )
        assert tokens.shape == segments.shape == masks.shape == (40, 10)
        assert targets.shape == (40, 10, 1) and nsp.shape == (40, 1)
        np.testing.assert_array_equal(segments[:, :5], 0)  # [CLS] a b c [SEP]
        np.testing.assert_array_equal(segments[:, 5:], 1)  # padding too, as keras-bert
        for row in range(40):
            words = [token_list[i] for i in targets[row, :, 0]]
            second_owner = int(words[5][1:])
            assert (second_owner != row) == bool(nsp[row, 0])
            assert words[:5] == ["[CLS]", f"a{row}", f"b{row}", f"c{row}", "[SEP]"]
            assert words[6:] == [f"e{second_owner}", "[SEP]", "", ""]
        special = np.isin(targets[..., 0], list(get_base_dict().values()))
        assert not masks[special].any() or masks[special].sum() == 0
        picked = masks.astype(bool) & ~special
        chosen += picked.sum()
        masked += (tokens[picked] == token_dict["[MASK]"]).sum()
        kept += (tokens[picked] == targets[..., 0][picked]).sum()
        np.testing.assert_array_equal(tokens[~picked], targets[..., 0][~picked])
    # 20 x 40 x 5 words, 15% chosen: about 600; 80% [MASK], 10% kept (+ random hits).
    assert 520 < chosen < 680
    assert abs(masked / chosen - 0.8) < 0.05 and abs(kept / chosen - 0.1) < 0.05
    # force_mask: a row with nothing chosen gets position 1 chosen (and kept).
    (tokens, _, masks), (targets, _) = gen_batch_inputs(
        pairs, token_dict, token_list, seq_len=10, mask_rate=0.0
    )
    np.testing.assert_array_equal(masks, np.eye(10, dtype=int)[[1] * 40])
    np.testing.assert_array_equal(tokens, targets[..., 0])


def test_predict_generator_takes_keras_2_batches_of_a_multi_input_model():
    inputs = [keras.Input((4,)), keras.Input((4,))]
    output = keras.layers.Dense(3)(keras.layers.Concatenate()(inputs))
    model = KerasBertModel(inputs, output)
    rng = np.random.default_rng(0)
    batches = [[rng.random((2, 4), "float32"), rng.random((2, 4), "float32")] for _ in range(3)]
    expected = np.concatenate([model.predict_on_batch(batch) for batch in batches])

    # Keras 2 generators yield the inputs alone (a list for several inputs),
    # or a tuple (inputs, targets), whose targets prediction ignores.
    plain = model.predict_generator(iter(batches), steps=3, verbose=0)
    paired = model.predict_generator(
        ((batch, np.zeros((2, 3))) for batch in batches), steps=3, verbose=0
    )
    np.testing.assert_allclose(plain, expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(paired, expected, rtol=1e-6, atol=1e-6)


def test_build_model_from_config_reads_what_keras_bert_reads(tmp_path):
    import json

    from kerastack.bert import compat

    base = {
        "vocab_size": 30, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
        "intermediate_size": 16, "max_position_embeddings": 16, "hidden_act": "elu",
    }  # fmt: skip
    path = tmp_path / "bert_config.json"
    path.write_text(json.dumps(base))
    model, _ = compat.build_model_from_config(str(path), seq_len=8)  # any Keras activation
    assert model.get_layer("Encoder-1-FeedForward").activation.__name__ == "elu"
    for key in ("hidden_act", "max_position_embeddings"):
        path.write_text(json.dumps({k: v for k, v in base.items() if k != key}))
        with pytest.raises(KeyError, match=key) as error:  # keras-bert's KeyError, and ...
            compat.build_model_from_config(str(path))
        assert isinstance(error.value, ValueError) and str(path) in str(error.value)
    path.write_text(json.dumps(dict(base, hidden_act="gelu_new")))
    with pytest.raises(ValueError, match="hidden_act='gelu_new' is not a Keras activation"):
        compat.build_model_from_config(str(path))
