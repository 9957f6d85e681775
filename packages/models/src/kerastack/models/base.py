"""The bases every family's models build on: a functional backbone whose
Keras config is its constructor's arguments (`SavedByArguments`), a task
model saved as its backbone plus its own arguments (`TaskModel`), loading
from a checkpoint folder or the Hub (`Pretrained.from_pretrained`), and the
one place that puts back the dtype policy Keras's functional
`Model.__init__` drops (`keep_dtype_policy`). Both bases save a quantized
model (`model.quantize("int8")`) as its float config plus a
`DTypePolicyMap` of the quantized layers' policies, which `from_config`
applies again before Keras loads the quantized weights."""

import inspect
import json

from kerastack.core import keras, set_dtype_policy
from kerastack.models.checkpoints import assign_hf_tensors, read_checkpoint_tensors
from kerastack.models.lora import LoraMixin
from kerastack.models.preprocessing import (
    TextBatches,
    TextClassifierPreprocessor,
    bind_arguments,
    is_text,
    split_last,
)
from kerastack.tokenizers import checkpoint_folder

__all__ = ["Pretrained", "SavedByArguments", "TaskModel", "keep_dtype_policy"]

# Constructor arguments every Keras model takes, saved by Keras itself.
_KERAS_ARGUMENTS = frozenset({"self", "name", "dtype", "trainable"})


def keep_dtype_policy(model, dtype):
    """Give `model` the dtype policy `dtype` (when not None), which Keras's
    functional `Model.__init__` drops: without it the model's policy (which
    `compile` reads to add loss scaling, and `get_config` saves) would be
    float32 under a mixed policy.

    Example:

    >>> inputs = keras.Input((2,))
    >>> model = keras.Model(inputs, keras.layers.Dense(1, dtype="mixed_float16")(inputs))
    >>> keep_dtype_policy(model, "mixed_float16")
    >>> model.dtype_policy.name
    'mixed_float16'
    """
    if dtype is not None:
        set_dtype_policy(model, dtype)


def _quantized_policies(model):
    """The dtype policy of each quantized layer under `model`, by path: a
    `DTypePolicyMap` whose default is the model's own policy, or None when
    no layer is quantized (or this Keras has no quantization)."""
    policy_map_class = getattr(getattr(keras, "dtype_policies", None), "DTypePolicyMap", None)
    if policy_map_class is None:
        return None
    policies = {
        layer.path: layer.dtype_policy
        for layer in model._flatten_layers(include_self=False)
        if layer.path and getattr(layer, "quantization_mode", None) is not None
    }
    if not policies:
        return None
    return policy_map_class(default_policy=model.dtype_policy.name, policy_map=policies)


def _quantized_config(model, config):
    """`config` with the quantized layers' policies (`"dtype"`, a
    `DTypePolicyMap`) and the quantization configs they were quantized with
    (`"quantization_configs"`, serialized, by path), when `model` has any."""
    policies = _quantized_policies(model)
    if policies is None:
        return config
    configs = {
        layer.path: keras.saving.serialize_keras_object(layer.quantization_config)
        for layer in model._flatten_layers(include_self=False)
        if layer.path in policies and getattr(layer, "quantization_config", None) is not None
    }
    return {**config, "dtype": policies, **({"quantization_configs": configs} if configs else {})}


def _split_quantized_dtype(config):
    """`config` with a `DTypePolicyMap` dtype (serialized or not) replaced
    by its default policy's name and without its quantization configs; the
    map and the configs (None where there are none)."""
    config = dict(config)
    configs = config.pop("quantization_configs", None)
    dtype = config.get("dtype")
    if isinstance(dtype, dict):
        dtype = keras.dtype_policies.deserialize(dtype)
    policy_map_class = getattr(getattr(keras, "dtype_policies", None), "DTypePolicyMap", None)
    if policy_map_class is None or not isinstance(dtype, policy_map_class):
        return config, None, None
    return {**config, "dtype": dtype.default_policy.name}, dtype, configs


