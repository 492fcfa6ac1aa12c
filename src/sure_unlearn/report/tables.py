"""Tables and plots from results files alone: ``sure report DIR`` rebuilds ``summary.md`` and every PNG.

Nothing here computes a metric: it reads what the benchmark wrote and formats it, so a report can be
regenerated at any time. Inputs (the results contract and the per-run files of the attacks and similarity analyses):

- ``DIR/summary.json``: ``{"config", "runs": [{method, scenario, seed, hparams, metrics, gaps}]}``, with the
  model before unlearning as method ``original`` and the oracle as ``retrain``;
- in each run directory ``DIR/<scenario>/<method>/seed<k>/``, when present: ``cka.json`` (``layers``,
  ``to_oracle``, ``to_original``), ``attacks.npz`` (``labels``: 1 = forgotten target, 0 = never seen;
  ``score_<attack>``: higher = more likely a forgotten member) and ``embed.npz`` (``forget_z``, ``test_z``,
  ``forget_y``, ``test_y``).

A run's ``metrics`` may hold ``rep_auc_layers``, ``{layer: fresh-probe AUC}`` from input to output; it
feeds the erasure-by-depth plot, and the tables (numbers only) leave it out.

Any per-run file may be missing (older runs, attacks not enabled): its plot is skipped and ``summary.md``
says which plots exist. Outputs in ``DIR``: ``summary.md`` and, with matplotlib (the ``plots`` extra),
per scenario ``bars_<s>.png``, ``tradeoff_<s>.png``, ``depth_<s>.png``, ``cka_<s>.png``, ``roc_<s>.png``,
``embed_<s>.png``.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

import sure_unlearn.report.plots as figures
from sure_unlearn.errors import DataError
from sure_unlearn.files import atomic_write_text, jsonable
from sure_unlearn.metrics.core import GAP_AVG_KEYS, GAP_REP_KEYS
from sure_unlearn.metrics.info import infos, places
from sure_unlearn.metrics.stats import interval
from sure_unlearn.protocol.layout import BROKEN, ORACLE, ORIGINAL

Runs = list[dict[str, Any]]
PlotMode = Literal["none", "cheap", "all"]

COLUMNS: list[tuple[str, str]] = [(m.key, m.label) for m in infos(table="main")]
GAP_COLUMNS = [("distance", "distance"), ("gap_avg", "gap avg"), ("gap_rep", "gap rep")]
TIME_COLUMNS = [("runtime_s", "time (s)"), ("rrt", "RRT")]
# the second table: per-example attacks, the challenge's forget score, similarity to the references (all 0–1)
ATTACK_COLUMNS: list[tuple[str, str]] = [(m.key, m.label) for m in infos(table="attacks")]
ZERO_ONE = {m.key for m in infos(unit="0-1")}
BAR_KEYS = [(m.key, m.axis_label) for m in infos(bar=True)] + [
    ("distance", "distance to the oracle ↓"), ("gap_avg", "gap avg (points) ↓"), ("gap_rep", "gap rep (points) ↓"),
]  # fmt: skip
CHANCE = {m.key: m.chance for m in infos() if m.chance is not None}  # a blind probe's or attacker's value
LAYER_AUC = "rep_auc_layers"  # metric: {layer: fresh-probe AUC}, input to output
TRADEOFF_PANELS = [("rep_auc", "rep AUC (0.5 = erased)"), ("forget_acc", "forget accuracy (%)"),
                   ("ulira_auc", "U-LiRA AUC (0.5 = private)")]  # fmt: skip


def digits(key: str) -> int:
    """Decimal places of a metric in the tables: 3 for the 0–1 ones (AUCs, TPRs, scores, CKA), else 1."""
    return 3 if key in ZERO_ONE else places(key)


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1; 0 for one value) of the finite values; NaNs if none.

    >>> mean_std([1.0, 3.0, float("nan")])
    (2.0, 1.4142135623730951)
    """
    vals = [
        float(v)
        for v in values
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    ]
    if not vals:
        return float("nan"), float("nan")
    m = sum(vals) / len(vals)
    s = math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else 0.0
    return m, s


