"""A study's results as files a report can read: ``trials.csv``, ``best.json``, ``pareto.csv``.

``trials.csv`` has one row per trial: number, state, the objective value(s), the sampled hyperparameters
(``param:<name>``), each scenario's gaps and metrics (``<scenario>:gap:<name>``,
``<scenario>:metric:<name>``), whether it evaluated the incumbent (the values the config ran before the
search, outside the budget), the worker, the duration and, for a failed trial, its error.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sure_unlearn.files import atomic_write_text
from sure_unlearn.space import near_boundary
from sure_unlearn.tune import objective as obj

INCUMBENT = "incumbent"  # the user attribute of the incumbent's trial (the search's own name for it)


def is_incumbent(trial: Any) -> bool:
    """Whether ``trial`` (frozen or live) evaluates the incumbent rather than a sampled point."""
    return bool(trial.user_attrs.get(INCUMBENT))


def describe_values(values: Mapping[str, Any], sep: str = " ") -> str:
    """``lr=0.003 epochs=3``: hyperparameters as logs and tables show them."""
    return sep.join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=1, default=float) + "\n")


def write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """Rows as CSV; the header is the union of keys in first-seen order."""
    header: dict[str, None] = {}
    for r in rows:
        header.update(dict.fromkeys(r))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(header), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def trial_row(t: Any, scenarios: Sequence[str], mode: str) -> dict[str, Any]:
    row: dict[str, Any] = {"number": t.number, "state": t.state.name}
    for i, name in enumerate(obj.NAMES[mode]):
        row[name] = t.values[i] if t.values is not None else ""
    row.update({f"param:{k}": v for k, v in t.params.items()})
    for s in scenarios:
        res = t.user_attrs.get(s, {})
        row.update({f"{s}:gap:{k}": v for k, v in res.get("gaps", {}).items()})
        row.update({f"{s}:metric:{k}": v for k, v in res.get("metrics", {}).items()})
    dur = t.duration.total_seconds() if t.duration is not None else ""
    row.update(
        incumbent=is_incumbent(t),
        worker=t.user_attrs.get("worker", ""),
        duration_s=dur,
        surplus=bool(t.user_attrs.get("surplus")),
        error=t.user_attrs.get("error", ""),
    )
    return row


def trial_writer(d: Path, scenarios: Sequence[str], mode: str) -> Callable[[Any, Any], None]:
    """An Optuna callback that rewrites ``d/trials.csv`` from the whole study after every trial (so every
    worker's file shows every worker's trials)."""

    def write(study: Any, trial: Any) -> None:
        write_csv(d / "trials.csv", [trial_row(t, scenarios, mode) for t in study.get_trials(deepcopy=False)])

    return write


def scalar_distance(t: Any, scenarios: Sequence[str]) -> float:
    """The default objective of a trial, from its recorded gaps (used to pick from a Pareto front)."""
    vals = [obj.distance(t.user_attrs[s]["gaps"]) for s in scenarios if s in t.user_attrs]
    return sum(vals) / len(vals) if vals else math.inf


def best_record(
    study: Any,
    scenarios: Sequence[str],
    mode: str,
    base: dict[str, Any],
    space: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """best.json: the best complete trial (ties: the earliest) — for ``multi``, the Pareto-front trial with
    the smallest default distance — with its params, value(s) and per-scenario gaps; plus the front.

    ``boundary`` names the parameters whose optimum lies on or next to an end of its range
    (:func:`~sure_unlearn.space.near_boundary`): widen those ranges and search again. ``flat`` is
    True when every complete trial scored the same: the method did not respond to its hyperparameters.
    The incumbent's trial competes for the optimum but is not counted in ``n_complete`` (the budget);
    ``incumbent`` holds its values and score, and ``best_is_incumbent`` says whether it won."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    mine = [t for t in complete if is_incumbent(t)]
    record: dict[str, Any] = {
        "objective": mode,
        "names": list(obj.NAMES[mode]),
        "n_complete": len(complete) - len(mine),
        "n_fail": sum(t.state == TrialState.FAIL and not t.user_attrs.get("surplus") for t in trials),
        "params": {},
        "trial": None,
        "incumbent": {"trial": mine[0].number, "values": list(mine[0].values), "params": dict(mine[0].params)}
        if mine
        else None,
    }
    if not complete:
        return record
    if mode == "gap":
        best = min(complete, key=lambda t: (t.values[0], t.number))
    else:
        front = sorted(study.best_trials, key=lambda t: t.number)
        best = min(front, key=lambda t: (scalar_distance(t, scenarios), t.number))
        record["pareto"] = [{"trial": t.number, "values": list(t.values), "params": t.params} for t in front]
    record.update(
        trial=best.number,
        values=list(best.values),
        params=dict(best.params),
        hparams={**base, **best.params},
        distance=scalar_distance(best, scenarios),
        gaps={s: best.user_attrs[s]["gaps"] for s in scenarios if s in best.user_attrs},
        boundary={
            k: side
            for k, v in best.params.items()
            if space and k in space and (side := near_boundary(space[k], v)) is not None
        },
        flat=len(complete) > 1 and len({round(t.values[0], 9) for t in complete}) == 1,
        best_is_incumbent=is_incumbent(best),
    )
    return record


def write_pareto(d: Path, record: dict[str, Any]) -> None:
    """``pareto.csv``: the non-dominated trials of a two-objective study."""
    rows = [
        {
            "trial": p["trial"],
            **dict(zip(record["names"], p["values"], strict=True)),
            **{f"param:{k}": v for k, v in p["params"].items()},
        }
        for p in record.get("pareto", [])
    ]
    write_csv(d / "pareto.csv", rows)


def best_table(found: dict[str, dict[str, dict[str, Any]]]) -> str:
    """Markdown: per scenario group and method, the best objective value, trial counts and values."""
    lines = [
        "| scenarios | method | objective | best | trial | complete | failed | hyperparameters | flags |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, records in found.items():
        for m, r in records.items():
            vals = ", ".join(f"{v:.2f}" for v in r.get("values", [])) or "–"
            params = describe_values(r["params"], sep=", ")
            trial = "–" if r["trial"] is None else r["trial"]
            complete = f"{r['n_complete']}" + (" + incumbent" if r.get("incumbent") else "")
            complete += f" (+{r['running']} running)" if r.get("running") else ""
            flags = (
                ["best: the incumbent (the values before this search)"] if r.get("best_is_incumbent") else []
            )
            flags += [f"{k} at its {side} bound" for k, side in r.get("boundary", {}).items()]
            flags += ["flat: every trial scored the same"] if r.get("flat") else []
            flags += (
                [f"stale: made for another {', '.join(r['stale'])} (--restart-changed restarts it)"]
                if r.get("stale")
                else []
            )
            flags += (
                ["models unrecorded: made before studies recorded their original's and oracle's weights"]
                if r.get("models_unrecorded")
                else []
            )
            lines.append(
                f"| {key} | {m} | {r['objective']} | {vals} | {trial} | {complete} | {r['n_fail']} | "
                f"{params or '–'} | {'; '.join(flags) or '–'} |"
            )
    return "\n".join(lines) + "\n"
