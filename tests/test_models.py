"""The model zoo: every registered architecture honours the split-model contract (timm style: a newly
registered model is tested here automatically), plus ``wrap_model`` for users' own modules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from torch import nn

from sure_unlearn.errors import ConfigError, UnknownNameError
from sure_unlearn.models import MODELS, ModelSpec, SplitModel, build_model, capture, wrap_model
from sure_unlearn.models.base import Normalize

# Small variants of the big models, so the whole file runs in seconds; a model not listed is built as is.
TEST_KWARGS: dict[str, dict[str, object]] = {
    "resnet18": {"width": 8},
    "resnet50": {"width": 8},
    "vgg16_bn": {"width_mult": 0.125},
    "vit_small": {"dim": 48, "depth": 2, "heads": 3},
    "small_cnn": {"width": 8},
    "mlp": {"hidden": 32},
}
NAMES = MODELS.available()
K = 7  # an unusual class count, so it can't be confused with a default

RGB32 = ModelSpec(
    num_classes=K, in_channels=3, image_size=32, mean=(0.49, 0.48, 0.45), std=(0.25, 0.24, 0.26)
)
GRAY8 = ModelSpec(num_classes=K, in_channels=1, image_size=8, mean=(0.5,), std=(0.3,))


def make(name: str, spec: ModelSpec = RGB32, seed: int = 0) -> SplitModel:
    torch.manual_seed(seed)
    return build_model(name, spec, **TEST_KWARGS.get(name, {}))


def images(spec: ModelSpec, n: int = 4, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, spec.in_channels, spec.image_size, spec.image_size, generator=g)


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """These tiny models gain nothing from intra-op threads, and on a busy machine OpenMP's spinning
    threads slow them down many times over (20 s → 60 s here); restored afterwards."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module", params=NAMES)
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# --- the contract, for every registered model ---------------------------------------------------------


@pytest.mark.parametrize("spec", [RGB32, GRAY8], ids=["rgb32", "gray8"])
def test_output_shape(name: str, spec: ModelSpec) -> None:
    m = make(name, spec).eval()
    with torch.no_grad():
        logits = m(images(spec))
    assert logits.shape == (4, K) and m.num_classes == K
    assert torch.isfinite(logits).all()


def test_features_and_logits_match_forward(name: str) -> None:
    m, x = make(name).eval(), images(RGB32)
    with torch.no_grad():
        z, logits = m.features_and_logits(x)
        assert torch.allclose(logits, m(x), atol=1e-6)
        assert torch.allclose(z, m.forward_features(x), atol=1e-6)
    assert z.shape == (4, m.feature_dim)


def test_head_is_the_final_linear(name: str) -> None:
    m, x = make(name).eval(), images(RGB32)
    assert isinstance(m.head, nn.Linear) and m.head.in_features == m.feature_dim
    g = torch.Generator().manual_seed(2)
    w, b = torch.randn(K, m.feature_dim, generator=g), torch.randn(K, generator=g)
    with torch.no_grad():
        z = m.forward_features(x)
        m.head.weight.copy_(w)
        m.head.bias.copy_(b)
        assert torch.allclose(m(x), z @ w.T + b, atol=1e-5)


def test_gradient_reaches_the_first_layer(name: str) -> None:
    m, x = make(name).train(), images(RGB32)
    z = m.forward_features(x)
    (z * torch.randn_like(z)).sum().backward()  # a random projection: sum(LayerNorm(z)) has zero gradient
    first = next(mod for mod in m.modules() if isinstance(mod, nn.Conv2d | nn.Linear))
    assert first.weight.grad is not None and first.weight.grad.abs().sum() > 0
    for pname, p in m.named_parameters():
        if pname.startswith("head."):
            assert p.grad is None, "forward_features must not use the head"
        else:
            assert p.grad is not None and torch.isfinite(p.grad).all(), pname


def test_blocks_are_the_stages_in_order(name: str) -> None:
    m, x = make(name).eval(), images(RGB32)
    stages = m.blocks()
    assert stages and "head" not in stages and "norm_in" not in stages
    with torch.no_grad(), capture(m, stages) as out:
        z = m.forward_features(x)
        # Chaining the stages by hand reproduces every captured output: the order is the data flow.
        h = m.get_submodule("norm_in")(x)
        for s in stages:
            h = m.get_submodule(s)(h)
            assert torch.allclose(out[s], h.flatten(1) if h.dim() > 2 else h, atol=1e-5), s
    assert torch.allclose(out[stages[-1]], z, atol=1e-6)  # the last stage outputs z


def test_channels_last_matches_contiguous(name: str) -> None:
    m, x = make(name).eval(), images(RGB32)
    with torch.no_grad():
        expected = m(x)
        m.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # missing from the stubs
        got = m(x.contiguous(memory_format=torch.channels_last))
    assert torch.allclose(got, expected, atol=1e-4, rtol=1e-4)


