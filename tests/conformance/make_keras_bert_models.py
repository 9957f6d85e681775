"""Record what the real keras-transformer 0.40 (`get_model`, `get_encoders`,
`get_decoders`, `decode`) and keras-bert 0.89 (`get_model`,
`load_trained_model_from_checkpoint`) build and compute, the references
`kerastack.transformer.compat` and `kerastack.bert.compat` are checked
against on every Keras 3 lane (tests/conformance/test_keras_bert_models.py).

Run from the repository root in the tfkeras lane's environment, where the
real packages are installed (`--no-deps`, on tf-keras):

    TF_KERAS=1 TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=2 \\
        .tox/tfkeras/bin/python -m tests.conformance.make_keras_bert_models

Each case of `CASES` names a builder and its arguments (tiny sizes). The
recorder builds it with the real package, sets every weight from a seeded
NumPy generator (normal, 0.5 wide; layer-normalization scales about 1:
nothing depends on TensorFlow's initializers), except the checkpoint cases,
whose weights are the tiny Google checkpoint's (tests/conformance/fixtures/
tiny_google). It writes, under tests/conformance/fixtures/keras_bert/:

- `models.npz`: `cases`, a JSON string (each case's builder, arguments,
  input names, the model's layers in order (name, class, trainable, weight
  shapes), its `decode` runs with their results and whether its files are
  saved), and the arrays
  `<case>/input/<i>` and `<case>/output/<i>` (`predict` on fixed inputs with
  padding: probabilities for the transformer and pretraining models, hidden
  states for the feature models);
- `models/<case>_weights.h5` (`save_weights`) and `models/<case>.h5`
  (`save`): the real package's HDF5 files, which the compat builders must
  load (every case but the checkpoint ones, whose entry's `saved` is false).

`build(case, transformer, bert, keras)` builds a case with any module
holding keras-transformer's (`transformer`) and keras-bert's (`bert`)
functions, so the tests build the same cases with kerastack's compat
modules; `record(...)` computes a whole reference and `load()` reads the
file. This module imports none of them at its top.
"""

import contextlib
import io
import json
import os
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
FOLDER = os.path.join(FIXTURES, "keras_bert")
REFERENCE = os.path.join(FOLDER, "models.npz")
MODELS = os.path.join(FOLDER, "models")
GOOGLE = os.path.join(FIXTURES, "tiny_google")

SEED = 20261206
# Every weight: normal(0, WIDTH); layer-normalization scales 1 + that. The
# seq2seq models' weights are wider (1.0): at 0.5 their greedy decoding
# gives one token whatever the source.
WIDTH = 0.5
WIDTHS = {"transformer": 1.0, "transformer_relu": 1.0, "transformer_separate": 1.0}

# keras-transformer: encoder and decoder ids, 0 pads (decode's pad_token).
ENCODER_IDS = np.array(
    [[5, 9, 13, 7, 21, 3], [4, 11, 6, 0, 0, 0], [17, 8, 0, 0, 0, 0]], dtype="int32"
)
DECODER_IDS = np.array([[1, 6, 14, 9, 2], [1, 19, 3, 0, 0], [1, 12, 0, 0, 0]], dtype="int32")
# decode: the sources (lists of ids, ragged), the start, end and pad tokens.
SOURCES = [[5, 9, 13, 7], [4, 11], [17, 8, 10, 3, 6, 12], [9]]
START, PAD = 1, 0

# keras-bert: token ids (0 pads; 2 [CLS], 3 [SEP]), segments, masked
# positions (Input-Masked) and tasks, seq_len 8.
TOKEN_IDS = np.array(
    [
        [2, 7, 12, 3, 9, 15, 3, 0],
        [2, 21, 5, 3, 18, 3, 0, 0],
        [2, 11, 3, 0, 0, 0, 0, 0],
    ],
    dtype="int32",
)
SEGMENT_IDS = np.array(
    [[0, 0, 0, 0, 1, 1, 1, 0], [0, 0, 0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0]],
    dtype="int32",
)
MASKED = np.array(
    [[0, 1, 0, 0, 1, 0, 0, 0], [0, 0, 1, 0, 0, 0, 0, 1], [0, 1, 0, 0, 0, 0, 0, 0]],
    dtype="int32",
)
TASK_IDS = np.array([[0], [2], [1]], dtype="int32")
# Features for get_encoders / get_decoders alone.
FEATURE_DIM = 8

TRANSFORMER = dict(
    token_num=24, embed_dim=8, encoder_num=1, decoder_num=1, head_num=2, hidden_dim=16
)
BERT = dict(
    token_num=25,
    pos_num=10,
    seq_len=8,
    embed_dim=8,
    transformer_num=2,
    head_num=2,
    feed_forward_dim=16,
)
CONFIG_FILE = "bert_config.json"
CHECKPOINT_FILE = "bert_model.ckpt"

