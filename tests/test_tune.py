"""``sure tune``, ``sure sensitivity``, ``sure stability`` on the smoke preset (synthetic data, an MLP).

The search improves on a poor first trial; two worker processes sharing a journal-file study complete
exactly the budget; an interrupted study resumes without repeating finished trials; failing trials are
recorded and the search goes on; sensitivity and stability write what they promise, with known values.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from sure_unlearn.cli import main
from sure_unlearn.errors import ConfigError
from sure_unlearn.methods import METHODS, make_config, register_method
from sure_unlearn.protocol.benchmark import Benchmark
from sure_unlearn.protocol.config import BenchmarkConfig
from sure_unlearn.protocol.presets import PRESETS
from sure_unlearn.space import Float
from sure_unlearn.tune import objective as obj
from sure_unlearn.tune.sampler import TrialSeededTPE
from sure_unlearn.tune.sensitivity import factors, run_sensitivity
from sure_unlearn.tune.setup import open_study, setup_of
from sure_unlearn.tune.stability import run_stability
from sure_unlearn.tune.storage import make_storage, release_stale
from sure_unlearn.tune.study import TuneOptions, study_name, tune, tune_method

optuna.logging.set_verbosity(optuna.logging.WARNING)
SRC = Path(__file__).resolve().parents[1] / "src"
TUNING_SEED = 100


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """The smoke config, a cache shared by every test here, and the tuning seed's references."""
    root = tmp_path_factory.mktemp("tune")
    cache = root / "cache"
    cfg = PRESETS.get("smoke")()

    def factory(c, d):
        return Benchmark(c, d, cache_dir=cache)

    bench = factory(cfg.with_overrides(seeds=(TUNING_SEED,)), root / "bench")
    refs = {"partial_class": bench.references("partial_class", TUNING_SEED)}
    return cfg, cache, factory, bench, refs


def opened(cfg, opts, method, storage, space=None):
    """The study ``tune_method`` will run, opened first (to enqueue trials or plant an orphan)."""
    space = dict(space if space is not None else METHODS.get(method).space)
    name = study_name(cfg, opts, "partial_class", method)
    return open_study(storage, name, opts, setup_of(cfg, opts, ["partial_class"], method, space))


def test_search_improves_on_a_poor_first_trial_and_writes_a_config_benchmark_reads(smoke, tmp_path):
    cfg, _, factory, bench, refs = smoke
    cfg = cfg.with_overrides(methods=("random_label",))
    opts = TuneOptions(trials=8, storage=f"journal:{tmp_path / 'j.log'}")
    storage = make_storage(opts.storage)
    name = study_name(cfg, opts, "partial_class", "random_label")
    study = opened(cfg, opts, "random_label", storage)
    # a poor start: a large step with almost no retain term over-forgets (forget acc 0 where the oracle has 100)
    study.enqueue_trial({"lr": 0.1, "retain_weight": 0.1})
    found = tune(factory, cfg, opts, tmp_path)
    study = optuna.load_study(study_name=name, storage=storage)
    trials = study.get_trials(states=(TrialState.COMPLETE,))
    # the budget of sampled trials, then the incumbent: the values the preset ran before, outside the budget
    assert len(trials) == 9
    last = max(trials, key=lambda t: t.number)
    assert last.user_attrs.get("incumbent") and last.number == 8
    ran = dataclasses.asdict(make_config("random_label", cfg.hparams.get("random_label")))
    assert last.params == {"lr": ran["lr"], "retain_weight": ran["retain_weight"]}
    first = next(t for t in trials if t.number == 0)
    assert first.params == {"lr": 0.1, "retain_weight": 0.1}
    best = found["partial_class"]["random_label"]
    assert best["values"][0] < 0.5 * first.value  # measured: distance 1.75 → 0.39
    assert best["trial"] != 0 and best["values"][0] == min(t.value for t in trials)
    # the value is the documented objective of the recorded gaps
    assert best["values"][0] == pytest.approx(obj.distance(best["gaps"]["partial_class"]))
    # tuned_hparams.json is a config file: the preset's budget plus the tuned values
    tuned = json.loads((tmp_path / "tuned_hparams.json").read_text())
    merged = BenchmarkConfig.from_dict(tuned, PRESETS.get("smoke")())
    assert merged.hparams["random_label"] == {**cfg.hparams["random_label"], **best["params"]}
    assert merged.hparams["sure"] == cfg.hparams["sure"]  # untuned methods keep the preset's values
    assert best["n_complete"] == 8 and best["incumbent"]["trial"] == 8
    assert best["best_is_incumbent"] == (best["trial"] == 8)
    rows = list(csv.DictReader((tmp_path / "tune" / "partial_class" / "random_label" / "trials.csv").open()))
    assert [int(r["number"]) for r in rows] == list(range(9))
    assert [r["incumbent"] for r in rows] == ["False"] * 8 + ["True"]
    assert float(rows[0]["distance"]) == pytest.approx(first.value)


