"""Record what the keras-bert family's layers compute (keras-self-attention
0.51, keras-multi-head 0.29, keras-pos-embd 0.13, keras-layer-normalization
0.16, keras-position-wise-feed-forward 0.8, keras-embed-sim 0.10,
keras-transformer 0.40's gelu, keras-bert 0.89's small layers), the
reference kerastack's compat layers are checked against side by side.

Run from the repository root in the tfkeras lane's environment, where the
real packages are installed (`--no-deps`, on tf-keras):

    TF_KERAS=1 TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=2 \\
        .tox/tfkeras/bin/python -m tests.conformance.make_keras_bert_layers

It writes tests/conformance/fixtures/keras_bert/layers.npz: the inputs
(`in/<name>`), and per case (`CASES`) the weights set on the layer
(`<case>/w<i>`, drawn from a generator seeded by the case's name, shaped as
the old layer's `get_weights()` lists them), its outputs (`<case>/o<i>`), its
output masks (`<case>/m<i>`, with `<case>/mask_present` saying which are not
None) and, for cases whose padding kerastack masks in full, the outputs on
the second row cut to its real length (`<case>/t<i>`).

`run(names, name, arrays, weights=None)` makes the same calls with any
classes of the old API: `names` maps each old class name (and `keras`,
`gelu`, `tensor`, `numpy`) to the running stack's; the real old packages on
tf-keras here (`old_names()`), kerastack's compat modules in
tests/conformance/test_keras_bert_layers.py. Each call is eager; the
`functional` cases build a model from an `Input` through an
`Embedding(mask_zero=True)`, so the mask travels as Keras passes it.
This module imports neither stack at its top.
"""

import dataclasses
import os
import zlib

import numpy as np

FIXTURE = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "fixtures", "keras_bert", "layers.npz"
)

# Sizes, small on purpose: the fixture stays a few tens of KB.
BATCH, LENGTH, WIDTH, VOCAB = 2, 5, 6, 7
REAL = 3  # the second row's real length in `mask` and `ids`


def inputs():
    """The arrays fed to every stack."""
    rng = np.random.default_rng(2089)
    f32 = np.float32
    arrays = {
        "x": rng.normal(size=(BATCH, LENGTH, WIDTH)).astype(f32),  # (B, T, D)
        "q": rng.normal(size=(BATCH, 4, WIDTH)).astype(f32),  # (B, Tq, D)
        "k": rng.normal(size=(BATCH, LENGTH, WIDTH)).astype(f32),  # (B, Tk, D)
        "v": rng.normal(size=(BATCH, LENGTH, WIDTH)).astype(f32),  # (B, Tk, D)
        "v4": rng.normal(size=(BATCH, LENGTH, 4)).astype(f32),  # (B, Tk, 4)
        "previous": rng.normal(size=(BATCH, 4, LENGTH)).astype(f32),  # (B, Tq, Tk)
        "previous_self": rng.normal(size=(BATCH, LENGTH, LENGTH)).astype(f32),
        "table": rng.normal(size=(VOCAB, WIDTH)).astype(f32),  # (V, D)
        "embedding": (0.7 * rng.normal(size=(VOCAB, WIDTH))).astype(f32),  # Embedding table
        "mask": np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], bool),  # (B, T)
        "query_mask": np.array([[1, 1, 1, 1], [1, 1, 0, 0]], bool),  # (B, Tq)
        "ids": np.array([[3, 1, 2, 4, 6], [2, 5, 1, 0, 0]], "int32"),  # 0 pads
        "positions": np.array([[0, 1, 2, -3, 9], [4, -1, 0, 0, -7]], "int32"),
        "float_positions": np.array([[0.0, 1, 2, 3.5, 10], [4, -1, 0, 0, 7]], f32),
        "tasks": np.array([[2], [0]], "int32"),  # (B, 1)
        "chosen": np.array([[0, 1, 0, 0, 1], [1, 0, 0, 1, 0]], "int32"),  # Masked's positions
        "wide": rng.normal(size=(BATCH, LENGTH, 8)).astype(f32),  # (B, T, 8)
        "q8": rng.normal(size=(BATCH, 4, 8)).astype(f32),  # (B, Tq, 8)
        "k4": rng.normal(size=(BATCH, LENGTH, 4)).astype(f32),  # (B, Tk, 4)
    }
    return arrays


