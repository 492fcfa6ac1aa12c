"""Files written atomically and content keys: the bottom layer every results writer and cache uses."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from sure_unlearn.errors import ConfigError


def atomic_write_bytes(path: Path, write: Callable[[Any], None]) -> None:
    """Write via a temporary file in the same directory, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_writable(path: str | Path, what: str) -> Path:
    """Create the directory ``path`` if needed and prove it writable by writing and deleting a file in it
    (permissions alone do not tell: a read-only mount, a full disk or a regular file in the way).
    ``what`` names it in the error, e.g. ``"--out"``.

    >>> import tempfile; tmp = tempfile.TemporaryDirectory(); d = Path(tmp.name)
    >>> check_writable(d / "new", "--out") == d / "new"
    True
    >>> _ = (d / "file").write_text("x")
    >>> check_writable(d / "file" / "sub", "--out")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    sure_unlearn.errors.ConfigError: --out .../file/sub is not a writable directory (...); choose another
    >>> tmp.cleanup()
    """
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".write-check.", dir=path)
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise ConfigError(
            f"{what} {path} is not a writable directory ({e.strerror or e}); choose another"
        ) from None
    return path


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, lambda f: f.write(text.encode()))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.ndarray) and obj.ndim == 0:  # e.g. BatchNorm's num_batches_tracked
        return obj.item()
    if isinstance(obj, np.ndarray):
        return {"sha256": hashlib.sha256(np.ascontiguousarray(obj).tobytes()).hexdigest(), "n": len(obj)}
    if isinstance(obj, np.integer | np.floating):
        return obj.item()
    if isinstance(obj, tuple | list):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in sorted(obj.items())}
    if hasattr(obj, "__dataclass_fields__"):
        return _jsonable(dataclasses.asdict(obj))
    return obj


def content_key(**parts: Any) -> str:
    """A short stable hash of ``parts`` (arrays hashed by content).

    >>> content_key(a=1, b=np.arange(3)) == content_key(b=np.arange(3), a=1)
    True
    """
    blob = json.dumps(_jsonable(parts), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def jsonable(obj: Any) -> Any:
    """``obj`` with non-finite floats as None (JSON has no NaN) and numpy scalars as Python numbers."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", 1) == 0:
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the block: processes of one machine
    that take the same lock run the block one at a time."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
