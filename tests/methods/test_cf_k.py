"""CF-k: only the last block (and the head) train; every frozen parameter AND BatchNorm running statistic
is bit-identical afterwards; block selection skips parameter-free stages."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from sure_unlearn.errors import ConfigError
from sure_unlearn.methods import RunContext, make_config, run_method
from sure_unlearn.methods.cf_k import select_blocks
from sure_unlearn.models import build_model
from sure_unlearn.train import Recipe, fit

TRAINED = ("conv3.", "head.")  # small_cnn's last stage with parameters, and the head
# the running statistics of small_cnn's frozen BN layers (conv1 and conv2)
FROZEN_BN_STATS = {
    f"{m}.1.{s}" for m in ("conv1", "conv2") for s in ("running_mean", "running_var", "num_batches_tracked")
}


def changed(a: dict, b: dict) -> set[str]:
    return {k for k in a if not torch.equal(a[k], b[k])}


def test_only_the_last_block_and_head_change(tiny_model, tiny_data):
    before = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    cfg = make_config("cf_k", {"epochs": 2, "lr": 0.05})
    ctx = RunContext(torch.Generator().manual_seed(0))
    out = run_method("cf_k", tiny_model, tiny_data, cfg, ctx)
    after = out.state_dict()
    diff = changed(before, after)
    assert not {k for k in diff if not k.startswith(TRAINED)}, "a frozen parameter or BN statistic moved"
    assert {"conv3.0.weight", "conv3.1.weight", "conv3.1.running_mean", "head.weight", "head.bias"} <= diff
    assert all(p.requires_grad for p in out.parameters()), "requires_grad must be restored"
    assert ctx.info["trained"] == ["conv3", "head"] and ctx.info["epochs"] == 2
    # SCRUB's ResNet variant: the head stays frozen too
    out = run_method("cf_k", tiny_model, tiny_data, dataclasses.replace(cfg, include_head=False), ctx)
    diff = changed(before, out.state_dict())
    assert diff and all(k.startswith("conv3.") for k in diff)


def test_freezing_by_requires_grad_alone_would_let_bn_statistics_drift(tiny_model, tiny, tiny_spec):
    """The pitfall the eval-mode hooks prevent: the test above would catch a method that ignored it."""
    model = build_model("small_cnn", tiny_spec, width=8)
    model.load_state_dict(tiny_model.state_dict())
    mean = model.conv1[1].running_mean.clone()
    fit(
        model,
        tiny["retain"],
        Recipe(epochs=1, batch_size=64, lr=0.01),
        torch.Generator(),
        params=model.conv3.parameters(),
    )
    assert not torch.equal(model.conv1[1].running_mean, mean)


def test_block_selection(tiny_spec):
    resnet = build_model("resnet18", tiny_spec, width=2)
    assert resnet.blocks()[-1] == "pool"  # parameter-free: not counted
    assert select_blocks(resnet, 1) == ["layer4"]
    assert select_blocks(resnet, 2) == ["layer3", "layer4"]
    assert select_blocks(resnet, 1, ("layer2", "layer3.1")) == ["layer2", "layer3.1"]
    assert select_blocks(resnet, 1, "layer2,layer3") == ["layer2", "layer3"]
    assert select_blocks(build_model("small_cnn", tiny_spec, width=4), 1) == ["conv3"]
    with pytest.raises(ConfigError, match="stages"):
        select_blocks(resnet, 6)
    with pytest.raises(ConfigError, match="pool"):
        select_blocks(resnet, 1, ("pool",))
    with pytest.raises(ConfigError, match="nothing to train"):
        make_config("cf_k", {"blocks": 0, "include_head": False})


def test_resnet_trunk_and_its_bn_statistics_stay_frozen(tiny, tiny_data, tiny_spec):
    torch.manual_seed(0)
    model = build_model("resnet18", tiny_spec, width=2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = make_config("cf_k", {"epochs": 1, "include_head": False})
    data = dataclasses.replace(tiny_data, retain=tiny["retain"].subset(torch.arange(64)))  # one step
    out = run_method("cf_k", model, data, cfg, RunContext(torch.Generator()))
    diff = changed(before, out.state_dict())
    assert diff and all(k.startswith("layer4.") for k in diff)
    assert "layer4.0.shortcut.1.running_var" in diff  # trainable BN statistics do update


@pytest.mark.parametrize("frozen_bn", ["eval", "train"])
def test_frozen_bn_mode_decides_whether_frozen_running_statistics_move(tiny_model, tiny_data, frozen_bn):
    """In "train" mode (SCRUB's reference) frozen BN layers update their running statistics, never their
    weights; in "eval" mode nothing frozen changes at all."""
    before = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    cfg = make_config("cf_k", {"epochs": 1, "lr": 0.05, "frozen_bn": frozen_bn})
    out = run_method("cf_k", tiny_model, tiny_data, cfg, RunContext(torch.Generator().manual_seed(0)))
    frozen = {k for k in changed(before, out.state_dict()) if not k.startswith(TRAINED)}
    assert frozen == (FROZEN_BN_STATS if frozen_bn == "train" else set())  # no weight, conv or BN, moves
    assert all(m.training == out.training for m in out.modules()), "train flags must be restored"


def test_frozen_bn_mode_changes_the_trained_block_and_is_validated(tiny_model, tiny_data):
    runs = {
        mode: run_method(
            "cf_k", tiny_model, tiny_data, make_config("cf_k", {"epochs": 1, "lr": 0.05, "frozen_bn": mode}),
            RunContext(torch.Generator().manual_seed(0)),
        )
        for mode in ("eval", "train")
    }  # fmt: skip
    # the trained block sees differently normalised inputs, so its update differs
    assert not torch.equal(runs["eval"].conv3[0].weight, runs["train"].conv3[0].weight)
    with pytest.raises(ConfigError, match="frozen_bn"):
        make_config("cf_k", {"frozen_bn": "frozen"})
