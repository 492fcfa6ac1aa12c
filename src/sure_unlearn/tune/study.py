"""``sure tune``: the same Bayesian search, budget and objective for every method.

For each method (and each scenario, or all scenarios jointly) one Optuna study:

1. The forget set is drawn with the **tuning seed** (default 100, outside every preset's seeds). Its
   original and oracle are trained once and cached; every trial unlearns a copy of that original.
2. A trial samples the method's declared space (:mod:`~sure_unlearn.space`), unlearns, evaluates every
   metric and returns the objective (:mod:`~sure_unlearn.tune.objective`: the distance to the oracle).
3. **Budget** = ``trials`` *completed* trials per method: every method is judged on as many evaluated
   configurations. A failed trial (a library error, a diverged run, an objective that is not finite) is
   recorded as FAIL with its error and does not count; the search goes on, up to ``max_failures``.
   TPE learns nothing from a failed trial, so spaces are declared inside each config's valid range; a
   region where runs diverge costs failed trials (each logged), never budget.
4. **Resume**: studies are created with ``load_if_exists``; re-running the same command runs only the
   trials still missing. A trial interrupted by Ctrl-C is recorded as FAIL and run again. A study opens
   only for the setup it was made for (:mod:`~sure_unlearn.tune.setup`).
5. **Workers** sharing a storage (:mod:`~sure_unlearn.tune.storage`) together complete exactly the budget:
   a worker starts a trial only while ``complete + running < budget``, and a trial that finds the budget
   already taken by trials numbered before it (two workers asking at once) ends at once as FAIL with
   ``surplus`` set, before any sampling. A worker whose peers hold the last trials waits for them.
6. **The incumbent**: after its budget, every study evaluates the values the config ran before the search
   (its tuned values, else the method's defaults) once, outside the budget, when they lie inside the
   ranges (a budget of 0 runs nothing: it only warms the cache). The optimum is the best of both, so a
   search never ships values that scored worse on the tuning split than what it replaces. The incumbent
   comes last, so the sampled trials of every study are drawn the same way.

The tuned values are judged elsewhere: :func:`evaluate_tuned` runs the ordinary benchmark on other seeds.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from sure_unlearn.errors import ConfigError, SureError
from sure_unlearn.files import atomic_write_text
from sure_unlearn.methods import METHODS, make_config
from sure_unlearn.progress import bar
from sure_unlearn.protocol.config import BenchmarkConfig
from sure_unlearn.space import Param, contains, describe, suggest, with_epochs
from sure_unlearn.tune import objective as obj
from sure_unlearn.tune import results
from sure_unlearn.tune.options import TuneOptions
from sure_unlearn.tune.results import INCUMBENT, describe_values, is_incumbent
from sure_unlearn.tune.setup import archive_if_changed, open_study, setup_of, study_lock, warm_start
from sure_unlearn.tune.storage import make_storage, redact, release_stale, worker_id

# What a trial may raise and still leave the study running: our own errors (ConfigError for a sampled
# config that cannot work), numerical trouble (NaN inputs to an attack, overflow) and torch's RuntimeErrors
# (e.g. out of memory). Everything else is a bug and stops the study.
CATCH: tuple[type[BaseException], ...] = (SureError, ValueError, ArithmeticError, RuntimeError)

Log = Callable[[str], None]
BenchFactory = Callable[[BenchmarkConfig, Path], Any]  # (config, results dir) -> Benchmark


class TrialFailure(SureError):
    """A trial that cannot give a value (objective not finite) or finds the budget already taken."""


def require_optuna() -> None:
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise ConfigError("hyperparameter search needs Optuna: pip install 'sure-unlearn[tune]'") from None


def groups(cfg: BenchmarkConfig, opts: TuneOptions) -> list[tuple[str, ...]]:
    """The scenario sets that get their own studies: each scenario, or all of them together."""
    names = tuple(cfg.scenarios)
    return [(s,) for s in names] if opts.per_scenario else [names]


def group_key(scenarios: Sequence[str]) -> str:
    return "+".join(scenarios)


def study_name(cfg: BenchmarkConfig, opts: TuneOptions, key: str, method: str) -> str:
    """``<prefix>:<scenarios>:<method>`` (``:multi`` appended for the two-objective search)."""
    name = f"{opts.study or cfg.name}:{key}:{method}"
    return name + (":multi" if opts.objective == "multi" else "")


def forget_only(method: str) -> bool:
    """Whether ``method`` learns from the forget set alone (GA, BoundaryShrink, BoundaryExpanding)."""
    return METHODS.get(method).may_read <= {"forget"}


def space_for(
    cfg: BenchmarkConfig, method: str, opts: TuneOptions, retain_per_forget: float = 1.0
) -> dict[str, Param]:
    """The method's declared space, plus with ``search_epochs`` its ``epochs`` searched up to one shared cap:
    the config's budget of passes over the retain set (not for a method outside the epoch budget, EU-k,
    whose epochs are the original's). A method that sees only the forget set gets as many
    sample-gradients: up to budget × |D_r| / |D_f| passes over D_f (``retain_per_forget``), on a log scale,
    in line with its papers' 5–10 epochs over a forget set far larger than a benchmark's 100 samples."""
    space = dict(METHODS.get(method).space)
    if not space:
        raise ConfigError(
            f"method {method!r} declares no search space (retrain is the oracle); drop it from --methods"
        )
    if opts.search_epochs and METHODS.get(method).epoch_budget:
        base = make_config(method, cfg.hparams.get(method))
        if hasattr(base, "epochs") and base.epochs > 0:
            cap = int(base.epochs)
            if forget_only(method):
                cap = max(cap, int(cap * retain_per_forget))
            space = with_epochs(space, cap, log=forget_only(method))
    return space


def make_objective(
    bench: Any,
    refs: dict[str, Any],
    method: str,
    space: dict[str, Param],
    base: dict[str, Any],
    opts: TuneOptions,
) -> Callable[[Any], float | tuple[float, ...]]:
    """The function Optuna calls: claim a slot of the budget, sample, unlearn, evaluate, score."""

    def objective(trial: Any) -> float | tuple[float, ...]:
        claim(trial, opts.trials)
        try:
            params = suggest(trial, space)
            mcfg = make_config(method, {**base, **params})
            runs = [bench.evaluate_run(refs[s], method, mcfg) for s in refs]
            for r in runs:
                trial.set_user_attr(r.scenario, {"gaps": _floats(r.gaps), "metrics": _floats(r.metrics)})
            vals = obj.values(runs, opts.objective)
            if not obj.finite(vals):
                raise TrialFailure(f"the objective is {vals}, not finite (did the run diverge?)")
        except CATCH as e:
            trial.set_user_attr("error", f"{type(e).__name__}: {e}")
            raise
        return vals[0] if len(vals) == 1 else vals

    return objective


def claim(trial: Any, budget: int) -> None:
    """Record this worker on the trial; fail it at once if the budget is already taken.

    Taken = every COMPLETE trial plus the RUNNING ones numbered before this one, the incumbent's aside (it
    runs outside the budget). Trial numbers are handed out by the storage, so two workers that asked at the
    same moment agree on which of them is surplus.
    """
    from optuna.trial import TrialState

    trial.set_user_attr("worker", worker_id())
    if is_incumbent(trial):
        return
    trials = sampled(trial.study)
    taken = sum(
        t.state == TrialState.COMPLETE or (t.state == TrialState.RUNNING and t.number < trial.number)
        for t in trials
    )
    if taken >= budget:
        trial.set_user_attr("surplus", True)
        raise TrialFailure(f"the budget of {budget} trials is already taken by other workers")


def sampled(study: Any) -> list[Any]:
    """The study's trials that count towards the budget (every trial but the incumbent's)."""
    return [t for t in study.get_trials(deepcopy=False) if not is_incumbent(t)]


def counts(study: Any) -> tuple[int, int, int]:
    """(complete, running, failed) sampled trials — failed counts only trials whose objective raised an
    error; the incumbent's trial is not counted (see :func:`incumbent_state`)."""
    from optuna.trial import TrialState

    trials = sampled(study)
    done = sum(t.state == TrialState.COMPLETE for t in trials)
    running = sum(t.state == TrialState.RUNNING for t in trials)
    failed = sum(t.state == TrialState.FAIL and "error" in t.user_attrs for t in trials)
    return done, running, failed