def fmt(values: Sequence[float], places: int) -> str:
    """``mean ± h`` over seeds, h the half-width of the 95% t-interval (just the mean for one seed), ``–``
    when there is no value.

    >>> fmt([1.0, 3.0], 1), fmt([1.0, 2.0, 3.0, 4.0, 5.0], 2), fmt([0.5], 3), fmt([], 1)
    ('2.0 ± 12.7', '3.00 ± 1.96', '0.500', '–')
    """
    iv = interval(values)
    if math.isnan(iv.mean):
        return "–"
    if iv.ci_high is None:
        return f"{iv.mean:.{places}f}"
    return f"{iv.mean:.{places}f} ± {iv.ci_high - iv.mean:.{places}f}"


def method_order(runs: Runs) -> list[str]:
    """Methods in order of appearance, with the references ``original``, ``retrain``, ``broken`` first."""
    seen = list(dict.fromkeys(r["method"] for r in runs))
    first = [m for m in (ORIGINAL, ORACLE, BROKEN) if m in seen]
    return first + [m for m in seen if m not in first]


def scenarios_of(runs: Runs) -> list[str]:
    """Scenario names in order of first appearance."""
    return list(dict.fromkeys(r["scenario"] for r in runs))


def by_method(runs: Runs, scenario: str) -> dict[str, Runs]:
    """One scenario's runs grouped by method, in :func:`method_order`."""
    groups: dict[str, Runs] = defaultdict(list)
    for r in runs:
        if r["scenario"] == scenario:
            groups[r["method"]].append(r)
    return {m: groups[m] for m in method_order(runs) if m in groups}


def _values(rs: Runs, part: str, key: str) -> list[float]:
    return [r.get(part, {}).get(key, float("nan")) for r in rs]


def gap_of_means(rs: Runs, oracle: Runs, keys: Sequence[str]) -> float:
    """Mean over ``keys`` of |mean over seeds(method) − mean over seeds(oracle)| (rep_auc ×100, in points).

    SalUn's tables report this *gap of means*; the tables' gap columns show the *mean of
    per-seed gaps* (each seed against its own oracle), and both are given when there are several seeds.
    """
    diffs = []
    for k in keys:
        d = abs(mean_std(_values(rs, "metrics", k))[0] - mean_std(_values(oracle, "metrics", k))[0])
        diffs.append(100.0 * d if k == "rep_auc" else d)
    return float(np.mean(diffs)) if diffs else float("nan")


def _cell(rs: Runs, key: str, method: str) -> str:
    cell = fmt(_values(rs, "metrics", key), digits(key))
    if method != ORACLE and any(key in r.get("gaps", {}) for r in rs):
        cell += f" ({fmt(_values(rs, 'gaps', key), digits(key))})"
    return cell


def reads_val(method: str) -> bool:
    """Whether a registered method trains on the validation set (SURE's never-seen domain): its val acc
    is then not a held-out figure. Unknown names (a results directory from elsewhere) read nothing."""
    from sure_unlearn.methods import METHODS

    return method in METHODS and "val" in METHODS.get(method).may_read