@pytest.mark.slow
def test_two_workers_sharing_a_journal_complete_exactly_the_budget(smoke, tmp_path):
    cfg, cache, *_ = smoke
    budget, methods = 8, ("finetune", "grad_ascent")
    journal = tmp_path / "journal.log"
    cmd = [
        sys.executable,
        "-m",
        "sure_unlearn.cli",
        "tune",
        "--preset",
        "smoke",
        "--methods",
        ",".join(methods),
        "--trials",
        str(budget),
        "--storage",
        f"journal:{journal}",
        "--out",
        str(tmp_path / "out"),
        "--cache-dir",
        str(cache),
        "--eval-seeds",
        "none",
        "--no-progress",
        "--device",
        "cpu",
    ]
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    workers = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [w.communicate(timeout=300) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], [o[1][-2000:] for o in outs]
    storage = make_storage(f"journal:{journal}")
    contributors = set()
    for m in methods:
        study = optuna.load_study(study_name=f"smoke:partial_class:{m}", storage=storage)
        trials = study.get_trials()
        complete = [t for t in trials if t.state == TrialState.COMPLETE and not t.user_attrs.get("incumbent")]
        assert len(complete) == budget
        # the incumbent, once, after the budget, whichever worker got there first
        assert len([t for t in trials if t.user_attrs.get("incumbent")]) == 1
        assert len({t.number for t in trials}) == len(trials)  # no number twice
        assert len({tuple(sorted(t.params.items())) for t in complete}) == budget  # no point evaluated twice
        # the only failures allowed are surplus trials, ended before sampling when both asked at once
        assert all(t.user_attrs.get("surplus") and not t.params for t in trials if t.state == TrialState.FAIL)
        assert not [t for t in trials if t.state == TrialState.RUNNING]
        contributors |= {t.user_attrs["worker"] for t in complete}
    assert len(contributors) == 2, "both workers should have run trials"


@pytest.mark.parametrize("url", ["journal:{}/j.log", "sqlite:///{}/studies.db"])
def test_an_interrupted_study_resumes_without_repeating_finished_trials(smoke, tmp_path, monkeypatch, url):
    cfg, _, factory, *_ = smoke
    cfg = cfg.with_overrides(methods=("finetune",))
    opts = TuneOptions(trials=6, storage=url.format(tmp_path))
    calls = {"n": 0}
    real = Benchmark.evaluate_run

    def interrupt_fourth(self, refs, method, mcfg):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt  # Ctrl-C in the middle of trial 3
        return real(self, refs, method, mcfg)

    monkeypatch.setattr(Benchmark, "evaluate_run", interrupt_fourth)
    with pytest.raises(KeyboardInterrupt):
        tune(factory, cfg, opts, tmp_path)
    storage = make_storage(opts.storage)
    name = study_name(cfg, opts, "partial_class", "finetune")
    before = optuna.load_study(study_name=name, storage=storage).get_trials()
    assert [t.state for t in before] == [TrialState.COMPLETE] * 3 + [TrialState.FAIL]

    monkeypatch.setattr(Benchmark, "evaluate_run", real)
    tune(factory, cfg, opts, tmp_path)
    after = optuna.load_study(study_name=name, storage=storage).get_trials()
    assert sum(t.state == TrialState.COMPLETE for t in after) == 6 + 1  # the budget, then the incumbent
    assert len(after) == 8  # 3 kept + the interrupted one + 3 new + the incumbent: nothing run twice
    for old, new in zip(before[:3], after[:3], strict=True):
        assert (new.number, new.params, new.value) == (old.number, old.params, old.value)
    assert after[3].state == TrialState.FAIL and "error" not in after[3].user_attrs
    assert after[-1].user_attrs.get("incumbent") and after[-1].state == TrialState.COMPLETE
    # a third run has nothing left to do
    tune(factory, cfg, opts, tmp_path)
    assert len(optuna.load_study(study_name=name, storage=storage).get_trials()) == 8


def test_a_trial_left_running_by_a_killed_worker_is_released(smoke, tmp_path):
    cfg, _, factory, *_ = smoke
    cfg = cfg.with_overrides(methods=("finetune",))
    opts = TuneOptions(trials=3, storage=f"journal:{tmp_path / 'j.log'}")
    storage = make_storage(opts.storage)
    name = study_name(cfg, opts, "partial_class", "finetune")
    study = opened(cfg, opts, "finetune", storage)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # reaped: its pid names no process (SIGKILL leaves a trial RUNNING just like this)
    orphan = study.ask()
    orphan.set_user_attr("worker", f"{socket.gethostname()}:{dead.pid}")
    assert release_stale(study) == [orphan.number]
    tune(factory, cfg, opts, tmp_path)
    trials = optuna.load_study(study_name=name, storage=storage).get_trials()
    assert trials[0].state == TrialState.FAIL
    assert sum(t.state == TrialState.COMPLETE and not t.user_attrs.get("incumbent") for t in trials) == 3


