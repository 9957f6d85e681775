"""keras-bert's names, on Keras 3.

`Tokenizer` is keras-bert's, rule for rule (see
`kerastack.tokenizers.compat`): the same pieces and ids as keras-bert 0.89.
The layers of keras-bert (`TokenEmbedding`, `EmbeddingSimilarity`,
`Extract`, `Masked`, `MaskedConv1D`, `MaskedGlobalMaxPool1D`,
`TaskEmbedding`) and `get_inputs`, `get_embedding` are here too.

`get_model`, `build_model_from_config`, `load_trained_model_from_checkpoint`
build keras-bert's model layer for layer: the same layers under the same
names (`Embedding-Token`, `Embedding-Norm`,
`Encoder-1-MultiHeadSelfAttention`, ..., `MLM-Sim`, `NSP`), with the same
weights in the same order, from the compat layers of the packages below
(keras-transformer's blocks are `kerastack.transformer.compat`'s). Weights
and `.h5` models saved by keras-bert load into them (`get_custom_objects()`
names the classes); `trainable` takes keras-bert's name prefixes. As in
keras-bert, token id 0 is padding and the name `"gelu"` is the tanh
approximation.
"""

import collections
import os

import numpy as np

from kerastack.bert._compat_datasets import PretrainedInfo, PretrainedList, get_pretrained
from kerastack.bert.bert_config import BertConfig
from kerastack.bert.features import _pool
from kerastack.core import InitialWeightsMixin, check_int, keras, ops, serializable
from kerastack.layernorm.compat import LayerNormalization
from kerastack.models import checkpoint_prefix, read_json_object, read_tf_checkpoint
from kerastack.position import compat as position_compat
from kerastack.tokenizers import compat as tokenizers_compat
from kerastack.transformer import compat as transformer_compat

__all__ = [
    "POOL_AVE",
    "POOL_MAX",
    "POOL_NSP",
    "TOKEN_CLS",
    "TOKEN_MASK",
    "TOKEN_PAD",
    "TOKEN_SEP",
    "TOKEN_UNK",
    "AdamWarmup",
    "EmbeddingSimilarity",
    "Extract",
    "KerasBertModel",
    "Masked",
    "MaskedConv1D",
    "MaskedGlobalMaxPool1D",
    "PretrainedInfo",
    "PretrainedList",
    "TaskEmbedding",
    "TokenEmbedding",
    "Tokenizer",
    "build_model_from_config",
    "calc_train_steps",
    "compile_model",
    "extract_embeddings",
    "extract_embeddings_generator",
    "gen_batch_inputs",
    "get_base_dict",
    "get_checkpoint_paths",
    "get_custom_objects",
    "get_embedding",
    "get_inputs",
    "get_model",
    "get_pretrained",
    "get_token_embedding",
    "load_model_weights_from_checkpoint",
    "load_trained_model_from_checkpoint",
    "load_vocabulary",
]

# keras-bert's tokenizer names, which need no Keras: kerastack-tokenizers' compat.
TOKEN_PAD = tokenizers_compat.TOKEN_PAD
TOKEN_UNK = tokenizers_compat.TOKEN_UNK
TOKEN_CLS = tokenizers_compat.TOKEN_CLS
TOKEN_SEP = tokenizers_compat.TOKEN_SEP
TOKEN_MASK = tokenizers_compat.TOKEN_MASK
Tokenizer = tokenizers_compat.Tokenizer
get_base_dict = tokenizers_compat.get_base_dict
load_vocabulary = tokenizers_compat.load_vocabulary

POOL_NSP = "POOL_NSP"
POOL_MAX = "POOL_MAX"
POOL_AVE = "POOL_AVE"
# keras-bert's poolings as kerastack.bert.features names them.
_POOLINGS = {POOL_NSP: "cls", POOL_MAX: "max", POOL_AVE: "mean"}


def get_checkpoint_paths(model_path):
    """The `(config, checkpoint, vocab)` paths of a Google BERT folder.

    Example:

    >>> import os
    >>> paths = get_checkpoint_paths("uncased_L-12_H-768_A-12")
    >>> [os.path.basename(path) for path in paths]
    ['bert_config.json', 'bert_model.ckpt', 'vocab.txt']
    >>> os.path.dirname(paths.vocab)
    'uncased_L-12_H-768_A-12'
    """
    paths = collections.namedtuple("CheckpointPaths", ["config", "checkpoint", "vocab"])
    return paths(
        os.path.join(model_path, "bert_config.json"),
        os.path.join(model_path, "bert_model.ckpt"),
        os.path.join(model_path, "vocab.txt"),
    )


def calc_train_steps(num_example, batch_size, epochs, warmup_proportion=0.1):
    """`(total_steps, warmup_steps)` of a training run.

    Example:

    >>> calc_train_steps(num_example=1000, batch_size=32, epochs=3, warmup_proportion=0.1)
    (96, 9)
    """
    steps_per_epoch = (num_example + batch_size - 1) // batch_size
    total = steps_per_epoch * epochs
    return total, int(total * warmup_proportion)


