"""Golden values: hand-set weights and inputs with outputs derived by hand or
published by the keras-bert family's own tests.

NumPy only, so that the Keras 3 tests (tests/<package>/) and the portable
suite (tests/portable/, every lane, Keras 2 included) check the same numbers.
Each derivation is written next to its values. Weights are given by what they
are (`W_a`, `gamma`, ...), not in any layer's weight order.

Letters: B batch, T query length, S key length, D width, N heads, H head size.
"""

import math

import numpy as np


def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


# -- attention ------------------------------------------------------------------

# Two one-hot positions, x0 = [1, 0] and x1 = [0, 1]: (B, T, D) = (1, 2, 2).
ONE_HOT = np.eye(2, dtype="float32")[None]

# SelfAttention, multiplicative, W_a = I, b_a = 0 on ONE_HOT: e[t, s] = x_t . x_s
# = I, so each row's softmax is [e, 1] / (e + 1) on its own position first, and
# a @ x = a for one-hot x: the outputs equal the weights.
SELF_ATTENTION_MULTIPLICATIVE_W = np.eye(2)
SELF_ATTENTION_MULTIPLICATIVE_OUTPUTS = np.array(
    [
        [math.e / (math.e + 1), 1 / (math.e + 1)],
        [1 / (math.e + 1), math.e / (math.e + 1)],
    ]
)  # (T, T) weights = (T, D) outputs of batch 0

# The same with a sigmoid on the scores: e = sigmoid(I) has sigmoid(1) on the
# diagonal and sigmoid(0) = 1/2 off it, so a[t, t] = p and a[t, s] = 1 - p with
# p = exp(sigmoid(1)) / (exp(sigmoid(1)) + exp(1/2)).
_P_SIGMOID = math.exp(_sigmoid(1.0)) / (math.exp(_sigmoid(1.0)) + math.exp(0.5))
SELF_ATTENTION_MULTIPLICATIVE_SIGMOID_OUTPUTS = np.array(
    [[_P_SIGMOID, 1 - _P_SIGMOID], [1 - _P_SIGMOID, _P_SIGMOID]]
)

# SelfAttention, additive with U = 1: W_t = 0, W_x = [[1], [0]], b_h = 0,
# w_a = [[1]], b_a = 0. The score depends on the key only, e[t, s] =
# tanh(x_s[0]), so on ONE_HOT every row is [exp(tanh 1), 1] / (exp(tanh 1) + 1),
# and the outputs equal the weights.
SELF_ATTENTION_ADDITIVE_WEIGHTS = {
    "Wt": np.zeros((2, 1)),
    "Wx": np.array([[1.0], [0.0]]),
    "bh": np.zeros(1),
    "Wa": np.ones((1, 1)),
    "ba": np.zeros(1),
}
_Q_ADDITIVE = math.exp(math.tanh(1.0))
SELF_ATTENTION_ADDITIVE_OUTPUTS = np.array(
    [[_Q_ADDITIVE / (_Q_ADDITIVE + 1), 1 / (_Q_ADDITIVE + 1)]] * 2
)  # (T, T) weights = (T, D) outputs of batch 0

# WeightedAttention, w = [[1], [0]], b = 0 on ONE_HOT: e = [1, 0], a = [e, 1] /
# (e + 1) and the output a @ x = a. Masking x1 leaves a = [1, 0] and the
# output x0.
WEIGHTED_ATTENTION_W = np.array([[1.0], [0.0]])
WEIGHTED_ATTENTION_OUTPUTS = np.array([[math.e / (math.e + 1), 1 / (math.e + 1)]])  # (B, D)
WEIGHTED_ATTENTION_MASK = np.array([[True, False]])
WEIGHTED_ATTENTION_MASKED_OUTPUTS = np.array([[1.0, 0.0]])

