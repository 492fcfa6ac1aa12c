"""``sure report``: tables (mean ± 95% t-interval over seeds, both gap conventions) and every plot, from files alone."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sure_unlearn.errors import DataError
from sure_unlearn.metrics import gaps
from sure_unlearn.report import plots as figures
from sure_unlearn.report import tables as report

mpimg = pytest.importorskip("matplotlib.image")

METHODS = ("original", "retrain", "finetune", "sure")
LAYERS = ["conv1", "conv2", "z"]
DEPTH = {"original": [0.9, 0.95, 0.99], "retrain": [0.55, 0.5, 0.5], "finetune": [0.9, 0.9, 0.9]}


def metrics_for(method: str, seed: int) -> dict[str, float]:
    """Known per-seed values: finetune's test_acc is 1.0 then 3.0, the oracle's ua 10 then 20, etc."""
    m = {"forget_acc": 90.0, "retain_acc": 99.0, "test_acc": 50.0, "val_acc": 48.0, "ua": 10.0,
         "mia_efficacy": 30.0, "mia_loss": 60.0, "rep_mia_knn": 70.0, "rep_mia_linear": 55.0, "rep_auc": 0.8,
         "runtime_s": 12.0, "rrt": 0.5}  # fmt: skip
    if method == "retrain":
        m.update(ua=[10.0, 20.0][seed], forget_acc=[90.0, 80.0][seed], rep_auc=0.5, rrt=1.0)
    if method == "finetune":
        m.update(test_acc=[1.0, 3.0][seed], ua=[14.0, 18.0][seed])
    if method == "sure":
        m.update(rep_auc=[0.55, 0.6][seed], test_acc=45.0)
    m.update(
        ulira_auc=0.5 + 0.2 * seed if method == "finetune" else 0.5,
        cka_to_oracle=1.0 if method == "retrain" else 0.9,
    )
    return m


def layer_aucs(method: str, seed: int) -> dict[str, float]:
    """``rep_auc_layers`` of a run, input to output; SURE's seed 1 lacks the middle layer."""
    aucs = DEPTH.get(method, [0.8, 0.7 + 0.1 * seed, 0.6])
    return {k: v for k, v in zip(LAYERS, aucs, strict=True) if (method, seed, k) != ("sure", 1, "conv2")}


def write_results(out: Path, per_run_files: bool = True, with_layers: bool = True) -> dict:
    """A results directory: one scenario with 4 methods × 2 seeds and, optionally, every per-run file
    and the dict-valued per-layer metric ``rep_auc_layers``."""
    rng = np.random.default_rng(0)
    runs = []
    for seed in (0, 1):
        per_method = {m: metrics_for(m, seed) | ({"rep_auc_layers": layer_aucs(m, seed)} if with_layers else {})
                      for m in METHODS}  # fmt: skip
        for method, m in per_method.items():
            runs.append({"method": method, "scenario": "random", "seed": seed, "hparams": {}, "metrics": m,
                         "gaps": gaps(m, per_method["retrain"])})  # fmt: skip
            if not per_run_files:
                continue
            d = report.run_dir(out, "random", method, seed)
            d.mkdir(parents=True)
            depth = np.linspace(0, 1, len(LAYERS))
            to_oracle = np.ones(3) if method == "retrain" else 1 - 0.2 * depth
            (d / "cka.json").write_text(json.dumps({"layers": LAYERS, "to_oracle": to_oracle.tolist(),
                                                    "to_original": (1 - 0.1 * depth).tolist()}))  # fmt: skip
            shift = {"original": 2.0, "retrain": 0.0}.get(method, 1.0)
            labels = np.r_[np.ones(200), np.zeros(200)].astype(np.int64)
            scores = np.r_[rng.normal(shift, 1, 200), rng.normal(0, 1, 200)]
            np.savez(d / "attacks.npz", labels=labels, score_ulira=scores, score_rep_lira=scores[::-1])
            z = rng.normal(size=(60, 16)).astype(np.float32)
            np.savez(
                d / "embed.npz",
                forget_z=z[:30] + shift,
                test_z=z[30:],
                forget_y=np.zeros(30),
                test_y=np.zeros(30),
            )
    summary = {"config": {"name": "fake", "dataset": "synthetic", "model": "small_cnn"}, "runs": runs}
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary))
    return summary


def row(md: str, method: str, after: str = "") -> list[str]:
    """The cells of ``method``'s row in the first table following the line that contains ``after``."""
    text = md[md.index(after) :] if after else md
    line = next(ln for ln in text.splitlines() if ln.startswith((f"| {method} |", f"| {method} † |")))
    return [c.strip() for c in line.strip("|").split("|")]


def header(md: str, after: str = "") -> list[str]:
    text = md[md.index(after) :] if after else md
    line = next(ln for ln in text.splitlines() if ln.startswith("| method |"))
    return [c.strip() for c in line.strip("|").split("|")]


def assert_nontrivial_png(path: Path) -> np.ndarray:
    assert path.is_file(), path
    img = mpimg.imread(path)
    assert img.shape[0] > 250 and img.shape[1] > 400, img.shape
    rgb = img[..., :3]
    assert (rgb < 0.9).mean() > 0.02 and rgb.std() > 0.05, f"{path} is (nearly) blank"
    return img


def test_tables_show_mean_std_over_seeds_gaps_and_seed_counts(tmp_path):
    md = report.markdown(
        write_results(tmp_path, per_run_files=False)
    )  # what regenerate writes, less the plots
    cols = header(md)
    ft = dict(zip(cols, row(md, "finetune"), strict=True))
    # seeds 1.0 and 3.0: sample std √2, 95% t half-width t(0.975, 1) · √2 / √2 = 12.706
    assert ft["test acc"].startswith("2.0 ± 12.7")
    assert ft["test acc"] == "2.0 ± 12.7 (48.0 ± 12.7)"  # |1 − 50|, |3 − 50| per seed
    assert ft["seeds"] == "2"
    # gap avg per seed: (|14−10| + |1−50|)/4 = 13.25 and (|18−20| + |3−50|)/4 = 12.25
    assert ft["gap avg"] == "12.75 ± 6.35"  # std 0.707: 12.706 · 0.707 / √2
    # gap of means: (|16 − 15| + |2 − 50|)/4 = 12.25, differs from the mean of per-seed gaps
    assert ft["gap avg (of means)"] == "12.25"
    assert dict(zip(cols, row(md, "retrain"), strict=True))["gap avg"] == "0"
    sure = dict(zip(cols, row(md, "sure"), strict=True))
    assert sure["rep AUC"] == "0.575 ± 0.318 (0.075 ± 0.318)"
    # SURE trains on the validation set (its never-seen domain): flagged, FineTune is not
    assert sure["method"] == "sure †" and ft["method"] == "finetune" and report.VAL_NOTE in md
    # the second table: only the attack/similarity keys present
    assert header(md, "Attacks and representation similarity") == [
        "method",
        "U-LiRA AUC",
        "CKA→oracle",
        "seeds",
    ]
    assert row(md, "finetune", "Attacks and representation")[1] == "0.600 ± 1.271 (0.100 ± 1.271)"


def test_regenerate_draws_every_plot_from_the_run_files(tmp_path):
    write_results(tmp_path)
    md = report.regenerate(tmp_path)
    assert md == (tmp_path / "summary.md").read_text()
    assert dict(zip(header(md), row(md, "finetune"), strict=True))["test acc"].startswith("2.0 ± 12.7")
    for kind in ("bars", "tradeoff", "depth", "cka", "roc", "embed"):
        assert_nontrivial_png(tmp_path / f"{kind}_random.png")
        assert f"`{kind}_random.png`" in md
    assert "## Plots" in md and "not redrawn" not in md


def test_a_dict_valued_metric_is_left_out_of_tables_and_bars_and_feeds_the_depth_plot(tmp_path):
    summary = write_results(tmp_path)
    md = report.regenerate(tmp_path)
    tables = md[md.index("## random") : md.index("## Plots")]
    assert "rep_auc_layers" not in tables and "conv" not in tables  # no column, no cell shows the dict
    assert dict(zip(header(md), row(md, "sure"), strict=True))["rep AUC"].startswith("0.575 ± 0.318")
    stats = report.stats_of(report.by_method(summary["runs"], "random"))
    assert "rep_auc_layers" not in stats["sure"] and stats["sure"]["rep_auc"][0] == pytest.approx(0.575)
    assert "`depth_random.png`" in md and len(list(tmp_path.glob("*.png"))) == 6


def test_depth_values_merge_layers_in_order_and_mark_missing_ones(tmp_path):
    summary = write_results(tmp_path, per_run_files=False)
    summary["runs"][0]["metrics"]["rep_auc_layers"] = {"conv1": 0.9, "conv1b": 0.92, "conv2": 0.95, "z": 0.99}
    del summary["runs"][1]["metrics"]["rep_auc_layers"]  # a run without it (seed 0 oracle) is left out
    layers, values = report.depth_values(report.by_method(summary["runs"], "random"))
    assert layers == ["conv1", "conv1b", "conv2", "z"]
    assert values["retrain"].shape == (1, 4)  # only seed 1
    np.testing.assert_allclose(values["original"], [[0.9, 0.92, 0.95, 0.99], [0.9, np.nan, 0.95, 0.99]])
    assert np.isnan(values["sure"][1, 2]) and values["sure"][0, 2] == pytest.approx(0.7)