@dataclasses.dataclass(frozen=True)
class Case:
    """One layer call. `make(names)` makes the layer; `inputs` and `mask`
    name arrays of `inputs()` (a list for list inputs, None for no mask);
    `embed`: `inputs` are ids through an `Embedding(VOCAB, WIDTH,
    mask_zero=True)` whose mask is the layer's; `functional`: the same in a
    functional model; `call_mask`: whether the mask goes to the call (else
    only to `compute_mask`); `cut`: for each input, the real length of the
    second row (recorded as `t<i>` when kerastack masks padding in full);
    `losses`: the sum of the layer's losses is recorded as a last output;
    `family`: the compat module holding the class."""

    family: str
    make: object
    inputs: object
    mask: object = None
    embed: bool = False
    functional: bool = False
    call_mask: bool = True
    compute_mask: bool = True
    cut: dict = None
    losses: bool = False


def _sa(**kwargs):
    return lambda n: n["SeqSelfAttention"](**kwargs)


def _mha(**kwargs):
    return lambda n: n["MultiHeadAttention"](**kwargs)


QKV = ["q", "k", "v"]
KEY_MASKS = [None, "mask", "mask"]
CUT_X = {"x": REAL}
CUT_IDS = {"ids": REAL}

CASES = {
    # keras-self-attention: SeqSelfAttention
    "sa_additive": Case("attention", _sa(units=4), "x"),
    "sa_additive_width3": Case("attention", _sa(units=4, attention_width=3), "x"),
    "sa_additive_width4": Case("attention", _sa(units=4, attention_width=4), "x"),
    "sa_history": Case("attention", _sa(units=4, history_only=True), "x"),
    "sa_history_width2": Case("attention", _sa(units=4, history_only=True, attention_width=2), "x"),
    "sa_additive_no_biases": Case(
        "attention", _sa(units=4, use_additive_bias=False, use_attention_bias=False), "x"
    ),
    "sa_additive_sigmoid": Case("attention", _sa(units=4, attention_activation="sigmoid"), "x"),
    "sa_return_attention": Case("attention", _sa(units=4, return_attention=True), "x"),
    "sa_multiplicative": Case("attention", _sa(attention_type="multiplicative"), "x"),
    "sa_multiplicative_no_bias": Case(
        "attention", _sa(attention_type="multiplicative", use_attention_bias=False), "x"
    ),
    "sa_multiplicative_history_attention": Case(
        "attention",
        _sa(attention_type="multiplicative", history_only=True, return_attention=True),
        "x",
    ),
    "sa_masked": Case("attention", _sa(units=4), "x", mask="mask", cut=CUT_X),
    "sa_masked_width3": Case(
        "attention", _sa(units=4, attention_width=3), "x", mask="mask", cut=CUT_X
    ),
    "sa_regularizer": Case(
        "attention", _sa(units=4, attention_regularizer_weight=0.3), "x", losses=True
    ),
    "sa_masked_multiplicative_attention": Case(
        "attention",
        _sa(attention_type="multiplicative", return_attention=True),
        "x",
        mask="mask",
        cut=CUT_X,
    ),
    "sa_embedding_mask": Case(
        "attention", _sa(units=4, return_attention=True), "ids", embed=True, cut=CUT_IDS
    ),
    "sa_functional": Case(
        "attention", _sa(units=4, history_only=True), "ids", functional=True, cut=CUT_IDS
    ),
    # SeqWeightedAttention
    "swa": Case("attention", lambda n: n["SeqWeightedAttention"](), "x"),
    "swa_no_bias_attention": Case(
        "attention", lambda n: n["SeqWeightedAttention"](use_bias=False, return_attention=True), "x"
    ),
    "swa_masked_attention": Case(
        "attention",
        lambda n: n["SeqWeightedAttention"](return_attention=True),
        "x",
        mask="mask",
    ),
    "swa_functional": Case(
        "attention", lambda n: n["SeqWeightedAttention"](), "ids", functional=True
    ),
    # ScaledDotProductAttention and the residual (RealFormer) one
    "sdpa_qkv": Case("attention", lambda n: n["ScaledDotProductAttention"](), ["q", "k", "v4"]),
    "sdpa_qkv_history": Case(
        "attention",
        lambda n: n["ScaledDotProductAttention"](history_only=True),
        ["q", "k", "v4"],
    ),
    "sdpa_self_history_attention": Case(
        "attention",
        lambda n: n["ScaledDotProductAttention"](history_only=True, return_attention=True),
        "x",
    ),
    "sdpa_key_mask": Case(
        "attention",
        lambda n: n["ScaledDotProductAttention"](return_attention=True),
        ["q", "k", "v4"],
        mask=KEY_MASKS,
    ),
    "sdpa_self_masked": Case(
        "attention", lambda n: n["ScaledDotProductAttention"](), "x", mask="mask", cut=CUT_X
    ),
    "residual_qkv": Case(
        "attention",
        lambda n: n["ResidualScaledDotProductAttention"](),
        ["q", "k", "v4", "previous"],
        # The old compute_mask fails without a query mask (it indexes it).
        mask=["query_mask", "mask", "mask", None],
        compute_mask=False,
    ),
    "residual_self_history_attention": Case(
        "attention",
        lambda n: n["ResidualScaledDotProductAttention"](history_only=True, return_attention=True),
        ["x", "previous_self"],
        mask=["mask", None],
        compute_mask=False,
    ),
    # keras-multi-head
    "mha_relu": Case("multihead", _mha(head_num=2), "x"),
    "mha_linear": Case("multihead", _mha(head_num=3, activation=None), "x"),
    "mha_gelu": Case("multihead", lambda n: n["MultiHeadAttention"](2, activation=n["gelu"]), "x"),
    "mha_history": Case("multihead", _mha(head_num=2, history_only=True), "x"),
    "mha_no_bias": Case("multihead", _mha(head_num=2, use_bias=False), "x"),
    "mha_mixed_widths": Case("multihead", _mha(head_num=3), ["q8", "k4", "v"]),
    "mha_qkv_key_mask": Case("multihead", _mha(head_num=2), QKV, mask=KEY_MASKS),
    "mha_qkv_masks": Case(
        "multihead",
        _mha(head_num=2),
        QKV,
        mask=["query_mask", "mask", "mask"],
        cut={"q": 2, "k": REAL, "v": REAL},
    ),
    "mha_self_masked": Case("multihead", _mha(head_num=2), "x", mask="mask", cut=CUT_X),
    "mha_functional": Case("multihead", _mha(head_num=2), "ids", functional=True, cut=CUT_IDS),
    "multihead_dense": Case(
        "multihead",
        lambda n: n["MultiHead"](n["keras"].layers.Dense(3), layer_num=2),
        "x",
        compute_mask=False,
    ),
    "multihead_conv": Case(
        "multihead",
        lambda n: n["MultiHead"](
            n["keras"].layers.Conv1D(2, 3, padding="same", activation="tanh"), layer_num=3
        ),
        "x",
        compute_mask=False,
    ),
    # keras-pos-embd
    "pe_expand": Case("position", lambda n: n["PositionEmbedding"](4, 3), "positions"),
    "pe_expand_mask_zero": Case(
        "position", lambda n: n["PositionEmbedding"](4, 3, mask_zero=4), "positions"
    ),
    "pe_expand_mask_true": Case(
        "position", lambda n: n["PositionEmbedding"](4, 3, mask_zero=True), "positions"
    ),
    "pe_add": Case(
        "position",
        lambda n: n["PositionEmbedding"](7, WIDTH, mode="add"),
        "x",
        mask="mask",
        call_mask=False,
    ),
    "pe_concat": Case(
        "position",
        lambda n: n["PositionEmbedding"](7, 3, mode="concat"),
        "x",
        mask="mask",
        call_mask=False,
    ),
    "trig_add": Case(
        "position", lambda n: n["TrigPosEmbedding"](mode="add"), "x", mask="mask", call_mask=False
    ),
    "trig_concat": Case(
        "position", lambda n: n["TrigPosEmbedding"](mode="concat", output_dim=4), "x"
    ),
    "trig_expand_int": Case(
        "position", lambda n: n["TrigPosEmbedding"](mode="expand", output_dim=4), "positions"
    ),
    "trig_expand": Case(
        "position", lambda n: n["TrigPosEmbedding"](mode="expand", output_dim=6), "float_positions"
    ),
    # keras-layer-normalization
    "ln": Case("layernorm", lambda n: n["LayerNormalization"](), "x", mask="mask", call_mask=False),
    "ln_no_center": Case("layernorm", lambda n: n["LayerNormalization"](center=False), "x"),
    "ln_no_scale_epsilon": Case(
        "layernorm", lambda n: n["LayerNormalization"](scale=False, epsilon=1e-3), "x"
    ),
    # keras-position-wise-feed-forward (kerastack.transformer.compat)
    "ff_relu": Case("transformer", lambda n: n["FeedForward"](units=7), "x"),
    "ff_gelu": Case("transformer", lambda n: n["FeedForward"](units=7, activation=n["gelu"]), "x"),
    "ff_linear_no_bias": Case(
        "transformer", lambda n: n["FeedForward"](units=5, activation=None, use_bias=False), "x"
    ),
    # keras-embed-sim (kerastack.transformer.compat)
    "embedding_ret": Case(
        "transformer",
        lambda n: n["EmbeddingRet"](input_dim=VOCAB, output_dim=WIDTH, mask_zero=True),
        "ids",
    ),
    "embedding_sim": Case(
        "transformer",
        lambda n: n["EmbeddingSim"](),
        ["x", "table"],
        mask=["mask", None],
    ),
    "embedding_sim_no_bias": Case(
        "transformer", lambda n: n["EmbeddingSim"](use_bias=False), ["x", "table"]
    ),
    # keras-bert 0.89's layers (kerastack.bert.compat)
    "token_embedding": Case(
        "bert",
        lambda n: n["TokenEmbedding"](input_dim=VOCAB, output_dim=WIDTH, mask_zero=True),
        "ids",
    ),
    "embedding_similarity": Case(
        "bert", lambda n: n["EmbeddingSimilarity"](), ["x", "table"], mask=["mask", None]
    ),
    "masked": Case("bert", lambda n: n["Masked"](), ["x", "chosen"], mask=["mask", None]),
    "masked_return_masked": Case(
        "bert", lambda n: n["Masked"](return_masked=True), ["x", "chosen"], mask=["mask", None]
    ),
    "extract": Case("bert", lambda n: n["Extract"](index=1), "x", mask="mask"),
    "extract_first": Case("bert", lambda n: n["Extract"](index=0), "x"),
    "task_embedding": Case(
        "bert",
        lambda n: n["TaskEmbedding"](input_dim=3, output_dim=WIDTH),
        ["x", "tasks"],
        mask=["mask", None],
    ),
    "task_embedding_mask_zero": Case(
        "bert",
        lambda n: n["TaskEmbedding"](input_dim=3, output_dim=WIDTH, mask_zero=True),
        ["x", "tasks"],
        mask=["mask", None],
    ),
    "masked_conv_valid": Case(
        "bert", lambda n: n["MaskedConv1D"](filters=4, kernel_size=3), "x", mask="mask"
    ),
    "masked_conv_same_dilated": Case(
        "bert",
        lambda n: n["MaskedConv1D"](filters=4, kernel_size=2, padding="same", dilation_rate=2),
        "x",
        mask="mask",
    ),
    "masked_conv_no_mask": Case(
        "bert", lambda n: n["MaskedConv1D"](filters=3, kernel_size=3, padding="same"), "wide"
    ),
    "masked_max_pool": Case("bert", lambda n: n["MaskedGlobalMaxPool1D"](), "x", mask="mask"),
    "masked_max_pool_no_mask": Case("bert", lambda n: n["MaskedGlobalMaxPool1D"](), "x"),
}