# ScaledDotProductAttention, q = k = ONE_HOT, H = 2: q k^T = I, scaled by
# 1/sqrt(2), so each row's softmax puts p = exp(c) / (exp(c) + 1), c = 1/sqrt(2),
# on its own position and 1 - p on the other. v = [[1, 2], [3, 4]]:
# out[0] = p v0 + (1 - p) v1, out[1] = (1 - p) v0 + p v1.
SDPA_VALUE = np.array([[[1.0, 2.0], [3.0, 4.0]]], "float32")
_P_SDPA = math.exp(1 / math.sqrt(2)) / (math.exp(1 / math.sqrt(2)) + 1)
SDPA_WEIGHTS = np.array([[_P_SDPA, 1 - _P_SDPA], [1 - _P_SDPA, _P_SDPA]])  # (T, S)
SDPA_OUTPUTS = SDPA_WEIGHTS @ SDPA_VALUE[0]  # (T, D)

# keras-self-attention's test_sample for ScaledDotProductAttention: embedding
# rows (row 0 is padding, mask_zero=True) and ids; q = k = v = embedded. The
# output row at position 2 is the one its tests publish; ids 1 at positions 0
# and 3 give equal rows, and the padded query gives zeros.
SAMPLE_TABLE = np.array(
    [
        [0.1, 0.2, 0.3, 0.4, 0.5],
        [0.2, 0.3, 0.4, 0.6, 0.5],
        [0.4, 0.7, 0.2, 0.6, 0.9],
        [0.3, 0.5, 0.8, 0.9, 0.1],
    ]
)
SAMPLE_IDS = np.array([[1, 2, 3, 1, 0]], "int32")
SAMPLE_ROW_2 = [0.27883747, 0.45767492, 0.47448885, 0.69199574, 0.47368336]


# -- multihead ------------------------------------------------------------------

# MultiHeadAttention with one head, D = H = O = 2: W_q = W_k = W_v = I (as
# (D, N, H) = (2, 1, 2) kernels), W_o = 2 I (as (N, H, O) = (1, 2, 2)),
# b_o = [1, -1], other biases zero. Keras's layout and order.
_EYE = np.eye(2, dtype="float32")
_ZEROS = np.zeros((1, 2), "float32")
MHA_WEIGHTS = [
    _EYE[:, None, :],
    _ZEROS,
    _EYE[:, None, :],
    _ZEROS,
    _EYE[:, None, :],
    _ZEROS,
    2 * _EYE[None],
    np.array([1.0, -1.0], "float32"),
]
# Queries q0 = [sqrt(2) ln 3, 0] and q1 = [0, 0]; keys = values = [1, 0],
# [0, 1]. Scaled scores (1/sqrt(H) = 1/sqrt(2)): q0 -> [ln 3, 0] -> softmax
# [3/4, 1/4]; q1 -> [0, 0] -> [1/2, 1/2]. Heads = weights @ values, outputs =
# 2 * heads + [1, -1].
MHA_QUERY = np.array([[[math.sqrt(2) * math.log(3), 0.0], [0.0, 0.0]]], "float32")
MHA_VALUE = np.array([[[1.0, 0.0], [0.0, 1.0]]], "float32")
MHA_OUTPUTS = [[[2.5, -0.5], [2.0, 0.0]]]
MHA_SCORES = [[[[0.75, 0.25], [0.5, 0.5]]]]  # (B, N, T, S)
# Value 1 is padding: each real query sees only value 0 = [1, 0], so outputs
# are 2 * [1, 0] + [1, -1] = [3, -1]. Query 1 is padding: zeros.
MHA_QUERY_MASK = np.array([[True, False]])
MHA_VALUE_MASK = np.array([[True, False]])
MHA_MASKED_OUTPUTS = [[[3.0, -1.0], [0.0, 0.0]]]
MHA_MASKED_SCORES = [[[[1.0, 0.0], [0.0, 0.0]]]]
# Causal: q0 sees only key 0 -> heads [1, 0] -> [3, -1]; q1 sees both keys
# with scores [0, 0] -> [1/2, 1/2] -> [2, 0].
MHA_CAUSAL_OUTPUTS = [[[3.0, -1.0], [2.0, 0.0]]]


# -- position -------------------------------------------------------------------

# PositionEmbedding with the table arange(12) as (4, 3): inputs of length 2 at
# start_index=1 get rows 1 and 2, whatever their values.
POSITION_TABLE = np.arange(12, dtype="float32").reshape(4, 3)
POSITION_ROWS_1_2 = [[3.0, 4.0, 5.0], [6.0, 7.0, 8.0]]