def run_budget(
    study: Any,
    objective: Callable[[Any], Any],
    opts: TuneOptions,
    *,
    callbacks: Iterable[Any] = (),
    log: Log,
    progress: bool = False,
    desc: str = "",
) -> bool:
    """Run trials until ``opts.trials`` are complete (False if ``max_failures`` trials failed first)."""
    shown, waiting = 0, False
    with bar(total=opts.trials, desc=desc, enabled=progress) as b:
        while True:
            for n in release_stale(study):
                log(f"  trial {n}: its worker is gone; recorded as FAIL")
            done, running, failed = counts(study)
            b.update(max(min(done, opts.trials) - shown, 0))
            shown = max(shown, min(done, opts.trials))
            if done >= opts.trials:
                return True
            if failed >= opts.failures_allowed:
                log(
                    f"  {study.study_name}: {failed} trials failed (see trials.csv, column error); giving up "
                    f"with {done} of {opts.trials} complete"
                )
                return False
            if done + running >= opts.trials:
                if not waiting:
                    log(f"  {study.study_name}: waiting for {running} trial(s) running in other workers")
                    waiting = True
                time.sleep(opts.poll_s)
                continue
            study.optimize(objective, n_trials=1, catch=CATCH, callbacks=list(callbacks))


def incumbent(
    cfg: BenchmarkConfig, method: str, space: dict[str, Param], scenarios: Sequence[str]
) -> dict[str, Any] | None:
    """The values ``cfg`` runs today for the parameters of ``space`` (its tuned values, else the method's
    defaults), or None when one lies outside its range (the incumbent is then not evaluated). A study of
    one scenario compares with that scenario's own values (``scenario_hparams``), a joint one with the
    shared values."""
    today = cfg.hparams_for(scenarios[0], method) if len(scenarios) == 1 else cfg.hparams.get(method)
    values = dataclasses.asdict(make_config(method, today))
    if not all(k in values and contains(p, values[k]) for k, p in space.items()):
        return None
    return {k: values[k] for k in space}