def test_failing_trials_are_recorded_and_the_search_goes_on(smoke, tmp_path):
    cfg, _, _, bench, refs = smoke
    opts = TuneOptions(trials=3, study="x")
    storage = optuna.storages.InMemoryStorage()
    study = opened(cfg, opts, "neggrad_plus", storage)
    # neggrad_plus checks retain_weight ∈ [0, 1]: a first trial outside it is a config that cannot run
    with pytest.warns(UserWarning, match="out of range"):
        study.enqueue_trial({"retain_weight": 1.4})
        record = tune_method(bench, refs, cfg, opts, "neggrad_plus", tmp_path, storage=storage)
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.FAIL] + [TrialState.COMPLETE] * 4  # 3, then the incumbent
    assert "ConfigError" in trials[0].user_attrs["error"] and "retain_weight" in trials[0].user_attrs["error"]
    assert record["n_complete"] == 3 and record["n_fail"] == 1
    rows = list(csv.DictReader((tmp_path / "partial_class" / "neggrad_plus" / "trials.csv").open()))
    assert rows[0]["state"] == "FAIL" and "retain_weight" in rows[0]["error"]

    # a diverged run (SURE at lr 0.1, α 100: NaN representations) fails the trial, not the study
    storage = optuna.storages.InMemoryStorage()
    opts = TuneOptions(trials=2, study="x")
    study = opened(cfg, opts, "sure", storage)
    study.enqueue_trial({"lr": 0.1, "alpha": 100.0, "domain_lr": 0.1})
    record = tune_method(bench, refs, cfg, opts, "sure", tmp_path, storage=storage)
    first = study.get_trials()[0]
    assert first.state == TrialState.FAIL and "DivergenceError" in first.user_attrs["error"]
    assert record["n_complete"] == 2


def test_a_search_gives_up_after_max_failures(smoke, tmp_path):
    cfg, _, _, bench, refs = smoke
    space = {"retain_weight": Float(1.1, 2.0)}  # never valid
    opts = TuneOptions(trials=3, max_failures=2, study="y")
    lines = []
    record = tune_method(
        bench,
        refs,
        cfg,
        opts,
        "neggrad_plus",
        tmp_path,
        storage=optuna.storages.InMemoryStorage(),
        space=space,
        log=lines.append,
    )
    assert record["n_complete"] == 0 and record["n_fail"] == 2 and record["complete"] is False
    assert record["params"] == {} and any("giving up" in m for m in lines)


def test_resuming_with_another_setup_is_refused(smoke, tmp_path):
    cfg, _, factory, *_ = smoke
    cfg = cfg.with_overrides(methods=("finetune",))
    tune(factory, cfg, TuneOptions(trials=1, storage=f"journal:{tmp_path / 'j.log'}"), tmp_path)
    with pytest.raises(ConfigError, match="tuning_seed"):
        tune(
            factory,
            cfg,
            TuneOptions(trials=1, tuning_seed=7, storage=f"journal:{tmp_path / 'j.log'}"),
            tmp_path,
        )


def test_a_changed_space_restarts_the_study_and_keeps_the_old_trials(smoke, tmp_path):
    cfg, _, factory, bench, refs = smoke
    opts = TuneOptions(trials=2, storage=f"journal:{tmp_path / 'j.log'}")
    storage = make_storage(opts.storage)
    narrow, wide = {"lr": Float(1e-3, 1e-2, log=True)}, {"lr": Float(1e-4, 1.0, log=True)}
    tune_method(bench, refs, cfg, opts, "finetune", tmp_path, storage=storage, space=narrow)
    old_lrs = sorted(t.params["lr"] for t in storage_trials(storage, "smoke:partial_class:finetune"))
    with pytest.raises(ConfigError, match="restart-changed"):
        tune_method(bench, refs, cfg, opts, "finetune", tmp_path, storage=storage, space=wide)

    lines: list[str] = []
    again = dataclasses.replace(opts, restart_changed=True)
    record = tune_method(
        bench, refs, cfg, again, "finetune", tmp_path, storage=storage, space=wide, log=lines.append
    )
    assert record["n_complete"] == 2 and record["space"] == "lr ∈ [0.0001, 1] (log)"
    kept = storage_trials(make_storage(opts.storage), "smoke:partial_class:finetune~1")
    assert sorted(t.params["lr"] for t in kept) == old_lrs  # the old trials, untouched, under the new name
    fresh = [
        t
        for t in storage_trials(storage, "smoke:partial_class:finetune")
        if not t.user_attrs.get("incumbent")
    ]
    assert len(fresh) == 2 and all(t.distributions["lr"].low == 1e-4 for t in fresh)
    d = tmp_path / "partial_class" / "finetune"
    assert (d / "trials~1.csv").exists() and (d / "trials.csv").exists() and any("~1" in m for m in lines)
    assert any("first trial is" in m for m in lines)
    # its first trial is the old optimum, which lies inside the new range: widening cannot end worse
    old_best = min((t for t in kept if t.state == TrialState.COMPLETE), key=lambda t: (t.value, t.number))
    first = min(fresh, key=lambda t: t.number)
    assert (
        first.params == old_best.params and first.user_attrs["warm_start"] == "smoke:partial_class:finetune~1"
    )
    assert record["values"][0] <= old_best.value + 1e-9
    # the same setup again: nothing is archived, the study is complete
    record = tune_method(bench, refs, cfg, again, "finetune", tmp_path, storage=storage, space=wide)
    names = {s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)}
    assert names == {"smoke:partial_class:finetune", "smoke:partial_class:finetune~1"}


