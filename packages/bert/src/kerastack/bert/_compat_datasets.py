"""keras-bert's pretrained-checkpoint downloads: `get_pretrained`,
`PretrainedList`, `PretrainedInfo` (re-exported by `kerastack.bert.compat`).

`get_pretrained(url)` downloads a checkpoint archive with
`keras.utils.get_file` into the Keras cache (`~/.keras/datasets`, or
`$KERAS_HOME/datasets`), unpacks its checkpoint folder next to it and returns
that folder's path, as keras-bert 0.89 did: the folder holding
`bert_config.json`, `vocab.txt` and `bert_model.ckpt.*`. A second call finds
the folder in the cache and downloads nothing.

Unlike keras-bert, a damaged archive, or one without the expected folder, is
a `ValueError` naming the URL and the file instead of a returned path that
does not exist, and the folder appears only once it is completely unpacked.
"""

import collections
import os
import shutil
import tarfile
import tempfile
import urllib.parse
import zipfile
import zlib

from kerastack.core import keras

__all__ = ["PretrainedInfo", "PretrainedList", "get_pretrained"]

# keras.utils.get_file's subfolder of the cache, where keras-bert's downloads went.
_CACHE_SUBDIR = "datasets"
# Errors that mean the archive's bytes are bad (truncated, wrong checksums).
_DAMAGED = (zipfile.BadZipFile, zlib.error, tarfile.TarError, EOFError)


class PretrainedInfo(
    collections.namedtuple("PretrainedInfo", ["url", "extract_name", "target_name"])
):
    """An archive whose checkpoint folder is not named after the archive.

    `url` is the archive's address, `extract_name` the folder inside it that
    holds the checkpoint, and `target_name` the name `get_pretrained` gives
    that folder in the cache (keras-bert's namedtuple, the same three fields).

    Example:

    >>> info = PretrainedInfo("https://example.com/chinese_wwm.zip", "publish", "chinese_wwm")
    >>> info.extract_name, info.target_name
    ('publish', 'chinese_wwm')
    >>> url, extract_name, target_name = info  # still a tuple
    >>> url
    'https://example.com/chinese_wwm.zip'
    """

    __slots__ = ()


class PretrainedList:
    """keras-bert's list of Google's released BERT checkpoints.

    Each entry is a URL string (the archive holds a folder named as the
    archive) or a `PretrainedInfo`; pass it to `get_pretrained`.

    - `multi_cased_base`: BERT-Base, multilingual cased (2018-11-23).
    - `chinese_base`: BERT-Base, Chinese (2018-11-03).
    - `wwm_uncased_large`, `wwm_cased_large`: BERT-Large with whole word
      masking, uncased and cased (2019-05-30).
    - `chinese_wwm_base`: HFL's Chinese BERT-Base with whole word masking
      (its archive holds a folder `publish`).
    - `__test__`: keras-bert's own repository, which keras-bert's tests used.

    Example:

    >>> PretrainedList.chinese_base
    'https://storage.googleapis.com/bert_models/2018_11_03/chinese_L-12_H-768_A-12.zip'
    >>> PretrainedList.chinese_wwm_base.extract_name
    'publish'
    """

    __test__ = PretrainedInfo(
        "https://github.com/CyberZHG/keras-bert/archive/master.zip",
        "keras-bert-master",
        "keras-bert",
    )
    multi_cased_base = (
        "https://storage.googleapis.com/bert_models/2018_11_23/multi_cased_L-12_H-768_A-12.zip"
    )
    chinese_base = (
        "https://storage.googleapis.com/bert_models/2018_11_03/chinese_L-12_H-768_A-12.zip"
    )
    wwm_uncased_large = (
        "https://storage.googleapis.com/bert_models/2019_05_30/wwm_uncased_L-24_H-1024_A-16.zip"
    )
    wwm_cased_large = (
        "https://storage.googleapis.com/bert_models/2019_05_30/wwm_cased_L-24_H-1024_A-16.zip"
    )
    chinese_wwm_base = PretrainedInfo(
        "https://storage.googleapis.com/hfl-rc/chinese-bert/chinese_wwm_L-12_H-768_A-12.zip",
        "publish",
        "chinese_wwm_L-12_H-768_A-12",
    )


