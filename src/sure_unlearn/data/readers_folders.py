"""Class-folder datasets (``<split>/<class>/<image>``): CIFAR-10, CINIC-10 and any user folder.

Classes are the class folder names in sorted order, which for CIFAR-10 and CINIC-10 is also the official
label order. A folder or archive may hold the split folders at its top or inside one top folder
(``CIFAR-10-images/train/cat/0001.jpg``). Images are ordered by class, then by file name (numbers by
value), so a folder and its archive give identical arrays. CIFAR-10 is also read in its canonical
python-batches layout.
"""

from __future__ import annotations

import io
import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

try:  # numpy 2 renamed numpy.core to numpy._core
    from numpy._core import multiarray as np_multiarray
    from numpy._core import numeric as np_numeric
except ImportError:  # numpy 1
    from numpy.core import multiarray as np_multiarray  # type: ignore[no-redef]
    from numpy.core import numeric as np_numeric  # type: ignore[no-redef]

from sure_unlearn.data.cache import load_or_decode
from sure_unlearn.data.readers import DATASETS, bundle_from_arrays, find_source
from sure_unlearn.data.readers_io import (
    Parts,
    decode_images,
    image_suffixes,
    natural_key,
    read_files,
)
from sure_unlearn.data.types import Augment, DatasetBundle
from sure_unlearn.errors import DataError

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR10_SOURCES = (
    "cifar-10-batches-py",
    "cifar-10-python.tar.gz",
    "cifar10-jpeg.tar.xz",
    "cifar10-jpeg",
    "CIFAR-10-images",
)
CINIC10_SOURCES = ("CINIC-10", "cinic-10", "cinic10", "CINIC-10.tar.gz", "cinic10.tar.gz")
CIFAR_AUGMENT = Augment(pad=4, flip=True)  # the standard 32-px recipe: 4-pixel crop, horizontal flip


def read_class_folders(
    source: Path,
    splits: Mapping[str, str],
    mode: str = "RGB",
    size: tuple[int, int] | None = None,
    desc: str = "images",
) -> dict[str, np.ndarray]:
    """Decode ``<split>/<class>/<image>`` of a folder or archive into ``train_*``/``test_*`` arrays.

    ``splits`` maps split folder names to ``"train"`` or ``"test"`` (``{"valid": "train"}`` merges a
    validation folder into training). Every split folder must hold the same classes.
    """
    suffixes = image_suffixes()

    def want(p: Parts) -> bool:
        return (
            3 <= len(p) <= 4
            and p[-3] in splits
            and not (p[-1].startswith(".") or p[-2].startswith("."))
            and os.path.splitext(p[-1])[1].lower() in suffixes
        )

    files = read_files(source, want, desc)
    tops = sorted({p[:-3] for p, _ in files})
    if len(tops) > 1:
        raise DataError(f"{source} holds split folders in several places: {', '.join(map('/'.join, tops))}")
    found = {s: sorted({p[-2] for p, _ in files if p[-3] == s}) for s in splits}
    expected = "<split>/<class>/<image> with split folders " + ", ".join(f"{s}/" for s in splits)
    for split, names in found.items():
        if not names:
            raise DataError(f"no images in {source} under {split}/<class>/; expected {expected}")
    classes = found[next(iter(splits))]
    for split, names in found.items():
        if names != classes:
            only_here, missing = sorted(set(names) - set(classes)), sorted(set(classes) - set(names))
            raise DataError(
                f"{source}: the class folders of {split}/ differ from those of {next(iter(splits))}/ "
                f"(only in {split}/: {only_here or 'none'}; missing from {split}/: {missing or 'none'})"
            )
    label = {c: k for k, c in enumerate(classes)}
    order = {s: i for i, s in enumerate(splits)}
    arrays: dict[str, np.ndarray] = {"classes": np.array(classes)}
    for part in ("train", "test"):
        chosen = [(p, b) for p, b in files if splits[p[-3]] == part]
        chosen.sort(key=lambda f: (order[f[0][-3]], label[f[0][-2]], natural_key(f[0][-1])))
        arrays[f"{part}_x"] = decode_images(chosen, mode, size, f"{desc} {part}")
        arrays[f"{part}_y"] = np.array([label[p[-2]] for p, _ in chosen], np.int64)
    return arrays