def case_weights(name, shapes):
    """Seeded arrays of `shapes`, from `name` (the same on every machine)."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    return [(0.5 * rng.normal(size=shape)).astype("float32") for shape in shapes]


def _pick(arrays, spec, tensor, row=None, cut=None):
    if spec is None:
        return None
    if isinstance(spec, list):
        return [_pick(arrays, item, tensor, row, cut) for item in spec]
    value = arrays[spec]
    if row is not None:
        value = value[row : row + 1]
        if cut is not None and spec in cut:
            value = value[:, : cut[spec]]
    return tensor(value)


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def run(names, name, arrays, weights=None, row=None):
    """`(weights, outputs, masks)` of the case `name` on the stack of `names`, NumPy
    arrays (masks None where the layer gives none). `weights`: set on the
    layer (default: `case_weights` shaped as the layer's); `row`: run on
    that row alone, each input cut to `case.cut` and without masks."""
    case = CASES[name]
    keras, tensor, numpy = names["keras"], names["tensor"], names["numpy"]
    layer = case.make(names)
    cut_inputs = case.cut if row is not None else None
    inputs = _pick(arrays, case.inputs, tensor, row, cut_inputs)
    mask = _pick(arrays, case.mask, tensor) if row is None else None
    embedding = None
    if case.embed or case.functional:
        embedding = keras.layers.Embedding(VOCAB, WIDTH, mask_zero=True)
        embedding(inputs)
        embedding.set_weights([arrays["embedding"]])
    if case.functional:
        ids = keras.Input((None,), dtype="int32")
        model = keras.Model(ids, layer(embedding(ids)))

        def call():
            return model(inputs)

    else:
        if case.embed:
            ids, inputs = inputs, embedding(inputs)
            mask = embedding.compute_mask(ids)

        def call():
            if mask is not None and case.call_mask:
                return layer(inputs, mask=mask)
            return layer(inputs)

    call()  # builds the layer
    if weights is None:
        weights = case_weights(name, [np.shape(w) for w in layer.get_weights()])
    layer.set_weights(weights)
    outputs = [numpy(output) for output in _as_list(call())]
    if case.losses:
        outputs.append(np.asarray(sum(float(numpy(loss)) for loss in layer.losses), "float32"))
    masks = None
    if case.compute_mask and not case.functional:
        masks = [
            None if m is None else numpy(m) for m in _as_list(layer.compute_mask(inputs, mask))
        ]
    return list(weights), outputs, masks


def record(names, arrays):
    """`{key: array}` for every case on the stack of `names`."""
    out = {}
    for name, case in CASES.items():
        weights, outputs, masks = run(names, name, arrays)
        out.update({f"{name}/w{i}": w for i, w in enumerate(weights)})
        out.update({f"{name}/o{i}": o for i, o in enumerate(outputs)})
        if masks is not None:
            out[f"{name}/mask_present"] = np.array([m is not None for m in masks])
            out.update({f"{name}/m{i}": m for i, m in enumerate(masks) if m is not None})
        if case.cut is not None:
            _, cut_outputs, _ = run(names, name, arrays, weights=weights, row=1)
            out.update({f"{name}/t{i}": o for i, o in enumerate(cut_outputs)})
    return out


def old_names():
    """The real old classes, on tf-keras (needs them installed)."""
    os.environ.setdefault("TF_KERAS", "1")
    import keras_bert
    import keras_embed_sim
    import keras_layer_normalization
    import keras_multi_head
    import keras_pos_embd
    import keras_position_wise_feed_forward
    import keras_self_attention
    import keras_transformer
    import tensorflow as tf
    from tensorflow import keras

    names = {
        "keras": keras,
        "tensor": tf.constant,
        "numpy": lambda x: np.asarray(x),
        "gelu": keras_transformer.gelu,
    }
    sources = {
        keras_self_attention: (
            "SeqSelfAttention",
            "SeqWeightedAttention",
            "ScaledDotProductAttention",
            "ResidualScaledDotProductAttention",
        ),
        keras_multi_head: ("MultiHeadAttention", "MultiHead"),
        keras_pos_embd: ("PositionEmbedding", "TrigPosEmbedding"),
        keras_layer_normalization: ("LayerNormalization",),
        keras_position_wise_feed_forward: ("FeedForward",),
        keras_embed_sim: ("EmbeddingRet", "EmbeddingSim"),
        keras_bert.layers: (
            "TokenEmbedding",
            "EmbeddingSimilarity",
            "Masked",
            "Extract",
            "TaskEmbedding",
            "MaskedConv1D",
            "MaskedGlobalMaxPool1D",
        ),
    }
    for module, classes in sources.items():
        names.update({name: getattr(module, name) for name in classes})
    return names


def compute():
    """The reference from the real old packages: inputs and every case."""
    arrays = inputs()
    out = {f"in/{name}": value for name, value in arrays.items()}
    out.update(record(old_names(), arrays))
    return out


def load():
    with np.load(FIXTURE) as data:
        return {name: data[name] for name in data.files}


def main():
    os.makedirs(os.path.dirname(FIXTURE), exist_ok=True)
    np.savez_compressed(FIXTURE, **compute())
    print(f"wrote {FIXTURE} ({os.path.getsize(FIXTURE)} bytes, {len(CASES)} cases)")


if __name__ == "__main__":
    main()
