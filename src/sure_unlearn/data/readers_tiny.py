"""Tiny-ImageNet-200 in its native layout, from the folder or straight from its archive.

    tiny-imagenet-200/wnids.txt                         class ids (label order)
    tiny-imagenet-200/words.txt                         id -> names (not needed)
    tiny-imagenet-200/train/<wnid>/images/*.JPEG        training images
    tiny-imagenet-200/val/images/*.JPEG                 used as the test split
    tiny-imagenet-200/val/val_annotations.txt           file, wnid, box

``test/`` has no labels and is skipped. Classes are the wnids in ``wnids.txt`` order; training images are
ordered by class, then by file name, validation images by file name (numbers by value: val_0, val_1, ...).
Some images are grayscale and are converted to RGB.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sure_unlearn.data.cache import load_or_decode
from sure_unlearn.data.readers import DATASETS, bundle_from_arrays, find_source
from sure_unlearn.data.readers_io import Parts, decode_images, natural_key, read_files
from sure_unlearn.data.types import Augment, DatasetBundle
from sure_unlearn.errors import DataError

TINY_SOURCES = (
    "tiny-imagenet-200",
    "tiny-imagenet-200.zip",
    "tiny-imagenet-200.tar.xz",
    "tiny-imagenet-200*.tar.xz",
    "tiny-imagenet-200*.tar.gz",
    "tiny-imagenet-200*.zip",
)
TINY_AUGMENT = Augment(pad=8, flip=True)  # the 32-px recipe (4 of 32 pixels) scaled to 64 px


def _want(p: Parts) -> bool:
    name = p[-1]
    if name == "wnids.txt" or (name == "val_annotations.txt" and p[-2:-1] == ("val",)):
        return True
    if not name.lower().endswith((".jpeg", ".jpg")) or len(p) < 3 or p[-2] != "images":
        return False
    return p[-3] == "val" or (len(p) >= 4 and p[-4] == "train")


def read_tiny_imagenet(source: Path) -> dict[str, np.ndarray]:
    """Decode Tiny-ImageNet's train and val images (val as test) from a folder or archive."""
    files = read_files(source, _want, source.name)
    text = {p[-1]: b.decode() for p, b in files if p[-1].endswith(".txt")}
    for needed in ("wnids.txt", "val_annotations.txt"):
        if needed not in text:
            raise DataError(f"{source} is not a Tiny-ImageNet folder or archive: no {needed}")
    wnids = text["wnids.txt"].split()
    label = {w: k for k, w in enumerate(wnids)}
    val_wnid = {}
    for line in text["val_annotations.txt"].splitlines():
        if line.strip():
            fname, wnid = line.split("\t")[:2]
            val_wnid[fname] = wnid

    train = [(p, b) for p, b in files if p[-3:-2] != ("val",) and p[-2] == "images"]
    val = sorted(((p, b) for p, b in files if p[-3:-2] == ("val",)), key=lambda f: natural_key(f[0][-1]))
    unknown = sorted({p[-3] for p, _ in train} - label.keys())
    if unknown:
        raise DataError(f"{source}: train/ has classes missing from wnids.txt: {unknown[:5]}")
    train.sort(key=lambda f: (label[f[0][-3]], natural_key(f[0][-1])))
    counts = np.bincount([label[p[-3]] for p, _ in train], minlength=len(wnids))
    empty = [wnids[k] for k in np.flatnonzero(counts == 0)]
    if empty:
        raise DataError(f"{source}: classes of wnids.txt without training images: {empty[:5]}")
    no_label = [p[-1] for p, _ in val if p[-1] not in val_wnid]
    bad = sorted({val_wnid[p[-1]] for p, _ in val if p[-1] in val_wnid} - label.keys())
    if no_label or bad:
        raise DataError(
            f"{source}: val images without an annotation ({no_label[:3]}) or with classes outside "
            f"wnids.txt ({bad[:3]}) in val/val_annotations.txt"
        )
    return {
        "train_x": decode_images(train, "RGB", None, f"{source.name} train"),
        "train_y": np.array([label[p[-3]] for p, _ in train], np.int64),
        "test_x": decode_images(val, "RGB", None, f"{source.name} val"),
        "test_y": np.array([label[val_wnid[p[-1]]] for p, _ in val], np.int64),
        "classes": np.array(wnids),
    }


@DATASETS.register("tiny_imagenet")
def tiny_imagenet(root: Path | None = None, cache_dir: Path | None = None) -> DatasetBundle:
    """Tiny-ImageNet-200 (64×64 RGB; train = train, test = val), decoded once and cached.

    Reads the folder ``tiny-imagenet-200/`` or an archive of it (the official zip, or a
    ``tiny-imagenet-200*.tar.xz`` such as the 10-class sample); ``classes`` are the wnids.
    """
    source = find_source("tiny_imagenet", TINY_SOURCES, root)
    arrays = load_or_decode("tiny_imagenet", source, lambda: read_tiny_imagenet(source), cache_dir)
    return bundle_from_arrays("tiny_imagenet", arrays, TINY_AUGMENT)
