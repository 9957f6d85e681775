"""keras-hub preset folders into kerastack models and tokenizers, with no
keras-hub: a preset's `config.json` says which keras-hub class wrote it,
its `model.weights.h5` (Keras's weights file) holds the weights by layer;
its `tokenizer.json` names the tokenizer's class, whose files are in
`assets/tokenizer/`.

The kit knows no family. A family that reads keras-hub presets declares,
in its `pyproject.toml`, an entry point of the group `"kerastack.keras_hub"`
named after the keras-hub class (its `class_name`), whose value is a
function `build(config, **kwargs) -> (model, table)`: the randomly
initialized kerastack model the keras-hub `config` (the `"config"` object of
`config.json`, less Keras's own `name`, `trainable` and `dtype`, the last
passed as `dtype=` unless the caller gave one) describes, and its weight
table `[(variable, key, Layout)]`,
`key` naming the weight as `read_keras_weights` does; it may return a third item, the keys of the
file's weights the kerastack model has no place for (keras-hub's pooler on
ELECTRA, say), which are left out. A keras-hub tokenizer class's entry point is a
function `build(config, assets) -> tokenizer` of the `"config"` object of
`tokenizer.json` and the assets folder. E.g.

    [project.entry-points."kerastack.keras_hub"]
    BertBackbone = "kerastack.bert:bert_from_keras_hub"
    BertTokenizer = "kerastack.bert:bert_tokenizer_from_keras_hub"
"""

import importlib.metadata
import os

import numpy as np

from kerastack.core import static_shape
from kerastack.models.checkpoints import SAME, _hf_shape
from kerastack.tokenizers import read_json_object

__all__ = [
    "KERAS_HUB_GROUP",
    "is_keras_hub_preset",
    "keras_hub_block_weight_table",
    "keras_hub_class_name",
    "load_keras_hub_preset",
    "load_keras_hub_tokenizer",
    "read_keras_weights",
]

KERAS_HUB_GROUP = "kerastack.keras_hub"
_CONFIG_FILE = "config.json"
_WEIGHTS_FILE = "model.weights.h5"
_TOKENIZER_FILE = "tokenizer.json"
_TOKENIZER_ASSETS = os.path.join("assets", "tokenizer")
# Keys every Keras layer's config has, which are not the architecture.
_KERAS_KEYS = ("name", "trainable", "dtype")
# keras-hub's prefix of the names it registers its classes under.
_REGISTERED_PREFIX = "keras_hub>"


# keras-hub's TransformerEncoder and TransformerDecoder sublayers (their
# attribute paths in a weights file), for the attributes of kerastack's.
_BLOCK_PARTS = (
    (("self_attention", "query_dense"), "_self_attention_layer/query_dense"),
    (("self_attention", "key_dense"), "_self_attention_layer/key_dense"),
    (("self_attention", "value_dense"), "_self_attention_layer/value_dense"),
    (("self_attention", "output_dense"), "_self_attention_layer/output_dense"),
    (("self_attention_layer_norm",), "_self_attention_layer_norm"),
    (("feed_forward", "intermediate_dense"), "_feedforward_intermediate_dense"),
    (("feed_forward", "output_dense"), "_feedforward_output_dense"),
    (("feed_forward_layer_norm",), "_feedforward_layer_norm"),
)


def keras_hub_block_weight_table(block, name):
    """`[(variable, key, SAME)]` of a kerastack `TransformerEncoder` or
    self-attention-only `TransformerDecoder` block, keyed as
    `read_keras_weights` reads the keras-hub block of layer name `name`
    (`"transformer_layer_0"`): both lay out every weight alike (query, key,
    value kernels `(D, N, H)`, output kernel `(N, H, D)`).

    Example:

    >>> from kerastack.transformer import TransformerEncoder
    >>> block = TransformerEncoder(intermediate_dim=16, num_heads=2)
    >>> block.build((None, None, 8))
    >>> table = keras_hub_block_weight_table(block, "transformer_layer_0")
    >>> len(table), table[0][1]
    (16, 'transformer_layer_0/_self_attention_layer/query_dense/0')
    """
    table = []
    for attributes, key in _BLOCK_PARTS:
        layer = block
        for attribute in attributes:
            layer = getattr(layer, attribute)
        if hasattr(layer, "gamma"):
            first, second = layer.gamma, layer.beta
        else:
            first, second = layer.kernel, layer.bias
        table.append((first, f"{name}/{key}/0", SAME))
        table.append((second, f"{name}/{key}/1", SAME))
    return table


def keras_hub_class_name(config):
    """The keras-hub class a preset's `config.json` object (a dict) was
    written by (`"BertBackbone"`), or None when keras-hub did not write it
    (an HF `config.json`, say).

    Example:

    >>> keras_hub_class_name({"module": "keras_hub.src.models.bert.bert_backbone",
    ...     "class_name": "BertBackbone", "config": {},
    ...     "registered_name": "keras_hub>BertBackbone"})
    'BertBackbone'
    >>> keras_hub_class_name({"model_type": "bert"}) is None
    True
    """
    if not isinstance(config, dict):
        return None
    registered, module = config.get("registered_name"), config.get("module")
    class_name = config.get("class_name")
    if isinstance(registered, str) and registered.startswith(_REGISTERED_PREFIX):
        return registered[len(_REGISTERED_PREFIX) :]
    if isinstance(module, str) and module.split(".")[0] in ("keras_hub", "keras_nlp"):
        return class_name if isinstance(class_name, str) else None
    return None


def is_keras_hub_preset(folder):
    """Whether `folder` holds a keras-hub preset: a `config.json` written by
    keras-hub (see `keras_hub_class_name`).

    Example:

    >>> import json, os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> is_keras_hub_preset(folder)
    False
    >>> with open(os.path.join(folder, "config.json"), "w") as file:
    ...     json.dump({"class_name": "BertBackbone", "config": {},
    ...                "registered_name": "keras_hub>BertBackbone"}, file)
    >>> is_keras_hub_preset(folder)
    True
    """
    path = os.path.join(os.fspath(folder), _CONFIG_FILE)
    if not os.path.isfile(path):
        return False
    try:
        config = read_json_object(path)
    except ValueError:
        return False
    return keras_hub_class_name(config) is not None


