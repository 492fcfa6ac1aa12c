"""A digest of a held-out comparison's summary.json, as Markdown: per scenario the ranking table of
``summary.md`` (``report.tables.ranking_table``), then SURE's and sure_plus's figures
beside the oracle's and the original's, and the erasure targets checked on them.

    .venv/bin/python benchmarks/heldout_digest.py benchmarks/results/cpu-heldout/summary.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from sure_unlearn.report.tables import ranking_table

FOCUS = ("sure", "sure_plus", "finetune")
REFS = ("original", "retrain", "broken")
COLUMNS = ("forget_acc", "test_acc", "val_acc", "rep_auc", "rep_auc_cond", "rrt")


def cell(stat: dict[str, float] | None, digits: int = 3) -> str:
    if not stat:
        return "–"
    half = (stat["ci_high"] - stat["ci_low"]) / 2
    return f"{stat['mean']:.{digits}f} ± {half:.{digits}f}"


def layers_ok(stats: dict[str, Any], method: str) -> str:
    """At every depth, is |method − oracle| ≤ |original − oracle| (means)?"""
    keys = sorted(k for k in stats.get(method, {}) if k.startswith("rep_auc_layers."))
    if not keys:
        return "–"
    bad = [k.split(".", 1)[1] for k in keys
           if abs(stats[method][k]["mean"] - stats["retrain"][k]["mean"])
           > abs(stats["original"][k]["mean"] - stats["retrain"][k]["mean"])]
    return "yes" if not bad else "no (" + ", ".join(bad) + ")"


def digest(summary: dict[str, Any]) -> str:
    lines = [f"Intervals: {summary['interval']['level']:.0%} {summary['interval']['kind']}-intervals over seeds."]
    for sc in summary["ranking"]:
        stats = summary["stats"][sc]
        lines += ["", f"### {sc}", "", ranking_table(summary, sc), ""]
        lines += ["| method | " + " | ".join(COLUMNS) + " | per-layer probe no further than the original's |",
                  "|---" * (len(COLUMNS) + 2) + "|"]
        for m in (*REFS, *FOCUS):
            if m in stats:
                lines.append(f"| {m} | " + " | ".join(cell(stats[m].get(c), 3 if c.startswith("rep") or c == "rrt" else 1)
                                                    for c in COLUMNS) + f" | {layers_ok(stats, m)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(digest(json.loads(Path(sys.argv[1]).read_text())))
