"""``sure``: the command line, a thin layer over the library. It parses, calls the library and prints.

    sure demo                                   # the embedded default: digits, ~2 minutes on 2 CPU cores
    sure benchmark --preset cpu --out runs/cpu  # summary.json, summary.md, plots
    sure train --preset cpu --out original.pt
    sure forget-set --checkpoint original.pt --class cat --n 100 --out forget.txt   # no flags: what can go
    sure unlearn --checkpoint original.pt --forget forget.txt --method sure --out unlearned.pt
    sure retrain --checkpoint original.pt --forget forget.txt --out oracle.pt
    sure evaluate --checkpoint unlearned.pt --forget forget.txt [--oracle oracle.pt]
    sure tune --preset cpu --trials 20 --out runs/tune-cpu   # same search for every method; held-out seeds
    sure sensitivity --preset cpu --methods sure            # ±20% heatmaps around the tuned optimum
    sure stability --preset cpu --sizes 50,100,200          # tuned values at other forget-set sizes
    sure report runs/cpu
    sure list methods

Every bad input is refused before any training, in one line on stderr with exit code 2; ``--debug`` shows
the traceback. Configurations come from :func:`sure_unlearn.protocol.config.resolve`.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import torch

from sure_unlearn.data.splits import SCENARIOS
from sure_unlearn.errors import ConfigError, SureError
from sure_unlearn.files import check_writable
from sure_unlearn.progress import want_progress
from sure_unlearn.protocol.config import PRESETS, BenchmarkConfig, resolve
from sure_unlearn.protocol.overrides import (
    DEVICES,
    Overrides,
    parse_device,
    parse_names,
    parse_sets,
    parse_shard,
)


class UsageError(ConfigError):
    """A command line that does not parse."""


class Parser(argparse.ArgumentParser):
    """argparse, whose errors raise a one-line :class:`UsageError` instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def config_of(a: argparse.Namespace, default: str | None = None) -> BenchmarkConfig:
    """The command's configuration: ``--preset``/``--config`` and the flags that narrow it, validated."""
    return resolve(a.preset, a.config, Overrides.from_flags(vars(a)), default=default)


def out_file(path: str) -> str:
    """A file to write at the end (a checkpoint): its folder is checked by a real write now."""
    if Path(path).is_dir():
        raise ConfigError(f"--out {path} is a directory; name a file, e.g. {Path(path) / 'model.pt'}")
    check_writable(Path(path).parent, "--out")
    return path


def model_cache(a: argparse.Namespace) -> Path:
    """The cache of trained originals and oracles, checked by a real write before anything is trained."""
    from sure_unlearn.protocol.references import default_cache_dir

    return check_writable(Path(a.cache_dir or default_cache_dir()) / "models", "--cache-dir").parent


def benchmarks(a: argparse.Namespace) -> Any:
    """(config, results dir) -> Benchmark on the command's device, data and cache; each split is checked."""
    from sure_unlearn.protocol.benchmark import Benchmark

    cache, progress = model_cache(a), want_progress(a.progress)

    shard = parse_shard(a.shard) if getattr(a, "shard", None) else None

    def make(cfg: BenchmarkConfig, out: Path) -> Benchmark:
        return Benchmark(
            cfg,
            out,
            device=a.device,
            data_root=a.data_root,
            cache_dir=cache,
            progress=progress,
            save_features=getattr(a, "save_features", False),
            log=log,
            shard=shard,
            queue=getattr(a, "queue", None),
        )

    return make


# ------------------------------------------------------------------------------------------ commands
def cmd_benchmark(a: argparse.Namespace) -> None:
    cfg = config_of(a, "demo" if a.command == "demo" else None)
    out = check_writable(a.out or f"runs/{cfg.name}", "--out")
    benchmarks(a)(cfg, out).run()
    print((out / "summary.md").read_text())
    log(f"results in {out}/ (summary.json, summary.md, PNG plots, per-run run.json)")