# name -> (builder, arguments). Builders: "transformer.get_model",
# "transformer.blocks" (get_encoders then get_decoders on float features),
# "bert.get_model" and "bert.load_trained_model_from_checkpoint" (the paths,
# in tiny_google, added by `build`).
CASES = {
    "transformer": ("transformer.get_model", dict(TRANSFORMER)),
    "transformer_relu": (
        "transformer.get_model",
        dict(TRANSFORMER, attention_activation="relu", dropout_rate=0.1),
    ),
    "transformer_separate": (
        "transformer.get_model",
        dict(TRANSFORMER, token_num=[24, 20], use_same_embed=False),
    ),
    "transformer_blocks": (
        "transformer.blocks",
        dict(
            encoder_num=2,
            decoder_num=1,
            head_num=2,
            hidden_dim=16,
            attention_activation="relu",
            feed_forward_activation="relu",
        ),
    ),
    "bert_features": ("bert.get_model", dict(BERT, training=False)),
    "bert_features_2": ("bert.get_model", dict(BERT, training=False, output_layer_num=2)),
    "bert_features_list": (
        "bert.get_model",
        dict(BERT, training=False, output_layer_num=[0, -1]),
    ),
    "bert_pretraining": ("bert.get_model", dict(BERT, training=True, transformer_num=1)),
    "bert_task_features": (
        "bert.get_model",
        dict(BERT, training=False, use_task_embed=True, task_num=3),
    ),
    "bert_task_pretraining": (
        "bert.get_model",
        dict(BERT, training=True, transformer_num=1, use_task_embed=True, task_num=3),
    ),
    "bert_relu": ("bert.get_model", dict(BERT, training=False, attention_activation="relu")),
    "checkpoint_features": (
        "bert.load_trained_model_from_checkpoint",
        dict(training=False, seq_len=8),
    ),
    "checkpoint_pretraining": (
        "bert.load_trained_model_from_checkpoint",
        dict(training=True, seq_len=8),
    ),
    "checkpoint_features_2": (
        "bert.load_trained_model_from_checkpoint",
        dict(training=False, output_layer_num=2, seq_len=None),
    ),
}

# decode runs: (keyword arguments, seed for np.random or None). The end
# tokens (`END_TOKENS`) of "transformer" and "transformer_separate" are
# chosen so that some greedy rows stop at them and others run to max_len.
DECODES = {
    "transformer": [
        (dict(max_len=7), None),
        (dict(max_len=12, max_repeat=3, max_repeat_block=2), None),
        (dict(top_k=3, temperature=0.7, max_len=7), 1234),
        (dict(top_k=3, temperature=0.7, max_len=7), 99),
    ],
    "transformer_relu": [(dict(max_len=7), None)],
    "transformer_separate": [(dict(max_len=7), None)],
}
END_TOKENS = {"transformer": 18, "transformer_relu": 2, "transformer_separate": 19}


def seed(case):
    """The seed of a case's weights."""
    return SEED + zlib.crc32(case.encode())


def _decode_sources(case):
    vocabulary = CASES[case][1]["token_num"]
    vocabulary = vocabulary[0] if isinstance(vocabulary, list) else vocabulary
    return [[token % vocabulary for token in source] for source in SOURCES]


def build(case, transformer, bert, keras):
    """A case's model from `transformer` (keras-transformer's functions) and
    `bert` (keras-bert's), with the weights its builder gives (random, or
    the checkpoint's); uncompiled unless the builder compiles it."""
    builder, arguments = CASES[case]
    arguments = dict(arguments)
    if builder == "transformer.get_model":
        return transformer.get_model(**arguments)
    if builder == "transformer.blocks":
        encoder_num, decoder_num = arguments.pop("encoder_num"), arguments.pop("decoder_num")
        sources = keras.Input(shape=(None, FEATURE_DIM), name="Encoder-Features")
        targets = keras.Input(shape=(None, FEATURE_DIM), name="Decoder-Features")
        encoded = transformer.get_encoders(encoder_num, sources, **arguments)
        decoded = transformer.get_decoders(decoder_num, targets, encoded, **arguments)
        return keras.Model(inputs=[sources, targets], outputs=decoded)
    if builder == "bert.get_model":
        built = bert.get_model(**arguments)
        if arguments["training"]:
            return built
        inputs, output = built
        return keras.Model(inputs=inputs, outputs=output)
    if builder == "bert.load_trained_model_from_checkpoint":
        return bert.load_trained_model_from_checkpoint(
            os.path.join(GOOGLE, CONFIG_FILE), os.path.join(GOOGLE, CHECKPOINT_FILE), **arguments
        )
    raise ValueError(f"unknown builder {builder!r}")


def inputs(case):
    """The arrays a case's model is run on, in its inputs' order."""
    builder, arguments = CASES[case]
    if builder == "transformer.get_model":
        decoder_ids = DECODER_IDS
        if not arguments.get("use_same_embed", True):
            decoder_ids = DECODER_IDS % arguments["token_num"][1]
        return [ENCODER_IDS, decoder_ids]
    if builder == "transformer.blocks":
        rng = np.random.default_rng(seed(case) + 1)
        return [
            rng.normal(0.0, 1.0, (3, 6, FEATURE_DIM)).astype("float32"),
            rng.normal(0.0, 1.0, (3, 5, FEATURE_DIM)).astype("float32"),
        ]
    arrays = [TOKEN_IDS, SEGMENT_IDS]
    if arguments.get("use_task_embed"):
        arrays.append(TASK_IDS)
    if arguments["training"]:
        arrays.append(MASKED)
    return arrays


