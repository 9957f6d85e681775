import inspect

from kerastack.core import check_float, check_int, keras, ops, serializable, set_dtype_policy

MERGE_MODES = ("concatenate", "stack")


@serializable
class MultiHead(keras.layers.Layer):
    """Run `num_copies` copies of a layer side by side and merge their outputs.

    Each copy has its own weights, made from the wrapped layer's config. The
    outputs are concatenated along the last axis (`merge="concatenate"`) or
    stacked on a new last axis (`merge="stack"`). With `hidden_dim`, each copy
    first sees its own learned projection of the input to `hidden_dim`
    features.

    A diversity regularizer pushes the copies apart: for each entry of
    `diversity_weights`, the same weight of every copy is flattened into a row
    `w_i` (optionally sliced first, see below), and
    `diversity_factor * sum((W W^T - I)^2)` is added to the layer's losses,
    computed on the live weights so it has a gradient.

    Args:
        layer: the `keras.layers.Layer` to copy, or a list of layers to use
            as the heads as they are (then `num_copies` is their number).
        num_copies: int, how many copies.
        merge: `"concatenate"` or `"stack"`.
        hidden_dim: int or None, width of each copy's own input projection.
        use_bias: bool, whether that projection has a bias.
        kernel_initializer, bias_initializer: for that projection.
        diversity_weights: list of indices into each copy's
            `trainable_weights`, or of `[index, slices]` pairs where `slices`
            is a list of `[start, stop, step]` triples (one per weight axis,
            `None` for "all") selecting part of the weight.
        diversity_factor: float, the regularizer's factor, or a list with one
            factor per entry of `diversity_weights`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Example:

    >>> x = np.random.rand(2, 7, 16).astype("float32")
    >>> layer = MultiHead(keras.layers.Dense(4), num_copies=3)
    >>> tuple(layer(x).shape)
    (2, 7, 12)
    """

    def __init__(
        self,
        layer,
        num_copies=2,
        merge="concatenate",
        hidden_dim=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        diversity_weights=None,
        diversity_factor=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        heads = layer if isinstance(layer, (list, tuple)) else [layer]
        heads = [keras.layers.deserialize(h) if isinstance(h, dict) else h for h in heads]
        for head in heads:
            if not isinstance(head, keras.layers.Layer):
                raise ValueError(
                    f"`layer` must be a keras.layers.Layer or a list of them, received {head!r}."
                )
        if isinstance(layer, (list, tuple)):
            num_copies = len(heads)
        num_copies = check_int("num_copies", num_copies)
        if callable(merge) and getattr(merge, "__name__", None) in MERGE_MODES:
            # Keras 3 reading a legacy .h5 config turns the string "concatenate"
            # into the function keras.layers.concatenate: take its name back.
            merge = merge.__name__
        if merge not in MERGE_MODES:
            raise ValueError(f"`merge` must be one of {MERGE_MODES}, received merge={merge!r}.")
        hidden_dim = check_int("hidden_dim", hidden_dim, allow_none=True)
        diversity_weights = [_parse_selection(item) for item in diversity_weights or []]
        if isinstance(diversity_factor, (list, tuple)):
            diversity_factor = [_factor(f) for f in diversity_factor]
            factors = list(diversity_factor)
        else:
            diversity_factor = _factor(diversity_factor)
            factors = [diversity_factor] * len(diversity_weights)
        if len(factors) != len(diversity_weights):
            raise ValueError(
                "`diversity_factor` must be a float >= 0 or one such float per entry of "
                f"`diversity_weights`, received diversity_factor={diversity_factor!r} for "
                f"{len(diversity_weights)} weights."
            )
        self.layer = heads[0] if len(heads) == 1 else heads
        self.num_copies = num_copies
        self.merge = merge
        self.hidden_dim = hidden_dim
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.diversity_weights = diversity_weights
        self.diversity_factor = diversity_factor
        self._diversity_factors = factors
        self.supports_masking = all(head.supports_masking for head in heads)
        config = keras.layers.serialize(heads[0])
        self.copies = heads + [
            keras.layers.deserialize(_renamed(config, f"{heads[0].name}_{index}"))
            for index in range(len(heads), num_copies)
        ]
        if kwargs.get("dtype") is not None:
            for copy in self.copies:  # an explicit dtype policy reaches every copy
                set_dtype_policy(copy, self.dtype_policy)
        self._call_takes_mask = ["mask" in _call_arguments(copy) for copy in self.copies]
        self._call_takes_training = ["training" in _call_arguments(copy) for copy in self.copies]

    def build(self, input_shape):
        copy_shape = input_shape
        if self.hidden_dim is not None:
            # One projection for all copies: (D, C * hidden), split per copy.
            self.projection = keras.layers.Dense(
                self.hidden_dim * self.num_copies,
                use_bias=self.use_bias,
                kernel_initializer=self.kernel_initializer,
                bias_initializer=self.bias_initializer,
                dtype=self.dtype_policy,
                name="projection",
            )
            self.projection.build(input_shape)
            copy_shape = tuple(input_shape[:-1]) + (self.hidden_dim,)
        for copy in self.copies:
            if not copy.built:  # copies restored by from_config may be built already
                copy.build(copy_shape)
        for index, _ in self.diversity_weights:
            for copy in self.copies:
                count = len(copy.trainable_weights)
                if not -count <= index < count:
                    raise ValueError(
                        f"`diversity_weights` names weight {index}, but {copy.name} has "
                        f"{count} trainable weights."
                    )

    def call(self, inputs, mask=None, training=None):
        if self.hidden_dim is None:
            copy_inputs = [inputs] * self.num_copies
        else:
            projected = self.projection(inputs)  # (..., C * hidden)
            copy_inputs = ops.split(projected, self.num_copies, axis=-1)  # C x (..., hidden)
        outputs = []
        for copy, x, takes_mask, takes_training in zip(
            self.copies, copy_inputs, self._call_takes_mask, self._call_takes_training, strict=True
        ):
            kwargs = {}
            if takes_mask and mask is not None:
                kwargs["mask"] = mask
            if takes_training:
                kwargs["training"] = training
            outputs.append(copy(x, **kwargs))
        if any(factor > 0 for factor in self._diversity_factors):
            self.add_loss(self._diversity_loss())
        if self.merge == "stack":
            return ops.stack(outputs, axis=-1)  # (..., F, C)
        return ops.concatenate(outputs, axis=-1)  # (..., C * F)

    def _diversity_loss(self):
        loss = 0.0
        for (index, slices), factor in zip(
            self.diversity_weights, self._diversity_factors, strict=True
        ):
            rows = []
            for copy in self.copies:
                weight = ops.convert_to_tensor(copy.trainable_weights[index])
                if slices is not None:
                    weight = weight[tuple(slice(*triple) for triple in slices)]
                rows.append(ops.reshape(ops.cast(weight, "float32"), (-1,)))
            stacked = ops.stack(rows)  # (C, n)
            gram = ops.matmul(stacked, ops.transpose(stacked))  # (C, C)
            loss = loss + factor * ops.sum(ops.square(gram - ops.eye(self.num_copies)))
        return loss

    def compute_mask(self, inputs, mask=None):
        if not self.supports_masking:
            return None
        return self.copies[0].compute_mask(inputs, mask)

    def compute_output_shape(self, input_shape):
        copy_shape = input_shape
        if self.hidden_dim is not None:
            copy_shape = tuple(input_shape[:-1]) + (self.hidden_dim,)
        # compute_output_spec also serves layers that only trace their call.
        spec = keras.KerasTensor(copy_shape, dtype=self.compute_dtype)
        shapes = [tuple(copy.compute_output_spec(spec).shape) for copy in self.copies]
        if self.merge == "stack":
            return shapes[0] + (self.num_copies,)
        widths = [shape[-1] for shape in shapes]
        width = None if None in widths else sum(widths)
        return shapes[0][:-1] + (width,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "layer": [keras.layers.serialize(head) for head in self.layer]
                if isinstance(self.layer, list)
                else keras.layers.serialize(self.layer),
                "num_copies": self.num_copies,
                "merge": self.merge,
                "hidden_dim": self.hidden_dim,
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "diversity_weights": [
                    index if slices is None else [index, slices]
                    for index, slices in self.diversity_weights
                ],
                "diversity_factor": self.diversity_factor,
            }
        )
        return config


def _factor(value):
    return check_float("diversity_factor", value, minimum=0.0)


def _parse_selection(item):
    """`index` or `[index, slices]` as `(index, slices or None)`."""
    if isinstance(item, int) and not isinstance(item, bool):
        return item, None
    if isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], int):
        index, slices = item
        slices = [list(triple) if triple is not None else [None] for triple in slices]
        if any(len(triple) not in (1, 2, 3) for triple in slices):
            raise ValueError(
                "Each slice in `diversity_weights` must be [start, stop, step] or None, "
                f"received {item!r}."
            )
        return index, slices
    raise ValueError(
        f"`diversity_weights` entries must be an int or [index, slices], received {item!r}."
    )


def _renamed(config, name):
    config = dict(config)
    config["config"] = dict(config["config"], name=name)
    return config


def _call_arguments(layer):
    return inspect.signature(layer.call).parameters
