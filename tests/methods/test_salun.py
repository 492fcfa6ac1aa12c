"""SalUn: non-salient weights stay bit-identical through wd and momentum; the mask is exact and model-made."""

from __future__ import annotations

import dataclasses

import torch

from sure_unlearn.methods import RunContext, make_config, run_method
from sure_unlearn.methods.salun import saliency_mask, top_fraction
from sure_unlearn.models import build_model

# strong weight decay and momentum over several epochs: any leak through either would show
LEAKY = {
    "epochs": 3,
    "batch_size": 32,
    "forget_batch_size": 16,
    "lr": 0.05,
    "weight_decay": 0.05,
    "momentum": 0.9,
}


def _ctx(seed: int = 0) -> RunContext:
    return RunContext(torch.Generator().manual_seed(seed))


def test_masked_weights_stay_bit_identical(tiny_model, tiny, tiny_data):
    ctx = _ctx()
    out = run_method("salun", tiny_model, tiny_data, make_config("salun", LEAKY), ctx)
    mask = saliency_mask(tiny_model, tiny["forget"], 0.5, batch_size=16)
    before, after = dict(tiny_model.named_parameters()), dict(out.named_parameters())
    moved = 0
    for name, m in mask.items():
        assert torch.equal(after[name][~m], before[name][~m]), f"non-salient coordinates of {name} moved"
        moved += int((after[name][m] != before[name][m]).sum())
    total = sum(m.numel() for m in mask.values())
    assert moved > 0.25 * total  # most salient coordinates did move
    assert ctx.info["salient_fraction"] == round(0.5 * total) / total and ctx.info["epochs"] == 3
    # control: the same run unmasked (RandomLabel) does move those coordinates
    rl_cfg = make_config("random_label", dict(LEAKY))
    rl = dict(run_method("random_label", tiny_model, tiny_data, rl_cfg, _ctx()).named_parameters())
    assert any(not torch.equal(rl[n][~m], before[n][~m]) for n, m in mask.items())


def test_mask_has_the_exact_salient_fraction(tiny_model, tiny):
    total = sum(p.numel() for p in tiny_model.parameters())
    for ratio in (0.1, 0.37, 0.5, 1.0):
        mask = saliency_mask(tiny_model, tiny["forget"], ratio)
        assert sum(int(m.sum()) for m in mask.values()) == round(ratio * total)
    # ties at the threshold (all-zero scores) still give the exact count
    ties = top_fraction({"a": torch.zeros(3, 4), "b": torch.ones(5), "c": torch.zeros(7)}, 0.5)
    assert sum(int(m.sum()) for m in ties.values()) == 12 and bool(ties["b"].all())


def test_mask_is_computed_from_the_given_model(tiny_model, tiny, tiny_spec):
    state = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    tiny_model.train()
    a = saliency_mask(tiny_model, tiny["forget"], 0.5)
    assert tiny_model.training and all(torch.equal(v, state[k]) for k, v in tiny_model.state_dict().items())
    torch.manual_seed(1)
    other = build_model("small_cnn", tiny_spec, width=8)
    b = saliency_mask(other, tiny["forget"], 0.5)
    assert a.keys() == b.keys() and any(not torch.equal(a[n], b[n]) for n in a)


def test_mask_marks_the_largest_forget_gradients(tiny_model, tiny):
    """Salient ⇔ |∇ L_{D_f}(θ_o)| above a global threshold (one full-batch gradient, eval mode)."""
    mask = saliency_mask(tiny_model, tiny["forget"], 0.5)
    tiny_model.eval()
    x, y = tiny["forget"].batch(torch.arange(len(tiny["forget"])))
    names, params = zip(*tiny_model.named_parameters(), strict=True)
    grads = torch.autograd.grad(torch.nn.functional.cross_entropy(tiny_model(x), y), params)
    g = torch.cat([gr.abs().flatten() for gr in grads])
    m = torch.cat([mask[n].flatten() for n in names])
    assert g[m].min() >= g[~m].max() * (1 - 1e-5)  # a global threshold, up to summation-order rounding


def test_mask_ratio_one_is_random_label(tiny_model, tiny_data):
    cfg = make_config("salun", {**LEAKY, "epochs": 2, "mask_ratio": 1.0})
    rl_fields = {f.name for f in dataclasses.fields(make_config("random_label"))}
    rl_cfg = make_config("random_label", {k: v for k, v in dataclasses.asdict(cfg).items() if k in rl_fields})
    ctx = _ctx()
    out = run_method("salun", tiny_model, tiny_data, cfg, ctx)
    rl = run_method("random_label", tiny_model, tiny_data, rl_cfg, _ctx())
    assert ctx.info["salient_fraction"] == 1.0
    for (n, p), q, p0 in zip(out.named_parameters(), rl.parameters(), tiny_model.parameters(), strict=True):
        assert torch.equal(p, q), n  # exactly RandomLabel's update: everything free to move moved
        assert not torch.equal(p, p0), n
