"""Several task heads on one encoder, trained together, with task-loss
weights that follow a schedule of the training step (BERT-keras's
multi-task training and its `TaskWeightScheduler`).

`BertMultiTask(backbone, tasks)` puts one head per `Task` on a backbone and
returns a dict of float32 logits keyed by task name. `compile` takes a loss
per task and `task_weights`: constants, a `TaskWeightSchedule` (or any
function of the step) evaluated inside the compiled training step, or None,
leaving the weights to a `TaskWeightScheduler` callback.

Why the schedule is evaluated inside the loss: on JAX, `fit` carries the
model's variables through the compiled step as explicit state, so a value a
callback assigns to some variable between steps can be ignored or
overwritten, and the optimizer's `iterations` cannot be read inside the loss
(it is not part of the state the loss sees). The model therefore counts its
own training steps in a non-trainable variable, `task_step`, which every
backend carries through the step like any other model state, and the task
weights are a pure function of it.
"""

import math
import re
import types

import numpy as np

from kerastack.core import (
    CheckedInputs,
    InputRule,
    keras,
    ops,
    require_keras3,
    serializable,
    standardize_dtype,
)
from kerastack.models import MaskedLMHead, float32_dense, keep_dtype_policy
from kerastack.training import _keras_internals as internals

# Each kind of task and the backbone output its head reads.
TASK_KINDS = {
    "classification": "pooled_output",
    "tagging": "sequence_output",
    "masked_lm": "sequence_output",
}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@serializable
class Task:
    """One task of a `BertMultiTask`: a name, a kind and the head's size.

    Args:
        name: str, the task's key in the model's outputs, in `compile`'s
            `loss`/`metrics`/`task_weights` dicts and in `fit`'s targets and
            sample weights (letters, digits and `_`, not starting with a
            digit; its logs are `{name}_loss` and `{name}_weight`).
        kind: `"classification"` (float32 logits `(B, num_classes)` from the
            pooled output; next-sentence prediction is a 2-way
            classification), `"tagging"` (logits `(B, T, num_classes)` from
            the sequence output) or `"masked_lm"` (logits `(B, P, V)` at the
            model's `mask_positions` input, the output projection tied to
            the word embeddings, as `BertPretrainer`'s).
        num_classes: int, required for `"classification"` and `"tagging"`;
            not given for `"masked_lm"` (its classes are the vocabulary).
        dropout: float, dropout before a classification or tagging head's
            dense layer; None gives 0.1 (as `BertClassifier`). Not given for
            `"masked_lm"`.

    Example:

    >>> Task("nli", "classification", num_classes=3)
    Task('nli', 'classification', num_classes=3)
    >>> Task("mlm", "masked_lm").get_config()
    {'name': 'mlm', 'kind': 'masked_lm', 'num_classes': None, 'dropout': None}
    """

    def __init__(self, name, kind, num_classes=None, dropout=None):
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ValueError(
                "A task name must be a str of letters, digits and '_', not starting with a "
                f"digit; received name={name!r}."
            )
        if kind not in TASK_KINDS:
            raise ValueError(
                f"Unknown task kind {kind!r} for task {name!r}; expected one of "
                f"{sorted(TASK_KINDS)}."
            )
        if kind == "masked_lm":
            if num_classes is not None or dropout is not None:
                raise ValueError(
                    f"Task {name!r} is a masked_lm task: its classes are the vocabulary and it "
                    f"has no dropout; received num_classes={num_classes!r}, dropout={dropout!r}."
                )
        else:
            if isinstance(num_classes, bool) or not isinstance(num_classes, int | np.integer):
                raise ValueError(
                    f"Task {name!r} ({kind}) needs num_classes, a positive int; received "
                    f"num_classes={num_classes!r}."
                )
            if num_classes < 1:
                raise ValueError(
                    f"Task {name!r} needs num_classes >= 1; received num_classes={num_classes}."
                )
            num_classes = int(num_classes)
            dropout = 0.1 if dropout is None else dropout
            if not isinstance(dropout, int | float) or not 0 <= dropout < 1:
                raise ValueError(
                    f"Task {name!r} needs 0 <= dropout < 1; received dropout={dropout!r}."
                )
            dropout = float(dropout)
        self.name = name
        self.kind = kind
        self.num_classes = num_classes
        self.dropout = dropout

    def __repr__(self):
        extra = "" if self.kind == "masked_lm" else f", num_classes={self.num_classes}"
        return f"Task({self.name!r}, {self.kind!r}{extra})"

    def __eq__(self, other):
        return isinstance(other, Task) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash(tuple(self.get_config().items()))

    def get_config(self):
        return {
            "name": self.name,
            "kind": self.kind,
            "num_classes": self.num_classes,
            "dropout": self.dropout,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _as_task(task):
    if isinstance(task, Task):
        return task
    if isinstance(task, dict):
        return Task(**task)
    raise TypeError(
        f"Each task must be a Task (or its config dict); received {type(task).__name__}: {task!r}."
    )


def first_piece_mask(word_ids, length=None):
    """1 at the first word piece of each word, 0 elsewhere: the positions a
    token-level task scores when it labels words, not pieces.

    Args:
        word_ids: the word index of every token, a row per sequence: a list
            of lists with None for tokens of no word (`[CLS]`, `[SEP]`,
            padding), as HF tokenizers' `encoding.word_ids()` gives, or an
            int array `(B, T)` with -1 (any negative) for those. A token
            starts a word when it has a word and the token before it has a
            different one (or none). With kerastack's `BertTokenizer`, a
            piece continues a word when it starts with `"##"`.
        length: int, the width of the result (rows padded with 0); None
            takes the longest row.

    Returns:
        int32 array `(B, length)`, to use as (or multiply into) a tagging
        task's sample weights.

    Example:

    >>> first_piece_mask([[None, 0, 0, 1, None], [None, 0, 1, 1]])
    array([[0, 1, 0, 1, 0],
           [0, 1, 1, 0, 0]], dtype=int32)
    >>> first_piece_mask(np.array([[-1, 0, 1, 1, -1, -1]]), length=6)
    array([[0, 1, 1, 0, 0, 0]], dtype=int32)
    """
    if isinstance(word_ids, np.ndarray):
        if word_ids.ndim != 2:
            raise ValueError(
                f"word_ids must be 2-D (a row per sequence); received shape {word_ids.shape}."
            )
        rows = word_ids.tolist()
    else:
        rows = list(word_ids)
        if any(isinstance(row, int | np.integer) or row is None for row in rows):
            raise ValueError(
                "word_ids must hold a row per sequence (a list of lists); received one flat row."
            )
        rows = [list(row) for row in rows]
    longest = max((len(row) for row in rows), default=0)
    if length is None:
        length = longest
    elif longest > length:
        raise ValueError(f"A row of word_ids has {longest} tokens, more than length={length}.")
    mask = np.zeros((len(rows), length), "int32")
    for index, row in enumerate(rows):
        previous = None
        for position, word in enumerate(row):
            word = None if word is None or word < 0 else int(word)
            if word is not None and word != previous:
                mask[index, position] = 1
            previous = word
    return mask


def default_task_loss():
    """The loss each task gets unless `compile` names another: sparse
    categorical cross-entropy from logits, averaged over the scored
    elements (`sum(w * loss) / sum(w)` with sample weights `w`, so masked
    positions count neither in the sum nor in the count), targets of -100
    (HF's convention) ignored.

    Example:

    >>> loss = default_task_loss()
    >>> logits = np.array([[2.0, 0.0], [0.0, 2.0]], "float32")
    >>> round(float(loss(np.array([0, -100]), logits)), 4)  # -log softmax([2, 0])[0]
    0.1269
    """
    return keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, ignore_class=-100, reduction="mean_with_sample_weight"
    )


