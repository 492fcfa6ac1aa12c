"""SURE: the gradient reversal layer, the balanced domain batches, the ramp, and — on real CIFAR-10 —
that it erases what a fresh probe finds in the forget set's representations while keeping accuracy."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from sure_unlearn.data import load_dataset
from sure_unlearn.data.types import NO_AUGMENT, LabeledData
from sure_unlearn.errors import DataError
from sure_unlearn.evaluate import evaluate
from sure_unlearn.methods import RunContext, UnlearnData, make_config, run_method
from sure_unlearn.methods.sure import grad_reverse, ramp
from sure_unlearn.models import ModelSpec, build_model
from sure_unlearn.splits import ScenarioConfig, make_split
from sure_unlearn.train import Recipe, fit


def test_gradient_reversal_is_identity_forward_and_minus_lambda_backward():
    x = torch.randn(5, 3, requires_grad=True)
    y = grad_reverse(x, 0.7)
    assert torch.equal(y, x)
    (y * torch.arange(3.0)).sum().backward()
    assert torch.allclose(x.grad, -0.7 * torch.arange(3.0).expand(5, 3))


def test_dann_ramp():
    assert ramp(0.0) == 0.0 and abs(ramp(1.0) - (2 / (1 + math.exp(-10)) - 1)) < 1e-12
    assert ramp(0.1) < ramp(0.5) < ramp(1.0) < 1


def test_domain_batches_are_balanced_and_drawn_from_forget_and_val(tiny_model, tiny_data, monkeypatch):
    """Every step sees equally many forget and validation samples, next to a retain batch."""
    import sure_unlearn.methods.sure as sure_mod

    seen = []
    real = sure_mod.domain_classifier

    def spy(dim, hidden):
        d = real(dim, hidden)
        d.register_forward_pre_hook(lambda _m, args: seen.append(len(args[0])))
        return d

    monkeypatch.setattr(sure_mod, "domain_classifier", spy)
    cfg = make_config("sure", {"epochs": 2, "batch_size": 32, "domain_batch_size": 10})
    ctx = RunContext(torch.Generator().manual_seed(0))
    run_method("sure", tiny_model, tiny_data, cfg, ctx)
    steps = 2 * math.ceil(len(tiny_data.retain) / 32)
    assert seen == [10] * steps
    assert len(ctx.info["history"]) == 2 and all("domain_acc" in h for h in ctx.info["history"])


def test_the_domain_term_changes_the_update(tiny_model, tiny_data):
    """With α = 0 the adversarial term is switched off: d gets no gradient from the model's loss and the
    result differs from a run with α > 0 (the domain term is what SURE adds)."""
    cfg0 = make_config("sure", {"epochs": 1, "batch_size": 32, "domain_batch_size": 8, "alpha": 0.0})
    cfg1 = dataclasses.replace(cfg0, alpha=10.0)
    a = run_method("sure", tiny_model, tiny_data, cfg0, RunContext(torch.Generator().manual_seed(0)))
    b = run_method("sure", tiny_model, tiny_data, cfg1, RunContext(torch.Generator().manual_seed(0)))
    pa = torch.cat([p.flatten() for p in a.parameters()])
    pb = torch.cat([p.flatten() for p in b.parameters()])
    assert not torch.allclose(pa, pb)


def test_z_layer_can_be_an_inner_layer(tiny_model, tiny_data):
    cfg = make_config("sure", {"epochs": 1, "batch_size": 32, "domain_batch_size": 8, "z_layer": "conv2"})
    out = run_method("sure", tiny_model, tiny_data, cfg, RunContext(torch.Generator().manual_seed(0)))
    assert out.num_classes == tiny_model.num_classes


# ------------------------------------------------------------------------------------------------
# The behaviour SURE exists for, on real data: an MLP that memorises a 1,050-image CIFAR-10 subset, so a
# fresh linear probe separates its 60 forget samples (cats) from unseen test cats (rep AUC ≈ 0.9).


@pytest.fixture(scope="module")
def cifar_case():
    try:
        data = load_dataset("cifar10")
    except DataError as e:
        pytest.skip(f"CIFAR-10 not available: {e}")
    split = make_split(
        data.train.y, data.test.y, data.classes, ScenarioConfig("partial_class", n=60, cls="cat"), 0,
        train_subset=1500, test_subset=2000, holdout_fraction=0.3,
    )
    spec = ModelSpec(10, 3, 32, data.mean, data.std)

    def sub(arr, idx):
        return LabeledData.from_arrays(arr, idx, NO_AUGMENT)

    recipe = Recipe(epochs=20, lr=0.02, batch_size=64, augment=False, schedule="onecycle")

    def train(idx):
        torch.manual_seed(0)
        model = build_model("mlp", spec, hidden=256)
        fit(model, sub(data.train, idx), recipe, torch.Generator().manual_seed(0))
        return model

    sets = {"forget": sub(data.train, split.forget), "retain": sub(data.train, split.retain),
            "test": sub(data.test, split.test), "val": sub(data.train, split.val)}
    return split, sets, train(split.train), train(split.retain)


@pytest.mark.slow
@pytest.mark.data
def test_sure_erases_the_forget_set_from_representations_on_cifar10(cifar_case):
    split, sets, original, oracle = cifar_case

    def metrics(model):
        return evaluate(model, sets, forget_classes=split.forget_classes, seed=0)[0]

    m_orig, m_oracle = metrics(original), metrics(oracle)
    assert m_orig["rep_auc"] > 0.8, "the case must start with clearly separable representations"
    assert m_oracle["rep_auc"] < 0.7
    data = UnlearnData(forget=sets["forget"], retain=sets["retain"], val=sets["val"], num_classes=10)
    hp = {"epochs": 3, "batch_size": 64, "domain_batch_size": 32, "augment": False, "alpha": 10.0, "lr": 0.001}
    m_sure = metrics(run_method("sure", original, data, make_config("sure", hp), RunContext(torch.Generator().manual_seed(0))))
    m_ft = metrics(run_method("finetune", original, data, make_config("finetune", {"epochs": 3, "batch_size": 64, "lr": 0.001}),
                              RunContext(torch.Generator().manual_seed(0))))
    # SURE moves rep AUC most of the way to the oracle's; fine-tuning with the same budget does not
    assert abs(m_sure["rep_auc"] - m_oracle["rep_auc"]) < 0.5 * abs(m_orig["rep_auc"] - m_oracle["rep_auc"])
    assert m_ft["rep_auc"] > m_sure["rep_auc"] + 0.1
    # … while test accuracy stays within a few points
    assert abs(m_sure["test_acc"] - m_orig["test_acc"]) < 4.0
    assert np.isfinite(list(m_sure.values())).all()
