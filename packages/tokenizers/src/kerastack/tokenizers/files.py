"""Files every kerastack family reads, with no Keras: JSON read strictly
(`read_json_object`, `parse_json`) and checkpoint folders, local or from the
Hugging Face Hub (`checkpoint_folder`)."""

import json
import os

__all__ = ["HUB_FILES", "checkpoint_folder", "parse_json", "read_json_object"]


def _json_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def _unique_keys(pairs):
    values = {}
    for key, value in pairs:
        if key in values:
            raise ValueError(f"key {key!r} appears twice in one object")
        values[key] = value
    return values


def read_json_object(path):
    """The JSON object (a dict) in file `path`, which must be UTF-8 text
    (a byte-order mark is allowed). Text in another encoding, invalid or
    too deeply nested JSON, NaN or Infinity, a key twice in one object, or a
    JSON value other than an object, is a `ValueError` naming the file; a
    missing file a `FileNotFoundError`.

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "config.json")
    >>> with open(path, "w", encoding="utf-8") as file:
    ...     _ = file.write('{"hidden_size": 768, "num_attention_heads": 12}')
    >>> read_json_object(path)["hidden_size"]
    768
    >>> with open(path, "w", encoding="utf-8") as file:
    ...     _ = file.write('{"hidden_size": NaN}')
    >>> read_json_object(path)
    Traceback (most recent call last):
    ...
    ValueError: .../config.json is not valid JSON: NaN is not a JSON number
    """
    with open(path, "rb") as file:
        data = file.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        hint = " (it looks like UTF-16)" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise ValueError(
            f"{path} is not UTF-8 text{hint}: byte {error.start} is {data[error.start]:#04x}; "
            "save it as UTF-8."
        ) from error
    if "\x00" in text:  # valid UTF-8, but never in JSON text: UTF-16 or UTF-32
        raise ValueError(
            f"{path} is not UTF-8 text (it looks like UTF-16): it holds NUL bytes; "
            "save it as UTF-8."
        )
    try:
        values = parse_json(text)
    except RecursionError as error:
        raise ValueError(f"{path} is not valid JSON: nested too deeply.") from error
    except ValueError as error:  # json.JSONDecodeError, and the hooks' errors
        raise ValueError(f"{path} is not valid JSON: {error}") from error
    if not isinstance(values, dict):
        kind = type(values).__name__
        raise ValueError(f"{path} does not hold a JSON object (it holds a {kind}).")
    return values


def parse_json(text):
    """The JSON value of `text`, parsed strictly: NaN or Infinity, or a key
    twice in one object, is a `ValueError` (as invalid JSON is), so two
    readers of one file can never disagree on what it says.

    Example:

    >>> parse_json('{"hidden_size": 8}')
    {'hidden_size': 8}
    >>> parse_json('{"a": 1, "a": 2}')
    Traceback (most recent call last):
    ...
    ValueError: key 'a' appears twice in one object
    """
    return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_json_constant)


def _path_argument(path, what="A checkpoint path"):
    """`os.fspath(path)`, or a `ValueError` for a value that is no path."""
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"{what} is a str or os.PathLike, received {path!r}.")
    return os.fspath(path)


# What a Hub download fetches: the config, the safetensors weights (one file,
# or HF's shards and their index) and every family's tokenizer files
# (WordPiece; BPE; SentencePiece, as T5 and ALBERT name it and as XLM-R and
# CamemBERT do).
HUB_FILES = [
    "config.json",
    "model.safetensors",
    "model.safetensors.index.json",
    "model-*-of-*.safetensors",
    "tokenizer_config.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "spiece.model",
    "sentencepiece.bpe.model",
    # A keras-hub preset on the Hub (kerastack.models reads it).
    "model.weights.h5",
    "metadata.json",
    "tokenizer.json",
    "assets/tokenizer/*",
]


def checkpoint_folder(path_or_name, cache_dir=None, revision=None):
    """The local folder of a checkpoint: `path_or_name` itself when it is a
    folder; otherwise a Hugging Face Hub model name (`"org/name"`), whose
    config, safetensors weights (one file, or HF's shards and their
    `model.safetensors.index.json`) and vocabulary `huggingface_hub`
    downloads (or finds in its cache; `HF_HUB_OFFLINE=1` never downloads).

    A Hub name (`checkpoint_folder("google-bert/bert-base-uncased")`) gives
    the folder of the downloaded files (`config.json`, `model.safetensors`,
    `vocab.txt`, ...); `revision` picks a branch, tag or commit of the Hub
    repository (its default branch when None). A path that is no folder,
    and no Hub name, is a `FileNotFoundError`; a `revision` with a local
    folder a `ValueError` (a folder has no revisions, and loading it
    anyway would hide that the revision asked for was not had).

    Example:

    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()  # a local checkpoint folder
    >>> checkpoint_folder(folder) == folder
    True
    >>> checkpoint_folder(os.path.join(folder, "missing"))
    Traceback (most recent call last):
    ...
    FileNotFoundError: No checkpoint folder at .../missing.
    >>> checkpoint_folder(folder, revision="v1.0")
    Traceback (most recent call last):
    ...
    ValueError: revision='v1.0' names a revision of a Hugging Face Hub model, but ... is a local ...
    """
    path = _path_argument(path_or_name, "A checkpoint folder or Hub model name")
    if revision is not None and (not isinstance(revision, str) or not revision):
        raise ValueError(
            f"revision is a branch, tag or commit of a Hub model (a non-empty str) or None; "
            f"received {revision!r}."
        )
    if os.path.isdir(path):
        if revision is not None:
            raise ValueError(
                f"revision={revision!r} names a revision of a Hugging Face Hub model, but {path} "
                "is a local folder, which has none: leave revision out, or pass the Hub name."
            )
        return path
    if os.path.exists(path) or path.startswith((".", "/", "~")) or path.count("/") > 1:
        raise FileNotFoundError(f"No checkpoint folder at {path}.")
    try:
        from huggingface_hub import snapshot_download
    except ImportError as error:
        raise ImportError(
            f"No checkpoint folder at {path!r}; to download the Hugging Face Hub model of that "
            "name, install huggingface_hub (pip install huggingface_hub)."
        ) from error
    try:
        return snapshot_download(
            path, allow_patterns=HUB_FILES, cache_dir=cache_dir, revision=revision
        )
    except Exception as error:  # huggingface_hub's network, cache and name errors
        at = "" if revision is None else f" at revision {revision!r}"
        raise OSError(
            f"No checkpoint folder at {path!r}, and the Hugging Face Hub model of that "
            f"name{at} could not be had: {error}"
        ) from error