def incumbent_state(study: Any) -> str:
    """``done``, ``pending`` (waiting or running), ``failed`` (its run raised an error: not retried, the
    optimum is the search's) or ``missing`` (never enqueued, or cut by an interruption)."""
    from optuna.trial import TrialState

    mine = [t for t in study.get_trials(deepcopy=False) if is_incumbent(t)]
    if any(t.state == TrialState.COMPLETE for t in mine):
        return "done"
    if any(t.state in (TrialState.WAITING, TrialState.RUNNING) for t in mine):
        return "pending"
    return (
        "failed" if any(t.state == TrialState.FAIL and "error" in t.user_attrs for t in mine) else "missing"
    )


def run_incumbent(
    study: Any,
    objective: Callable[[Any], Any],
    values: dict[str, Any],
    opts: TuneOptions,
    *,
    callbacks: Iterable[Any] = (),
    log: Log,
) -> None:
    """Evaluate ``values`` as one trial of ``study`` outside its budget, unless it already was (or a peer
    runs it now). Workers sharing a journal enqueue it one at a time (:func:`study_lock`)."""
    from optuna.trial import TrialState

    with study_lock(opts.storage):
        if incumbent_state(study) == "missing":
            study.enqueue_trial(values, user_attrs={INCUMBENT: True}, skip_if_exists=False)
            log(f"  {study.study_name}: evaluating the incumbent {describe_values(values)}")
    waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
    if any(is_incumbent(t) for t in waiting):
        study.optimize(objective, n_trials=1, catch=CATCH, callbacks=list(callbacks))


def log_trial(log: Log, names: Sequence[str]) -> Callable[[Any, Any], None]:
    """An Optuna callback writing one line per finished trial."""

    def callback(study: Any, trial: Any) -> None:
        params = describe_values(trial.params)
        if trial.values is not None:
            vals = ", ".join(f"{n} {v:.2f}" for n, v in zip(names, trial.values, strict=True))
            tag = " (the incumbent)" if is_incumbent(trial) else ""
            log(f"  trial {trial.number}{tag}: {vals}  {params}")
        elif not trial.user_attrs.get("surplus"):
            log(f"  trial {trial.number}: FAIL {trial.user_attrs.get('error', '(interrupted)')}  {params}")

    return callback