def sine_goldens():
    """SinePositionEncoding: `(features, max_wavelength, start_index, rows)`.

    D = 4: features 0, 1 at frequency 1, features 2, 3 at 10000 ** -0.5 =
    0.01. D = 5, max_wavelength 32, from position 4: features 2, 3 at
    32 ** (-2/5) = 1/4; the last (even) feature is a sine at 32 ** (-4/5) = 1/16.
    """
    return [
        (
            4,
            10000,
            0,
            [
                [0.0, 1.0, 0.0, 1.0],
                [math.sin(1), math.cos(1), math.sin(0.01), math.cos(0.01)],
                [math.sin(2), math.cos(2), math.sin(0.02), math.cos(0.02)],
            ],
        ),
        (
            5,
            32,
            4,
            [
                [math.sin(4), math.cos(4), math.sin(1.0), math.cos(1.0), math.sin(0.25)],
                [math.sin(5), math.cos(5), math.sin(1.25), math.cos(1.25), math.sin(5 / 16)],
            ],
        ),
    ]


def rotary_unit_vectors(length):
    """RotaryEmbedding (default settings, H = 4) of the unit vectors e0 and e1
    at positions 0 .. length - 1: `(inputs, outputs)`, each `(2, T, 4)`.

    Pairs (0, 2) turn at frequency 1 and (1, 3) at 10000 ** -0.5 = 0.01:
    e0 -> cos p e0 + sin p e2, e1 -> cos(p/100) e1 + sin(p/100) e3.
    """
    inputs = np.zeros((2, length, 4), "float32")
    inputs[0, :, 0] = 1.0
    inputs[1, :, 1] = 1.0
    outputs = np.zeros((2, length, 4))
    for p in range(length):
        outputs[0, p] = [math.cos(p), 0.0, math.sin(p), 0.0]
        outputs[1, p] = [0.0, math.cos(p / 100), 0.0, math.sin(p / 100)]
    return inputs, outputs


# RotaryEmbedding(max_wavelength=100, scaling_factor=2) at position 2: angle 1
# for the pair (0, 2) and 100 ** -0.5 = 0.1 for (1, 3).
ROTARY_SCALED_POSITION = 2
ROTARY_SCALED_VECTOR = [1.0, 2.0, 3.0, 4.0]
ROTARY_SCALED_OUTPUT = [
    1 * math.cos(1) - 3 * math.sin(1),
    2 * math.cos(0.1) - 4 * math.sin(0.1),
    3 * math.cos(1) + 1 * math.sin(1),
    4 * math.cos(0.1) + 2 * math.sin(0.1),
]


def keras_pos_embd_expand_table():
    """keras-pos-embd's test_index and test_mask_zero: a `(21, 2)` table
    (`input_dim=10`, positions -10 .. 10) whose rows 6 and 20, positions -4 and
    10, hold known values."""
    table = np.random.default_rng(2).random((21, 2))
    table[6] = [0.25, 0.1]
    table[20] = [0.6, -0.2]
    return table


# Positions -4, 10 and 100 (clipped to 10); mask_zero=100 masks the last.
KERAS_POS_EMBD_EXPAND_IDS = np.array([[-4, 10, 100]], "int32")
KERAS_POS_EMBD_EXPAND_OUTPUTS = [[[0.25, 0.1], [0.6, -0.2], [0.6, -0.2]]]
KERAS_POS_EMBD_EXPAND_MASK = [[True, True, False]]


def keras_pos_embd_add_table():
    """keras-pos-embd's add and concat tests: a `(10, 2)` table whose rows 1
    and 3 hold known values; the inputs are ones `(1, 5, 2)`."""
    table = np.random.default_rng(3).random((10, 2))
    table[1] = [0.25, 0.1]
    table[3] = [0.6, -0.2]
    return table


KERAS_POS_EMBD_ADD_ROWS = {1: [1.25, 1.1], 3: [1.6, 0.8]}
KERAS_POS_EMBD_CONCAT_ROWS = {1: [1.0, 1.0, 0.25, 0.1], 3: [1.0, 1.0, 0.6, -0.2]}

# keras-pos-embd's TrigPosEmbedding test_brute formula on positions 0 and 1,
# width 4: [sin(p), cos(p), sin(p / 100), cos(p / 100)].
TRIG_POSITIONS = np.array([[0, 1]], "int32")
TRIG_OUTPUTS = [[0.0, 1.0, 0.0, 1.0], [math.sin(1), math.cos(1), math.sin(0.01), math.cos(0.01)]]


