"""SURE: the gradient reversal layer, the balanced domain batches, the ramp, and — on real CIFAR-10 —
that it erases what a fresh probe finds in the forget set's representations while keeping accuracy."""

from __future__ import annotations

import copy
import dataclasses
import math
from math import ceil

import numpy as np
import pytest
import torch

from sure_unlearn.data import load_dataset
from sure_unlearn.data.splits import ScenarioConfig, make_split
from sure_unlearn.data.types import NO_AUGMENT, LabeledData
from sure_unlearn.errors import ConfigError, DataError
from sure_unlearn.methods import RunContext, UnlearnData, make_config, run_method
from sure_unlearn.methods.domain import grad_reverse, ramp
from sure_unlearn.models import ModelSpec, SplitModel, build_model
from sure_unlearn.protocol.evaluate import evaluate
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


def _domain_batch_sizes(monkeypatch) -> list[int]:
    """Spy: the size of every batch d sees (one per training step)."""
    import sure_unlearn.methods.sure as sure_mod

    seen: list[int] = []
    real = sure_mod.DomainClassifier

    def spy(dim, hidden, classes=1):
        d = real(dim, hidden, classes)
        d.register_forward_pre_hook(lambda _m, args: seen.append(len(args[0])))
        return d

    monkeypatch.setattr(sure_mod, "DomainClassifier", spy)
    return seen


def test_domain_batches_are_balanced_and_drawn_from_forget_and_val(tiny_model, tiny_data, monkeypatch):
    """Every step sees equally many forget and validation samples, next to a retain batch."""
    seen = _domain_batch_sizes(monkeypatch)
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


def test_automatic_domain_batch_visits_the_forget_set_forget_passes_times_per_epoch(
    tiny_model, tiny_data, monkeypatch
):
    """half = ⌈passes·n_f / steps⌉: 20 forget samples over ⌈220/32⌉ = 7 steps → 3 (+3 val) per step."""
    for passes, half in ((1.0, 3), (2.0, 6)):
        seen = _domain_batch_sizes(monkeypatch)
        ctx = RunContext(torch.Generator().manual_seed(0))
        cfg = make_config(
            "sure", {"epochs": 1, "batch_size": 32, "domain_batch_size": 0, "forget_passes": passes}
        )
        run_method("sure", tiny_model, tiny_data, cfg, ctx)
        assert seen == [2 * half] * 7 and ctx.info["domain_batch"] == 2 * half


def _retain_rows_seen(model, retain, domain):
    """Spy on the model's input normalisation: per call, the dataset positions of the retain rows (the
    first rows of a training batch; the last ``domain`` rows are forget and validation samples). Forward
    passes in eval mode (the harness's check of the result) are not training steps and are skipped."""
    calls: list[list[int]] = []
    lookup = {bytes(retain.x[i].flatten().tolist()): i for i in range(len(retain))}

    def hook(_m, args):
        x = args[0]
        if _m.training and len(x) > domain:  # a training step (the 1-sample width probe is skipped)
            raw = (x[: len(x) - domain] * 255).round().to(torch.uint8).contiguous()
            calls.append([lookup[bytes(r.flatten().tolist())] for r in raw])

    model.norm_in.register_forward_pre_hook(hook)
    return calls


def test_retain_fraction_draws_a_fresh_random_share_of_the_retain_set_each_epoch(tiny_model, tiny_data):
    model = copy.deepcopy(tiny_model)
    calls = _retain_rows_seen(model, tiny_data.retain, domain=4)
    cfg = make_config(
        "sure",
        {"epochs": 2, "batch_size": 32, "domain_batch_size": 4, "augment": False, "retain_fraction": 0.5},
    )
    run_method("sure", model, tiny_data, cfg, RunContext(torch.Generator().manual_seed(0)))
    per_step = ceil(110 / 32)  # ⌈0.5 · 220⌉ = 110 retain samples per epoch
    assert len(calls) == 2 * per_step
    epochs = [sum(calls[:per_step], []), sum(calls[per_step:], [])]
    assert [len(e) for e in epochs] == [110, 110] and all(len(set(e)) == 110 for e in epochs)
    assert set(epochs[0]) != set(epochs[1])  # a fresh draw each epoch


def test_early_stop_stops_once_the_held_out_probe_is_at_chance(tiny_model, tiny_data):
    """Validation = the forget set itself: no probe can tell them apart, so SURE stops after one epoch."""
    same = dataclasses.replace(tiny_data, val=tiny_data.forget)
    cfg = make_config("sure", {"epochs": 4, "batch_size": 32, "domain_batch_size": 8, "early_stop": True})
    ctx = RunContext(torch.Generator().manual_seed(0))
    run_method("sure", tiny_model, same, cfg, ctx)
    assert ctx.info["epochs"] == 1 and ctx.info["stopped_early"]
    assert ctx.info["history"][0]["probe_auc"] <= 0.55
    # … but not while retain accuracy is below the floor
    floor = dataclasses.replace(cfg, stop_retain_acc=101.0)
    ctx = RunContext(torch.Generator().manual_seed(0))
    run_method("sure", tiny_model, same, floor, ctx)
    assert ctx.info["epochs"] == 4 and not ctx.info["stopped_early"]


