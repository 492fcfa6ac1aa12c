"""A tiny typed registry: ``register`` / ``get`` / ``available``.

Every extension point of ``sure`` (methods, models, datasets, scenarios, metrics) is one of these, so a
new method or model is one new file with a decorator, and the CLI, the benchmark and the tests find it.

>>> r: Registry[int] = Registry("number")
>>> _ = r.register("one")(1)
>>> r.get("one"), r.available()
(1, ['one'])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from sure_unlearn.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to objects of one kind; unknown names fail with the list of known ones."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            return obj

        return add

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}; available: {', '.join(self.available())}"
            ) from None

    def available(self) -> list[str]:
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items
