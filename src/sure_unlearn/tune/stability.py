"""``sure stability``: do hyperparameters tuned on one forget set still work on others (Fan et al. 2024, §4)?

The tuned values are re-used, unchanged, at other forget-set sizes ``n`` (``random`` and
``partial_class``) and on other seeds. Each size is an ordinary benchmark run (its own results directory
under ``stability/n<size>/``, readable by ``sure report``), so originals are shared between sizes and
oracles are cached. The table and the plot give each metric's |gap| to the same seed's oracle,
mean ± std over seeds, against the size; the size the search saw is marked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sure_unlearn.errors import ConfigError
from sure_unlearn.protocol.config import BenchmarkConfig
from sure_unlearn.report.tables import mean_std
from sure_unlearn.tune import objective as obj
from sure_unlearn.tune.plots import MISSING
from sure_unlearn.tune.results import write_csv, write_json
from sure_unlearn.tune.study import BenchFactory, Log, check_eval_seeds, tuned_hparams

# The gaps drawn and tabulated: the two aggregates, the objective, then each metric of the benchmark.
KEYS = (
    "distance",
    "gap_avg",
    "gap_rep",
    "forget_acc",
    "retain_acc",
    "test_acc",
    "mia_efficacy",
    "mia_loss",
    "rep_mia_knn",
    "rep_mia_linear",
    "rep_auc",
)
TABLE_KEYS = ("distance", "gap_avg", "gap_rep", "forget_acc", "test_acc", "mia_efficacy", "rep_auc")
ORACLE = "retrain"


def sized(cfg: BenchmarkConfig, n: int) -> BenchmarkConfig:
    """``cfg`` with every scenario's forget set of ``n`` samples."""
    scenarios = {}
    for name, sc in cfg.scenarios.items():
        if sc.name not in ("random", "partial_class") or sc.n is None:
            raise ConfigError(
                f"stability varies the forget-set size n; scenario {name!r} ({sc.name}"
                f"{', by fraction' if sc.n is None else ''}) has none: use random or partial_class with n"
            )
        scenarios[name] = dataclasses.replace(sc, n=n, fraction=None)
    return cfg.with_overrides(scenarios=scenarios)


def gap_of(run: dict[str, Any], key: str) -> float:
    return obj.distance(run["gaps"]) if key == "distance" else float(run["gaps"].get(key, float("nan")))


def stability(factory: BenchFactory, cfg: BenchmarkConfig, sizes: Sequence[int], out: Path) -> dict[str, Any]:
    """Run ``cfg`` (its hparams: the tuned ones) at every size; returns the rows of the table."""
    if not sizes or any(n < 1 for n in sizes):
        raise ConfigError(f"--sizes must be positive integers, got {list(sizes)}")
    tuned = {name: sc.n for name, sc in cfg.scenarios.items()}
    cfgs = {n: sized(cfg, n) for n in sizes}  # every scenario is checked before any training
    runs = []
    for n, c in cfgs.items():
        summary = factory(c, out / f"n{n}").run()
        runs += [{**r, "size": n} for r in summary["runs"] if r["method"] != ORACLE]
    rows = []
    methods = list(dict.fromkeys(r["method"] for r in runs))
    for sc in cfg.scenarios:
        for m in methods:
            for n in sizes:
                rs = [r for r in runs if r["scenario"] == sc and r["method"] == m and r["size"] == n]
                if not rs:
                    continue
                row: dict[str, Any] = {
                    "scenario": sc,
                    "method": m,
                    "size": n,
                    "tuned_size": tuned[sc],
                    "seeds": [r["seed"] for r in rs],
                }
                for k in KEYS:
                    row[k] = list(mean_std([gap_of(r, k) for r in rs]))
                rows.append(row)
    return {
        "sizes": list(sizes),
        "tuned_size": tuned,
        "seeds": list(cfg.seeds),
        "keys": list(KEYS),
        "hparams": cfg.hparams,
        "rows": rows,
    }


def markdown(data: dict[str, Any]) -> str:
    """One table per scenario: a row per (method, size), |gap| to the oracle as mean ± std over seeds."""
    out = [
        "# Stability: tuned hyperparameters at other forget-set sizes",
        "",
        f"Seeds {data['seeds']}. Each cell: |method − oracle| (mean ± std over seeds when there are several); distance = "
        "(gap avg + gap rep)/2, the search's objective; rep AUC in 0–1, the rest in points. "
        "`*` marks the size the search was tuned on.",
    ]
    places = {k: 3 if k == "rep_auc" else 2 for k in TABLE_KEYS}
    for sc in dict.fromkeys(r["scenario"] for r in data["rows"]):
        out += [
            "",
            f"## {sc}",
            "",
            "| method | n | " + " | ".join(TABLE_KEYS) + " |",
            "|---|---|" + "---|" * len(TABLE_KEYS),
        ]
        for r in (r for r in data["rows"] if r["scenario"] == sc):
            star = "*" if r["size"] == r["tuned_size"] else ""
            cells = [  # one seed has no spread to show
                f"{r[k][0]:.{places[k]}f}" + (f" ± {r[k][1]:.{places[k]}f}" if len(data["seeds"]) > 1 else "")
                for k in TABLE_KEYS
            ]
            out.append(f"| {r['method']} | {r['size']}{star} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def write(d: Path, data: dict[str, Any]) -> list[Path]:
    """``stability.json``, ``stability.csv``, ``stability.md`` and ``stability_<scenario>.png``."""
    from sure_unlearn.files import atomic_write_text
    from sure_unlearn.tune.plots import stability_plots

    write_json(d / "stability.json", data)
    flat = [
        {
            **{k: r[k] for k in ("scenario", "method", "size", "tuned_size")},
            **{f"{k}_mean": r[k][0] for k in data["keys"]},
            **{f"{k}_std": r[k][1] for k in data["keys"]},
        }
        for r in data["rows"]
    ]
    write_csv(d / "stability.csv", flat)
    atomic_write_text(d / "stability.md", markdown(data))
    return stability_plots(data, d)


def run_stability(
    factory: BenchFactory,
    cfg: BenchmarkConfig,
    optimum: dict[str, dict[str, dict[str, Any]]],
    sizes: Sequence[int],
    out: Path,
    *,
    tuning_seed: int | None = None,
    log: Log | None = None,
) -> list[Path]:
    """Stability of every group's tuned values (``optimum``, from :func:`~.study.optima`) on ``cfg.seeds``;
    writes ``out/stability`` (``out/stability/<group>`` when there are several groups). Returns the dirs."""
    if tuning_seed is not None:
        check_eval_seeds(cfg.seeds, tuning_seed)
    dirs = []
    for key, tuned in optimum.items():
        gcfg = cfg.with_overrides(
            scenarios={s: cfg.scenarios[s] for s in key.split("+")},
            methods=tuple(tuned),
            hparams=tuned_hparams(cfg, tuned),
        )
        d = out / "stability" if len(optimum) == 1 else out / "stability" / key
        if not write(d, stability(factory, gcfg, sizes, d)) and log:
            log(MISSING)
        dirs.append(d)
    return dirs
