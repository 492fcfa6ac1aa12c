"""The per-example attacks as pure functions, on cases with known answers: ROC/AUC/TPR at low FPR,
the LiRA statistics, the Gaussian likelihood-ratio fits, U-LiRA, RMIA (against U-LiRA at two reference
models), and the NeurIPS 2023 challenge score (checked against a slow rule-by-rule implementation of its
definition) with its granularity."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from sure_unlearn.attacks import (
    attack_summary,
    auc,
    class_means,
    epsilon_max,
    fit_gaussians,
    forget_score,
    logit_confidence,
    offline_scores,
    online_scores,
    rep_margin,
    roc_curve,
    tpr_at_fpr,
    ulira,
)
from sure_unlearn.attacks.challenge import EPSILON_CAP, point_levels, points
from sure_unlearn.attacks.rmia import log_pr_x, log_sigmoid, rmia, rmia_scores
from sure_unlearn.errors import ConfigError
from sure_unlearn.metrics import MetricInputError

# ---------------------------------------------------------------- ROC


def brute_tpr_at_fpr(s: np.ndarray, y: np.ndarray, target: float) -> float:
    """Every threshold "score ≥ t" over the distinct scores (and +inf), the best TPR with FPR ≤ target."""
    best = 0.0
    for t in np.r_[np.unique(s), np.inf]:
        called = s >= t
        fpr, tpr = called[y == 0].mean(), called[y == 1].mean()
        if fpr <= target:
            best = max(best, tpr)
    return float(best)


def test_perfect_separation_gives_auc_one_and_full_tpr_at_zero_fpr():
    s, y = np.r_[np.linspace(5, 6, 50), np.linspace(0, 1, 50)], np.r_[np.ones(50), np.zeros(50)]
    assert auc(s, y) == 1.0
    assert tpr_at_fpr(s, y, 0.0) == 1.0
    assert auc(-s, y) == 0.0 and tpr_at_fpr(-s, y, 0.01) == 0.0


def test_identical_distributions_give_chance_auc():
    rng = np.random.default_rng(0)
    s, y = rng.normal(size=20_000), np.arange(20_000) % 2
    assert abs(auc(s, y) - 0.5) < 0.02
    assert tpr_at_fpr(s, y, 0.01) < 0.03  # a chance attack finds ≈ 1% at 1% FPR


def test_ties_count_half_and_cannot_be_split():
    # one positive ties with one negative at the top: no threshold separates them
    s, y = np.array([2, 2, 1, 0]), np.array([1, 0, 1, 0])
    fpr, tpr = roc_curve(s, y)
    assert fpr.tolist() == [0, 0.5, 0.5, 1] and tpr.tolist() == [0, 0.5, 1, 1]
    assert tpr_at_fpr(s, y, 0.0) == 0.0 and tpr_at_fpr(s, y, 0.5) == 1.0
    assert auc([1, 1, 0], [1, 0, 0]) == 0.75  # Mann–Whitney: (½ + 1)/2
    assert auc([np.inf, np.inf, -np.inf], [1, 0, 0]) == 0.75  # inf ties with inf
    assert auc(np.ones(10), np.arange(10) % 2) == 0.5


def test_auc_and_tpr_match_independent_computations_on_tied_data():
    rng = np.random.default_rng(1)
    for _ in range(20):
        n = int(rng.integers(5, 60))
        y = rng.integers(0, 2, n)
        y[:2] = [0, 1]
        s = rng.integers(0, 6, n) + y * rng.integers(0, 3, n)  # many ties
        assert auc(s, y) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
        for target in (0.0, 0.01, 0.1, 0.25, 0.5, 1.0):
            assert tpr_at_fpr(s, y, target) == pytest.approx(brute_tpr_at_fpr(s, y, target))


def test_fpr_resolution_is_one_over_the_number_of_negatives():
    # 100 negatives at 0..99, positives at 98.5 and 50.5: FPR 1/100 is reachable exactly at target 1%
    s = np.r_[np.arange(100.0), 98.5, 50.5]
    y = np.r_[np.zeros(100), 1, 1]
    assert tpr_at_fpr(s, y, 0.01) == 0.5  # threshold 98.5: one negative (99) above → FPR = 1%
    assert tpr_at_fpr(s, y, 0.001) == 0.0  # below 1/100 only FPR 0 is allowed, and 99 tops everything
    # with 10 negatives, 1% FPR means FPR 0
    assert tpr_at_fpr(np.r_[np.arange(10.0), 9.5], np.r_[np.zeros(10), 1], 0.01) == 1.0


def test_attack_summary_keys_are_fractions():
    rng = np.random.default_rng(2)
    y = np.arange(2400) % 2 == (np.arange(2400) < 2000)  # 1,200 negatives: both rates resolved
    s = rng.normal(size=2400) + 2 * y
    out = attack_summary(s, y, "rep_lira")
    assert set(out) == {"rep_lira_auc", "rep_lira_tpr_1fpr", "rep_lira_tpr_01fpr"}
    assert all(0 <= v <= 1 for v in out.values())
    assert out["rep_lira_tpr_01fpr"] <= out["rep_lira_tpr_1fpr"] and out["rep_lira_auc"] > 0.85


def test_a_tpr_finer_than_one_negative_is_not_reported():
    rng = np.random.default_rng(14)
    for n_neg, resolved_1, resolved_01 in ((99, False, False), (100, True, False), (1000, True, True)):
        y = np.r_[np.ones(50), np.zeros(n_neg)]
        s = rng.normal(size=len(y)) + 3 * y
        out = attack_summary(s, y, "rmia")
        assert math.isnan(out["rmia_tpr_1fpr"]) != resolved_1, n_neg
        assert math.isnan(out["rmia_tpr_01fpr"]) != resolved_01, n_neg
        if resolved_1:
            assert out["rmia_tpr_1fpr"] == tpr_at_fpr(s, y, 0.01)
        assert out["rmia_auc"] == auc(s, y)


@pytest.mark.parametrize(
    ("scores", "labels"),
    [([0.1, np.nan], [1, 0]), ([1.0, 2.0], [1, 1]), ([1.0, 2.0], [1, 2]), ([1.0, 2.0, 3.0], [1, 0])],
)
def test_roc_rejects_bad_input(scores, labels):
    with pytest.raises(MetricInputError):
        auc(scores, labels)


# ---------------------------------------------------------------- statistics


def test_logit_confidence_is_the_log_odds_of_the_label():
    rng = np.random.default_rng(3)
    z = rng.normal(0, 3, (200, 10)).astype(np.float32)
    y = rng.integers(0, 10, 200)
    p = np.exp(z.astype(np.float64))
    p /= p.sum(1, keepdims=True)
    py = p[np.arange(200), y]
    np.testing.assert_allclose(logit_confidence(z, y), np.log(py / (1 - py)), rtol=1e-9, atol=1e-9)


def test_logit_confidence_is_finite_for_huge_logits():
    z = np.array([[1e30, 0.0, -1e30], [3e38, -3e38, 0.0], [50_000.0, 50_000.0, 0.0]])
    phi = logit_confidence(z, [0, 1, 0])
    assert np.isfinite(phi).all()
    assert phi[0] == pytest.approx(1e30) and phi[1] == pytest.approx(-6e38)
    assert phi[2] == pytest.approx(0.0, abs=1e-12)  # two tied top logits: p_y = ½, log-odds 0
    with pytest.raises(MetricInputError):
        logit_confidence([[np.nan, 0.0]], [0])


def test_rep_margin_is_a_cosine_margin_to_the_class_means():
    z_ref = np.array([[1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 1.0]])
    means = class_means(z_ref, [0, 0, 1, 2], 3)
    np.testing.assert_allclose(means, np.eye(3))
    z = np.array([[5.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    np.testing.assert_allclose(rep_margin(z, [0, 0, 0], means), [1.0, 0.0, -1.0], atol=1e-12)
    np.testing.assert_allclose(
        rep_margin(10 * z, [0, 0, 0], means), rep_margin(z, [0, 0, 0], means)
    )  # scale-free
    with pytest.raises(MetricInputError, match="no samples of class"):
        rep_margin(z, [0, 0, 2], class_means(z_ref[:3], [0, 0, 1], 3))


# ---------------------------------------------------------------- LiRA


def gaussian_game(n: int, m: int, member_shift: float, seed: int, *, seen: bool = True):
    """Per-example difficulty μ_i ~ N(0, 3²); members shift by ``member_shift``; every σ = 0.5.

    Returns (target statistic, labels, shadow statistics, roles). ``seen=False``: the target never
    saw its "positives", which are drawn from the OUT distribution.
    """
    rng = np.random.default_rng(seed)
    mu = rng.normal(0, 3, n)
    roles = rng.permuted(np.tile(np.r_[np.ones(m // 2), np.zeros(m // 2)], (n, 1)), axis=1).T.astype(int)
    shadows = rng.normal(mu + member_shift * roles, 0.5)
    labels = np.arange(n) % 2
    target = rng.normal(mu + member_shift * labels * seen, 0.5)
    return target, labels, shadows, roles


def test_lira_finds_members_a_population_threshold_misses():
    target, labels, shadows, roles = gaussian_game(600, 16, 1.5, seed=4)
    m, scores = ulira(target, labels, shadows, roles)
    assert m["ulira_auc"] > 0.9 and m["ulira_tpr_1fpr"] > 0.3
    assert auc(target, labels) < 0.7  # without per-example calibration the difficulty spread hides it
    assert scores.shape == (600,)


def test_lira_is_at_chance_when_the_target_never_saw_its_positives():
    target, labels, shadows, roles = gaussian_game(600, 16, 1.5, seed=5, seen=False)
    m, _ = ulira(target, labels, shadows, roles, prefix="rep_lira")
    assert abs(m["rep_lira_auc"] - 0.5) < 0.07 and m["rep_lira_tpr_1fpr"] < 0.06


def test_offline_test_uses_out_shadows_only():
    target, labels, shadows, roles = gaussian_game(600, 16, 1.5, seed=6)
    fits = fit_gaussians(shadows, roles)
    z = offline_scores(target, fits)
    np.testing.assert_allclose(z, (target - fits.mu_out) / fits.sigma_out)
    assert auc(z, labels) > 0.85
    scrambled = np.where(roles == 1, 1e6, shadows)  # IN values do not enter the offline test
    np.testing.assert_allclose(offline_scores(target, fit_gaussians(scrambled, roles)), z)


def test_fits_per_example_and_pooled_variances():
    rng = np.random.default_rng(7)
    s = rng.normal(size=(80, 3))
    roles = np.tile(np.r_[np.ones(40), np.zeros(40)], (3, 1)).T.astype(int)
    per = fit_gaussians(s, roles)  # 40 per side ≥ 32: per-example σ
    assert not per.global_variance
    np.testing.assert_allclose(per.mu_in, s[:40].mean(0))
    np.testing.assert_allclose(per.sigma_out, s[40:].std(0, ddof=1))
    pooled = fit_gaussians(s, roles, global_variance=True)
    within = np.sqrt(((s[:40] - s[:40].mean(0)) ** 2).sum() / (3 * 39))
    np.testing.assert_allclose(pooled.sigma_in, within)
    few = fit_gaussians(s[[0, 1, 40, 41]], roles[[0, 1, 40, 41]])  # 2 per side: pooled automatically
    assert few.global_variance and np.ptp(few.sigma_in) == 0
    med = fit_gaussians(s, roles, center="median")
    np.testing.assert_allclose(med.mu_out, np.median(s[40:], 0))


def test_ignored_entries_do_not_matter_and_missing_sides_are_refused():
    rng = np.random.default_rng(8)
    s = rng.normal(size=(6, 4))
    roles = np.array([[1, 1, 0, -1], [1, 0, 0, 1], [0, 1, 1, 1], [0, 0, 1, 0], [-1, -1, -1, 0], [1, 0, 0, 1]])
    a = fit_gaussians(s, roles)
    b = fit_gaussians(np.where(roles == -1, np.nan, s), roles)
    np.testing.assert_allclose(a.mu_in, b.mu_in)
    np.testing.assert_allclose(a.sigma_out, b.sigma_out)
    only_out = np.where(np.arange(4) == 2, 0, roles)  # example 2 has no IN shadow
    fits = fit_gaussians(s, only_out)
    with pytest.raises(MetricInputError, match="no IN shadow"):
        online_scores(np.zeros(4), fits)
    assert np.isfinite(offline_scores(np.zeros(4), fits)).all()


def test_constant_statistics_give_finite_scores():
    s = np.tile([[1.0], [0.0]], (4, 3))  # IN always 1, OUT always 0: σ = 0 before the floor
    roles = np.tile([[1], [0]], (4, 3))
    scores = online_scores([1.0, 0.0, 0.5], fit_gaussians(s, roles))
    assert np.isfinite(scores).all() and scores[0] > 0 > scores[1]


# ---------------------------------------------------------------- RMIA


def test_log_sigmoid_of_phi_is_the_softmax_probability_of_the_label():
    rng = np.random.default_rng(15)
    z = rng.normal(0, 4, (300, 10))
    y = rng.integers(0, 10, 300)
    log_p = z - np.log(np.exp(z).sum(1, keepdims=True))
    np.testing.assert_allclose(log_sigmoid(logit_confidence(z, y)), log_p[np.arange(300), y], atol=1e-10)
    margins = np.array([-2.0, 0.0, 0.1])  # σ(r/τ): two-way softmax over the cosines at temperature τ
    np.testing.assert_allclose(np.exp(log_sigmoid(margins, 0.1)), 1 / (1 + np.exp(-margins / 0.1)))
    assert np.isfinite(log_sigmoid([-1e6, 1e6])).all()


def test_pr_x_online_and_offline():
    rng = np.random.default_rng(16)
    p = rng.uniform(0.01, 1.0, (6, 50))
    roles = rng.integers(-1, 2, (6, 50))
    roles[:2] = [[1], [0]]  # every example keeps one reference of each role
    online = np.exp(log_pr_x(np.log(p), roles))
    np.testing.assert_allclose(online, np.nanmean(np.where(roles >= 0, p, np.nan), 0))
    p_out = np.nanmean(np.where(roles == 0, p, np.nan), 0)
    for a in (0.0, 0.33, 1.0):
        offline = np.exp(log_pr_x(np.log(p), roles, offline=True, a=a))
        np.testing.assert_allclose(offline, 0.5 * ((1 + a) * p_out + (1 - a)))
    scrambled = np.where(roles == 1, np.log(1e-9), np.log(p))  # IN references do not enter offline
    np.testing.assert_allclose(
        log_pr_x(scrambled, roles, offline=True), log_pr_x(np.log(p), roles, offline=True)
    )
    with pytest.raises(MetricInputError, match="no OUT reference"):
        log_pr_x(np.log(p), np.ones((6, 50), int), offline=True)
    with pytest.raises(MetricInputError, match="≤ 0"):
        log_pr_x(-np.log(p), roles)
    with pytest.raises(ConfigError, match="a must be"):
        log_pr_x(np.log(p), roles, offline=True, a=1.5)


def test_rmia_scores_count_the_population_beaten_by_more_than_gamma():
    rng = np.random.default_rng(17)
    x, z = rng.normal(size=40), rng.normal(size=300)
    for gamma in (1.0, 2.0):
        brute = (np.exp(x)[:, None] / np.exp(z)[None, :] > gamma).mean(1)
        np.testing.assert_allclose(rmia_scores(x, z, gamma), brute)
    with pytest.raises(ConfigError, match="γ must be ≥ 1"):
        rmia_scores(x, z, 0.5)


def difficulty_game(n: int, seed: int):
    """φ per example under the target, two OUT reference models and one IN reference (trained on every
    example). Difficulty d_i ~ U(−4, 8) in log-odds; easy examples vary more between models (σ_i = 0.3 +
    0.4·max(d_i, 0)), and members gain more the harder they are (δ_i = 2·exp(−max(d_i, 0)/3)), as
    memorisation goes."""
    rng = np.random.default_rng(seed)
    d = rng.uniform(-4, 8, n)
    sigma = 0.3 + 0.4 * np.maximum(d, 0)
    delta = 2 * np.exp(-np.maximum(d, 0) / 3)
    labels = np.arange(n) % 2
    refs = d + sigma * rng.normal(size=(2, n))
    target = d + delta * labels + sigma * rng.normal(size=n)
    return target, labels, refs, d + delta + sigma * rng.normal(size=n)


def test_rmia_beats_ulira_at_two_reference_models():
    # With two references U-LiRA has one spread for all examples (pooled), so the easy examples' wide
    # swings in φ look like membership; RMIA's ratio of probabilities barely moves where p ≈ 1.
    for seed in range(3):
        target, labels, refs, in_ref = difficulty_game(2000, seed)
        out = np.zeros((2, 2000), int)  # two OUT references per example (offline)
        u, _ = ulira(target, labels, refs, out, offline=True)
        r, _ = rmia(log_sigmoid(target), labels, log_sigmoid(refs), out, offline=True)
        assert r["rmia_auc"] > u["ulira_auc"] + 0.02, (seed, r, u)
        assert r["rmia_auc"] > auc(target, labels) + 0.1  # the references help at all
    # online, one IN and one OUT reference per example: U-LiRA has no spread to fit, RMIA just averages
    both, roles = np.stack([in_ref, refs[0]]), np.tile([[1], [0]], (1, 2000))
    with pytest.raises(MetricInputError, match="cannot estimate a spread"):
        ulira(target, labels, both, roles)
    online, _ = rmia(log_sigmoid(target), labels, log_sigmoid(both), roles)
    assert online["rmia_auc"] > auc(target, labels) + 0.1


def test_rmia_known_answers():
    rng = np.random.default_rng(18)
    n = 4000
    d = rng.uniform(-10, -5, n)  # log-odds of hard examples: Pr(x | θ') ≈ e^d under every reference
    labels = np.arange(n) % 2
    refs = log_sigmoid(d + rng.normal(0, 0.5, (4, n)))
    roles = np.tile([[1], [0]], (2, n))
    same, _ = rmia(log_sigmoid(d + rng.normal(0, 0.5, n)), labels, refs, roles)
    assert abs(same["rmia_auc"] - 0.5) < 0.03
    apart, scores = rmia(log_sigmoid(d + 20.0 * labels), labels, refs, roles)  # members: Pr(x | θ) ≈ 1
    assert apart["rmia_auc"] == 1.0 and apart["rmia_tpr_1fpr"] == 1.0
    assert (scores[labels == 1] == 1.0).all()  # every member beats the whole population
    worse, _ = rmia(log_sigmoid(d - 30.0 * labels), labels, refs, roles)
    assert worse["rmia_auc"] < 0.01


# ---------------------------------------------------------------- the challenge's forget score


def brute_epsilon(u: np.ndarray, r: np.ndarray, delta: float = 1e-5, intervals: bool = True) -> float:
    """REFERENCES §3.7 rule by rule: explicit threshold lists, rates as means, ε per rule."""
    ranges = sorted([np.ptp(u), np.ptp(r)])
    if ranges[1] == 0:
        return 0.0 if u[0] == r[0] else EPSILON_CAP
    if ranges[0] / ranges[1] < 0.01:
        return EPSILON_CAP
    pos, neg = (r, u) if np.median(r) > np.median(u) else (u, r)
    rates = []  # (FPR, FNR) of every rule
    lo, hi = min(pos.min(), neg.min()), max(pos.max(), neg.max())
    for t in np.linspace(lo, hi, math.ceil((hi - lo) * 100)):
        rates.append(((neg >= t).mean(), (pos < t).mean()))
    p, q = (pos, neg) if np.ptp(pos) < np.ptp(neg) else (neg, pos)  # on a tie: around neg (official)
    w = np.ptp(p)
    for right in np.linspace(p.max() - 2, p.max() + 2, 400) if intervals else []:
        left = np.linspace(right - w - 2, right - w + 2, 400)[:, None]
        inside_p = ((p >= left) & (p <= right)).mean(1)
        inside_q = ((q >= left) & (q <= right)).mean(1)
        rates.extend(zip(inside_q, 1 - inside_p, strict=True))
    best = -np.inf
    for fpr, fnr in rates:
        if fpr == 0 and fnr == 0:
            best = np.inf
        elif fpr == 0 or fnr == 0:
            continue
        else:
            one = np.log(1 - delta - fpr) - np.log(fnr) if 1 - delta - fpr > 0 else -np.inf
            two = np.log(1 - delta - fnr) - np.log(fpr) if 1 - delta - fnr > 0 else -np.inf
            best = max(best, one, two, 0.0)
    return float(np.clip(best, 0, EPSILON_CAP)) if best > -np.inf else 0.0


def test_forget_score_matches_the_rule_by_rule_definition():
    rng = np.random.default_rng(9)
    # unlearned: 6 models, retrained: 7; same, shifted, narrower (interval rules) and separated samples
    u = np.c_[rng.normal(0, 1, (6, 3)), rng.normal(0, 0.3, (6, 3)), rng.normal(1.5, 0.3, (6, 1))]
    r = np.c_[rng.normal(0.3, 1, (7, 3)), rng.normal(0, 1, (7, 3)), rng.normal(-1, 1, (7, 1))]
    _, eps = forget_score(u, r)
    expected = [brute_epsilon(u[:, i], r[:, i]) for i in range(u.shape[1])]
    np.testing.assert_allclose(eps, expected, rtol=1e-9)
    assert len(set(np.round(eps, 6))) >= 4  # the cases differ (not all 0 or all capped)
    thresholds_only = [brute_epsilon(u[:, i], r[:, i], intervals=False) for i in range(u.shape[1])]
    assert (eps > np.array(thresholds_only) + 0.1).any()  # the interval rules decide some examples


def test_identical_samples_score_one_and_separated_samples_zero():
    rng = np.random.default_rng(10)
    same = rng.normal(size=(16, 40))
    f, eps = forget_score(same, same.copy())
    assert f == 1.0 and (eps == 0).all()  # every rule has TPR = FPR: ε ≤ 0
    f, eps = forget_score(same + 50.0, same)
    assert f == 0.0 and (eps == EPSILON_CAP).all()  # a threshold between them: FPR = FNR = 0, ε = ∞


def test_peakiness_guard_caps_a_point_mass():
    rng = np.random.default_rng(11)
    retrained = rng.normal(size=(8, 30))
    constant = np.tile(rng.normal(size=30), (8, 1))  # a deterministic unlearner / the original itself
    f, eps = forget_score(constant, retrained)
    assert f == 0.0 and (eps == EPSILON_CAP).all()
    narrow = constant + rng.normal(0, 1e-4, constant.shape)  # range ratio ≈ 1e-4 < 0.01
    assert forget_score(narrow, retrained)[0] == 0.0
    assert forget_score(constant[:, :1], constant[:, :1].copy())[1].tolist() == [0.0]  # equal point masses


def test_forget_score_falls_as_the_distributions_separate():
    rng = np.random.default_rng(12)
    a, b = rng.normal(size=(16, 100)), rng.normal(size=(16, 100))
    scores = [forget_score(a + shift, b)[0] for shift in (0.0, 1.0, 2.0)]
    assert scores[0] > scores[1] > scores[2] and scores[0] > 2 * scores[2]


def test_point_levels_are_the_values_an_example_can_score():
    rng = np.random.default_rng(19)
    for n in (3, 4, 6):
        levels = point_levels(n, n)
        same = rng.normal(size=(n, 20))
        seen = set(points(forget_score(same, same.copy())[1], n).tolist())  # 1: nothing tells them apart
        for shift in np.linspace(0.0, 4.0, 9):
            _, eps = forget_score(rng.normal(size=(n, 300)) + shift, rng.normal(size=(n, 300)))
            seen |= set(points(eps, n).tolist())
        assert seen <= set(levels.tolist()), n
        assert seen == set(levels.tolist()), n  # and each of them occurs
    assert point_levels(4, 4).tolist() == [0.0, 0.25, 0.5, 1.0]
    assert len(point_levels(4, 4)) < len(point_levels(16, 16)) < len(point_levels(512, 512))


def test_small_n_and_its_epsilon_max():
    assert [epsilon_max(n) for n in (3, 4, 8, 9, 22, 56, 512)] == [1, 2, 2, 3, 4, 5, 7]
    rng = np.random.default_rng(13)
    f, _ = forget_score(rng.normal(size=(3, 10)), rng.normal(size=(4, 10)))
    assert 0 <= f <= 1
    with pytest.raises(ConfigError, match="at least 3"):
        forget_score(rng.normal(size=(2, 10)), rng.normal(size=(8, 10)))
    with pytest.raises(MetricInputError):
        forget_score(rng.normal(size=(4, 10)), rng.normal(size=(4, 9)))
