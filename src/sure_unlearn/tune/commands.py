"""What ``sure tune``, ``sure sensitivity`` and ``sure stability`` do with their options: every option is
checked before any training (a study trains the tuning split's original and oracle first), then the study
runs and its tables are shown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sure_unlearn.errors import ConfigError
from sure_unlearn.methods import make_config
from sure_unlearn.protocol.config import BenchmarkConfig
from sure_unlearn.protocol.overrides import parse_ints, parse_names
from sure_unlearn.tune.options import TuneOptions
from sure_unlearn.tune.study import (
    BenchFactory,
    Log,
    check_eval_seeds,
    evaluate_tuned,
    optima,
    tune,
)


def options(flags: Mapping[str, Any], out: Path) -> TuneOptions:
    """:class:`TuneOptions` from the command's flags; the study lives in ``out/tune/journal.log`` by default."""
    return TuneOptions(
        trials=flags["trials"],
        objective=flags["objective"],
        tuning_seed=flags["tuning_seed"],
        seed=flags["seed"],
        storage=flags.get("storage") or f"journal:{out / 'tune' / 'journal.log'}",
        study=flags.get("study"),
        per_scenario=flags["per_scenario"],
        search_epochs=flags["search_epochs"],
        max_failures=flags.get("max_failures"),
        restart_changed=flags.get("restart_changed", False),
    )


@dataclass(frozen=True)
class Study:
    """One study command: its config, search options, results directory, how benchmarks are made, and
    where messages (``log``) and tables (``show``) go."""

    cfg: BenchmarkConfig
    opts: TuneOptions
    out: Path
    factory: BenchFactory
    log: Log
    show: Callable[[str], None]
    progress: bool = False

    def __post_init__(self) -> None:
        try:
            import optuna

            optuna.logging.set_verbosity(optuna.logging.ERROR)  # our log has one line per trial, failures too
        except ImportError:
            pass  # tune() says what to install

    def optimum(self, search: bool) -> dict[str, dict[str, dict[str, Any]]]:
        return optima(
            self.factory, self.cfg, self.opts, self.out, search=search, log=self.log, progress=self.progress
        )


def eval_seeds(text: str | None, default: tuple[int, ...]) -> tuple[int, ...]:
    """``--eval-seeds``: comma-separated integers, ``none`` for no held-out evaluation, absent: ``default``."""
    if text is None:
        return default
    return () if text.strip().lower() == "none" else parse_ints(text, "--eval-seeds")


def run_tune(s: Study, seeds_text: str | None, status_only: bool = False) -> None:
    """Search every method, show the best values, then evaluate them on the held-out seeds; with
    ``status_only``, show where each study stands and run nothing."""
    from sure_unlearn.tune.results import best_table

    if status_only:
        from sure_unlearn.tune.status import status, summary_line

        where, short = status(s.cfg, s.opts)
        s.show(best_table(where))
        s.log(summary_line(where, short, s.opts.trials))
        return
    seeds = eval_seeds(seeds_text, s.cfg.seeds)
    check_eval_seeds(seeds, s.opts.tuning_seed)
    found = tune(s.factory, s.cfg, s.opts, s.out, log=s.log, progress=s.progress)
    s.show(best_table(found))
    dirs = evaluate_tuned(s.factory, s.cfg, found, s.out, seeds, s.opts.tuning_seed) if seeds else []
    for d in dirs:
        s.show((d / "summary.md").read_text())
    held_out = f"; held-out evaluation (seeds {list(seeds)}) in {', '.join(map(str, dirs))}" if dirs else ""
    s.log(
        f"studies in {s.opts.storage}; trials and best values in {s.out}/tune/; tuned hyperparameters in "
        f"{s.out}/tuned_hparams.json{held_out}"
    )


def params_pair(text: str | None, cfg: BenchmarkConfig) -> tuple[str, str] | None:
    """``--params A,B``: two numeric hyperparameters every method of ``cfg`` has (None: each method's first
    two searched ones), checked before any work."""
    from sure_unlearn.tune.sensitivity import default_params

    if text is None:
        for m in cfg.methods:
            default_params(m)
        return None
    names = parse_names(text, "--params")
    if len(names) != 2:
        raise ConfigError(f"--params takes two hyperparameters, e.g. lr,alpha; got {text!r}")
    for m in cfg.methods:
        fields = vars(make_config(m, cfg.hparams.get(m)))
        for p in names:
            if isinstance(fields.get(p), bool) or not isinstance(fields.get(p), int | float):
                numeric = sorted(
                    k for k, v in fields.items() if isinstance(v, int | float) and not isinstance(v, bool)
                )
                raise ConfigError(f"--params {p}: {m} has no numeric hyperparameter {p!r}; it has {numeric}")
    return names[0], names[1]


def run_sensitivity(s: Study, params: str | None, grid: int, span: float, search: bool) -> None:
    """Heatmaps of every metric on a grid of two hyperparameters around each method's optimum."""
    from sure_unlearn.tune import sensitivity

    pair = params_pair(params, s.cfg)
    sensitivity.factors(grid, span)  # --grid and --span, before the search
    check_eval_seeds(s.cfg.seeds, s.opts.tuning_seed)
    dirs = sensitivity.run_sensitivity(
        s.factory,
        s.cfg,
        s.optimum(search),
        s.out,
        params=pair,
        points=grid,
        span=span,
        tuning_seed=s.opts.tuning_seed,
        log=s.log,
        progress=s.progress,
    )
    s.log(f"heatmaps and data in {', '.join(map(str, dirs))}")


def run_stability(s: Study, sizes_text: str, search: bool) -> None:
    """The tuned values at other forget-set sizes: a table and a plot per scenario group."""
    from sure_unlearn.tune import stability

    sizes = parse_ints(sizes_text, "--sizes")
    for n in sizes:  # a size the metrics cannot use, or a scenario without n, fails before the search
        stability.sized(s.cfg, n).validate()
    check_eval_seeds(s.cfg.seeds, s.opts.tuning_seed)
    dirs = stability.run_stability(
        s.factory, s.cfg, s.optimum(search), sizes, s.out, tuning_seed=s.opts.tuning_seed, log=s.log
    )
    for d in dirs:
        s.show((d / "stability.md").read_text())
    s.log(f"table, data and plots in {', '.join(map(str, dirs))}")