def test_init_is_deterministic_given_the_seed(name: str) -> None:
    a, b, c = make(name, seed=3), make(name, seed=3), make(name, seed=4)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], sc[k]) for k in sa if sa[k].is_floating_point())


# --- sizes and per-architecture details ------------------------------------------------------------------


SPEC10 = ModelSpec(num_classes=10, in_channels=3, image_size=32, mean=(0.5,) * 3, std=(0.25,) * 3)


@pytest.mark.parametrize(
    ("model", "kwargs", "expected"),
    [
        ("resnet18", {}, 11.17e6),
        ("resnet18", {"width": 16}, 0.70e6),
        ("resnet50", {}, 23.5e6),
        ("vgg16_bn", {}, 14.7e6),
        ("vit_small", {}, 21.3e6),
    ],
    ids=["resnet18", "resnet18-w16", "resnet50", "vgg16_bn", "vit_small"],
)
def test_full_size_parameter_counts(model: str, kwargs: dict[str, object], expected: float) -> None:
    with torch.device("meta"):  # shapes only: no memory, no init time
        m = build_model(model, SPEC10, **kwargs)
    assert n_params(m) == pytest.approx(expected, rel=0.01)


def test_resnet18_keeps_the_cifar_stem_at_64px() -> None:
    spec = ModelSpec(num_classes=200, in_channels=3, image_size=64, mean=(0.5,) * 3, std=(0.25,) * 3)
    m = build_model("resnet18", spec, width=8).eval()
    stem_conv = m.get_submodule("stem.0")
    assert isinstance(stem_conv, nn.Conv2d) and stem_conv.kernel_size == (3, 3) and stem_conv.stride == (1, 1)
    assert not any(isinstance(mod, nn.MaxPool2d) for mod in m.modules())
    with torch.no_grad(), capture(m, ["layer4"]) as out:
        assert m(torch.rand(2, 3, 64, 64)).shape == (2, 200)
    assert out["layer4"].shape == (2, 64 * 8 * 8)  # 8w channels at 8×8


def test_vgg_and_vit_accept_64px() -> None:
    spec = ModelSpec(num_classes=K, in_channels=3, image_size=64, mean=(0.5,) * 3, std=(0.25,) * 3)
    for model in ("vgg16_bn", "vit_small"):
        with torch.no_grad():
            assert make(model, spec).eval()(images(spec, n=2)).shape == (2, K)


def test_bad_configurations_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="patch"):
        build_model("vit_small", ModelSpec(K, 3, 30, (0.5,) * 3, (0.25,) * 3), depth=1)
    with pytest.raises(ConfigError, match="heads"):
        build_model("vit_small", RGB32, dim=50, heads=3, depth=1)
    with pytest.raises(ConfigError, match="width"):
        build_model("resnet18", RGB32, width=0)
    with pytest.raises(UnknownNameError, match="resnet18"):  # the message lists what is available
        build_model("resnet19", RGB32)


def test_normalize_computes_x_minus_mean_over_std() -> None:
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)
    x = torch.rand(2, 3, 4, 4)
    expected = torch.stack([(x[:, c] - mean[c]) / std[c] for c in range(3)], dim=1)
    assert torch.allclose(Normalize(mean, std)(x), expected)
    assert not list(Normalize(mean, std).parameters())  # buffers: saved and moved, never trained


# --- wrap_model: a user's own nn.Module ------------------------------------------------------------------


class UserNet(nn.Module):
    """A user's classifier whose forward does more than a chain of children (so hooks must do the work)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.fc = nn.Linear(6, K)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv(x)).mean(dim=(2, 3)) * 2.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


def test_wrap_model_splits_at_the_named_linear() -> None:
    torch.manual_seed(0)
    net, x = UserNet(), images(RGB32)
    m = wrap_model(net, head="fc")
    with torch.no_grad():
        z, logits = m.features_and_logits(x)
        assert torch.allclose(z, net.features(x))
        assert torch.allclose(logits, net(x)) and torch.allclose(m(x), net(x))
        assert torch.allclose(m.forward_head(z), logits, atol=1e-6)
    assert m.head is net.fc and (m.num_classes, m.feature_dim) == (K, 6)
    assert n_params(m) == n_params(net)  # the head is shared, not copied
    assert m.blocks() == ["module.conv", "module.fc"]
    assert wrap_model(m) is m  # a SplitModel is returned as it is


def test_wrap_model_rejects_a_wrong_head() -> None:
    with pytest.raises(ConfigError, match=r"no module 'classifier'.*\['fc'\]"):
        wrap_model(UserNet(), head="classifier")
    with pytest.raises(ConfigError, match="Conv2d, not the final nn.Linear"):
        wrap_model(UserNet(), head="conv")
