"""BoundaryExpanding: trains through a (K+1)-way head, returns the trained first K rows as a K-class head
of the original model type, and moves forget samples to other classes."""

from __future__ import annotations

import torch
from torch import nn

import sure_unlearn.methods.boundary_expanding as be
from sure_unlearn.methods import RunContext, make_config, run_method
from sure_unlearn.models.base import wrap_model
from sure_unlearn.train import accuracy

K = 4


def run(model, data, seed=0, **overrides):
    ctx = RunContext(torch.Generator().manual_seed(seed))
    return run_method("boundary_expanding", model, data, make_config("boundary_expanding", overrides), ctx)


def test_head_is_pruned_to_the_trained_first_k_rows(tiny_model, tiny_data, monkeypatch):
    widened: list[nn.Linear] = []
    real = be.prune_head

    def spy(wide):
        widened.append(wide)
        return real(wide)

    monkeypatch.setattr(be, "prune_head", spy)
    out = run(tiny_model, tiny_data, epochs=1, lr=0.05, batch_size=8)
    (wide,) = widened
    assert wide.out_features == K + 1  # trained with the shadow class
    assert type(out) is type(tiny_model) and isinstance(out.head, nn.Linear) and out.head.out_features == K
    assert torch.equal(out.head.weight, wide.weight[:K]) and torch.equal(out.head.bias, wide.bias[:K])
    assert not torch.allclose(out.head.weight, tiny_model.head.weight)  # the K rows were trained too
    assert out(torch.rand(3, 3, 8, 8)).shape == (3, K)


def test_forget_samples_move_to_other_classes(tiny_model, tiny, tiny_data):
    assert accuracy(tiny_model, tiny["forget"]) > 90
    out = run(tiny_model, tiny_data, epochs=10, lr=0.05, batch_size=8)
    assert accuracy(out, tiny["forget"]) < 50


def test_shadow_row_is_drawn_from_the_generator():
    head = nn.Linear(16, K)
    a, b, c = (be.widen_head(head, torch.Generator().manual_seed(s)) for s in (1, 1, 2))
    assert torch.equal(a.weight[:K], head.weight) and torch.equal(a.bias[:K], head.bias)
    assert torch.equal(a.weight, b.weight) and not torch.equal(a.weight[K], c.weight[K])
    assert a.weight[K].abs().max() <= 16**-0.5 and a.weight[K].std() > 0.05  # nn.Linear's U(±1/√fan_in)


def test_wrapped_user_models_get_their_head_replaced_in_place(tiny, tiny_data):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 16), nn.ReLU(), nn.Linear(16, K))
    out = run(wrap_model(net, head="3"), tiny_data, epochs=1, lr=0.05, batch_size=8)
    assert out.module[3] is out.head and out.head.out_features == K
    assert not torch.equal(out.head.weight, net[3].weight)
    assert out(tiny["test"].batch(torch.arange(5))[0]).shape == (5, K)
