"""File access shared by the image readers: folders and archives read alike, images decoded in bulk.

A source is a folder or an archive (``.tar``, ``.tar.gz``, ``.tar.xz``, ``.zip``). Its files are read in
one sequential pass (archives are never unpacked to disk) and handed on as ``(parts, bytes)``, ``parts``
being the path inside the source split into components. Decoding needs Pillow, imported lazily.

>>> natural_key("val_10.JPEG") > natural_key("val_9.JPEG")
True
"""

from __future__ import annotations

import io
import os
import re
import tarfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import numpy as np

from sure_unlearn.errors import DataError
from sure_unlearn.progress import track, want_progress

T = TypeVar("T")
Parts = tuple[str, ...]

ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".txz", ".zip")


def pil() -> ModuleType:
    """``PIL.Image``, or a DataError that says how to install it."""
    try:
        from PIL import Image
    except ImportError:
        raise DataError(
            "reading image files needs Pillow: pip install 'sure-unlearn[images]' (or pip install pillow)"
        ) from None
    return Image


def image_suffixes() -> frozenset[str]:
    """File suffixes (lower case, with the dot) that Pillow can open."""
    return frozenset(pil().registered_extensions())


def is_archive(path: Path) -> bool:
    """Whether ``path`` names an archive file that :func:`iter_files` can read."""
    return path.is_file() and path.name.lower().endswith(ARCHIVE_SUFFIXES)


def progress(items: Iterable[T], total: int | None, desc: str) -> Iterable[T]:
    """``items`` with a progress bar when stderr is a terminal and tqdm is installed."""
    return track(items, total, desc, enabled=want_progress())


def iter_files(source: Path, want: Callable[[Parts], bool]) -> Iterator[tuple[Parts, bytes]]:
    """``(parts, content)`` of each file of a folder or archive for which ``want(parts)`` holds."""
    if source.is_dir():
        for dirpath, dirnames, names in os.walk(source):
            dirnames.sort()
            rel = Path(dirpath).relative_to(source).parts
            for name in sorted(names):
                if want(parts := (*rel, name)):
                    yield parts, Path(dirpath, name).read_bytes()
    elif source.name.lower().endswith(".zip"):
        with zipfile.ZipFile(source) as zf:
            for info in zf.infolist():
                if not info.is_dir() and want(parts := _parts(info.filename)):
                    yield parts, zf.read(info)
    elif is_archive(source):
        # stream mode ("r|*"): one forward pass through the compressed file, no seeking back
        with tarfile.open(source, "r|*") as tf:
            for member in tf:
                if member.isfile() and want(parts := _parts(member.name)):
                    f = tf.extractfile(member)
                    assert f is not None  # regular files always have content
                    yield parts, f.read()
    else:
        raise DataError(f"{source} is neither a folder nor an archive ({', '.join(ARCHIVE_SUFFIXES)})")


def read_files(source: Path, want: Callable[[Parts], bool], desc: str) -> list[tuple[Parts, bytes]]:
    """All wanted files of ``source`` in memory (encoded images are small), with a progress bar."""
    try:
        return list(progress(iter_files(source, want), None, f"reading {desc}"))
    except (OSError, EOFError, tarfile.TarError, zipfile.BadZipFile) as e:
        raise DataError(f"cannot read {source}: {e}") from e


def _parts(name: str) -> Parts:
    return tuple(p for p in name.split("/") if p not in ("", "."))


def natural_key(name: str) -> tuple[Any, ...]:
    """Sort key that orders embedded numbers by value: ``img_2`` before ``img_10``."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name))


def decode_images(
    files: Sequence[tuple[Parts, bytes]],
    mode: str = "RGB",
    size: tuple[int, int] | None = None,
    desc: str = "images",
) -> np.ndarray:
    """Decode encoded images into one ``N×H×W×C`` uint8 array, converting each to ``mode``.

    ``size`` (width, height) resizes every image; without it all images must have the first one's size.
    """
    image = pil()
    channels = len(image.new(mode, (1, 1)).getbands())
    out: np.ndarray | None = None
    hint: list[str] | None = None  # the last image's format, tried first: probing every plugin is slow
    for i, (parts, data) in enumerate(progress(files, len(files), f"decoding {desc}")):
        try:
            try:
                im = image.open(io.BytesIO(data), formats=hint)
            except image.UnidentifiedImageError:
                if hint is None:
                    raise
                im = image.open(io.BytesIO(data))
            hint = [im.format] if im.format else None
            if im.mode != mode:
                im = im.convert(mode)
            if size is not None and im.size != size:
                im = im.resize(size, image.Resampling.BILINEAR)
            pixels = np.asarray(im)
        except (OSError, ValueError, SyntaxError) as e:  # PIL's UnidentifiedImageError is an OSError
            raise DataError(f"cannot decode image {'/'.join(parts)}: {e}") from e
        if out is None:
            w, h = im.size
            out = np.empty((len(files), h, w, channels), np.uint8)
        if pixels.shape[:2] != out.shape[1:3]:
            raise DataError(
                f"image {'/'.join(parts)} is {im.size[0]}×{im.size[1]} but the first image is "
                f"{out.shape[2]}×{out.shape[1]}; pass image_size=... to resize them all to one size"
            )
        out[i] = pixels.reshape(out.shape[1:])
    return out if out is not None else np.empty((0, 0, 0, channels), np.uint8)
