"""TPE whose randomness is seeded per trial number, so that parallel workers never draw the same point.

One ``TPESampler(seed=s)`` per worker would give two workers started together the same random start-up
trials — the same hyperparameters evaluated twice. Here trial ``k`` always draws from the stream seeded
by ``(seed, k)``: a one-process study is reproducible from ``--seed``, and trial numbers are unique across
workers (the storage hands them out), so their draws differ.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, TPESampler
from optuna.trial import FrozenTrial, TrialState


class TrialSeededTPE(BaseSampler):
    """Multivariate TPE (lr and α interact) with ``constant_liar`` (workers avoid each other's running
    points) and ``n_startup`` random trials first, seeded per trial from ``(seed, trial.number)``."""

    def __init__(self, seed: int = 0, n_startup: int = 10) -> None:
        self.seed, self.n_startup = seed, n_startup
        self._inner: dict[int, TPESampler] = {}

    def _for(self, trial: FrozenTrial) -> TPESampler:
        if trial.number not in self._inner:
            seed = int(np.random.SeedSequence([self.seed, trial.number]).generate_state(1)[0])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                self._inner[trial.number] = TPESampler(
                    seed=seed, n_startup_trials=self.n_startup, multivariate=True, constant_liar=True
                )
        return self._inner[trial.number]

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return self._for(trial).infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return self._for(trial).sample_relative(study, trial, search_space)

    def sample_independent(
        self, study: optuna.Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        return self._for(trial).sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._for(trial).before_trial(study, trial)

    def after_trial(
        self, study: optuna.Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None
    ) -> None:
        self._for(trial).after_trial(study, trial, state, values)
        self._inner.pop(trial.number, None)
