"""Progress bars that cost nothing when off: tqdm if installed and stderr is a terminal."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def want_progress(flag: bool | None = None) -> bool:
    """``flag`` if given, else on only when stderr is a terminal."""
    return sys.stderr.isatty() if flag is None else flag


class _Null:
    def update(self, n: int = 1) -> None: ...
    def set_postfix_str(self, s: str, refresh: bool = True) -> None: ...
    def set_description_str(self, s: str, refresh: bool = True) -> None: ...
    def close(self) -> None: ...
    def __enter__(self) -> _Null:
        return self

    def __exit__(self, *exc: object) -> None: ...


def bar(total: int | None = None, desc: str = "", enabled: bool = False, **kw: Any) -> Any:
    """A tqdm bar (or a no-op with the same methods) for manual ``update`` calls."""
    if enabled:
        try:
            from tqdm.auto import tqdm

            return tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True, **kw)
        except ImportError:
            pass
    return _Null()


def track(it: Iterable[T], total: int | None = None, desc: str = "", enabled: bool = False) -> Iterator[T]:
    """Iterate with a bar when ``enabled``."""
    if not enabled:
        yield from it
        return
    with bar(total, desc, enabled) as b:
        for x in it:
            yield x
            b.update()