def gen_batch_inputs(
    sentence_pairs,
    token_dict,
    token_list,
    seq_len=512,
    mask_rate=0.15,
    mask_mask_rate=0.8,
    mask_random_rate=0.1,
    swap_sentence_rate=0.5,
    force_mask=True,
):
    """keras-bert's pretraining batch from pairs of token lists.

    Each non-special token is chosen with probability `mask_rate` (then
    `[MASK]`, a random non-special token of `token_list`, or kept:
    `mask_mask_rate`, `mask_random_rate`, the rest); a share
    `swap_sentence_rate` of the pairs swap second sentences among
    themselves (NSP label 1 when it changed). Draws from `numpy.random`.

    Returns:
        `([token_ids, segment_ids, masked], [mlm_targets, nsp_targets])`,
        arrays `(B, seq_len)` and `(B, seq_len, 1)`, `(B, 1)`; segments are
        1 from the first `[SEP]` on (padding included), as keras-bert's.

    Example:

    >>> token_dict = get_base_dict()  # {"": 0, "[UNK]": 1, "[CLS]": 2, ...}
    >>> for token in ["all", "work", "and", "no", "play"]:
    ...     token_dict[token] = len(token_dict)
    >>> pairs = [[["all", "work"], ["and", "no", "play"]], [["no", "play"], ["all", "work"]]]
    >>> inputs, outputs = gen_batch_inputs(pairs, token_dict, list(token_dict), seq_len=10)
    >>> [x.shape for x in inputs], [y.shape for y in outputs]
    ([(2, 10), (2, 10), (2, 10)], [(2, 10, 1), (2, 1)])
    >>> inputs[1][0].tolist()  # [CLS] all work [SEP] | and no play [SEP] and padding
    [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    """
    # keras-bert drew from numpy's global generator (np.random.seed seeds it).
    random, shuffle, randint = np.random.random, np.random.shuffle, np.random.randint  # noqa: NPY002
    base = get_base_dict()
    unknown = token_dict[TOKEN_UNK]
    size = len(sentence_pairs)
    nsp = np.zeros((size,))
    partner = {}
    if swap_sentence_rate > 0.0:
        swapped = [i for i in range(size) if random() < swap_sentence_rate]
        shuffled = list(swapped)
        shuffle(shuffled)
        partner = dict(zip(swapped, shuffled, strict=True))
        nsp[[i for i in swapped if partner[i] != i]] = 1.0
    words = [token for token in token_list if token not in base]
    token_rows, segment_rows, masked_rows, target_rows = [], [], [], []
    for i in range(size):
        first, second = sentence_pairs[i][0], sentence_pairs[partner.get(i, i)][1]
        tokens = [TOKEN_CLS, *first, TOKEN_SEP, *second, TOKEN_SEP][:seq_len]
        tokens += [TOKEN_PAD] * (seq_len - len(tokens))
        segment_rows.append(([0] * (len(first) + 2) + [1] * seq_len)[:seq_len])
        targets = [token_dict.get(token, unknown) for token in tokens]
        inputs, masked = list(targets), [0] * seq_len
        for position, token in enumerate(tokens):
            if token in base or random() >= mask_rate:
                continue
            masked[position] = 1
            draw = random()
            if draw < mask_mask_rate:
                inputs[position] = token_dict[TOKEN_MASK]
            elif draw < mask_mask_rate + mask_random_rate:
                if not words:
                    raise ValueError(
                        "token_list holds no token but the special ones: there is no "
                        "random token to put in (keras-bert looped forever here)."
                    )
                # keras-bert's draws: from the whole list until a non-special one.
                while (drawn := token_list[randint(0, len(token_list))]) in base:
                    pass
                inputs[position] = token_dict[drawn]
        if force_mask and not any(masked):
            masked[1] = 1
        token_rows.append(inputs)
        masked_rows.append(masked)
        target_rows.append(targets)
    inputs = [np.asarray(rows) for rows in (token_rows, segment_rows, masked_rows)]
    outputs = [np.asarray(target_rows)[..., None], nsp[:, None]]
    return inputs, outputs


@serializable(name="KerasBertAdamWarmup")
class AdamWarmup(keras.optimizers.Optimizer):
    """keras-bert's Adam with warmup, decay and weight decay.

    The learning rate rises linearly to `learning_rate` over `warmup_steps`
    steps, then is `min_lr + (learning_rate - min_lr) * (1 - t /
    decay_steps)` (t counted from the first step, as keras-bert's), and
    `min_lr` after `decay_steps`. `weight_decay * w` is added to the Adam
    step of **every** weight, as in keras-bert 0.89 (its tf.keras optimizer
    keeps `weight_decay_pattern` but never reads it; so does this one, and
    `compile_model` decays biases and layer normalizations too, as there).

    Example:

    >>> from kerastack.core import keras
    >>> optimizer = AdamWarmup(decay_steps=100, warmup_steps=10, learning_rate=1e-3,
    ...     weight_decay=0.01, weight_decay_pattern=["kernel"])
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> model.compile(optimizer=optimizer, loss="mse")
    >>> history = model.fit(np.ones((8, 4)), np.zeros((8, 2)), epochs=2, verbose=0)
    >>> int(optimizer.iterations)
    2
    """

    def __init__(
        self,
        decay_steps,
        warmup_steps,
        min_lr=0.0,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=None,
        weight_decay=0.0,
        weight_decay_pattern=None,
        amsgrad=False,
        **kwargs,
    ):
        learning_rate = kwargs.pop("lr", learning_rate)
        kwargs.setdefault("name", "adam_warmup")
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.decay_steps = float(decay_steps)
        self.warmup_steps = float(warmup_steps)
        self.min_lr = float(min_lr)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = keras.config.epsilon() if epsilon is None else epsilon
        self.decay_rate = float(weight_decay)
        self.weight_decay_pattern = (
            None if weight_decay_pattern is None else list(weight_decay_pattern)
        )
        self.amsgrad = amsgrad

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._decayed = [self._decays(v) for v in var_list]
        self._m = [self.add_variable_from_reference(v, "m") for v in var_list]
        self._v = [self.add_variable_from_reference(v, "v") for v in var_list]
        if self.amsgrad:
            self._v_hat = [self.add_variable_from_reference(v, "v_hat") for v in var_list]

    def _decays(self, variable):
        # keras-bert 0.89 decays every weight when weight_decay > 0: the
        # pattern is kept (and saved) but not read.
        return self.decay_rate > 0.0

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        t = ops.cast(self.iterations + 1, dtype)
        peak = ops.cast(learning_rate, dtype)
        warmup = peak * t / max(self.warmup_steps, 1.0)
        decayed = self.min_lr + (peak - self.min_lr) * (
            1.0 - ops.minimum(t, self.decay_steps) / self.decay_steps
        )
        rate = ops.where(t <= self.warmup_steps, warmup, decayed)
        rate = rate * ops.sqrt(1.0 - ops.power(self.beta_2, t)) / (1.0 - ops.power(self.beta_1, t))
        index = self._get_variable_index(variable)
        m, v = self._m[index], self._v[index]
        # Dense: TensorFlow gives an embedding's gradient as IndexedSlices, which
        # `ops.add` (not `ops.convert_to_tensor`) turns into a tensor.
        gradient = ops.cast(ops.add(gradient, 0.0), dtype)
        self.assign(m, self.beta_1 * m + (1.0 - self.beta_1) * gradient)
        self.assign(v, self.beta_2 * v + (1.0 - self.beta_2) * ops.square(gradient))
        if self.amsgrad:
            v_hat = self._v_hat[index]
            self.assign(v_hat, ops.maximum(v_hat, v))
            v = v_hat
        step = m / (ops.sqrt(v) + self.epsilon)
        if self._decayed[index]:
            step = step + self.decay_rate * variable
        self.assign_sub(variable, rate * step)

    def get_config(self):
        config = super().get_config()
        config.update(
            decay_steps=self.decay_steps,
            warmup_steps=self.warmup_steps,
            min_lr=self.min_lr,
            beta_1=self.beta_1,
            beta_2=self.beta_2,
            epsilon=self.epsilon,
            weight_decay=self.decay_rate,
            weight_decay_pattern=self.weight_decay_pattern,
            amsgrad=self.amsgrad,
        )
        return config


