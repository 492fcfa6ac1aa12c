"""L1Sparse: the exact γ_t schedule; smaller ℓ1 norm than FineTune; with γ = 0 it *is* FineTune."""

from __future__ import annotations

import pytest
import torch
from helpers import flat

from sure_unlearn.errors import ConfigError
from sure_unlearn.methods import RunContext, make_config, run_method
from sure_unlearn.methods.l1_sparse import l1_norm, l1_schedule

SHARED = {"epochs": 2, "batch_size": 64, "lr": 0.01, "momentum": 0.9, "weight_decay": 5e-4, "augment": True}


def test_schedule_values():
    assert l1_schedule(1.0, 5) == pytest.approx([1.0, 0.8, 0.6, 0.4, 0.2], abs=1e-12)
    assert l1_schedule(1.0, 5, no_l1_epochs=2) == pytest.approx([1.0, 2 / 3, 1 / 3, 0.0, 0.0], abs=1e-12)
    assert l1_schedule(1e-4, 10)[-1] == pytest.approx(1e-5)  # the last epoch uses γ/E
    with pytest.raises(ConfigError):
        make_config("l1_sparse", {"epochs": 3, "no_l1_epochs": 3})


def run(name, model, data, **overrides):
    ctx = RunContext(torch.Generator().manual_seed(0))
    return run_method(name, model, data, make_config(name, {**SHARED, **overrides}), ctx), ctx


def test_penalty_shrinks_the_l1_norm_and_is_the_only_difference_to_finetune(tiny_model, tiny_data):
    ft, _ = run("finetune", tiny_model, tiny_data)
    l1, ctx = run("l1_sparse", tiny_model, tiny_data, l1_weight=1e-3)
    with torch.no_grad():
        assert l1_norm(l1) < l1_norm(ft) - 1.0
    hist = ctx.info["history"]
    assert [h["l1_weight"] for h in hist] == pytest.approx([1e-3, 5e-4])
    assert all(h["retain_ce"] < 5 for h in hist)  # the CE alone, not CE + γ‖θ‖₁ (‖θ‖₁ ≈ 400 here)
    zero, _ = run("l1_sparse", tiny_model, tiny_data, l1_weight=0.0)
    assert torch.equal(flat(zero), flat(ft))  # same loop, same random stream: bit-identical
