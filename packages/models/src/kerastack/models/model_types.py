"""One entry point for every family: `from_pretrained(path, task=None)`
reads which family a checkpoint is and returns that family's model.

The kit knows no family (families sit above it). Each family package
declares what it builds in its `pyproject.toml`, as entry points of the
group `"kerastack.models"`: the name is HF's `model_type` (the backbone) or
`"<model_type>.<task>"` (a task model), the value the class, e.g.

    [project.entry-points."kerastack.models"]
    bert = "kerastack.bert:BertBackbone"
    "bert.classification" = "kerastack.bert:BertClassifier"

so installing a family package is all it takes for `from_pretrained` to know
it, and a family that is not installed is named in the error.
"""

import importlib.metadata
import json
import os

from kerastack.models.keras_hub_presets import is_keras_hub_preset, load_keras_hub_preset
from kerastack.tokenizers import checkpoint_folder

__all__ = ["TASKS", "from_pretrained", "model_types"]

GROUP = "kerastack.models"

# The task names families register their task models under.
TASKS = (
    "classification",
    "token_classification",
    "question_answering",
    "masked_lm",
    "causal_lm",
    "seq2seq_lm",
    "pretraining",
    "replaced_token_detection",
)

# Tasks whose head size HF's config.json records (`id2label`, `num_labels`),
# and HF's default, which transformers leaves out of the file.
_LABELLED_TASKS = ("classification", "token_classification")
_HF_NUM_LABELS = 2

# Google's TensorFlow checkpoints ship a config without a model_type; the
# file's name says which family wrote it.
_GOOGLE_CONFIGS = (("albert_config.json", "albert"), ("bert_config.json", "bert"))
_RELATIVE_KEYS = {"max_relative_position", "use_relative_position"}


def model_types():
    """The model types the installed kerastack families build: a dict from
    each HF `model_type` to the sorted tasks its family has task models for.

    Example:

    >>> types = model_types()  # the families installed here
    >>> "bert" in types, "classification" in types["bert"]
    (True, True)
    """
    types = {}
    for name in _registered():
        model_type, _, task = name.partition(".")
        tasks = types.setdefault(model_type, [])
        if task:
            tasks.append(task)
    return {model_type: sorted(tasks) for model_type, tasks in sorted(types.items())}