# -- layernorm ------------------------------------------------------------------

# Rows [0.2, 0.1, 0.3] and [0.5, 0.1, 0.1] normalize to
# [0, -sqrt(3/2), sqrt(3/2)] and [sqrt(2), -1/sqrt(2), -1/sqrt(2)].
LAYER_NORM_X = np.array([[[0.2, 0.1, 0.3], [0.5, 0.1, 0.1]]], "float32")
# Then gamma = [1, 2, 3], beta = [0, 1, -1] (epsilon 1e-12).
LAYER_NORM_GAMMA = np.array([1.0, 2.0, 3.0])
LAYER_NORM_BETA = np.array([0.0, 1.0, -1.0])
_R, _S = math.sqrt(1.5), math.sqrt(0.5)
LAYER_NORM_OUTPUTS = [[[0.0, -2 * _R + 1, 3 * _R - 1], [2 * _S, -2 * _S + 1, -3 * _S - 1]]]
# keras-layer-normalization's own test_sample: LAYER_NORM_X with gamma = 1,
# beta = 0 and its default epsilon.
LEGACY_LAYER_NORM_OUTPUTS = [
    [[0.0, -1.22474487, 1.22474487], [1.41421356, -0.707106781, -0.707106781]]
]

# epsilon goes under the square root with the variance: x = [-1e-3, 1e-3] has
# var = 1e-6; with epsilon = 3e-6 the output is +-1e-3 / sqrt(4e-6) = +-0.5.
LAYER_NORM_EPSILON = 3e-6
LAYER_NORM_EPSILON_X = np.array([[-1e-3, 1e-3]], "float32")
LAYER_NORM_EPSILON_OUTPUTS = [[-0.5, 0.5]]
# The legacy layer the same way: x = [0, 2e-6] has var = 1e-12; with epsilon =
# 1e-12 the output is +-1e-6 / sqrt(2e-12) = +-1/sqrt(2); were epsilon added
# to the standard deviation it would be about +-1.
LEGACY_LAYER_NORM_EPSILON = 1e-12
LEGACY_LAYER_NORM_EPSILON_X = np.array([[0.0, 2e-6]], "float32")
LEGACY_LAYER_NORM_EPSILON_OUTPUTS = [[-math.sqrt(0.5), math.sqrt(0.5)]]

# RMSNormalization: x = [3, 4] has rms = sqrt(12.5), so x / rms = [0.6, 0.8] *
# sqrt(2); then gamma = [1, 0.5] (epsilon 1e-12).
RMS_NORM_X = np.array([[3.0, 4.0]], "float32")
RMS_NORM_GAMMA = np.array([1.0, 0.5])
RMS_NORM_OUTPUTS = [[0.6 * math.sqrt(2.0), 0.4 * math.sqrt(2.0)]]


# -- transformer ----------------------------------------------------------------

# FeedForward with D = F = O = 2: W1 = I, b1 = [0, -3]; Wg = 3 I, bg = 0;
# W2 = diag(2, 5), b2 = [0.5, 0.5]. On x = [1, 2]: relu([1, -1]) = [1, 0], so
# [1, 0] diag(2, 5) + 0.5 = [2.5, 0.5]; gated, the gate is [3, 6]: [1, 0] *
# [3, 6] = [3, 0], and [3, 0] diag(2, 5) + 0.5 = [6.5, 0.5].
FEED_FORWARD_WEIGHTS = {
    "w1": np.eye(2, dtype="float32"),
    "b1": np.array([0.0, -3.0], "float32"),
    "wg": 3 * np.eye(2, dtype="float32"),
    "bg": np.zeros(2, "float32"),
    "w2": np.diag([2.0, 5.0]).astype("float32"),
    "b2": np.array([0.5, 0.5], "float32"),
}
FEED_FORWARD_X = np.array([[[1.0, 2.0]]], "float32")
FEED_FORWARD_OUTPUTS = [[[2.5, 0.5]]]
FEED_FORWARD_GATED_OUTPUTS = [[[6.5, 0.5]]]