@serializable
class TaskWeightSchedule:
    """Task-loss weights as a function of the training step.

    Subclass it (as `keras.optimizers.schedules.LearningRateSchedule`):
    `__call__(step)` returns `{task name: weight}` computed with `keras.ops`,
    since given to `compile` it runs inside the compiled training step, where
    `step` (the model's `task_step`: training steps since `compile`) is a
    float32 scalar tensor; a `TaskWeightScheduler` passes a Python int.
    `get_config` returns the constructor's arguments; registering the
    subclass (`keras.saving.register_keras_serializable`) lets a `.keras`
    file that holds it load without `custom_objects`.

    Example:

    >>> class Alternate(TaskWeightSchedule):  # one task per step, in turn
    ...     def __call__(self, step):
    ...         even = ops.cast(ops.equal(ops.mod(step, 2), 0), "float32")
    ...         return {"mlm": even, "nli": 1.0 - even}
    ...     def get_config(self):
    ...         return {}
    >>> {name: float(weight) for name, weight in Alternate()(3.0).items()}
    {'mlm': 0.0, 'nli': 1.0}
    """

    def __call__(self, step):
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(step).")

    def get_config(self):
        raise NotImplementedError(f"{type(self).__name__} must implement get_config().")

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _check_weight_dict(argument, weights):
    if not isinstance(weights, dict) or not weights:
        raise ValueError(
            f"{argument} must be a non-empty dict of task weights; received {weights!r}."
        )
    for key, value in weights.items():
        if not isinstance(key, str):
            raise ValueError(f"{argument} must be keyed by task name; received key {key!r}.")
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            raise ValueError(f"{argument}[{key!r}] must be a number; received {value!r}.")
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{argument}[{key!r}] must be finite and >= 0; received {value!r}.")
    return {key: float(value) for key, value in weights.items()}