def storage_trials(storage, name):
    return optuna.load_study(study_name=name, storage=storage).get_trials()


def test_multi_objective_writes_a_pareto_front(smoke, tmp_path):
    cfg, _, _, bench, refs = smoke
    opts = TuneOptions(trials=5, objective="multi", study="m")
    record = tune_method(bench, refs, cfg, opts, "random_label", tmp_path, storage=None)
    front = record["pareto"]
    assert front and record["names"] == ["forgetting", "utility"]
    vals = [p["values"] for p in front]
    for a in vals:  # no trial of the front dominates another
        assert not any(b != a and b[0] <= a[0] and b[1] <= a[1] for b in vals)
    assert record["trial"] in [p["trial"] for p in front]
    rows = list(csv.DictReader((tmp_path / "partial_class" / "random_label" / "pareto.csv").open()))
    assert [int(r["trial"]) for r in rows] == [p["trial"] for p in front]


def test_the_sampler_is_reproducible_and_differs_between_trials():
    def run(seed):
        study = optuna.create_study(sampler=TrialSeededTPE(seed, n_startup=3))
        study.optimize(lambda t: (t.suggest_float("x", 1e-4, 1.0, log=True) - 0.01) ** 2, n_trials=6)
        return [t.params["x"] for t in study.trials]

    a, b, c = run(0), run(0), run(1)
    assert a == b and a != c and len(set(a)) == 6


def test_storage_urls():
    assert make_storage(None) is None and make_storage("memory") is None
    with pytest.raises(ConfigError, match="journal:PATH"):
        make_storage("runs/tune.db")
    assert isinstance(make_storage("sqlite:///:memory:"), optuna.storages.RDBStorage)


def test_a_space_must_name_config_fields():
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Cfg:
        lr: float = 0.1

    with pytest.raises(ValueError, match="momentum"):
        register_method(
            "bad_space", config=Cfg, needs={"retain"}, summary="", space={"momentum": Float(0.1, 0.9)}
        )
    assert "bad_space" not in METHODS.available()


def test_every_tunable_method_declares_a_space_of_its_config_fields():
    for name in METHODS.available():
        spec = METHODS.get(name)
        if name == "retrain":
            assert not spec.space  # the oracle is not tuned
            continue
        assert spec.space, name
        fields = set(make_config(name).__dataclass_fields__)
        assert set(spec.space) <= fields, name
        lr = spec.space.get("lr")
        assert lr is None or lr.log, f"{name}: learning rates are searched on a log scale"


def test_eval_seeds_must_not_include_the_tuning_seed(capsys):
    assert main(["tune", "--preset", "smoke", "--eval-seeds", "0,100", "--storage", "memory"]) == 2
    assert "tuning seed 100" in capsys.readouterr().err


def test_sensitivity_heatmaps_around_the_optimum(smoke, tmp_path):
    cfg, _, factory, *_ = smoke
    assert factors() == [0.8, 0.9, 1.0, 1.1, 1.2]
    cfg = cfg.with_overrides(methods=("sure",), seeds=(0,))
    optimum = {"partial_class": {"sure": {"lr": 0.01, "alpha": 10.0}}}
    [d] = run_sensitivity(factory, cfg, optimum, tmp_path, points=3, span=0.2, tuning_seed=TUNING_SEED)
    data = json.loads((d / "sensitivity.json").read_text())
    assert data["params"] == ["lr", "alpha"]  # SURE's first two searched hyperparameters
    assert data["axis_values"]["lr"] == pytest.approx([0.008, 0.01, 0.012])
    assert data["axis_values"]["alpha"] == pytest.approx([8.0, 10.0, 12.0])
    assert {"test_acc", "rep_auc", "mia_efficacy", "gap_avg", "gap_rep", "distance"} <= set(data["metrics"])
    for name in data["metrics"]:
        assert (d / "heatmaps" / f"{name}.png").stat().st_size > 0
        assert data["diff"][name][1][1] == 0
        for i in range(3):
            for j in range(3):
                assert data["diff"][name][i][j] == pytest.approx(
                    data["value"][name][i][j] - data["value"][name][1][1]
                )
    assert (d / "heatmaps.png").is_file()
    # the centre cell is the optimum itself: the same numbers as a direct run of those hyperparameters
    bench = factory(cfg, tmp_path / "check")
    run = bench.evaluate_run(
        bench.references("partial_class", 0),
        "sure",
        make_config("sure", {**cfg.hparams["sure"], "lr": 0.01, "alpha": 10.0}),
    )
    assert data["value"]["test_acc"][1][1] == run.metrics["test_acc"]
    assert data["value"]["gap_rep"][1][1] == pytest.approx(run.gaps["gap_rep"])
    assert len(list(csv.DictReader((d / "sensitivity.csv").open()))) == 9


