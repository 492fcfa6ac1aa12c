"""SSD: the selection rule is exact, only selected coordinates change and each one shrinks towards 0,
the importances are mean squared batch gradients, and forgetting happens with a low α."""

from __future__ import annotations

import torch
from torch import nn

from sure_unlearn.data.types import LabeledData
from sure_unlearn.methods import RunContext, make_config, run_method
from sure_unlearn.methods.ssd import dampen, diagonal_fisher
from sure_unlearn.train import accuracy


def test_selection_and_dampening_rule_is_exact():
    theta = torch.tensor([2.0, -3.0, 4.0, 5.0, -6.0, 7.0])
    i_full = torch.tensor([1.0, 1.0, 1.0, 0.0, 0.5, 0.0])
    i_forget = torch.tensor([10.0, 20.0, 5.0, 1.0, 10.0, 0.0])
    # α = 5: I_f > 5·I_D selects 0, 1, 3 (I_D = 0), 4; not 2 (5 = 5·1, not >), not 5 (0 > 0 fails)
    new, sel = dampen(theta, i_full, i_forget, selection_weight=5.0, dampening=2.0)
    assert sel.tolist() == [True, True, False, True, True, False]
    # λ = 2: factor min(2·I_D/I_f, 1) = 0.2, 0.1, 0 (I_D = 0 zeroes the weight), 0.1
    torch.testing.assert_close(new, torch.tensor([0.4, -0.3, 4.0, 0.0, -0.6, 7.0]))
    assert new[2].item() == 4.0 and new[5].item() == 7.0
    # the multiplier is capped at 1: a selected weight never grows (λ·I_D/I_f = 50/20 > 1)
    capped, sel = dampen(torch.tensor([3.0]), torch.tensor([1.0]), torch.tensor([20.0]), 10.0, 50.0)
    assert sel.item() and capped.item() == 3.0


def test_importance_is_the_mean_squared_batch_gradient(tiny_model, tiny):
    data = tiny["forget"]  # 20 samples: batches of 8, 8, 4
    imp = diagonal_fisher(tiny_model, data, batch_size=8)
    model = tiny_model
    was = model.training
    model.eval()
    expected = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    for rows in (torch.arange(0, 8), torch.arange(8, 16), torch.arange(16, 20)):
        x, y = data.batch(rows)
        model.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        for n, p in model.named_parameters():
            expected[n] += p.grad**2 / 3
    model.zero_grad()
    model.train(was)
    assert imp.keys() == expected.keys()
    for n in imp:
        torch.testing.assert_close(imp[n], expected[n])


def test_only_selected_weights_shrink_and_the_forget_set_is_forgotten(tiny_model, tiny, tiny_data):
    ctx = RunContext(torch.Generator().manual_seed(0))
    cfg = make_config("ssd", {"selection_weight": 1.0, "batch_size": 32})
    out = run_method("ssd", tiny_model, tiny_data, cfg, ctx)
    # recompute the selection independently of the method: D = D_r ∪ D_f, same batch size
    full = LabeledData(
        torch.cat([tiny["retain"].x, tiny["forget"].x]), torch.cat([tiny["retain"].y, tiny["forget"].y])
    )
    i_full, i_forget = diagonal_fisher(tiny_model, full, 32), diagonal_fisher(tiny_model, tiny["forget"], 32)
    old, new = dict(tiny_model.named_parameters()), dict(out.named_parameters())
    n_changed = 0
    for n in old:
        a, b = old[n].detach(), new[n].detach()
        selected = i_forget[n] > 1.0 * i_full[n]
        assert torch.equal(a[~selected], b[~selected]), f"{n}: an unselected coordinate moved"
        assert (b.abs() <= a.abs()).all() and ((b.sign() == a.sign()) | (b == 0)).all()
        n_changed += int((a != b).sum())
    assert n_changed == ctx.info["dampened"] > 0  # with λ = 1 ≤ α every selected coordinate shrinks
    for (name, buf_a), (_, buf_b) in zip(tiny_model.named_buffers(), out.named_buffers(), strict=True):
        assert torch.equal(buf_a, buf_b), f"{name}: BatchNorm statistics must not change"
    assert ctx.info["epochs"] == 0 and ctx.info["importance_batch_size"] == 32
    assert accuracy(tiny_model, tiny["forget"]) > 90 and accuracy(out, tiny["forget"]) < 50
