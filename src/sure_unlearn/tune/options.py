"""How ``sure tune`` searches (:class:`TuneOptions`): the same for every method.

>>> TuneOptions(trials=24).n_startup, TuneOptions(trials=24).failures_allowed
(6, 24)
"""

from __future__ import annotations

from dataclasses import dataclass

from sure_unlearn.errors import ConfigError
from sure_unlearn.tune import objective as obj


@dataclass(frozen=True)
class TuneOptions:
    """How to search; every method gets the same."""

    trials: int = 20  # completed trials per method (and per scenario group)
    objective: str = "gap"  # "gap": distance to the oracle; "multi": (forgetting, utility), Pareto front
    tuning_seed: int = 100  # the forget set the search sees; results are reported on other seeds
    seed: int = 0  # the sampler's seed
    storage: str | None = None  # see storage.py; None: in memory
    study: str | None = None  # study-name prefix (default: the config's name)
    per_scenario: bool = False  # one study per scenario instead of one over all scenarios jointly
    search_epochs: bool = False  # also search epochs in {1..the config's epochs} (default: fixed budget)
    max_failures: int | None = None  # failed trials before a method's search gives up (default: trials)
    startup_trials: int | None = None  # random trials before TPE (default: min(10, max(2, trials // 4)))
    poll_s: float = 2.0  # how often a worker waiting for its peers' last trials looks again
    restart_changed: bool = False  # a study made for another setup is archived as NAME~k and started afresh

    def __post_init__(self) -> None:
        if self.trials < 0:
            raise ConfigError(f"--trials must be ≥ 0, got {self.trials}")
        if self.objective not in obj.MODES:
            raise ConfigError(f"--objective must be one of {obj.MODES}, got {self.objective!r}")

    @property
    def n_startup(self) -> int:
        return self.startup_trials if self.startup_trials is not None else min(10, max(2, self.trials // 4))

    @property
    def failures_allowed(self) -> int:
        return self.max_failures if self.max_failures is not None else max(self.trials, 1)
