"""One run of a benchmark, as data: a frozen record with a JSON form (``run.json``, ``summary.json``).

>>> r = Run("sure", "random", 0, {"alpha": 1.0}, {"test_acc": 50.0})
>>> Run.from_dict(r.to_dict()) == r, r.ok
(True, True)
>>> r.with_gaps({"test_acc": 1.5}).gaps
{'test_acc': 1.5}
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# what summary.json keeps of each run (run.json also keeps the rest)
SUMMARY_FIELDS = ("method", "scenario", "seed", "hparams", "metrics", "gaps", "status", "error")


@dataclass(frozen=True)
class Run:
    """A method (or reference model) on one (scenario, seed): its settings, metrics and gaps to the oracle.

    ``status`` is ``"ok"`` or ``"failed"`` (with ``error``: e.g. a diverged method; its metrics are empty).
    ``info`` holds what the method reported (epochs, diagnostics); ``key`` the content key that tells a
    finished run from a stale one; ``attacks`` the per-example attack settings it was attacked with.
    """

    method: str
    scenario: str
    seed: int
    hparams: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    gaps: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    status: str = "ok"
    error: str | None = None
    key: str = ""
    attacks: dict[str, Any] | None = None
    env: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def with_gaps(self, gaps: Mapping[str, float]) -> Run:
        return dataclasses.replace(self, gaps=dict(gaps))

    def with_metrics(self, extra: Mapping[str, Any], **changes: Any) -> Run:
        return dataclasses.replace(self, metrics={**self.metrics, **extra}, **changes)

    def to_dict(self, summary: bool = False) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {k: d[k] for k in SUMMARY_FIELDS} if summary else d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Run:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})
