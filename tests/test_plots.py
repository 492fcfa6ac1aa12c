"""The report's figures, checked through matplotlib's renderer: label boxes, axis limits, colour scales."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from sure_unlearn.report import plots as figures

pytest.importorskip("matplotlib")

PANELS = [("rep_auc", "rep AUC"), ("forget_acc", "forget accuracy (%)")]


def crowded_stats() -> dict[str, dict[str, tuple[float, float]]]:
    """Five methods on one point, two a hair away, and methods on every extreme of both axes."""
    same = {"test_acc": (50.0, 1.0), "rep_auc": (0.7, 0.02), "forget_acc": (40.0, 3.0)}
    stats = {
        m: dict(same) for m in ("original", "finetune", "grad_ascent", "a_much_longer_method_name", "ssd")
    }
    stats["cf_k"] = {"test_acc": (50.001, 1.0), "rep_auc": (0.7001, 0.02), "forget_acc": (40.01, 3.0)}
    stats["eu_k"] = {"test_acc": (49.999, 0.0), "rep_auc": (0.6999, 0.0), "forget_acc": (39.99, 0.0)}
    stats["retrain"] = {
        "test_acc": (60.0, 0.0),
        "rep_auc": (0.5, 0.0),
        "forget_acc": (0.0, 0.0),
    }  # right, bottom
    stats["sure"] = {"test_acc": (60.0, 0.0), "rep_auc": (1.0, 0.0), "forget_acc": (100.0, 0.0)}  # right, top
    stats["scrub"] = {"test_acc": (10.0, 0.0), "rep_auc": (1.0, 0.0), "forget_acc": (100.0, 0.0)}  # left, top
    stats["salun"] = {
        "test_acc": (10.0, 0.0),
        "rep_auc": (0.5, 0.0),
        "forget_acc": (0.0, 0.0),
    }  # left, bottom
    stats["l1_sparse"] = {"test_acc": (10.0, 0.0), "rep_auc": (0.5, 0.0), "forget_acc": (0.0, 0.0)}
    return stats


def label_boxes(fig) -> list[tuple[object, str, object]]:
    """(axes, method, window extent) of every method label, after a full draw."""
    fig.canvas.draw()
    return [
        (ax, t.get_text(), t.get_window_extent())
        for ax in fig.axes
        for t in ax.texts
        if t.get_gid() == figures.LABEL_GID
    ]


def intersect(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_tradeoff_labels_of_shared_points_and_axis_extremes_never_overlap_or_clip():
    stats = crowded_stats()
    methods = list(stats)
    fig = figures.tradeoff_figure("s", methods, stats, PANELS)
    boxes = label_boxes(fig)
    for ax in fig.axes:  # every method labelled once in each panel
        assert sorted(name for a, name, _ in boxes if a is ax) == sorted(methods)
    for (_, n1, b1), (_, n2, b2) in itertools.combinations(boxes, 2):
        assert not intersect(b1, b2), f"labels {n1!r} and {n2!r} overlap"
    page = fig.bbox
    for ax, name, b in boxes:
        frame = ax.get_window_extent()
        assert page.x0 <= b.x0 and b.x1 <= page.x1 and page.y0 <= b.y0 and b.y1 <= page.y1, name
        assert frame.x0 <= b.x0 and b.x1 <= frame.x1 and frame.y0 <= b.y0 and b.y1 <= frame.y1, name
    # the five methods that share a point cannot all sit beside it: the others hang on leader lines
    assert sum(len(ax.lines) for ax in fig.axes) >= 2 * 4 + 2 * 2  # + the oracle's two dashed lines each
    figures.pyplot().close(fig)


def test_tradeoff_grows_the_figure_when_a_label_finds_no_room(tmp_path):
    methods = ["retrain", "sure", "a_method_whose_name_is_far_too_long_" * 3]  # wider than the panel
    stats = {m: {"test_acc": (50.0 + i, 0.0), "rep_auc": (0.7, 0.0)} for i, m in enumerate(methods)}
    fig = figures.tradeoff_figure("s", methods, stats, PANELS[:1])
    boxes = label_boxes(fig)
    assert len(boxes) == 3
    for (_, n1, b1), (_, n2, b2) in itertools.combinations(boxes, 2):
        assert not intersect(b1, b2), f"labels {n1!r} and {n2!r} overlap"
    frame = fig.axes[0].get_window_extent()
    assert all(frame.x0 <= b.x0 and b.x1 <= frame.x1 for _, _, b in boxes)
    assert fig.get_size_inches()[1] > 4.5 + 0.12 * 3  # larger than its natural size
    assert figures.tradeoff(tmp_path / "t.png", "s", methods, stats, PANELS[:1])
    assert (tmp_path / "t.png").stat().st_size > 10_000


def test_bar_value_axes_start_at_zero_even_when_values_bunch_far_from_it():
    methods = ["original", "retrain", "finetune", "sure"]
    stats = {
        m: {"rep_auc": (0.9 - 0.01 * i, 0.01), "test_acc": (80.0 + i, 0.5), "mia_loss": (60.0, 0.0)}
        for i, m in enumerate(methods)
    }
    keys = [("rep_auc", "rep AUC"), ("test_acc", "test acc (%)"), ("mia_loss", "MIA-loss (%)")]
    fig = figures.bars_figure("s", methods, stats, keys, chance={"rep_auc": 0.5})
    panels = [ax for ax in fig.axes if ax.axison]
    assert len(panels) == 3
    for ax, (key, title) in zip(panels, keys, strict=True):
        assert ax.get_title() == title
        lo, hi = ax.get_xlim()
        assert lo == 0.0, (title, lo)
        assert hi >= max(sum(stats[m][key]) for m in methods)
    figures.pyplot().close(fig)


def test_cka_panels_share_one_colour_scale_and_one_colour_bar():
    layers = ["layer1", "layer2", "z"]
    methods = ["original", "retrain", "sure"]
    values = {  # to the oracle: down to 0.2; to the original: never below 0.8
        "oracle": {m: np.array([1.0, 0.6, 0.2 if m != "retrain" else 1.0]) for m in methods},
        "original": {m: np.array([1.0, 0.9, 0.8]) for m in methods},
    }
    fig = figures.cka_figure("s", methods, layers, values)
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 2
    assert images[0].get_clim() == images[1].get_clim() == (pytest.approx(0.2), 1.0)
    bars = [ax for ax in fig.axes if not ax.images]
    assert len(bars) == 1  # one colour bar for both panels
    figures.pyplot().close(fig)


def test_depth_draws_mean_over_seeds_with_an_interval_and_the_references():
    layers = ["layer1", "layer2", "z"]
    values = {
        "original": np.array([[0.9, 0.95, 0.99], [0.92, 0.95, 0.97]]),
        "retrain": np.array([[0.55, 0.5, 0.48], [0.53, 0.52, 0.5]]),
        "sure": np.array([[0.8, np.nan, 0.6], [0.9, 0.7, 0.62]]),  # layer2 only in seed 1
        "finetune": np.array([[0.85, 0.8, 0.7]]),  # one seed: no interval
    }
    methods = ["original", "retrain", "finetune", "sure"]
    fig = figures.depth_figure("s", methods, layers, values)
    (ax,) = fig.axes
    lines = {ln.get_label(): ln for ln in ax.lines}
    assert set(methods) <= set(lines)
    np.testing.assert_allclose(lines["sure"].get_ydata(), [0.85, 0.7, 0.61])
    np.testing.assert_allclose(lines["finetune"].get_ydata(), [0.85, 0.8, 0.7])
    assert lines["retrain"].get_linestyle() == "--" and lines["original"].get_linestyle() == "-."
    assert lines["sure"].get_color() == figures.COLOURS["sure"]
    assert lines["chance"].get_linestyle() == ":" and set(lines["chance"].get_ydata()) == {0.5}
    assert ax.get_ylim() == (0.4, 1.0)
    # shaded intervals for the three methods with two seeds, none for finetune
    assert len(ax.collections) == 3
    assert [t.get_text() for t in ax.get_xticklabels()] == layers
    figures.pyplot().close(fig)


def test_mean_ci_is_students_interval():
    mean, half = figures.mean_ci(np.array([[1.0], [2.0], [3.0]]))
    assert mean.tolist() == [2.0]
    assert half[0] == pytest.approx(4.302653 * 1.0 / np.sqrt(3), rel=1e-5)  # t(0.975, 2) · s / √n