def tune_method(
    bench: Any,
    refs: dict[str, Any],
    cfg: BenchmarkConfig,
    opts: TuneOptions,
    method: str,
    out: Path,
    *,
    storage: Any = None,
    space: dict[str, Param] | None = None,
    callbacks: Iterable[Any] = (),
    log: Log | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Run (or resume) one method's study over the scenarios of ``refs``; write its files; return best.json."""
    log = log or (lambda msg: None)
    scenarios = list(refs)
    key = group_key(scenarios)
    ratio = min(len(r.prep.split.retain) / max(len(r.prep.split.forget), 1) for r in refs.values())
    space = space if space is not None else space_for(cfg, method, opts, ratio)
    name = study_name(cfg, opts, key, method)
    setup = setup_of(cfg, opts, scenarios, method, space, references={s: r.weights for s, r in refs.items()})
    d = out / key / method
    restart = opts.restart_changed and storage is not None
    moved: str | None = None
    # the first worker to arrive moves the old study; the others find the new setup
    with study_lock(opts.storage) if restart else contextlib.nullcontext():
        if restart and (moved := archive_if_changed(storage, name, setup)):
            suffix = moved.rpartition("~")[2]
            for f in ("trials.csv", "best.json", "pareto.csv"):
                if (d / f).exists():
                    (d / f).replace(d / f.replace(".", f"~{suffix}.", 1))
            log(
                f"[tune {method} on {key}] its setup changed: the old trials are now study {moved!r} "
                f"(files *~{suffix}.*)"
            )
        study = open_study(storage, name, opts, setup)
        if moved and (start := warm_start(storage, moved, space)):
            study.enqueue_trial(start, user_attrs={"warm_start": moved})
            log(f"[tune {method} on {key}] its first trial is {moved!r}'s optimum, inside the new ranges")
    names = obj.NAMES[opts.objective]
    write = results.trial_writer(d, scenarios, opts.objective)
    log(f"[tune {method} on {key}] study {name!r}: {describe(space)}")
    objective = make_objective(bench, refs, method, space, cfg.hparams.get(method, {}), opts)
    hooks = [log_trial(log, names), write, *callbacks]
    ok = run_budget(
        study, objective, opts, callbacks=hooks, log=log, progress=progress, desc=f"tune {method}"
    )
    # 0: warm the cache
    if ok and opts.trials > 0 and (values := incumbent(cfg, method, space, scenarios)) is not None:
        run_incumbent(study, objective, values, opts, callbacks=hooks, log=log)
    write(study, None)
    record = results.best_record(
        study, scenarios, opts.objective, base=cfg.hparams.get(method, {}), space=space
    )
    record.update(
        method=method,
        scenarios=scenarios,
        study=name,
        storage=redact(opts.storage),
        tuning_seed=opts.tuning_seed,
        budget=opts.trials,
        space=describe(space),
        complete=ok,
        objective_formula=obj.FORMULA[opts.objective],
    )
    results.write_json(d / "best.json", record)
    if opts.objective == "multi":
        results.write_pareto(d, record)
    return record


def tune(
    factory: BenchFactory,
    cfg: BenchmarkConfig,
    opts: TuneOptions,
    out: Path,
    *,
    callbacks: Iterable[Any] = (),
    log: Log | None = None,
    progress: bool = False,
) -> dict[str, dict[str, dict[str, Any]]]:
    """Search every method of ``cfg`` on every scenario group; returns {group: {method: best record}}.

    Files: ``out/tune/<group>/<method>/{trials.csv, best.json[, pareto.csv]}``, the tuning split under
    ``out/tune/<scenario>/seed<k>/``, and ``out/tuned_hparams.json`` (``out/tune/<group>/tuned_hparams.json``
    per group when there are several): ``{"hparams": …}``, a config file ``sure benchmark --config`` reads.
    """
    require_optuna()
    log = log or (lambda msg: None)
    storage = make_storage(opts.storage)
    for m in cfg.methods:
        space_for(cfg, m, opts)  # a method without a space fails before any training
    bench = factory(cfg.with_overrides(seeds=(opts.tuning_seed,)), out / "tune")
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for scenarios in groups(cfg, opts):
        refs = {s: bench.references(s, opts.tuning_seed) for s in scenarios}
        for r in refs.values():
            bench.reference_metrics(r)  # the oracle's metrics, once, before the trials
        found[group_key(scenarios)] = {
            m: tune_method(
                bench,
                refs,
                cfg,
                opts,
                m,
                out / "tune",
                storage=storage,
                callbacks=callbacks,
                log=log,
                progress=progress,
            )
            for m in cfg.methods
        }
    every = merged_with_earlier(out / "tune" / "best.json", found)
    results.write_json(out / "tune" / "best.json", every)
    atomic_write_text(out / "tune" / "best.md", results.best_table(every))
    if opts.per_scenario:  # one config file with a scenario level: each scenario runs its own values
        per = {key: params_of(records) for key, records in every.items() if "+" not in key}
        results.write_json(out / "tuned_hparams.json", {"scenario_hparams": per})
    else:
        for key, records in every.items():
            where = out if len(every) == 1 else out / "tune" / key
            results.write_json(
                where / "tuned_hparams.json", {"hparams": tuned_hparams(cfg, params_of(records))}
            )
    return found


def merged_with_earlier(
    path: Path, found: dict[str, dict[str, dict[str, Any]]]
) -> dict[str, dict[str, dict[str, Any]]]:
    """``found`` on top of the summary an earlier call wrote to ``path``: a call for some methods (``sure
    sensitivity`` reads SURE's optimum; ``sure tune --methods a`` then ``--methods b``) keeps the other
    methods' results instead of overwriting the study's summary with its subset."""
    try:
        earlier = json.loads(path.read_text()) if path.is_file() else {}
    except ValueError:
        earlier = {}  # a damaged summary is rebuilt from this call's studies
    every = {key: dict(records) for key, records in earlier.items() if isinstance(records, dict)}
    for key, records in found.items():
        every[key] = {**records, **{m: r for m, r in every.get(key, {}).items() if m not in records}}
    return every


def optima(
    factory: BenchFactory,
    cfg: BenchmarkConfig,
    opts: TuneOptions,
    out: Path,
    *,
    search: bool = True,
    log: Log | None = None,
    progress: bool = False,
) -> dict[str, dict[str, dict[str, Any]]]:
    """{group: {method: tuned values}}: from the study (run or resumed to its budget: a finished study
    costs nothing), or with ``search=False`` empty, i.e. the config's own hyperparameters."""
    if not search:
        return {group_key(g): {m: {} for m in cfg.methods} for g in groups(cfg, opts)}
    found = tune(factory, cfg, opts, out, log=log, progress=progress)
    return {k: params_of(recs) for k, recs in found.items()}


def tuned_hparams(cfg: BenchmarkConfig, tuned: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The config's per-method hyperparameters with each method's tuned values (``{method: params}``) on top."""
    out = {m: dict(kv) for m, kv in cfg.hparams.items()}
    for m, params in tuned.items():
        if params:
            out[m] = {**out.get(m, {}), **params}
    return out


def params_of(records: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """{method: best params} from {method: best record}."""
    return {m: dict(rec.get("params") or {}) for m, rec in records.items()}


def evaluate_tuned(
    factory: BenchFactory,
    cfg: BenchmarkConfig,
    found: dict[str, dict[str, dict[str, Any]]],
    out: Path,
    seeds: Sequence[int],
    tuning_seed: int,
) -> list[Path]:
    """The ordinary benchmark with the tuned hyperparameters on ``seeds`` (never the tuning seed).

    Writes a results directory per scenario group (``out/eval``, or ``out/eval/<group>`` when there are
    several) that ``sure report`` reads. Returns the directories.
    """
    check_eval_seeds(seeds, tuning_seed)
    dirs = []
    for key, records in found.items():
        methods = tuple(m for m, rec in records.items() if rec.get("params"))
        if not methods:
            continue
        scenarios = key.split("+")
        ecfg = cfg.with_overrides(
            hparams=tuned_hparams(cfg, params_of(records)),
            seeds=tuple(seeds),
            methods=methods,
            scenarios={s: cfg.scenarios[s] for s in scenarios},
        )
        d = out / "eval" if len(found) == 1 else out / "eval" / key
        factory(ecfg, d).run()
        dirs.append(d)
    return dirs


def check_eval_seeds(seeds: Sequence[int], tuning_seed: int) -> None:
    if tuning_seed in seeds:
        raise ConfigError(
            f"seeds {list(seeds)} include the tuning seed {tuning_seed}: results must come from forget sets "
            "the search did not see; pick other --seeds/--eval-seeds or another --tuning-seed"
        )


def _floats(d: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in d.items() if isinstance(v, int | float)}