@serializable
class KerasBertModel(keras.Model):
    """A functional model with Keras 2's generator methods, which keras-bert
    code calls (`fit_generator`, ...); they call `fit`, `evaluate` and
    `predict`.

    Example:

    >>> from kerastack.core import keras
    >>> inputs = [keras.Input((4,)), keras.Input((4,))]  # tokens and segments, say
    >>> output = keras.layers.Dense(2)(keras.layers.Concatenate()(inputs))
    >>> model = KerasBertModel(inputs, output)
    >>> model.compile(optimizer="adam", loss="mse")
    >>> def batches():  # Keras 2 style: lists of inputs and of targets
    ...     while True:
    ...         yield [np.ones((2, 4)), np.ones((2, 4))], [np.zeros((2, 2))]
    >>> history = model.fit_generator(batches(), steps_per_epoch=3, epochs=1, verbose=0)
    >>> len(history.history["loss"])
    1
    >>> loss = model.evaluate_generator(batches(), steps=2, verbose=0)
    >>> model.predict_on_batch([np.ones((2, 4)), np.ones((2, 4))]).shape
    (2, 2)
    """

    def fit_generator(self, generator, steps_per_epoch=None, epochs=1, **kwargs):
        for old in ("max_queue_size", "workers", "use_multiprocessing"):
            kwargs.pop(old, None)
        if _is_generator(kwargs.get("validation_data")):
            kwargs["validation_data"] = _as_tuples(kwargs["validation_data"])
        return self.fit(
            _as_tuples(generator), steps_per_epoch=steps_per_epoch, epochs=epochs, **kwargs
        )

    def evaluate_generator(self, generator, steps=None, **kwargs):
        return self.evaluate(_as_tuples(generator), steps=steps, **kwargs)

    def predict_generator(self, generator, steps=None, **kwargs):
        return self.predict(_as_inputs(generator), steps=steps, **kwargs)


def _is_generator(data):
    return data is not None and hasattr(data, "__next__")


def _as_tuples(batches):
    """Keras 2 generators yield lists (`[inputs], [targets]`); TensorFlow's
    data pipeline takes a list for one tensor, so they become tuples."""

    def convert(item):
        if isinstance(item, (list, tuple)):
            return tuple(convert(x) for x in item)
        return item

    return (convert(batch) for batch in batches)


def _as_inputs(batches):
    """A Keras 2 prediction generator's batches as Keras 3's `(x,)`: a tuple
    is `(inputs, targets[, weights])`, anything else (an array, or a list of
    a multi-input model's arrays) the inputs alone, as Keras 2 read them."""
    for batch in batches:
        inputs = batch[0] if isinstance(batch, tuple) else batch
        yield (next(_as_tuples([inputs])),)


@serializable(name="KerasBertAdd")
class _Add(keras.layers.Add):
    """Keras 2's `Add`: the output keeps the mask of the inputs that have one
    (all of them ANDed). Keras 3's drops the mask when any input lacks one,
    which would unmask the padding after `Embedding-Token-Segment` (the
    segment embedding has no mask) and change every output of keras-bert's
    graph. `get_custom_objects()` maps old files' `Add` to it."""

    def compute_mask(self, inputs, mask=None):
        masks = [m for m in (mask or []) if m is not None]
        if not masks:
            return None
        merged = masks[0]
        for m in masks[1:]:
            merged = ops.logical_and(merged, m)
        return merged


@serializable(name="KerasBertTokenEmbedding")
class TokenEmbedding(transformer_compat.EmbeddingRet):
    """keras-bert's `TokenEmbedding`: an `Embedding` returning `[embedded,
    embedding_matrix]` (the matrix for the tied `EmbeddingSimilarity`), with
    the mask of the ids (`mask_zero`) on the first.

    Example:

    >>> embedded, table = TokenEmbedding(input_dim=10, output_dim=4)(np.array([[1, 2, 3]]))
    >>> tuple(embedded.shape), tuple(table.shape)
    ((1, 3, 4), (10, 4))
    """


@serializable(name="KerasBertEmbeddingSimilarity")
class EmbeddingSimilarity(transformer_compat.EmbeddingSim):
    """keras-bert's `EmbeddingSimilarity(initializer, regularizer,
    constraint)`: `softmax(x · Eᵀ + b)` of hidden states `x (B, T, D)`
    against the token table `E (V, D)`, with a bias `b (V,)`; the hidden
    states' mask passes on.

    Example:

    >>> embedded, table = TokenEmbedding(input_dim=10, output_dim=4)(np.array([[1, 2, 3]]))
    >>> probabilities = EmbeddingSimilarity()([embedded, table])
    >>> tuple(probabilities.shape)
    (1, 3, 10)
    >>> [tuple(w.shape) for w in EmbeddingSimilarity().weights]  # built on first call
    []
    """

    def __init__(self, initializer="zeros", regularizer=None, constraint=None, **kwargs):
        for fixed in ("use_bias", "stop_gradient"):
            kwargs.pop(fixed, None)
        super().__init__(
            use_bias=True,
            initializer=initializer,
            regularizer=regularizer,
            constraint=constraint,
            stop_gradient=False,
            **kwargs,
        )

    def get_config(self):
        config = super().get_config()
        for fixed in ("use_bias", "stop_gradient"):
            config.pop(fixed)
        return config