def cmd_train(a: argparse.Namespace) -> None:
    from sure_unlearn.protocol.workflow import train_original

    cfg = config_of(a, "demo")
    result = train_original(
        cfg,
        a.seed,
        out_file(a.out),
        device=a.device,
        data_root=a.data_root,
        cache_dir=a.cache_dir,
        progress=want_progress(a.progress),
    )
    print(json.dumps(result, indent=1))
    log(
        f"saved {a.out}; its training indices and holdout are inside (forget indices must come from the former)"
    )


def cmd_train_ddp(a: argparse.Namespace) -> None:
    from sure_unlearn.protocol.distributed import ReferenceJob, train_ddp

    cfg = config_of(a)
    job = ReferenceJob(
        kinds=parse_names(a.kind, "--kind"),
        seed=a.seed,
        sync_bn=a.sync_bn,
        compile=a.compile,
        force=a.force,
        out=a.out,
    )
    if a.out:
        out_file(a.out.replace("{kind}", "original"))
    metas = train_ddp(
        cfg,
        job,
        device=a.device,
        data_root=a.data_root,
        cache_dir=model_cache(a),
        progress=want_progress(a.progress),
    )
    if metas is not None:  # rank 0
        print(json.dumps(metas, indent=1, default=float))


def cmd_unlearn(a: argparse.Namespace) -> None:
    from sure_unlearn.protocol.workflow import unlearn_checkpoint

    hparams = parse_sets(a.set or [], a.method).get(a.method)
    rec = unlearn_checkpoint(
        a.checkpoint,
        a.forget,
        a.method,
        hparams,
        a.seed,
        out_file(a.out),
        device=a.device,
        data_root=a.data_root,
        cache_dir=a.cache_dir,
        progress=want_progress(a.progress),
    )
    log(f"{a.method} forgot {len(rec['forget_idx'])} samples in {rec['runtime_s']:.1f}s; saved {a.out}")


def cmd_forget_set(a: argparse.Namespace) -> None:
    from sure_unlearn.protocol import workflow as wf

    where = {"data_root": a.data_root, "cache_dir": a.cache_dir}
    if a.n is not None and a.cls is None:
        raise ConfigError("--n counts samples of --class; for a random forget set use --random N")
    if a.cls is None and a.random is None and a.indices is None:
        if a.out:
            raise ConfigError(
                "choose what to forget: --class NAME_OR_INDEX [--n N], --random N or --indices FILE"
            )
        info = wf.forgettable(a.checkpoint, **where)
        print(
            f"{a.checkpoint}: {info['dataset']}, trained on {info['count']} of the {info['split_size']} training-"
            f"split indices, between {info['min']} and {info['max']} (the others are its holdout or unused)"
        )
        print("class  name                  trained")
        for c in info["classes"]:
            print(f"{c['index']:5d}  {c['name']:20s}  {c['count']:7d}")
        log(
            "choose with --class NAME_OR_INDEX [--n N --seed S], --random N [--seed S] or --indices FILE; "
            "and --out FILE"
        )
        return
    if not a.out:
        raise ConfigError("--out FILE is required to write the forget set")
    out = out_file(a.out)
    if a.cls is not None:
        idx = wf.class_forget_set(a.checkpoint, a.cls, a.n, a.seed, **where)
    elif a.random is not None:
        idx = wf.random_forget_set(a.checkpoint, a.random, a.seed, **where)
    else:
        idx = wf.file_forget_set(a.checkpoint, a.indices, **where)
    wf.write_indices(out, idx)
    log(f"wrote {len(idx)} training indices to {out}")


def cmd_retrain(a: argparse.Namespace) -> None:
    from sure_unlearn.protocol.workflow import retrain_checkpoint

    rec = retrain_checkpoint(
        a.checkpoint,
        a.forget,
        out_file(a.out),
        device=a.device,
        data_root=a.data_root,
        cache_dir=a.cache_dir,
        progress=want_progress(a.progress),
    )
    log(
        f"retrained without {len(rec['forget_idx'])} samples in {rec['runtime_s']:.1f}s "
        f"(test accuracy {rec['test_acc']:.1f}); saved the oracle {a.out}"
    )