def _quantize_as(model, policy_map, configs=None):
    """Quantize the layers of `model` that `policy_map` names, each in its
    recorded mode and with its recorded quantization config (`configs`, by
    path), so the model has the variables its saved weights hold. A path
    the map names but the model lacks is an error naming it (the file was
    saved by another version of the model)."""
    if policy_map is None:
        return model
    paths = {layer.path: layer for layer in model._flatten_layers(include_self=False)}
    by_mode = {}
    for path in policy_map.keys():
        if path not in paths:
            raise ValueError(
                f"The saved {type(model).__name__} has a quantized layer {path!r} that this "
                "model does not have."
            )
        policy = policy_map[path]
        # int4 keeps its block size in the policy ("int4/64_from_float32");
        # a config saved before configs were recorded has only that.
        saved = (configs or {}).get(path)
        key = (
            policy.quantization_mode,
            getattr(policy, "block_size", None),
            json.dumps(saved, sort_keys=True) if saved is not None else None,
        )
        by_mode.setdefault(key, set()).add(path)
    for (mode, block_size, saved), chosen in by_mode.items():
        # A task model's backbone quantized its own layers when it was made.
        chosen = {path for path in chosen if paths[path].quantization_mode is None}
        if not chosen:
            continue
        config = None
        if saved is not None:
            config = keras.saving.deserialize_keras_object(json.loads(saved))
        elif block_size is not None:
            config = keras.quantizers.Int4QuantizationConfig(block_size=block_size)
        model.quantize(
            mode, config=config, filters=lambda layer, chosen=chosen: layer.path in chosen
        )
    return model


def _check_preprocessor(preprocessor, backbone):
    """A ValueError when `preprocessor` can give ids or lengths `backbone`
    has no rows for: compiled steps (JAX, TensorFlow) would not check them,
    and a lookup past a table gives NaN there."""
    try:
        words = getattr(preprocessor.tokenizer, "vocabulary_size", None)
    except ValueError:  # loading: its files come with the saved model's assets, later
        words = None
    table = getattr(backbone, "vocabulary_size", None)
    if isinstance(words, int) and isinstance(table, int) and words > table:
        raise ValueError(
            f"The preprocessor's tokenizer has {words} tokens, but the backbone's "
            f"vocabulary_size is {table}: ids from {table} on would have no embedding."
        )
    length = getattr(backbone, "max_sequence_length", None)
    if isinstance(length, int) and preprocessor.sequence_length > length:
        raise ValueError(
            f"The preprocessor's sequence_length {preprocessor.sequence_length} is more than "
            f"the backbone's max_sequence_length {length}."
        )