def test_stability_reuses_the_tuned_values_at_every_size(smoke, tmp_path):
    cfg, _, factory, *_ = smoke
    cfg = cfg.with_overrides(methods=("finetune",), seeds=(0,))
    tuned = {"lr": 0.02}
    [d] = run_stability(
        factory, cfg, {"partial_class": {"finetune": tuned}}, (10, 20), tmp_path, tuning_seed=TUNING_SEED
    )
    data = json.loads((d / "stability.json").read_text())
    assert {(r["method"], r["size"]) for r in data["rows"]} == {
        (m, n) for m in ("original", "broken", "finetune") for n in (10, 20)
    }
    table = (d / "stability.md").read_text()
    assert "| finetune | 10 |" in table and "| finetune | 20* |" in table  # the smoke preset tunes at n = 20
    for n in (10, 20):
        summary = json.loads((d / f"n{n}" / "summary.json").read_text())
        ft = next(r for r in summary["runs"] if r["method"] == "finetune")
        oracle = next(r for r in summary["runs"] if r["method"] == "retrain")
        assert ft["hparams"]["lr"] == 0.02  # the tuned value, unchanged at every size
        row = next(r for r in data["rows"] if r["method"] == "finetune" and r["size"] == n)
        assert row["test_acc"][0] == pytest.approx(
            abs(ft["metrics"]["test_acc"] - oracle["metrics"]["test_acc"])
        )
        assert row["distance"][0] == pytest.approx(obj.distance(ft["gaps"]))
        split = json.loads((d / f"n{n}" / "config.json").read_text())["scenarios"]["partial_class"]
        assert split["n"] == n
    assert (d / "stability_partial_class.png").stat().st_size > 0


def test_stability_needs_a_sized_scenario(smoke, tmp_path):
    cfg, _, factory, *_ = smoke
    from sure_unlearn.data.splits import ScenarioConfig

    cfg = cfg.with_overrides(scenarios={"full_class": ScenarioConfig("full_class", cls=1)}, seeds=(0,))
    with pytest.raises(ConfigError, match="full_class"):
        run_stability(factory, cfg, {"full_class": {"finetune": {}}}, (10,), tmp_path)


def test_a_tuned_file_sets_only_searched_values_and_rejects_stale_ones(tmp_path):
    from sure_unlearn.protocol.presets import tuned

    f = tmp_path / "cpu.json"
    # what `sure tune` writes: the config's values (here other fixed options) with the tuned ones on top
    f.write_text(
        json.dumps(
            {"hparams": {"finetune": {"epochs": 2, "lr": 0.003}, "sure": {"freeze_blocks": 0, "alpha": 2.5}}}
        )
    )
    flat, per = tuned("cpu", f)
    assert flat == {"finetune": {"epochs": 2, "lr": 0.003}, "sure": {"alpha": 2.5}} and per == {}
    # a per-scenario search: a scenario level, each scenario its own values
    f.write_text(
        json.dumps(
            {
                "scenario_hparams": {
                    "random": {"sure": {"alpha": 30.0, "domain_batch_size": 0}},
                    "partial_class": {"sure": {"alpha": 1.0}},
                }
            }
        )
    )
    assert tuned("cpu", f) == (
        {},
        {"random": {"sure": {"alpha": 30.0}}, "partial_class": {"sure": {"alpha": 1.0}}},
    )
    assert tuned("cpu", tmp_path / "absent.json") == ({}, {})
    f.write_text(json.dumps({"hparams": {"sure": {"alpha": 1e6}}}))  # outside SURE's declared α range
    with pytest.raises(ConfigError, match="outside the search space"):
        tuned("cpu", f)
    f.write_text(json.dumps({"scenario_hparams": {"random": {"finetune": {"epochs": 0}}}}))
    with pytest.raises(ConfigError, match="outside the search space"):
        tuned("cpu", f)
    f.write_text(json.dumps({"hparams": {"no_such_method": {"lr": 0.1}}}))
    with pytest.raises(Exception, match="no_such_method"):
        tuned("cpu", f)


def test_the_cpu_preset_runs_the_committed_search_optimum():
    """The committed study result (tuned/cpu.json) lies in each method's space and is what the preset runs,
    scenario by scenario where the file has a scenario level; every method of the preset but the ones
    registered after the study (named here) has searched values."""
    from importlib import resources

    data = json.loads((resources.files("sure_unlearn") / "tuned" / "cpu.json").read_text())
    cfg = PRESETS.get("cpu")()
    flat, per = data.get("hparams", {}), data.get("scenario_hparams", {})
    assert set(cfg.methods) - set(flat) - {m for ms in per.values() for m in ms} <= {"sure_plus"}
    for m, values in flat.items():
        space = METHODS.get(m).space
        searched = {k: v for k, v in values.items() if k in space}
        assert searched and all(cfg.hparams[m][k] == v for k, v in searched.items()), m
    for scenario, methods in per.items():
        for m, values in methods.items():
            got = cfg.hparams_for(scenario, m)
            assert all(got[k] == v for k, v in values.items() if k in METHODS.get(m).space), (scenario, m)