VAL_NOTE = "† reads the validation set (e.g. SURE's never-seen domain): its val acc is not held out."


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def table(runs: Runs, scenario: str) -> str:
    """The main markdown table of one scenario: each metric as mean ± std over seeds, |gap| in brackets.

    Gap columns are the mean ± std of per-seed gaps; with several seeds, two more columns give the gap
    of means (:func:`gap_of_means`). ``seeds`` counts the runs behind each row.
    """
    groups = by_method(runs, scenario)
    multi = any(len(rs) > 1 for rs in groups.values())
    head = ["method"] + [t for _, t in COLUMNS + GAP_COLUMNS]
    head += ["gap avg (of means)", "gap rep (of means)"] if multi else []
    head += [t for _, t in TIME_COLUMNS] + ["seeds"]
    lines = [_row(head), "|" + "---|" * len(head)]
    for m, rs in groups.items():
        cells = [f"{m} †" if reads_val(m) else m] + [_cell(rs, k, m) for k, _ in COLUMNS]
        cells += [
            "0" if m == ORACLE else fmt(_values(rs, "gaps", k), 2 if k != "distance" else 3)
            for k, _ in GAP_COLUMNS
        ]
        if multi:
            oracle = groups.get(ORACLE, [])
            cells += ["0" if m == ORACLE or not oracle else f"{gap_of_means(rs, oracle, keys):.2f}"
                      for keys in (GAP_AVG_KEYS, GAP_REP_KEYS)]  # fmt: skip
        cells += [fmt(_values(rs, "metrics", k), 1 if k == "runtime_s" else 3) for k, _ in TIME_COLUMNS]
        failed = sum(1 for r in rs if r.get("status", "ok") != "ok")
        lines.append(_row(cells + [f"{len(rs) - failed}" + (f" ({failed} failed)" if failed else "")]))
    return "\n".join(lines)


def interval_text(d: Mapping[str, Any]) -> str:
    """An interval dict (``summary.json``'s ``stats``) as ``mean [low, high]``: the mean alone below two
    seeds, ``–`` without a value.

    >>> interval_text({"mean": 0.5, "ci_low": 0.4, "ci_high": 0.6}), interval_text({"mean": 0.5, "ci_low": None})
    ('0.500 [0.400, 0.600]', '0.500')
    """
    lo, hi = d.get("ci_low"), d.get("ci_high")
    mean = d.get("mean")
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    return f"{mean:.3f}" if lo is None or hi is None else f"{mean:.3f} [{lo:.3f}, {hi:.3f}]"


def ranking_table(summary: dict[str, Any], scenario: str) -> str:
    """The ranking of one scenario (summary.json's ``ranking``): distance with its 95% t-interval, the
    paired difference to the best method with its interval, ties and the ``broken`` flag."""
    rows = summary.get("ranking", {}).get(scenario, [])
    if not rows:
        return ""

    head = [
        "rank",
        "method",
        "distance [95% CI]",
        "− best, paired [95% CI]",
        "vs best",
        "seeds best",
        "seeds",
    ]
    lines = [_row(head), "|" + "---|" * len(head)]
    rank = 0
    for r in rows:
        if not r["reference"]:
            rank += 1
        verdict = "best" if r["best"] else ("tied" if r["tied_with_best"] else "worse")
        flags = " ⚠ no better than broken" if r["no_better_than_broken"] and not r["reference"] else ""
        lines.append(
            _row(
                [
                    "ref" if r["reference"] else str(rank),
                    r["method"] + flags,
                    interval_text(r["distance"]),
                    "–" if r["best"] else interval_text(r["diff_to_best"]),
                    "–" if r["reference"] else verdict,
                    str(r["seeds_best"]),
                    str(r["distance"]["n"]),
                ]
            )
        )
    return "\n".join(lines)


RANKING_NOTE = (
    "Ranking by the distance to the oracle (0 = the oracle, ≈ 1 = the original: the share of the original's "
    "forgetting gap still left over outputs, representation membership and fresh representation probes, "
    "plus the share of the oracle's accuracy margin over chance lost). *tied*: the paired 95% t-interval "
    "of the difference to the best method (same seeds) contains 0, so no order is claimed; *⚠ no better "
    "than broken*: not significantly better than `broken`, the original with a re-initialised head (with "
    "one seed: a distance not below `broken`'s)."
)


UNRESOLVED = "—"  # a TPR at an FPR below 1/#never-seen targets: the run could not measure it


