"""NegGrad+: the forget loss rises where FineTune lowers it, retain accuracy stays high, and with
retain_weight = 1 the forget term has no effect at all."""

from __future__ import annotations

import dataclasses

import torch
from helpers import flat, mean_ce

from sure_unlearn.methods import RunContext, make_config, run_method
from sure_unlearn.train import accuracy

FAST = {"epochs": 2, "batch_size": 32, "forget_batch_size": 16, "augment": False}


def run(name, model, data, **overrides):
    ctx = RunContext(torch.Generator().manual_seed(0))
    return run_method(name, model, data, make_config(name, overrides), ctx), ctx


def test_forget_loss_rises_while_retain_accuracy_stays(tiny_model, tiny_data):
    before = mean_ce(tiny_model, tiny_data.forget)
    ft, _ = run("finetune", tiny_model, tiny_data, epochs=2, batch_size=32, augment=False)
    ng, ctx = run("neggrad_plus", tiny_model, tiny_data, **FAST, retain_weight=0.8)
    assert mean_ce(ng, tiny_data.forget) > max(before, 10 * mean_ce(ft, tiny_data.forget))
    assert accuracy(ng, tiny_data.retain) >= 95.0
    assert ctx.info["variant"] == "train_negrad" and len(ctx.info["history"]) == 2


def test_retain_weight_one_ignores_the_forget_set(tiny_model, tiny_data):
    # same forget images, scrambled labels: the random stream is consumed identically
    forget = tiny_data.forget
    scrambled = forget.with_labels((forget.y + 1 + torch.arange(len(forget)) % 3) % 4)
    other = dataclasses.replace(tiny_data, forget=scrambled)
    one_epoch = {**FAST, "epochs": 1}
    a, _ = run("neggrad_plus", tiny_model, tiny_data, **one_epoch, retain_weight=1.0)
    b, _ = run("neggrad_plus", tiny_model, other, **one_epoch, retain_weight=1.0)
    assert torch.equal(flat(a), flat(b))  # pure descent on D_r
    c, _ = run("neggrad_plus", tiny_model, tiny_data, **one_epoch, retain_weight=0.9)
    d, _ = run("neggrad_plus", tiny_model, other, **one_epoch, retain_weight=0.9)
    assert not torch.allclose(flat(c), flat(d))  # ... whereas below 1 the forget labels matter