def test_a_call_for_some_methods_keeps_the_other_methods_results(smoke, tmp_path):
    """`sure sensitivity` (SURE only) after a full `sure tune`: the study's summary keeps every method."""
    cfg, _, factory, *_ = smoke
    opts = TuneOptions(trials=2, storage=f"journal:{tmp_path / 'j.log'}")
    tune(factory, cfg.with_overrides(methods=("finetune", "grad_ascent")), opts, tmp_path)
    found = tune(factory, cfg.with_overrides(methods=("grad_ascent",)), opts, tmp_path)
    assert list(found["partial_class"]) == ["grad_ascent"]  # the call's own result
    best = json.loads((tmp_path / "tune" / "best.json").read_text())["partial_class"]
    assert set(best) == {"finetune", "grad_ascent"}
    hp = json.loads((tmp_path / "tuned_hparams.json").read_text())["hparams"]
    assert hp["finetune"]["lr"] == best["finetune"]["params"]["lr"]
    assert "| finetune |" in (tmp_path / "tune" / "best.md").read_text()


def test_status_reads_where_each_study_stands_without_training(smoke, tmp_path):
    cfg, _, _, bench, refs = smoke
    cfg = cfg.with_overrides(
        methods=("finetune", "random_label"), scenarios={"partial_class": cfg.scenarios["partial_class"]}
    )
    opts = TuneOptions(trials=2, storage=f"journal:{tmp_path / 'j.log'}")
    ran = tune_method(bench, refs, cfg, opts, "finetune", tmp_path, storage=make_storage(opts.storage))

    from sure_unlearn.tune.status import remaining_s, status, summary_line

    found, short = status(cfg, dataclasses.replace(opts, trials=3))
    ft, rl = found["partial_class"]["finetune"], found["partial_class"]["random_label"]
    assert (ft["n_complete"], ft["running"], ft["params"]) == (2, 0, ran["params"])
    assert ft["boundary"] == ran["boundary"] and ft["values"] == ran["values"]
    assert rl["n_complete"] == 0 and rl["trial"] is None
    assert short == ["partial_class:finetune 2/3", "partial_class:random_label 0/3"]
    # finetune's 1 missing trial; random_label's 3 and the incumbent that follows them
    assert summary_line(found, short, 3).startswith("2 of 2 studies short of 3 trials (5 trials, ≈ ")
    # 1 missing finetune trial at its own median, 3 + 1 random_label ones at finetune's (the only one known)
    assert remaining_s(found, 3) == (5, pytest.approx(5 * ft["median_trial_s"]))
    assert (
        summary_line(*status(cfg.with_overrides(methods=("finetune",)), opts), 2)
        == "all 1 study complete (2 trials each)"
    )


def test_a_complete_study_without_its_incumbent_runs_only_the_incumbent(smoke, tmp_path, monkeypatch):
    """A study whose budget ran before the incumbent was part of the search (or whose worker was cut while
    running it) is short by that one trial: the status says so, and resuming runs it and nothing else."""
    import sure_unlearn.tune.study as study_mod
    from sure_unlearn.tune.status import remaining_s, status

    cfg, _, _, bench, refs = smoke
    cfg = cfg.with_overrides(
        methods=("finetune",), scenarios={"partial_class": cfg.scenarios["partial_class"]}
    )
    opts = TuneOptions(trials=2, storage=f"journal:{tmp_path / 'j.log'}")
    with monkeypatch.context() as m:
        m.setattr(study_mod, "incumbent", lambda *a: None)  # the search as it ran before
        before = tune_method(bench, refs, cfg, opts, "finetune", tmp_path, storage=make_storage(opts.storage))
    assert before["incumbent"] is None
    found, short = status(cfg, opts)
    ft = found["partial_class"]["finetune"]
    assert ft["incumbent_state"] == "missing" and short == [
        "partial_class:finetune incumbent not evaluated yet"
    ]
    assert remaining_s(found, 2) == (1, pytest.approx(ft["median_trial_s"]))

    after = tune_method(bench, refs, cfg, opts, "finetune", tmp_path, storage=make_storage(opts.storage))
    trials = storage_trials(make_storage(opts.storage), "smoke:partial_class:finetune")
    assert (
        len(trials) == 3
        and trials[-1].user_attrs.get("incumbent")
        and trials[-1].state == TrialState.COMPLETE
    )
    ran = dataclasses.asdict(make_config("finetune", cfg.hparams.get("finetune")))
    assert trials[-1].params == {k: ran[k] for k in trials[-1].params}
    assert after["n_complete"] == 2 and after["incumbent"]["trial"] == 2
    # the optimum is the best of the search and the incumbent
    assert after["values"][0] == min(before["values"][0], trials[-1].value)
    assert after["best_is_incumbent"] == (trials[-1].value < before["values"][0])
    assert status(cfg, opts)[1] == []


