"""``sure sensitivity``: how every metric moves when two hyperparameters move around the optimum.

The grid multiplies the two hyperparameters by factors spread evenly over [1 − span, 1 + span]
(default 5 × 5 over ±20%, SURE's Appendix E); the centre cell is the optimum itself, so the heatmap of
``cell − centre`` is 0 there. All other hyperparameters stay at the optimum. Each cell is one unlearning
run per seed (averaged), evaluated on every metric of the benchmark plus the gaps and the objective. A cell whose
config cannot run (a factor that leaves a valid range) is recorded with its error and drawn blank.

>>> factors(5, 0.2)
[0.8, 0.9, 1.0, 1.1, 1.2]
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sure_unlearn.errors import ConfigError
from sure_unlearn.methods import METHODS, make_config
from sure_unlearn.progress import bar
from sure_unlearn.protocol.config import BenchmarkConfig
from sure_unlearn.protocol.runs import Run
from sure_unlearn.report.tables import mean_std
from sure_unlearn.space import scaled
from sure_unlearn.tune import objective as obj
from sure_unlearn.tune.plots import MISSING
from sure_unlearn.tune.results import write_csv, write_json
from sure_unlearn.tune.study import CATCH, BenchFactory, Log, check_eval_seeds

SKIP = frozenset({"eval_s"})  # evaluation time is not a property of the unlearned model
SCORES = ("gap_avg", "gap_rep", "distance")


def factors(points: int = 5, span: float = 0.2) -> list[float]:
    """``points`` multiplicative factors evenly spread over [1 − span, 1 + span], exactly 1 in the middle."""
    if points < 3 or points % 2 == 0:
        raise ConfigError(f"--grid must be odd and ≥ 3 so that the optimum is the centre cell, got {points}")
    if not 0 < span < 1:
        raise ConfigError(f"--span must lie in (0, 1), got {span}")
    out = [round(1 - span + 2 * span * i / (points - 1), 12) for i in range(points)]
    out[points // 2] = 1.0
    return out


def default_params(method: str) -> tuple[str, str]:
    """The first two hyperparameters of the method's declared space (SURE: lr and α)."""
    space = list(METHODS.get(method).space)
    if len(space) < 2:
        raise ConfigError(
            f"{method} searches {space or 'nothing'}; name two numeric hyperparameters with --params A,B"
        )
    return space[0], space[1]


def centre_hparams(method: str, hparams: dict[str, Any]) -> dict[str, Any]:
    """Every field of the method's config at ``hparams`` (the optimum), defaults filled in."""
    return dataclasses.asdict(make_config(method, hparams))


def scores(runs: Sequence[Run]) -> dict[str, float]:
    """Every metric (mean over the runs' seeds) plus gap_avg, gap_rep and the objective's distance."""
    out: dict[str, float] = {}
    for k, v in runs[0].metrics.items():
        if k not in SKIP and isinstance(v, int | float):
            out[k] = mean_std([float(r.metrics.get(k, math.nan)) for r in runs])[0]
    for k in ("gap_avg", "gap_rep"):
        out[k] = mean_std([float(r.gaps.get(k, math.nan)) for r in runs])[0]
    out["distance"] = mean_std([obj.distance(r.gaps) for r in runs])[0]
    return out