class Pretrained:
    """`from_pretrained`, the same for every family: the checkpoint folder
    (or the Hugging Face Hub model a name such as `"org/name"` names,
    downloaded by `huggingface_hub` or taken from its cache), the model its
    config describes, then its weights, loaded strictly.

    A family gives two hooks: the class method `from_config_file(path,
    **kwargs)`, a randomly initialized model shaped by the folder's config,
    and `load_checkpoint(folder, allow_longer_position_table)`, which by
    default reads HF's `model.safetensors` (or `pytorch_model.bin`, which
    needs PyTorch) and assigns it through the model's `hf_weight_table()`
    (`assign_hf_tensors`: all or nothing).

    Example:

    >>> import json, os, tempfile
    >>> from kerastack.models import SAME, TRANSPOSE, write_checkpoint
    >>> class Tiny(Pretrained, keras.Sequential):
    ...     @classmethod
    ...     def from_config_file(cls, path, **kwargs):
    ...         with open(os.path.join(path, "config.json")) as file:
    ...             width = json.load(file)["width"]
    ...         return cls([keras.Input((2,)), keras.layers.Dense(width)], **kwargs)
    ...     def hf_weight_table(self):
    ...         dense = self.layers[0]
    ...         return [(dense.kernel, "w", TRANSPOSE), (dense.bias, "b", SAME)]
    >>> folder = tempfile.mkdtemp()
    >>> tensors = {"w": np.ones((3, 2), "float32"), "b": np.zeros(3, "float32")}
    >>> write_checkpoint(folder, tensors, json.dumps({"width": 3}))
    >>> model = Tiny.from_pretrained(folder)
    >>> model(np.ones((1, 2), "float32")).tolist()
    [[2.0, 2.0, 2.0]]
    """

    @classmethod
    def from_config_file(cls, path, **kwargs):
        """A randomly initialized model shaped by the config in `path` (a
        file, or the folder holding it); `kwargs` go to the constructor."""
        raise NotImplementedError(f"{cls.__name__} must implement from_config_file(path).")

    def load_checkpoint(self, folder, allow_longer_position_table=False):
        """Assign the weights of the checkpoint in `folder` (see
        `assign_hf_tensors`); returns the names of the tensors left out."""
        path, tensors = read_checkpoint_tensors(folder)
        return assign_hf_tensors(self, tensors, path, allow_longer_position_table)

    @classmethod
    def from_pretrained(cls, path, allow_longer_position_table=False, revision=None, **kwargs):
        """The model with the weights of the checkpoint in folder `path`, or
        of the Hub model `path` names (at `revision`: a branch, tag or
        commit; only for a Hub name). `allow_longer_position_table` slices
        a longer position table to the model's length; `kwargs` go to
        `from_config_file` (`dtype`, ...). Loading is strict: a checkpoint
        that does not fit is an error naming every misfit, and no model."""
        folder = checkpoint_folder(path, revision=revision)
        model = cls.from_config_file(folder, **kwargs)
        model.load_checkpoint(folder, allow_longer_position_table)
        return model


class SavedByArguments(LoraMixin):
    """A functional model whose Keras config is its constructor arguments.

    `CONFIG_KEYS` lists them explicitly (every argument of `__init__` but
    `name`, `dtype` and `trainable`, which Keras saves itself); a class
    whose `CONFIG_KEYS` and constructor disagree is a `TypeError` when it is
    defined, so no argument can silently be left out of a saved model. The
    constructor ends with `self._keep_arguments(locals())`, which keeps each
    as an attribute of the same name, and the dtype policy.

    Example:

    >>> class Tiny(SavedByArguments, keras.Model):
    ...     CONFIG_KEYS = ("width",)
    ...     def __init__(self, width, dtype=None, **kwargs):
    ...         inputs = keras.Input((3,))
    ...         outputs = keras.layers.Dense(width, dtype=dtype)(inputs)
    ...         super().__init__(inputs, outputs, dtype=dtype, **kwargs)
    ...         self._keep_arguments(locals())
    >>> Tiny(4).get_config()["width"]
    4
    >>> class Forgetful(SavedByArguments, keras.Model):
    ...     CONFIG_KEYS = ()
    ...     def __init__(self, width, **kwargs):
    ...         super().__init__(**kwargs)
    Traceback (most recent call last):
    ...
    TypeError: Forgetful.CONFIG_KEYS lacks the constructor arguments ['width']: a saved ...
    """

    CONFIG_KEYS = ()

    def __init__(self, *args, dtype=None, **kwargs):
        # Keras 3's functional `Model.__init__` drops `dtype`, and Keras 2's
        # refuses it: `_keep_arguments` sets the policy afterwards.
        super().__init__(*args, **kwargs)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" not in cls.__dict__ and "CONFIG_KEYS" not in cls.__dict__:
            return
        parameters = inspect.signature(cls.__init__).parameters.values()
        arguments = {
            p.name
            for p in parameters
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name not in _KERAS_ARGUMENTS
        }
        missing = sorted(arguments - set(cls.CONFIG_KEYS))
        if missing:
            raise TypeError(
                f"{cls.__name__}.CONFIG_KEYS lacks the constructor arguments {missing}: a saved "
                "model would lose them."
            )
        extra = sorted(set(cls.CONFIG_KEYS) - arguments)
        if extra:
            raise TypeError(
                f"{cls.__name__}.CONFIG_KEYS names {extra}, which are not constructor arguments."
            )

    def _keep_arguments(self, arguments):
        for key in self.CONFIG_KEYS:
            setattr(self, key, arguments[key])
        keep_dtype_policy(self, arguments.get("dtype"))

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable}
        config.update({key: getattr(self, key) for key in self.CONFIG_KEYS})
        config["dtype"] = self.dtype_policy.name
        return _quantized_config(self, config)

    @classmethod
    def from_config(cls, config):
        config, quantized, configs = _split_quantized_dtype(config)
        return _quantize_as(cls(**config), quantized, configs)