@serializable(name="KerasBertMasked")
class Masked(InitialWeightsMixin, keras.layers.Layer):
    """keras-bert's `Masked`: passes the MLM probabilities on with a Keras
    mask of the chosen positions (those of the input's own mask, if it has
    one, that are also chosen), so the loss counts only those.

    Args:
        return_masked: also return the mask, as floats `(B, T)` (keras-bert's
            second output).

    Example:

    >>> from kerastack.core import ops
    >>> probabilities = np.full((1, 3, 5), 0.2, "float32")
    >>> chosen = np.array([[0, 1, 1]])
    >>> layer = Masked()
    >>> tuple(layer([probabilities, chosen]).shape)
    (1, 3, 5)
    >>> ops.convert_to_numpy(layer.compute_mask([probabilities, chosen])).tolist()
    [[False, True, True]]
    >>> _, masked = Masked(return_masked=True)([probabilities, chosen])
    >>> ops.convert_to_numpy(masked).tolist()
    [[0.0, 1.0, 1.0]]
    """

    def __init__(self, return_masked=False, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.return_masked = return_masked

    def call(self, inputs, mask=None):
        # A copy: Keras 3 keeps the mask a returned input tensor already has,
        # and would never ask compute_mask.
        output = ops.copy(inputs[0])
        if self.return_masked:
            masked = self.compute_mask(inputs, mask)[0]
            return [output, ops.cast(masked, keras.config.floatx())]
        return output

    def compute_mask(self, inputs, mask=None):
        masked = ops.not_equal(inputs[1], 0)  # (B, T)
        if mask is not None and mask[0] is not None:
            masked = ops.logical_and(masked, ops.cast(mask[0], "bool"))
        return [masked, None] if self.return_masked else masked

    def compute_output_shape(self, shapes):
        if self.return_masked:
            return [shapes[0], shapes[0][:-1]]
        return shapes[0]

    def get_config(self):
        return {**super().get_config(), "return_masked": self.return_masked}


@serializable
class Extract(InitialWeightsMixin, keras.layers.Layer):
    """keras-bert's `Extract(index)`: the vector at one position, `x[:, index]`
    `(B, D)`, with no mask (the [CLS] vector, for a classifier).

    Example:

    >>> x = np.arange(12, dtype="float32").reshape(1, 3, 4)
    >>> ops.convert_to_numpy(Extract(index=0)(x)).tolist()
    [[0.0, 1.0, 2.0, 3.0]]
    """

    def __init__(self, index, **kwargs):
        super().__init__(**kwargs)
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise ValueError(f"`index` must be an int, received index={index!r}.")
        self.index = int(index)
        self.supports_masking = True

    def call(self, x, mask=None):
        return x[:, self.index]

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:1]) + tuple(input_shape[2:])

    def get_config(self):
        return {**super().get_config(), "index": self.index}


@serializable
class MaskedConv1D(InitialWeightsMixin, keras.layers.Conv1D):
    """keras-bert's `MaskedConv1D`: a `Conv1D` that zeroes masked steps first
    and passes the mask on (with `padding="valid"`, the mask loses
    `kernel_size // 2 * dilation_rate * 2` steps at its start, as keras-bert
    cut it).

    Example:

    >>> layer = MaskedConv1D(filters=2, kernel_size=3, padding="same")
    >>> tuple(layer(np.ones((1, 5, 4), "float32")).shape)
    (1, 5, 2)
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is not None:
            inputs = inputs * ops.expand_dims(ops.cast(mask, inputs.dtype), -1)
        return super().call(inputs)

    def compute_mask(self, inputs, mask=None):
        if mask is not None and self.padding == "valid":
            mask = mask[:, self.kernel_size[0] // 2 * self.dilation_rate[0] * 2 :]
        return mask


@serializable
class MaskedGlobalMaxPool1D(InitialWeightsMixin, keras.layers.Layer):
    """keras-bert's `MaskedGlobalMaxPool1D`: the maximum over steps `(B, D)`,
    masked steps lowered by 1e6 first (so they lose unless all are masked),
    with no mask after.

    Example:

    >>> x = np.array([[[1.0, 5.0], [3.0, 9.0]]], "float32")
    >>> mask = np.array([[True, False]])
    >>> ops.convert_to_numpy(MaskedGlobalMaxPool1D()(x, mask=mask)).tolist()
    [[1.0, 5.0]]
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is not None:
            hidden = (1.0 - ops.cast(mask, inputs.dtype)) * 1e6
            inputs = inputs - ops.expand_dims(hidden, -1)
        return ops.max(inputs, axis=-2)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:1]) + tuple(input_shape[2:])


@serializable
class TaskEmbedding(InitialWeightsMixin, keras.layers.Layer):
    """keras-bert's `TaskEmbedding(input_dim, output_dim, ...)`: adds a
    learned vector per task id to every step of the embeddings. Called on
    `[embeddings (B, T, D), task_ids (B, 1)]`; with `mask_zero`, task 0 adds
    nothing. The embeddings' mask passes on.

    Example:

    >>> layer = TaskEmbedding(input_dim=3, output_dim=2, embeddings_initializer="ones")
    >>> x = np.zeros((2, 4, 2), "float32")
    >>> ops.convert_to_numpy(layer([x, np.array([[1], [2]])]))[:, 0].tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    """

    def __init__(
        self,
        input_dim,
        output_dim,
        embeddings_initializer="uniform",
        embeddings_regularizer=None,
        embeddings_constraint=None,
        mask_zero=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.input_dim = check_int("input_dim", input_dim)
        self.output_dim = check_int("output_dim", output_dim)
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.embeddings_regularizer = keras.regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = keras.constraints.get(embeddings_constraint)
        self.mask_zero = mask_zero

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            shape=(self.input_dim, self.output_dim),
            initializer=self.embeddings_initializer,
            regularizer=self.embeddings_regularizer,
            constraint=self.embeddings_constraint,
            name="embeddings",
        )

    def call(self, inputs, mask=None):
        embeddings, tasks = inputs
        tasks = ops.cast(tasks, "int32")  # (B, 1)
        task_vectors = ops.take(self.embeddings, tasks, axis=0)  # (B, 1, D)
        if self.mask_zero:
            real = ops.cast(ops.not_equal(tasks, 0), task_vectors.dtype)
            task_vectors = task_vectors * ops.expand_dims(real, -1)
        return embeddings + ops.cast(task_vectors, embeddings.dtype)

    def compute_mask(self, inputs, mask=None):
        return None if mask is None else mask[0]

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
            "embeddings_regularizer": keras.regularizers.serialize(self.embeddings_regularizer),
            "embeddings_constraint": keras.constraints.serialize(self.embeddings_constraint),
            "mask_zero": self.mask_zero,
        }


def get_inputs(seq_len):
    """keras-bert's `get_inputs(seq_len)`: the three float inputs of its
    pretraining model, `Input-Token`, `Input-Segment`, `Input-Masked`, each
    `(B, seq_len)` (`seq_len` None for any length).

    Example:

    >>> [tensor.name for tensor in get_inputs(8)]
    ['Input-Token', 'Input-Segment', 'Input-Masked']
    """
    return [
        keras.Input(shape=(seq_len,), name=f"Input-{name}")
        for name in ("Token", "Segment", "Masked")
    ]


