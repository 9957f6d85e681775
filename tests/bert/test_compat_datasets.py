"""keras-bert's get_pretrained, PretrainedList and PretrainedInfo
(kerastack.bert._compat_datasets, re-exported by kerastack.bert.compat).

No network: each archive is built in a temporary folder and fetched through a
file:// URL, with the cache in another temporary folder (never ~/.keras)."""

import contextlib
import io
import os
import pathlib
import re
import tarfile
import urllib.parse
import zipfile

import pytest

from kerastack.bert import compat as datasets
from kerastack.core import keras

NAME = "tiny_L-2_H-8_A-2"
FILES = {
    "bert_config.json": '{"hidden_size": 8}',
    "vocab.txt": "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n",
    "bert_model.ckpt.index": "index",
    "bert_model.ckpt.data-00000-of-00001": "data" * 100,
    "bert_model.ckpt.meta": "meta",
}


def _zip(path, folder=NAME, files=FILES, extra=()):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        for name, text in files.items():
            zipped.writestr(f"{folder}/{name}" if folder else name, text)
        for name in extra:
            zipped.writestr(name, "other")
    return pathlib.Path(path).as_uri()


def _fetch(info, cache):
    with contextlib.redirect_stdout(io.StringIO()):  # Keras's "Downloading data from ..."
        return datasets.get_pretrained(info, cache_dir=str(cache))


def _read(folder):
    return {name: (pathlib.Path(folder) / name).read_text() for name in os.listdir(folder)}


def test_a_url_gives_the_folder_named_as_the_archive(tmp_path):
    url = _zip(tmp_path / f"{NAME}.zip", extra=["__MACOSX/._x"])
    folder = _fetch(url, tmp_path / "cache")
    assert folder == str(tmp_path / "cache" / "datasets" / NAME)
    assert _read(folder) == FILES
    # The archive stays cached beside the folder; nothing else of it is unpacked.
    assert sorted(os.listdir(tmp_path / "cache" / "datasets")) == [NAME, f"{NAME}.zip"]


def test_a_second_call_downloads_nothing(tmp_path, monkeypatch):
    source = tmp_path / f"{NAME}.zip"
    url = _zip(source)
    first = _fetch(url, tmp_path / "cache")
    source.unlink()  # a download now would fail
    assert _fetch(url, tmp_path / "cache") == first
    os.remove(tmp_path / "cache" / "datasets" / f"{NAME}.zip")
    calls = []
    monkeypatch.setattr(keras.utils, "get_file", lambda *a, **k: calls.append(a) or 1 / 0)
    assert _fetch(url, tmp_path / "cache") == first  # the folder alone is the cache
    assert calls == []
    assert _read(first) == FILES


def test_a_cached_archive_is_unpacked_again_without_download(tmp_path):
    source = tmp_path / f"{NAME}.zip"
    url = _zip(source)
    folder = _fetch(url, tmp_path / "cache")
    source.unlink()
    for name in os.listdir(folder):
        os.remove(os.path.join(folder, name))
    os.rmdir(folder)
    assert _fetch(url, tmp_path / "cache") == folder
    assert _read(folder) == FILES


def test_a_pretrained_info_renames_its_folder(tmp_path):
    url = _zip(tmp_path / "chinese_wwm.zip", folder="publish", extra=["README.md"])
    info = datasets.PretrainedInfo(url, "publish", "chinese_wwm_tiny")
    folder = _fetch(info, tmp_path / "cache")
    assert folder == str(tmp_path / "cache" / "datasets" / "chinese_wwm_tiny")
    assert _read(folder) == FILES
    assert sorted(os.listdir(tmp_path / "cache" / "datasets")) == [
        "chinese_wwm.zip",
        "chinese_wwm_tiny",
    ]


def test_a_tar_archive_is_read_too(tmp_path):
    build = tmp_path / "build" / NAME
    build.mkdir(parents=True)
    for name, text in FILES.items():
        (build / name).write_text(text)
    archive = tmp_path / f"{NAME}.tar.gz"
    with tarfile.open(archive, "w:gz") as tarred:
        tarred.add(build, arcname=NAME)
    folder = _fetch(archive.as_uri(), tmp_path / "cache")
    assert folder == str(tmp_path / "cache" / "datasets" / NAME)
    assert _read(folder) == FILES


def test_a_file_that_is_no_archive_is_an_error_and_is_not_kept(tmp_path):
    source = tmp_path / f"{NAME}.zip"
    source.write_bytes(b"<html>Not Found</html>")
    url = source.as_uri()
    with pytest.raises(ValueError, match=r"not a zip or tar archive") as error:
        _fetch(url, tmp_path / "cache")
    assert url in str(error.value) and f"{NAME}.zip" in str(error.value)
    assert os.listdir(tmp_path / "cache" / "datasets") == []  # no folder, no bad archive
    _zip(source)  # the source is fixed: the next call downloads it again
    assert _read(_fetch(url, tmp_path / "cache")) == FILES


def test_a_damaged_zip_is_an_error_and_leaves_nothing(tmp_path):
    source = tmp_path / f"{NAME}.zip"
    with zipfile.ZipFile(source, "w", compression=zipfile.ZIP_STORED) as zipped:
        for name, text in FILES.items():
            zipped.writestr(f"{NAME}/{name}", text)
    data = bytearray(source.read_bytes())
    at = data.index(b"datadata")  # inside the stored checkpoint data: its CRC no longer holds
    data[at : at + 4] = b"XXXX"
    source.write_bytes(bytes(data))
    assert zipfile.is_zipfile(source)
    with pytest.raises(ValueError, match=r"damaged zip archive") as error:
        _fetch(source.as_uri(), tmp_path / "cache")
    assert source.as_uri() in str(error.value)
    # Nothing half-unpacked: no folder, no staging folder, the bad archive deleted.
    assert os.listdir(tmp_path / "cache" / "datasets") == []


