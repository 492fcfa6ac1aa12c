"""The benchmark end to end on the smoke preset: SPEC §9's contract for every method, scenario and seed;
resuming from cached models and finished runs; features; the CLI; clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sure_unlearn.cli import main
from sure_unlearn.data.splits import ScenarioConfig
from sure_unlearn.errors import ConfigError, DataError
from sure_unlearn.protocol import benchmark as bench_mod
from sure_unlearn.protocol import references as refs_mod
from sure_unlearn.protocol.benchmark import Benchmark
from sure_unlearn.protocol.layout import BROKEN, ORIGINAL, REFERENCES
from sure_unlearn.protocol.presets import PRESETS

CONTRACT_METRICS = [
    "forget_acc",
    "retain_acc",
    "test_acc",
    "val_acc",
    "mia_efficacy",
    "mia_loss",
    "rep_mia_knn",
    "rep_mia_linear",
    "rep_auc",
    "runtime_s",
    "rrt",
    "seconds_per_epoch",
]
# the original is the starting point, not an unlearning run, so it has no RRT; broken is built, not trained
NOT_MEASURED = {ORIGINAL: ("rrt",), BROKEN: ("rrt",)}
SCENARIOS = {
    "random": ScenarioConfig("random", n=20),
    "partial_class": ScenarioConfig("partial_class", n=20, cls=1),
    "full_class": ScenarioConfig("full_class", cls=2),
    "confusion": ScenarioConfig("confusion", fraction=0.2, classes=(0, 3)),
}
CHECKER = Path(__file__).resolve().parents[2] / "shared" / "tools" / "check_summary.py"


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    cfg = PRESETS.get("smoke")().with_overrides(scenarios=SCENARIOS, seeds=(0, 1))
    summary = Benchmark(cfg, out / "res", cache_dir=out / "cache", save_features=True).run()
    return cfg, out, summary


@pytest.mark.slow
def test_summary_has_every_contract_field_for_every_method_scenario_seed(smoke_run):
    cfg, out, summary = smoke_run
    on_disk = json.loads((out / "res" / "summary.json").read_text())
    assert on_disk == json.loads(json.dumps(summary, default=float))
    expected = {(m, s, k) for m in (*REFERENCES, *cfg.methods) for s in SCENARIOS for k in (0, 1)}
    assert {(r["method"], r["scenario"], r["seed"]) for r in summary["runs"]} == expected
    for r in summary["runs"]:
        for key in CONTRACT_METRICS:
            if key in NOT_MEASURED.get(r["method"], ()):
                assert key not in r["metrics"], (r["method"], key)
                continue
            if key == "seconds_per_epoch" and r["hparams"]["epochs"] == 0:
                assert key not in r["metrics"]  # one-shot methods have no epochs
                continue
            v = r["metrics"][key]
            assert isinstance(v, float | int) and np.isfinite(v), (r["method"], key, v)
        for key in ("forget_acc", "retain_acc", "test_acc", "val_acc", "mia_efficacy", "mia_loss"):
            assert 0 <= r["metrics"][key] <= 100
        assert 0 <= r["metrics"]["rep_auc"] <= 1
        assert {"gap_avg", "gap_rep"} <= set(r["gaps"])
        assert "epochs" in r["hparams"]
        if r["method"] == "retrain":
            assert r["gaps"]["gap_avg"] == 0 and r["metrics"]["rrt"] == 1
    if CHECKER.exists():  # the shared contract checker, where ../shared is beside the checkout
        methods = ",".join((*REFERENCES, *cfg.methods))
        res = subprocess.run(
            [sys.executable, str(CHECKER), str(out / "res" / "summary.json"), methods, ",".join(SCENARIOS)],
            capture_output=True,
            text=True,
        )
        assert res.returncode == 0, res.stdout


@pytest.mark.slow
def test_class_scenarios_report_per_class_test_accuracy_and_confusion_uses_true_labels(smoke_run):
    _, out, summary = smoke_run
    full = next(r for r in summary["runs"] if r["scenario"] == "full_class" and r["method"] == "retrain")
    assert full["metrics"]["test_acc_forget_class"] == 0.0  # the oracle never saw class 2
    split = np.load(out / "res" / "confusion" / "seed0" / "split.npz")
    assert (
        split["labels"][split["forget"]]
        != np.load(out / "res" / "confusion" / "retrain" / "seed0" / "features.npz")["forget_y"]
    ).all()


@pytest.mark.slow
def test_features_and_split_indices_are_saved(smoke_run):
    _, out, _ = smoke_run
    f = np.load(out / "res" / "random" / "sure" / "seed0" / "features.npz")
    split = np.load(out / "res" / "random" / "seed0" / "split.npz")
    for s in ("forget", "retain", "test", "val"):
        assert f[f"{s}_z"].dtype == np.float32 and len(f[f"{s}_z"]) == len(f[f"{s}_y"]) == len(f[f"{s}_idx"])
        assert f[f"{s}_logits"].shape[1] == 4
    assert np.array_equal(f["forget_idx"], split["forget"])
    assert not np.intersect1d(split["retain"], split["forget"]).size
    # one row in the metrics table (marked: SURE trains on val) and one in the similarity table (CKA)
    md = (out / "res" / "summary.md").read_text()
    # ranking rows start with the rank
    cka_rows = [line for line in md.splitlines() if line.startswith("| sure |")]
    assert md.count("| sure † |") == len(cka_rows) == len(SCENARIOS)
    for scenario in SCENARIOS:
        for name in ("cka.json", "embed.npz"):
            assert (out / "res" / scenario / "sure" / "seed0" / name).is_file()
    # the embedding sample is the probe's rows of the evaluation pass: forget rows and never-seen test rows
    e = np.load(out / "res" / "random" / "sure" / "seed0" / "embed.npz")
    for part in ("forget", "test"):
        z, zs = e[f"{part}_z"], f[f"{part}_z"]
        assert len(z) and all(np.equal(zs, row).all(axis=1).any() for row in z), part


@pytest.mark.slow
def test_an_interrupted_benchmark_resumes_without_retraining(smoke_run, monkeypatch):
    cfg, out, summary = smoke_run

    def boom(*a, **k):
        raise AssertionError("a cached model or finished run was recomputed")

    monkeypatch.setattr(bench_mod, "fit", boom)  # not even an oracle epoch is timed: nothing runs
    monkeypatch.setattr(refs_mod, "fit", boom)
    monkeypatch.setattr(bench_mod, "run_method", boom)
    again = Benchmark(cfg, out / "res", cache_dir=out / "cache", save_features=True).run()

    def plain(x):
        return json.loads(json.dumps(x, default=float))

    assert plain(again["runs"]) == plain(summary["runs"])
    # a fresh results directory reuses the cached original and oracle, and only re-runs the methods
    monkeypatch.undo()
    monkeypatch.setattr(refs_mod, "fit", boom)  # (the benchmark times one oracle epoch for the RRT)
    one = cfg.with_overrides(scenarios={"random": SCENARIOS["random"]}, seeds=(0,), methods=("finetune",))
    fresh = Benchmark(one, out / "res2", cache_dir=out / "cache").run()
    assert {r["method"] for r in fresh["runs"]} == {*REFERENCES, "finetune"}


@pytest.mark.slow
def test_a_cut_benchmark_leaves_the_summary_of_every_finished_run(smoke_run, monkeypatch, tmp_path):
    """Ctrl-C (or SIGTERM) inside a (scenario, seed) still writes summary.json over the runs that finished
    before it, so `sure report` and merges read a cut benchmark; the cut run is not in it."""
    cfg, out, _ = smoke_run
    one = cfg.with_overrides(
        scenarios={"random": SCENARIOS["random"]}, seeds=(0,), methods=("finetune", "grad_ascent")
    )
    real = bench_mod.run_method

    def cut_at_grad_ascent(method, *a, **k):
        if method == "grad_ascent":
            raise KeyboardInterrupt
        return real(method, *a, **k)

    monkeypatch.setattr(bench_mod, "run_method", cut_at_grad_ascent)
    res = tmp_path / "res"
    with pytest.raises(KeyboardInterrupt):
        Benchmark(one, res, cache_dir=out / "cache").run()
    summary = json.loads((res / "summary.json").read_text())
    assert {r["method"] for r in summary["runs"]} == {*REFERENCES, "finetune"}
    assert "finetune" in summary["stats"]["random"] and "no plots redrawn" in (res / "summary.md").read_text()
    monkeypatch.undo()  # resumed, it runs only what was cut
    again = Benchmark(one, res, cache_dir=out / "cache").run()
    assert {r["method"] for r in again["runs"]} == {*REFERENCES, "finetune", "grad_ascent"}


@pytest.mark.slow
def test_a_cached_run_measured_against_other_reference_models_runs_again(smoke_run, monkeypatch, tmp_path):
    """The cache key of an original names what it was trained from, not the code that trained it: a run
    measured against other weights under the same key is measured again, a run from before runs named
    their references is kept."""
    cfg, out, _ = smoke_run
    one = cfg.with_overrides(
        scenarios={"random": SCENARIOS["random"]}, seeds=(0,), methods=("finetune", "grad_ascent")
    )
    res = tmp_path / "res"
    Benchmark(one, res, cache_dir=out / "cache").run()

    def path(method):
        return res / "random" / method / "seed0" / "run.json"

    first = json.loads(path("finetune").read_text())
    named = first["info"]["reference_weights"]
    assert set(named) == {"original", "oracle"} and all(
        len(d) == 16 and d != "0" * 16 for d in named.values()
    )
    assert named["original"] != named["oracle"]
    # as if the original had been retrained
    first["info"]["reference_weights"] = {**named, "original": "0" * 16}
    path("finetune").write_text(json.dumps(first))
    legacy = json.loads(path("grad_ascent").read_text())
    del legacy["info"]["reference_weights"]
    path("grad_ascent").write_text(json.dumps(legacy))

    ran, real = [], bench_mod.run_method
    monkeypatch.setattr(bench_mod, "run_method", lambda name, *a: ran.append(name) or real(name, *a))
    lines: list[str] = []
    Benchmark(one, res, cache_dir=out / "cache", log=lines.append).run()
    assert ran == ["finetune"]
    assert json.loads(path("finetune").read_text())["info"]["reference_weights"] == named
    assert any("other reference models" in m for m in lines)


@pytest.mark.slow
def test_processes_sharing_a_queue_run_each_run_once_and_take_over_a_dead_claim(smoke_run, tmp_path):
    """With a queue, a run held by a live process is left to it and every other run is done once, by
    whichever process claims it first; once the holder dies, the next process runs what it held. The
    directories merge into the whole plan."""
    from sure_unlearn.protocol.claims import HOST, start_time
    from sure_unlearn.report.merge import merge

    cfg, out, _ = smoke_run
    one = cfg.with_overrides(scenarios={"random": SCENARIOS["random"]}, seeds=(0,), methods=("finetune",))
    queue = tmp_path / "queue"

    def bench(name, lines=None):
        log = lines.append if lines is not None else None
        return Benchmark(one, tmp_path / name, cache_dir=out / "cache", queue=queue, log=log)

    first = bench("a")
    key = first.run_key(first.references("random", 0), "finetune")
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    try:
        claim = {
            "host": HOST,
            "pid": holder.pid,
            "started": start_time(holder.pid),
            "run": "x",
            "done": False,
        }
        (queue / f"random-seed0-finetune-{key}.json").write_text(json.dumps(claim))
        a = first.run()
        assert {r["method"] for r in a["runs"]} == set(REFERENCES)
        lines: list[str] = []
        b = bench("b", lines).run()  # everything is done or held: nothing to run
        assert b["runs"] == [] and sum("claimed by another process" in m for m in lines) == 4
    finally:
        holder.kill()
        holder.wait()
    c = bench("c").run()
    assert [r["method"] for r in c["runs"]] == ["finetune"]
    merged = merge([tmp_path / "a", tmp_path / "b", tmp_path / "c"], tmp_path / "all")
    assert sorted(r["method"] for r in merged["runs"]) == sorted([*REFERENCES, "finetune"])
    with pytest.raises(ConfigError, match="not both"):
        Benchmark(one, tmp_path / "d", cache_dir=out / "cache", queue=queue, shard=(0, 2))


def test_bad_configuration_fails_before_any_work(tmp_path):
    cfg = PRESETS.get("smoke")()
    with pytest.raises(KeyError, match="unknown method"):
        Benchmark(cfg.with_overrides(methods=("finetune", "magic")), tmp_path)
    with pytest.raises(ConfigError, match="no hyperparameter"):
        Benchmark(cfg.with_overrides(hparams={"sure": {"alpah": 3}}), tmp_path)
    with pytest.raises(DataError, match="Looked in"):
        Benchmark(
            cfg.with_overrides(dataset="tiny_imagenet", dataset_kwargs={}), tmp_path, data_root=tmp_path
        )
    with pytest.raises(ConfigError, match="no option"):
        Benchmark(cfg.with_overrides(dataset="digits"), tmp_path)
    assert not (tmp_path / "summary.json").exists()


def test_cli_errors_are_one_line_not_tracebacks(tmp_path, capsys):
    assert main(["benchmark", "--preset", "smoke", "--methods", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown method 'nope'" in capsys.readouterr().err
    assert main(["benchmark", "--preset", "smoke", "--scenario", "sideways", "--out", str(tmp_path)]) == 2
    assert "unknown scenario" in capsys.readouterr().err
    assert (
        main(["evaluate", "--checkpoint", str(tmp_path / "none.pt"), "--forget", str(tmp_path / "f.txt")])
        == 2
    )
    assert "no checkpoint" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_train_unlearn_evaluate_round_trip(tmp_path, capsys):
    ckpt, forget, new = tmp_path / "m.pt", tmp_path / "forget.txt", tmp_path / "u.pt"
    common = ["--cache-dir", str(tmp_path / "cache"), "--no-progress"]
    assert main(["train", "--preset", "smoke", "--out", str(ckpt), *common]) == 0
    capsys.readouterr()
    from sure_unlearn.protocol.checkpoints import load_checkpoint

    train_idx = load_checkpoint(ckpt)[1]["train_idx"]
    forget.write_text(" ".join(map(str, train_idx[:15])))
    assert (
        main(
            [
                "unlearn",
                "--checkpoint",
                str(ckpt),
                "--forget",
                str(forget),
                "--method",
                "finetune",
                "--set",
                "epochs=1",
                "--out",
                str(new),
                *common,
            ]
        )
        == 0
    )
    # the original saw the forget set, so it is refused as an oracle; `sure retrain` makes the real one
    assert (
        main(["evaluate", "--checkpoint", str(new), "--forget", str(forget), "--oracle", str(ckpt), *common])
        == 2
    )
    assert "no oracle for this forget set" in capsys.readouterr().err
    oracle = tmp_path / "oracle.pt"
    assert (
        main(["retrain", "--checkpoint", str(ckpt), "--forget", str(forget), "--out", str(oracle), *common])
        == 0
    )
    capsys.readouterr()
    assert (
        main(
            ["evaluate", "--checkpoint", str(new), "--forget", str(forget), "--oracle", str(oracle), *common]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert {"metrics", "oracle", "gaps"} <= set(result) and "rep_auc" in result["metrics"]
    holdout = load_checkpoint(ckpt)[1]["holdout_idx"]
    forget.write_text(str(holdout[0]))  # a sample the model never trained on cannot be forgotten
    assert (
        main(["unlearn", "--checkpoint", str(ckpt), "--forget", str(forget), "--out", str(new), *common]) == 2
    )
    assert "never in the model's training set" in capsys.readouterr().err


@pytest.mark.slow
def test_attacks_are_written_per_run_and_resume_without_training(tmp_path, monkeypatch):
    from sure_unlearn.attacks.pipeline import METRIC_KEYS
    from sure_unlearn.protocol.config import AttackConfig

    cfg = PRESETS.get("smoke")().with_overrides(
        methods=("finetune",), attacks=AttackConfig(shadows=4, models=3, methods=("finetune",))
    )
    summary = Benchmark(cfg, tmp_path / "res", cache_dir=tmp_path / "cache").run()
    for r in summary["runs"]:
        if r["method"] == BROKEN:  # a degenerate reference for the objective: there is nothing to attack
            assert not set(METRIC_KEYS) & set(r["metrics"])
            continue
        assert set(METRIC_KEYS) <= set(r["metrics"]), r["method"]
        assert 0 <= r["metrics"]["ulira_auc"] <= 1 and 0 <= r["metrics"]["forget_score"] <= 1
        npz = np.load(tmp_path / "res" / r["scenario"] / r["method"] / f"seed{r['seed']}" / "attacks.npz")
        n = 20 + r["metrics"]["attack_n_nonmembers"]  # the forget set + every never-seen target the data has
        assert len(npz["labels"]) == len(npz["score_ulira"]) == n
        run = json.loads(
            (tmp_path / "res" / r["scenario"] / r["method"] / f"seed{r['seed']}" / "run.json").read_text()
        )
        assert run["info"]["attack_weights"] == dict(
            zip(npz["models"].tolist(), npz["weights"].tolist(), strict=True)
        )
    # a rerun reads every result back: no model is trained and no method runs
    monkeypatch.setattr(bench_mod, "fit", lambda *a, **k: pytest.fail("retrained a cached model"))
    monkeypatch.setattr(refs_mod, "fit", lambda *a, **k: pytest.fail("retrained a cached model"))
    monkeypatch.setattr(bench_mod, "run_method", lambda *a, **k: pytest.fail("re-ran a finished method"))
    again = Benchmark(cfg, tmp_path / "res", cache_dir=tmp_path / "cache").run()
    assert again["runs"] == json.loads(json.dumps(summary, default=float))["runs"]
    with pytest.raises(ConfigError, match="attacks.methods"):
        Benchmark(cfg.with_overrides(attacks=AttackConfig(shadows=4, methods=("sure",))), tmp_path / "x")
    with pytest.raises(ConfigError, match="even"):
        Benchmark(cfg.with_overrides(attacks=AttackConfig(shadows=3)), tmp_path / "x")


def test_precision_reaches_every_model_the_benchmark_trains_and_keys_its_cache(tmp_path, monkeypatch):
    """``precision="bf16"``: the original, the oracle and every unlearning run train under bf16 autocast, and
    their cache keys differ from the automatic ones, which stay those of configs made before the setting."""
    from sure_unlearn.files import content_key
    from sure_unlearn.protocol.config import BenchmarkConfig

    with pytest.raises(ConfigError, match="precision must be one of"):
        BenchmarkConfig(precision="fp16").validate()
    engines: list[tuple[str, object]] = []
    real_fit, real_run = refs_mod.fit, bench_mod.run_method

    def fit_spy(*a, engine=None, desc="", **k):
        engines.append((desc, engine))
        return real_fit(*a, engine=engine, desc=desc, **k)

    def run_spy(method, model, data, cfg, ctx):
        engines.append((method, ctx.engine))
        return real_run(method, model, data, cfg, ctx)

    monkeypatch.setattr(refs_mod, "fit", fit_spy)
    monkeypatch.setattr(bench_mod, "run_method", run_spy)
    base = PRESETS.get("smoke")().with_overrides(
        scenarios={"random": SCENARIOS["random"]}, methods=("finetune",)
    )
    keys = {}
    for precision in ("auto", "bf16"):
        engines.clear()
        bench = Benchmark(
            base.with_overrides(precision=precision), tmp_path / precision, cache_dir=tmp_path / "cache"
        )
        refs = bench.references("random", 0)
        bench.unlearn(refs, "finetune", bench.method_cfgs[("random", "finetune")])
        keys[precision] = refs.o_meta["key"]
        want = None if precision == "auto" else True
        assert {d: getattr(e, "bf16", None) for d, e in engines} == {
            "original": want,
            "retrain": want,
            "finetune": want,
        }
    split = bench.prepare("random", 0).split
    before = content_key(
        dataset=base.dataset,
        dataset_kwargs=base.dataset_kwargs,
        n_train=len(bench.data.train),
        model=base.model,
        model_kwargs=base.model_kwargs,
        recipe=base.recipe,
        train_idx=split.train,
        labels=split.labels[split.train],
        seed=0,
    )
    assert keys["auto"] == before and keys["bf16"] != before
