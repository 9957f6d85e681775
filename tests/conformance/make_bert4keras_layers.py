"""Record what the real bert4keras 0.11.5 computes for its backend functions
and its CRF / MEMM / GlobalPointer layers, for kerastack.bert4keras to be
checked against.

Run from the repository root in the tfkeras lane's environment (tf-keras with
the real bert4keras installed):

    TF_KERAS=1 TF_USE_LEGACY_KERAS=1 python -m tests.conformance.make_bert4keras_layers

It writes `tests/conformance/fixtures/bert4keras/layers.npz`. Every input and
every weight is made here from a seeded NumPy generator and set on the real
layers explicitly, so the Keras 3 tests load the same arrays into
kerastack's layers. Masked scores are `-inf`, as bert4keras writes them.
"""

import os

import numpy as np

FIXTURE = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "fixtures", "bert4keras", "layers.npz"
)

# Sizes, small on purpose: the fixture stays a few KB.
BATCH, LENGTH, LABELS = 3, 6, 4  # CRF / MEMM: batch, steps, tags
CRF_LENGTHS = (6, 4, 2)  # the valid steps of each row (right padding)
HIDDEN, HEADS, HEAD_SIZE, GP_LENGTH = 8, 2, 4, 5  # GlobalPointer
GP_LENGTHS = (5, 3)


def inputs():
    """The arrays fed to the real bert4keras (and to kerastack's tests)."""
    rng = np.random.default_rng(1905)
    f32 = np.float32
    arrays = {}
    # sequence_masking and attention_normalize
    arrays["sm_x"] = rng.normal(size=(2, 5, 3)).astype(f32)
    arrays["sm_mask"] = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], f32)
    arrays["sm_scores"] = rng.normal(size=(2, 5, 5)).astype(f32)
    # multilabel losses
    arrays["ml_pred"] = (3 * rng.normal(size=(4, 7))).astype(f32)
    arrays["ml_true"] = (rng.random(size=(4, 7)) < 0.3).astype(f32)
    arrays["ml_true"][0] = 0.0  # a row with no positive class
    masked = arrays["ml_pred"].copy()
    masked[1, 5:] = -np.inf  # classes taken out of a row, as GlobalPointer does
    arrays["ml_pred_masked"] = masked
    arrays["sml_true"] = np.array([[1, 3], [0, 6], [2, 2], [5, 4]], "int32")
    arrays["sml_true_zero"] = np.array([[1, 3], [0, 0], [2, 0], [5, 4]], "int32")
    # gelu, piecewise_linear, root_mean_square, batch_gather, RoPE
    arrays["act_x"] = np.linspace(-4, 4, 17).astype(f32)
    arrays["pl_t"] = np.array([0, 250, 500, 1000, 1500, 2000, 3000], f32)
    arrays["bg_params"] = rng.normal(size=(2, 5, 3)).astype(f32)
    arrays["bg_indices"] = np.array([[4, 0, 2], [1, 1, 3]], "int32")
    arrays["rope_sin"] = rng.normal(size=(1, 5, 4)).astype(f32)
    arrays["rope_q"] = rng.normal(size=(2, 5, 3, 4)).astype(f32)
    arrays["rope_k"] = rng.normal(size=(2, 5, 3, 4)).astype(f32)
    # CRF and MEMM
    lengths = np.array(CRF_LENGTHS)
    arrays["crf_mask"] = (np.arange(LENGTH)[None] < lengths[:, None]).astype(f32)
    arrays["crf_x"] = rng.normal(size=(BATCH, LENGTH, LABELS)).astype(f32)
    arrays["crf_trans"] = rng.normal(size=(LABELS, LABELS)).astype(f32)
    arrays["crf_labels"] = rng.integers(0, LABELS, size=(BATCH, LENGTH)).astype("int32")
    arrays["memm_l_trans"] = rng.normal(size=(LABELS, 2)).astype(f32)
    arrays["memm_r_trans"] = rng.normal(size=(LABELS, 2)).astype(f32)
    # GlobalPointer and EfficientGlobalPointer
    lengths = np.array(GP_LENGTHS)
    arrays["gp_mask"] = (np.arange(GP_LENGTH)[None] < lengths[:, None]).astype(f32)
    arrays["gp_x"] = rng.normal(size=(2, GP_LENGTH, HIDDEN)).astype(f32)
    arrays["gp_kernel"] = (0.3 * rng.normal(size=(HIDDEN, HEADS * HEAD_SIZE * 2))).astype(f32)
    arrays["gp_bias"] = (0.1 * rng.normal(size=(HEADS * HEAD_SIZE * 2,))).astype(f32)
    arrays["egp_p_kernel"] = (0.3 * rng.normal(size=(HIDDEN, HEAD_SIZE * 2))).astype(f32)
    arrays["egp_p_bias"] = (0.1 * rng.normal(size=(HEAD_SIZE * 2,))).astype(f32)
    arrays["egp_q_kernel"] = (0.3 * rng.normal(size=(HEAD_SIZE * 2, HEADS * 2))).astype(f32)
    arrays["egp_q_bias"] = (0.1 * rng.normal(size=(HEADS * 2,))).astype(f32)
    gp_true = (rng.random(size=(2, HEADS, GP_LENGTH, GP_LENGTH)) < 0.2).astype(f32)
    arrays["gp_true"] = np.triu(gp_true) * arrays["gp_mask"][:, None, :, None]
    return arrays


