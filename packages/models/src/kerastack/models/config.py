"""The validated, explicit config base every family's config derives from:
`ModelConfig` (a frozen dataclass of checked fields, read from HF's
`config.json`) and `ConfigField` (what one field may hold)."""

import dataclasses
import math
import os

from kerastack.core import check_float, check_int
from kerastack.tokenizers import read_json_object

__all__ = ["MAX_COUNT", "MAX_SIZE", "ConfigField", "ModelConfig"]

# The largest sizes a config may give. Tables (vocabulary, positions,
# segments) and widths: 2**24 = 16,777,216 rows or units (the largest
# released vocabularies hold about 256,000 tokens); blocks, heads and groups:
# 2**12 = 4,096 (released models have at most a few hundred). Beyond them a
# value is taken for a corrupt file rather than built (and run out of memory).
MAX_SIZE = 2**24
MAX_COUNT = 2**12


@dataclasses.dataclass(frozen=True)
class ConfigField:
    """What one field of a `ModelConfig` may hold; `check(key, value)`
    returns the value as a plain Python `int`, `float` or `str`, or raises
    a `ValueError` naming the key and the value.

    Build one with `size`, `count`, `rate`, `positive`, `non_negative` or
    `name`. Ints are Python or NumPy integers (not bools, and not floats such
    as 2.0); floats may be given as ints (JSON's 0 for a dropout rate).

    Example:

    >>> ConfigField.size().check("vocab_size", np.int64(30522))
    30522
    >>> ConfigField.name(["gelu", "relu"]).check("hidden_act", "gelu")
    'gelu'
    >>> ConfigField.rate().check("hidden_dropout_prob", 1.5)
    Traceback (most recent call last):
    ...
    ValueError: `hidden_dropout_prob` must be a finite number in [0.0, 1.0), received
    hidden_dropout_prob=1.5.
    """

    kind: str  # "int", "float" or "name"
    low: float = None
    high: float = None
    low_included: bool = True
    high_included: bool = True
    optional: bool = False
    names: tuple = ()

    @classmethod
    def size(cls, low=1, high=MAX_SIZE, optional=False):
        """An int in `[low, high]`: a table's rows, a width (or None, if optional)."""
        return cls("int", low, high, optional=optional)

    @classmethod
    def count(cls, low=1, high=MAX_COUNT):
        """An int in `[low, high]`: blocks, heads, groups."""
        return cls("int", low, high)

    @classmethod
    def rate(cls):
        """A float in `[0, 1)`: a dropout rate."""
        return cls("float", 0.0, 1.0, high_included=False)

    @classmethod
    def positive(cls):
        """A finite float above 0: an epsilon."""
        return cls("float", 0.0, math.inf, low_included=False, high_included=False)

    @classmethod
    def non_negative(cls):
        """A finite float, 0 or above: a standard deviation."""
        return cls("float", 0.0, math.inf, high_included=False)

    @classmethod
    def name(cls, names):
        """One of the strings `names`: an activation."""
        return cls("name", names=tuple(sorted(names)))

    def check(self, key, value):
        """`value`, checked for field `key`, as a plain Python value (the
        checks of kerastack's layer arguments, `kerastack.core.check_int` and
        `check_float`, with this field's bounds)."""
        if self.kind == "name":
            if not isinstance(value, str) or value not in self.names:
                raise ValueError(f"Unknown {key} {value!r}; expected one of {list(self.names)}.")
            return value
        if self.kind == "float":
            return check_float(
                key,
                value,
                minimum=self.low,
                maximum=None if self.high == math.inf else self.high,
                exclusive_minimum=not self.low_included,
                exclusive_maximum=not self.high_included,
                allow_none=self.optional,
            )
        value = check_int(key, value, minimum=self.low, allow_none=self.optional)
        if value is not None and value > self.high:
            raise ValueError(
                f"`{key}` must be at most {self.high} (kerastack's limit), received {key}={value}."
            )
        return value


class ModelConfig:
    """What every family's config dataclass shares: field checks
    (`FIELDS`, a `ConfigField` per field, run when a config is made, so an
    invalid config never exists), cross-field checks (`validate`), and
    reading HF's `config.json` (`from_dict`, `from_json`), whose errors name
    the file and the key.

    A family's config is a frozen dataclass deriving from it, with
    `MODEL_TYPE` (HF's `model_type`; a file naming another is an error),
    `FILE_NAMES` (what `from_json` looks for in a folder), `REQUIRED` (keys a
    file must give) and `FIELDS`.

    Example:

    >>> @dataclasses.dataclass(frozen=True)
    ... class TinyConfig(ModelConfig):
    ...     MODEL_TYPE = "tiny"
    ...     FIELDS = {"width": ConfigField.size(), "dropout": ConfigField.rate()}
    ...     width: int = 8
    ...     dropout: float = 0.0
    >>> TinyConfig.from_dict({"model_type": "tiny", "width": 16, "architectures": ["Tiny"]})
    TinyConfig(width=16, dropout=0.0)
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as file:
    ...     _ = file.write('{"model_type": "tiny", "width": "8"}')
    >>> TinyConfig.from_json(folder)
    Traceback (most recent call last):
    ...
    ValueError: .../config.json: `width` must be a positive int, received width='8'.
    """

    MODEL_TYPE = None
    FILE_NAMES = ("config.json",)
    REQUIRED = ()
    FIELDS = {}

    def __post_init__(self):
        for key, field in self.FIELDS.items():
            object.__setattr__(self, key, field.check(key, getattr(self, key)))
        self.validate()

    def validate(self):
        """Raise a `ValueError` naming fields that do not fit together (each
        field alone was checked by its `ConfigField`)."""

    @classmethod
    def check_options(cls, values):
        """Raise a `ValueError` naming an option of the file (a key that is
        not a field) that this model does not implement."""

    @classmethod
    def from_dict(cls, values):
        """A config from a `config.json` dict; unknown keys (HF's
        `architectures`, ...) are ignored; a missing required key, another
        `model_type`, or a field's invalid value is a `ValueError` naming it."""
        if not isinstance(values, dict):
            raise ValueError(
                f"A {cls.MODEL_TYPE} config is a dict, received a {type(values).__name__}."
            )
        model_type = values.get("model_type", cls.MODEL_TYPE)
        if model_type != cls.MODEL_TYPE:
            raise ValueError(
                f"This is a {model_type!r} config, not a {cls.MODEL_TYPE!r} one "
                f"(read it with the {model_type} model's config class)."
            )
        missing = [key for key in cls.REQUIRED if key not in values]
        if missing:
            raise ValueError(
                f"A {cls.MODEL_TYPE} config needs {', '.join(f'`{k}`' for k in missing)}; "
                f"received keys {sorted(map(str, values))}."
            )
        cls.check_options(values)
        fields = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in fields})

    @classmethod
    def from_json(cls, path):
        """A config from a JSON file, or from the first of `FILE_NAMES` in
        the folder `path`; a `ValueError` names the file and the key."""
        if not isinstance(path, (str, os.PathLike)):
            raise ValueError(f"A config path is a str or os.PathLike, received {path!r}.")
        path = os.fspath(path)
        if os.path.isdir(path):
            names = [os.path.join(path, name) for name in cls.FILE_NAMES]
            found = [name for name in names if os.path.isfile(name)]
            if not found:
                raise FileNotFoundError(f"No {' or '.join(cls.FILE_NAMES)} in {path}.")
            path = found[0]
        elif not os.path.exists(path):
            raise FileNotFoundError(f"No config file at {path}.")
        values = read_json_object(path)
        try:
            return cls.from_dict(values)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from error
