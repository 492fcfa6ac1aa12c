"""Dataset readers: one registry of named readers, one front door (:func:`load_dataset`), the data root.

A reader is a function ``reader(root, cache_dir=..., **options) -> DatasetBundle``; ``root`` is the data
root the user gave (or None: search the data roots below) and readers that decode files cache the result
under ``cache_dir``. Nothing is downloaded. Built in: ``synthetic`` and ``digits`` (this file, need no
files), ``cifar10``, ``cinic10`` and ``folder`` (:mod:`.readers_folders`), ``tiny_imagenet``
(:mod:`.readers_tiny`). A new dataset is one function decorated with ``@DATASETS.register("name")``.

>>> sorted(DATASETS.available())
['cifar10', 'cinic10', 'digits', 'folder', 'synthetic', 'tiny_imagenet']

Data root: ``root`` (``--data-root``) if given, else ``$SURE_DATA`` (several folders separated by
``os.pathsep``), else ``./data`` in the working directory. A dataset that is in none of them raises a
DataError that lists where it looked.
"""

from __future__ import annotations

import fnmatch
import inspect
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sure_unlearn.data.types import NO_AUGMENT, Augment, DatasetBundle, ImageArrays
from sure_unlearn.errors import ConfigError, DataError
from sure_unlearn.registry import Registry

# reader(root: Path | None, cache_dir: Path | None = None, **options) -> DatasetBundle
Reader = Callable[..., DatasetBundle]

DATASETS: Registry[Reader] = Registry("dataset")


def load_dataset(
    name: str, root: str | Path | None = None, cache_dir: str | Path | None = None, **kwargs: Any
) -> DatasetBundle:
    """Read dataset ``name`` from the data root (decoded images cached under ``cache_dir``).

    >>> b = load_dataset("synthetic", n_train=8, n_test=4)
    >>> b.train.x.shape, b.test.x.dtype, b.classes
    ((8, 8, 8, 3), dtype('uint8'), ('class0', 'class1', 'class2', 'class3'))
    """
    reader = DATASETS.get(name)
    params = inspect.signature(reader).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        bad = sorted(set(kwargs) - set(params))
        if bad:
            options = [p for p in params if p not in ("root", "cache_dir")]
            raise ConfigError(f"dataset {name!r} has no option(s) {bad}; its options: {options}")
    return reader(
        None if root is None else Path(root).expanduser(),
        cache_dir=None if cache_dir is None else Path(cache_dir).expanduser(),
        **kwargs,
    )


def data_roots(root: str | Path | None = None) -> list[Path]:
    """The folders searched for datasets, in order: ``root``, else ``$SURE_DATA``, else ``./data``.

    >>> data_roots("/datasets") == [Path("/datasets")]
    True
    """
    if root is not None:
        return [Path(root).expanduser()]
    env = os.environ.get("SURE_DATA", "")
    if env.strip():
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p.strip()]
    return [Path.cwd() / "data"]


def find_source(dataset: str, names: Sequence[str], root: str | Path | None = None) -> Path:
    """The first file or folder matching one of ``names`` (glob patterns) in :func:`data_roots`.

    A root that itself matches (``--data-root path/to/cifar-10-batches-py``) is taken as is. Not found:
    a DataError listing every folder searched and how to point the search elsewhere.
    """
    roots = data_roots(root)
    for r in roots:
        if r.exists() and any(fnmatch.fnmatch(r.name, n) for n in names):
            return r
        for n in names:
            hits = sorted(r.glob(n)) if r.is_dir() else []
            if hits:
                return hits[0]
    looked = "\n".join(f"  {r}" + ("" if r.is_dir() else "  (no such folder)") for r in roots)
    raise DataError(
        f"dataset {dataset!r} not found. Looked in:\n{looked}\nfor any of: {', '.join(names)}.\n"
        f"Put it in one of these folders, or point --data-root (or the SURE_DATA environment variable, "
        f"folders separated by {os.pathsep!r}) at the folder that holds it; without either, ./data is "
        "searched. Nothing is downloaded."
    )


def bundle_from_arrays(name: str, arrays: dict[str, np.ndarray], augment: Augment) -> DatasetBundle:
    """A DatasetBundle from the arrays a reader decodes (and the cache stores)."""
    return DatasetBundle(
        name=name,
        train=ImageArrays(arrays["train_x"], arrays["train_y"].astype(np.int64)),
        test=ImageArrays(arrays["test_x"], arrays["test_y"].astype(np.int64)),
        classes=tuple(str(c) for c in arrays["classes"]),
        augment=augment,
    )


@DATASETS.register("synthetic")
def synthetic(
    root: Path | None = None,
    cache_dir: Path | None = None,
    n_train: int = 512,
    n_test: int = 256,
    num_classes: int = 4,
    image_size: int = 8,
    channels: int = 3,
    seed: int = 0,
) -> DatasetBundle:
    """Generated images for tests: a fixed random pattern per class plus noise, learnable by a small model.

    Deterministic in ``seed``; classes are balanced (sizes differ by at most one). No augmentation: the
    patterns are per pixel, so a shift would blur the classes.
    """
    if num_classes < 1 or image_size < 1 or channels < 1 or n_train < 0 or n_test < 0:
        raise DataError(
            "synthetic data needs num_classes, image_size, channels >= 1 and n_train, n_test >= 0"
        )
    rng = np.random.default_rng(seed)
    shape = (image_size, image_size, channels)
    patterns = rng.choice([0.3, 0.7], size=(num_classes, *shape))

    def draw(n: int) -> ImageArrays:
        y = rng.permutation(np.arange(n) % num_classes).astype(np.int64)
        x = patterns[y] + rng.normal(0.0, 0.2, size=(n, *shape))
        return ImageArrays(np.clip(np.rint(x * 255), 0, 255).astype(np.uint8), y)

    train, test = draw(n_train), draw(n_test)
    classes = tuple(f"class{k}" for k in range(num_classes))
    return DatasetBundle("synthetic", train, test, classes, augment=NO_AUGMENT)


@DATASETS.register("digits")
def digits(root: Path | None = None, cache_dir: Path | None = None) -> DatasetBundle:
    """scikit-learn's handwritten digits (1,797 8×8 grayscale images, shipped inside scikit-learn).

    Pixels (16 levels) are scaled to uint8 0..255. The split, 80/20 stratified with seed 0, is part of
    the dataset's definition. Augmentation is a 1-pixel crop and no flip (a flipped 2 is not a 2).
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = np.rint(d.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    y = d.target.astype(np.int64)
    train_idx, test_idx = train_test_split(np.arange(len(y)), test_size=0.2, random_state=0, stratify=y)
    train_idx, test_idx = np.sort(train_idx), np.sort(test_idx)
    return DatasetBundle(
        "digits",
        ImageArrays(x[train_idx], y[train_idx]),
        ImageArrays(x[test_idx], y[test_idx]),
        classes=tuple(str(k) for k in range(10)),
        augment=Augment(pad=1, flip=False),
    )
