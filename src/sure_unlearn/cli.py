"""``sure``: a thin command line over the library. Every command is a few lines calling the core.

    sure demo                                   # the embedded default: digits, ~2 minutes on 2 CPU cores
    sure benchmark --preset cpu --out runs/cpu  # SPEC §9 results: summary.json, summary.md, plots
    sure train --preset cpu --out original.pt
    sure unlearn --checkpoint original.pt --forget forget.txt --method sure --out unlearned.pt
    sure evaluate --checkpoint unlearned.pt --forget forget.txt [--oracle oracle.pt]
    sure tune --preset cpu --trials 20 --out runs/tune-cpu   # same search for every method; held-out seeds
    sure sensitivity --preset cpu --methods sure            # ±20% heatmaps around the tuned optimum
    sure stability --preset cpu --sizes 50,100,200          # tuned values at other forget-set sizes
    sure report runs/cpu
    sure list methods
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sure_unlearn.errors import ConfigError, DataError, SureError


def parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_sets(items: Sequence[str], default_method: str | None = None) -> dict[str, dict[str, Any]]:
    """``method.key=value`` (or ``key=value`` for ``default_method``) into {method: {key: value}}."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set expects method.key=value, got {item!r}")
        lhs, value = item.split("=", 1)
        method, _, key = lhs.rpartition(".")
        method = method or default_method or ""
        if not method:
            raise ConfigError(f"--set {item!r}: name the method, e.g. sure.{lhs}={value}")
        out.setdefault(method, {})[key] = parse_value(value)
    return out


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("--device cuda asked for, but no CUDA device is available")
    return torch.device(name)