@serializable
class TaskWeightShift(TaskWeightSchedule):
    """Task weights moving from `start` to `end` over `transition_steps`
    training steps: `start` up to `start_step`, then
    `start + (end - start) * f(p)` with `p = (step - start_step) /
    transition_steps`, then `end` from `start_step + transition_steps` on.

    `f(p) = p` (`curve="linear"`) or `(1 - cos(pi p)) / 2` (`"cosine"`,
    flat at both ends).

    Args:
        start: dict, task name to weight (>= 0) at and before `start_step`.
        end: dict with the same task names, the weights after the shift.
        transition_steps: int > 0, the length of the shift.
        start_step: int >= 0, the step the shift begins.
        curve: `"linear"` or `"cosine"`.

    Example:

    Language modelling first, classification by step 1000:

    >>> shift = TaskWeightShift({"mlm": 1, "nli": 0}, {"mlm": 0, "nli": 1}, 1000)
    >>> {name: float(weight) for name, weight in shift(250).items()}
    {'mlm': 0.75, 'nli': 0.25}
    >>> cosine = TaskWeightShift({"mlm": 1, "nli": 0}, {"mlm": 0, "nli": 1}, 1000,
    ...                          curve="cosine")
    >>> [round(float(cosine(step)["nli"]), 4) for step in (0, 250, 500, 1000, 2000)]
    [0.0, 0.1464, 0.5, 1.0, 1.0]
    """

    def __init__(self, start, end, transition_steps, start_step=0, curve="linear"):
        start = _check_weight_dict("start", start)
        end = _check_weight_dict("end", end)
        if set(start) != set(end):
            raise ValueError(
                "start and end must name the same tasks; received start for "
                f"{sorted(start)} and end for {sorted(end)}."
            )
        if isinstance(transition_steps, bool) or not isinstance(transition_steps, int):
            raise ValueError(f"transition_steps must be an int; received {transition_steps!r}.")
        if transition_steps <= 0:
            raise ValueError(f"transition_steps must be > 0; received {transition_steps}.")
        if isinstance(start_step, bool) or not isinstance(start_step, int) or start_step < 0:
            raise ValueError(f"start_step must be an int >= 0; received {start_step!r}.")
        if curve not in ("linear", "cosine"):
            raise ValueError(f"curve must be 'linear' or 'cosine'; received curve={curve!r}.")
        self.start = start
        self.end = end
        self.transition_steps = transition_steps
        self.start_step = start_step
        self.curve = curve

    def __call__(self, step):
        step = ops.cast(step, "float32")
        progress = ops.clip((step - self.start_step) / self.transition_steps, 0.0, 1.0)
        if self.curve == "cosine":
            progress = 0.5 * (1.0 - ops.cos(math.pi * progress))
        return {
            name: self.start[name] + (self.end[name] - self.start[name]) * progress
            for name in self.start
        }

    def get_config(self):
        return {
            "start": dict(self.start),
            "end": dict(self.end),
            "transition_steps": self.transition_steps,
            "start_step": self.start_step,
            "curve": self.curve,
        }


class _FunctionLoss(keras.losses.Loss):
    """A loss function `(y_true, y_pred) -> values` as a `Loss` (sample
    weights, `"sum_over_batch_size"` reduction), as `compile` treats one."""

    def __init__(self, function):
        super().__init__(name=getattr(function, "__name__", "loss"))
        self.function = function

    def call(self, y_true, y_pred):
        return self.function(y_true, y_pred)


class _LatestValue(keras.metrics.Metric):
    """The value of the last `update_state` (a task's weight in the last step)."""

    def __init__(self, name):
        super().__init__(name=name)
        self.latest = self.add_variable(
            shape=(), initializer="zeros", aggregation="mean", name="latest"
        )

    def update_state(self, value):
        self.latest.assign(ops.cast(value, self.dtype))

    def result(self):
        return ops.copy(self.latest.value)

    def reset_state(self):
        self.latest.assign(0.0)


def _shape(x):
    """`x`'s static shape, None where unknown; None if even its rank is (a
    TensorFlow step retraced with relaxed shapes)."""
    try:
        dims = tuple(x.shape)
    except ValueError:
        return None
    return tuple(None if d is None else int(d) for d in dims)


def _same_shape(a, b):
    if a is None or b is None:
        return True
    return len(a) == len(b) and all(
        x is None or y is None or x == y for x, y in zip(a, b, strict=True)
    )


