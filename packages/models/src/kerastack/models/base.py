"""The bases every family's models build on: a functional backbone whose
Keras config is its constructor's arguments (`SavedByArguments`), a task
model saved as its backbone plus its own arguments (`TaskModel`), and the
one place that puts back the dtype policy Keras's functional
`Model.__init__` drops (`keep_dtype_policy`)."""

import inspect

from kerastack.core import keras

__all__ = ["SavedByArguments", "TaskModel", "keep_dtype_policy"]

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
        model.dtype_policy = dtype


class SavedByArguments:
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
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class TaskModel(keras.Model):
    """A functional model of task heads on a backbone, saved as the
    backbone (serialized) plus the task's own arguments.

    A subclass builds its graph, then calls `self._init(backbone, inputs,
    outputs, arguments, **kwargs)`, `arguments` being its constructor
    arguments other than `backbone` (`{"num_classes": 3, ...}`). The model
    takes the backbone's dtype policy unless `dtype` says otherwise.

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

    def _init(self, backbone, inputs, outputs, arguments, **kwargs):
        kwargs.setdefault("dtype", backbone.dtype_policy)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        keep_dtype_policy(self, kwargs["dtype"])
        self.backbone = backbone
        self._arguments = dict(arguments)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": keras.layers.serialize(self.backbone),
            **self._arguments,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.layers.deserialize(config["backbone"])
        return cls(**config)