def read_indices(path: str) -> np.ndarray:
    """Forget indices from ``.npy``, ``.json`` (a list) or text (integers separated by spaces/commas/lines)."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"no forget-index file at {p}")
    try:
        if p.suffix == ".npy":
            arr = np.load(p, allow_pickle=False)
        elif p.suffix == ".json":
            arr = np.asarray(json.loads(p.read_text()))
        else:
            arr = np.asarray([int(t) for t in p.read_text().replace(",", " ").split()])
    except ValueError as e:
        raise DataError(f"cannot read integer indices from {p}: {e}") from None
    return arr.astype(np.int64) if arr.size and np.issubdtype(arr.dtype, np.integer) else arr


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-root", help="where datasets are (default: $SURE_DATA, else ./data)")
    p.add_argument("--cache-dir", help="models and decoded datasets (default: $SURE_CACHE or ~/.cache/sure)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 … (default: cuda if available)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: all cores)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--progress", dest="progress", action="store_true", default=None, help="always show progress bars")
    g.add_argument("--no-progress", dest="progress", action="store_false", help="never show progress bars")


def add_study_flags(p: argparse.ArgumentParser) -> None:
    """Flags of tune, sensitivity and stability: what to search, and which study (where) holds it."""
    p.add_argument("--preset", help="smoke | demo | cpu | paper")
    p.add_argument("--config", help="a .json or .toml file of BenchmarkConfig fields (and 'preset')")
    p.add_argument("--scenario", help="comma-separated scenarios (default: the preset's)")
    p.add_argument("--methods", help="comma-separated methods (default: the preset's; sensitivity: sure)")
    p.add_argument("--set", action="append", metavar="METHOD.KEY=VALUE",
                   help="a hyperparameter outside the search space (searched ones are the search's)")
    p.add_argument("--trials", type=int, default=20, help="completed trials per method, the same for all (default 20)")
    p.add_argument("--storage", help="memory | sqlite:///PATH | journal:PATH (several workers, one machine) | "
                   "postgresql://USER:PW@HOST/DB | mysql+pymysql://USER:PW@HOST/DB (default journal:OUT/tune/journal.log)")
    p.add_argument("--study", help="study-name prefix (default: the preset's name): studies are PREFIX:SCENARIOS:METHOD")
    p.add_argument("--out", help="results directory (default runs/tune-<preset>)")
    p.add_argument("--objective", choices=["gap", "multi"], default="gap",
                   help="gap: (gap_avg + gap_rep)/2 to the oracle; multi: forgetting and utility gaps, Pareto front")
    p.add_argument("--tuning-seed", type=int, default=100, help="seed of the forget set the search sees (default 100)")
    p.add_argument("--seed", type=int, default=0, help="the sampler's seed (default 0)")
    p.add_argument("--per-scenario", action="store_true", help="one study per scenario, not one over all of them")
    p.add_argument("--search-epochs", action="store_true", help="also search epochs in 1..the preset's budget")
    p.add_argument("--max-failures", type=int, help="failed trials before a method's search stops (default: --trials)")
    add_common(p)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------ commands
def config_from_args(a: argparse.Namespace) -> Any:
    """The :class:`BenchmarkConfig` named by ``--preset``/``--config`` and narrowed by ``--scenario``,
    ``--methods``, ``--seeds`` and ``--set`` (shared by benchmark, tune, sensitivity and stability)."""
    from sure_unlearn.protocol.config import BenchmarkConfig, read_config_file
    from sure_unlearn.protocol.presets import PRESETS

    file_cfg = read_config_file(a.config) if getattr(a, "config", None) else {}
    preset = a.preset or file_cfg.get("preset") or ("demo" if a.command == "demo" else None)
    if preset is None and not file_cfg:
        raise ConfigError("choose --preset smoke|demo|cpu|paper or give --config FILE")
    cfg = BenchmarkConfig.from_dict(file_cfg, PRESETS.get(preset)() if preset else None)
    if getattr(a, "scenario", None):
        names = a.scenario.split(",")
        missing = [s for s in names if s not in cfg.scenarios]
        if missing:
            from sure_unlearn.data.splits import SCENARIOS
            from sure_unlearn.protocol.presets import _scenarios

            for s in missing:
                SCENARIOS.get(s)  # unknown scenario names fail here
            defaults = _scenarios(100, 0, (0, 1))
            cfg = cfg.with_overrides(scenarios={**cfg.scenarios, **{s: defaults[s] for s in missing}})
        cfg = cfg.with_overrides(scenarios={s: cfg.scenarios[s] for s in names})
    if getattr(a, "methods", None):
        cfg = cfg.with_overrides(methods=tuple(m for m in a.methods.split(",") if m))
    if getattr(a, "seeds", None):
        cfg = cfg.with_overrides(seeds=tuple(int(s) for s in a.seeds.split(",")))
    shadows, models, attacked = (getattr(a, k, None) for k in ("shadows", "attack_models", "attack_methods"))
    if shadows is not None or models is not None or attacked is not None:
        import dataclasses

        cfg = cfg.with_overrides(attacks=dataclasses.replace(
            cfg.attacks,
            shadows=cfg.attacks.shadows if shadows is None else shadows,
            models=cfg.attacks.models if models is None else models,
            methods=cfg.attacks.methods if attacked is None else tuple(m for m in attacked.split(",") if m),
        ))
    if getattr(a, "set", None):
        merged = {m: {**cfg.hparams.get(m, {}), **kv} for m, kv in parse_sets(a.set).items()}
        cfg = cfg.with_overrides(hparams={**cfg.hparams, **merged})
    return cfg


def cmd_benchmark(a: argparse.Namespace) -> int:
    from sure_unlearn.progress import want_progress
    from sure_unlearn.protocol.benchmark import Benchmark

    cfg = config_from_args(a)
    out = Path(a.out or f"runs/{cfg.name}")
    bench = Benchmark(
        cfg, out, device=pick_device(a.device), data_root=a.data_root, cache_dir=a.cache_dir,
        save_features=a.save_features, progress=want_progress(a.progress), log=log,
    )
    bench.run()
    print((out / "summary.md").read_text())
    log(f"results in {out}/ (summary.json, summary.md, PNG plots, per-run run.json)")
    return 0


def _load_model_from(path: str, device: torch.device) -> tuple[Any, dict[str, Any]]:
    from sure_unlearn.models import ModelSpec, build_model
    from sure_unlearn.protocol.checkpoints import load_checkpoint, load_into

    state, meta = load_checkpoint(path)
    try:
        spec_kw: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["spec"].items()}
        spec = ModelSpec(**spec_kw)
        model = build_model(meta["model"], spec, **meta.get("model_kwargs", {}))
    except KeyError as e:
        raise SureError(f"checkpoint {path} lacks {e}; was it written by `sure train`?") from None
    load_into(model, state, path)
    return model.to(device), meta


def _dataset_for(meta: dict[str, Any], a: argparse.Namespace) -> Any:
    from sure_unlearn.data import load_dataset

    data = load_dataset(meta["dataset"], a.data_root, cache_dir=a.cache_dir and Path(a.cache_dir) / "datasets",
                        **meta.get("dataset_kwargs", {}))
    if data.num_classes != meta["spec"]["num_classes"]:
        raise DataError(f"the model has {meta['spec']['num_classes']} classes but {meta['dataset']} has {data.num_classes}")
    return data


def cmd_train(a: argparse.Namespace) -> int:
    from sure_unlearn.data import load_dataset
    from sure_unlearn.data.splits import stratified_subset
    from sure_unlearn.data.types import NO_AUGMENT, LabeledData
    from sure_unlearn.models import ModelSpec, build_model
    from sure_unlearn.progress import want_progress
    from sure_unlearn.protocol.benchmark import seeded_generator
    from sure_unlearn.protocol.checkpoints import save_checkpoint
    from sure_unlearn.protocol.config import BenchmarkConfig, read_config_file
    from sure_unlearn.protocol.presets import PRESETS
    from sure_unlearn.train import accuracy, fit

    file_cfg = read_config_file(a.config) if a.config else {}
    cfg = BenchmarkConfig.from_dict(file_cfg, PRESETS.get(a.preset or file_cfg.get("preset") or "demo")())
    device = pick_device(a.device)
    data = load_dataset(cfg.dataset, a.data_root, cache_dir=a.cache_dir and Path(a.cache_dir) / "datasets", **cfg.dataset_kwargs)
    rng = np.random.default_rng([a.seed, 0])
    pool = stratified_subset(data.train.y, cfg.train_subset, rng)
    holdout = stratified_subset(data.train.y, round(cfg.holdout_fraction * len(pool)), rng, pool)
    train_idx = np.setdiff1d(pool, holdout)
    spec = ModelSpec(data.num_classes, data.image_shape[0], data.image_shape[1], data.mean, data.std)
    torch.manual_seed(a.seed)
    model = build_model(cfg.model, spec, **cfg.model_kwargs).to(device)
    aug = data.augment if cfg.recipe.augment else NO_AUGMENT
    train = LabeledData.from_arrays(data.train, train_idx, aug, device)
    res = fit(model, train, cfg.recipe, seeded_generator(device, "train", a.seed), progress=want_progress(a.progress), desc="train")
    test = LabeledData.from_arrays(data.test, None, NO_AUGMENT, device)
    meta = {
        "dataset": cfg.dataset, "dataset_kwargs": cfg.dataset_kwargs, "model": cfg.model,
        "model_kwargs": cfg.model_kwargs, "spec": spec.__dict__, "recipe": cfg.recipe.__dict__, "seed": a.seed,
        "train_idx": train_idx.tolist(), "holdout_idx": holdout.tolist(), "train_s": res.seconds,
        "train_acc": accuracy(model, train.with_augment(NO_AUGMENT)), "test_acc": accuracy(model, test),
    }
    save_checkpoint(a.out, model, meta)
    print(json.dumps({k: meta[k] for k in ("train_s", "train_acc", "test_acc")}, indent=1))
    log(f"saved {a.out}; its training indices and holdout are inside (forget indices must come from the former)")
    return 0


def _sets_for(meta: dict[str, Any], data: Any, forget: np.ndarray, device: torch.device, augment: bool) -> dict[str, Any]:
    from sure_unlearn.data.splits import check_forget_indices
    from sure_unlearn.data.types import NO_AUGMENT, LabeledData

    train_idx = np.asarray(meta["train_idx"], dtype=np.int64)
    holdout = np.asarray(meta["holdout_idx"], dtype=np.int64)
    forget = check_forget_indices(forget, train_idx, len(data.train))
    retain = np.setdiff1d(train_idx, forget)
    classes = np.unique(data.train.y[forget])
    val = holdout[np.isin(data.train.y[holdout], classes)]
    aug = data.augment if augment else NO_AUGMENT
    return {k: LabeledData.from_arrays(data.train, idx, aug, device) for k, idx in
            (("forget", forget), ("retain", retain), ("val", val))}


def cmd_unlearn(a: argparse.Namespace) -> int:
    import time

    from sure_unlearn.methods import RunContext, UnlearnData, make_config, run_method
    from sure_unlearn.progress import want_progress
    from sure_unlearn.protocol.checkpoints import save_checkpoint
    from sure_unlearn.train import Recipe

    device = pick_device(a.device)
    model, meta = _load_model_from(a.checkpoint, device)
    data = _dataset_for(meta, a)
    sets = _sets_for(meta, data, read_indices(a.forget), device, augment=True)
    cfg = make_config(a.method, parse_sets(a.set or [], a.method).get(a.method))
    recipe_kw: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["recipe"].items()}
    recipe = Recipe(**recipe_kw)
    udata = UnlearnData(**sets, num_classes=data.num_classes, original_recipe=recipe)
    ctx = RunContext(torch.Generator(device=device).manual_seed(a.seed), progress=want_progress(a.progress))
    start = time.perf_counter()
    out = run_method(a.method, model, udata, cfg, ctx)
    seconds = time.perf_counter() - start
    forget_idx = sets["forget"].idx.numpy()
    new_meta = {**meta, "train_idx": np.setdiff1d(meta["train_idx"], forget_idx).tolist(),
                "unlearned": {"method": a.method, "hparams": cfg.__dict__, "forget_idx": forget_idx.tolist(),
                              "runtime_s": seconds, "from": str(a.checkpoint)}}
    save_checkpoint(a.out, out, new_meta)
    log(f"{a.method} forgot {len(forget_idx)} samples in {seconds:.1f}s; saved {a.out}")
    return 0


def cmd_evaluate(a: argparse.Namespace) -> int:
    from sure_unlearn.data.types import NO_AUGMENT, LabeledData
    from sure_unlearn.metrics import gaps
    from sure_unlearn.protocol.evaluate import evaluate

    device = pick_device(a.device)
    model, meta = _load_model_from(a.checkpoint, device)
    data = _dataset_for(meta, a)
    forget = read_indices(a.forget)
    # an unlearned checkpoint no longer lists its forget set among its training indices
    base_train = np.union1d(meta["train_idx"], meta.get("unlearned", {}).get("forget_idx", []))
    sets = _sets_for({**meta, "train_idx": base_train.tolist()}, data, forget, device, augment=False)
    sets["test"] = LabeledData.from_arrays(data.test, None, NO_AUGMENT, device)
    fc = tuple(int(c) for c in np.unique(data.train.y[forget])) if len(np.unique(data.train.y[forget])) < data.num_classes else ()
    metrics, _ = evaluate(model, sets, forget_classes=fc, seed=a.seed)
    result: dict[str, Any] = {"metrics": metrics}
    if a.oracle:
        oracle, _ = _load_model_from(a.oracle, device)
        om, _ = evaluate(oracle, sets, forget_classes=fc, seed=a.seed)
        result.update(oracle=om, gaps=gaps(metrics, om))
    print(json.dumps(result, indent=1))
    return 0


# ------------------------------------------------------------------ tune, sensitivity, stability (issue 5)
def _ints(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    return () if text.strip().lower() == "none" else tuple(int(t) for t in text.split(",") if t.strip())


def _study_setup(a: argparse.Namespace) -> tuple[Any, Any, Path, Any]:
    """(config, TuneOptions, out, Benchmark factory) from the flags the three commands share."""
    from sure_unlearn.progress import want_progress
    from sure_unlearn.protocol.benchmark import Benchmark
    from sure_unlearn.tune.study import TuneOptions

    cfg = config_from_args(a)
    out = Path(a.out or f"runs/tune-{cfg.name}")
    opts = TuneOptions(
        trials=a.trials, objective=a.objective, tuning_seed=a.tuning_seed, seed=a.seed,
        storage=a.storage or f"journal:{out / 'tune' / 'journal.log'}", study=a.study,
        per_scenario=a.per_scenario, search_epochs=a.search_epochs, max_failures=a.max_failures,
    )
    device, progress = pick_device(a.device), want_progress(a.progress)
    try:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)  # our log has one line per trial, failures too
    except ImportError:
        pass

    def factory(c: Any, d: Path) -> Any:
        return Benchmark(c, d, device=device, data_root=a.data_root, cache_dir=a.cache_dir, progress=progress,
                         log=log)

    return cfg, opts, out, factory


def cmd_tune(a: argparse.Namespace) -> int:
    from sure_unlearn.progress import want_progress
    from sure_unlearn.tune.results import best_table
    from sure_unlearn.tune.study import check_eval_seeds, evaluate_tuned, tune

    cfg, opts, out, factory = _study_setup(a)
    seeds = _ints(a.eval_seeds)
    seeds = cfg.seeds if seeds is None else seeds
    check_eval_seeds(seeds, opts.tuning_seed)  # before any work
    found = tune(factory, cfg, opts, out, log=log, progress=want_progress(a.progress))
    print(best_table(found))
    dirs = evaluate_tuned(factory, cfg, found, out, seeds, opts.tuning_seed) if seeds else []
    for d in dirs:
        print((d / "summary.md").read_text())
    held_out = f"; held-out evaluation (seeds {list(seeds)}) in {', '.join(map(str, dirs))}" if dirs else ""
    log(f"studies in {opts.storage}; trials and best values in {out}/tune/; tuned hyperparameters in "
        f"{out}/tuned_hparams.json{held_out}")
    return 0


def cmd_sensitivity(a: argparse.Namespace) -> int:
    from sure_unlearn.progress import want_progress
    from sure_unlearn.tune.sensitivity import run_sensitivity
    from sure_unlearn.tune.study import optima

    a.methods = a.methods or "sure"  # the paper's Appendix E figure; any method with --methods
    cfg, opts, out, factory = _study_setup(a)
    progress = want_progress(a.progress)
    names = a.params.split(",") if a.params else []
    if a.params and len(names) != 2:
        raise ConfigError(f"--params takes two hyperparameters, e.g. lr,alpha; got {a.params!r}")
    optimum = optima(factory, cfg, opts, out, search=not a.no_tune, log=log, progress=progress)
    pair = (names[0], names[1]) if names else None
    dirs = run_sensitivity(factory, cfg, optimum, out, params=pair, points=a.grid, span=a.span,
                           tuning_seed=opts.tuning_seed, log=log, progress=progress)
    log(f"heatmaps and data in {', '.join(map(str, dirs))}")
    return 0


def cmd_stability(a: argparse.Namespace) -> int:
    from sure_unlearn.progress import want_progress
    from sure_unlearn.tune.stability import run_stability
    from sure_unlearn.tune.study import optima

    cfg, opts, out, factory = _study_setup(a)
    optimum = optima(factory, cfg, opts, out, search=not a.no_tune, log=log, progress=want_progress(a.progress))
    dirs = run_stability(factory, cfg, optimum, _ints(a.sizes) or (), out, tuning_seed=opts.tuning_seed, log=log)
    for d in dirs:
        print((d / "stability.md").read_text())
    log(f"table, data and plots in {', '.join(map(str, dirs))}")
    return 0


def cmd_report(a: argparse.Namespace) -> int:
    from sure_unlearn.report.tables import regenerate

    print(regenerate(Path(a.dir)))
    return 0


def cmd_list(a: argparse.Namespace) -> int:
    from sure_unlearn.data import DATASETS
    from sure_unlearn.data.splits import SCENARIOS
    from sure_unlearn.methods import METHODS
    from sure_unlearn.metrics import METRICS
    from sure_unlearn.models import MODELS
    from sure_unlearn.protocol.presets import PRESETS

    if a.what == "methods":
        for name in METHODS.available():
            spec = METHODS.get(name)
            print(f"{name:20s} {spec.summary}  [needs: {', '.join(sorted(spec.needs))}]")
        return 0
    reg: Any = {"models": MODELS, "datasets": DATASETS, "scenarios": SCENARIOS, "metrics": METRICS, "presets": PRESETS}[a.what]
    for name in reg.available():
        doc = (getattr(reg.get(name), "__doc__", None) or "").strip().splitlines()
        print(f"{name:20s} {doc[0] if doc else ''}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sure", description="Machine unlearning for image classifiers: SURE and its baselines.")
    sub = p.add_subparsers(dest="command", required=True)

    for name, help_ in (("benchmark", "run the benchmark protocol (SPEC §9 results)"),
                        ("demo", "the embedded default: the whole pipeline on digits (~2 min on 2 cores)")):
        b = sub.add_parser(name, help=help_)
        b.add_argument("--preset", help="smoke | demo | cpu | paper" if name == "benchmark" else argparse.SUPPRESS)
        b.add_argument("--config", help="a .json or .toml file of BenchmarkConfig fields (and 'preset')")
        b.add_argument("--scenario", help="comma-separated: random,partial_class,full_class,confusion")
        b.add_argument("--methods", help="comma-separated method names (sure list methods)")
        b.add_argument("--seeds", help="comma-separated integers")
        b.add_argument("--set", action="append", metavar="METHOD.KEY=VALUE", help="override a hyperparameter")
        b.add_argument("--out", help="results directory (default runs/<preset>)")
        b.add_argument("--save-features", action="store_true", help="write features.npz for every run")
        b.add_argument("--shadows", type=int, help="per-example attacks (U-LiRA, rep-LiRA): M shadow models (even, ≥ 4; 0 = off)")
        b.add_argument("--attack-models", type=int, help="models per side for the ε-score (≥ 3)")
        b.add_argument("--attack-methods", help="comma-separated methods to attack (original and retrain always are)")
        add_common(b)
        b.set_defaults(fn=cmd_benchmark)

    d = sub.add_parser("train-ddp", add_help=False,
                       help="train a benchmark's original/oracle with DDP: torchrun --nproc_per_node=N $(which sure) train-ddp …")
    d.add_argument("rest", nargs=argparse.REMAINDER, help="see: sure train-ddp --help")

    t = sub.add_parser("train", help="train an original model and save a checkpoint")
    t.add_argument("--preset", help="dataset, model and recipe from a preset (default demo)")
    t.add_argument("--config")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", required=True)
    add_common(t)
    t.set_defaults(fn=cmd_train)

    u = sub.add_parser("unlearn", help="unlearn a saved checkpoint given a file of forget indices")
    u.add_argument("--checkpoint", required=True)
    u.add_argument("--forget", required=True, help="indices into the training split (.npy, .json or text)")
    u.add_argument("--method", default="sure")
    u.add_argument("--set", action="append", metavar="KEY=VALUE")
    u.add_argument("--seed", type=int, default=0)
    u.add_argument("--out", required=True)
    add_common(u)
    u.set_defaults(fn=cmd_unlearn)

    e = sub.add_parser("evaluate", help="every metric for a checkpoint and forget set (gaps with --oracle)")
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--forget", required=True)
    e.add_argument("--oracle")
    e.add_argument("--seed", type=int, default=0)
    add_common(e)
    e.set_defaults(fn=cmd_evaluate)

    help_study = {
        "tune": "Bayesian search (Optuna): the same budget and objective for every method, held-out evaluation",
        "sensitivity": "heatmaps of every metric on a ±20% grid of two hyperparameters around the optimum",
        "stability": "the tuned hyperparameters at other forget-set sizes and seeds: table and plot",
    }
    for name, fn in (("tune", cmd_tune), ("sensitivity", cmd_sensitivity), ("stability", cmd_stability)):
        s = sub.add_parser(name, help=help_study[name])
        add_study_flags(s)
        if name == "tune":
            s.add_argument("--eval-seeds", help="seeds of the held-out evaluation (default: the preset's seeds; "
                           "'none' to skip); never the tuning seed")
        else:
            s.add_argument("--seeds", help="seeds to evaluate on (default: the preset's); never the tuning seed")
            s.add_argument("--no-tune", action="store_true",
                           help="use the config's hyperparameters (and --set) instead of the study's optimum")
        if name == "sensitivity":
            s.add_argument("--params", help="the two hyperparameters, e.g. lr,alpha (default: the first two of "
                           "each method's search space; SURE: lr,alpha)")
            s.add_argument("--grid", type=int, default=5, help="points per axis, odd (default 5)")
            s.add_argument("--span", type=float, default=0.2, help="relative half-width of the grid (default 0.2 = ±20%%)")
        if name == "stability":
            s.add_argument("--sizes", default="50,100,200", help="forget-set sizes n (default 50,100,200)")
        s.set_defaults(fn=fn)

    r = sub.add_parser("report", help="regenerate summary.md and plots from a results directory")
    r.add_argument("dir")
    r.set_defaults(fn=cmd_report)

    ls = sub.add_parser("list", help="list registered methods, models, datasets, scenarios, metrics, presets")
    ls.add_argument("what", choices=["methods", "models", "datasets", "scenarios", "metrics", "presets"])
    ls.set_defaults(fn=cmd_list)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train-ddp"]:  # its own parser (it runs under torchrun, once per process)
        from sure_unlearn.protocol.distributed import main as ddp_main

        return ddp_main(argv[1:])
    a = build_parser().parse_args(argv)
    if getattr(a, "threads", None):
        torch.set_num_threads(a.threads)
    if getattr(a, "data_root", None):
        os.environ.setdefault("SURE_DATA", a.data_root)
    try:
        return int(a.fn(a))
    except SureError as e:
        print(f"sure: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sure: interrupted; finished runs and cached models are kept — run the same command to resume",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