def test_status_counts_a_study_made_for_another_space_as_stale(smoke, tmp_path):
    """A study whose range was widened since its trials ran is complete in the storage but not for today's
    search, which restarts it: the status says so and counts its whole budget as left."""
    cfg, _, _, bench, refs = smoke
    cfg = cfg.with_overrides(
        methods=("finetune",), scenarios={"partial_class": cfg.scenarios["partial_class"]}
    )
    opts = TuneOptions(trials=2, storage=f"journal:{tmp_path / 'j.log'}")
    # a narrower lr than today's
    narrow = {**METHODS.get("finetune").space, "lr": Float(1e-3, 1e-2, log=True)}
    tune_method(
        bench, refs, cfg, opts, "finetune", tmp_path, storage=make_storage(opts.storage), space=narrow
    )

    from sure_unlearn.tune.results import best_table
    from sure_unlearn.tune.status import remaining_s, status

    found, short = status(cfg, opts)
    ft = found["partial_class"]["finetune"]
    assert ft["n_complete"] == 2 and ft["stale"] == ["space"]
    assert short == ["partial_class:finetune stale (differs in space)"]
    assert remaining_s(found, 2) == (2, pytest.approx(2 * ft["median_trial_s"]))
    assert "stale: made for another space" in best_table(found)
    assert ft["models_unrecorded"] is False and "models unrecorded" not in best_table(found)
    # a study made before studies recorded their models' weights says so
    study = optuna.load_study(study_name="smoke:partial_class:finetune", storage=make_storage(opts.storage))
    study.set_user_attr("setup", {k: v for k, v in study.user_attrs["setup"].items() if k != "references"})
    found, _ = status(cfg, opts)
    assert found["partial_class"]["finetune"]["models_unrecorded"] is True
    assert "models unrecorded: made before studies recorded" in best_table(found)
    # today's space: not stale
    tune_method(
        bench,
        refs,
        cfg,
        dataclasses.replace(opts, restart_changed=True),
        "finetune",
        tmp_path,
        storage=make_storage(opts.storage),
    )
    found, short = status(cfg, opts)
    assert found["partial_class"]["finetune"]["stale"] == [] and short == []


def test_status_flag_shows_the_table_and_runs_nothing(smoke, tmp_path, capsys):
    journal = tmp_path / "j.log"
    optuna.create_study(storage=make_storage(f"journal:{journal}"), study_name="another")
    args = [
        "tune",
        "--preset",
        "smoke",
        "--storage",
        f"journal:{journal}",
        "--out",
        str(tmp_path),
        "--status",
    ]
    assert main([*args, "--methods", "finetune", "--scenario", "partial_class"]) == 0
    out, err = capsys.readouterr()
    assert (
        "| partial_class | finetune | gap | – | – | 0 |" in out and "1 of 1 studies short of 20 trials" in err
    )
    assert not (tmp_path / "tune").exists()  # no split, no model, no trial
    assert main([*args[:4], f"journal:{tmp_path / 'typo.log'}", *args[5:]]) == 2
    assert "no study there" in capsys.readouterr().err and not (tmp_path / "typo.log").exists()


def test_workers_of_one_journal_restart_a_study_one_at_a_time(tmp_path):
    """The archive-and-restart step holds a lock beside the journal: a second worker arriving meanwhile
    waits, then finds the new setup and leaves the study alone."""
    import threading

    from sure_unlearn.tune.setup import study_lock

    url = f"journal:{tmp_path / 'j.log'}"
    entered = threading.Event()

    def second_worker():
        with study_lock(url):
            entered.set()

    with study_lock(url):
        t = threading.Thread(target=second_worker)
        t.start()
        assert not entered.wait(0.5)  # blocked while the first worker holds it
    assert entered.wait(10)
    t.join()
    with study_lock("memory"):  # other storages take no lock
        pass


def test_searched_epochs_share_one_cap_and_leave_eu_k_its_own_budget():
    """`--search-epochs`: every iterative method's epochs up to the preset's budget, forget-only methods
    as many sample-gradients (a log range of passes over D_f), one-shot methods none, and EU-k none: its
    epochs are the original's, so a searched value would be a dimension that changes nothing."""
    from sure_unlearn.protocol.presets import budget
    from sure_unlearn.space import Int
    from sure_unlearn.tune.study import space_for

    cfg = PRESETS.get("cpu")()
    opts = TuneOptions(search_epochs=True)
    assert space_for(cfg, "finetune", opts)["epochs"] == Int(1, 3)
    assert space_for(cfg, "grad_ascent", opts, retain_per_forget=44.0)["epochs"] == Int(1, 132, log=True)
    assert "epochs" not in space_for(cfg, "ssd", opts)
    assert space_for(cfg, "eu_k", opts) == dict(METHODS.get("eu_k").space)
    assert not METHODS.get("eu_k").epoch_budget and "epochs" not in budget(3).get("eu_k", {})
    assert "epochs" not in space_for(cfg, "finetune", TuneOptions())