def get_pretrained(info, cache_dir=None):
    """Downloads and unpacks a checkpoint archive; returns its folder's path.

    The archive at the URL (a `PretrainedList` entry, a `PretrainedInfo`, or
    any URL string, `file://` included) is saved by `keras.utils.get_file`
    as `<cache_dir>/datasets/<archive name>`, and its checkpoint folder is
    unpacked beside it: for a URL string, the folder named as the archive
    without its extensions (`chinese_L-12_H-768_A-12.zip` holds
    `chinese_L-12_H-768_A-12/`); for a `PretrainedInfo`, its `extract_name`,
    saved as `target_name`. Only that folder is unpacked, into a temporary
    folder first, so the returned folder is never a half-unpacked one. When
    the folder is already in the cache, nothing is downloaded. Zip and tar
    archives are read.

    Args:
        info: a URL string or a `PretrainedInfo`.
        cache_dir: the cache folder, as `keras.utils.get_file`'s; `None` is
            `$KERAS_HOME`, or `~/.keras` where that is unset (keras-bert's).

    Returns:
        The folder's path, `<cache_dir>/datasets/<folder>`.

    Raises:
        ValueError: `info` is neither, names no file, or a folder name is not
            a plain name; or the archive is damaged or lacks the folder (the
            message names the URL and the file; a damaged download is deleted,
            so the next call downloads it again).
        OSError: the download failed (the message names the URL).

    Example:

    >>> import contextlib, io, os, pathlib, shutil, tempfile, zipfile
    >>> tmp = tempfile.mkdtemp()
    >>> archive = os.path.join(tmp, "tiny_L-2_H-8_A-2.zip")
    >>> with zipfile.ZipFile(archive, "w") as zipped:
    ...     for name in ["bert_config.json", "vocab.txt", "bert_model.ckpt.index"]:
    ...         zipped.writestr("tiny_L-2_H-8_A-2/" + name, "")
    >>> url = pathlib.Path(archive).as_uri()  # file:///.../tiny_L-2_H-8_A-2.zip
    >>> cache = os.path.join(tmp, "cache")
    >>> with contextlib.redirect_stdout(io.StringIO()):  # Keras's download messages
    ...     folder = get_pretrained(url, cache_dir=cache)
    >>> folder == os.path.join(cache, "datasets", "tiny_L-2_H-8_A-2")
    True
    >>> sorted(os.listdir(folder))
    ['bert_config.json', 'bert_model.ckpt.index', 'vocab.txt']
    >>> os.remove(archive)  # cached: the second call downloads nothing
    >>> get_pretrained(url, cache_dir=cache) == folder
    True
    >>> with open(archive, "wb") as broken:
    ...     _ = broken.write(b"not an archive")
    >>> shutil.rmtree(cache)
    >>> with contextlib.redirect_stdout(io.StringIO()):
    ...     get_pretrained(url, cache_dir=cache)
    Traceback (most recent call last):
    ...
    ValueError: get_pretrained: the file downloaded from file:///...tiny_L-2_H-8_A-2.zip
    (...) is not a zip or tar archive (damaged or not an archive); it was deleted, ...
    >>> shutil.rmtree(tmp)
    """
    url, extract_name, target_name = _parse(info)
    if cache_dir is None:
        cache_dir = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    datadir = os.path.join(os.path.expanduser(cache_dir), _CACHE_SUBDIR)
    if os.path.isdir(os.path.join(datadir, target_name)):
        return os.path.join(datadir, target_name)
    try:
        # get_file would use /tmp/.keras instead of a cache folder that does not exist yet.
        os.makedirs(datadir, exist_ok=True)
    except OSError:
        pass  # not writable: get_file's own fallback, /tmp/.keras
    file_name = _file_name(url)
    if file_name == target_name:  # a URL without extension: the archive needs another name
        file_name += ".archive"
    archive = _download(url, file_name, cache_dir)
    folder = os.path.join(os.path.dirname(archive), target_name)
    if not os.path.isdir(folder):
        _unpack(archive, url, extract_name, folder)
    return folder