class _NotCifar(pickle.UnpicklingError):
    """A pickle that names a callable no CIFAR batch contains."""


def _latin1(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as Python 3 uses it to pickle ``bytes`` at protocol 2, and nothing else."""
    if not isinstance(text, str) or encoding != "latin1":
        raise _NotCifar(f"_codecs.encode with {type(text).__name__}, {encoding!r}")
    return text.encode("latin1")


class _CifarUnpickler(pickle.Unpickler):
    """An unpickler that builds only what CIFAR-10 batches hold: dicts, lists, bytes, ints, numpy arrays.

    Unpickling calls whatever callables the file names, so a crafted "batch" could run any code. This one
    resolves only the numpy array reconstructors (the names in the published Python 2 files, those numpy
    2 writes, and protocol 5's ``_frombuffer``) and a latin-1-only ``_codecs.encode`` (how Python 3 writes
    ``bytes`` at protocol 2); any other name is refused before anything is called.
    """

    ALLOWED: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1,
    } | {
        key: obj
        for core in ("numpy.core", "numpy._core")  # numpy 2 renamed numpy.core to numpy._core
        for key, obj in (
            ((f"{core}.multiarray", "_reconstruct"), np_multiarray._reconstruct),
            ((f"{core}.numeric", "_frombuffer"), np_numeric._frombuffer),  # type: ignore[attr-defined]
        )
    }

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise _NotCifar(f"{module}.{name}") from None


def load_cifar_pickle(blob: bytes, where: str) -> dict[bytes, Any]:
    """One CIFAR-10 python batch (a dict with bytes keys) from its pickled bytes, without running code.

    ``where`` names the file in errors. Anything but plain data and numpy arrays raises a DataError.
    """
    try:
        obj = _CifarUnpickler(io.BytesIO(blob), encoding="bytes").load()
    except _NotCifar as e:
        raise DataError(
            f"{where} is not a genuine CIFAR-10 batch: it asks to call {e}, which CIFAR batches never "
            "contain; refusing to load it (replace the folder with the official cifar-10-batches-py)"
        ) from None
    except Exception as e:  # a damaged pickle can raise nearly anything
        raise DataError(f"cannot read {where}: {e!r}") from e
    if not isinstance(obj, dict):
        raise DataError(f"{where} is not a CIFAR-10 batch (got {type(obj).__name__})")
    return obj


def read_cifar_batches(source: Path) -> dict[str, np.ndarray]:
    """CIFAR-10's canonical python batches, from ``cifar-10-batches-py/`` or ``cifar-10-python.tar.gz``.

    The batches are Python pickles, the format the dataset is published in. They are read with
    :func:`load_cifar_pickle`, which builds only plain data and numpy arrays: a crafted file runs no code.
    """
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]
    blobs = {p[-1]: b for p, b in read_files(source, lambda p: p[-1] in names, source.name)}
    missing = [n for n in names if n not in blobs]
    if missing:
        raise DataError(f"{source} is not a complete cifar-10-batches-py: {', '.join(missing)} missing")

    def unpickle(name: str) -> dict[bytes, Any]:
        return load_cifar_pickle(blobs[name], f"{source}/{name}")

    def batch(*batch_names: str) -> tuple[np.ndarray, np.ndarray]:
        parts = [unpickle(n) for n in batch_names]
        try:
            x = np.concatenate([np.asarray(p[b"data"], np.uint8) for p in parts])
            y = np.concatenate([np.asarray(p[b"labels"], np.int64) for p in parts])
        except (KeyError, TypeError, ValueError) as e:
            raise DataError(f"{source}: a CIFAR batch lacks well-formed data and labels ({e!r})") from None
        if x.ndim != 2 or x.shape[1] != 3 * 32 * 32:
            raise DataError(f"{source}: CIFAR batch rows must hold 3072 pixels, got shape {x.shape}")
        # rows are the red, green and blue 32×32 planes one after another
        return np.ascontiguousarray(x.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)), y

    train_x, train_y = batch(*names[:5])
    test_x, test_y = batch("test_batch")
    meta = unpickle("batches.meta")
    classes = [n.decode() if isinstance(n, bytes) else str(n) for n in meta.get(b"label_names", [])]
    return {
        "train_x": train_x,
        "train_y": train_y,
        "test_x": test_x,
        "test_y": test_y,
        "classes": np.array(classes),
    }


def _check_classes(dataset: str, source: Path, classes: np.ndarray) -> None:
    if tuple(str(c) for c in classes) != CIFAR10_CLASSES:
        raise DataError(
            f"{source} does not look like {dataset}: classes {list(classes)}, expected {list(CIFAR10_CLASSES)}"
        )


@DATASETS.register("cifar10")
def cifar10(root: Path | None = None, cache_dir: Path | None = None) -> DatasetBundle:
    """CIFAR-10: the canonical ``cifar-10-batches-py`` or the class-folder JPEG archive ``cifar10-jpeg``.

    Searched in the data root in the order of ``CIFAR10_SOURCES``. JPEGs are decoded once and cached.
    """
    source = find_source("cifar10", CIFAR10_SOURCES, root)
    if source.name.startswith("cifar-10-") or (source / "batches.meta").exists():
        arrays = read_cifar_batches(source)  # already uint8 arrays: nothing to cache
    else:
        splits = {"train": "train", "test": "test"}
        arrays = load_or_decode(
            "cifar10", source, lambda: read_class_folders(source, splits, desc=source.name), cache_dir
        )
    _check_classes("cifar10", source, arrays["classes"])
    return bundle_from_arrays("cifar10", arrays, CIFAR_AUGMENT)


@DATASETS.register("cinic10")
def cinic10(
    root: Path | None = None, cache_dir: Path | None = None, include_valid: bool = False
) -> DatasetBundle:
    """CINIC-10 (``train/``, ``valid/``, ``test/`` class folders); ``include_valid`` adds valid to train."""
    source = find_source("cinic10", CINIC10_SOURCES, root)
    splits = {"train": "train", "test": "test"} | ({"valid": "train"} if include_valid else {})
    arrays = load_or_decode(
        "cinic10",
        source,
        lambda: read_class_folders(source, splits, desc=source.name),
        cache_dir,
        {"include_valid": include_valid},
    )
    _check_classes("cinic10", source, arrays["classes"])
    return bundle_from_arrays("cinic10", arrays, CIFAR_AUGMENT)


@DATASETS.register("folder")
def folder(
    root: Path | None = None,
    cache_dir: Path | None = None,
    image_size: int | None = None,
    grayscale: bool = False,
    pad: int = 4,
    flip: bool = True,
) -> DatasetBundle:
    """Any class-folder dataset: ``root`` (a folder or archive) holds ``train/<class>/*``, ``test/<class>/*``.

    Images may be in any format Pillow reads; they must share one size unless ``image_size`` resizes them
    to ``image_size``×``image_size``. Converted to RGB, or to one channel with ``grayscale``.
    """
    if root is None:
        raise DataError(
            "the folder dataset needs --data-root (root=...) pointing at a folder or archive that holds "
            "train/<class>/<image> and test/<class>/<image>"
        )
    if not root.exists():
        raise DataError(f"folder dataset {root} does not exist")
    size = None if image_size is None else (image_size, image_size)
    mode = "L" if grayscale else "RGB"
    arrays = load_or_decode(
        "folder",
        root,
        lambda: read_class_folders(root, {"train": "train", "test": "test"}, mode, size, root.name),
        cache_dir,
        {"image_size": image_size, "grayscale": grayscale},
    )
    return bundle_from_arrays("folder", arrays, Augment(pad=pad, flip=flip))
