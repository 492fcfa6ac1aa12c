"""Search spaces: what each method's hyperparameter search may vary, declared beside the method's config.

A space maps config field names to a :class:`Float`, :class:`Int` or :class:`Choice`. It is plain data
(no Optuna import), so a method module declares it at import time and the registry carries it:

    SPACE = {"lr": Float(1e-4, 1e-1, log=True), "alpha": Float(0.1, 100.0, log=True)}
    @register_method("sure", config=SureConfig, ..., space=SPACE)

Step sizes and strengths span decades, so they are searched on a log scale; shares and weights in a
bounded interval (e.g. SalUn's mask ratio) on a linear one.

>>> space = {"lr": Float(1e-4, 1e-1, log=True), "blocks": Int(1, 3)}
>>> describe(space)
'lr ∈ [0.0001, 0.1] (log), blocks ∈ {1..3}'
>>> scaled(space["lr"], 0.01, 1.2), scaled(space["blocks"], 2, 1.2)
(0.012, 2)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sure_unlearn.errors import ConfigError


@dataclass(frozen=True)
class Float:
    """A real hyperparameter in [low, high]; ``log=True`` samples log-uniformly (step sizes, strengths)."""

    low: float
    high: float
    log: bool = False

    def __post_init__(self) -> None:
        if not self.low < self.high or (self.log and self.low <= 0):
            raise ValueError(f"Float needs low < high (and low > 0 on a log scale), got {self}")

    def describe(self) -> str:
        return f"[{self.low:g}, {self.high:g}]" + (" (log)" if self.log else "")


@dataclass(frozen=True)
class Int:
    """An integer hyperparameter in [low, high] (both included)."""

    low: int
    high: int
    log: bool = False

    def __post_init__(self) -> None:
        if not self.low <= self.high or (self.log and self.low <= 0):
            raise ValueError(f"Int needs low ≤ high (and low > 0 on a log scale), got {self}")

    def describe(self) -> str:
        return f"{{{self.low}..{self.high}}}" + (" (log)" if self.log else "")


@dataclass(frozen=True)
class Choice:
    """One of a few discrete options (booleans, modes)."""

    options: tuple[Any, ...]

    def describe(self) -> str:
        return "{" + ", ".join(map(str, self.options)) + "}"


Param = Float | Int | Choice
Space = Mapping[str, Param]


def describe(space: Space) -> str:
    """One line naming every parameter and its range."""
    return ", ".join(f"{k} ∈ {p.describe()}" for k, p in space.items())


def check_space(space: Space, fields: set[str], owner: str) -> None:
    """Every key of ``space`` must be a field of the config; raise ValueError naming the bad ones."""
    bad = sorted(set(space) - fields)
    if bad:
        raise ValueError(f"{owner}: search space names {bad}, which are not config fields ({sorted(fields)})")


def suggest(trial: Any, space: Space) -> dict[str, Any]:
    """Draw one value per parameter from an Optuna ``trial`` (its sampler decides where)."""
    out: dict[str, Any] = {}
    for name, p in space.items():
        if isinstance(p, Float):
            out[name] = trial.suggest_float(name, p.low, p.high, log=p.log)
        elif isinstance(p, Int):
            out[name] = trial.suggest_int(name, p.low, p.high, log=p.log)
        else:
            out[name] = trial.suggest_categorical(name, list(p.options))
    return out


def contains(p: Param, value: Any) -> bool:
    """Whether ``value`` is a point of ``p`` (a tuned value read back from a file).

    >>> contains(Float(1e-4, 1e-1, log=True), 0.01), contains(Int(1, 3), 4), contains(Choice((True, False)), False)
    (True, False, True)
    """
    if isinstance(p, Choice):
        return value in p.options
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(p, Int) and value != int(value):
        return False
    return p.low <= value <= p.high


def scaled(p: Param | None, value: Any, factor: float) -> Any:
    """``value × factor``, rounded for integers (at least 1 when ``value`` ≥ 1); choices cannot be scaled.

    The sensitivity grid multiplies the optimum by 1 ± 20%; it may leave the search range on purpose.
    """
    if isinstance(p, Choice) or isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"cannot scale {value!r} by {factor}: sensitivity needs numeric hyperparameters")
    if isinstance(p, Int) or (p is None and isinstance(value, int)):
        return max(round(value * factor), 1 if value >= 1 else 0)
    return float(value) * factor


def with_epochs(space: Space, cap: int, log: bool = False) -> dict[str, Param]:
    """``space`` plus ``epochs`` searched in {1..cap} (log-uniformly with ``log``): the cap is the ceiling."""
    return {**space, "epochs": Int(1, max(cap, 1), log=log and cap > 1)}


def near_boundary(p: Param, value: Any, margin: float = 0.05) -> str | None:
    """``"low"`` or ``"high"`` when ``value`` lies within ``margin`` of the range's width from that end of
    ``p`` (on the log scale for log parameters; for integers: on the end itself), else None. An optimum
    there says the range, not the method, decided it.

    >>> near_boundary(Float(1e-4, 1e-1, log=True), 0.095), near_boundary(Float(0.0, 1.0), 0.5)
    ('high', None)
    >>> near_boundary(Int(1, 3), 1), near_boundary(Choice((True, False)), True)
    ('low', None)
    """
    import math

    if isinstance(p, Choice) or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(p, Int):
        return (
            "low"
            if value <= p.low and p.high > p.low
            else "high"
            if value >= p.high and p.high > p.low
            else None
        )
    lo, hi, v = (math.log(x) for x in (p.low, p.high, value)) if p.log else (p.low, p.high, float(value))
    width = hi - lo
    return "low" if v - lo <= margin * width else "high" if hi - v <= margin * width else None