def _attack_cell(rs: Runs, key: str, method: str) -> str:
    """As :func:`_cell`; ``—`` where every run has the key but no value (an unresolvable TPR), and the
    forget score's granularity beside it where the runs record one (``forget_score_levels``)."""
    values = _values(rs, "metrics", key)
    if all(key in r["metrics"] for r in rs) and all(v is None for v in values):
        return UNRESOLVED
    cell = _cell(rs, key, method)
    if key == "forget_score":
        levels = sorted({int(v) for r in rs if isinstance(v := r["metrics"].get("forget_score_levels"), int)})
        cell += f" [{'/'.join(map(str, levels))} levels]" if levels else ""
    return cell


def resolution(runs: Runs, scenario: str) -> str:
    """One line stating the attacks' FPR resolution from ``attack_n_nonmembers``; '' if no run records it.

    >>> resolution([{"scenario": "s", "metrics": {"attack_n_nonmembers": 1000}}], "s")
    'Never-seen targets per run: 1,000, so the FPR moves in steps of 1/1,000 = 0.1%: TPR@1% rests on 10 false-positive steps; a TPR at an FPR below 1/n shows —.'
    >>> resolution([{"scenario": "s", "metrics": {"attack_n_nonmembers": 50}}], "s").split("%: ")[1]
    'too coarse for TPR@1%; a TPR at an FPR below 1/n shows —.'
    """
    ns = sorted({int(v) for r in runs if r["scenario"] == scenario
                 if isinstance(v := r["metrics"].get("attack_n_nonmembers"), int | float)})  # fmt: skip
    if not ns:
        return ""
    lo = ns[0]
    count = f"{lo:,}" if len(ns) == 1 else f"{lo:,}–{ns[-1]:,}"
    at_1 = f"TPR@1% rests on {lo // 100} false-positive steps" if lo >= 100 else "too coarse for TPR@1%"
    return (
        f"Never-seen targets per run: {count}, so the FPR moves in steps of 1/{lo:,} = {100 / lo:.3g}%: "
        f"{at_1}; a TPR at an FPR below 1/n shows {UNRESOLVED}."
    )


def attack_table(runs: Runs, scenario: str) -> str:
    """Per-example attacks, forget score and CKA (those present), mean ± std over seeds; '' if none."""
    groups = by_method(runs, scenario)
    keys = [(k, t) for k, t in ATTACK_COLUMNS if any(k in r["metrics"] for rs in groups.values() for r in rs)]
    if not keys:
        return ""
    head = ["method"] + [t for _, t in keys] + ["seeds"]
    lines = [_row(head), "|" + "---|" * len(head)]
    for m, rs in groups.items():
        lines.append(_row([m] + [_attack_cell(rs, k, m) for k, _ in keys] + [str(len(rs))]))
    note = resolution(runs, scenario)
    return "\n".join(lines + (["", note] if note else []))


