"""The model-parallel layout of BERT's weights for Keras's distribution API."""

from kerastack.transformer import get_layout_map as transformer_layout_map


def get_layout_map(device_mesh, model_axis="model", data_axis=None):
    """A `keras.distribution.LayoutMap` for `BertBackbone` and the task
    models built on it, splitting their weights across the `model_axis` of
    `device_mesh` (for `keras.distribution.ModelParallel`).

    The encoder blocks are split as `kerastack.transformer.get_layout_map`
    says: attention heads and feed-forward hidden units over the model axis
    (and, with `data_axis`, the kernels' other axis over the data axis). The
    word and position tables `(V, D)` and `(P, D)` are split along the width
    D over the model axis: the vocabulary (30,522 in Google's English
    models) is divisible by few mesh sizes, the width by all of them. The
    masked-LM head, tied to the word table, computes its logits from that
    split table. The segment table, layer norms, pooler and task heads are
    replicated: they hold under 1% of BERT's weights.

    Sizes must divide: `num_heads`, `intermediate_dim` and `hidden_dim` by
    the model axis's size (and `hidden_dim` by the data axis's, when one is
    given). BERT-base (12 heads, D 768) suits a model axis of 2, 3, 4, 6 or
    12; BERT-large (16 heads, D 1,024) one of 2, 4, 8 or 16.

    Args:
        device_mesh: a `keras.distribution.DeviceMesh`.
        model_axis: str, the mesh axis that splits heads, hidden units and
            the embeddings' width.
        data_axis: str or None, the mesh axis that also splits the encoder
            kernels' other axis (fully sharded data parallelism), or None.

    Example:

    On 8 devices (`keras.distribution.list_devices()`), the mesh would be
    `DeviceMesh((2, 4), ["batch", "model"], devices)`; then
    `keras.distribution.set_distribution(keras.distribution.ModelParallel(
    layout_map=get_layout_map(mesh), batch_dim_name="batch"))`, and a
    `BertPretrainer(BertBackbone(...))` built after it has its weights
    created split. Here, one device:

    >>> from kerastack.core import keras
    >>> mesh = keras.distribution.DeviceMesh((1, 1), ["batch", "model"], ["cpu:0"])
    >>> layout_map = get_layout_map(mesh)
    >>> layout_map["token_embedding/embeddings"].axes  # (V, D), split along D
    (None, 'model')
    >>> layout_map["transformer_layer_0/self_attention/query/kernel"].axes  # (D, N, H)
    (None, 'model', None)
    >>> layout_map["segment_embedding/embeddings"] is None  # replicated
    True
    """
    layout_map = transformer_layout_map(device_mesh, model_axis, data_axis)
    layout_map[r"(?:.*/)?(?:token|position)_embedding/embeddings"] = (None, model_axis)
    return layout_map
