"""A digest of an attacks benchmark's summary.json, as Markdown: per scenario, every attacked method's
per-example attack scores with 95% t-intervals over seeds, each marked where its paired difference to the
oracle (``retrain``, the same seeds) excludes 0, and what the attacks cost.

    .venv/bin/python benchmarks/attacks_digest.py benchmarks/results/attacks-v2/summary.json

The oracle is the target: an attack on it scores what an attacker gets from a model that never saw the
forget set. A mark says that the method's score differs from the oracle's at 95% (▲ above, ▼ below); no
mark says only that these seeds cannot tell them apart, not that they are equal. The last column lists
the attacks, of the five AUCs, whose paired interval excludes 0 ("untested" where the method and the
oracle share fewer than two seeds).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from sure_unlearn.metrics.stats import Interval, paired
from sure_unlearn.report.ranking import by_seed
from sure_unlearn.report.tables import interval_text

ORACLE, ORIGINAL = "retrain", "original"
# (metric, column title); the AUCs first: they are the ones the last column summarises
COLUMNS = (
    ("ulira_auc", "U-LiRA AUC"),
    ("rmia_auc", "RMIA AUC"),
    ("rep_lira_auc", "rep-LiRA AUC"),
    ("rep_rmia_auc", "rep-RMIA AUC"),
    ("rep_auc_cond", "rep AUC (label-aware)"),
    ("rmia_tpr_1fpr", "RMIA TPR@1%"),
    ("forget_score", "forget score"),
)
AUCS = tuple(k for k, _ in COLUMNS[:5])


def vs_oracle(diff: Interval) -> str:
    """▲ / ▼ where the paired interval of method − oracle lies above / below 0, else nothing."""
    if diff.n < 2 or diff.contains(0.0):
        return ""
    return " ▲" if diff.mean > 0 else " ▼"


def cell(stat: dict[str, float] | None, mark: str = "") -> str:
    if not stat or stat.get("n", 0) == 0:
        return "–"
    return interval_text(stat) + (" (1 seed)" if stat["n"] < 2 else mark)


def scenario_table(summary: dict[str, Any], scenario: str) -> str:
    stats, runs = summary["stats"][scenario], summary["runs"]
    order = [m for m in summary["config"]["methods"] if m in stats]
    methods = [ORIGINAL, ORACLE] + [m for m in order if m not in (ORIGINAL, ORACLE)]
    methods = [m for m in methods if m in stats and "ulira_auc" in stats[m]]
    head = ["method", *(t for _, t in COLUMNS), "attack cost (min)", "seeds", "differs from the oracle in"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    seeds = {key: by_seed(runs, scenario, key, part="metrics") for key, _ in COLUMNS}
    for m in methods:
        cells, differs, pairs = [m], [], []
        for key, _ in COLUMNS:
            mark = ""
            if m != ORACLE:
                diff = paired(seeds[key].get(m, {}), seeds[key].get(ORACLE, {}))
                mark = vs_oracle(diff)
                if key in AUCS and key in stats[m]:
                    pairs.append(diff.n)
                    if mark:
                        differs.append(key.removesuffix("_auc"))
            cells.append(cell(stats[m].get(key), mark))
        cost = stats[m].get("attacks_s")
        cells.append(f"{cost['mean'] / 60:.1f}" if cost else "–")
        cells.append(str(stats[m]["ulira_auc"]["n"]))
        if m == ORACLE:
            cells.append("ref")
        elif min(pairs, default=0) < 2:
            cells.append(f"untested: {min(pairs, default=0)} seed(s) shared with the oracle")
        else:
            cells.append(", ".join(differs) or "none")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def digest(summary: dict[str, Any]) -> str:
    out = [
        "# Per-example attacks: digest",
        "",
        "Mean [95% t-interval] over seeds. ▲/▼: the paired difference to the oracle (`retrain`, same seeds) "
        "excludes 0, above/below it. No mark: these seeds cannot tell the method from the oracle (not: "
        "they are equal). AUCs in 0–1 (0.5: the attack finds nothing), forget score in 0–1 (1: "
        "indistinguishable from retraining). Attack cost: the method's own unlearning runs on the shadows "
        "and for the forget score, with their statistics; for `original` the reference models.",
    ]
    for sc in summary["stats"]:
        if any("ulira_auc" in s for s in summary["stats"][sc].values()):
            out += ["", f"## {sc}", "", scenario_table(summary, sc)]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: attacks_digest.py SUMMARY_JSON")
    if not Path(sys.argv[1]).is_file():
        sys.exit(f"no {sys.argv[1]}: give a merged summary.json (sure report DIR... --out DIR)")
    print(digest(json.loads(Path(sys.argv[1]).read_text())), end="")
