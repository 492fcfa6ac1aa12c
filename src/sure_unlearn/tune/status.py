"""``sure tune --status``: where a long search stands, read from its storage alone (no data, no training).

For every study the command would run (each scenario group × method of the config): its complete, running
and failed trials against the budget, and the best trial so far with the same range-end and flat-study
flags as ``best.json``. A search spread over days, workers or machines is resumed from this table.
"""

from __future__ import annotations

import statistics
from typing import Any

from sure_unlearn.errors import ConfigError
from sure_unlearn.protocol.config import BenchmarkConfig
from sure_unlearn.space import Choice, Float, Int, Param
from sure_unlearn.tune import results
from sure_unlearn.tune.options import TuneOptions
from sure_unlearn.tune.setup import setup_diff, setup_of
from sure_unlearn.tune.storage import journal_path, make_storage, orphans, redact
from sure_unlearn.tune.study import (
    counts,
    forget_only,
    group_key,
    groups,
    incumbent,
    incumbent_state,
    require_optuna,
    space_for,
    study_name,
)


def param_of(dist: Any) -> Param:
    """The :mod:`~sure_unlearn.space` form of an Optuna distribution (what a trial was sampled from)."""
    import optuna.distributions as od

    if isinstance(dist, od.FloatDistribution):
        return Float(dist.low, dist.high, log=dist.log)
    if isinstance(dist, od.IntDistribution):
        return Int(dist.low, dist.high, log=dist.log)
    return Choice(tuple(dist.choices))


def status(cfg: BenchmarkConfig, opts: TuneOptions) -> tuple[dict[str, dict[str, dict[str, Any]]], list[str]]:
    """({group: {method: best record + ``running``, ``stale`` and ``incumbent_state``}}, the studies still
    short of ``opts.trials`` or of their incumbent's trial).

    A study not started yet has a record with no trials. The ranges are the ones its trials were sampled
    from, so the flags match what the search itself writes. A study made for another setup than today's
    (a widened range, a changed default) is *stale*: ``stale`` names what differs, and it counts as short,
    since the search restarts it (``--restart-changed``) or refuses to resume it. ``models_unrecorded``
    marks a study made before studies recorded the weights of the original and oracle they measure
    against: a resumed search cannot tell whether those models were retrained since.
    """
    require_optuna()
    import optuna

    url = opts.storage or "memory"
    journal = journal_path(url)
    if url == "memory" or (journal is not None and not journal.is_file()):
        raise ConfigError(
            f"--storage {url}: no study there to report on; name the storage the search writes to"
        )
    storage = make_storage(url)
    names = {s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)}
    found: dict[str, dict[str, dict[str, Any]]] = {}
    short: list[str] = []
    for scenarios in groups(cfg, opts):
        key = group_key(scenarios)
        found[key] = {}
        for m in cfg.methods:
            name = study_name(cfg, opts, key, m)
            study = optuna.load_study(study_name=name, storage=storage) if name in names else None
            space = today_space(study, cfg, opts, m)
            expected = opts.trials > 0 and incumbent(cfg, m, space, scenarios) is not None
            if study is None:
                record: dict[str, Any] = {
                    "objective": opts.objective,
                    "n_complete": 0,
                    "n_fail": 0,
                    "params": {},
                    "trial": None,
                    "incumbent_state": "missing" if expected else "none",
                }
                running, seconds = 0, None
            else:
                record = results.best_record(study, scenarios, opts.objective, base={}, space=space_of(study))
                record["stale"] = stale(study, cfg, opts, scenarios, m, space)
                record["models_unrecorded"] = "references" not in study.user_attrs.get("setup", {})
                record["incumbent_state"] = incumbent_state(study) if expected else "none"
                running = counts(study)[1] - len(orphans(study))  # a dead worker's trial runs no more
                seconds = median_trial_s(study)
            found[key][m] = {
                **record,
                "running": running,
                "median_trial_s": seconds,
                "study": name,
                "storage": redact(opts.storage),
            }
            if record.get("stale"):
                short.append(f"{key}:{m} stale (differs in {', '.join(record['stale'])})")
            elif record["n_complete"] < opts.trials:
                short.append(f"{key}:{m} {record['n_complete']}/{opts.trials}")
            elif record["incumbent_state"] in ("missing", "pending"):
                short.append(f"{key}:{m} incumbent not evaluated yet")
    return found, short


