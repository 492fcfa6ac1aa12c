"""RandomLabel: wrong labels are never the true one and uniform over the wrong classes; a run (and SalUn's)
draws them as its label_mode says and records the mode; forget accuracy drops; the two schedules visit the
sets in their documented order."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch

from sure_unlearn.data.types import LabeledData
from sure_unlearn.errors import ConfigError
from sure_unlearn.methods import METHODS, RunContext, make_config, run_method
from sure_unlearn.methods import random_label as rl_module
from sure_unlearn.methods.random_label import random_wrong_labels
from sure_unlearn.train import accuracy

FAST = {"epochs": 2, "batch_size": 64, "forget_batch_size": 16, "augment": False}
# the tiny forget (20) and retain (220) sets in one batch each
ONE_STEP_EACH = {"batch_size": 220, "forget_batch_size": 20, "augment": False}


def test_wrong_labels_never_true_and_uniform_over_wrong_classes():
    k, g = 5, torch.Generator().manual_seed(0)
    y = torch.arange(30_000) % k
    draws = torch.stack([random_wrong_labels(y, k, g) for _ in range(3)])  # redrawn every call
    assert not (draws == y).any()
    assert not torch.equal(draws[0], draws[1])
    for c in range(k):  # given y = c, each of the k − 1 wrong classes has probability 1/(k − 1)
        freq = torch.bincount(draws[:, y == c].flatten(), minlength=k).float()
        freq /= freq.sum()
        assert freq[c] == 0
        assert torch.allclose(freq[torch.arange(k) != c], torch.full((k - 1,), 1 / (k - 1)), atol=0.02)
    any_mode = random_wrong_labels(y, k, g, mode="any")
    assert abs((any_mode == y).float().mean().item() - 1 / k) < 0.02  # the reference's sampling
    with pytest.raises(ConfigError):
        random_wrong_labels(y, k, g, mode="nope")


@pytest.mark.parametrize("method", ["random_label", "salun"])
def test_a_run_draws_forget_labels_as_its_label_mode_says(monkeypatch, tiny_model, tiny_data, method):
    """With label_mode "wrong" no forget sample is ever trained on its true label; with "any" (the
    reference's sampling) about 1/K of the draws are the true label. The mode is a config field, so every run's hparams record it."""
    draws: list[tuple[torch.Tensor, torch.Tensor]] = []  # (true, drawn) of every forget batch the run visited

    def spy(y, num_classes, generator, mode="wrong"):
        drawn = random_wrong_labels(y, num_classes, generator, mode)
        draws.append((y.clone(), drawn.clone()))
        return drawn

    monkeypatch.setattr(rl_module, "random_wrong_labels", spy)
    hit_rate = {}
    for mode in ("wrong", "any"):
        draws.clear()
        cfg = make_config(method, {**ONE_STEP_EACH, "epochs": 30, "label_mode": mode})
        assert dataclasses.asdict(cfg)["label_mode"] == mode  # what run.json's hparams hold
        run_method(method, tiny_model, tiny_data, cfg, RunContext(torch.Generator().manual_seed(0)))
        y, drawn = (torch.cat(t) for t in zip(*draws, strict=True))
        assert len(y) == 30 * len(tiny_data.forget)  # every forget visit drew its label here
        hit_rate[mode] = (drawn == y).float().mean().item()
    k = tiny_data.num_classes
    assert hit_rate["wrong"] == 0.0
    assert abs(hit_rate["any"] - 1 / k) < 0.06  # 600 draws: 1/K ± 3.4 standard errors
    with pytest.raises(ConfigError, match="label_mode"):
        make_config(method, {"label_mode": "true"})


@pytest.mark.parametrize("schedule", ["sequential", "summed"])
def test_forget_accuracy_drops(tiny_model, tiny_data, schedule):
    before = accuracy(tiny_model, tiny_data.forget)
    ctx = RunContext(torch.Generator().manual_seed(0))
    cfg = make_config("random_label", {**FAST, "epochs": 1, "lr": 0.05, "schedule": schedule})
    out = run_method("random_label", tiny_model, tiny_data, cfg, ctx)
    forget_acc = accuracy(out, tiny_data.forget)
    assert forget_acc <= before - 50
    # the retain pass keeps the rest (the tiny retain set holds 40 more samples of the forgotten class)
    assert forget_acc < accuracy(out, tiny_data.retain) - 30
    assert len(ctx.info["history"]) == 1


class Log(LabeledData):
    """Appends its tag to a shared list at every batch read."""

    def __init__(self, d: LabeledData, tag: str, log: list[str]) -> None:
        super().__init__(d.x, d.y, d.augment, d.idx)
        self.tag, self.log = tag, log

    def batch(self, rows, generator=None):
        self.log.append(self.tag)
        return super().batch(rows, generator)

    def with_augment(self, augment):
        return Log(LabeledData(self.x, self.y, augment, self.idx), self.tag, self.log)


def reads(tiny_model, tiny_data, schedule: str) -> str:
    log: list[str] = []
    data = dataclasses.replace(
        tiny_data, forget=Log(tiny_data.forget, "f", log), retain=Log(tiny_data.retain, "r", log)
    )
    cfg = make_config("random_label", {**FAST, "epochs": 1, "schedule": schedule})
    # the method's own loop (``run_method`` would add its one-batch check of the result to the log)
    METHODS.get("random_label").fn(
        copy.deepcopy(tiny_model), data, cfg, RunContext(torch.Generator().manual_seed(0))
    )
    return "".join(log)


def test_schedules_visit_the_sets_in_order(tiny_model, tiny_data):
    # 20 forget samples in batches of 16, 220 retain samples in batches of 64
    assert reads(tiny_model, tiny_data, "sequential") == "ff" + "r" * 4  # all of D_f, then all of D_r
    assert reads(tiny_model, tiny_data, "summed") == "rf" * 4  # one retain batch paired with one forget batch