@serializable
class BertMultiTask(CheckedInputs, keras.Model):
    """Several task heads on one encoder, trained together.

    Letters: B batch, T length, P predicted positions, V vocabulary.

    Args:
        backbone: a `BertBackbone`, or any functional model with a dict of
            inputs and the outputs `sequence_output` `(B, T, D)` and
            `pooled_output` `(B, D)` (`RobertaBackbone`, ...); a
            `"masked_lm"` task also needs its `token_embedding` layer as
            wide as D.
        tasks: list of `Task` (or their config dicts), distinct names; at
            most one `"masked_lm"`.
        **kwargs: `keras.Model` arguments (`name`, ...); the dtype policy
            is the backbone's.

    Inputs, a dict: the backbone's (`token_ids`, `segment_ids`,
    `padding_mask`), plus int `mask_positions` `(B, P)` with a masked_lm
    task.

    Outputs: dict of float32 logits keyed by task name: `(B, num_classes)`
    (classification), `(B, T, num_classes)` (tagging), `(B, P, V)`
    (masked_lm).

    With a kerastack backbone, inputs are checked as the backbone's (and
    `mask_positions` in `[0, T)`) in eager calls and before `predict` runs;
    not inside compiled functions (see `kerastack.core.CheckedInputs`).

    Training: `fit(x, y, sample_weight)` with `y` a dict of integer targets
    keyed by task name (`(B,)`, `(B, T)`, `(B, P)`) and `sample_weight`
    None, one `(B,)` array for every task, or a dict keyed by task name of
    arrays shaped as the targets (masks: 0 leaves a position out; e.g.
    `first_piece_mask` for tagging, the real predictions for masked_lm) or
    `(B,)` per-example weights. The total loss is
    `sum_t w_t(step) * loss_t` (plus the weights' regularization losses);
    `{name}_loss` and `{name}_weight` appear in the logs.

    Example:

    With a `BertBackbone` (`kerastack.bert`) or, here, a toy backbone that
    gives the same outputs:

    >>> token_ids = keras.Input((None,), dtype="int32", name="token_ids")
    >>> sequence = keras.layers.Embedding(20, 8, name="token_embedding")(token_ids)
    >>> pooled = keras.layers.GlobalAveragePooling1D()(sequence)
    >>> backbone = keras.Model(
    ...     {"token_ids": token_ids}, {"sequence_output": sequence, "pooled_output": pooled})
    >>> model = BertMultiTask(backbone, [
    ...     Task("nli", "classification", num_classes=3),
    ...     Task("ner", "tagging", num_classes=4),
    ...     Task("mlm", "masked_lm")])
    >>> x = {"token_ids": np.array([[2, 5, 6, 3], [2, 7, 3, 0]], "int32"),
    ...      "mask_positions": np.array([[1], [2]], "int32")}
    >>> outputs = model(x)
    >>> {name: tuple(outputs[name].shape) for name in model.task_names}
    {'nli': (2, 3), 'ner': (2, 4, 4), 'mlm': (2, 1, 20)}

    Language modelling first, classification by step 4 (-100: no target):

    >>> model.compile(
    ...     optimizer=keras.optimizers.Adam(1e-3),
    ...     task_weights=TaskWeightShift({"mlm": 1, "nli": 0, "ner": 1},
    ...                                  {"mlm": 0, "nli": 1, "ner": 1}, 4),
    ...     metrics={"nli": ["accuracy"]})
    >>> y = {"nli": np.array([0, 2]), "ner": np.array([[-100, 1, 2, -100], [-100, 3, -100, -100]]),
    ...      "mlm": np.array([[5], [3]])}
    >>> history = model.fit(x, y, epochs=2, verbose=0)  # steps 0 and 1
    >>> model.current_task_weights()  # at step 1
    {'nli': 0.25, 'ner': 1.0, 'mlm': 0.75}
    >>> sorted(history.history)
    ['loss', 'mlm_loss', 'mlm_weight', 'ner_loss', 'ner_weight',
     'nli_accuracy', 'nli_loss', 'nli_weight']
    """

    def __init__(self, backbone, tasks, **kwargs):
        require_keras3("BertMultiTask", "it extends Keras 3's trainer")
        tasks = [_as_task(task) for task in (tasks if isinstance(tasks, list | tuple) else [tasks])]
        if not tasks:
            raise ValueError("BertMultiTask needs at least one task; received tasks=[].")
        names = [task.name for task in tasks]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"Task names must be distinct; {duplicates} appear more than once.")
        masked = [task.name for task in tasks if task.kind == "masked_lm"]
        if len(masked) > 1:
            raise ValueError(
                f"At most one masked_lm task (they would share mask_positions); received {masked}."
            )
        backbone_inputs = backbone.input
        if not isinstance(backbone_inputs, dict):
            raise ValueError(
                "The backbone must take a dict of inputs (as BertBackbone); received "
                f"{type(backbone_inputs).__name__}."
            )
        inputs = dict(backbone_inputs)
        if masked:
            if "mask_positions" in inputs:
                raise ValueError("The backbone already has an input named 'mask_positions'.")
            inputs["mask_positions"] = keras.Input(
                shape=(None,), dtype="int32", name="mask_positions"
            )
        features = backbone({key: inputs[key] for key in backbone_inputs})
        needed = sorted({TASK_KINDS[task.kind] for task in tasks})
        if not isinstance(features, dict) or any(key not in features for key in needed):
            found = sorted(features) if isinstance(features, dict) else type(features).__name__
            raise ValueError(
                f"These tasks need the backbone outputs {needed}; the backbone gives {found}."
            )
        dtype = _dtype_policy(backbone)
        heads, outputs = {}, {}
        for task in tasks:
            x = features[TASK_KINDS[task.kind]]
            if task.kind == "masked_lm":
                head = MaskedLMHead(
                    _word_embedding(backbone, x.shape[-1]),
                    activation=getattr(backbone, "activation", "gelu"),
                    layer_norm_epsilon=getattr(backbone, "layer_norm_epsilon", 1e-12),
                    dtype=dtype,
                    name=f"{task.name}_head",
                )
                outputs[task.name] = head(x, inputs["mask_positions"])  # (B, P, V)
            else:
                x = keras.layers.Dropout(task.dropout, dtype=dtype, name=f"{task.name}_dropout")(x)
                head = float32_dense(task.num_classes, _Initializer(backbone), f"{task.name}_head")
                outputs[task.name] = head(x)  # (B, C) or (B, T, C)
            heads[task.name] = head
        kwargs.pop("dtype", None)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        # The backbone's policy (under mixed_float16, compile then adds loss scaling).
        keep_dtype_policy(self, dtype)
        self.backbone = backbone
        self.tasks = tasks
        self.heads = heads
        # The training steps the loss has taken since compile (the schedule's
        # step), and the task weights of the last one (in task order).
        self.task_step = self.add_weight(
            shape=(),
            initializer="zeros",
            dtype="int32",
            trainable=False,
            autocast=False,
            aggregation="only_first_replica",
            name="task_step",
        )
        self.task_weights = self.add_weight(
            shape=(len(tasks),),
            initializer="ones",
            dtype="float32",
            trainable=False,
            autocast=False,
            aggregation="only_first_replica",
            name="task_weights",
        )
        self._task_loss_trackers = {name: keras.metrics.Mean(name=f"{name}_loss") for name in names}
        self._task_weight_trackers = {name: _LatestValue(f"{name}_weight") for name in names}
        self._task_losses = None
        self._task_weight_function = None

    def input_rules(self):
        """The backbone's (when it has rules), and `mask_positions`."""
        rules = super().input_rules()
        if rules is not None and "mask_positions" in self.input:
            rules = {**rules, "mask_positions": InputRule("positions")}
        return rules

    @property
    def task_names(self):
        return [task.name for task in self.tasks]

    def current_task_weights(self):
        """`{task name: float}`: the weights the last training step used (or,
        before any, the ones the next step uses without a schedule)."""
        values = ops.convert_to_numpy(self.task_weights)
        return {name: float(value) for name, value in zip(self.task_names, values, strict=True)}

    def compile(
        self,
        optimizer="auto",
        loss="auto",
        task_weights=None,
        metrics=None,
        weighted_metrics=None,
        **kwargs,
    ):
        """Configures training.

        Args:
            optimizer: as `keras.Model.compile`; `"auto"` is
                `keras.optimizers.Adam(5e-5)`.
            loss: `"auto"` (`default_task_loss()` for every task), one loss
                for every task, or a dict keyed by task name; a task whose
                loss is None or missing from the dict is not trained and
                needs no targets.
            task_weights: how the task losses are weighted: a dict of
                constants; a `TaskWeightSchedule` (or any function of the
                step returning such a dict, written with `ops`), evaluated
                inside the compiled training step at `task_step`, the number
                of training steps since this `compile`; or None: the values
                of the model's `task_weights` variable (1.0 each unless a
                `TaskWeightScheduler` callback or you assign them). Every
                trained task needs a weight.
            metrics, weighted_metrics: as `keras.Model.compile`, keyed by
                task name; weighted metrics see the tasks' sample weights.
            **kwargs: the other `keras.Model.compile` arguments
                (`run_eagerly`, `jit_compile`, `steps_per_execution`, ...);
                not `loss_weights` (use `task_weights`).
        """
        if "loss_weights" in kwargs:
            raise ValueError(
                "BertMultiTask.compile takes task_weights= (constants, a TaskWeightSchedule or a "
                "function of the step) instead of loss_weights="
                f"{kwargs['loss_weights']!r}."
            )
        losses = self._resolve_losses(loss)
        weight_function = self._resolve_task_weights(task_weights, losses)
        for argument, value in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            if isinstance(value, dict):
                self._check_names(argument, value)
        if isinstance(optimizer, str) and optimizer == "auto":
            optimizer = keras.optimizers.Adam(5e-5)
        super().compile(
            optimizer=optimizer,
            loss=None,
            metrics=metrics,
            weighted_metrics=weighted_metrics,
            **kwargs,
        )
        self._task_losses = losses
        self._task_weight_function = weight_function
        self._user_loss = loss
        self._user_task_weights = task_weights
        self.task_step.assign(0)

    def _check_names(self, argument, mapping):
        unknown = sorted(str(key) for key in mapping if key not in self.task_names)
        if unknown:
            raise ValueError(
                f"{argument} names unknown tasks {unknown}; the tasks are {self.task_names}."
            )

    def _resolve_losses(self, loss):
        if isinstance(loss, dict):
            self._check_names("loss", loss)
            chosen = {name: loss.get(name) for name in self.task_names}
        else:
            chosen = dict.fromkeys(self.task_names, loss)
        losses = {}
        for name, value in chosen.items():
            if value is None:
                continue
            if isinstance(value, str) and value == "auto":
                losses[name] = default_task_loss()
                continue
            resolved = keras.losses.get(value)
            if resolved is None:
                raise ValueError(f"Unknown loss {value!r} for task {name!r}.")
            if not isinstance(resolved, keras.losses.Loss):
                resolved = _FunctionLoss(resolved)
            losses[name] = resolved
        if not losses:
            raise ValueError(
                f"No task has a loss (received loss={loss!r}); give at least one task a loss."
            )
        return losses

    def _resolve_task_weights(self, task_weights, losses):
        if task_weights is None:
            return None
        if isinstance(task_weights, dict):
            constants = _check_weight_dict("task_weights", task_weights)

            def weight_function(step):
                return constants

        elif callable(task_weights):
            weight_function = task_weights
        else:
            raise ValueError(
                "task_weights must be None, a dict of task weights, a TaskWeightSchedule or a "
                f"function of the step; received {task_weights!r}."
            )
        try:
            first = weight_function(ops.convert_to_tensor(0.0, "float32"))
        except Exception as error:
            raise ValueError(f"task_weights failed at step 0: {error}") from error
        if not isinstance(first, dict):
            raise ValueError(
                "task_weights must give a dict {task name: weight}; at step 0 it gave "
                f"{type(first).__name__}."
            )
        self._check_names("task_weights", first)
        missing = [name for name in losses if name not in first]
        if missing:
            raise ValueError(
                f"task_weights gives no weight for the trained tasks {missing}; it names "
                f"{sorted(first)}."
            )
        return weight_function

    def _targets(self, y, predicted):
        """The targets, checked: a dict with every trained task's, each
        shaped as its predictions `predicted[name]` (logits' shapes)."""
        if not isinstance(y, dict):
            raise ValueError(
                "BertMultiTask's targets must be a dict keyed by task name "
                f"({sorted(self._task_losses)}); received {type(y).__name__}."
            )
        self._check_names("The targets", y)
        missing = [name for name in self._task_losses if y.get(name) is None]
        if missing:
            raise ValueError(
                f"No targets for the tasks {missing}, which have a loss; targets were given for "
                f"{sorted(y)}. Give them, or leave those tasks out of compile's loss dict."
            )
        for name, target in y.items():
            if target is None:
                continue
            logits, shape = predicted[name], _shape(target)
            # Class ids (with or without a trailing 1), or one value per class.
            if not any(_same_shape(shape, s) for s in (logits[:-1], logits[:-1] + (1,), logits)):
                raise ValueError(
                    f"The targets for task {name!r} have shape {shape}, but its logits are "
                    f"{logits}: give class ids shaped {logits[:-1]}."
                )
        return y

    def _given_sample_weights(self, sample_weight, predicted):
        """`{task: its sample weights or None}`, checked against the
        predictions' shapes `predicted`."""
        if isinstance(sample_weight, dict):
            self._check_names("sample_weight", sample_weight)
            given = {name: sample_weight.get(name) for name in self.task_names}
        else:
            given = dict.fromkeys(self.task_names, sample_weight)
        for name, weight in given.items():
            if weight is None:
                continue
            shape, expected = _shape(weight), predicted[name][:-1]  # one weight per prediction
            per_example = shape is None or (
                len(shape) in (1, 2)
                and shape[1:] in ((), (1,))
                and _same_shape(shape[:1], expected[:1])
            )
            if not (per_example or _same_shape(shape, expected)):
                raise ValueError(
                    f"sample_weight for task {name!r} has shape {shape}, but the task predicts "
                    f"{expected} (its logits are {predicted[name]}): give one weight per "
                    f"prediction {expected}, or one per example ({expected[0]},)."
                )
        return given

    def _sample_weights(self, sample_weight, y_pred):
        """Each task's sample weights as float32 `(B, ...)` shaped as its
        predictions without the class axis (per-example weights spread over
        a token-level task's positions), or None."""
        predicted = {name: _shape(logits) for name, logits in y_pred.items()}
        weights = self._given_sample_weights(sample_weight, predicted)
        for name, weight in weights.items():
            if weight is None:
                continue
            weight = ops.cast(weight, "float32")
            logits = y_pred[name]
            if len(logits.shape) == 2:  # (B, C): (B,) or (B, 1) weights
                weight = ops.reshape(weight, (-1,))  # (B,)
            else:  # (B, T, C): (B,), (B, 1) or (B, T) weights
                weight = ops.reshape(weight, (ops.shape(logits)[0], -1))  # (B, 1) or (B, T)
                weight = weight * ops.ones_like(logits[..., 0])  # (B, T)
            weights[name] = weight
        return weights

    def _check_data(self, x, y, sample_weight):
        """Checks the (first) batch's targets and sample weights before
        training starts: on JAX, an error inside the first compiled step
        leaves the model's variables detached from their values.

        Returns `(x, sample_weight)`: a generator is given back with its
        first batch put in front again; a dict of NumPy sample weights gets
        ones for the tasks it leaves out (Keras wants one per target).
        """
        if self._task_losses is None:
            return x, sample_weight
        first = (x, y, sample_weight)
        if y is None:
            if isinstance(x, keras.utils.PyDataset):
                first = x[0]
            elif hasattr(x, "element_spec"):  # a tf.data.Dataset: its shapes, no data read
                first = x.element_spec
            elif isinstance(x, types.GeneratorType):
                try:
                    first = next(x)
                except StopIteration:
                    return x, sample_weight
                x = _chain(first, x)
            else:
                return x, sample_weight  # checked in the compiled step
            first = keras.utils.unpack_x_y_sample_weight(first)
        x_batch, y_batch, weight_batch = first
        if y_batch is None:
            return x, sample_weight
        try:
            spec = keras.tree.map_structure(
                lambda v: keras.KerasTensor(_shape(v), standardize_dtype(v.dtype)), x_batch
            )
            predicted = {name: _shape(s) for name, s in self.compute_output_spec(spec).items()}
        except Exception:  # inputs Keras will refuse with its own error
            return x, sample_weight
        self._targets(y_batch, predicted)
        self._given_sample_weights(weight_batch, predicted)
        if y is not None and isinstance(sample_weight, dict):
            rows = _shape(next(v for v in y.values() if v is not None))[0]
            ones = np.ones((rows,), "float32")
            sample_weight = {
                name: sample_weight.get(name, ones) for name in y if y[name] is not None
            }
        return x, sample_weight

    def fit(self, x=None, y=None, *args, sample_weight=None, validation_data=None, **kwargs):
        x, sample_weight = self._check_data(x, y, sample_weight)
        if isinstance(validation_data, tuple) and len(validation_data) in (2, 3):
            data = (*validation_data, None)[:3]
            validation_data = (data[0], data[1], self._check_data(*data)[1])
        return super().fit(
            x, y, *args, sample_weight=sample_weight, validation_data=validation_data, **kwargs
        )

    def evaluate(self, x=None, y=None, *args, sample_weight=None, **kwargs):
        x, sample_weight = self._check_data(x, y, sample_weight)
        return super().evaluate(x, y, *args, sample_weight=sample_weight, **kwargs)

    def train_on_batch(self, x, y=None, sample_weight=None, **kwargs):
        x, sample_weight = self._check_data(x, y, sample_weight)
        return super().train_on_batch(x, y, sample_weight=sample_weight, **kwargs)

    def test_on_batch(self, x, y=None, sample_weight=None, **kwargs):
        x, sample_weight = self._check_data(x, y, sample_weight)
        return super().test_on_batch(x, y, sample_weight=sample_weight, **kwargs)

    def _weights_now(self):
        """`{task: float32 scalar}` for this step, from the schedule or the
        `task_weights` variable."""
        if self._task_weight_function is None:
            values = ops.convert_to_tensor(self.task_weights)  # (tasks,)
            return {name: values[index] for index, name in enumerate(self.task_names)}
        step = ops.cast(self.task_step, "float32")
        weights = self._task_weight_function(step)
        return {name: ops.cast(weights[name], "float32") for name in self._task_losses}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if self._task_losses is None:
            raise ValueError("Compile the model before training it.")
        y = self._targets(y, {name: _shape(logits) for name, logits in y_pred.items()})
        sample_weight = self._sample_weights(sample_weight, y_pred)
        weights = self._weights_now()
        batch = ops.shape(y_pred[self.task_names[0]])[0]
        total = ops.zeros((), "float32")
        for name, loss_function in self._task_losses.items():
            task_loss = ops.cast(
                loss_function(y[name], y_pred[name], sample_weight=sample_weight[name]), "float32"
            )
            total = total + weights[name] * task_loss
            self._task_loss_trackers[name].update_state(task_loss, sample_weight=batch)
            self._task_weight_trackers[name].update_state(weights[name])
        for extra in self.losses:  # weight regularizers, add_loss
            total = total + ops.sum(ops.cast(extra, "float32"))
        if training:
            if self._task_weight_function is not None:
                used = ops.stack(
                    [
                        weights[name] if name in weights else ops.zeros((), "float32")
                        for name in self.task_names
                    ]
                )
                self.task_weights.assign(used)
            self.task_step.assign_add(1)
        return total

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        if internals.compile_metrics(self) is not None:
            y = self._targets(y, {name: _shape(logits) for name, logits in y_pred.items()})
            present = [name for name in self.task_names if y.get(name) is not None]
            weights = self._sample_weights(sample_weight, y_pred)
            y = {name: y[name] for name in present}
            y_pred = {name: y_pred[name] for name in present}
            sample_weight = {name: weights[name] for name in present}
            if all(value is None for value in sample_weight.values()):
                sample_weight = None
        return super().compute_metrics(x, y, y_pred, sample_weight)

    @property
    def metrics(self):
        metrics = super().metrics
        if self._task_losses is None:
            return metrics
        # Report the trained tasks' loss and weight trackers only.
        idle = {
            id(tracker)
            for name, tracker in (
                *self._task_loss_trackers.items(),
                *self._task_weight_trackers.items(),
            )
            if name not in self._task_losses
        }
        return [metric for metric in metrics if id(metric) not in idle]

    def get_compile_config(self):
        config = super().get_compile_config()
        if config:
            config["loss"] = keras.saving.serialize_keras_object(self._user_loss)
            config["task_weights"] = keras.saving.serialize_keras_object(self._user_task_weights)
            config.pop("loss_weights", None)
        return config

    def compile_from_config(self, config):
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if self.optimizer is not None and self.built:
            self.optimizer.build(self.trainable_variables)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": keras.layers.serialize(self.backbone),
            "tasks": [task.get_config() for task in self.tasks],
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.layers.deserialize(config["backbone"])
        return cls(**config)