def today_space(study: Any | None, cfg: BenchmarkConfig, opts: TuneOptions, method: str) -> dict[str, Param]:
    """The space today's search gives ``method``, as far as the storage alone can tell.

    A forget-only method's epoch cap scales with the split's |D_r| / |D_f|, which is read from data this
    command does not load, so its ``epochs`` range is taken as ``study``'s own (when there is one).
    """
    space = space_for(cfg, method, opts)
    if study is not None and forget_only(method) and "epochs" in space:
        space["epochs"] = space_of(study).get("epochs", space["epochs"])
    return space


def stale(
    study: Any,
    cfg: BenchmarkConfig,
    opts: TuneOptions,
    scenarios: tuple[str, ...],
    method: str,
    space: dict[str, Param],
) -> list[str]:
    """What differs between the setup ``study`` was made for and today's, searching ``space``
    (:func:`today_space`) (empty: the same, or unrecorded)."""
    old = study.user_attrs.get("setup")
    if old is None:
        return []
    return setup_diff(old, setup_of(cfg, opts, scenarios, method, space))


def space_of(study: Any) -> dict[str, Param]:
    """The ranges a study's trials were sampled from (one setup per study, so any trial's will do)."""
    dists: dict[str, Any] = {}
    for t in study.get_trials(deepcopy=False):
        dists.update(t.distributions)
    return {k: param_of(d) for k, d in dists.items()}


def median_trial_s(study: Any) -> float | None:
    """The median wall time of a study's complete trials (None before the first)."""
    from optuna.trial import TrialState

    times = [
        t.duration.total_seconds()
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if t.duration is not None
    ]
    return float(statistics.median(times)) if times else None


def remaining_s(found: dict[str, dict[str, dict[str, Any]]], budget: int) -> tuple[int, float]:
    """(trials still to run, their estimated seconds on one worker): each study's missing trials (a stale
    study's whole budget) and its incumbent's, at its median trial time, or, before its first trial, at the
    median over the method's other studies, else over every study."""
    by_method: dict[str, list[float]] = {}
    for records in found.values():
        for m, r in records.items():
            if r.get("median_trial_s") is not None:
                by_method.setdefault(m, []).append(r["median_trial_s"])
    every = [s for v in by_method.values() for s in v]
    overall = statistics.median(every) if every else 0.0
    trials, seconds = 0, 0.0
    for records in found.values():
        for m, r in records.items():
            left = budget if r.get("stale") else max(budget - r["n_complete"], 0)
            left += r.get("incumbent_state") in ("missing", "pending")
            per = r.get("median_trial_s")
            if per is None:
                per = statistics.median(by_method[m]) if m in by_method else overall
            trials, seconds = trials + left, seconds + left * per
    return trials, seconds


def summary_line(found: dict[str, dict[str, dict[str, Any]]], short: list[str], budget: int) -> str:
    """``all N studies complete (T trials each)`` or ``K of N studies short of T trials (≈ …): …``."""
    n = sum(len(records) for records in found.values())
    if not short:
        return f"all {n} {'study' if n == 1 else 'studies'} complete ({budget} trials each)"
    trials, seconds = remaining_s(found, budget)
    estimate = f"{trials} trials, ≈ {seconds / 3600:.1f} worker-hours at the median trial times so far"
    return f"{len(short)} of {n} studies short of {budget} trials ({estimate}): " + ", ".join(short)
