"""The method contract over the whole registry, plus behaviour of FineTune and Retrain.

Every registered method: returns a model of the same architecture and class count; changes it (unless
defined not to); reads only the sets its registration allows; fails early, naming itself and the missing
input, when a set it needs is absent. Tiny settings keep each run to a fraction of a second.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from helpers import flat

from sure_unlearn.data.types import LabeledData
from sure_unlearn.errors import ConfigError, DataError
from sure_unlearn.methods import METHODS, RunContext, make_config, run_method
from sure_unlearn.train import Recipe

# the cheapest settings that still exercise each method's whole update: generic shrinking of common fields,
# plus per-method extras where a method needs them
SHRINK = {"epochs": 1, "batch_size": 32, "forget_batch_size": 16, "domain_batch_size": 8}
EXTRA: dict[str, dict] = {}
FAST_RECIPE = Recipe(epochs=1, lr=0.05, batch_size=32, augment=False)


def fast_config(name: str):
    spec = METHODS.get(name)
    fields = {f.name for f in dataclasses.fields(spec.config)}
    overrides = {k: v for k, v in SHRINK.items() if k in fields and name != "retrain"}
    return make_config(name, {**overrides, **EXTRA.get(name, {})})


def ctx(seed: int = 0) -> RunContext:
    return RunContext(torch.Generator().manual_seed(seed))


class Spy(LabeledData):
    """LabeledData that records which dataset indices were read."""

    def __init__(self, d: LabeledData) -> None:
        super().__init__(d.x, d.y, d.augment, d.idx)
        self.seen: set[int] = set()

    def batch(self, rows, generator=None):
        self.seen.update(self.idx[rows.cpu()].tolist())
        return super().batch(rows, generator)

    def subset(self, rows):
        self.seen.update(self.idx[rows.cpu()].tolist())
        return super().subset(rows)

    def with_augment(self, augment):  # keep spying through copies
        s = Spy(LabeledData(self.x, self.y, augment, self.idx))
        s.seen = self.seen
        return s

    def with_labels(self, y):
        s = Spy(LabeledData(self.x, y, self.augment, self.idx))
        s.seen = self.seen
        return s


@pytest.mark.parametrize("name", METHODS.available())
def test_contract(name, tiny_model, tiny, tiny_data):
    spec = METHODS.get(name)
    spies = {k: Spy(tiny[k]) for k in ("forget", "retain", "val")}
    data = dataclasses.replace(tiny_data, **spies, original_recipe=FAST_RECIPE)
    before = flat(tiny_model).clone()
    out = run_method(name, tiny_model, data, fast_config(name), ctx())
    assert type(out) is type(tiny_model) and out.num_classes == tiny_model.num_classes
    assert torch.equal(flat(tiny_model), before), "the caller's model must not be modified"
    if spec.changes_model:
        assert not torch.allclose(flat(out), before), f"{name} returned the model unchanged"
    for k, spy in spies.items():
        if k not in spec.may_read:
            assert not spy.seen, f"{name} read the {k} set, which it may not"
    for k in spec.needs:
        assert spies[k].seen, f"{name} declares it needs {k} but never read it"
    assert out(tiny["test"].batch(torch.arange(4))[0]).shape == (4, tiny_model.num_classes)


@pytest.mark.parametrize("name", METHODS.available())
def test_missing_inputs_fail_early_and_name_the_method(name, tiny_model, tiny_data):
    for k in METHODS.get(name).needs:
        with pytest.raises(ConfigError, match=rf"{name}.*{k}"):
            run_method(
                name, tiny_model, dataclasses.replace(tiny_data, **{k: None}), fast_config(name), ctx()
            )


def test_unknown_method_and_hyperparameter():
    with pytest.raises(KeyError, match="available"):
        make_config("nope")
    with pytest.raises(ConfigError, match="no hyperparameter"):
        make_config("sure", {"alpah": 1.0})


def test_class_count_mismatch_is_caught(tiny_model, tiny_data):
    with pytest.raises(DataError, match="classes"):
        run_method(
            "finetune",
            tiny_model,
            dataclasses.replace(tiny_data, num_classes=7),
            fast_config("finetune"),
            ctx(),
        )
    bad = tiny_data.forget.with_labels(torch.full((len(tiny_data.forget),), 9))
    with pytest.raises(DataError, match="outside"):
        run_method("sure", tiny_model, dataclasses.replace(tiny_data, forget=bad), fast_config("sure"), ctx())


def test_finetune_trains_on_retain_and_changes_weights(tiny_model, tiny, tiny_data):
    spy = Spy(tiny["retain"])
    out = run_method(
        "finetune", tiny_model, dataclasses.replace(tiny_data, retain=spy), fast_config("finetune"), ctx()
    )
    assert spy.seen == set(tiny["retain"].idx.tolist())  # one full epoch over D_r
    assert (flat(out) - flat(tiny_model)).abs().max() > 1e-3


def test_retrain_never_sees_a_forget_sample(tiny_model, tiny, tiny_data):
    retain, forget = Spy(tiny["retain"]), Spy(tiny["forget"])
    data = dataclasses.replace(tiny_data, retain=retain, forget=forget, original_recipe=FAST_RECIPE)
    out = run_method("retrain", tiny_model, data, fast_config("retrain"), ctx())
    assert not forget.seen
    assert retain.seen and not (retain.seen & set(tiny["forget"].idx.tolist()))
    # it starts from scratch: far from the original, not a small step away
    assert (flat(out) - flat(tiny_model)).norm() > 0.5 * flat(tiny_model).norm()


def test_methods_are_deterministic_given_the_seed(tiny_model, tiny_data):
    a = run_method("sure", tiny_model, tiny_data, fast_config("sure"), ctx(1))
    b = run_method("sure", tiny_model, tiny_data, fast_config("sure"), ctx(1))
    assert torch.equal(flat(a), flat(b))
    assert np.isfinite(flat(a).numpy()).all()


def _ends(p) -> tuple:
    """Two values well inside a search range (a quarter and three quarters of it, on its scale)."""
    from sure_unlearn.space import Choice, Float

    if isinstance(p, Choice):
        return p.options[0], p.options[1]
    if isinstance(p, Float) and p.log:
        lo, hi = np.log(p.low), np.log(p.high)
        return float(np.exp(lo + (hi - lo) / 4)), float(np.exp(lo + 3 * (hi - lo) / 4))
    if isinstance(p, Float):
        return p.low + (p.high - p.low) / 4, p.low + 3 * (p.high - p.low) / 4
    return p.low, p.high  # Int: its two ends


SEARCHED = [(m, k) for m in METHODS.available() for k in METHODS.get(m).space]
SEARCHED += [
    (m, "epochs")
    for m in METHODS.available()
    if METHODS.get(m).epoch_budget
    and "epochs" in {f.name for f in dataclasses.fields(METHODS.get(m).config)}
    and "epochs" not in METHODS.get(m).space
    and m != "retrain"
]


@pytest.mark.parametrize(("name", "param"), SEARCHED)
def test_every_searched_hyperparameter_changes_the_result(name, param, tiny_model, tiny_data):
    """A search dimension that changes nothing wastes the budget and reports an optimum that means nothing
    (as EU-k's epochs did before it left the epoch budget): two values of each searched hyperparameter, the
    others fixed, must give different models."""
    spec = METHODS.get(name)
    a, b = _ends(spec.space[param]) if param in spec.space else (1, 2)
    data = dataclasses.replace(tiny_data, original_recipe=FAST_RECIPE)
    base = dataclasses.asdict(fast_config(name))
    runs = [(ctx(), make_config(name, {**base, param: v})) for v in (a, b)]
    outs = [run_method(name, tiny_model, data, cfg, c) for c, cfg in runs]
    if spec.changes_model:
        assert not torch.equal(flat(outs[0]), flat(outs[1])), (
            f"{name}.{param} = {a} and {b} gave the same model"
        )
    else:  # SCRUB+R may rewind both runs to θ_o; the training it rewinds through must still differ
        histories = [c.info["history"] for c, _ in runs]
        assert histories[0] != histories[1], f"{name}.{param} = {a} and {b} trained the same"
