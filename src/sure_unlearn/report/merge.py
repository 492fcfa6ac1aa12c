"""Merge results directories into one: the shards of a benchmark (``--shard i/n``), or runs of other seeds.

``sure report DIR1 DIR2 … --out DIR`` reads each directory's ``summary.json``, checks that they describe
the same benchmark (dataset, model, recipe and split settings must agree), takes the union of their runs
(a run present in several must agree on everything but its costs), copies the per-run files and splits
into ``DIR``, and writes one summary with its intervals and ranking over all of them.

``--replace`` is for results re-run after a change (new tuned values, a fix): a run present in several
directories is taken from the last one that holds it, so ``sure report OLD NEW --replace --out DIR`` keeps
everything of ``OLD`` that ``NEW`` did not run again.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sure_unlearn.errors import DataError
from sure_unlearn.metrics.core import is_runtime_key
from sure_unlearn.protocol.layout import REFERENCES
from sure_unlearn.report.ranking import summarise
from sure_unlearn.report.tables import write_summary

# what must agree for two directories to be parts of one benchmark
SAME = (
    "dataset",
    "dataset_kwargs",
    "model",
    "model_kwargs",
    "recipe",
    "train_subset",
    "test_subset",
    "holdout_fraction",
    "pool_size",
    "num_classes",
)
UNION = ("seeds", "methods")


def _load(d: Path) -> dict[str, Any]:
    path = d / "summary.json"
    if not path.is_file():
        raise DataError(f"no summary.json in {d}: not a results directory (run `sure benchmark --out {d}`)")
    try:
        return json.loads(path.read_text())  # type: ignore[no-any-return]
    except ValueError as e:
        raise DataError(f"{path} is not valid JSON ({e})") from None


def _outcome(run: dict[str, Any]) -> dict[str, Any]:
    """A run without its costs (times differ between processes; nothing else may)."""
    return {
        **run,
        "metrics": {k: v for k, v in run.get("metrics", {}).items() if not is_runtime_key(k)},
        "gaps": {k: v for k, v in run.get("gaps", {}).items() if not is_runtime_key(k)},
    }


def merge(dirs: Sequence[str | Path], out: str | Path, replace: bool = False) -> dict[str, Any]:
    """Merge ``dirs`` into ``out`` (see the module docstring); returns the merged summary.

    A run held by several directories must agree between them, unless ``replace``: then the last
    directory's copy wins.
    """
    if not dirs:
        raise DataError("give at least one results directory to merge")
    paths, out = [Path(d) for d in dirs], Path(out)
    summaries = [_load(d) for d in paths]
    how_one_ran = ("shard", "queue")
    config = {k: v for k, v in summaries[0]["config"].items() if k not in how_one_ran}
    for d, s in zip(paths[1:], summaries[1:], strict=True):
        for k in SAME:
            if s["config"].get(k) != config.get(k):
                raise DataError(
                    f"{d} is another benchmark than {paths[0]}: its {k} differs "
                    f"({s['config'].get(k)!r} vs {config.get(k)!r}); merge only parts of one benchmark"
                )
        for k in UNION:
            config[k] = list(dict.fromkeys([*config.get(k, []), *s["config"].get(k, [])]))
        known = config.get("scenarios", {})  # the first directory's settings and order, then new ones
        config["scenarios"] = {
            **known,
            **{k: v for k, v in s["config"].get("scenarios", {}).items() if k not in known},
        }
    runs: dict[tuple[str, str, int], dict[str, Any]] = {}
    source: dict[tuple[str, str, int], Path] = {}
    for d, s in zip(paths, summaries, strict=True):
        for r in s["runs"]:
            key = (r["scenario"], r["method"], int(r["seed"]))
            if key in runs and not replace and _outcome(runs[key]) != _outcome(r):
                raise DataError(
                    f"{key} differs between {source[key]} and {d}; a run can be merged only once "
                    "(or pass --replace to take each run from the last directory that holds it)"
                )
            if replace or key not in runs:
                runs[key], source[key] = r, d
    out.mkdir(parents=True, exist_ok=True)
    for (scenario, _method, seed), d in source.items():
        for sub in (Path(scenario) / _method / f"seed{seed}", Path(scenario) / f"seed{seed}"):
            src, dst = d / sub, out / sub
            if src.is_dir() and src.resolve() != dst.resolve():
                shutil.copytree(src, dst, dirs_exist_ok=True)
    # the order one unsharded benchmark writes: scenario, seed, then references and methods as configured
    order = [*REFERENCES, *config.get("methods", [])]
    scen = list(config.get("scenarios", {}))

    def place(k: tuple[str, str, int]) -> tuple[int, int, int, str]:
        s_, m_, seed_ = k
        return (
            scen.index(s_) if s_ in scen else len(scen),
            seed_,
            order.index(m_) if m_ in order else len(order),
            m_,
        )

    summary = summarise(config, [runs[k] for k in sorted(runs, key=place)])
    write_summary(out, summary, plots="all")
    return summary