def get_embedding(inputs, token_num, pos_num, embed_dim, dropout_rate=0.1, trainable=True):
    """keras-bert's `get_embedding(inputs, ...)`: the sum of the token
    (`Embedding-Token`, id 0 masked), segment (`Embedding-Segment`, two
    rows) and learned position (`Embedding-Position`, added) embeddings of
    `inputs = [tokens, segments, ...]`, and the token table as a tensor of
    the graph (for a tied output layer). As in keras-bert, no normalization
    or dropout is applied (`dropout_rate` is unused).

    Returns:
        `(embedded (B, T, embed_dim), token_table (token_num, embed_dim))`.

    Example:

    >>> inputs = get_inputs(seq_len=6)
    >>> embedded, table = get_embedding(inputs, token_num=20, pos_num=6, embed_dim=8)
    >>> tuple(embedded.shape), tuple(table.shape)
    ((None, 6, 8), (20, 8))
    """
    del dropout_rate  # unused, as in keras-bert
    tokens, table = TokenEmbedding(
        input_dim=token_num,
        output_dim=embed_dim,
        mask_zero=True,
        trainable=trainable,
        name="Embedding-Token",
    )(inputs[0])
    segments = keras.layers.Embedding(
        input_dim=2, output_dim=embed_dim, trainable=trainable, name="Embedding-Segment"
    )(inputs[1])
    embedded = _Add(name="Embedding-Token-Segment")([tokens, segments])
    embedded = position_compat.PositionEmbedding(
        input_dim=pos_num,
        output_dim=embed_dim,
        mode=position_compat.PositionEmbedding.MODE_ADD,
        trainable=trainable,
        name="Embedding-Position",
    )(embedded)
    return embedded, table


def get_token_embedding(model):
    """keras-bert's `get_token_embedding(model)`: the token table of a model
    built on `get_embedding` (the second output of its `Embedding-Token`
    layer), as a tensor of the graph, for a tied output layer.

    Example:

    >>> inputs = get_inputs(seq_len=6)
    >>> embedded, table = get_embedding(inputs, token_num=20, pos_num=6, embed_dim=8)
    >>> get_token_embedding(keras.Model(inputs[:2], embedded)) is table
    True
    """
    return model.get_layer("Embedding-Token").output[1]


def compile_model(
    model, weight_decay=0.01, decay_steps=100000, warmup_steps=10000, learning_rate=1e-4
):
    """keras-bert's `compile_model`: `AdamWarmup` (linear warmup to
    `learning_rate` over `warmup_steps`, then linear decay to zero at
    `decay_steps`, weight decay on embeddings and kernels) and sparse
    categorical cross-entropy on every output.

    Example:

    >>> model = get_model(token_num=20, pos_num=8, seq_len=8, embed_dim=8, transformer_num=1,
    ...     head_num=2, feed_forward_dim=16)
    >>> compile_model(model, warmup_steps=10, decay_steps=100)
    >>> type(model.optimizer).__name__
    'AdamWarmup'
    """
    model.compile(
        optimizer=AdamWarmup(
            decay_steps=decay_steps,
            warmup_steps=warmup_steps,
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            weight_decay_pattern=["embeddings", "kernel", "W1", "W2", "Wk", "Wq", "Wv", "Wo"],
        ),
        loss=keras.losses.sparse_categorical_crossentropy,
    )


def _activation(activation):
    """keras-bert's rule: the name "gelu" is keras-transformer's tanh gelu."""
    return transformer_compat.gelu if activation == "gelu" else activation