def cmd_evaluate(a: argparse.Namespace) -> None:
    from sure_unlearn.protocol.workflow import evaluate_checkpoint

    result = evaluate_checkpoint(
        a.checkpoint,
        a.forget,
        a.oracle,
        a.seed,
        device=a.device,
        data_root=a.data_root,
        cache_dir=a.cache_dir,
    )
    print(json.dumps(result, indent=1))


def study_of(a: argparse.Namespace) -> Any:
    """The setup tune, sensitivity and stability share (:class:`sure_unlearn.tune.commands.Study`)."""
    from sure_unlearn.tune import commands

    cfg = config_of(a)
    out = check_writable(a.out or f"runs/tune-{cfg.name}", "--out")
    return commands.Study(
        cfg, commands.options(vars(a), out), out, benchmarks(a), log, print, want_progress(a.progress)
    )


def cmd_tune(a: argparse.Namespace) -> None:
    from sure_unlearn.tune.commands import run_tune

    run_tune(study_of(a), a.eval_seeds, status_only=a.status)


def cmd_sensitivity(a: argparse.Namespace) -> None:
    from sure_unlearn.tune.commands import run_sensitivity

    run_sensitivity(study_of(a), a.params, a.grid, a.span, search=not a.no_tune)


def cmd_stability(a: argparse.Namespace) -> None:
    from sure_unlearn.tune.commands import run_stability

    run_stability(study_of(a), a.sizes, search=not a.no_tune)


def cmd_report(a: argparse.Namespace) -> None:
    from sure_unlearn.report.merge import merge
    from sure_unlearn.report.tables import regenerate

    if a.out or len(a.dir) > 1:
        out = check_writable(a.out or a.dir[0], "--out")
        merge(a.dir, out, replace=a.replace)
        print((out / "summary.md").read_text())
        log(f"merged {len(a.dir)} results directories into {out}/")
        return
    print(regenerate(Path(a.dir[0])))


def cmd_list(a: argparse.Namespace) -> None:
    from sure_unlearn.data import DATASETS
    from sure_unlearn.methods import METHODS
    from sure_unlearn.models import MODELS

    if a.what == "methods":
        for name in METHODS.available():
            spec = METHODS.get(name)
            print(f"{name:20s} {spec.summary}  [needs: {', '.join(sorted(spec.needs))}]")
        return
    if a.what == "metrics":  # every reported number, with its unit and what it is
        from sure_unlearn.metrics.info import infos

        for m in infos():
            print(f"{m.key:24s} {m.unit or '-':4s} {m.about or m.label}")
        return
    reg: Any = {"models": MODELS, "datasets": DATASETS, "scenarios": SCENARIOS, "presets": PRESETS}[a.what]
    for name in reg.available():
        doc = (getattr(reg.get(name), "__doc__", None) or "").strip().splitlines()
        print(f"{name:20s} {doc[0] if doc else ''}")


# ------------------------------------------------------------------------------------------ parser
def add_common(p: argparse.ArgumentParser, *, devices: bool = True) -> None:
    p.add_argument("--data-root", help="where datasets are (default: $SURE_DATA, else ./data)")
    p.add_argument("--cache-dir", help="models and decoded datasets (default: $SURE_CACHE or ~/.cache/sure)")
    if devices:
        p.add_argument(
            "--device", type=parse_device, default="auto", help=f"{DEVICES} (default: cuda if available)"
        )
    p.add_argument("--threads", type=int, help="CPU threads for torch, ≥ 1 (default: all cores)")
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--progress", dest="progress", action="store_true", default=None, help="always show progress bars"
    )
    g.add_argument("--no-progress", dest="progress", action="store_false", help="never show progress bars")
    p.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show the traceback of an error"
    )


