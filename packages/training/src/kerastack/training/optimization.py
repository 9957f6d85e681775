"""BERT's optimizer: AdamW with linear warmup then linear decay, no weight
decay on biases and layer-normalization weights (Devlin et al., 2019)."""

from kerastack.core import check_float, check_int, keras, ops, serializable

# Weights named so take no weight decay: biases and layer-norm scales/offsets.
NO_DECAY = ("bias", "gamma", "beta")


@serializable
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """`learning_rate * step / warmup_steps` for the first `warmup_steps`
    steps, then linear down to `end_learning_rate` at `total_steps`, and
    `end_learning_rate` after.

    Example:

    >>> schedule = WarmupLinearDecay(1e-4, warmup_steps=10, total_steps=110)
    >>> [round(float(schedule(step)), 7) for step in (5, 10, 60, 200)]
    [5e-05, 0.0001, 5e-05, 0.0]
    """

    def __init__(self, learning_rate, warmup_steps, total_steps, end_learning_rate=0.0):
        learning_rate = check_float("learning_rate", learning_rate, minimum=0.0)
        end_learning_rate = check_float("end_learning_rate", end_learning_rate, minimum=0.0)
        warmup_steps = check_int("warmup_steps", warmup_steps, minimum=0)
        total_steps = check_int("total_steps", total_steps)
        if warmup_steps > total_steps:
            raise ValueError(
                "Expected warmup_steps <= total_steps, received "
                f"warmup_steps={warmup_steps}, total_steps={total_steps}."
            )
        self.learning_rate = learning_rate
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps
        self.end_learning_rate = end_learning_rate

    def __call__(self, step):
        step = ops.cast(step, "float32")
        peak, end = float(self.learning_rate), float(self.end_learning_rate)
        warmup = peak * step / max(float(self.warmup_steps), 1.0)
        decay_steps = max(float(self.total_steps - self.warmup_steps), 1.0)
        progress = ops.clip((step - self.warmup_steps) / decay_steps, 0.0, 1.0)
        decay = peak + (end - peak) * progress
        return ops.where(ops.less(step, float(self.warmup_steps)), warmup, decay)

    def get_config(self):
        return {
            "learning_rate": self.learning_rate,
            "warmup_steps": self.warmup_steps,
            "total_steps": self.total_steps,
            "end_learning_rate": self.end_learning_rate,
        }


def bert_optimizer(
    learning_rate,
    total_steps,
    warmup_steps=None,
    weight_decay=0.01,
    exclude_from_weight_decay=NO_DECAY,
    epsilon=1e-6,
    global_clipnorm=1.0,
):
    """`keras.optimizers.AdamW` set up as BERT's: the `WarmupLinearDecay`
    schedule (warmup over the first 10% of `total_steps` unless
    `warmup_steps` is given), `weight_decay` on every weight whose name does
    not contain one of `exclude_from_weight_decay`, and the gradient's global
    norm clipped to `global_clipnorm`.

    Example:

    >>> optimizer = bert_optimizer(2e-5, total_steps=1000)  # warmup: 100 steps
    >>> type(optimizer).__name__, optimizer.weight_decay, optimizer.global_clipnorm
    ('AdamW', 0.01, 1.0)
    >>> _ = optimizer.iterations.assign(100)
    >>> round(float(optimizer.learning_rate), 10)
    2e-05

    One step with zero gradients: the weight decay shrinks the kernel, not
    the bias:

    >>> kernel = keras.Variable(np.ones(2, "float32"), name="kernel")
    >>> bias = keras.Variable(np.ones(2, "float32"), name="bias")
    >>> optimizer = bert_optimizer(0.1, total_steps=10, warmup_steps=0)
    >>> optimizer.apply([ops.zeros((2,)), ops.zeros((2,))], [kernel, bias])
    >>> [round(float(ops.convert_to_numpy(v)[0]), 6) for v in (kernel, bias)]
    [0.999, 1.0]
    """
    if warmup_steps is None:
        warmup_steps = check_int("total_steps", total_steps) // 10
    optimizer = keras.optimizers.AdamW(
        learning_rate=WarmupLinearDecay(learning_rate, warmup_steps, total_steps),
        weight_decay=weight_decay,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=epsilon,
        global_clipnorm=global_clipnorm,
    )
    optimizer.exclude_from_weight_decay(var_names=list(exclude_from_weight_decay))
    return optimizer
