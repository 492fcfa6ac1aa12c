"""BoundaryShrink: neighbour labels come from FGSM on the frozen original, forget accuracy drops, and
failed attacks are counted exactly."""

from __future__ import annotations

import copy

import torch
from helpers import flat
from torch import nn

import sure_unlearn.methods.boundary_shrink as bs
from sure_unlearn.methods import RunContext, make_config, run_method
from sure_unlearn.train import accuracy


def run(model, data, seed=0, **overrides):
    ctx = RunContext(torch.Generator().manual_seed(seed))
    out = run_method("boundary_shrink", model, data, make_config("boundary_shrink", overrides), ctx)
    return out, ctx.info


def test_labels_come_from_fgsm_on_the_frozen_original(tiny_model, tiny_data, monkeypatch):
    calls = []
    real = bs.nearest_incorrect_labels

    def spy(frozen, x, y, epsilon, quantize=False):
        out = real(frozen, x, y, epsilon, quantize)
        calls.append((flat(frozen).clone(), frozen.training, x.clone(), y.clone(), out.clone()))
        return out

    monkeypatch.setattr(bs, "nearest_incorrect_labels", spy)
    out, _ = run(tiny_model, tiny_data, epochs=3, lr=0.05, batch_size=8, augment=False)
    assert len(calls) == 9 and not torch.allclose(flat(out), flat(tiny_model))

    original = copy.deepcopy(tiny_model).eval()
    flipped = 0
    for theta, training, x, y, y_nbi in calls:
        # the attacked model is the original at every step, although the trained one moves away from it
        assert not training and torch.equal(theta, flat(tiny_model))
        x_req = x.clone().requires_grad_(True)
        nn.functional.cross_entropy(original(x_req), y).backward()
        x_adv = (x + 0.1 * x_req.grad.sign()).clamp(0, 1)
        with torch.no_grad():
            assert torch.equal(y_nbi, original(x_adv).argmax(1))
        flipped += int((y_nbi != y).sum())
    assert flipped > 0.5 * sum(len(c[3]) for c in calls)  # FGSM at ε = 0.1 crosses the boundary for most


def test_forget_accuracy_drops_and_failures_are_reported(tiny_model, tiny, tiny_data):
    assert accuracy(tiny_model, tiny["forget"]) > 90
    out, info = run(tiny_model, tiny_data, epochs=3, lr=0.01, batch_size=4, augment=False)
    assert accuracy(out, tiny["forget"]) < 50
    assert info["attacks"] == 3 * len(tiny["forget"]) and info["epochs"] == 3
    assert 0 <= info["failed_attacks"] < 0.5 * info["attacks"]
    assert info["failed_attack_share"] == info["failed_attacks"] / info["attacks"]


def test_failed_attacks_are_counted_exactly(tiny_model, tiny, tiny_data):
    # ε = 0: x_adv = x, so y_nbi is the original's prediction and every correctly classified sample fails
    with torch.no_grad():
        correct = int(
            (
                copy.deepcopy(tiny_model).eval()(tiny["forget"].batch(torch.arange(20))[0]).argmax(1)
                == tiny["forget"].y
            ).sum()
        )
    assert correct > 0
    _, info = run(tiny_model, tiny_data, epochs=2, lr=1e-5, batch_size=8, epsilon=0.0, augment=False)
    assert info["failed_attacks"] == 2 * correct and info["attacks"] == 40