def test_early_stop_waits_for_the_label_aware_probe(tiny_model, tiny_data):
    """Held-out = the forget images under another class's label: the label-blind probe sees the same z on
    both sides (at chance), but the class margin tells the forget set, deep in its own class's cluster,
    from samples that sit in the wrong one. With α = 0 nothing erases that, so no epoch may stop."""
    f = tiny_data.forget
    relabelled = LabeledData(f.x, (f.y + 1) % tiny_data.num_classes, f.augment)
    cfg = make_config(
        "sure", {"epochs": 3, "batch_size": 32, "domain_batch_size": 8, "early_stop": True, "alpha": 0.0}
    )
    ctx = RunContext(torch.Generator().manual_seed(0))
    run_method("sure", tiny_model, dataclasses.replace(tiny_data, val=relabelled), cfg, ctx)
    assert ctx.info["epochs"] == 3 and not ctx.info["stopped_early"]
    assert all(h["probe_auc"] <= 0.55 and h["margin_auc"] > 0.9 for h in ctx.info["history"])


def test_early_stop_keeps_going_while_the_probe_separates_forget_from_val(tiny, tiny_model, tiny_data):
    """Validation from another class and no adversarial term (α = 0): the probe separates them every
    epoch, so all epochs run."""
    other = tiny["retain"].subset(torch.nonzero(tiny["retain"].y == 3).flatten())
    data = dataclasses.replace(tiny_data, val=other)
    cfg = make_config(
        "sure", {"epochs": 3, "batch_size": 32, "domain_batch_size": 8, "early_stop": True, "alpha": 0.0}
    )
    ctx = RunContext(torch.Generator().manual_seed(0))
    run_method("sure", tiny_model, data, cfg, ctx)
    assert ctx.info["epochs"] == 3 and not ctx.info["stopped_early"]
    assert all(h["probe_auc"] > 0.9 for h in ctx.info["history"])


def test_domain_warmup_trains_d_alone_before_the_adversarial_phase(tiny, tiny_model, tiny_data):
    """Validation from another class, so forget and val differ in z. Warm-up alone (no epochs) teaches d
    to tell them apart and leaves the model bit-identical; in the adversarial phase that follows, the
    warmed d is right from the first step, where a fresh d is at chance."""
    other = tiny["retain"].subset(torch.nonzero(tiny["retain"].y == 3).flatten())
    data = dataclasses.replace(tiny_data, val=other)
    base = {"batch_size": 32, "domain_batch_size": 8, "augment": False, "alpha": 0.0, "domain_lr": 0.05}
    ctx = RunContext(torch.Generator().manual_seed(0))
    warm_only = make_config("sure", {**base, "epochs": 0, "domain_warmup": 100})
    out = run_method("sure", tiny_model, data, warm_only, ctx)
    w = ctx.info["domain_warmup"]
    assert w["bce_end"] < 0.5 * w["bce_start"] and w["acc_end"] >= 95.0
    for a, b in zip(out.state_dict().values(), tiny_model.state_dict().values(), strict=True):
        assert torch.equal(a, b)

    def first_epoch_domain_acc(warmup: int) -> float:
        ctx = RunContext(torch.Generator().manual_seed(0))
        cfg = make_config("sure", {**base, "epochs": 1, "domain_warmup": warmup})
        run_method("sure", tiny_model, data, cfg, ctx)
        return ctx.info["history"][0]["domain_acc"]

    assert first_epoch_domain_acc(100) >= 90.0 > first_epoch_domain_acc(0) + 20.0


@pytest.mark.parametrize("augment", [False, True])  # cached trunk outputs / trunk re-run under no_grad
def test_freeze_blocks_leaves_the_trunk_bit_identical_and_trains_the_rest(tiny_model, tiny_data, augment):
    cfg = make_config(
        "sure",
        {"epochs": 2, "batch_size": 32, "domain_batch_size": 8, "freeze_blocks": 2, "augment": augment},
    )
    out = run_method("sure", tiny_model, tiny_data, cfg, RunContext(torch.Generator().manual_seed(0)))
    before, after = tiny_model.state_dict(), out.state_dict()
    for name in before:
        frozen = name.startswith(("norm_in.", "conv1.", "conv2."))
        assert torch.equal(before[name], after[name]) == frozen or name.endswith("num_batches_tracked"), name
    assert not torch.equal(before["conv3.0.weight"], after["conv3.0.weight"])