def _parse(info):
    """`(url, extract_name, target_name)` of a URL string or a PretrainedInfo."""
    if isinstance(info, PretrainedInfo):
        url, extract_name, target_name = info
        if not isinstance(url, str):
            raise ValueError(f"get_pretrained: PretrainedInfo.url must be a string, got {url!r}")
    elif isinstance(info, str):
        url, extract_name, target_name = info, None, None
    else:
        raise ValueError(
            "get_pretrained expects a URL string or a PretrainedInfo, "
            f"got {type(info).__name__}: {info!r}"
        )
    file_name = _file_name(url)
    if not file_name:
        raise ValueError(f"get_pretrained: the URL {url!r} names no file to download")
    if extract_name is None:
        # keras-bert's rule: the archive's name up to its first dot.
        extract_name = target_name = file_name.split(".")[0]
    for field, name in (("extract_name", extract_name), ("target_name", target_name)):
        if not _is_plain_name(name):
            raise ValueError(
                f"get_pretrained: {field} must be a folder name without separators, "
                f"got {name!r} (for {url!r})"
            )
    return url, extract_name, target_name


def _file_name(url):
    return os.path.basename(urllib.parse.urlsplit(url).path)


def _is_plain_name(name):
    return (
        isinstance(name, str)
        and name not in ("", ".", "..")
        and "/" not in name
        and "\\" not in name
        and os.sep not in name
    )


def _download(url, file_name, cache_dir):
    """The cached archive's path, downloaded by keras.utils.get_file if absent."""
    try:
        return keras.utils.get_file(
            fname=file_name, origin=url, cache_subdir=_CACHE_SUBDIR, cache_dir=cache_dir
        )
    except KeyboardInterrupt:
        raise
    except Exception as error:  # get_file raises a bare Exception for URL errors
        raise OSError(f"get_pretrained: could not download {url}: {error}") from error


def _unpack(archive, url, extract_name, folder):
    """Unpacks `extract_name/` of `archive` as `folder`, all or nothing."""
    datadir = os.path.dirname(folder)
    where = f"the file downloaded from {url} ({archive})"
    if zipfile.is_zipfile(archive):
        kind = "zip"
    elif tarfile.is_tarfile(archive):
        kind = "tar"
    else:
        _remove(archive)
        raise ValueError(
            f"get_pretrained: {where} is not a zip or tar archive (damaged or not an "
            "archive); it was deleted, so the next call downloads it again"
        )
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(folder)}.unpacking-", dir=datadir)
    try:
        try:
            if kind == "zip":
                found, top = _extract_zip(archive, extract_name, staging)
            else:
                found, top = _extract_tar(archive, extract_name, staging)
        except _DAMAGED as error:
            _remove(archive)
            raise ValueError(
                f"get_pretrained: {where} is a damaged {kind} archive ({error}); it was "
                "deleted, so the next call downloads it again"
            ) from error
        unpacked = os.path.join(staging, extract_name)
        if not found or not os.path.isdir(unpacked):
            shown = ", ".join(repr(name) for name in top[:10]) or "nothing"
            more = f" and {len(top) - 10} more" if len(top) > 10 else ""
            raise ValueError(
                f"get_pretrained: {where} has no checkpoint folder {extract_name!r}; its top "
                f"level holds {shown}{more}. For an archive whose folder is named otherwise, "
                "pass PretrainedInfo(url, extract_name=<that folder>, target_name=<a name>)."
            )
        try:
            os.rename(unpacked, folder)
        except OSError:
            if not os.path.isdir(folder):  # not a concurrent call that finished first
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _top_names(names):
    """The archive's top-level entries, and the normalized member names."""
    parts = [
        [part for part in name.replace("\\", "/").split("/") if part not in ("", ".")]
        for name in names
    ]
    return sorted({p[0] for p in parts if p}), parts


def _extract_zip(archive, extract_name, staging):
    with zipfile.ZipFile(archive) as zipped:
        members = zipped.infolist()
        top, parts = _top_names(member.filename for member in members)
        chosen = [m for m, p in zip(members, parts, strict=True) if p and p[0] == extract_name]
        for member in chosen:
            zipped.extract(member, staging)  # zipfile drops '..' and absolute paths
    return bool(chosen), top


def _extract_tar(archive, extract_name, staging):
    with tarfile.open(archive) as tarred:
        members = tarred.getmembers()
        top, parts = _top_names(member.name for member in members)
        chosen = [
            member
            for member, p in zip(members, parts, strict=True)
            if p
            and p[0] == extract_name
            and ".." not in p
            and not os.path.isabs(member.name)
            and (member.isfile() or member.isdir())
        ]
        if hasattr(tarfile, "data_filter"):
            tarred.extractall(staging, members=chosen, filter="data")
        else:  # Pythons before the filters: links and odd paths are left out above
            tarred.extractall(staging, members=chosen)
    return bool(chosen), top


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass
