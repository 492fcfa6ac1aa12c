"""Any model through unlearn(): every method takes a model whose forward returns a dict, a tuple, an object
with ``.logits`` (a tiny Hugging Face ViT), or whose head is nested, and returns the user's own module."""

from __future__ import annotations

import dataclasses
from collections import OrderedDict

import pytest
import torch
from torch import nn

import sure_unlearn
from sure_unlearn.errors import ConfigError
from sure_unlearn.methods import METHODS
from sure_unlearn.models.base import logits_of, wrap_model

METHOD_NAMES = [m for m in METHODS.available() if m != "retrain"]
SHRINK = {"epochs": 1, "batch_size": 16, "forget_batch_size": 8, "domain_batch_size": 8, "num_samples": 16}
# an untrained model's forget gradients are not 10× more important than the rest's anywhere: SSD's α = 10
# would select nothing; EU-k can only re-initialise layers that have a reset_parameters (not the ViT's
# embeddings), so on the ViT it is pointed at the transformer layers (``layers=``)
EXTRA = {("*", "ssd"): {"selection_weight": 1.0}}
K = 4


def body() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()
    )


class DictNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body, self.fc = body(), nn.Linear(8, K)

    def forward(self, x):
        z = self.body(x)
        return {"features": z, "logits": self.fc(z)}


class TupleNet(DictNet):
    def forward(self, x):
        z = self.body(x)
        return self.fc(z), z


class NestedHeadNet(nn.Module):
    """The final linear layer lives at ``classifier.fc``."""

    def __init__(self) -> None:
        super().__init__()
        self.body = body()
        self.classifier = nn.Sequential(OrderedDict(drop=nn.Dropout(0.0), fc=nn.Linear(8, K)))

    def forward(self, x):
        return self.classifier(self.body(x))


def tiny_vit() -> nn.Module:
    transformers = pytest.importorskip("transformers")
    cfg = transformers.ViTConfig(
        image_size=8, patch_size=4, num_channels=3, hidden_size=16, num_hidden_layers=1,
        num_attention_heads=2, intermediate_size=32, num_labels=K,
    )  # fmt: skip
    return transformers.ViTForImageClassification(cfg)


MODELS = {
    "dict": (DictNet, "fc"),
    "tuple": (TupleNet, "fc"),
    "nested_head": (NestedHeadNet, "classifier.fc"),
    "hf_vit": (tiny_vit, "classifier"),
}


@pytest.fixture(scope="module")
def sets():
    """Class-dependent images (3×8×8 in [0, 1]): forget (class 1), retain, val (class 1, held out)."""
    g = torch.Generator().manual_seed(0)
    means = torch.rand(K, 3, 8, 8, generator=g)
    y = torch.arange(120) % K
    x = (means[y] + 0.2 * torch.randn(120, 3, 8, 8, generator=g)).clamp(0, 1)
    forget = (y[:80] == 1).nonzero().flatten()[:12]
    retain = torch.tensor([i for i in range(80) if i not in set(forget.tolist())])
    val = 80 + (y[80:] == 1).nonzero().flatten()
    return {k: (x[i], y[i]) for k, i in (("forget", forget), ("retain", retain), ("val", val))}


def config(net: nn.Module, name: str) -> dict:
    fields = {f.name for f in dataclasses.fields(METHODS.get(name).config)}
    extra = EXTRA.get(("*", name), {})
    if name == "eu_k" and hasattr(net, "vit"):  # transformers 4 calls them encoder.layer, 5 layers
        extra = {
            "layers": tuple("module." + n for n, m in net.named_modules() if isinstance(m, nn.ModuleList))
        }
    return {**{k: v for k, v in SHRINK.items() if k in fields}, **extra}


def params(m: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in m.parameters()])


@pytest.mark.parametrize("method", METHOD_NAMES)
@pytest.mark.parametrize("kind", list(MODELS))
def test_every_method_unlearns_any_model(kind, method, sets):
    build, head = MODELS[kind]
    torch.manual_seed(0)
    net = build()
    before = params(net).clone()
    out = sure_unlearn.unlearn(net, **sets, method=method, head=head, config=config(net, method))
    assert type(out) is type(net) and out is not net
    assert torch.equal(params(net), before), "the caller's model must be left as it was"
    out.eval()
    with torch.no_grad():
        logits = logits_of(out(sets["forget"][0]))
    assert logits.shape == (len(sets["forget"][0]), K) and torch.isfinite(logits).all()
    if METHODS.get(method).changes_model:
        assert not torch.equal(params(out), before), f"{method} left the {kind} model unchanged"


def test_the_adapter_reads_every_output_form():
    t = torch.randn(2, K)

    class Out:
        logits = t

    for out in (t, (t, None), [t], {"logits": t, "hidden": t}, {"scores": t}, Out()):
        assert logits_of(out) is t
    with pytest.raises(ConfigError, match="logits"):
        logits_of({"a": t, "b": t})
    with pytest.raises(ConfigError, match="returns a str"):
        logits_of("logits")


def test_the_wrapped_model_splits_at_a_nested_head():
    net = NestedHeadNet().eval()
    m = wrap_model(net, "classifier.fc")
    x = torch.rand(3, 3, 8, 8)
    z, logits = m.features_and_logits(x)
    assert torch.allclose(z, net.body(x)) and torch.allclose(logits, net(x)) and m.num_classes == K
    with pytest.raises(ConfigError, match="classifier.fc"):
        wrap_model(NestedHeadNet(), "fc")
