"""SCRUB+R: the rewind rule, and the returned model is exactly the checkpoint of the chosen epoch."""

from __future__ import annotations

import pytest
import torch

import sure_unlearn.methods.scrub_r as scrub_r_module
from sure_unlearn.methods import RunContext, make_config, run_method
from sure_unlearn.methods.scrub_r import rewind_epoch
from sure_unlearn.train import accuracy

FAST = {"epochs": 3, "max_steps": 2, "lr": 5e-3}


def test_rewind_rule_on_handcrafted_errors():
    errors = [2.0, 30.0, 55.0, 90.0]  # e_0 (the original) … e_3
    assert rewind_epoch(errors, 50.0) == 2
    assert rewind_epoch(errors, 35.0) == 1
    assert rewind_epoch(errors, 100.0) == 3
    assert rewind_epoch(errors, 0.0) == 0  # k = 0: rewind to the original
    assert rewind_epoch([10.0, 30.0, 10.0], 20.0) == 0  # ties: the first (earliest) epoch


def _same_state(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("k", [0, 2, 3])
def test_returns_the_checkpoint_of_the_chosen_epoch(k, tiny_model, tiny, tiny_data, monkeypatch):
    seen: dict = {}

    def choose(errors, target):
        seen.update(errors=list(errors), target=target)
        return k

    monkeypatch.setattr(scrub_r_module, "rewind_epoch", choose)
    ctx = RunContext(torch.Generator().manual_seed(0))
    out = run_method("scrub_r", tiny_model, tiny_data, make_config("scrub_r", FAST), ctx)
    assert ctx.info["rewind_epoch"] == k and len(seen["errors"]) == FAST["epochs"] + 1
    # SCRUB is deterministic given the seed, so its checkpoint after epoch k is a k-epoch SCRUB run
    ref_cfg = make_config("scrub", {**FAST, "epochs": k})
    ref = (
        tiny_model
        if k == 0
        else run_method("scrub", tiny_model, tiny_data, ref_cfg, RunContext(torch.Generator().manual_seed(0)))
    )
    assert _same_state(out, ref)  # weights and BatchNorm statistics; k = 0 is θ_o itself
    assert seen["errors"][0] == 100.0 - accuracy(tiny_model, tiny["forget"])
    assert seen["errors"][k] == 100.0 - accuracy(ref, tiny["forget"])
    if k == FAST["epochs"]:  # r is the final student's error on the held-out set
        assert seen["target"] == 100.0 - accuracy(ref, tiny["val"])


def test_recorded_choice_follows_the_rule(tiny_model, tiny_data):
    ctx = RunContext(torch.Generator().manual_seed(1))
    run_method("scrub_r", tiny_model, tiny_data, make_config("scrub_r", FAST), ctx)
    info = ctx.info
    assert len(info["forget_errors"]) == FAST["epochs"] + 1
    assert info["rewind_epoch"] == rewind_epoch(info["forget_errors"], info["val_error"])
