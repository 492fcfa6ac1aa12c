"""Tables (and plots) from results files alone: ``summary.json`` → ``summary.md`` (+ PNGs).

Nothing here computes a metric: it reads runs and formats them, so a report can be regenerated at any time
with ``sure report DIR``.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from sure_unlearn.checkpoints import atomic_write_text

# (metric key, column title, scale) — rep_auc is shown in 0–1, the rest in percent
COLUMNS: list[tuple[str, str]] = [
    ("forget_acc", "forget acc"), ("retain_acc", "retain acc"), ("test_acc", "test acc"), ("val_acc", "val acc"),
    ("mia_efficacy", "MIA-eff"), ("mia_loss", "MIA-loss"), ("rep_mia_knn", "rep k-NN"),
    ("rep_mia_linear", "rep lin"), ("rep_auc", "rep AUC"),
]
GAP_COLUMNS = [("gap_avg", "gap avg"), ("gap_rep", "gap rep")]
TIME_COLUMNS = [("runtime_s", "time (s)"), ("rrt", "RRT")]


def mean_std(values: list[float]) -> tuple[float, float]:
    vals = [v for v in values if isinstance(v, int | float) and not math.isnan(v)]
    if not vals:
        return float("nan"), float("nan")
    m = sum(vals) / len(vals)
    s = math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else 0.0
    return m, s


def fmt(values: list[float], digits: int) -> str:
    m, s = mean_std(values)
    if math.isnan(m):
        return "–"
    return f"{m:.{digits}f}" if len(values) < 2 else f"{m:.{digits}f} ± {s:.{digits}f}"


def method_order(runs: list[dict[str, Any]]) -> list[str]:
    seen: list[str] = []
    for r in runs:
        if r["method"] not in seen:
            seen.append(r["method"])
    first = [m for m in ("original", "retrain") if m in seen]
    return first + [m for m in seen if m not in first]


def table(runs: list[dict[str, Any]], scenario: str) -> str:
    """A markdown table for one scenario: each metric as mean ± std over seeds, with |gap| to the oracle."""
    by_method: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in runs:
        if r["scenario"] == scenario:
            by_method[r["method"]].append(r)
    head = ["method"] + [t for _, t in COLUMNS + GAP_COLUMNS + TIME_COLUMNS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m in method_order(runs):
        rs = by_method.get(m)
        if not rs:
            continue
        cells = [m]
        for key, _ in COLUMNS:
            digits = 3 if key == "rep_auc" else 1
            cell = fmt([r["metrics"].get(key, float("nan")) for r in rs], digits)
            if m != "retrain" and key in rs[0]["gaps"]:
                cell += f" ({fmt([r['gaps'][key] for r in rs], digits)})"
            cells.append(cell)
        cells += [fmt([r["gaps"].get(k, float("nan")) for r in rs], 2) if m != "retrain" else "0" for k, _ in GAP_COLUMNS]
        cells += [fmt([r["metrics"].get(k, float("nan")) for r in rs], 1 if k == "runtime_s" else 3) for k, _ in TIME_COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown(summary: dict[str, Any]) -> str:
    runs = summary["runs"]
    cfg = summary.get("config", {})
    seeds = sorted({r["seed"] for r in runs})
    out = [
        f"# sure benchmark: {cfg.get('name', '')}",
        "",
        f"Dataset `{cfg.get('dataset')}`, model `{cfg.get('model')}` {cfg.get('model_kwargs', {})}, "
        f"device `{cfg.get('device')}`, seeds {seeds}.",
        "",
        "Accuracies and attacks in percent, rep AUC in 0–1 (0.5 = a fresh probe cannot tell forget from test "
        "representations). In brackets: |method − oracle| (`retrain`). gap avg = mean gap over UA, MIA-eff, "
        "retain acc, test acc; gap rep = mean gap over rep k-NN, rep lin, 100·rep AUC. "
        "RRT = runtime / oracle training time. Values are mean ± std over seeds.",
    ]
    for scenario in dict.fromkeys(r["scenario"] for r in runs):
        out += ["", f"## {scenario}", "", table(runs, scenario)]
    return "\n".join(out) + "\n"


def plot_bars(summary: dict[str, Any], path: Path) -> bool:
    """Per-metric bars per method with the oracle's value as a dashed line; False if matplotlib is absent."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    runs = summary["runs"]
    scenarios = list(dict.fromkeys(r["scenario"] for r in runs))
    keys = ["forget_acc", "test_acc", "mia_efficacy", "mia_loss", "rep_mia_linear", "rep_auc"]
    fig, axes = plt.subplots(len(scenarios), len(keys), figsize=(3.2 * len(keys), 3.0 * len(scenarios)), squeeze=False)
    for i, sc in enumerate(scenarios):
        methods = method_order([r for r in runs if r["scenario"] == sc])
        for j, key in enumerate(keys):
            ax = axes[i][j]
            vals = [mean_std([r["metrics"][key] for r in runs if r["scenario"] == sc and r["method"] == m]) for m in methods]
            colors = ["tab:gray" if m == "original" else "tab:green" if m == "retrain" else "tab:blue" for m in methods]
            ax.bar(range(len(methods)), [v[0] for v in vals], yerr=[v[1] for v in vals], color=colors, capsize=3)
            if "retrain" in methods:
                ax.axhline(vals[methods.index("retrain")][0], color="tab:green", ls="--", lw=1)
            ax.set_xticks(range(len(methods)), methods, rotation=45, ha="right", fontsize=8)
            ax.set_title(f"{sc}: {key}", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write_summary(out: Path, summary: dict[str, Any]) -> None:
    """``summary.json`` and ``summary.md`` (atomically), and ``metrics.png`` when matplotlib is installed."""
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=1, default=float))
    atomic_write_text(out / "summary.md", markdown(summary))
    if summary["runs"]:
        plot_bars(summary, out / "metrics.png")


def regenerate(out: Path) -> str:
    """Rebuild ``summary.md`` and the plots of a results directory from its ``summary.json``."""
    path = out / "summary.json"
    if not path.is_file():
        from sure_unlearn.errors import DataError

        raise DataError(f"no summary.json in {out}; run `sure benchmark --out {out}` first")
    summary = json.loads(path.read_text())
    write_summary(out, summary)
    return markdown(summary)