def test_a_restart_starts_from_the_old_optimum_only_when_it_fits_the_new_space():
    from optuna.distributions import FloatDistribution, IntDistribution

    from sure_unlearn.space import Int
    from sure_unlearn.tune.setup import warm_start

    storage = optuna.storages.InMemoryStorage()
    old = optuna.create_study(storage=storage, study_name="s~1")
    dists = {"lr": FloatDistribution(1e-3, 1e-2, log=True), "epochs": IntDistribution(1, 3)}
    for lr, value in ((2e-3, 0.9), (5e-3, 0.4), (8e-3, 0.7)):
        old.add_trial(
            optuna.trial.create_trial(params={"lr": lr, "epochs": 2}, distributions=dists, value=value)
        )
    wide = {"lr": Float(1e-4, 1.0, log=True), "epochs": Int(1, 3)}
    assert warm_start(storage, "s~1", wide) == {"lr": 5e-3, "epochs": 2}
    assert warm_start(storage, "s~1", {**wide, "lr": Float(1e-2, 1.0, log=True)}) is None  # outside: no start
    assert warm_start(storage, "s~1", {"lr": wide["lr"]}) is None  # another set of parameters


def test_a_budget_of_zero_runs_no_trial_not_even_the_incumbent(smoke, tmp_path):
    """``--trials 0`` warms the cache and nothing else: the incumbent waits for a real budget."""
    cfg, _, _, bench, refs = smoke
    storage = optuna.storages.InMemoryStorage()
    record = tune_method(
        bench, refs, cfg, TuneOptions(trials=0, study="z"), "finetune", tmp_path, storage=storage
    )
    assert storage_trials(storage, "z:partial_class:finetune") == [] and record["incumbent"] is None


def test_a_study_resumed_against_retrained_references_is_refused_or_restarted(smoke, tmp_path):
    """The tuning split's original and oracle come from the model cache under a key that names what they
    were trained from; retrained by changed code they can hold other weights under the same key. A study
    records the digests its trials were measured against, refuses to mix in trials on other models, and
    with --restart-changed starts afresh from its old optimum, re-measured."""
    cfg, _, _, bench, refs = smoke
    opts = TuneOptions(trials=2, storage=f"journal:{tmp_path / 'j.log'}")
    storage = make_storage(opts.storage)
    tune_method(bench, refs, cfg, opts, "finetune", tmp_path, storage=storage)
    name = "smoke:partial_class:finetune"
    recorded = optuna.load_study(study_name=name, storage=storage).user_attrs["setup"]["references"]
    assert recorded == {"partial_class": refs["partial_class"].weights}

    other = {"partial_class": dataclasses.replace(refs["partial_class"])}
    other["partial_class"].o_meta = {**other["partial_class"].o_meta, "weights": "0" * 16}
    with pytest.raises(ConfigError, match="other weights"):
        tune_method(bench, other, cfg, opts, "finetune", tmp_path, storage=storage)
    lines: list[str] = []
    again = dataclasses.replace(opts, restart_changed=True)
    tune_method(bench, other, cfg, again, "finetune", tmp_path, storage=storage, log=lines.append)
    assert any("first trial is" in m for m in lines)
    assert optuna.load_study(study_name=name, storage=storage).user_attrs["setup"]["references"] == {
        "partial_class": {"original": "0" * 16, "oracle": refs["partial_class"].weights["oracle"]}
    }


def test_a_study_from_before_references_were_recorded_resumes_as_it_is(smoke, tmp_path):
    """Nothing was recorded, so nothing is known: the study resumes, and it is not stamped with today's
    models, which its earlier trials may not have been measured against."""
    cfg, _, _, bench, refs = smoke
    opts = TuneOptions(trials=1, storage=f"journal:{tmp_path / 'j.log'}")
    storage = make_storage(opts.storage)
    tune_method(bench, refs, cfg, opts, "finetune", tmp_path, storage=storage)
    name = "smoke:partial_class:finetune"
    study = optuna.load_study(study_name=name, storage=storage)
    setup = dict(study.user_attrs["setup"])
    del setup["references"]
    study.set_user_attr("setup", setup)
    record = tune_method(
        bench, refs, cfg, dataclasses.replace(opts, trials=2), "finetune", tmp_path, storage=storage
    )
    assert record["n_complete"] == 2
    assert "references" not in optuna.load_study(study_name=name, storage=storage).user_attrs["setup"]


def test_a_scenario_study_compares_its_search_with_that_scenarios_own_values(smoke, tmp_path):
    """After a per-scenario search has shipped, a scenario's values are no longer the shared ones: its
    incumbent is what a benchmark of that scenario runs today."""
    cfg, _, _, bench, refs = smoke
    flat, own = 0.01, 0.003
    cfg = cfg.with_overrides(
        hparams={**cfg.hparams, "finetune": {**cfg.hparams.get("finetune", {}), "lr": flat}},
        scenario_hparams={"partial_class": {"finetune": {"lr": own}}},
    )
    record = tune_method(
        bench, refs, cfg, TuneOptions(trials=1, study="own"), "finetune", tmp_path, storage=None
    )
    assert record["incumbent"]["params"]["lr"] == own
