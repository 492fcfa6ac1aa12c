"""Linear CKA (metrics/cka.py) on known answers, and per-layer Grams of a model (similarity.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sure_unlearn.errors import ConfigError, DataError
from sure_unlearn.metrics.cka import center_gram, cka_from_grams, gram_linear, linear_cka
from sure_unlearn.models import build_model
from sure_unlearn.models.base import capture, wrap_model
from sure_unlearn.protocol.similarity import (
    cka_per_layer,
    cka_to_references,
    default_layers,
    layer_grams,
    probe_set,
)


def hsic_cka_by_definition(x: np.ndarray, y: np.ndarray) -> float:
    """CKA written out with the explicit centring matrix H: tr(K H L H) / √(tr(K H K H) tr(L H L H))."""
    n = len(x)
    h = np.eye(n) - np.ones((n, n)) / n
    k, l_ = x @ x.T, y @ y.T
    hsic = lambda a, b: np.trace(a @ h @ b @ h)  # noqa: E731
    return float(hsic(k, l_) / np.sqrt(hsic(k, k) * hsic(l_, l_)))


@pytest.fixture()
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def test_cka_of_a_representation_with_itself_is_one(rng):
    x = rng.normal(size=(40, 7))
    assert linear_cka(x, x) == pytest.approx(1.0, abs=1e-12)
    assert cka_from_grams(gram_linear(x), gram_linear(x)) == pytest.approx(1.0, abs=1e-12)


def test_cka_is_invariant_to_orthogonal_maps_isotropic_scaling_and_shifts(rng):
    x = rng.normal(size=(60, 6)) @ rng.normal(size=(6, 6))  # correlated features
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    y = rng.normal(size=(60, 4))
    base = linear_cka(x, y)
    assert 0.05 < base < 0.95  # a non-trivial value, so invariance is a real check
    assert linear_cka(x @ q, y) == pytest.approx(base, abs=1e-12)
    assert linear_cka(7.5 * x, 0.1 * y) == pytest.approx(base, abs=1e-12)
    assert linear_cka(x + 3.0, y - 1.0) == pytest.approx(base, abs=1e-12)  # centring removes shifts


def test_cka_is_not_invariant_to_a_generic_invertible_linear_map(rng):
    x = rng.normal(size=(500, 10))
    a = np.diag(np.geomspace(1.0, 30.0, 10)) @ np.linalg.qr(rng.normal(size=(10, 10)))[0]
    assert abs(np.linalg.det(a)) > 1.0  # invertible
    # CKA(X, XA) for isotropic X is ≈ tr(AᵀA) / (√d ‖AᵀA‖_F), far below 1 for an anisotropic A
    assert linear_cka(x, x @ a) < 0.7
    ata = a.T @ a
    assert linear_cka(x, x @ a) == pytest.approx(np.trace(ata) / (np.sqrt(10) * np.linalg.norm(ata)), rel=0.1)


def test_cka_of_independent_features_is_about_sqrt_d1_d2_over_n(rng):
    """For independent standard normals E‖ỸᵀX̃‖² ≈ n·d₁d₂ and ‖X̃ᵀX̃‖ ≈ n√d₁, so CKA ≈ √(d₁d₂)/n → 0."""
    d1, d2 = 8, 12
    for n in (500, 4000):
        values = [linear_cka(rng.normal(size=(n, d1)), rng.normal(size=(n, d2))) for _ in range(20)]
        expected = np.sqrt(d1 * d2) / n
        assert 0.7 * expected < np.mean(values) < 1.3 * expected, (n, np.mean(values), expected)
    x = rng.normal(size=(4000, d1))
    assert linear_cka(x, x[:, :4] + 0.5 * rng.normal(size=(4000, 4))) > 0.5  # dependent: far from 0


@pytest.mark.parametrize("n,d1,d2", [(300, 5, 3), (12, 40, 60), (30, 30, 2)])
def test_gram_form_equals_feature_form_equals_the_definition(rng, n, d1, d2):
    x = rng.normal(size=(n, d1)) + 2.0
    y = np.tanh(x[:, :2]).repeat(d2, axis=1)[:, :d2] + 0.3 * rng.normal(size=(n, d2))
    want = hsic_cka_by_definition(x, y)
    assert linear_cka(x, y) == pytest.approx(want, rel=1e-9)
    assert cka_from_grams(gram_linear(x), gram_linear(y)) == pytest.approx(want, rel=1e-9)


def test_center_gram_is_h_k_h_and_constant_representations_give_nan(rng):
    k = gram_linear(rng.normal(size=(9, 3)))
    h = np.eye(9) - 1 / 9
    np.testing.assert_allclose(center_gram(k), h @ k @ h, atol=1e-12)
    assert np.isnan(linear_cka(np.ones((10, 3)), rng.normal(size=(10, 2))))


def test_cka_rejects_mismatched_inputs(rng):
    with pytest.raises(DataError, match="same examples"):
        linear_cka(rng.normal(size=(5, 2)), rng.normal(size=(6, 2)))
    with pytest.raises(DataError, match="square"):
        center_gram(np.ones((3, 4)))
    with pytest.raises(DataError, match="n×d"):
        gram_linear(np.ones(4))


# ---- per-layer Grams of a model -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def probe(tiny):
    return probe_set(tiny["forget"], tiny["test"], seed=0)


def test_probe_set_is_forget_then_an_equal_number_of_unseen_samples(tiny, probe):
    assert len(probe) == 2 * len(tiny["forget"])
    assert torch.equal(probe.x[:20], tiny["forget"].x) and torch.equal(probe.idx[:20], tiny["forget"].idx)
    again = probe_set(tiny["forget"], tiny["test"], seed=0)
    assert torch.equal(again.x, probe.x)  # the same probe for every model of a (scenario, seed)
    assert len(probe_set(tiny["test"], tiny["forget"], max_samples=10)) == 10


def test_layer_grams_equal_the_grams_of_the_captured_activations(tiny_model, probe):
    layers = default_layers(tiny_model)
    assert layers == ["conv1", "conv2", "conv3", "pool", "z"]
    tiny_model.eval()
    with torch.no_grad(), capture(tiny_model, layers[:-1]) as got:
        z, _ = tiny_model.features_and_logits(probe.batch(torch.arange(len(probe)))[0])
    acts = {**{k: v.double().numpy() for k, v in got.items()}, "z": z.double().numpy()}
    tiny_model.train()
    grams = layer_grams(tiny_model, probe, batch_size=7)  # batches that do not divide n
    assert tiny_model.training  # mode restored
    for name in layers:
        np.testing.assert_allclose(grams[name], acts[name] @ acts[name].T, rtol=1e-5, atol=1e-6)
    # a tiny memory budget forces several row blocks (and repeated column passes): same Grams
    blocked = layer_grams(tiny_model, probe, batch_size=4, max_bytes=8 * 300 * 9)
    for name in layers:
        np.testing.assert_allclose(blocked[name], grams[name], rtol=1e-12, atol=1e-9)
    assert all(not m._forward_hooks for m in tiny_model.modules())  # hooks removed


def test_activations_are_copied_before_a_later_in_place_op_changes_them(probe):
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(192, 6), torch.nn.ReLU(inplace=True), torch.nn.Linear(6, 4)
    )
    model = wrap_model(net, head="3")
    grams = layer_grams(model, probe, layers=["module.1", "z"])
    with torch.no_grad():
        pre = net[1](net[0](probe.batch(torch.arange(len(probe)))[0])).double()  # before the in-place ReLU
    assert (pre < 0).any()
    np.testing.assert_allclose(grams["module.1"], (pre @ pre.T).numpy(), rtol=1e-5, atol=1e-6)
    post = pre.clamp(min=0)
    np.testing.assert_allclose(grams["z"], (post @ post.T).numpy(), rtol=1e-5, atol=1e-6)


def test_cka_of_a_model_with_itself_is_one_and_a_fresh_model_is_further_from_it(tiny_model, tiny_spec, probe):
    trained = layer_grams(tiny_model, probe)
    assert cka_per_layer(trained, trained) == pytest.approx(dict.fromkeys(trained, 1.0), abs=1e-9)
    torch.manual_seed(1)
    fresh = build_model("small_cnn", tiny_spec, width=8)
    metrics, record = cka_to_references(
        fresh, probe, {"oracle": trained, "original": layer_grams(fresh, probe)}
    )
    assert record["layers"] == list(trained) and len(record["to_oracle"]) == len(trained)
    assert metrics["cka_to_original"] == pytest.approx(1.0, abs=1e-9)
    assert metrics["cka_to_oracle"] == record["to_oracle"][-1] < 0.95
    assert all(0.0 <= v <= 1.0 + 1e-9 for v in record["to_oracle"])


def test_layer_grams_name_the_problem(tiny_model, probe):
    with pytest.raises(ConfigError, match="distinct names"):
        layer_grams(tiny_model, probe, layers=["conv1", "nope"])
    with pytest.raises(DataError, match="at least 2"):
        layer_grams(tiny_model, probe.subset(torch.arange(1)))
    with pytest.raises(DataError, match="layer"):
        cka_per_layer({"z": np.eye(2), "conv1": np.eye(2)}, {"z": np.eye(2)})
    with pytest.raises(ConfigError, match="reference"):
        cka_to_references(tiny_model, probe, {})
