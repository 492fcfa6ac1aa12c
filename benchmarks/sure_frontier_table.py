"""SURE's frontier on held-out seeds: a SURE variant's results directory beside ``sure_plus``, the preset's
SURE, the oracle and the original of the held-out comparison, with each one's paired distance to
``sure_plus`` (same seeds, same oracles). Markdown on stdout.

    .venv/bin/python benchmarks/sure_frontier_table.py benchmarks/results/sure-frontier/summary.json \\
        benchmarks/results/cpu-heldout/summary.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from sure_unlearn.metrics.stats import Interval, interval, paired

SCENARIOS = ("partial_class", "random", "full_class")
COLUMNS = (("rep_auc", 3), ("test_acc", 1), ("val_acc", 1), ("forget_acc", 1))


def runs(summary: dict[str, Any], method: str) -> dict[tuple[str, int], dict[str, Any]]:
    return {
        (r["scenario"], r["seed"]): r
        for r in summary["runs"]
        if r["method"] == method and r.get("status", "ok") != "failed"
    }


def fmt(iv: Interval, digits: int = 3) -> str:
    if iv.ci_low is None:
        return f"{iv.mean:.{digits}f}"
    return f"{iv.mean:.{digits}f} [{iv.ci_low:.{digits}f}, {iv.ci_high:.{digits}f}]"


def row(
    name: str,
    rs: dict[tuple[str, int], dict[str, Any]],
    plus: dict[tuple[str, int], dict[str, Any]],
    scenario: str,
) -> str:
    keys = sorted(k for k in rs if k[0] == scenario)
    ref = name in ("retrain", "original")
    by_seed = {k[1]: rs[k]["gaps"].get("distance") for k in keys}
    plus_by_seed = {k[1]: plus[k]["gaps"].get("distance") for k in plus if k[0] == scenario}
    distance = "0" if name == "retrain" else fmt(interval(list(by_seed.values())))
    diff = "–" if name in ("sure_plus", "retrain") else fmt(paired(by_seed, plus_by_seed))
    cols = [fmt(interval([rs[k]["metrics"].get(m) for k in keys]), d) for m, d in COLUMNS]
    rrt = "–" if ref else fmt(interval([rs[k]["metrics"].get("rrt") for k in keys]))
    return f"| {name} | {distance} | {diff} | {' | '.join(cols)} | {rrt} | {len(keys)} |"


def main(variant: Path, heldout: Path) -> None:
    front, held = json.loads(variant.read_text()), json.loads(heldout.read_text())
    rows = {
        "sure (variant)": runs(front, "sure"),
        "sure_plus": runs(held, "sure_plus"),
        "sure (preset)": runs(held, "sure"),
        "retrain": runs(held, "retrain"),
        "original": runs(held, "original"),
    }
    for sc in SCENARIOS:
        print(f"\n### {sc}\n")
        print(
            "| method | distance | − sure_plus, paired | rep_auc | test acc | val acc | forget acc | RRT | seeds |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for name, rs in rows.items():
            print(row(name, rs, rows["sure_plus"], sc))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
