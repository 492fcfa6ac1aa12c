"""Influence unlearning: the Woodbury solve is the dense damped-Fisher inverse, per-sample gradients are the
loop's, the weights move by exactly step_size·F̂⁻¹v, the forget loss rises, and the reference recursion is
SalUn's loop step by step."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from helpers import flat
from torch import nn

from sure_unlearn.errors import ConfigError
from sure_unlearn.methods import RunContext, make_config, run_method
from sure_unlearn.methods.influence import per_sample_grads, reference_recursion, woodbury_solve
from sure_unlearn.models import build_model
from sure_unlearn.models.base import wrap_model


def grads_by_loop(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    rows = []
    for i in range(len(y)):
        model.zero_grad()
        F.cross_entropy(model(x[i : i + 1]), y[i : i + 1]).backward()
        rows.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    model.zero_grad()
    return torch.stack(rows)


@pytest.mark.parametrize(("m", "p"), [(5, 12), (20, 7)])
def test_woodbury_solve_equals_the_dense_inverse(m, p):
    g = torch.Generator().manual_seed(0)
    G, v = (
        torch.randn(m, p, generator=g, dtype=torch.float64),
        torch.randn(p, generator=g, dtype=torch.float64),
    )
    for lam in (0.3, 1e-3):
        dense = lam * torch.eye(p, dtype=torch.float64) + G.T @ G / m
        torch.testing.assert_close(woodbury_solve(G, v, lam), torch.linalg.solve(dense, v))


def test_per_sample_grads_equal_the_loop(tiny_model, tiny):
    model = tiny_model.eval()  # BN with running statistics: samples are independent
    x, y = tiny["retain"].batch(torch.arange(6))
    torch.testing.assert_close(
        per_sample_grads(model, x, y), grads_by_loop(model, x, y), atol=1e-6, rtol=1e-4
    )
    # a wrapped model reaches its head by two paths; vmap must neither miscount it nor break the model
    net = wrap_model(
        nn.Sequential(nn.Flatten(), nn.Linear(192, 8), nn.ReLU(), nn.Linear(8, 4)), head="3"
    ).eval()
    torch.testing.assert_close(per_sample_grads(net, x, y), grads_by_loop(net, x, y))
    assert all(type(p) is nn.Parameter for p in net.parameters())
    torch.testing.assert_close(per_sample_grads(net, x, y), grads_by_loop(net, x, y))


def test_weights_move_by_step_size_times_inverse_fisher_v(tiny, tiny_data, tiny_spec):
    torch.manual_seed(0)
    model = build_model("mlp", tiny_spec, hidden=4, depth=1).eval()  # 792 parameters: a dense F̂ is cheap
    forget, retain = tiny["forget"], tiny["retain"]
    n_f, n_r = len(forget), len(retain)
    n = n_f + n_r
    Gf, Gr = (grads_by_loop(model, *d.batch(torch.arange(len(d)))).double() for d in (forget, retain))
    v = Gf.sum(0) / n - n_f / (n * n_r) * Gr.sum(0)
    lam = 1e-3  # small enough that F̂ is far from λI
    fisher = lam * torch.eye(v.numel(), dtype=torch.float64) + Gr.T @ Gr / n_r  # m = n_r: every retain sample
    direction = torch.linalg.solve(fisher, v).float()
    assert (direction - v.float() / lam).norm() > 0.1 * direction.norm()
    updates, infos = [], []
    for step in (0.01, 0.02):
        cfg = make_config("influence", {"step_size": step, "damping": lam, "num_samples": 10_000})
        ctx = RunContext(torch.Generator().manual_seed(0))
        updates.append(flat(run_method("influence", model, tiny_data, cfg, ctx)) - flat(model))
        infos.append(ctx.info)
    torch.testing.assert_close(updates[0], 0.01 * direction, atol=1e-6, rtol=1e-3)
    torch.testing.assert_close(updates[1], 2 * updates[0], atol=1e-7, rtol=1e-5)
    assert infos[1]["update_norm"] == 2 * infos[0]["update_norm"] and infos[0]["num_samples"] == n_r
    assert infos[0]["epochs"] == 0


def losses(model: nn.Module, tiny) -> tuple[float, float]:
    model.eval()
    with torch.no_grad():
        return tuple(
            F.cross_entropy(model(x), y).item()
            for x, y in (tiny[k].batch(torch.arange(len(tiny[k]))) for k in ("forget", "retain"))
        )


def test_forget_loss_rises(tiny_model, tiny, tiny_data):
    f0, r0 = losses(tiny_model, tiny)
    for mode in ("exact", "reference"):
        cfg = make_config(
            "influence", {"step_size": 100.0, "mode": mode, "num_samples": 64, "reference_n": 62}
        )
        f1, r1 = losses(
            run_method("influence", tiny_model, tiny_data, cfg, RunContext(torch.Generator())), tiny
        )
        assert f1 > 10 * f0 + 1.0 and f1 - f0 > 2 * (r1 - r0), (mode, f0, f1, r0, r1)


def test_reference_recursion_matches_a_hand_computed_example():
    v, g1, g2, g3 = (
        torch.tensor([2.0, 1.0]),
        torch.tensor([1.0, 1.0]),
        torch.tensor([0.0, 2.0]),
        torch.tensor([1.0, 0.0]),
    )
    # N = 1. o = g1. j=2: o·g2 = 2, k·g2 = 2 → k = (2,1) − 2/3·(1,1) = (4/3, 1/3); o = o − 2/3·o = (1/3, 1/3)
    # j=3: o·g3 = 1/3, k·g3 = 4/3 → k = (4/3, 1/3) − (4/3)/(4/3)·(1/3, 1/3) = (1, 0)
    torch.testing.assert_close(reference_recursion(v, iter([g1, g2, g3]), 1.0), torch.tensor([1.0, 0.0]))
    assert torch.equal(reference_recursion(v, iter([g1]), 1.0), v)  # g_1 only seeds o


def test_reference_mode_walks_n_plus_two_samples_and_bad_mode_is_rejected(tiny_model, tiny_data):
    ctx = RunContext(torch.Generator())
    run_method(
        "influence",
        tiny_model,
        tiny_data,
        make_config("influence", {"mode": "reference", "reference_n": 10}),
        ctx,
    )
    assert ctx.info["num_samples"] == 12  # SalUn stops once idx > N
    with pytest.raises(ConfigError, match="mode"):
        make_config("influence", {"mode": "woodfisher"})