def get_model(
    token_num,
    pos_num=512,
    seq_len=512,
    embed_dim=768,
    transformer_num=12,
    head_num=12,
    feed_forward_dim=3072,
    dropout_rate=0.1,
    attention_activation=None,
    feed_forward_activation="gelu",
    training=True,
    trainable=None,
    output_layer_num=1,
    use_task_embed=False,
    task_num=10,
):
    """keras-bert's `get_model`, layer for layer.

    The embeddings (`get_embedding`; with `use_task_embed`, a
    `TaskEmbedding` of `task_num` tasks, `Embedding-Task`, read from the
    input `Input-Task`), dropout (`Embedding-Dropout`), `Embedding-Norm`,
    then `transformer_num` keras-transformer encoder blocks
    (`Encoder-1-MultiHeadSelfAttention`, ..., `Encoder-N-FeedForward-Norm`,
    see `kerastack.transformer.compat.get_encoders`). The name `"gelu"` is
    keras-transformer's tanh approximation, as before.

    With `training=True`, the uncompiled pretraining model (`compile_model`
    compiles it as keras-bert did): inputs `[Input-Token, Input-Segment,
    (Input-Task,) Input-Masked]`, outputs the probabilities of the masked-LM
    (`MLM`, masked to the positions `Input-Masked` chooses, so that the loss
    counts those only) and of next-sentence prediction (`NSP`). Otherwise
    `(inputs, output)`: the input tensors (without `Input-Masked`) and the
    last block's output, or the concatenation (`Encoder-Output`) of the
    last `output_layer_num` blocks' outputs (earliest first); a list of block
    indices (`[-1, -2]`, `[0, 3]`; negative ones count from the end)
    concatenates those blocks' outputs in the list's reverse order.

    `trainable` is a bool or a list of layer-name prefixes (`"Encoder-12"`,
    `"MLM"`, ...); it defaults to `training`. Token id 0 is padding.

    Example:

    >>> sizes = dict(token_num=30, pos_num=16, seq_len=16, embed_dim=8,
    ...     transformer_num=2, head_num=2, feed_forward_dim=16)
    >>> model = get_model(**sizes)  # for pretraining
    >>> [tuple(output.shape) for output in model.outputs]  # MLM and NSP probabilities
    [(None, 16, 30), (None, 2)]
    >>> compile_model(model)
    >>> inputs, output = get_model(**sizes, training=False, output_layer_num=2)
    >>> [x.name for x in inputs], tuple(output.shape)
    (['Input-Token', 'Input-Segment'], (None, 16, 16))
    >>> inputs, output = get_model(**sizes, training=False, use_task_embed=True, task_num=3,
    ...     attention_activation="relu")
    >>> [x.name for x in inputs]
    ['Input-Token', 'Input-Segment', 'Input-Task']
    """
    attention_activation = _activation(attention_activation)
    feed_forward_activation = _activation(feed_forward_activation)
    if trainable is None:
        trainable = training
    if not training:
        indices = _output_layers(output_layer_num, transformer_num)

    def is_trainable(layer):
        if isinstance(trainable, (list, tuple, set)):
            return any(layer.name.startswith(prefix) for prefix in trainable)
        return bool(trainable)

    inputs = get_inputs(seq_len=seq_len)
    embedded, table = get_embedding(
        inputs, token_num=token_num, pos_num=pos_num, embed_dim=embed_dim, dropout_rate=dropout_rate
    )
    if use_task_embed:
        task_input = keras.Input(shape=(1,), name="Input-Task")
        embedded = TaskEmbedding(
            input_dim=task_num, output_dim=embed_dim, mask_zero=False, name="Embedding-Task"
        )([embedded, task_input])
        inputs = [*inputs[:2], task_input, inputs[-1]]
    if dropout_rate > 0.0:
        embedded = keras.layers.Dropout(rate=dropout_rate, name="Embedding-Dropout")(embedded)
    embedded = LayerNormalization(name="Embedding-Norm")(embedded)
    transformed = transformer_compat.get_encoders(
        encoder_num=transformer_num,
        input_layer=embedded,
        head_num=head_num,
        hidden_dim=feed_forward_dim,
        attention_activation=attention_activation,
        feed_forward_activation=feed_forward_activation,
        dropout_rate=dropout_rate,
    )
    if training:
        mlm = keras.layers.Dense(embed_dim, activation=feed_forward_activation, name="MLM-Dense")(
            transformed
        )
        mlm = LayerNormalization(name="MLM-Norm")(mlm)
        mlm = EmbeddingSimilarity(name="MLM-Sim")([mlm, table])
        mlm = Masked(name="MLM")([mlm, inputs[-1]])
        nsp = Extract(index=0, name="Extract")(transformed)
        nsp = keras.layers.Dense(embed_dim, activation="tanh", name="NSP-Dense")(nsp)
        nsp = keras.layers.Dense(2, activation="softmax", name="NSP")(nsp)
        model = KerasBertModel(inputs=inputs, outputs=[mlm, nsp])
        for layer in model.layers:
            layer.trainable = is_trainable(layer)
        return model
    inputs = inputs[: 3 if use_task_embed else 2]
    model = keras.Model(inputs=inputs, outputs=transformed)
    for layer in model.layers:
        layer.trainable = is_trainable(layer)
    outputs = [model.get_layer(f"Encoder-{i + 1}-FeedForward-Norm").output for i in indices]
    if len(outputs) > 1:
        transformed = keras.layers.Concatenate(name="Encoder-Output")(outputs[::-1])
    else:
        transformed = outputs[0]
    return inputs, transformed


def _output_layers(output_layer_num, transformer_num):
    """The blocks (0-based) whose outputs keras-bert's `output_layer_num`
    picks: an int n, the last n (at most all), last first; a list, its
    entries (negative ones from the end), in its order."""
    if isinstance(output_layer_num, (list, tuple)):
        if not output_layer_num:
            raise ValueError("`output_layer_num` must name at least one block, received [].")
        indices = []
        for index in output_layer_num:
            if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
                raise ValueError(f"`output_layer_num` holds {index!r}, not an int.")
            position = transformer_num + index if index < 0 else int(index)
            if not 0 <= position < transformer_num:
                raise ValueError(
                    f"`output_layer_num` holds {index}, outside the {transformer_num} blocks."
                )
            indices.append(position)
        return indices
    count = min(check_int("output_layer_num", output_layer_num), transformer_num)
    return [transformer_num - i for i in range(1, count + 1)]


class _MissingConfigKey(ValueError, KeyError):
    """A key keras-bert reads is missing from the config: keras-bert raised
    KeyError, kerastack ValueError; this is both, so old `except` clauses
    keep working."""

    __str__ = BaseException.__str__


# The keys of bert_config.json that keras-bert reads (it raised KeyError without one).
_KERAS_BERT_KEYS = (
    "vocab_size",
    "max_position_embeddings",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "hidden_act",
)


def _read_keras_bert_config(config_file):
    """`(config, BertBackbone arguments)` of a `bert_config.json`, checked
    before any value is used: every key keras-bert reads must be there, the
    sizes valid, and `hidden_act` a Keras activation (any, as keras-bert
    took; "gelu" is its tanh one). Errors name the file."""
    config = read_json_object(config_file)
    missing = [key for key in _KERAS_BERT_KEYS if key not in config]
    if missing:
        raise _MissingConfigKey(f"{config_file} lacks {missing}, which keras-bert reads.")
    try:
        checked = BertConfig.from_dict({k: v for k, v in config.items() if k != "hidden_act"})
    except ValueError as error:
        raise ValueError(f"{config_file}: {error}") from error
    activation = config["hidden_act"]
    try:
        keras.activations.get(_activation(activation))
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{config_file}: hidden_act={activation!r} is not a Keras activation."
        ) from error
    return config, checked.backbone_arguments()


def build_model_from_config(
    config_file, training=False, trainable=None, output_layer_num=1, seq_len=int(1e9), **kwargs
):
    """`(model, config)`: keras-bert's model shaped by a `bert_config.json`
    (uncompiled, random weights); inputs `seq_len` long (at most the
    config's `max_position_embeddings`, which is then cut to it; None: any
    length). Other keyword arguments go to `get_model` (`use_task_embed`,
    ...).

    Example:

    >>> import json, os, tempfile
    >>> folder = tempfile.TemporaryDirectory()
    >>> config_file = os.path.join(folder.name, "bert_config.json")
    >>> with open(config_file, "w") as file:
    ...     json.dump({"vocab_size": 30, "hidden_size": 8, "num_hidden_layers": 1,
    ...         "num_attention_heads": 2, "intermediate_size": 16, "hidden_act": "gelu",
    ...         "max_position_embeddings": 32}, file)
    >>> model, config = build_model_from_config(config_file, seq_len=8)
    >>> config["max_position_embeddings"], tuple(model.output.shape)
    (8, (None, 8, 8))
    >>> folder.cleanup()
    """
    config, arguments = _read_keras_bert_config(config_file)
    if seq_len is not None:
        seq_len = check_int("seq_len", seq_len, minimum=1)
        seq_len = min(seq_len, config["max_position_embeddings"])
        config["max_position_embeddings"] = seq_len
    model = get_model(
        token_num=arguments["vocabulary_size"],
        pos_num=config["max_position_embeddings"],
        seq_len=seq_len,
        embed_dim=arguments["hidden_dim"],
        transformer_num=arguments["num_layers"],
        head_num=arguments["num_heads"],
        feed_forward_dim=arguments["intermediate_dim"],
        feed_forward_activation=config["hidden_act"],
        training=training,
        trainable=trainable,
        output_layer_num=output_layer_num,
        **kwargs,
    )
    if not training:
        inputs, outputs = model
        model = KerasBertModel(inputs=inputs, outputs=outputs)
    return model, config


