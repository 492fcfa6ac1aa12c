"""Dataset readers, the decode cache, and the batched augmentation of ``data.types``."""

from __future__ import annotations

import io
import os
import pickle
import pickletools
import struct
import tarfile
import time
import warnings
import zipfile
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch

from sure_unlearn.data import DATASETS, cache, data_roots, find_source, load_dataset, readers_folders
from sure_unlearn.data.readers_folders import CIFAR10_CLASSES, CIFAR10_SOURCES
from sure_unlearn.data.readers_io import iter_files
from sure_unlearn.data.readers_tiny import TINY_SOURCES
from sure_unlearn.data.types import NO_AUGMENT, Augment, ImageArrays, LabeledData, augment_batch
from sure_unlearn.errors import DataError, UnknownNameError


def _found(dataset: str, sources: Sequence[str]) -> Path | None:
    """Where the library's own search ($SURE_DATA, else ./data) finds ``dataset``; None skips its test."""
    try:
        return find_source(dataset, sources)
    except DataError:
        return None


TINY = _found("tiny_imagenet", TINY_SOURCES)
CIFAR = _found("cifar10", CIFAR10_SOURCES)

Image = pytest.importorskip("PIL.Image")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the user's data roots or writes the user's cache."""
    monkeypatch.setenv("SURE_CACHE", str(tmp_path / "default-cache"))
    monkeypatch.setenv("SURE_DATA", str(tmp_path / "no-data-here"))


# ------------------------------------------------------------------ generated datasets


def test_synthetic_shapes_labels_and_determinism() -> None:
    b = load_dataset("synthetic", n_train=100, n_test=40, num_classes=5, image_size=6, channels=1)
    assert b.train.x.shape == (100, 6, 6, 1) and b.test.x.shape == (40, 6, 6, 1)
    assert b.train.x.dtype == np.uint8 and b.train.y.dtype == np.int64
    assert b.num_classes == 5 and b.image_shape == (1, 6, 6) and b.augment == NO_AUGMENT
    assert np.bincount(b.train.y).tolist() == [20] * 5
    again = load_dataset("synthetic", n_train=100, n_test=40, num_classes=5, image_size=6, channels=1)
    assert np.array_equal(b.train.x, again.train.x) and np.array_equal(b.test.y, again.test.y)
    other = load_dataset("synthetic", n_train=100, n_test=40, num_classes=5, image_size=6, channels=1, seed=1)
    assert not np.array_equal(b.train.x, other.train.x)


def test_synthetic_is_learnable_by_nearest_class_mean() -> None:
    b = load_dataset("synthetic")
    x, xt = b.train.x.reshape(len(b.train), -1) / 255.0, b.test.x.reshape(len(b.test), -1) / 255.0
    means = np.stack([x[b.train.y == k].mean(0) for k in range(b.num_classes)])
    pred = ((xt[:, None] - means[None]) ** 2).sum(-1).argmin(1)
    assert (pred == b.test.y).mean() > 0.9


def test_digits_split_is_fixed_stratified_and_unflipped() -> None:
    b = load_dataset("digits")
    assert b.train.x.shape == (1437, 8, 8, 1) and b.test.x.shape == (360, 8, 8, 1)
    assert b.train.x.dtype == np.uint8 and b.train.x.max() == 255 and b.train.x.min() == 0
    assert b.classes == tuple("0123456789") and b.augment == Augment(pad=1, flip=False)
    assert set(np.unique(b.test.y)) == set(range(10))
    frac = np.bincount(b.test.y) / np.bincount(np.concatenate([b.train.y, b.test.y]))
    assert np.all(np.abs(frac - 0.2) < 0.02)  # stratified
    assert np.array_equal(b.test.x, load_dataset("digits").test.x)


def test_unknown_dataset_names_the_known_ones() -> None:
    with pytest.raises(UnknownNameError, match="cifar10"):
        load_dataset("imagenet21k")
    assert {"cifar10", "cinic10", "folder", "tiny_imagenet", "digits", "synthetic"} <= set(
        DATASETS.available()
    )


# ------------------------------------------------------------------ data roots and errors


def test_data_roots_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert data_roots(tmp_path) == [tmp_path]
    monkeypatch.setenv("SURE_DATA", f"{tmp_path / 'a'}{os.pathsep}{tmp_path / 'b'}")
    assert data_roots() == [tmp_path / "a", tmp_path / "b"]
    monkeypatch.setenv("SURE_DATA", " ")  # blank: as if unset
    monkeypatch.chdir(tmp_path)
    assert [p.resolve() for p in data_roots()] == [(tmp_path / "data").resolve()]


def test_only_sure_data_and_dot_data_are_searched(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A dataset in a folder beside the working directory is not found unless $SURE_DATA names it."""
    _cifar_batches(tmp_path / "shared" / "data")
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    monkeypatch.delenv("SURE_DATA")
    with pytest.raises(DataError, match=r"not found\. Looked in:\n  .*work/data  \(no such folder\)\nfor"):
        load_dataset("cifar10", cache_dir=tmp_path / "c")
    monkeypatch.setenv("SURE_DATA", str(tmp_path / "shared" / "data"))
    assert len(load_dataset("cifar10", cache_dir=tmp_path / "c").train) == 10
    (tmp_path / "shared" / "data").rename(tmp_path / "work" / "data")
    monkeypatch.delenv("SURE_DATA")
    assert len(load_dataset("cifar10", cache_dir=tmp_path / "c").train) == 10  # ./data