def sensitivity(
    bench: Any,
    scenario: str,
    seeds: Sequence[int],
    method: str,
    centre: dict[str, Any],
    params: tuple[str, str],
    facs: Sequence[float],
    *,
    log: Log | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Evaluate the grid; returns the data the heatmaps are drawn from (``value`` and ``diff`` per metric,
    rows indexed by ``params[0]``'s factor, columns by ``params[1]``'s)."""
    log = log or (lambda msg: None)
    pa, pb = params
    for p in params:
        if p not in centre:
            raise ConfigError(f"{method} has no hyperparameter {p!r}; it has {sorted(centre)}")
    space = METHODS.get(method).space
    refs = [bench.references(scenario, s) for s in seeds]
    log(
        f"[sensitivity {method} on {scenario}] {pa} = {centre[pa]:.4g}, {pb} = {centre[pb]:.4g}, "
        f"factors {list(facs)}, seeds {list(seeds)}"
    )
    cells: list[list[dict[str, Any]]] = []
    with bar(total=len(facs) ** 2, desc=f"sensitivity {method}", enabled=progress) as b:
        for fa in facs:
            row = []
            for fb in facs:
                hp = {
                    **centre,
                    pa: scaled(space.get(pa), centre[pa], fa),
                    pb: scaled(space.get(pb), centre[pb], fb),
                }
                cell: dict[str, Any] = {"factors": [fa, fb], "values": [hp[pa], hp[pb]]}
                try:
                    cell["scores"] = scores(
                        [bench.evaluate_run(r, method, make_config(method, hp)) for r in refs]
                    )
                except CATCH as e:
                    cell["error"] = f"{type(e).__name__}: {e}"
                    log(f"  {pa}×{fa:g}, {pb}×{fb:g}: {cell['error']}")
                row.append(cell)
                b.update()
            cells.append(row)
    c = len(facs) // 2
    if "scores" not in cells[c][c]:
        raise ConfigError(f"the optimum itself cannot run: {cells[c][c]['error']}")
    names = list(cells[c][c]["scores"])
    value = {n: [[cell.get("scores", {}).get(n, math.nan) for cell in row] for row in cells] for n in names}
    diff = {n: [[v - value[n][c][c] for v in row] for row in value[n]] for n in names}
    return {
        "method": method,
        "scenario": scenario,
        "seeds": list(seeds),
        "params": [pa, pb],
        "centre": {pa: centre[pa], pb: centre[pb]},
        "hparams": centre,
        "factors": list(facs),
        "axis_values": {pa: [r[0]["values"][0] for r in cells], pb: [cell["values"][1] for cell in cells[0]]},
        "metrics": names,
        "value": value,
        "diff": diff,
        "cells": cells,
    }


def write(d: Path, data: dict[str, Any]) -> list[Path]:
    """``sensitivity.json``, ``sensitivity.csv`` and the heatmaps (``heatmaps/<metric>.png``, ``heatmaps.png``)."""
    from sure_unlearn.tune.plots import heatmaps

    write_json(d / "sensitivity.json", data)
    pa, pb = data["params"]
    rows = []
    for i, row in enumerate(data["cells"]):
        for j, cell in enumerate(row):
            r: dict[str, Any] = {
                "row": i,
                "col": j,
                f"factor:{pa}": cell["factors"][0],
                f"factor:{pb}": cell["factors"][1],
                pa: cell["values"][0],
                pb: cell["values"][1],
            }
            for n in data["metrics"]:
                r[n], r[f"diff:{n}"] = data["value"][n][i][j], data["diff"][n][i][j]
            r["error"] = cell.get("error", "")
            rows.append(r)
    write_csv(d / "sensitivity.csv", rows)
    return heatmaps(data, d)


def run_sensitivity(
    factory: BenchFactory,
    cfg: BenchmarkConfig,
    optimum: dict[str, dict[str, dict[str, Any]]],
    out: Path,
    *,
    params: tuple[str, str] | None = None,
    points: int = 5,
    span: float = 0.2,
    tuning_seed: int | None = None,
    log: Log | None = None,
    progress: bool = False,
) -> list[Path]:
    """The grid around ``optimum`` ({group: {method: tuned values}}, from :func:`~.study.optima`) for every
    method and scenario, on ``cfg.seeds``; writes ``out/sensitivity/<scenario>/<method>/``. Returns the
    directories."""
    facs = factors(points, span)
    if tuning_seed is not None:
        check_eval_seeds(cfg.seeds, tuning_seed)
    bench = factory(cfg, out / "sensitivity")
    dirs = []
    for key, tuned in optimum.items():
        for method, values in tuned.items():
            centre = centre_hparams(method, {**cfg.hparams.get(method, {}), **values})
            pair = params or default_params(method)
            for scenario in key.split("+"):
                data = sensitivity(
                    bench, scenario, cfg.seeds, method, centre, pair, facs, log=log, progress=progress
                )
                d = out / "sensitivity" / scenario / method
                if not write(d, data) and log:
                    log(MISSING)
                dirs.append(d)
    return dirs