def test_freeze_blocks_refuses_what_it_cannot_do(tiny_model, tiny_data, tiny_spec):
    def attempt(model, **hp):
        cfg = make_config("sure", {"epochs": 1, "batch_size": 32, "domain_batch_size": 8, **hp})
        run_method("sure", model, tiny_data, cfg, RunContext(torch.Generator().manual_seed(0)))

    with pytest.raises(ConfigError, match="choose 0"):
        attempt(tiny_model, freeze_blocks=4)  # conv1, conv2, conv3, pool: nothing left before z
    with pytest.raises(ConfigError, match="frozen trunk"):
        attempt(tiny_model, freeze_blocks=2, z_layer="conv1")

    class Shuffled(SplitModel):  # registers b before a but applies a first
        def __init__(self):
            super().__init__()
            self.b = torch.nn.Linear(8, 8)
            self.a = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(192, 8))
            self.head = torch.nn.Linear(8, 4)

        def forward_features(self, x):
            return self.b(self.a(x))

    with pytest.raises(ConfigError, match="in order"):
        attempt(Shuffled(), freeze_blocks=1)


# ------------------------------------------------------------------------------------------------
# The behaviour SURE exists for, on real data: an MLP that memorises a 1,050-image CIFAR-10 subset, so a
# fresh linear probe separates its 60 forget samples (cats) from unseen test cats (rep AUC ≈ 0.9).


# SURE on the CIFAR case: the same budget and strength for the plain and the frozen-trunk test
CIFAR_SURE = {
    "epochs": 3,
    "batch_size": 64,
    "domain_batch_size": 32,
    "augment": False,
    "alpha": 10.0,
    "lr": 0.001,
}


def cifar_data(sets):
    return UnlearnData(forget=sets["forget"], retain=sets["retain"], val=sets["val"], num_classes=10)


