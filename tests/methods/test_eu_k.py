"""EU-k: the reset puts the chosen blocks (parameters AND buffers, head included) exactly at θ_init and
leaves the rest at θ_o; training then leaves every frozen tensor bit-identical; without θ_init the blocks
get fresh weights."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch

from sure_unlearn.errors import ConfigError
from sure_unlearn.methods import RunContext, make_config, run_method
from sure_unlearn.methods.eu_k import reset_blocks
from sure_unlearn.models import build_model
from sure_unlearn.train import Recipe

RESET = ("conv3.", "head.")  # small_cnn's last stage with parameters, and the head
# the running statistics of small_cnn's frozen BN layers (conv1 and conv2)
FROZEN_BN_STATS = {
    f"{m}.1.{s}" for m in ("conv1", "conv2") for s in ("running_mean", "running_var", "num_batches_tracked")
}


@pytest.fixture()
def init_state(tiny_spec):
    torch.manual_seed(123)  # θ_init: another draw of the same architecture
    return build_model("small_cnn", tiny_spec, width=8).state_dict()


def snapshot(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_reset_puts_chosen_blocks_at_init_and_leaves_the_rest(tiny_model, init_state):
    model, before = copy.deepcopy(tiny_model), snapshot(tiny_model)
    assert reset_blocks(model, ["conv3"], True, init_state, torch.Generator()) == "init_state"
    for k, v in model.state_dict().items():
        assert torch.equal(v, init_state[k] if k.startswith(RESET) else before[k]), k
    assert not torch.equal(before["conv3.1.running_var"], init_state["conv3.1.running_var"])  # buffers too


def test_training_leaves_frozen_parts_bit_identical(tiny_model, tiny_data, init_state):
    before = snapshot(tiny_model)
    data = dataclasses.replace(tiny_data, init_state=init_state, original_recipe=Recipe(epochs=2))
    ctx = RunContext(torch.Generator().manual_seed(0))
    out = run_method("eu_k", tiny_model, data, make_config("eu_k", {"lr": 0.05}), ctx)
    for k, v in out.state_dict().items():
        if not k.startswith(RESET):
            assert torch.equal(v, before[k]), f"frozen {k} moved"
    w = out.conv3[0].weight
    assert not torch.equal(w, init_state["conv3.0.weight"]) and not torch.equal(w, before["conv3.0.weight"])
    assert ctx.info["reset"] == "init_state" and ctx.info["epochs"] == 2  # the original's budget


def test_without_init_state_the_blocks_get_fresh_weights(tiny_model, tiny_data, init_state):
    model, before = copy.deepcopy(tiny_model), snapshot(tiny_model)
    assert reset_blocks(model, ["conv3"], True, None, torch.Generator().manual_seed(0)) == "fresh"
    after = model.state_dict()
    for k in ("conv3.0.weight", "head.weight", "head.bias"):
        assert not torch.equal(after[k], before[k]) and not torch.equal(after[k], init_state[k]), k
    assert torch.equal(after["conv3.1.running_mean"], torch.zeros(32))  # BN statistics reset as well
    assert all(torch.equal(v, before[k]) for k, v in after.items() if not k.startswith(RESET))
    again = copy.deepcopy(tiny_model)
    reset_blocks(again, ["conv3"], True, None, torch.Generator().manual_seed(0))
    assert torch.equal(again.conv3[0].weight, model.conv3[0].weight)  # drawn from the generator
    ctx = RunContext(torch.Generator())
    run_method("eu_k", tiny_model, tiny_data, make_config("eu_k", {"epochs": 1}), ctx)
    assert ctx.info["reset"] == "fresh" and ctx.info["epochs"] == 1  # no original recipe: the config's budget


def test_an_init_state_of_another_model_is_rejected(tiny_model, tiny_spec):
    other = build_model("small_cnn", tiny_spec, width=4).state_dict()
    with pytest.raises(ConfigError, match="init_state"):
        reset_blocks(copy.deepcopy(tiny_model), ["conv3"], True, other, torch.Generator())


@pytest.mark.parametrize("frozen_bn", ["eval", "train"])
def test_frozen_bn_train_mode_moves_only_frozen_statistics(tiny_model, tiny_data, init_state, frozen_bn):
    """SCRUB trains with the frozen BN layers in train mode: their running statistics follow D_r while
    their weights stay at θ_o. In eval mode (the default) nothing frozen changes."""
    before = snapshot(tiny_model)
    data = dataclasses.replace(tiny_data, init_state=init_state, original_recipe=Recipe(epochs=1))
    cfg = make_config("eu_k", {"lr": 0.05, "frozen_bn": frozen_bn})
    out = run_method("eu_k", tiny_model, data, cfg, RunContext(torch.Generator().manual_seed(0)))
    moved = {k for k, v in out.state_dict().items() if not (k.startswith(RESET) or torch.equal(v, before[k]))}
    assert moved == (FROZEN_BN_STATS if frozen_bn == "train" else set())