def markdown(summary: dict[str, Any], plot_lines: Sequence[str] = ()) -> str:
    """``summary.md``: a header with the definitions, per scenario the tables, then ``plot_lines``."""
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
        "representations). Values are mean ± h over seeds, h the half-width of the **95% t-interval** "
        "(`seeds` = finished runs per row). In "
        "brackets: |method − oracle| (`retrain`), the mean over seeds of each seed's gap to its own oracle. "
        "gap avg = mean gap over UA, MIA-eff, retain acc, test acc; gap rep = mean gap over rep k-NN, rep "
        "lin, 100·rep AUC; with several seeds, the *(of means)* columns give |mean(method) − mean(oracle)| "
        "averaged the same way (SalUn's convention). distance: see the ranking. RRT = runtime / the oracle's "
        "training time measured in the same process. `broken` is the original with a re-initialised head.",
    ]
    if any(k in r["metrics"] for r in runs for k, _ in ATTACK_COLUMNS):
        out += [
            "",
            "Second table (0–1): U-LiRA and rep-LiRA are per-example likelihood-ratio attacks on forgotten "
            "targets vs never-seen examples, on outputs and on representations (AUC, TPR at 1% and 0.1% FPR; "
            "the oracle's values are the target, ≈ 0.5 AUC); RMIA and rep-RMIA rank each target's likelihood "
            "ratio to the same shadow models among the never-seen targets' (Zarifzadeh et al., ICML 2024). "
            "With n never-seen targets an FPR below 1/n cannot be measured: such a TPR shows —, and each "
            "table states n. Forget score is the NeurIPS 2023 challenge's forget quality (higher = better); "
            "with fewer than 8 models per side each example's points take only the number of values in "
            "[brackets]. CKA→oracle / CKA→original is linear CKA at z with the oracle / the original on the "
            "probe set (forget ∪ an equal number of unseen same-distribution samples).",
        ]
    for scenario in scenarios_of(runs):
        out += ["", f"## {scenario}", "", table(runs, scenario)]
        ranked = ranking_table(summary, scenario)
        if ranked:
            out += ["", f"Ranking ({scenario}):", "", ranked, "", RANKING_NOTE]
        if any(reads_val(m) for m in by_method(runs, scenario)):
            out += ["", VAL_NOTE]
        extra = attack_table(runs, scenario)
        if extra:
            out += ["", f"Attacks and representation similarity ({scenario}):", "", extra]
    if plot_lines:
        out += ["", "## Plots", "", *plot_lines]
    return "\n".join(out) + "\n"


# ---- reading per-run files ----------------------------------------------------------------------------


def run_dir(out: Path, scenario: str, method: str, seed: int) -> Path:
    """``DIR/<scenario>/<method>/seed<k>``, where a run's ``run.json`` and its per-run files live."""
    return out / scenario / method / f"seed{seed}"


def _load(path: Path, notes: list[str]) -> Any:
    """A ``.json`` or ``.npz`` file's contents, None if absent; an unreadable file is noted and skipped."""
    if not path.is_file():
        return None
    try:
        if path.suffix == ".json":
            return json.loads(path.read_text())
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        notes.append(f"- skipped unreadable `{path}`: {e}")
        return None


def stats_of(groups: Mapping[str, Runs]) -> dict[str, dict[str, tuple[float, float]]]:
    """method → key → (mean, std) over seeds, for every metric and the two aggregate gaps."""
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for m, rs in groups.items():
        keys = {k for r in rs for k, v in r["metrics"].items() if not isinstance(v, Mapping)}  # numbers only
        out[m] = {k: mean_std(_values(rs, "metrics", k)) for k in keys}
        out[m].update({k: mean_std(_values(rs, "gaps", k)) for k, _ in GAP_COLUMNS})
    return out


def cka_values(
    out: Path, scenario: str, groups: Mapping[str, Runs], notes: list[str]
) -> tuple[list[str], dict[str, dict[str, np.ndarray]]]:
    """Layers and, per reference (``oracle``, ``original``) and method, the mean per-layer CKA over seeds."""
    layers: list[str] = []
    acc: dict[str, dict[str, list[np.ndarray]]] = defaultdict(lambda: defaultdict(list))
    for m, rs in groups.items():
        for r in rs:
            rec = _load(run_dir(out, scenario, m, r["seed"]) / "cka.json", notes)
            if not isinstance(rec, dict) or not rec.get("layers"):
                continue
            layers = layers or list(rec["layers"])
            if list(rec["layers"]) != layers:
                notes.append(f"- `{scenario}/{m}/seed{r['seed']}/cka.json` has other layers; left out")
                continue
            for ref in ("oracle", "original"):
                if f"to_{ref}" in rec:
                    acc[ref][m].append(
                        np.array([np.nan if v is None else v for v in rec[f"to_{ref}"]], float)
                    )
    means = {ref: {m: np.nanmean(v, axis=0) for m, v in per.items()} for ref, per in acc.items()}
    return layers, means