def test_an_interrupted_unpacking_leaves_no_folder(tmp_path, monkeypatch):
    url = _zip(tmp_path / f"{NAME}.zip")
    real_extract = zipfile.ZipFile.extract
    done = []

    def extract_then_fail(self, member, path=None, pwd=None):
        if done:
            raise OSError("No space left on device")
        done.append(member)
        return real_extract(self, member, path, pwd)

    monkeypatch.setattr(zipfile.ZipFile, "extract", extract_then_fail)
    with pytest.raises(OSError, match="No space left"):
        _fetch(url, tmp_path / "cache")
    assert os.listdir(tmp_path / "cache" / "datasets") == [f"{NAME}.zip"]  # a good archive stays
    monkeypatch.undo()
    assert _read(_fetch(url, tmp_path / "cache")) == FILES


@pytest.mark.parametrize(
    "folder, extra, shown",
    [
        (None, [], "'bert_config.json'"),  # files at the top, no folder
        ("other_name", [], "'other_name'"),
        (NAME + "_v2", ["README.md"], "'README.md', 'tiny_L-2_H-8_A-2_v2'"),
    ],
)
def test_an_archive_without_the_checkpoint_folder_is_an_error(tmp_path, folder, extra, shown):
    url = _zip(tmp_path / f"{NAME}.zip", folder=folder, extra=extra)
    with pytest.raises(ValueError, match=f"no checkpoint folder '{NAME}'") as error:
        _fetch(url, tmp_path / "cache")
    message = str(error.value)
    assert url in message and shown in message and "PretrainedInfo" in message
    assert os.listdir(tmp_path / "cache" / "datasets") == [f"{NAME}.zip"]
    # The cached archive serves the corrected call, with no new download.
    (tmp_path / f"{NAME}.zip").unlink()
    if folder:
        info = datasets.PretrainedInfo(url, folder, "fixed")
        assert _read(_fetch(info, tmp_path / "cache")) == FILES


def test_a_failed_download_names_the_url(tmp_path):
    url = (tmp_path / "missing.zip").as_uri()
    with pytest.raises(OSError, match=re.escape(url)):
        _fetch(url, tmp_path / "cache")
    assert os.listdir(tmp_path / "cache" / "datasets") == []


def test_a_url_without_extension_keeps_archive_and_folder_apart(tmp_path):
    source = tmp_path / NAME
    url = _zip(source)
    folder = _fetch(url, tmp_path / "cache")
    assert folder == str(tmp_path / "cache" / "datasets" / NAME)
    assert _read(folder) == FILES


@pytest.mark.parametrize(
    "info, problem",
    [
        (("https://example.com/a.zip", "a", "a"), "a URL string or a PretrainedInfo"),
        (None, "a URL string or a PretrainedInfo"),
        ("https://example.com/models/", "names no file"),
        (datasets.PretrainedInfo("https://example.com/a.zip", "a", "../a"), "target_name"),
        (datasets.PretrainedInfo("https://example.com/a.zip", "a/b", "a"), "extract_name"),
        (datasets.PretrainedInfo(b"https://example.com/a.zip", "a", "a"), "must be a string"),
    ],
)
def test_bad_input_is_a_value_error_before_any_download(tmp_path, info, problem):
    with pytest.raises(ValueError, match=re.escape(problem)):
        _fetch(info, tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_pretrained_info_is_keras_berts_named_triple():
    info = datasets.PretrainedInfo("u", "e", "t")
    assert info == ("u", "e", "t") and info._fields == ("url", "extract_name", "target_name")


def test_pretrained_list_holds_keras_berts_released_checkpoints():
    names = {name for name in vars(datasets.PretrainedList) if not name.startswith("_")}
    assert names == {
        "multi_cased_base",
        "chinese_base",
        "wwm_uncased_large",
        "wwm_cased_large",
        "chinese_wwm_base",
    }
    entries = {name: getattr(datasets.PretrainedList, name) for name in [*names, "__test__"]}
    urls = [entry.url if isinstance(entry, tuple) else entry for entry in entries.values()]
    assert len(set(urls)) == len(urls)
    for url in urls:
        parts = urllib.parse.urlsplit(url)
        assert parts.scheme == "https" and parts.path.endswith(".zip"), url
    # Google's archives hold a folder named as the archive: L layers, H hidden, A heads.
    for name in ("multi_cased_base", "chinese_base", "wwm_uncased_large", "wwm_cased_large"):
        url = entries[name]
        assert isinstance(url, str) and url.startswith(
            "https://storage.googleapis.com/bert_models/"
        )
        size = "L-12_H-768_A-12" if name.endswith("base") else "L-24_H-1024_A-16"
        assert url.endswith(f"_{size}.zip"), url
        assert ("cased" in name) == ("cased" in url) and ("chinese" in name) == ("chinese" in url)
    wwm = entries["chinese_wwm_base"]
    assert isinstance(wwm, datasets.PretrainedInfo)
    assert wwm.extract_name == "publish"
    assert os.path.basename(wwm.url) == wwm.target_name + ".zip"
    assert entries["__test__"].extract_name == "keras-bert-master"