def read_keras_weights(path):
    """`{key: NumPy array}` of a Keras 3 weights file (`*.weights.h5`, what
    `model.save_weights` and keras-hub's presets write).

    A weight's key is its layer's name, the attribute path of the sublayer
    inside it, and the weight's index there:
    `"token_embedding/0"`, `"transformer_layer_0/_self_attention_layer/query_dense/0"`
    (the file names each top-level layer by its class; the key by the
    layer's own name, which a model fixes). A missing file is a
    `FileNotFoundError`, one that is not a Keras weights file a `ValueError`.

    Example:

    >>> import os, tempfile
    >>> from kerastack.core import keras
    >>> inputs = keras.Input((3,))
    >>> model = keras.Model(inputs, keras.layers.Dense(2, name="scores")(inputs))
    >>> path = os.path.join(tempfile.mkdtemp(), "model.weights.h5")
    >>> model.save_weights(path)
    >>> {key: value.shape for key, value in sorted(read_keras_weights(path).items())}
    {'scores/0': (3, 2), 'scores/1': (2,)}
    """
    import h5py

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No Keras weights file at {path}.")
    try:
        file = h5py.File(path, "r")
    except OSError as error:
        raise ValueError(f"{path} is not a readable Keras weights file (HDF5): {error}") from error
    with file:
        if "layers" not in file:
            raise ValueError(f"{path} is not a Keras 3 weights file: it has no 'layers' group.")
        datasets = []
        file.visititems(
            lambda name, item: (
                datasets.append((name, item)) if isinstance(item, h5py.Dataset) else None
            )
        )
        tensors = {}
        for name, dataset in datasets:
            parts = name.split("/")
            if len(parts) >= 3 and parts[0] == "layers":
                # layers/<class>/.../vars/<index>: the layer's own name first.
                layer = file["/".join(parts[:2])]
                own = layer["vars"].attrs.get("name") if "vars" in layer else None
                if isinstance(own, bytes):
                    own = own.decode("utf-8")
                parts = [own if isinstance(own, str) and own else parts[1], *parts[2:]]
            key = "/".join(part for part in parts if part != "vars")
            if key in tensors:
                raise ValueError(f"{path} holds two weights that read as {key!r}.")
            value = np.asarray(dataset[()])
            if dataset.attrs.get("dtype") in ("bfloat16", b"bfloat16"):
                # Keras writes bfloat16 as raw 2-byte values: widen to float32
                # (bfloat16 is float32's upper half).
                value = (value.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
            tensors[key] = value
    return tensors


def _registered():
    entries = {}
    for entry in importlib.metadata.entry_points(group=KERAS_HUB_GROUP):
        other = entries.get(entry.name)
        if other is not None and other.value != entry.value:
            raise RuntimeError(
                f"Two installed packages register {entry.name!r} in {KERAS_HUB_GROUP!r}: "
                f"{other.value} and {entry.value}; uninstall one."
            )
        entries[entry.name] = entry
    return entries


def _builder(path):
    """`(the "config" object, the registered builder)` of the keras-hub
    config file at `path`."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No keras-hub preset config at {path}.")
    config = read_json_object(path)
    class_name = keras_hub_class_name(config)
    if class_name is None:
        raise ValueError(
            f"{path} was not written by keras-hub (no registered_name 'keras_hub>...' nor a "
            "keras_hub module): not a keras-hub preset."
        )
    arguments = config.get("config")
    if not isinstance(arguments, dict):
        raise ValueError(f"{path} has no 'config' object (received {arguments!r}).")
    registered = _registered()
    if class_name not in registered:
        raise ValueError(
            f"{path} is a keras-hub {class_name}, which no installed kerastack family reads; "
            f"the installed ones read {sorted(registered)}."
        )
    return arguments, registered[class_name].load()


def load_keras_hub_preset(folder, **kwargs):
    """The kerastack model of the keras-hub preset in `folder` (a folder
    keras-hub's `save_to_preset` wrote: `config.json`, `model.weights.h5`),
    with its weights; keras-hub need not be installed.

    The keras-hub class in `config.json` picks the installed kerastack
    family that builds it (see the module's docstring); `kwargs` go to it
    (`dtype`, ...). Loading is strict: a weight the model has and the file
    lacks, one the file has and the model lacks, or one of another shape is
    a `ValueError` naming every misfit, and no model.
    `kerastack.models.from_pretrained(folder)` calls it for a preset.

    Example:

    >>> import tempfile
    >>> load_keras_hub_preset(tempfile.mkdtemp())
    Traceback (most recent call last):
    ...
    FileNotFoundError: No keras-hub preset config at .../config.json.
    """
    folder = os.fspath(folder)
    config, build = _builder(os.path.join(folder, _CONFIG_FILE))
    if "dtype" not in kwargs:
        kwargs["dtype"] = _policy_name(config.get("dtype"))
    arguments = {key: value for key, value in config.items() if key not in _KERAS_KEYS}
    built = build(arguments, **kwargs)
    model, table = built[:2]
    left_out = set(built[2]) if len(built) > 2 else set()
    weights_path = os.path.join(folder, _WEIGHTS_FILE)
    tensors = read_keras_weights(weights_path)
    tensors = {key: value for key, value in tensors.items() if key not in left_out}
    _assign(model, table, tensors, weights_path)
    return model


def load_keras_hub_tokenizer(folder):
    """The kerastack tokenizer of the keras-hub preset in `folder`: its
    `tokenizer.json` names the keras-hub tokenizer class, whose installed
    kerastack family builds the matching tokenizer from the files in
    `assets/tokenizer/` (a BERT preset's `vocabulary.txt`). A class no
    installed family reads, or a setting the kerastack tokenizer does not
    have, is a `ValueError` naming it.

    Example:

    >>> import tempfile
    >>> load_keras_hub_tokenizer(tempfile.mkdtemp())
    Traceback (most recent call last):
    ...
    FileNotFoundError: No keras-hub preset config at .../tokenizer.json.
    """
    folder = os.fspath(folder)
    arguments, build = _builder(os.path.join(folder, _TOKENIZER_FILE))
    return build(arguments, os.path.join(folder, _TOKENIZER_ASSETS))


def _policy_name(policy):
    """The name of a dtype policy as a Keras config saves it: a name, or a
    serialized policy (`{"class_name": "DTypePolicy", "config": {"name": ...}}`);
    None for anything else (the default policy)."""
    if isinstance(policy, dict):
        policy = policy.get("config")
        policy = policy.get("name") if isinstance(policy, dict) else None
    return policy if isinstance(policy, str) else None


def _assign(model, table, tensors, source):
    """Assign `{key: array}` to `table`'s weights, all or nothing."""
    wanted = [key for _, key, _ in table]
    twice = sorted({key for key in wanted if wanted.count(key) > 1})
    missing = sorted(key for key in wanted if key not in tensors)
    unexpected = sorted(key for key in tensors if key not in set(wanted))
    values, mismatched = [], []
    for variable, key, layout in table:
        if key not in tensors:
            continue
        value = tensors[key]
        expected = _hf_shape(layout, tuple(static_shape(variable)))
        if value.shape != expected or value.dtype.kind != "f":
            mismatched.append(f"{key}: file {value.shape} {value.dtype}, model {expected}")
            continue
        values.append((variable, layout.to_ours(value).astype(variable.dtype)))
    problems = []
    for label, names in (
        ("weights the model declares twice", twice),
        ("missing weights", missing),
        ("unexpected weights", unexpected),
        ("shape or dtype mismatches", mismatched),
    ):
        if names:
            problems.append(f"{label}: {', '.join(names)}")
    if problems:
        raise ValueError(
            f"{source} does not fit this {type(model).__name__} ({'; '.join(problems)})."
        )
    for variable, value in values:
        variable.assign(value)