def layer_order(per_run: Sequence[Sequence[str]]) -> list[str]:
    """One input-to-output order of the layers of several runs: each layer comes after the layer that
    precedes it in the first run that has it, so runs that lack some layers still merge in order.

    >>> layer_order([["layer1", "layer3", "z"], ["layer1", "layer2", "layer3"]])
    ['layer1', 'layer2', 'layer3', 'z']
    """
    order: list[str] = []
    for names in per_run:
        for i, name in enumerate(names):
            if name not in order:
                order.insert(order.index(names[i - 1]) + 1 if i else 0, name)
    return order


def depth_values(groups: Mapping[str, Runs]) -> tuple[list[str], dict[str, np.ndarray]]:
    """Layers (input to output) and, per method, seeds × layers of ``rep_auc_layers`` (NaN where a run
    lacks a layer); runs without the metric are left out."""
    have = {m: [r["metrics"][LAYER_AUC] for r in rs if isinstance(r["metrics"].get(LAYER_AUC), Mapping)]
            for m, rs in groups.items()}  # fmt: skip
    layers = layer_order([list(d) for ds in have.values() for d in ds])
    values = {
        m: np.array([[_number(d.get(k)) for k in layers] for d in ds], dtype=float)
        for m, ds in have.items()
        if ds
    }
    return layers, values


def _number(v: Any) -> float:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else math.nan


def attack_scores(
    out: Path, scenario: str, groups: Mapping[str, Runs], notes: list[str]
) -> dict[str, dict[str, list[tuple[np.ndarray, np.ndarray]]]]:
    """attack → method → [(labels, scores) per seed] from each run's ``attacks.npz``."""
    res: dict[str, dict[str, list[tuple[np.ndarray, np.ndarray]]]] = defaultdict(lambda: defaultdict(list))
    for m, rs in groups.items():
        for r in rs:
            z = _load(run_dir(out, scenario, m, r["seed"]) / "attacks.npz", notes)
            if not z or "labels" not in z:
                continue
            for key, s in z.items():
                if key.startswith("score_") and s.shape == z["labels"].shape:
                    res[key.removeprefix("score_")][m].append((z["labels"], s))
    return res


