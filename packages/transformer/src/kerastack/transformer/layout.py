"""Model-parallel layouts of transformer weights for Keras's distribution API
(`keras.distribution.ModelParallel`, JAX)."""

from kerastack.core import keras

# Weight paths, matched whole (`re.fullmatch`) at any depth of a model: the
# projections of any attention layer named `*attention*` (kerastack's
# MultiHeadAttention and keras.layers.MultiHeadAttention: the blocks' own
# `self_attention` and `cross_attention`), and those of any `feed_forward`.
ATTENTION = r"(?:.*/)?[^/]*attention[^/]*"
FEED_FORWARD = r"(?:.*/)?feed_forward"


def get_layout_map(device_mesh, model_axis="model", data_axis=None):
    """A `keras.distribution.LayoutMap` that splits transformer blocks'
    weights across the `model_axis` of `device_mesh`.

    Each block is split as in Megatron-LM (Shoeybi et al., 2019): the
    attention heads and the feed-forward hidden units are spread over the
    model axis, so a block computes its heads and hidden units where their
    weights are and gathers once after attention and once after the
    feed-forward network. With `data_axis` (the mesh's batch axis), each
    kernel's other axis is also split over the data axis, so the replicas
    hold a slice of the weights each and gather them when used (fully
    sharded data parallelism, ZeRO-3); the batch itself is split by
    `keras.distribution.ModelParallel(batch_dim_name=...)`.

    | weight (letters: D width, N heads, H head size, F hidden width) | axes |
    |---|---|
    | attention `query`, `key`, `value` kernels `(D, N, H)` | `(data, model, None)` |
    | their biases `(N, H)` | `(model, None)` |
    | attention `attention_output` kernel `(N, H, D)` | `(model, None, data)` |
    | feed-forward `intermediate_dense`, `gate_dense` kernels `(D, F)` | `(data, model)` |
    | their biases `(F,)` | `(model,)` |
    | feed-forward `output_dense` kernel `(F, D)` | `(model, data)` |

    Every other weight (layer norms, output biases) is replicated. The
    sizes split must divide: `num_heads` and `intermediate_dim` by the
    model axis's size, the width D by the data axis's. Mesh shapes that
    suit BERT-base (12 heads, F 3,072, D 768): a model axis of 2, 3, 4, 6
    or 12; BERT-large (16 heads, F 4,096, D 1,024): 2, 4, 8 or 16; the data
    axis takes the remaining devices.

    Args:
        device_mesh: a `keras.distribution.DeviceMesh`.
        model_axis: str, the mesh axis that splits heads and hidden units.
        data_axis: str or None, the mesh axis that also splits the weights'
            other axis (None: weights are whole on every replica).

    Returns:
        A `keras.distribution.LayoutMap` for
        `keras.distribution.ModelParallel(layout_map=..., batch_dim_name=...)`.

    Example:

    On 8 devices, `keras.distribution.list_devices()`, the mesh would be
    `DeviceMesh((2, 4), ["batch", "model"], devices)`; then
    `keras.distribution.set_distribution(keras.distribution.ModelParallel(
    layout_map=layout_map, batch_dim_name="batch"))`, and a model built
    after it has its weights created split. Here, one device:

    >>> mesh = keras.distribution.DeviceMesh((1, 1), ["batch", "model"], ["cpu:0"])
    >>> layout_map = get_layout_map(mesh, data_axis="batch")
    >>> layout_map["encoder/self_attention/query/kernel"].axes
    ('batch', 'model', None)
    >>> layout_map["encoder/feed_forward/output_dense/kernel"].axes
    ('model', 'batch')
    >>> layout_map["encoder/layer_norm/gamma"] is None  # replicated
    True
    """
    _check_axes(device_mesh, model_axis, data_axis)
    layout_map = keras.distribution.LayoutMap(device_mesh)
    model, data = model_axis, data_axis
    layout_map[f"{ATTENTION}/(?:query|key|value)/kernel"] = (data, model, None)
    layout_map[f"{ATTENTION}/(?:query|key|value)/bias"] = (model, None)
    layout_map[f"{ATTENTION}/attention_output/kernel"] = (model, None, data)
    layout_map[f"{FEED_FORWARD}/(?:intermediate_dense|gate_dense)/kernel"] = (data, model)
    layout_map[f"{FEED_FORWARD}/(?:intermediate_dense|gate_dense)/bias"] = (model,)
    layout_map[f"{FEED_FORWARD}/output_dense/kernel"] = (model, data)
    return layout_map


def _check_axes(device_mesh, model_axis, data_axis):
    names = tuple(device_mesh.axis_names)
    for argument, axis in (("model_axis", model_axis), ("data_axis", data_axis)):
        if axis not in names and (axis is not None or argument == "model_axis"):
            raise ValueError(
                f"{argument}={axis!r} is not an axis of the device mesh, whose axes are {names}."
            )
    if model_axis == data_axis:
        raise ValueError(
            f"model_axis and data_axis must be different mesh axes, both are {model_axis!r}."
        )