def _checkpoint_table(model, config, training):
    """`[(layer, [(checkpoint name, transform)])]`: keras-bert's map from
    Google's names to its layers' weights, in each layer's weight order."""
    same, transpose = (lambda x: x), np.transpose
    positions = config["max_position_embeddings"]
    table = [
        ("Embedding-Token", ["bert/embeddings/word_embeddings"]),
        ("Embedding-Position", [("bert/embeddings/position_embeddings", lambda x: x[:positions])]),
        ("Embedding-Segment", ["bert/embeddings/token_type_embeddings"]),
        ("Embedding-Norm", ["bert/embeddings/LayerNorm/gamma", "bert/embeddings/LayerNorm/beta"]),
    ]
    names = {layer.name for layer in model.layers}
    for i in range(config["num_hidden_layers"]):
        block, google = f"Encoder-{i + 1}", f"bert/encoder/layer_{i}"
        if f"{block}-MultiHeadSelfAttention" not in names:
            continue  # a block the model does not have, as keras-bert skipped it
        attention = [
            f"{google}/attention/{part}/{kind}"
            for part in ("self/query", "self/key", "self/value", "output/dense")
            for kind in ("kernel", "bias")
        ]
        table += [
            (f"{block}-MultiHeadSelfAttention", attention),
            (
                f"{block}-MultiHeadSelfAttention-Norm",
                [f"{google}/attention/output/LayerNorm/{kind}" for kind in ("gamma", "beta")],
            ),
            (
                f"{block}-FeedForward",
                [
                    f"{google}/{part}/dense/{kind}"
                    for part in ("intermediate", "output")
                    for kind in ("kernel", "bias")
                ],
            ),
            (
                f"{block}-FeedForward-Norm",
                [f"{google}/output/LayerNorm/{kind}" for kind in ("gamma", "beta")],
            ),
        ]
    if training:
        table += [
            ("MLM-Dense", [f"cls/predictions/transform/dense/{k}" for k in ("kernel", "bias")]),
            ("MLM-Norm", [f"cls/predictions/transform/LayerNorm/{k}" for k in ("gamma", "beta")]),
            ("MLM-Sim", ["cls/predictions/output_bias"]),
            ("NSP-Dense", [f"bert/pooler/dense/{k}" for k in ("kernel", "bias")]),
            (
                "NSP",
                [
                    ("cls/seq_relationship/output_weights", transpose),
                    "cls/seq_relationship/output_bias",
                ],
            ),
        ]
    return [
        (name, [entry if isinstance(entry, tuple) else (entry, same) for entry in entries])
        for name, entries in table
    ]


def load_model_weights_from_checkpoint(model, config, checkpoint_file, training=False):
    """Load a Google checkpoint (`.../bert_model.ckpt`) into a model of
    `build_model_from_config` by keras-bert's layer names; a longer position
    table is cut to the model's (`config["max_position_embeddings"]`).

    Every tensor is read and its shape checked before any weight is set: a
    missing layer or tensor, or a shape that does not fit, is an error
    naming it, and leaves the model as it was.

    Example:

    With a Google folder's paths (`get_checkpoint_paths`),
    `load_model_weights_from_checkpoint(model, config, paths.checkpoint)`
    fills the model. It must be one of `get_model`'s (or
    `build_model_from_config`'s), with `training` as it was built:

    >>> from kerastack.core import keras
    >>> inputs = keras.Input((4,))
    >>> model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    >>> load_model_weights_from_checkpoint(model, {"max_position_embeddings": 4,
    ...     "num_hidden_layers": 1}, "bert_model.ckpt")
    Traceback (most recent call last):
    ...
    ValueError: The model has no layer 'Embedding-Token' (keras-bert's names): build it with ...
    """
    table = _checkpoint_table(model, config, training)
    layers = {layer.name: layer for layer in model.layers}
    for name, _ in table:
        if name not in layers:
            raise ValueError(
                f"The model has no layer {name!r} (keras-bert's names): build it with "
                f"get_model or build_model_from_config (training={training})."
            )
    prefix = checkpoint_prefix(checkpoint_file)
    tensors = read_tf_checkpoint(prefix, names=[n for _, entries in table for n, _ in entries])
    updates = []
    for name, entries in table:
        values = [transform(tensors[source]) for source, transform in entries]
        expected = [tuple(w.shape) for w in layers[name].get_weights()]
        for (source, _), value, shape in zip(entries, values, expected, strict=True):
            if tuple(value.shape) != shape:
                raise ValueError(
                    f"{prefix}: {source!r} has shape {tuple(value.shape)}, but layer "
                    f"{name!r} needs {shape}."
                )
        updates.append((layers[name], values))
    for layer, values in updates:
        layer.set_weights(values)


def load_trained_model_from_checkpoint(
    config_file,
    checkpoint_file,
    training=False,
    trainable=None,
    output_layer_num=1,
    seq_len=int(1e9),
    **kwargs,
):
    """keras-bert's model with the weights of a Google checkpoint.

    `build_model_from_config` then `load_model_weights_from_checkpoint`.

    Example:

    With Google's folder, `paths = get_checkpoint_paths(folder)` and
    `load_trained_model_from_checkpoint(paths.config, paths.checkpoint,
    seq_len=128)`. A missing checkpoint is an error naming it:

    >>> import json, tempfile
    >>> folder = tempfile.TemporaryDirectory()
    >>> paths = get_checkpoint_paths(folder.name)
    >>> with open(paths.config, "w") as file:
    ...     json.dump({"vocab_size": 30, "hidden_size": 8, "num_hidden_layers": 1,
    ...         "num_attention_heads": 2, "intermediate_size": 16, "hidden_act": "gelu",
    ...         "max_position_embeddings": 32}, file)
    >>> load_trained_model_from_checkpoint(paths.config, paths.checkpoint, seq_len=8)
    Traceback (most recent call last):
    ...
    FileNotFoundError: ...bert_model.ckpt...
    >>> folder.cleanup()
    """
    model, config = build_model_from_config(
        config_file,
        training=training,
        trainable=trainable,
        output_layer_num=output_layer_num,
        seq_len=seq_len,
        **kwargs,
    )
    load_model_weights_from_checkpoint(model, config, checkpoint_file, training=training)
    return model