def add_config(
    p: argparse.ArgumentParser, *, default: str | None = None, hidden: bool = False, narrow: bool = True
) -> None:
    """--preset and --config, and (``narrow``) the flags that narrow the configuration."""
    presets = f"a named configuration: {', '.join(PRESETS.available())} (sure list presets)"
    p.add_argument(
        "--preset",
        help=argparse.SUPPRESS if hidden else presets + (f"; default {default}" if default else ""),
    )
    p.add_argument("--config", help="a .json or .toml file of BenchmarkConfig fields (and 'preset')")
    if narrow:
        p.add_argument(
            "--scenario",
            help=f"comma-separated, of {', '.join(SCENARIOS.available())} (default: the config's)",
        )
        p.add_argument(
            "--methods", help="comma-separated method names (default: the config's; sure list methods)"
        )
        p.add_argument(
            "--set", action="append", metavar="METHOD.KEY=VALUE", help="override a method's hyperparameter"
        )
        p.add_argument(
            "--precision",
            choices=["auto", "fp32", "bf16"],
            help="training arithmetic (default: the config's, auto = bf16 autocast on CUDA, fp32 elsewhere; "
            "bf16 speeds up CPUs with bf16 instructions); evaluation is fp32 always",
        )


def add_study(p: argparse.ArgumentParser, *, tune: bool = False) -> None:
    """Flags of tune, sensitivity and stability: what to search, and which study (where) holds it."""
    add_config(p)
    p.add_argument(
        "--trials",
        type=int,
        default=20,
        help="completed trials per method, the same for all (default 20); then each "
        "study evaluates its incumbent, the config's own values, once",
    )
    p.add_argument(
        "--storage",
        help="memory | sqlite:///PATH | journal:PATH (several workers, one machine) | "
        "postgresql://USER:PW@HOST/DB | mysql+pymysql://USER:PW@HOST/DB (default journal:OUT/tune/journal.log)",
    )
    p.add_argument(
        "--study", help="study-name prefix (default: the preset's name): studies are PREFIX:SCENARIOS:METHOD"
    )
    p.add_argument("--out", help="results directory (default runs/tune-<preset>)")
    p.add_argument(
        "--objective",
        choices=["gap", "multi"],
        default="gap",
        help="gap: the calibrated distance to the oracle (0 = the oracle, ≈ 1 = the original); "
        "multi: its forgetting and utility parts, a Pareto front",
    )
    p.add_argument(
        "--tuning-seed", type=int, default=100, help="seed of the forget set the search sees (default 100)"
    )
    p.add_argument("--seed", type=int, default=0, help="the sampler's seed (default 0)")
    p.add_argument(
        "--per-scenario", action="store_true", help="one study per scenario, not one over all of them"
    )
    p.add_argument(
        "--search-epochs", action="store_true", help="also search epochs in 1..the preset's budget"
    )
    p.add_argument(
        "--max-failures", type=int, help="failed trials before a method's search stops (default: --trials)"
    )
    if tune:
        p.add_argument(
            "--status",
            action="store_true",
            help="show each study's trials (complete, running, failed) and best so far, from --storage "
            "alone; run nothing",
        )
        p.add_argument(
            "--restart-changed",
            action="store_true",
            help="a study made for another setup (e.g. a widened range) keeps its trials as "
            "PREFIX:SCENARIOS:METHOD~k and searches afresh with the full budget, its first "
            "trial the old optimum when that lies inside the new ranges",
        )
        p.add_argument(
            "--eval-seeds",
            help="seeds of the held-out evaluation (default: the preset's seeds; "
            "'none' to skip); never the tuning seed",
        )
    else:
        p.add_argument("--seeds", help="seeds to evaluate on (default: the preset's); never the tuning seed")
        p.add_argument(
            "--no-tune",
            action="store_true",
            help="use the config's hyperparameters (and --set) instead of the study's optimum",
        )
    add_common(p)


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="sure", description="Machine unlearning for image classifiers: SURE and its baselines.")
    p.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for name, help_ in (
        ("benchmark", "run the benchmark protocol: every method against the oracle"),
        ("demo", "the embedded default: the whole pipeline on digits (~2 min on 2 cores)"),
    ):
        b = sub.add_parser(name, help=help_)
        add_config(b, hidden=name == "demo")
        b.add_argument("--seeds", help="comma-separated integers, each once")
        b.add_argument("--out", help="results directory (default runs/<preset>)")
        b.add_argument("--save-features", action="store_true", help="write features.npz for every run")
        b.add_argument(
            "--shadows",
            type=int,
            help="per-example attacks (U-LiRA, rep-LiRA): M shadow models (even, ≥ 4; 0 = off)",
        )
        b.add_argument("--attack-models", type=int, help="models per side for the ε-score (≥ 3)")
        b.add_argument(
            "--attack-methods", help="comma-separated methods to attack (original and retrain always are)"
        )
        b.add_argument(
            "--shard",
            help="i/n: run the i-th of n deterministic parts of the (scenario, seed, method) runs "
            "(merge the parts' directories with `sure report DIR … --out DIR`)",
        )
        b.add_argument(
            "--queue",
            metavar="DIR",
            help="take the runs from a queue shared by processes of this machine (each with its own --out): "
            "each process runs the next run no other has claimed, so all stay busy however unequal the "
            "runs; a killed process's run is claimed again (merge the directories with `sure report`)",
        )
        add_common(b)
        b.set_defaults(fn=cmd_benchmark)

    t = sub.add_parser("train", help="train an original model and save a checkpoint")
    add_config(t, default="demo", narrow=False)  # its dataset, model and recipe
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", required=True, help="the checkpoint file to write")
    add_common(t)
    t.set_defaults(fn=cmd_train)

    d = sub.add_parser(
        "train-ddp",
        help="train a benchmark's original/oracle with DDP into its model cache: "
        "torchrun --nproc_per_node=N $(which sure) train-ddp …",
    )
    add_config(d, narrow=False)
    d.add_argument(
        "--kind", default="original", help="original, retrain (the oracle) or both: original,retrain"
    )
    d.add_argument("--scenario", help="the scenario whose split is used (default: the config's first)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--sync-bn", action="store_true", help="BatchNorm statistics over the global batch (CUDA)")
    d.add_argument("--compile", action="store_true", help="torch.compile the training step (GPU, long runs)")
    d.add_argument("--force", action="store_true", help="train even if the cache already holds the model")
    d.add_argument(
        "--out", help="also save a `sure train`-style checkpoint here ({kind} is replaced by the kind)"
    )
    d.add_argument(
        "--device", default="auto", choices=["auto", "cuda", "cpu"], help="auto: one GPU per process if any"
    )
    add_common(d, devices=False)
    d.set_defaults(fn=cmd_train_ddp)

    f = sub.add_parser(
        "forget-set",
        help="list what a checkpoint can forget (classes, indices), or write a forget "
        "file: a class, random samples, or a checked file of indices",
    )
    f.add_argument("--checkpoint", required=True)
    choice = f.add_mutually_exclusive_group()
    choice.add_argument(
        "--class", dest="cls", metavar="NAME_OR_INDEX", help="forget this class's training samples"
    )
    choice.add_argument("--random", type=int, metavar="N", help="forget N training samples drawn at random")
    choice.add_argument(
        "--indices", metavar="FILE", help="forget these indices (.npy, .json or text), each checked"
    )
    f.add_argument("--n", type=int, help="with --class: N of its samples drawn at random (default: all)")
    f.add_argument("--seed", type=int, default=0, help="seed of the random draws (default 0)")
    f.add_argument("--out", help="the forget file to write: one index per line")
    add_common(f, devices=False)
    f.set_defaults(fn=cmd_forget_set)

    u = sub.add_parser("unlearn", help="unlearn a saved checkpoint given a file of forget indices")
    u.add_argument("--checkpoint", required=True)
    u.add_argument("--forget", required=True, help="indices into the training split (.npy, .json or text)")
    u.add_argument("--method", default="sure")
    u.add_argument("--set", action="append", metavar="KEY=VALUE", help="a hyperparameter of --method")
    u.add_argument("--seed", type=int, default=0)
    u.add_argument("--out", required=True, help="the checkpoint file to write")
    add_common(u)
    u.set_defaults(fn=cmd_unlearn)

    o = sub.add_parser(
        "retrain", help="the oracle: the checkpoint's own training run again without the forget set"
    )
    o.add_argument("--checkpoint", required=True)
    o.add_argument("--forget", required=True, help="indices into the training split (.npy, .json or text)")
    o.add_argument("--out", required=True, help="the checkpoint file to write")
    add_common(o)
    o.set_defaults(fn=cmd_retrain)

    e = sub.add_parser("evaluate", help="every metric for a checkpoint and forget set (gaps with --oracle)")
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--forget", required=True)
    e.add_argument("--oracle")
    e.add_argument("--seed", type=int, default=0)
    add_common(e)
    e.set_defaults(fn=cmd_evaluate)

    s = sub.add_parser(
        "tune",
        help="Bayesian search (Optuna): the same budget and objective for every method, held-out evaluation",
    )
    add_study(s, tune=True)
    s.set_defaults(fn=cmd_tune)
    s = sub.add_parser(
        "sensitivity",
        help="heatmaps of every metric on a ±20%% grid of two hyperparameters around the optimum",
    )
    add_study(s)
    s.add_argument(
        "--params",
        help="the two hyperparameters, e.g. lr,alpha (default: the first two of "
        "each method's search space; SURE: lr,alpha)",
    )
    s.add_argument("--grid", type=int, default=5, help="points per axis, odd (default 5)")
    s.add_argument(
        "--span", type=float, default=0.2, help="relative half-width of the grid (default 0.2 = ±20%%)"
    )
    # the paper's Appendix E figure; any method with --methods
    s.set_defaults(fn=cmd_sensitivity, methods="sure")
    s = sub.add_parser(
        "stability", help="the tuned hyperparameters at other forget-set sizes and seeds: table and plot"
    )
    add_study(s)
    s.add_argument("--sizes", default="50,100,200", help="forget-set sizes n (default 50,100,200)")
    s.set_defaults(fn=cmd_stability)

    r = sub.add_parser(
        "report",
        help="regenerate summary.md and plots from a results directory, or merge several "
        "(shards, other seeds) into --out",
    )
    r.add_argument("dir", nargs="+", help="results directories (sure benchmark --out)")
    r.add_argument(
        "--out", help="merge every DIR into this directory (one summary with intervals and ranking)"
    )
    r.add_argument(
        "--replace",
        action="store_true",
        help="a run held by several DIRs is taken from the last one (re-run results over older ones); "
        "without it such runs must agree",
    )
    r.set_defaults(fn=cmd_report)

    ls = sub.add_parser("list", help="list registered methods, models, datasets, scenarios, metrics, presets")
    ls.add_argument("what", choices=["methods", "models", "datasets", "scenarios", "metrics", "presets"])
    ls.set_defaults(fn=cmd_list)
    return p


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def stdout_reader_gone() -> bool:
    """True when stdout is a pipe whose reader has closed it, so a broken pipe was stdout's and not from
    inside the work (a socket, a worker's pipe). Where ``poll`` is missing (Windows), any broken pipe is."""
    if not hasattr(select, "poll"):
        return True
    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError):  # stdout replaced by an object without a file (a test's capture)
        return False
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & select.POLLERR for _, events in poller.poll(0))


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; 0 on success, 2 on a bad input or any other error ``sure`` raises on purpose (one
    line on stderr), 1 on an unexpected error, 130 on Ctrl-C or SIGTERM. ``--debug`` lets errors raise.

    SIGTERM stops a command as Ctrl-C does (finished runs kept, a cut trial recorded as failed): a script
    that starts ``sure`` in the background, where the shell has it ignore SIGINT, can still stop it cleanly
    with ``pkill -f "sure benchmark"``.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if main_thread else None
    try:
        a = build_parser().parse_args(argv)
        if getattr(a, "threads", None) is not None:
            if a.threads < 1:
                raise ConfigError(f"--threads {a.threads}: give at least 1 (default: all cores)")
            torch.set_num_threads(a.threads)
        if getattr(a, "data_root", None):
            os.environ.setdefault("SURE_DATA", a.data_root)
        a.fn(a)
        return 0
    except SureError as e:
        if debug:
            raise
        print(f"sure: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "sure: interrupted; finished runs and cached models are kept — run the same command to resume",
            file=sys.stderr,
        )
        return 130
    except Exception as e:
        if isinstance(e, BrokenPipeError) and stdout_reader_gone():
            # stdout's reader stopped early (`sure list metrics | head`): not an error, and nothing to say
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
            return 0
        if debug:
            raise
        print(
            f"sure: internal error: {type(e).__name__}: {' '.join(str(e).split())} "
            "(run again with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