def _global_pointer_loss(K, multilabel_categorical_crossentropy, y_true, y_pred):
    # The loss bert4keras's GlobalPointer examples compile with: one
    # multilabel problem per (sample, head) over every (start, end) pair.
    bh = K.prod(K.shape(y_pred)[:2])
    y_true = K.reshape(y_true, (bh, -1))
    y_pred = K.reshape(y_pred, (bh, -1))
    return K.mean(multilabel_categorical_crossentropy(y_true, y_pred))


def compute():
    """Run the real bert4keras on `inputs()`: `{name: numpy array}`."""
    os.environ.setdefault("TF_KERAS", "1")
    from bert4keras import backend as B
    from bert4keras import layers as L

    K = B.K
    a = inputs()
    out = dict(a)
    t = {k: K.constant(v, dtype=str(v.dtype)) for k, v in a.items()}  # as tensors

    def np_(x):
        return np.asarray(K.eval(x) if not isinstance(x, np.ndarray) else x)

    # --- backend functions ---
    out["sm_default"] = np_(B.sequence_masking(t["sm_x"], t["sm_mask"]))
    out["sm_ninf_axis1"] = np_(B.sequence_masking(t["sm_x"], t["sm_mask"], -np.inf, 1))
    out["sm_axes_12"] = np_(B.sequence_masking(t["sm_scores"], t["sm_mask"], -1e4, [1, 2]))
    out["sm_axis_m1"] = np_(B.sequence_masking(t["sm_scores"], t["sm_mask"], 7.0, -1))
    out["ml_loss"] = np_(B.multilabel_categorical_crossentropy(t["ml_true"], t["ml_pred"]))
    out["ml_loss_masked"] = np_(
        B.multilabel_categorical_crossentropy(t["ml_true"], t["ml_pred_masked"])
    )
    out["sml_loss"] = np_(B.sparse_multilabel_categorical_crossentropy(t["sml_true"], t["ml_pred"]))
    out["sml_loss_zero"] = np_(
        B.sparse_multilabel_categorical_crossentropy(t["sml_true_zero"], t["ml_pred"], True)
    )
    out["gelu_erf"] = np_(B.gelu_erf(t["act_x"]))
    out["gelu_tanh"] = np_(B.gelu_tanh(t["act_x"]))
    out["pl_out"] = np_(B.piecewise_linear(t["pl_t"], {1000: 1.0, 2000: 0.1}))
    out["pl_out_nozero"] = np_(B.piecewise_linear(t["pl_t"], {500: 2.0, 1500: 0.5}, False))
    out["rms"] = np_(B.root_mean_square(t["sm_x"], axis=-1))
    out["rms_all"] = np_(B.root_mean_square(t["sm_x"]))
    out["bg_out"] = np_(B.batch_gather(t["bg_params"], t["bg_indices"]))
    out["align_out_shape"] = np.array(K.int_shape(B.align(t["sm_mask"], [0, 2], 4)))
    q, k = B.apply_rotary_position_embeddings(
        K.constant(a["rope_sin"]), K.constant(a["rope_q"]), K.constant(a["rope_k"])
    )
    out["rope_q_out"], out["rope_k_out"] = np_(q), np_(k)
    for method in ("softmax", "squared_relu", "softmax_plus"):
        out[f"an_{method}"] = np_(B.attention_normalize(t["sm_scores"], t["sm_mask"], -1, method))

    # --- CRF ---
    x, mask = K.constant(a["crf_x"]), K.constant(a["crf_mask"])
    onehot = np.eye(LABELS, dtype="float32")[a["crf_labels"]]
    for lr in (1, 3):
        crf = L.ConditionalRandomField(lr_multiplier=lr)
        crf(x, mask=mask)
        crf.set_weights([a["crf_trans"]])  # the stored weight, `_trans`
        y = crf(x, mask=mask)
        out[f"crf{lr}_out"] = np_(y)
        out[f"crf{lr}_dense_loss"] = np_(crf.dense_loss(K.constant(onehot), y))
        out[f"crf{lr}_sparse_loss"] = np_(crf.sparse_loss(K.constant(a["crf_labels"]), y))
        out[f"crf{lr}_dense_accuracy"] = np_(crf.dense_accuracy(K.constant(onehot), y))
        out[f"crf{lr}_sparse_accuracy"] = np_(crf.sparse_accuracy(K.constant(a["crf_labels"]), y))
    # No mask at all: every step counts.
    crf = L.ConditionalRandomField()
    crf(x)
    crf.set_weights([a["crf_trans"]])
    out["crf_nomask_sparse_loss"] = np_(crf.sparse_loss(K.constant(a["crf_labels"]), crf(x)))

    # --- MEMM, full and low-rank transitions ---
    for name, hidden_dim, weights in (
        ("memm", None, [a["crf_trans"]]),
        ("memm_lowrank", 2, [a["memm_l_trans"], a["memm_r_trans"]]),
    ):
        memm = L.MaximumEntropyMarkovModel(hidden_dim=hidden_dim)
        memm(x, mask=mask)
        memm.set_weights(weights)
        y = memm(x, mask=mask)
        labels = K.constant(a["crf_labels"])
        out[f"{name}_sparse_loss"] = np_(memm.sparse_loss(labels, y))
        out[f"{name}_dense_loss"] = np_(memm.dense_loss(K.constant(onehot), y))
        out[f"{name}_sparse_accuracy"] = np_(memm.sparse_accuracy(labels, y))

    # --- GlobalPointer / EfficientGlobalPointer ---
    x, mask = K.constant(a["gp_x"]), K.constant(a["gp_mask"])
    variants = {
        "gp": (L.GlobalPointer, {}, [a["gp_kernel"], a["gp_bias"]]),
        "gp_plain": (
            L.GlobalPointer,
            {"RoPE": False, "tril_mask": False},
            [a["gp_kernel"], a["gp_bias"]],
        ),
        "egp": (
            L.EfficientGlobalPointer,
            {},
            [a["egp_p_kernel"], a["egp_p_bias"], a["egp_q_kernel"], a["egp_q_bias"]],
        ),
    }
    for name, (cls, kwargs, weights) in variants.items():
        layer = cls(HEADS, HEAD_SIZE, **kwargs)
        layer(x, mask=mask)
        layer.set_weights(weights)
        y = layer(x, mask=mask)
        out[f"{name}_out"] = np_(y)
        out[f"{name}_loss"] = np_(
            _global_pointer_loss(
                K, B.multilabel_categorical_crossentropy, K.constant(a["gp_true"]), y
            )
        )
    layer = L.GlobalPointer(HEADS, HEAD_SIZE)
    layer(x)
    layer.set_weights([a["gp_kernel"], a["gp_bias"]])
    out["gp_nomask_out"] = np_(layer(x))
    return {k: np.asarray(v) for k, v in out.items()}


def main():
    os.makedirs(os.path.dirname(FIXTURE), exist_ok=True)
    np.savez_compressed(FIXTURE, **compute())
    print(f"wrote {FIXTURE} ({os.path.getsize(FIXTURE)} bytes)")


if __name__ == "__main__":
    main()