class TaskModel(keras.Model):
    """A functional model of task heads on a backbone, saved as the
    backbone (serialized) plus the task's own arguments.

    A subclass builds its graph, then calls `self._init(backbone, inputs,
    outputs, arguments, **kwargs)`, `arguments` being its constructor
    arguments other than `backbone` (`{"num_classes": 3, ...}`). The model
    takes the backbone's dtype policy unless `dtype` says otherwise.

    Every task model takes `preprocessor=` (a `TextClassifierPreprocessor`:
    a tokenizer and a sequence length, or None): with one, `fit`,
    `evaluate` and `predict` also take raw text (a list of str, or a tuple
    of two lists for pairs), tokenized batch by batch by a `TextBatches`
    PyDataset (no TensorFlow needed), and the preprocessor saves with the
    model (its config, and the tokenizer's files as assets). Without one,
    they are Keras's; raw text is then an error.

    Example:

    >>> class Scorer(TaskModel):
    ...     def __init__(self, backbone, units=1, **kwargs):
    ...         inputs = keras.Input((4,))
    ...         outputs = keras.layers.Dense(units)(backbone(inputs))
    ...         self._init(backbone, inputs, outputs, {"units": units}, **kwargs)
    >>> backbone = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> model = Scorer(backbone, units=2)
    >>> model.get_config()["units"]
    2
    """

    def _init(self, backbone, inputs, outputs, arguments, preprocessor=None, **kwargs):
        if preprocessor is not None and not isinstance(preprocessor, TextClassifierPreprocessor):
            raise ValueError(
                "preprocessor must be a kerastack.models.TextClassifierPreprocessor or None, "
                f"received {type(preprocessor).__name__}."
            )
        if preprocessor is not None:
            _check_preprocessor(preprocessor, backbone)
        dtype = kwargs.pop("dtype", None) or backbone.dtype_policy
        # Keras 3's functional `Model.__init__` drops `dtype`, and Keras 2's refuses it.
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        keep_dtype_policy(self, dtype)
        self.backbone = backbone
        self._arguments = dict(arguments)
        self.preprocessor = preprocessor

    @property
    def layers(self):
        # The preprocessor is no layer of the graph: summaries leave it out.
        preprocessor = getattr(self, "preprocessor", None)
        return [layer for layer in super().layers if layer is not preprocessor]

    def _text_batches(self, method, x, y=None, sample_weight=None, batch_size=None, shuffle=False):
        """`x` (raw text) and its labels and weights as a `TextBatches`."""
        if self.preprocessor is None:
            raise ValueError(
                f"{type(self).__name__}.{method} was given raw text, but the model has no "
                "preprocessor: pass preprocessor=TextClassifierPreprocessor(tokenizer, "
                "sequence_length) to its constructor, or give it the dict of input arrays."
            )
        names = list(self.input) if isinstance(self.input, dict) else None
        if names is None:
            raise ValueError(
                f"A preprocessor gives named inputs; {type(self).__name__} takes unnamed ones."
            )
        if batch_size is None:
            batch_size = 32  # Keras's default
        return TextBatches(
            self.preprocessor,
            x,
            y,
            sample_weight,
            batch_size=batch_size,
            shuffle=shuffle,
            input_names=names,
        )

    def fit(self, x=None, y=None, *args, **kwargs):
        """Keras's `fit`; with a preprocessor, `x` may be raw text (a list
        of str, or a tuple of two for pairs): it is tokenized batch by batch
        (`batch_size`, 32 by default), shuffled each epoch unless
        `shuffle=False`; `validation_split` takes the last texts, as Keras
        does, and `validation_data` may be texts too."""
        if not is_text(x):
            return super().fit(x, y, *args, **kwargs)
        arguments = bind_arguments(super().fit, x, y, *args, **kwargs)
        if arguments.get("y") is None:
            raise ValueError(f"{type(self).__name__}.fit on texts needs their labels, y.")
        batch_size = arguments.pop("batch_size", None)
        sample_weight = arguments.pop("sample_weight", None)
        validation_split = arguments.pop("validation_split", 0.0)
        x, y = arguments.pop("x"), arguments.pop("y")
        if validation_split:
            if not 0 < validation_split < 1:
                raise ValueError(
                    f"validation_split must be in (0, 1), received {validation_split!r}."
                )
            if "validation_data" in arguments:
                raise ValueError("Give validation_split or validation_data, not both.")
            (x, y, sample_weight), validation = split_last(x, y, sample_weight, validation_split)
            arguments["validation_data"] = validation
        validation = arguments.get("validation_data")
        if isinstance(validation, (tuple, list)) and validation and is_text(validation[0]):
            val_x, val_y, val_weight = (*validation, None, None)[:3]
            arguments["validation_data"] = self._text_batches(
                "fit",
                val_x,
                val_y,
                val_weight,
                arguments.pop("validation_batch_size", None) or batch_size,
            )
        batches = self._text_batches(
            "fit", x, y, sample_weight, batch_size, shuffle=arguments.pop("shuffle", True)
        )
        return super().fit(batches, **arguments)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        """Keras's `evaluate`; with a preprocessor, `x` may be raw text, as
        in `fit` (in order, `batch_size` texts a batch)."""
        if not is_text(x):
            return super().evaluate(x, y, *args, **kwargs)
        arguments = bind_arguments(super().evaluate, x, y, *args, **kwargs)
        batches = self._text_batches(
            "evaluate",
            arguments.pop("x"),
            arguments.pop("y", None),
            arguments.pop("sample_weight", None),
            arguments.pop("batch_size", None),
        )
        return super().evaluate(batches, **arguments)

    def predict(self, x, *args, **kwargs):
        """Keras's `predict`; with a preprocessor, `x` may be raw text, as
        in `fit` (in order, `batch_size` texts a batch)."""
        if not is_text(x):
            return super().predict(x, *args, **kwargs)
        arguments = bind_arguments(super().predict, x, *args, **kwargs)
        batches = self._text_batches(
            "predict", arguments.pop("x"), batch_size=arguments.pop("batch_size", None)
        )
        return super().predict(batches, **arguments)

    @classmethod
    def from_backbone_config(cls, backbone_class, path, **kwargs):
        """The task model on a randomly initialized `backbone_class` shaped
        by the config in `path` (its `from_config_file`). `dtype` goes to
        the backbone, whose policy the task model then takes, so every layer
        computes in it; other `kwargs` go to the task model. A family's task
        models implement `from_config_file` with it."""
        backbone_kwargs = {"dtype": kwargs.pop("dtype")} if "dtype" in kwargs else {}
        return cls(backbone_class.from_config_file(path, **backbone_kwargs), **kwargs)

    def get_config(self):
        config = {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": keras.layers.serialize(self.backbone),
            **self._arguments,
        }
        if self.preprocessor is not None:
            config["preprocessor"] = keras.layers.serialize(self.preprocessor)
        return _quantized_config(self, config)

    @classmethod
    def from_config(cls, config):
        config, quantized, configs = _split_quantized_dtype(config)
        config["backbone"] = keras.layers.deserialize(config["backbone"])
        if config.get("preprocessor") is not None:
            config["preprocessor"] = keras.layers.deserialize(config["preprocessor"])
        return _quantize_as(cls(**config), quantized, configs)
