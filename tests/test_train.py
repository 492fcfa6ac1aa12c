"""The shared training loop's engine: layout and precision change how the arithmetic runs, never what is
computed; evaluation's single forward pass gives the same outputs in either layout."""

from __future__ import annotations

import copy

import pytest
import torch
from helpers import flat

from sure_unlearn.models import build_model
from sure_unlearn.protocol.evaluate import collect
from sure_unlearn.train import Engine, Recipe, fit


def test_automatic_engine_uses_channels_last_for_conv_nets_and_no_bf16_on_cpu(tiny_model, tiny_spec):
    conv = Engine().resolve(tiny_model)
    mlp = Engine().resolve(build_model("mlp", tiny_spec, hidden=8))
    assert (conv.channels_last, conv.bf16, conv.compile, conv.device_type) == (True, False, False, "cpu")
    assert (mlp.channels_last, mlp.bf16) == (False, False)
    assert Engine(channels_last=False, bf16=True).resolve(tiny_model).channels_last is False


def test_engine_must_be_resolved_before_use():
    with pytest.raises(RuntimeError, match="resolve"):
        Engine().autocast()


def test_prepare_and_inputs_change_layout_not_values(tiny_model):
    model = copy.deepcopy(tiny_model)
    before = flat(model).clone()
    eng = Engine(channels_last=True).resolve(model)
    eng.prepare(model)
    conv_weight = model.conv1[0].weight
    assert conv_weight.is_contiguous(memory_format=torch.channels_last) and not conv_weight.is_contiguous()
    assert torch.equal(flat(model), before)
    x = torch.rand(3, 3, 8, 8)
    assert torch.equal(eng.inputs(x), x) and eng.inputs(x).is_contiguous(memory_format=torch.channels_last)
    assert eng.inputs(torch.rand(3, 5)).is_contiguous()  # non-image inputs pass through


def test_bf16_autocast_computes_in_bfloat16_when_asked():
    lin = torch.nn.Linear(4, 2)
    on, off = Engine(bf16=True).resolve(lin), Engine(bf16=False).resolve(lin)
    with on.autocast():
        assert lin(torch.rand(3, 4)).dtype == torch.bfloat16
    with off.autocast():
        assert lin(torch.rand(3, 4)).dtype == torch.float32


def test_fit_is_the_same_training_in_either_layout(tiny, tiny_model):
    """channels-last only reorders memory: two fits from the same weights and seed end at the same weights
    (up to float summation order), and differ clearly from the starting point."""
    recipe = Recipe(epochs=2, lr=0.05, batch_size=32, augment=False)
    runs = []
    for cl in (False, True):
        model = copy.deepcopy(tiny_model)
        fit(model, tiny["retain"], recipe, torch.Generator().manual_seed(0), engine=Engine(channels_last=cl))
        runs.append(flat(model))
    assert torch.allclose(runs[0], runs[1], atol=1e-4, rtol=1e-3)
    assert not torch.allclose(runs[0], flat(tiny_model), atol=1e-3)


def test_collect_gives_the_same_outputs_in_either_layout(tiny, tiny_model):
    a = collect(tiny_model, tiny["test"], batch_size=32, engine=Engine(channels_last=False))
    b = collect(tiny_model, tiny["test"], batch_size=32, engine=Engine(channels_last=True))
    c = collect(tiny_model, tiny["test"], batch_size=32, z_layer="conv2", engine=Engine(channels_last=True))
    d = collect(tiny_model, tiny["test"], batch_size=32, z_layer="conv2", engine=Engine(channels_last=False))
    assert a.logits.shape == (len(tiny["test"]), 4)
    assert abs(a.logits - b.logits).max() < 1e-4 and abs(a.z - b.z).max() < 1e-4
    assert c.z.shape == d.z.shape and abs(c.z - d.z).max() < 1e-4  # flattened in NCHW order either way


@pytest.mark.slow
def test_compiled_fit_matches_eager(tiny, tiny_spec):
    """``compile=True`` runs the same loss through torch.compile: same result as eager."""
    pytest.importorskip("torch._inductor")
    recipe = Recipe(epochs=1, lr=0.05, batch_size=32, augment=False)
    runs = []
    for compiled in (False, True):
        torch.manual_seed(0)
        model = build_model("mlp", tiny_spec, hidden=16)
        fit(model, tiny["retain"], recipe, torch.Generator().manual_seed(0), engine=Engine(compile=compiled))
        runs.append(flat(model))
    assert torch.allclose(runs[0], runs[1], atol=1e-5, rtol=1e-4)


def test_inference_folds_batchnorm_into_convolutions_without_changing_outputs(tiny_model):
    model = copy.deepcopy(tiny_model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    eng = Engine().resolve(model)
    folded = eng.inference(model)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())  # the original is untouched
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    x = torch.rand(16, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(folded(eng.inputs(x)), model.eval()(x), atol=1e-5)


def test_inference_folds_only_batchnorms_that_follow_a_convolution():
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3),
        torch.nn.ReLU(),
        torch.nn.BatchNorm2d(4),
        torch.nn.Conv2d(4, 4, 1, bias=False),
        torch.nn.BatchNorm2d(4),
    )
    folded = Engine().resolve(net).inference(net)
    assert [type(m).__name__ for m in folded] == ["Conv2d", "ReLU", "BatchNorm2d", "Conv2d", "Identity"]
    assert (
        folded[3].bias is not None and net[3].bias is None
    )  # the fold adds the bias; the original keeps none
