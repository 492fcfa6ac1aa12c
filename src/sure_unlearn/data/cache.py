"""Decode cache: a dataset's decoded uint8 arrays, kept as one uncompressed ``.npz`` per dataset source.

Decoding 60,000 CIFAR JPEGs takes tens of seconds; loading the cached arrays takes well under one. A
cache file is named by the dataset, the source's path and the reader's options, and holds a key with the
source's fingerprint (size and modification time), so a changed source is decoded again and replaces
its stale entry. Files are written atomically (a temporary file in the same folder, then
``os.replace``) and read with ``allow_pickle=False``; an unreadable file is deleted and decoded again.

Each file also holds the SHA-256 of its arrays (:func:`arrays_digest`), checked on every load: a file
whose arrays no longer match it (a flipped bit on disk) is reported in a warning naming it, deleted and
decoded again, never used. A file written before digests existed is trusted on first use and its digest
recorded then.

>>> import tempfile
>>> calls = []
>>> def decode():
...     calls.append(1)
...     return {"x": np.zeros((2, 4, 4, 1), np.uint8)}
>>> with tempfile.TemporaryDirectory() as tmp:
...     src = Path(tmp) / "source.bin"
...     _ = src.write_bytes(b"data")
...     a = load_or_decode("demo", src, decode, cache_dir=Path(tmp) / "cache")
...     b = load_or_decode("demo", src, decode, cache_dir=Path(tmp) / "cache")
>>> len(calls), b["x"].shape
(1, (2, 4, 4, 1))
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

import numpy as np

# Bump when the meaning of cached arrays changes (decoding, ordering), so old caches are not trusted.
CACHE_VERSION = 1
_KEY = "__key__"
_SHA = "__sha256__"

Arrays = dict[str, np.ndarray]


def default_cache_dir() -> Path:
    """``$SURE_CACHE/datasets``, by default ``~/.cache/sure/datasets``."""
    return Path(os.environ.get("SURE_CACHE", Path.home() / ".cache" / "sure")) / "datasets"


def fingerprint(source: Path) -> dict[str, int]:
    """Size and newest modification time of a file, or of all the files under a folder (and their count)."""
    if source.is_file():
        st = source.stat()
        return {"files": 1, "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}
    files = size = newest = 0
    for dirpath, _, names in os.walk(source):
        for name in names:
            st = os.stat(os.path.join(dirpath, name))
            files, size, newest = files + 1, size + st.st_size, max(newest, st.st_mtime_ns)
    return {"files": files, "bytes": size, "mtime_ns": newest}


def cache_path(name: str, source: Path, options: Mapping[str, object], cache_dir: Path | None = None) -> Path:
    """Where the decoded arrays of ``name`` read from ``source`` with ``options`` are kept."""
    ident = json.dumps([name, str(source.resolve()), dict(options)], sort_keys=True, default=str)
    digest = hashlib.sha256(ident.encode()).hexdigest()[:16]
    return (cache_dir if cache_dir is not None else default_cache_dir()) / f"{name}-{digest}.npz"


def load_or_decode(
    name: str,
    source: Path,
    decode: Callable[[], Arrays],
    cache_dir: Path | None = None,
    options: Mapping[str, object] | None = None,
) -> Arrays:
    """The arrays ``decode()`` returns for ``source``, from the cache when the source is unchanged."""
    options = dict(options or {})
    path = cache_path(name, source, options, cache_dir)
    key = json.dumps(
        {"version": CACHE_VERSION, "name": name, "source": str(source.resolve()), "options": options}
        | {"fingerprint": fingerprint(source)},
        sort_keys=True,
        default=str,
    )
    if path.exists():
        arrays = _read(path, key)
        if arrays is not None:
            return arrays
    arrays = decode()
    try:
        _write(path, arrays | {_KEY: np.array(key), _SHA: np.array(arrays_digest(arrays, key))})
    except OSError as e:  # a read-only or full disk costs time, not correctness
        warnings.warn(f"could not write the dataset cache {path}: {e}", stacklevel=2)
    return arrays


def arrays_digest(arrays: Mapping[str, np.ndarray], key: str) -> str:
    """SHA-256 of ``arrays`` (each one's name, dtype, shape and bytes, by name) and the cache key.

    >>> a = {"x": np.zeros((2, 3), np.uint8)}
    >>> arrays_digest(a, "k") == arrays_digest({"x": np.zeros((2, 3), np.uint8)}, "k")
    True
    >>> arrays_digest(a, "k") == arrays_digest({"x": np.zeros((3, 2), np.uint8)}, "k")
    False
    """
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.data)
    h.update(key.encode())
    return h.hexdigest()


def _read(path: Path, key: str) -> Arrays | None:
    """The cached arrays, or None when the file is stale (other key), unreadable or corrupt (then deleted)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z[_KEY]) != key:
                return None
            arrays = {k: z[k] for k in z.files if k not in (_KEY, _SHA)}
            recorded = str(z[_SHA]) if _SHA in z.files else None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        warnings.warn(f"deleting unreadable dataset cache {path} ({e!r}); decoding again", stacklevel=3)
        path.unlink(missing_ok=True)
        return None
    digest = arrays_digest(arrays, key)
    if recorded is None:  # written before digests: trust on first use and record the digest
        try:
            _write(path, arrays | {_KEY: np.array(key), _SHA: np.array(digest)})
        except OSError as e:
            warnings.warn(f"could not record the SHA-256 of the dataset cache {path}: {e}", stacklevel=3)
    elif recorded != digest:
        warnings.warn(
            f"deleting corrupt dataset cache {path}: its arrays no longer match the SHA-256 recorded when "
            "it was written; decoding again",
            stacklevel=3,
        )
        path.unlink(missing_ok=True)
        return None
    return arrays


def _write(path: Path, arrays: Arrays) -> None:
    """Write ``arrays`` to ``path`` atomically: readers see the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **cast(dict[str, Any], arrays))  # no object arrays: loads without pickle
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