@pytest.fixture(scope="module")
def cifar_case():
    try:
        data = load_dataset("cifar10")
    except DataError as e:
        pytest.skip(f"CIFAR-10 not available: {e}")
    split = make_split(
        data.train.y,
        data.test.y,
        data.classes,
        ScenarioConfig("partial_class", n=60, cls="cat"),
        0,
        train_subset=1500,
        test_subset=2000,
        holdout_fraction=0.3,
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

    sets = {
        "forget": sub(data.train, split.forget),
        "retain": sub(data.train, split.retain),
        "test": sub(data.test, split.test),
        "val": sub(data.train, split.val),
    }
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
    data = cifar_data(sets)
    hp = CIFAR_SURE
    m_sure = metrics(
        run_method(
            "sure", original, data, make_config("sure", hp), RunContext(torch.Generator().manual_seed(0))
        )
    )
    m_ft = metrics(
        run_method(
            "finetune",
            original,
            data,
            make_config("finetune", {"epochs": 3, "batch_size": 64, "lr": 0.001}),
            RunContext(torch.Generator().manual_seed(0)),
        )
    )
    # SURE moves rep AUC most of the way to the oracle's; fine-tuning with the same budget does not
    assert abs(m_sure["rep_auc"] - m_oracle["rep_auc"]) < 0.5 * abs(m_orig["rep_auc"] - m_oracle["rep_auc"])
    assert m_ft["rep_auc"] > m_sure["rep_auc"] + 0.1
    # … while test accuracy stays within a few points
    assert abs(m_sure["test_acc"] - m_orig["test_acc"]) < 4.0
    assert np.isfinite(list(m_sure.values())).all()


@pytest.mark.slow
@pytest.mark.data
def test_sure_with_a_frozen_first_layer_still_lowers_rep_auc_on_cifar10(cifar_case):
    """freeze_blocks=1 trains only the MLP's second layer, on cached first-layer outputs: the first layer
    stays bit-identical and rep AUC still falls clearly (measured 0.90 → 0.80; the oracle's is 0.47, the
    unfrozen run's ≈ 0.6), i.e. erasure behind a frozen trunk is real but partial: the trunk's own
    features of the forget set are the original's."""
    split, sets, original, oracle = cifar_case

    def rep_auc(model):
        return evaluate(model, sets, forget_classes=split.forget_classes, seed=0)[0]["rep_auc"]

    data = cifar_data(sets)
    hp = {**CIFAR_SURE, "freeze_blocks": 1}
    out = run_method(
        "sure", original, data, make_config("sure", hp), RunContext(torch.Generator().manual_seed(0))
    )
    assert torch.equal(out.layer1[1].weight, original.layer1[1].weight)
    assert not torch.equal(out.layer2[0].weight, original.layer2[0].weight)
    assert rep_auc(out) < rep_auc(original) - 0.05


# ------------------------------------------------------------------------------------------------
# Representation erasure on a small case built to show it (seconds, no CIFAR): the forget samples carry a
# faint trigger in one corner that the held-out samples of their class lack, so a model trained on them
# keeps the trigger in z and a fresh probe separates forget from unseen samples of the class.


def trigger_images(n: int, cls: int | None, seed: int, trigger: float = 0.0):
    from sure_unlearn.data.types import ImageArrays

    rng = np.random.default_rng(seed)
    means = np.random.default_rng(123).uniform(40, 215, size=(4, 8, 8, 1))
    y = np.full(n, cls) if cls is not None else np.arange(n) % 4
    x = means[y] + rng.normal(0, 40, size=(n, 8, 8, 1))
    x[:, :3, :3, :] += trigger
    return ImageArrays(np.clip(x, 0, 255).astype(np.uint8), y.astype(np.int64))


@pytest.fixture(scope="module")
def trigger_case():
    from sure_unlearn.data.types import ImageArrays

    forget, val, unseen = trigger_images(48, 1, 1, 40.0), trigger_images(200, 1, 2), trigger_images(48, 1, 3)
    retain = trigger_images(320, None, 4)
    torch.manual_seed(0)
    model = build_model("mlp", ModelSpec(4, 1, 8, (0.5,), (0.25,)), hidden=64)
    both = ImageArrays(np.concatenate([retain.x, forget.x]), np.concatenate([retain.y, forget.y]))
    fit(
        model,
        LabeledData.from_arrays(both),
        Recipe(epochs=30, lr=0.05, batch_size=32, augment=False),
        torch.Generator().manual_seed(0),
    )
    data = UnlearnData(
        forget=LabeledData.from_arrays(forget),
        retain=LabeledData.from_arrays(retain),
        val=LabeledData.from_arrays(val),
        num_classes=4,
    )
    return model, data, LabeledData.from_arrays(unseen)


def _fresh_probe_auc(model, forget, unseen) -> float:
    """The rep_auc probe on forget vs never-seen samples of the same class (never SURE's held-out set)."""
    from sure_unlearn.metrics.representation import probe_auc
    from sure_unlearn.protocol.evaluate import collect

    return probe_auc(collect(model, forget).z, collect(model, unseen).z, seed=0)


TRIGGER_SURE = {"epochs": 10, "batch_size": 32, "domain_batch_size": 16, "augment": False, "lr": 0.01,
                "alpha": 10.0, "reverse": "forget"}  # fmt: skip


def test_sure_erases_what_a_fresh_probe_finds_and_its_controls_do_not(trigger_case, monkeypatch):
    import sure_unlearn.methods.domain as domain_mod

    model, data, unseen = trigger_case

    def after(**hp) -> float:
        cfg = make_config("sure", {**TRIGGER_SURE, **hp})
        out = run_method("sure", model, data, cfg, RunContext(torch.Generator().manual_seed(0)))
        return _fresh_probe_auc(out, data.forget, unseen)

    before = _fresh_probe_auc(model, data.forget, unseen)
    assert before > 0.72, "the case must start separable"
    erased, control = after(), after(alpha=0.0)
    assert erased < 0.62 and erased < before - 0.15
    assert abs(control - before) < 0.05  # α = 0: only retain CE, the trigger stays in z
    monkeypatch.setattr(domain_mod, "grad_reverse", lambda x, lam: x)  # the reversal's sign flipped
    flipped_forget, flipped_both = after(), after(reverse="both", alpha=3.0)
    assert flipped_forget > erased + 0.15  # no erasure without the reversal
    assert flipped_both > before + 0.1  # d's own gradient makes the forget set *more* separable


def test_reverse_forget_detaches_the_held_out_half():
    """With reverse="forget" the domain loss sends no gradient to the held-out inputs (they do not move),
    while the forget inputs get one; with "both" both halves do."""
    from sure_unlearn.methods.domain import DomainClassifier, domain_logits

    torch.manual_seed(0)
    g, d = torch.nn.Linear(6, 5), DomainClassifier(5, 8)
    y = torch.zeros(8, dtype=torch.long)
    for reverse, held_moves in (("forget", False), ("both", True)):
        x = torch.randn(8, 6, requires_grad=True)
        logits = domain_logits({"z": d}, {"z": g(x)}, y, 1.0, reverse)["z"]
        torch.nn.functional.binary_cross_entropy_with_logits(
            logits, torch.cat([torch.ones(4), torch.zeros(4)])
        ).backward()
        assert x.grad[:4].abs().sum() > 0
        assert (x.grad[4:].abs().sum() > 0) == held_moves