def from_pretrained(path, task=None, *, model_type=None, revision=None, **kwargs):
    """The model of the checkpoint in folder `path` (or of the Hugging Face
    Hub model `path` names, at `revision`: a branch, tag or commit, the
    default branch when None), of whichever installed family wrote it.
    HF's sharded safetensors (`model.safetensors.index.json`) load as one
    file does.

    A keras-hub preset folder (what keras-hub's `save_to_preset` writes:
    a `config.json` naming a keras-hub class, `model.weights.h5`) loads into
    the kerastack backbone of the family that reads that class (see
    `load_keras_hub_preset`); `task` must then be None.

    The family comes from `config.json`'s `model_type`; a Google TensorFlow
    checkpoint's `bert_config.json` (or `albert_config.json`), which has
    none, is read as BERT (ALBERT), or as NEZHA when it sets
    `max_relative_position` (Huawei's). `model_type=` overrides both
    (RoFormer and brightmart's RoBERTa also ship a plain `bert_config.json`). With
    `task=None` the result is the family's backbone; otherwise the family's
    task model for `task` (one of `TASKS`), head weights included. For
    `"classification"` and `"token_classification"`, `num_classes` defaults
    to the number of labels in `config.json` (`id2label`, or `num_labels`,
    or HF's default 2, which transformers does not write).
    Other keyword arguments go to the class's `from_pretrained`
    (`allow_longer_position_table`, `dtype`, ...). Loading is strict: a
    checkpoint that does not fit the model is an error naming every misfit.

    Example:

    >>> import tempfile
    >>> from kerastack.bert import BertBackbone, save_hf_weights
    >>> folder = tempfile.mkdtemp()
    >>> save_hf_weights(BertBackbone(vocabulary_size=30, num_layers=1, num_heads=2,
    ...     hidden_dim=8, intermediate_dim=16, max_sequence_length=16), folder)
    >>> type(from_pretrained(folder)).__name__
    'BertBackbone'
    >>> from_pretrained(folder, task="translation")
    Traceback (most recent call last):
    ...
    ValueError: model_type 'bert' has no task model for task='translation'; its tasks: ...
    """
    folder = checkpoint_folder(path, revision=revision)
    if model_type is None and is_keras_hub_preset(folder):
        if task is not None:
            raise ValueError(
                f"{folder} is a keras-hub preset, which loads as a backbone only: pass "
                f"task=None (received task={task!r}) and build the task model on it."
            )
        return load_keras_hub_preset(folder, **kwargs)
    source = "model_type=" if model_type is not None else folder
    if model_type is None:
        model_type = _read_model_type(folder)
    if not isinstance(model_type, str) or not model_type:
        raise ValueError(f"model_type must be a non-empty string; received {model_type!r}.")
    registered = _registered()
    known = model_types()
    if model_type not in known:
        raise ValueError(
            f"Unknown model_type {model_type!r} (from {source}); the installed "
            f"kerastack families build {sorted(known)}. Install the family's package "
            "(kerastack-<family>) or pass model_type=."
        )
    name = model_type if task is None else f"{model_type}.{task}"
    if name not in registered:
        raise ValueError(
            f"model_type {model_type!r} has no task model for task={task!r}; its tasks: "
            f"{known[model_type]} (task=None gives the backbone)."
        )
    if task in _LABELLED_TASKS and "num_classes" not in kwargs:
        kwargs["num_classes"] = _num_labels(folder)
    return registered[name].load().from_pretrained(folder, **kwargs)


def _registered():
    """Entry point name -> entry point, over every installed distribution."""
    registered = {}
    for entry in importlib.metadata.entry_points(group=GROUP):
        other = registered.get(entry.name)
        if other is not None and other.value != entry.value:
            raise RuntimeError(
                f"Two installed packages register {entry.name!r} in {GROUP!r}: "
                f"{other.value} and {entry.value}; uninstall one."
            )
        registered[entry.name] = entry
    return registered


def _read_config(path):
    try:
        with open(path, encoding="utf-8") as file:
            config = json.load(file)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"Could not read the checkpoint config {path}: {error}") from error
    if not isinstance(config, dict):
        raise ValueError(f"{path} holds a {type(config).__name__}, not a JSON object.")
    return config


def _read_model_type(folder):
    path = os.path.join(folder, "config.json")
    if os.path.isfile(path):
        model_type = _read_config(path).get("model_type")
        if not isinstance(model_type, str) or not model_type:
            raise ValueError(
                f"{path} has no model_type (received {model_type!r}): pass model_type= to say "
                f"which family the checkpoint is (one of {sorted(model_types())})."
            )
        return model_type
    for name, model_type in _GOOGLE_CONFIGS:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            # Huawei's NEZHA ships a bert_config.json with its relative positions.
            if model_type == "bert" and _RELATIVE_KEYS & set(_read_config(path)):
                return "nezha"
            return model_type
    raise ValueError(
        f"{folder} holds no config.json (nor a Google checkpoint's bert_config.json or "
        "albert_config.json): no way to know which model the checkpoint is."
    )


def _num_labels(folder):
    path = os.path.join(folder, "config.json")
    config = _read_config(path) if os.path.isfile(path) else {}
    labels = config.get("id2label")
    if isinstance(labels, dict) and labels:
        return len(labels)
    count = config.get("num_labels", _HF_NUM_LABELS)
    if isinstance(count, int) and not isinstance(count, bool) and count > 0:
        return count
    raise ValueError(
        f"The checkpoint config in {folder} has num_labels={count!r}, not a positive int: "
        "pass num_classes=."
    )