def randomize(model, case):
    """Set every weight of `model` from the case's seeded generator."""
    rng = np.random.default_rng(seed(case))
    width = WIDTHS.get(case, WIDTH)
    values = []
    for weight in model.weights:
        value = rng.normal(0.0, width, tuple(weight.shape))
        if weight.name.split("/")[-1].split(":")[0] == "gamma":
            value = 1.0 + value
        values.append(value.astype("float32"))
    model.set_weights(values)


def layers(model):
    """`[name, class, trainable, [weight shapes]]` of each layer, in order."""
    return [
        [
            layer.name,
            type(layer).__name__,
            bool(layer.trainable),
            [
                list(weight.shape)
                for weight in layer.trainable_weights + layer.non_trainable_weights
            ],
        ]
        for layer in model.layers
    ]


def predict(model, arrays):
    """`model.predict` on `arrays`, as a list of float32 arrays."""
    outputs = model.predict(list(arrays), verbose=0)
    outputs = outputs if isinstance(outputs, list) else [outputs]
    return [np.asarray(output, "float32") for output in outputs]


def run_decodes(case, model, decode):
    """`[{"arguments", "seed", "tokens", "result"}]`: the case's decode runs
    with `decode` (keras-transformer's), on every source and on the first
    alone (decode's single-list form): `decode(model, tokens, **arguments)`,
    after `np.random.seed(seed)` where `seed` is not None."""
    runs = []
    for arguments, random_seed in DECODES.get(case, []):
        sources = _decode_sources(case)
        arguments = dict(start_token=START, end_token=END_TOKENS[case], pad_token=PAD, **arguments)
        for tokens in (sources, sources[0]):
            if random_seed is not None:
                np.random.seed(random_seed)  # noqa: NPY002 (decode draws from the global generator)
            # keras-transformer's decode prints predict's progress bars.
            with contextlib.redirect_stdout(io.StringIO()):
                result = decode(model, tokens, **arguments)
            runs.append(
                {
                    "arguments": arguments,
                    "seed": random_seed,
                    "tokens": tokens,
                    "result": json.loads(json.dumps(result, default=int)),
                }
            )
    return runs


def record(transformer, bert, keras, save_to=None):
    """`(cases, arrays)`: every case built with `transformer` and `bert`,
    its weights set by `randomize` (the checkpoint cases: the checkpoint's),
    run on `inputs(case)`; with `save_to`, each model's `.h5` files written
    there."""
    cases, arrays = {}, {}
    for case, (builder, arguments) in CASES.items():
        model = build(case, transformer, bert, keras)
        # The checkpoint cases hold the checkpoint's weights; their files
        # (over 100 KB) would add nothing to the other cases'.
        saved = not builder.endswith("from_checkpoint")
        if saved:
            randomize(model, case)
        case_inputs = inputs(case)
        outputs = predict(model, case_inputs)
        for index, array in enumerate(case_inputs):
            arrays[f"{case}/input/{index}"] = array
        for index, array in enumerate(outputs):
            arrays[f"{case}/output/{index}"] = array
        cases[case] = {
            "builder": builder,
            "arguments": arguments,
            "inputs": [tensor.name.split(":")[0] for tensor in model.inputs],
            "layers": layers(model),
            "decode": run_decodes(case, model, transformer.decode),
            "saved": saved,
        }
        if save_to is not None and saved:
            model.save_weights(os.path.join(save_to, f"{case}_weights.h5"))
            model.save(os.path.join(save_to, f"{case}.h5"), include_optimizer=False)
        keras.backend.clear_session()
    return json.loads(json.dumps(cases)), arrays


def compute(save_to=None):
    """The reference from the real packages (needs them, on tf-keras)."""
    import keras_bert
    import keras_transformer
    from tensorflow import keras

    return record(keras_transformer, keras_bert, keras, save_to=save_to)


def load():
    """`(cases, arrays)` as recorded."""
    with np.load(REFERENCE) as data:
        arrays = {name: data[name] for name in data.files if name != "cases"}
        cases = json.loads(str(data["cases"]))
    return cases, arrays


def main():
    os.makedirs(MODELS, exist_ok=True)
    cases, arrays = compute(save_to=MODELS)
    np.savez_compressed(REFERENCE, cases=np.array(json.dumps(cases)), **arrays)
    print(f"wrote {REFERENCE}: {len(cases)} cases")
    for name in sorted(os.listdir(MODELS)):
        print(f"  {name}: {os.path.getsize(os.path.join(MODELS, name))} bytes")


if __name__ == "__main__":
    main()
