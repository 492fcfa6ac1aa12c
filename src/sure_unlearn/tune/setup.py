"""A study's identity and life in its storage: what its trials depend on (its *setup*), opening it only
for the same setup, archiving it as ``NAME~k`` when the setup changed, and warm-starting the new search
from the archived optimum.

A study records its setup (method, scenarios, tuning seed, objective, fixed hyperparameters, search space,
the data/model/recipe identity and the weights of the models its trials were measured against). Re-running
``sure tune`` resumes it only when the setup is the same; ``--restart-changed`` archives it instead, so a
widened range restarts the search with its full budget while the old trials stay readable.

>>> setup_diff({"space": {"lr": [0.1, 1]}}, {"space": {"lr": [0.01, 1]}})
['space']
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sure_unlearn.errors import ConfigError
from sure_unlearn.files import content_key, file_lock
from sure_unlearn.methods import make_config
from sure_unlearn.protocol.config import BenchmarkConfig
from sure_unlearn.space import Param, contains, describe
from sure_unlearn.tune import objective as obj
from sure_unlearn.tune.options import TuneOptions
from sure_unlearn.tune.storage import journal_path, redact

# Setup keys a study made before they existed lacks: never compared there (nothing was recorded, so nothing
# is known), and not computed by ``sure tune --status``, which loads no model.
UNRECORDED_BEFORE = ("references",)


def setup_of(
    cfg: BenchmarkConfig,
    opts: TuneOptions,
    scenarios: Sequence[str],
    method: str,
    space: dict[str, Param],
    references: dict[str, dict[str, str]] | None = None,
) -> dict[str, Any]:
    """What a study's trials depend on; a resumed study must match it (the budget may grow).

    ``references`` ({scenario: {"original": digest, "oracle": digest}}, from the tuning split's
    :attr:`~sure_unlearn.protocol.benchmark.References.weights`) names the models every trial was measured
    against: their cache key stays the same when changed training code or another machine retrains them
    with other weights, and trials measured against two originals do not belong in one search.
    """
    setup: dict[str, Any] = {
        "method": method,
        "scenarios": {s: dataclasses.asdict(cfg.scenarios[s]) for s in scenarios},
        "tuning_seed": opts.tuning_seed,
        "objective": opts.objective,
        # every fixed hyperparameter, defaults included: a changed default makes old trials incomparable
        "fixed_hparams": {
            k: v
            for k, v in dataclasses.asdict(make_config(method, cfg.hparams.get(method))).items()
            if k not in space
        },
        "space": describe(space),
        # what the tuning split's models are made of (the model cache's identity) and how the data is cut
        "data_model_recipe": content_key(
            **cfg.identity(),
            train_subset=cfg.train_subset,
            test_subset=cfg.test_subset,
            holdout_fraction=cfg.holdout_fraction,
        ),
    }
    if references is not None:
        setup["references"] = references
    return json.loads(json.dumps(setup, default=str))  # the form it takes in storage


def setup_diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The keys in which two study setups differ, sorted (empty: the same setup). A key of
    :data:`UNRECORDED_BEFORE` that either side lacks is not compared.

    >>> setup_diff({"space": 1}, {"space": 1, "references": {"s": "ab"}})
    []
    >>> setup_diff({"space": 1, "references": {"s": "ab"}}, {"space": 2, "references": {"s": "cd"}})
    ['references', 'space']
    """
    keys = {k for k in set(old) | set(new) if k not in UNRECORDED_BEFORE or (k in old and k in new)}
    return sorted(k for k in keys if old.get(k) != new.get(k))


def open_study(storage: Any, name: str, opts: TuneOptions, setup: dict[str, Any]) -> Any:
    """Create the study, or load it and check that it was made for the same setup."""
    import optuna

    from sure_unlearn.tune.sampler import TrialSeededTPE

    directions = [optuna.study.StudyDirection.MINIMIZE] * len(obj.NAMES[opts.objective])
    study = optuna.create_study(
        storage=storage,
        study_name=name,
        directions=directions,
        load_if_exists=True,
        sampler=TrialSeededTPE(opts.seed, opts.n_startup),
    )
    old = study.user_attrs.get("setup")
    if old is None:
        study.set_user_attr("setup", setup)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(list(obj.NAMES[opts.objective]))
    elif diff := setup_diff(old, setup):
        why = (
            " (its original or oracle now has other weights than its trials were measured against: "
            "retrained by changed training code or on another kind of machine)"
            if "references" in diff
            else ""
        )
        raise ConfigError(
            f"study {name!r} in {redact(opts.storage)} was made for another setup (differs in {diff}){why}; "
            "pass another --study name or --storage, restore the original settings, or --restart-changed "
            f"to keep its trials as {name}~1 and search afresh"
        )
    return study


@contextmanager
def study_lock(url: str | None) -> Iterator[None]:
    """For a journal file: a lock beside it, so that workers of one machine restart a study, or enqueue its
    incumbent, one at a time. Other storages get none: restart from one worker there."""
    journal = journal_path(url)
    if journal is None:
        yield
    else:
        with file_lock(journal.with_name(journal.name + ".restart.lock")):
            yield


def warm_start(storage: Any, archived: str, space: dict[str, Param]) -> dict[str, Any] | None:
    """The best complete trial's values of study ``archived`` when every one lies inside ``space`` (and
    ``space`` searches nothing else), else None.

    A restarted study (a widened range) enqueues them as its first trial: the old optimum is then one of
    the new search's points, so widening a range cannot end the search worse than it was, which 24 TPE
    trials spread over a wider range otherwise can. The trial counts towards the budget like any other.
    """
    import optuna
    from optuna.trial import TrialState

    study = optuna.load_study(study_name=archived, storage=storage)
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not done or len(study.directions) != 1:
        return None
    best = min(done, key=lambda t: (t.value, t.number))
    if set(best.params) != set(space) or not all(contains(space[k], v) for k, v in best.params.items()):
        return None
    return dict(best.params)


def archive_if_changed(storage: Any, name: str, setup: dict[str, Any]) -> str | None:
    """Move study ``name`` to ``name~k`` (the first free k) if it was made for another ``setup``; return
    the new name, or None when there was nothing to move.

    A widened range makes old trials incomparable with the new search's budget (they never saw the new
    region), so the study restarts with its full budget, and the old trials stay readable in the same
    storage. Workers sharing a journal file serialise it (:func:`study_lock`); with a database storage run
    it from one worker.
    """
    import optuna

    try:
        old = storage.get_study_user_attrs(storage.get_study_id_from_name(name)).get("setup")
    except KeyError:
        return None
    if old is None or not setup_diff(old, setup):
        return None
    taken = {s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)}
    k = next(k for k in range(1, len(taken) + 2) if f"{name}~{k}" not in taken)
    optuna.copy_study(
        from_study_name=name, from_storage=storage, to_storage=storage, to_study_name=f"{name}~{k}"
    )
    optuna.delete_study(study_name=name, storage=storage)
    return f"{name}~{k}"