def extract_embeddings_generator(
    model,
    texts,
    poolings=None,
    vocabs=None,
    cased=False,
    batch_size=4,
    cut_embed=True,
    output_layer_num=1,
):
    """keras-bert's `extract_embeddings`, one embedding at a time.

    `model` is a Google BERT folder or a model with inputs `[tokens,
    segments]` (then `vocabs` is its `{token: id}`). Texts are str or
    `(first, second)` pairs, cut to the model's length as keras-bert did.
    Without `poolings`, each text's token embeddings up to its last real
    token; with them (`POOL_NSP`: the first token's, `POOL_MAX`, `POOL_AVE`
    over real tokens), their concatenation.

    Example:

    >>> from kerastack.core import keras
    >>> token_dict = get_base_dict()
    >>> for token in ["all", "work", "and", "no", "play"]:
    ...     token_dict[token] = len(token_dict)
    >>> inputs, output = get_model(token_num=len(token_dict), pos_num=16, seq_len=16,
    ...     embed_dim=8, transformer_num=1, head_num=2, feed_forward_dim=16,
    ...     training=False)
    >>> model = keras.Model(inputs, output)
    >>> texts = ["all work", ("no", "play")]  # [CLS] all work [SEP]; [CLS] no [SEP] play [SEP]
    >>> [e.shape for e in extract_embeddings_generator(model, texts, vocabs=token_dict)]
    [(4, 8), (5, 8)]
    """
    if isinstance(model, (str, os.PathLike)):
        paths = get_checkpoint_paths(os.fspath(model))
        # keras-bert's model: inputs as long as the position table.
        model = load_trained_model_from_checkpoint(
            paths.config, paths.checkpoint, output_layer_num=output_layer_num
        )
        vocabs = load_vocabulary(paths.vocab)
    elif vocabs is None:
        raise ValueError("Pass vocabs, the {token: id} of the model's vocabulary.")
    seq_len = model.inputs[0].shape[1]
    if seq_len is None:  # any length: at most the position table's
        try:
            seq_len = model.get_layer("Embedding-Position").input_dim
        except ValueError:
            seq_len = None
    if isinstance(poolings, str):
        poolings = [poolings]
    for pooling in poolings or []:
        if pooling not in _POOLINGS:
            raise ValueError(f"Unknown pooling method: {pooling}")
    fixed = model.inputs[0].shape[1]
    tokenizer = Tokenizer(vocabs, cased=cased)

    def batches():
        rows = []
        for text in texts:
            pair = (text, None) if isinstance(text, str) else tuple(text)
            rows.append(tokenizer._encode_unpadded(*pair, max_len=seq_len))
            if len(rows) == batch_size:
                yield rows
                rows = []
        if rows:
            yield rows

    for rows in batches():
        width = fixed or max(len(ids) for ids, _ in rows)
        tokens = np.zeros((len(rows), width), "int32")
        segments = np.zeros((len(rows), width), "int32")
        for i, (ids, segs) in enumerate(rows):
            tokens[i, : len(ids)], segments[i, : len(segs)] = ids, segs
        outputs = np.asarray(model.predict_on_batch([tokens, segments]))
        for (ids, _), output in zip(rows, outputs, strict=True):
            if poolings is None:
                yield output[: len(ids)] if cut_embed else output
                continue
            real = output[: len(ids)]
            pooled = [_pool(_POOLINGS[pooling], real, None) for pooling in poolings]
            yield np.concatenate(pooled)


def extract_embeddings(model, texts, **kwargs):
    """keras-bert's `extract_embeddings`: `extract_embeddings_generator`'s
    results in a list.

    Example:

    >>> from kerastack.core import keras
    >>> token_dict = get_base_dict()
    >>> for token in ["all", "work", "and", "no", "play"]:
    ...     token_dict[token] = len(token_dict)
    >>> inputs, output = get_model(token_num=len(token_dict), pos_num=16, seq_len=16,
    ...     embed_dim=8, transformer_num=1, head_num=2, feed_forward_dim=16,
    ...     training=False)
    >>> model = keras.Model(inputs, output)
    >>> embeddings = extract_embeddings(model, ["all work", "no play"], vocabs=token_dict,
    ...     poolings=[POOL_NSP, POOL_MAX])
    >>> len(embeddings), embeddings[0].shape
    (2, (16,))
    """
    return list(extract_embeddings_generator(model, texts, **kwargs))


def get_custom_objects():
    """keras-bert's `get_custom_objects`: the old class names, for
    `keras.models.load_model(path, custom_objects=get_custom_objects())` on
    models saved by keras-bert (or by this compat), with keras-transformer's
    and kerastack's `KerasBertModel`, `MaskedConv1D` and
    `MaskedGlobalMaxPool1D`.

    Example:

    >>> sorted(get_custom_objects())  # doctest: +NORMALIZE_WHITESPACE
    ['AdamWarmup', 'Add', 'EmbeddingRet', 'EmbeddingSim', 'EmbeddingSimilarity', 'Extract',
     'FeedForward', 'KerasBertModel', 'LayerNormalization', 'Masked', 'MaskedConv1D',
     'MaskedGlobalMaxPool1D', 'MultiHeadAttention', 'PositionEmbedding', 'TaskEmbedding',
     'TokenEmbedding', 'TrigPosEmbedding', 'gelu']
    """
    return {
        **transformer_compat.get_custom_objects(),
        "Add": _Add,  # Keras 2's mask rule (see _Add)
        "PositionEmbedding": position_compat.PositionEmbedding,
        "TokenEmbedding": TokenEmbedding,
        "EmbeddingSimilarity": EmbeddingSimilarity,
        "TaskEmbedding": TaskEmbedding,
        "Masked": Masked,
        "Extract": Extract,
        "AdamWarmup": AdamWarmup,
        "KerasBertModel": KerasBertModel,
        "MaskedConv1D": MaskedConv1D,
        "MaskedGlobalMaxPool1D": MaskedGlobalMaxPool1D,
    }