def embed_panels(
    out: Path, scenario: str, groups: Mapping[str, Runs], notes: list[str]
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(title, forget z, test z) per method from ``embed.npz`` of the method's lowest seed that has one."""
    panels = []
    for m, rs in groups.items():
        for r in sorted(rs, key=lambda r: r["seed"]):
            z = _load(run_dir(out, scenario, m, r["seed"]) / "embed.npz", notes)
            if z and "forget_z" in z and "test_z" in z:
                auc = r["metrics"].get("rep_auc")
                extra = f", rep AUC {auc:.2f}" if isinstance(auc, int | float) else ""
                panels.append((f"{m} (seed {r['seed']}{extra})", z["forget_z"], z["test_z"]))
                break
    return panels


# ---- writing ------------------------------------------------------------------------------------------

KINDS = {
    "bars": "per-metric bars, mean ± std over seeds, the oracle's value dashed",
    "tradeoff": "forgetting vs test accuracy, one point per method, the oracle (star) is the target",
    "depth": (
        "per-layer fresh-probe AUC (erasure by depth), one line per method, oracle and original dashed; "
        "its unseen side is the probe set's class-matched draw, another draw than rep AUC's, so at z "
        "the two differ by sampling noise"
    ),
    "cka": "linear CKA per layer to the oracle and to the original (mean over seeds)",
    "roc": "attack ROC curves, log-log, one panel per method and attack (mean TPR over seeds)",
    "embed": "2-D PCA of forget vs test representations, one panel per model (lowest seed)",
}
CHEAP = ("bars", "tradeoff", "depth")  # drawn from summary.json alone, after every run


def _draw(kind: str, path: Path, out: Path, sc: str, groups: Mapping[str, Runs], notes: list[str]) -> bool:
    methods, stats = list(groups), stats_of(groups)
    draw: dict[str, Callable[[], bool]] = {
        "bars": lambda: figures.bars(path, sc, methods, stats, BAR_KEYS, CHANCE),
        "tradeoff": lambda: figures.tradeoff(path, sc, methods, stats, TRADEOFF_PANELS),
        "depth": lambda: figures.depth(path, sc, methods, *depth_values(groups)),
        "cka": lambda: figures.cka(path, sc, methods, *cka_values(out, sc, groups, notes)),
        "roc": lambda: figures.roc(path, sc, methods, attack_scores(out, sc, groups, notes)),
        "embed": lambda: figures.embeddings(path, sc, embed_panels(out, sc, groups, notes)),
    }
    return draw[kind]()


def write_plots(out: Path, summary: dict[str, Any], mode: PlotMode = "all") -> list[str]:
    """Draw the plots of ``mode`` for every scenario; returns the markdown lines that list them.

    ``cheap`` draws what needs only ``summary.json`` (bars, trade-off, depth); ``all`` also reads the
    per-run files (CKA, ROC, embeddings); ``none`` draws nothing (a cut benchmark's last summary).
    """
    if mode == "none":
        return ["- no plots redrawn: the benchmark was cut; `sure report DIR` draws them all."]
    if figures.pyplot() is None:
        return ["No plots: matplotlib is not installed (`pip install 'sure-unlearn[plots]'`)."]
    runs = summary["runs"]
    kinds = list(KINDS) if mode == "all" else list(CHEAP)
    drawn: dict[str, list[str]] = {k: [] for k in kinds}
    missed: dict[str, list[str]] = {k: [] for k in kinds}
    notes: list[str] = []
    for sc in scenarios_of(runs):
        groups = by_method(runs, sc)
        for kind in kinds:
            name = f"{kind}_{sc}.png"
            (drawn if _draw(kind, out / name, out, sc, groups, notes) else missed)[kind].append(name)
    lines = []
    for kind, what in KINDS.items():
        need = {
            "depth": f"`{LAYER_AUC}`",
            "cka": "`cka.json`",
            "roc": "`attacks.npz`",
            "embed": "`embed.npz`",
        }.get(kind, "values to draw")
        if kind not in kinds:
            lines.append(
                f"- {kind}: not redrawn after each (scenario, seed); `sure report DIR` draws it ({what})."
            )
            continue
        if drawn[kind]:
            lines.append(f"- {', '.join(f'`{n}`' for n in drawn[kind])}: {what}.")
        if missed[kind]:
            lines.append(f"- no {', '.join(f'`{n}`' for n in missed[kind])}: no run there has {need}.")
    return lines + notes


def write_summary(out: Path, summary: dict[str, Any], plots: PlotMode = "cheap") -> None:
    """``summary.json`` and ``summary.md`` (atomically) and the plots of ``plots`` (see :func:`write_plots`).

    The benchmark calls this after every (scenario, seed), so the default ``cheap`` redraws only the bars,
    the trade-off and the depth plot, which need nothing but ``summary``; :func:`regenerate`
    (``sure report DIR``) draws all.
    """
    atomic_write_text(out / "summary.json", json.dumps(jsonable(summary), indent=1, default=float))
    lines = write_plots(out, summary, plots) if summary["runs"] else []
    atomic_write_text(out / "summary.md", markdown(summary, lines))


def regenerate(out: Path) -> str:
    """Rebuild ``summary.md`` and every plot of a results directory from its files; returns the markdown."""
    path = out / "summary.json"
    if not path.is_file():
        raise DataError(f"no summary.json in {out}; run `sure benchmark --out {out}` first")
    try:
        summary = json.loads(path.read_text())
    except ValueError as e:
        raise DataError(f"{path} is not valid JSON ({e}); rerun the benchmark to rewrite it") from e
    write_summary(out, summary, plots="all")
    return (out / "summary.md").read_text()
