"""SCRUB: the KD distance, the lr schedule, and the max-steps pushing the student away on D_f only."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from sure_unlearn.methods import RunContext, make_config, run_method
from sure_unlearn.methods.scrub import kd_distance, scrub_lr

# a short run that forgets visibly on the tiny problem (the notebook's lr 5e-4 barely moves it)
FAST = {"epochs": 3, "max_steps": 2, "lr": 5e-3}


def test_kd_distance_by_hand():
    z_s, z_t, tau = torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 0.0]]), 2.0
    a, b = math.exp(0.5), 1.0  # softmax(z_t/τ) ∝ (a, b); softmax(z_s/τ) ∝ (b, a)
    p_t = (a / (a + b), b / (a + b))
    p_s = (b / (a + b), a / (a + b))
    kl = sum(pt * math.log(pt / ps) for pt, ps in zip(p_t, p_s, strict=True))
    assert float(kd_distance(z_s, z_t, tau)) == pytest.approx(tau**2 * kl, rel=1e-6)
    # averaged over the batch: a second, identical row (d = 0) halves it
    both_s, both_t = torch.cat([z_s, z_t]), torch.cat([z_t, z_t])
    assert float(kd_distance(both_s, both_t, tau)) == pytest.approx(tau**2 * kl / 2, rel=1e-6)
    z = torch.randn(5, 7)
    assert float(kd_distance(z, z, 4.0)) == pytest.approx(0.0, abs=1e-7)
    assert float(kd_distance(z, z + 3.0, 4.0)) == pytest.approx(0.0, abs=1e-6)  # shift-invariant


def test_lr_decays_strictly_after_each_listed_epoch():
    eta = 5e-4
    got = [scrub_lr(eta, e, (3, 5)) for e in range(1, 7)]
    assert got == pytest.approx([eta * f for f in (1, 1, 1, 0.1, 0.1, 0.01)], rel=1e-12)
    assert make_config("scrub").decay_epochs == (3, 5, 9)
    assert make_config("scrub", {"decay_epochs": [2, 4]}).decay_epochs == (2, 4)  # JSON list → tuple


def _kd_and_ce(teacher, student, data):
    teacher.eval(), student.eval()
    x, y = data.batch(torch.arange(len(data)))
    with torch.no_grad():
        return float(kd_distance(student(x), teacher(x), 4.0)), float(F.cross_entropy(student(x), y))


def test_max_steps_push_the_student_away_on_the_forget_set(tiny_model, tiny, tiny_data):
    ctx = RunContext(torch.Generator().manual_seed(0))
    out = run_method("scrub", tiny_model, tiny_data, make_config("scrub", FAST), ctx)
    kd_f, ce_f = _kd_and_ce(tiny_model, out, tiny["forget"])
    kd_r, _ = _kd_and_ce(tiny_model, out, tiny["retain"])
    _, ce_f0 = _kd_and_ce(tiny_model, tiny_model, tiny["forget"])
    assert kd_f > 1.3 * kd_r  # far from the teacher on D_f, closer on D_r
    assert ce_f > 5 * ce_f0  # the forget loss rises
    assert [h["epoch"] for h in ctx.info["history"]] == [1, 2, 3]
    assert ["forget_kd" in h for h in ctx.info["history"]] == [True, True, False]  # max-steps in epochs ≤ M
    # control: without max-steps, the same run stays close to the teacher on D_f and does not forget
    ctl_cfg = make_config("scrub", {**FAST, "max_steps": 0})
    ctl = run_method("scrub", tiny_model, tiny_data, ctl_cfg, RunContext(torch.Generator().manual_seed(0)))
    kd_f_ctl, ce_f_ctl = _kd_and_ce(tiny_model, ctl, tiny["forget"])
    assert kd_f_ctl < 0.2 * kd_f and ce_f_ctl < 0.2 * ce_f