def test_depth_plot_is_drawn_after_each_run_and_skipped_with_a_note_without_the_metric(tmp_path):
    summary = write_results(tmp_path, per_run_files=False)
    report.write_summary(tmp_path, summary)  # plots="cheap": the depth plot needs only summary.json
    assert_nontrivial_png(tmp_path / "depth_random.png")
    out = tmp_path / "without"
    report.write_summary(out, write_results(out, per_run_files=False, with_layers=False))
    assert not (out / "depth_random.png").exists() and (out / "bars_random.png").exists()
    assert "no `depth_random.png`: no run there has `rep_auc_layers`" in (out / "summary.md").read_text()


def test_missing_and_unreadable_run_files_are_skipped_and_said(tmp_path):
    write_results(tmp_path)
    for method in METHODS:
        for seed in (0, 1):
            (report.run_dir(tmp_path, "random", method, seed) / "embed.npz").unlink()
    (report.run_dir(tmp_path, "random", "sure", 0) / "attacks.npz").write_bytes(b"not a zip")
    (report.run_dir(tmp_path, "random", "finetune", 1) / "cka.json").unlink()
    md = report.regenerate(tmp_path)
    assert not (tmp_path / "embed_random.png").exists()
    assert "no `embed_random.png`: no run there has `embed.npz`" in md
    assert "skipped unreadable" in md and "sure/seed0/attacks.npz" in md
    assert_nontrivial_png(tmp_path / "roc_random.png")  # the other runs' attacks still draw
    assert_nontrivial_png(tmp_path / "cka_random.png")


def test_cheap_mode_after_each_run_draws_only_what_summary_json_gives(tmp_path):
    summary = write_results(tmp_path)
    report.write_summary(tmp_path, summary)  # the benchmark's call: plots="cheap"
    assert (tmp_path / "bars_random.png").exists() and (tmp_path / "tradeoff_random.png").exists()
    assert not (tmp_path / "roc_random.png").exists()
    assert "roc: not redrawn after each (scenario, seed)" in (tmp_path / "summary.md").read_text()
    report.write_summary(tmp_path, summary, plots="none")  # a cut benchmark's last summary
    assert "no plots redrawn" in (tmp_path / "summary.md").read_text()


def test_without_matplotlib_the_tables_are_written_and_say_so(tmp_path, monkeypatch):
    monkeypatch.setattr(figures, "pyplot", lambda: None)
    write_results(tmp_path)
    md = report.regenerate(tmp_path)
    assert "matplotlib is not installed" in md and "| sure † |" in md
    assert not list(tmp_path.glob("*.png"))


def test_figures_grow_with_the_number_of_methods(tmp_path):
    def height(n: int) -> int:
        methods = ["original", "retrain"] + [f"method_{i}" for i in range(n - 2)]
        stats = {
            m: {"test_acc": (50.0 + i, 1.0), "rep_auc": (0.5 + 0.01 * i, 0.01)} for i, m in enumerate(methods)
        }
        assert figures.bars(
            tmp_path / f"b{n}.png", "s", methods, stats, [("test_acc", "t"), ("rep_auc", "r")]
        )
        return mpimg.imread(tmp_path / f"b{n}.png").shape[0]

    assert height(20) > 2 * height(4)


def test_roc_is_read_at_the_best_tpr_within_each_fpr():
    labels = np.r_[np.ones(4), np.zeros(4)]
    perfect = figures.roc_at(labels, np.r_[np.full(4, 2.0), np.zeros(4)], np.array([0.0, 0.01, 1.0]))
    assert perfect.tolist() == [1.0, 1.0, 1.0]
    blind = figures.roc_at(labels, np.r_[np.arange(4.0), np.arange(4.0)], np.array([0.0, 0.5, 1.0]))
    assert blind.tolist() == [0.0, 0.5, 1.0]


def test_regenerate_names_a_missing_or_broken_summary(tmp_path):
    with pytest.raises(DataError, match="no summary.json"):
        report.regenerate(tmp_path)
    (tmp_path / "summary.json").write_text("{oops")
    with pytest.raises(DataError, match="not valid JSON"):
        report.regenerate(tmp_path)