def _dtype_policy(backbone):
    """The dtype policy the backbone's layers compute with: its word
    embeddings' (a functional backbone's own policy stays the global one when
    `dtype` is passed to it, as Keras drops that argument), else its own."""
    try:
        return backbone.get_layer("token_embedding").dtype_policy
    except ValueError:
        return backbone.dtype_policy


def _chain(first, rest):
    """A generator of `first`, then what `rest` yields."""
    yield first
    yield from rest


class _Initializer:
    """Stands in for a backbone in `kerastack.models.float32_dense`: the initializer
    range, 0.02 (BERT's) for backbones that do not say."""

    def __init__(self, backbone):
        self.initializer_range = getattr(backbone, "initializer_range", 0.02)


def _word_embedding(backbone, width):
    try:
        table = backbone.get_layer("token_embedding")
    except ValueError:
        table = None
    if table is None or not hasattr(table, "embeddings"):
        raise ValueError(
            "A masked_lm task ties its output to the backbone's word embeddings, a layer named "
            "'token_embedding'; this backbone has none."
        )
    if table.output_dim != width:
        raise ValueError(
            f"A masked_lm task needs word embeddings as wide as the sequence output ({width}); "
            f"the backbone's are {table.output_dim} wide."
        )
    return table


class TaskWeightScheduler(keras.callbacks.Callback):
    """Sets a `BertMultiTask`'s task weights before each training step (or
    epoch) from `schedule(step)` (or `schedule(epoch)`), computed in Python:
    BERT-keras's `TaskWeightScheduler`, for a model compiled with
    `task_weights=None`.

    It works on every backend: on JAX it reaches the model through
    `Callback.model`, which first attaches `fit`'s carried state to the
    model, so the next step reads the assigned weights. A schedule given to
    `compile` is evaluated inside the compiled step instead and needs no
    callback; the two give the same weights (see the tests).

    Args:
        schedule: a `TaskWeightSchedule` or any function of an int (the
            step: `model.task_step`, the steps since `compile`; or the
            epoch) returning `{task name: weight}`; every trained task needs
            a weight, tasks it leaves out keep their current one.
        unit: `"step"` or `"epoch"`.

    Example:

    >>> token_ids = keras.Input((None,), dtype="int32", name="token_ids")
    >>> sequence = keras.layers.Embedding(20, 8, name="token_embedding")(token_ids)
    >>> pooled = keras.layers.GlobalAveragePooling1D()(sequence)
    >>> backbone = keras.Model(
    ...     {"token_ids": token_ids}, {"sequence_output": sequence, "pooled_output": pooled})
    >>> model = BertMultiTask(backbone, [
    ...     Task("nli", "classification", num_classes=3),
    ...     Task("ner", "tagging", num_classes=4)])
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3), task_weights=None)
    >>> halving = TaskWeightScheduler(
    ...     lambda epoch: {"nli": 0.5 ** epoch, "ner": 1.0}, unit="epoch")
    >>> x = {"token_ids": np.array([[2, 5, 6, 3], [2, 7, 3, 0]], "int32")}
    >>> y = {"nli": np.array([0, 2]), "ner": np.array([[0, 1, 2, 0], [0, 3, 0, 0]])}
    >>> _ = model.fit(x, y, epochs=3, callbacks=[halving], verbose=0)
    >>> model.current_task_weights()  # epoch 2's
    {'nli': 0.25, 'ner': 1.0}
    """

    def __init__(self, schedule, unit="step"):
        super().__init__()
        if not callable(schedule):
            raise ValueError(f"schedule must be callable; received {schedule!r}.")
        if unit not in ("step", "epoch"):
            raise ValueError(f"unit must be 'step' or 'epoch'; received unit={unit!r}.")
        self.schedule = schedule
        self.unit = unit

    def on_train_begin(self, logs=None):
        model = self.model
        if not isinstance(model, BertMultiTask):
            raise ValueError(
                f"TaskWeightScheduler drives a BertMultiTask; received {type(model).__name__}."
            )
        if model._task_weight_function is not None:
            raise ValueError(
                "This model was compiled with task_weights=...; a TaskWeightScheduler needs "
                "compile(task_weights=None). Give the schedule to one of them, not both."
            )
        model._resolve_task_weights(self.schedule, model._task_losses)  # checks names

    def on_epoch_begin(self, epoch, logs=None):
        if self.unit == "epoch":
            self._set(epoch)

    def on_train_batch_begin(self, batch, logs=None):
        if self.unit == "step":
            # `self.model` (on JAX: the synced model) before reading the step.
            self._set(int(ops.convert_to_numpy(self.model.task_step)))

    def _set(self, count):
        model = self.model
        weights = self.schedule(count)
        values = ops.convert_to_numpy(model.task_weights).copy()
        for index, name in enumerate(model.task_names):
            if name in weights:
                values[index] = float(ops.convert_to_numpy(weights[name]))
        model.task_weights.assign(values)
