"""GradientAscent: the forget loss (eval mode) rises, and the method uses nothing but the forget set."""

from __future__ import annotations

import dataclasses

import torch
from helpers import flat, mean_ce

from sure_unlearn.methods import RunContext, make_config, run_method

# the tiny problem needs a much larger step than the class-wise default 1e-4 to move in a few steps
FAST = {"epochs": 3, "lr": 0.1, "batch_size": 32, "augment": False}


def test_forget_loss_rises(tiny_model, tiny_data):
    before = mean_ce(tiny_model, tiny_data.forget)
    ctx = RunContext(torch.Generator().manual_seed(0))
    out = run_method("grad_ascent", tiny_model, tiny_data, make_config("grad_ascent", FAST), ctx)
    after = mean_ce(out, tiny_data.forget)
    assert after > before + 1.0, (before, after)
    assert ctx.info["epochs"] == 3 and ctx.info["forget_ce_last_epoch"] > 0


def test_reads_only_the_forget_set(tiny_model, tiny_data):
    only_forget = dataclasses.replace(tiny_data, retain=None, val=None)
    cfg = make_config("grad_ascent", FAST)
    a = run_method("grad_ascent", tiny_model, tiny_data, cfg, RunContext(torch.Generator().manual_seed(0)))
    b = run_method("grad_ascent", tiny_model, only_forget, cfg, RunContext(torch.Generator().manual_seed(0)))
    assert torch.equal(flat(a), flat(b))  # retain and validation data make no difference