def test_missing_dataset_lists_every_place_looked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    a, b = tmp_path / "first", tmp_path / "second"
    a.mkdir()
    monkeypatch.setenv("SURE_DATA", f"{a}{os.pathsep}{b}")
    with pytest.raises(DataError) as err:
        load_dataset("cifar10")
    msg = str(err.value)
    assert str(a) in msg and str(b) in msg and "no such folder" in msg
    assert "cifar-10-batches-py" in msg and "cifar10-jpeg.tar.xz" in msg
    assert "--data-root" in msg and "SURE_DATA" in msg
    with pytest.raises(DataError, match="tiny-imagenet-200"):
        load_dataset("tiny_imagenet", root=a)
    with pytest.raises(DataError, match="--data-root"):
        load_dataset("folder")


# ------------------------------------------------------------------ class folders


def _png(path: Path, value: int, size: tuple[int, int] = (4, 3), mode: str = "RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    color = value if mode == "L" else (value, 255 - value, 7)
    Image.new(mode, size, color).save(path)


def _folder(root: Path, classes: dict[str, list[str]] | None = None) -> Path:
    """train/ and test/ class folders; pixel value 10*class + image number identifies each image."""
    classes = classes or {"train": ["cat", "ant", "dog"], "test": ["cat", "ant", "dog"]}
    for split, names in classes.items():
        for name in names:
            k = sorted(names).index(name)
            for i in range(3 if split == "train" else 2):
                _png(root / split / name / f"img_{i}.png", 10 * k + i)
    return root


def test_folder_dataset_labels_follow_sorted_folder_names(tmp_path: Path) -> None:
    b = load_dataset("folder", root=_folder(tmp_path / "ds"), cache_dir=tmp_path / "c")
    assert b.classes == ("ant", "cat", "dog") and b.augment == Augment(pad=4, flip=True)
    assert b.train.x.shape == (9, 3, 4, 3) and b.test.x.shape == (6, 3, 4, 3)
    assert b.train.y.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    # the red value is 10*label + image number: labels match the folders the images came from
    assert np.array_equal(b.train.x[:, 0, 0, 0], 10 * b.train.y + np.tile([0, 1, 2], 3))
    assert np.array_equal(b.test.x[:, 0, 0, 0], 10 * b.test.y + np.tile([0, 1], 3))


@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
def test_folder_archive_gives_the_same_arrays(tmp_path: Path, kind: str) -> None:
    src = _folder(tmp_path / "ds")
    archive = tmp_path / f"ds.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(archive, "w") as zf:
            for f in sorted(src.rglob("*.png"), reverse=True):  # member order must not matter
                zf.write(f, f.relative_to(src).as_posix())
    else:
        with tarfile.open(archive, "w:gz") as tf:
            tf.add(src, arcname="my-dataset")  # split folders inside one top folder
    a = load_dataset("folder", root=src, cache_dir=tmp_path / "c")
    b = load_dataset("folder", root=archive, cache_dir=tmp_path / "c")
    assert np.array_equal(a.train.x, b.train.x) and np.array_equal(a.test.y, b.test.y)


def test_folder_class_mismatch_and_sizes(tmp_path: Path) -> None:
    bad = _folder(tmp_path / "bad", {"train": ["ant", "cat"], "test": ["ant", "bee"]})
    with pytest.raises(DataError, match=r"only in test/: \['bee'\].*missing from test/: \['cat'\]"):
        load_dataset("folder", root=bad, cache_dir=tmp_path / "c")
    mixed = _folder(tmp_path / "mixed")
    _png(mixed / "train" / "ant" / "big.png", 1, size=(8, 6), mode="L")
    with pytest.raises(DataError, match="image_size"):
        load_dataset("folder", root=mixed, cache_dir=tmp_path / "c")
    b = load_dataset("folder", root=mixed, cache_dir=tmp_path / "c", image_size=5, grayscale=True)
    assert b.train.x.shape == (10, 5, 5, 1) and b.train.x.dtype == np.uint8
    (tmp_path / "empty" / "train").mkdir(parents=True)
    with pytest.raises(DataError, match="no images"):
        load_dataset("folder", root=tmp_path / "empty", cache_dir=tmp_path / "c")


def test_undecodable_image_is_named(tmp_path: Path) -> None:
    src = _folder(tmp_path / "ds")
    (src / "train" / "ant" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="broken.png"):
        load_dataset("folder", root=src, cache_dir=tmp_path / "c")


class _Py2Pickler(pickle._Pickler):  # type: ignore[name-defined]
    """Writes ``str`` and ``bytes`` as Python 2's ``str`` (SHORT_BINSTRING), as the published batches do."""

    dispatch = dict(pickle._Pickler.dispatch)  # type: ignore[attr-defined]

    def save_str8(self, obj: str | bytes) -> None:
        raw = obj.encode("latin1") if isinstance(obj, str) else obj
        n = len(raw)
        self.write(
            pickle.SHORT_BINSTRING + bytes([n]) + raw
            if n < 256
            else pickle.BINSTRING + struct.pack("<i", n) + raw
        )
        self.memoize(obj)

    dispatch[bytes] = save_str8
    dispatch[str] = save_str8


def _py2_pickle(obj: object) -> bytes:
    """``obj`` pickled as the published cifar-10-batches-py files are: Python 2, protocol 2, numpy.core."""
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")


def _cifar_batches(root: Path, per_batch: int = 2, dumps=pickle.dumps) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    """A miniature canonical cifar-10-batches-py (our own pickles): images are R, G, B planes per row."""
    d = root / "cifar-10-batches-py"
    d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    xs, ys = [], []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        x = rng.integers(0, 256, (per_batch, 32, 32, 3), dtype=np.uint8)
        y = rng.integers(0, 10, per_batch).tolist()
        rows = x.transpose(0, 3, 1, 2).reshape(per_batch, -1)
        files = [f"{name}_{i}.png".encode() for i in range(per_batch)]
        (d / name).write_bytes(
            dumps({b"batch_label": name.encode(), b"data": rows, b"labels": y, b"filenames": files})
        )
        xs.append(x)
        ys.append(y)
    meta = {
        b"label_names": [c.encode() for c in CIFAR10_CLASSES],
        b"num_cases_per_batch": per_batch,
        b"num_vis": 3072,
    }
    (d / "batches.meta").write_bytes(dumps(meta))
    return {
        "train_x": np.concatenate(xs[:5]),
        "train_y": np.concatenate(ys[:5]),
        "test_x": xs[5],
        "test_y": np.array(ys[5]),
    }


@pytest.mark.parametrize(
    "dumps",
    [pickle.dumps, partial(pickle.dumps, protocol=2), _py2_pickle],
    ids=["python3-default", "python3-protocol2", "published-python2"],
)
def test_cifar10_canonical_batches(tmp_path: Path, dumps) -> None:  # type: ignore[no-untyped-def]
    want = _cifar_batches(tmp_path / "data", dumps=dumps)
    b = load_dataset("cifar10", root=tmp_path / "data", cache_dir=tmp_path / "c")
    assert b.classes == CIFAR10_CLASSES and b.augment == Augment(pad=4, flip=True)
    assert b.train.x.shape == (10, 32, 32, 3) and b.test.x.shape == (2, 32, 32, 3)
    assert np.array_equal(b.train.x, want["train_x"]) and np.array_equal(b.train.y, want["train_y"])
    assert np.array_equal(b.test.x, want["test_x"]) and np.array_equal(b.test.y, want["test_y"])
    (tmp_path / "data" / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(DataError, match="data_batch_3 missing"):
        load_dataset("cifar10", root=tmp_path / "data")


def test_published_batch_format_is_what_the_test_writes() -> None:
    """The python-2 helper writes what the official files hold: only these globals, bytes as str8."""
    ops = list(pickletools.genops(_py2_pickle({b"data": np.zeros((1, 3072), np.uint8), b"labels": [3]})))
    assert {arg for op, arg, _ in ops if op.name == "GLOBAL"} == {
        "numpy.core.multiarray _reconstruct",
        "numpy ndarray",
        "numpy dtype",
    }
    assert not {op.name for op, _, _ in ops} & {"BINUNICODE", "SHORT_BINUNICODE", "STACK_GLOBAL"}


class _Payload:
    """Unpickles by calling ``open(path, "w")``: the file appears if and only if the payload ran."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (open, (str(self.path), "w"))


@pytest.mark.parametrize("protocol", [0, 2, 5])
@pytest.mark.parametrize("where", ["data", "labels", "meta"])
def test_crafted_cifar_pickle_runs_no_code(tmp_path: Path, protocol: int, where: str) -> None:
    control = tmp_path / "control"
    pickle.loads(pickle.dumps(_Payload(control), protocol=protocol))
    assert control.exists()  # the payload is real: a plain unpickler runs it
    _cifar_batches(tmp_path / "data")
    marker = tmp_path / "MARKER"
    d = tmp_path / "data" / "cifar-10-batches-py"
    name = "batches.meta" if where == "meta" else "data_batch_1"
    crafted = {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1], b"label_names": [b"cat"]}
    crafted[where.encode() if where != "meta" else b"label_names"] = _Payload(marker)
    (d / name).write_bytes(pickle.dumps(crafted, protocol=protocol))
    with pytest.raises(DataError, match=rf"{name} is not a genuine CIFAR-10 batch: it asks to call .*open"):
        load_dataset("cifar10", root=tmp_path / "data", cache_dir=tmp_path / "c")
    assert not marker.exists()


def test_crafted_cifar_folder_from_the_data_search_runs_no_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ./data/cifar-10-batches-py found by the default search (no --data-root) is read safely too."""
    _cifar_batches(tmp_path / "data")
    marker = tmp_path / "MARKER"
    batch = {b"data": _Payload(marker), b"labels": [0]}
    (tmp_path / "data" / "cifar-10-batches-py" / "data_batch_1").write_bytes(pickle.dumps(batch, protocol=2))
    monkeypatch.delenv("SURE_DATA")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match="not a genuine CIFAR-10 batch"):
        load_dataset("cifar10", cache_dir=tmp_path / "c")
    assert not marker.exists()


def test_cifar10_jpeg_folder_and_class_check(tmp_path: Path) -> None:
    for split, n in (("train", 2), ("test", 1)):
        for k, name in enumerate(CIFAR10_CLASSES):
            for i in range(n):
                _png(tmp_path / "data" / "CIFAR-10-images" / split / name / f"{i:04d}.jpg", 20 * k, (32, 32))
    b = load_dataset("cifar10", root=tmp_path / "data", cache_dir=tmp_path / "c")
    assert b.train.x.shape == (20, 32, 32, 3) and np.bincount(b.test.y).tolist() == [1] * 10
    assert np.all(np.abs(b.train.x[:, 5, 5, 0].astype(int) - 20 * b.train.y) <= 3)  # JPEG is lossy
    (tmp_path / "data" / "CIFAR-10-images" / "train" / "truck").rename(tmp_path / "x")
    (tmp_path / "data" / "CIFAR-10-images" / "test" / "truck").rename(tmp_path / "y")
    with pytest.raises(DataError, match="does not look like cifar10"):
        load_dataset("cifar10", root=tmp_path / "data", cache_dir=tmp_path / "c")


def test_cinic10_valid_split_is_optional(tmp_path: Path) -> None:
    for split in ("train", "valid", "test"):
        for name in CIFAR10_CLASSES:
            _png(tmp_path / "CINIC-10" / split / name / "cifar10-train-1.png", 3, (32, 32))
    plain = load_dataset("cinic10", root=tmp_path, cache_dir=tmp_path / "c")
    merged = load_dataset("cinic10", root=tmp_path, cache_dir=tmp_path / "c", include_valid=True)
    assert len(plain.train) == 10 and len(merged.train) == 20 and len(merged.test) == 10


# ------------------------------------------------------------------ the decode cache


def _count_decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = readers_folders.decode_images

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(readers_folders, "decode_images", counting)
    return calls


def test_cache_round_trip_and_invalidation(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    src, cdir = _folder(tmp_path / "ds"), tmp_path / "c"
    calls = _count_decodes(monkeypatch)
    a = load_dataset("folder", root=src, cache_dir=cdir)
    assert len(calls) == 2  # train and test decoded once
    files = list(cdir.glob("folder-*.npz"))
    assert len(files) == 1 and not list(cdir.glob("*.tmp"))
    b = load_dataset("folder", root=src, cache_dir=cdir)
    assert len(calls) == 2  # served from the cache
    assert np.array_equal(a.train.x, b.train.x) and a.classes == b.classes and a.mean == b.mean
    load_dataset("folder", root=src, cache_dir=cdir, image_size=2)  # other options: another entry
    assert len(calls) == 4 and len(list(cdir.glob("folder-*.npz"))) == 2
    _png(src / "test" / "dog" / "img_9.png", 99)  # a changed source is decoded again, same file
    c = load_dataset("folder", root=src, cache_dir=cdir)
    assert len(calls) == 6 and len(c.test) == 7 and len(list(cdir.glob("folder-*.npz"))) == 2


def test_corrupt_cache_is_deleted_and_rebuilt(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    src, cdir = _folder(tmp_path / "ds"), tmp_path / "c"
    a = load_dataset("folder", root=src, cache_dir=cdir)
    (path,) = cdir.glob("folder-*.npz")
    path.write_bytes(path.read_bytes()[:200])  # truncated, as by a crash or a full disk
    calls = _count_decodes(monkeypatch)
    with pytest.warns(UserWarning, match="unreadable dataset cache"):
        b = load_dataset("folder", root=src, cache_dir=cdir)
    assert len(calls) == 2 and np.array_equal(a.train.x, b.train.x)
    with np.load(path, allow_pickle=False) as z:  # rewritten whole
        assert np.array_equal(z["train_x"], a.train.x)


def _rewrite_npz(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    """Rewrite a cache file as a consistent zip, with ``change(arrays)`` applied to its arrays."""
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    change(arrays)
    np.savez(path, **arrays)


def test_flipped_bit_in_the_dataset_cache_is_detected_and_decoded_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A bit flipped on disk (here the zip's CRC sees it first; the SHA-256 test below goes further)."""
    src, cdir = _folder(tmp_path / "ds"), tmp_path / "c"
    clean = load_dataset("folder", root=src, cache_dir=cdir)
    (path,) = cdir.glob("folder-*.npz")
    blob = bytearray(path.read_bytes())
    at = blob.find(clean.train.x.tobytes())
    assert at >= 0
    blob[at + clean.train.x.nbytes // 2] ^= 0x01
    path.write_bytes(bytes(blob))
    calls = _count_decodes(monkeypatch)
    with pytest.warns(UserWarning, match=path.name):
        again = load_dataset("folder", root=src, cache_dir=cdir)
    assert len(calls) == 2  # decoded again, not used
    assert np.array_equal(again.train.x, clean.train.x) and np.array_equal(again.test.x, clean.test.x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_dataset("folder", root=src, cache_dir=cdir)  # the rebuilt entry passes its check
    assert len(calls) == 2


def test_dataset_cache_sha256_catches_what_the_zip_does_not(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A cache file rewritten as a consistent zip (valid CRCs) with one pixel changed fails its SHA-256."""
    src, cdir = _folder(tmp_path / "ds"), tmp_path / "c"
    clean = load_dataset("folder", root=src, cache_dir=cdir)
    (path,) = cdir.glob("folder-*.npz")
    _rewrite_npz(path, lambda a: a["train_x"].__setitem__((4, 1, 1, 0), a["train_x"][4, 1, 1, 0] ^ 1))
    calls = _count_decodes(monkeypatch)
    with pytest.warns(UserWarning, match=rf"corrupt dataset cache .*{path.name}.*SHA-256"):
        again = load_dataset("folder", root=src, cache_dir=cdir)
    assert len(calls) == 2 and np.array_equal(again.train.x, clean.train.x)


def test_dataset_cache_without_a_digest_is_trusted_on_first_use(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    src, cdir = _folder(tmp_path / "ds"), tmp_path / "c"
    clean = load_dataset("folder", root=src, cache_dir=cdir)
    (path,) = cdir.glob("folder-*.npz")
    _rewrite_npz(path, lambda a: a.pop("__sha256__"))  # as written before digests
    calls = _count_decodes(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        b = load_dataset("folder", root=src, cache_dir=cdir)
    assert calls == [] and np.array_equal(b.train.x, clean.train.x)  # used, not discarded
    with np.load(path, allow_pickle=False) as z:
        assert "__sha256__" in z.files  # the digest was recorded
    _rewrite_npz(path, lambda a: a["test_y"].__setitem__(0, 1 - a["test_y"][0]))
    with pytest.warns(UserWarning, match="SHA-256"):
        load_dataset("folder", root=src, cache_dir=cdir)
    assert len(calls) == 2


def test_default_cache_dir_follows_sure_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SURE_CACHE", str(tmp_path / "elsewhere"))
    assert cache.default_cache_dir() == tmp_path / "elsewhere" / "datasets"
    load_dataset("folder", root=_folder(tmp_path / "ds"))
    assert len(list((tmp_path / "elsewhere" / "datasets").glob("folder-*.npz"))) == 1


# ------------------------------------------------------------------ the real archives


@pytest.mark.data
@pytest.mark.skipif(TINY is None, reason="tiny_imagenet not found in $SURE_DATA or ./data")
def test_tiny_imagenet_real_data(tmp_path: Path) -> None:
    assert TINY is not None
    b = load_dataset("tiny_imagenet", root=TINY.parent, cache_dir=tmp_path)
    text = dict(
        (p[-1], f) for p, f in iter_files(TINY, lambda p: p[-1] in ("wnids.txt", "val_annotations.txt"))
    )
    wnids, ann = text["wnids.txt"].decode().split(), text["val_annotations.txt"].decode()
    k = len(wnids)  # 10 in the sample archive, 200 in the full dataset: 500 training and 50 val images each
    assert b.num_classes == k and b.augment.flip
    assert b.train.x.shape == (500 * k, 64, 64, 3) and b.test.x.shape == (50 * k, 64, 64, 3)
    assert np.bincount(b.train.y).tolist() == [500] * k and np.bincount(b.test.y).tolist() == [50] * k
    rows = sorted((line.split("\t") for line in ann.splitlines() if line), key=lambda r: int(r[0][4:-5]))
    ends = (rows[0][0], rows[-1][0])
    images = dict((p[-1], f) for p, f in iter_files(TINY, lambda p: p[-1] in ends and p[-2] == "images"))
    assert b.classes == tuple(wnids)
    assert b.test.y.tolist() == [wnids.index(r[1]) for r in rows]  # val images by number: val_0, val_1, ...
    assert np.array_equal(b.test.x[0], np.asarray(Image.open(io.BytesIO(images[ends[0]])).convert("RGB")))
    assert np.array_equal(b.test.x[-1], np.asarray(Image.open(io.BytesIO(images[ends[1]])).convert("RGB")))
    # the archive or folder named directly
    again = load_dataset("tiny_imagenet", root=TINY, cache_dir=tmp_path)
    assert np.array_equal(again.train.x, b.train.x)


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.skipif(CIFAR is None, reason="cifar10 not found in $SURE_DATA or ./data")
def test_cifar10_real_data(tmp_path: Path) -> None:
    assert CIFAR is not None
    t0 = time.perf_counter()
    b = load_dataset("cifar10", root=CIFAR, cache_dir=tmp_path)
    t1 = time.perf_counter()
    assert b.classes == CIFAR10_CLASSES
    assert b.train.x.shape == (50000, 32, 32, 3) and b.test.x.shape == (10000, 32, 32, 3)
    assert np.bincount(b.train.y).tolist() == [5000] * 10 and np.bincount(b.test.y).tolist() == [1000] * 10
    assert 0.4 < b.mean[0] < 0.55 and 0.2 < b.std[0] < 0.3
    cached = load_dataset("cifar10", root=CIFAR, cache_dir=tmp_path)
    t2 = time.perf_counter()
    assert np.array_equal(cached.train.x, b.train.x) and np.array_equal(cached.test.y, b.test.y)
    if list(tmp_path.glob("cifar10-*.npz")):  # decoded from images, so the second load is the cache's
        assert t2 - t1 < (t1 - t0) / 3, f"decode {t1 - t0:.1f}s, cached load {t2 - t1:.1f}s"


# ------------------------------------------------------------------ augmentation and batches


def _candidates(x: torch.Tensor, pad: int, flip: bool) -> list[torch.Tensor]:
    """Every crop of ``x`` (C×H×W) zero-padded by ``pad``, and their mirror images when ``flip``."""
    _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    crops = [padded[:, dy : dy + h, dx : dx + w] for dy in range(2 * pad + 1) for dx in range(2 * pad + 1)]
    return crops + ([c.flip(2) for c in crops] if flip else [])


@pytest.mark.parametrize(
    "aug", [Augment(pad=2, flip=False), Augment(pad=0, flip=True), Augment(pad=2, flip=True)]
)
def test_augment_batch_outputs_are_shifts_and_flips(aug: Augment) -> None:
    img = torch.arange(1, 3 * 5 * 6 + 1, dtype=torch.float32).reshape(3, 5, 6)  # every pixel distinct
    x = img.expand(64, -1, -1, -1).contiguous()
    out = augment_batch(x, aug, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    cands = _candidates(img, aug.pad, aug.flip)
    which = [next(i for i, c in enumerate(cands) if torch.equal(o, c)) for o in out]  # StopIteration: not one
    assert len(set(which)) >= min(len(cands), 3)  # images get their own offsets and flips
    if aug.flip:  # the second half of the candidates are the mirror images
        assert 10 < sum(i >= len(cands) // 2 for i in which) < 54
    again = augment_batch(x, aug, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)
    assert not torch.equal(out, augment_batch(x, aug, torch.Generator().manual_seed(1)))


def test_labeled_data_batches_cover_each_sample_once_and_repeat_under_a_seed() -> None:
    arr = ImageArrays(np.arange(10 * 4 * 4 * 1, dtype=np.uint8).reshape(10, 4, 4, 1), np.arange(10) % 3)
    d = LabeledData.from_arrays(arr, augment=Augment(pad=1, flip=True))
    first = list(d.batches(4, torch.Generator().manual_seed(3)))
    second = list(d.batches(4, torch.Generator().manual_seed(3)))
    assert all(
        torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(first, second, strict=True)
    )
    ys = torch.cat([y for _, y in first])
    assert sorted(ys.tolist()) == sorted(arr.y.tolist())
    plain = torch.cat([x for x, _ in d.batches(4, shuffle=False)])  # evaluation: no augmentation, in order
    assert torch.equal(plain, torch.from_numpy(arr.x).permute(0, 3, 1, 2).float() / 255.0)
