"""A digest of a held-out comparison's summary.json, as Markdown: per scenario the ranking table of
``summary.md`` (``report.tables.ranking_table``), then SURE's and sure_plus's figures
beside the oracle's and the original's, and sure_plus's erasure targets checked on them (``targets``).

    .venv/bin/python benchmarks/heldout_digest.py benchmarks/results/cpu-heldout/summary.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from sure_unlearn.metrics.stats import paired
from sure_unlearn.report.tables import interval_text, ranking_table

FOCUS = ("sure", "sure_plus", "finetune")
REFS = ("original", "retrain", "broken")
COLUMNS = ("forget_acc", "test_acc", "val_acc", "rep_auc", "rep_auc_cond", "rrt")


def cell(stat: dict[str, float] | None, digits: int = 3) -> str:
    if not stat:
        return "–"
    if stat.get("ci_low") is None or stat.get("ci_high") is None:  # one seed: no interval
        return f"{stat['mean']:.{digits}f}"
    half = (stat["ci_high"] - stat["ci_low"]) / 2
    return f"{stat['mean']:.{digits}f} ± {half:.{digits}f}"


def layers_ok(stats: dict[str, Any], method: str) -> str:
    """At every depth, is |method − oracle| ≤ |original − oracle| (means)?"""
    keys = sorted(k for k in stats.get(method, {}) if k.startswith("rep_auc_layers."))
    if not keys:
        return "–"
    bad = [
        k.split(".", 1)[1]
        for k in keys
        if abs(stats[method][k]["mean"] - stats["retrain"][k]["mean"])
        > abs(stats["original"][k]["mean"] - stats["retrain"][k]["mean"])
    ]
    return "yes" if not bad else "no (" + ", ".join(bad) + ")"


def mean(stats: dict[str, Any], method: str, key: str) -> float:
    return float(stats[method][key]["mean"])


def cost_row(
    summary: dict[str, Any], sc: str, method: str = "sure_plus", rival: str = "finetune"
) -> tuple[str, str]:
    """RRT against the rival's at the same epochs, paired over seeds. Where the rival ran other epochs, its
    RRT at the method's epochs is estimated from its recorded seconds per epoch over the oracle time its
    own process measured (``runtime_s / rrt``)."""
    runs = {
        (r["method"], int(r["seed"])): r
        for r in summary["runs"]
        if r["scenario"] == sc and r["status"] == "ok"
    }
    seeds = sorted(s for m, s in runs if m == method and (rival, s) in runs)
    if not seeds:
        return "–", f"no seed with both {method} and {rival}"
    epochs = {m: {runs[m, s]["hparams"].get("epochs") for s in seeds} for m in (method, rival)}
    if len(epochs[method]) != 1 or None in epochs[method] or None in epochs[rival]:
        return "–", f"epochs not recorded or not one value: {epochs}"
    (e,) = epochs[method]
    mine = {s: runs[method, s]["metrics"]["rrt"] for s in seeds}
    theirs = {}
    for s in seeds:
        m = runs[rival, s]["metrics"]
        theirs[s] = (
            m["rrt"]
            if runs[rival, s]["hparams"]["epochs"] == e
            else m["seconds_per_epoch"] * e * m["rrt"] / m["runtime_s"]
        )
    d = paired(mine, theirs)
    if d.ci_low is None or d.ci_high is None:
        return "–", f"{len(seeds)} seed shared with {rival}: no interval"
    how = "same epochs" if epochs[rival] == {e} else f"{rival}'s s/epoch × {e}, estimated"
    verdict = "no" if d.ci_low > 0 else "yes" if d.ci_high < 0 else "tie: no order shown"
    return verdict, (
        f"{sum(mine.values()) / len(seeds):.3f} vs {sum(theirs.values()) / len(seeds):.3f} ({how}); "
        f"paired {d.mean:+.3f} [{d.ci_low:+.3f}, {d.ci_high:+.3f}]"
    )


def targets(summary: dict[str, Any], sc: str, method: str = "sure_plus") -> list[str]:
    """``sure_plus``'s erasure targets (listed in benchmarks/results/README.md, ``cpu-heldout-v2/``), each
    checked on means over seeds: a Markdown table of target, verdict and the figures behind it. The cost
    target is judged on the paired RRT interval against FineTune's: "no" above 0, "yes" below 0, else a tie
    (with one machine's load in the timings, a 95% interval rarely excludes 0 either way)."""
    stats, ranking = summary["stats"][sc], {r["method"]: r for r in summary["ranking"][sc]}
    if method not in stats or "retrain" not in stats or "original" not in stats:
        return []
    ora, ori = (lambda k: mean(stats, "retrain", k)), (lambda k: mean(stats, "original", k))
    mine = lambda k: mean(stats, method, k)  # noqa: E731
    yes = lambda ok: "yes" if ok else "no"  # noqa: E731
    r = ranking[method]
    rows = [
        (
            "distance tied with the best",
            "yes (best)" if r["best"] else yes(r["tied_with_best"]),
            f"{r['distance']['mean']:.3f}, − best {interval_text(r['diff_to_best'])}",
        )
    ]
    if sc in ("partial_class", "full_class"):
        gap = abs(mine("rep_auc") - ora("rep_auc"))
        rows.append(
            (
                "\\|rep_auc − oracle's\\| ≤ 0.05",
                yes(gap <= 0.05),
                f"{mine('rep_auc'):.3f} vs {ora('rep_auc'):.3f} ({gap:.3f})",
            )
        )
    if sc == "full_class":
        gap = abs(mine("forget_acc") - ora("forget_acc"))
        rows.append(
            (
                "forget acc within 2 points of the oracle's",
                yes(gap <= 2),
                f"{mine('forget_acc'):.1f} vs {ora('forget_acc'):.1f}",
            )
        )
    if sc == "random":
        for key in ("gap_avg", "gap_rep"):
            best = min(
                (m for m in stats if m in ranking and not ranking[m]["reference"]),
                key=lambda m: mean(stats, m, key),
            )
            lo, hi = stats[best][key]["ci_low"], stats[best][key]["ci_high"]
            rows.append(
                (
                    f"{key} within the best method's 95% CI",
                    yes(mine(key) <= hi) if hi is not None else "untested (one seed: no interval)",
                    f"{mine(key):.2f} vs {best}'s {mean(stats, best, key):.2f}"
                    + (f" [{lo:.2f}, {hi:.2f}]" if hi is not None else ""),
                )
            )
    drop = ori("test_acc") - mine("test_acc")
    rows.append(
        (
            "test acc at most 2 points below the original's",
            yes(drop <= 2),
            f"{mine('test_acc'):.1f} vs {ori('test_acc'):.1f} ({-drop:+.1f}; oracle {ora('test_acc'):.1f})",
        )
    )
    gap = abs(mine("val_acc") - ora("val_acc"))
    rows.append(
        (
            "val acc within 10 points of the oracle's",
            yes(gap <= 10),
            f"{mine('val_acc'):.1f} vs {ora('val_acc'):.1f}",
        )
    )
    rows.append(
        (
            "per-layer probe no further from the oracle's than the original's",
            layers_ok(stats, method),
            "means per depth",
        )
    )
    rows.append(("RRT at most FineTune's, same epochs", *cost_row(summary, sc, method)))
    return [
        "",
        f"{method}'s targets (means over seeds):",
        "",
        "| target | met | figures |",
        "|---|---|---|",
        *(f"| {t} | {v} | {f} |" for t, v, f in rows),
    ]


def digest(summary: dict[str, Any]) -> str:
    lines = [
        f"Intervals: {summary['interval']['level']:.0%} {summary['interval']['kind']}-intervals over seeds."
    ]
    for sc in summary["ranking"]:
        stats = summary["stats"][sc]
        lines += ["", f"### {sc}", "", ranking_table(summary, sc), ""]
        lines += [
            "| method | " + " | ".join(COLUMNS) + " | per-layer probe no further than the original's |",
            "|---" * (len(COLUMNS) + 2) + "|",
        ]
        for m in (*REFS, *FOCUS):
            if m in stats:
                lines.append(
                    f"| {m} | "
                    + " | ".join(
                        cell(stats[m].get(c), 3 if c.startswith("rep") or c == "rrt" else 1) for c in COLUMNS
                    )
                    + f" | {layers_ok(stats, m)} |"
                )
        lines += targets(summary, sc)
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) != 2 or not Path(sys.argv[1]).is_file():
        sys.exit(
            "usage: heldout_digest.py SUMMARY_JSON (a merged summary.json: sure report DIR... --out DIR)"
        )
    print(digest(json.loads(Path(sys.argv[1]).read_text())))
