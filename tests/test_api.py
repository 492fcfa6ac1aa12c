"""The practitioner's front door: unlearn() on a user's own nn.Module, and its errors."""

import dataclasses

import pytest
import torch

import sure_unlearn
import sure_unlearn.api
from sure_unlearn.errors import ConfigError, DataError, DivergenceError, SureError
from sure_unlearn.train import check_epoch


class UserNet(torch.nn.Module):
    """A model of the user's, not one of ours: its final layer is called `classifier`."""

    def __init__(self) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 32), torch.nn.ReLU())
        self.classifier = torch.nn.Linear(32, 4)

    def forward(self, x):
        return self.classifier(self.body(x))


def xy(d):
    return d.x.float() / 255, d.y


def test_unlearn_a_user_model_returns_the_users_class(tiny):
    net = UserNet()
    info: dict = {}
    out = sure_unlearn.unlearn(
        net,
        forget=xy(tiny["forget"]),
        retain=xy(tiny["retain"]),
        val=xy(tiny["val"]),
        method="sure",
        head="classifier",
        config={"epochs": 1, "batch_size": 32, "domain_batch_size": 8},
        info=info,
    )
    assert isinstance(out, UserNet) and out is not net
    assert not torch.equal(out.classifier.weight, net.classifier.weight)
    assert info["epochs"] == 1 and len(info["history"]) == 1


def test_precision_sets_the_training_arithmetic(tiny, monkeypatch):
    """``precision="bf16"`` trains under bf16 autocast: the method's engine says so, and the weights differ
    from the fp32 run's (same seed) by rounding, not by a different algorithm."""
    seen = []
    real = sure_unlearn.api.run_method

    def spy(method, model, data, cfg, ctx):
        seen.append(ctx.engine)
        return real(method, model, data, cfg, ctx)

    monkeypatch.setattr(sure_unlearn.api, "run_method", spy)
    torch.manual_seed(0)
    net = UserNet()
    kw = dict(
        forget=xy(tiny["forget"]),
        retain=xy(tiny["retain"]),
        method="finetune",
        head="classifier",
        config={"epochs": 1, "batch_size": 32},
    )
    fp32, bf16 = (sure_unlearn.unlearn(net, precision=p, **kw) for p in ("fp32", "bf16"))
    assert [e.bf16 for e in seen] == [False, True]
    diff = (fp32.classifier.weight - bf16.classifier.weight).abs().max().item()
    step = (fp32.classifier.weight - net.classifier.weight).abs().max().item()
    assert 0 < diff < step  # bf16 rounds the update; it does not replace it
    with pytest.raises(ConfigError, match="precision must be one of"):
        sure_unlearn.unlearn(net, precision="fp16", **kw)


def test_unlearn_errors_name_the_problem(tiny):
    net = UserNet()
    with pytest.raises(ConfigError, match="classifier"):
        sure_unlearn.unlearn(net, forget=xy(tiny["forget"]), head="fc")
    with pytest.raises(ConfigError, match=r"'sure' needs the retain and val"):
        sure_unlearn.unlearn(net, forget=xy(tiny["forget"]), head="classifier")
    with pytest.raises(DataError, match="empty"):
        x, y = xy(tiny["forget"])
        sure_unlearn.unlearn(
            net, forget=(x[:0], y[:0]), retain=xy(tiny["retain"]), head="classifier", method="finetune"
        )
    with pytest.raises(KeyError, match="unknown method"):
        sure_unlearn.unlearn(net, forget=xy(tiny["forget"]), head="classifier", method="magic")


# ---- checks before any work: each bad input is one clear error, and no method runs


class ConvNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.fc = torch.nn.Linear(8, 4)

    def forward(self, x):
        return self.fc(self.conv(x).relu().mean((2, 3)))


@pytest.fixture()
def never_runs(monkeypatch):
    """Fails the test if a method is started: the checks must come first."""

    def run(*_a, **_k):
        raise AssertionError("a method ran although its input was invalid")

    monkeypatch.setattr(sure_unlearn.api, "run_method", run)


def floats(tiny):
    return {k: xy(tiny[k]) for k in ("forget", "retain", "val")}


@pytest.mark.parametrize("where", ["forget", "retain", "val"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_inputs_are_rejected(tiny, never_runs, where, bad):
    sets = floats(tiny)
    x, y = sets[where]
    x = x.clone()
    x[3, 1, 2, 2] = bad
    sets[where] = (x, y)
    with pytest.raises(DataError, match=rf"the {where} set has NaN or infinite inputs \(sample 3\)"):
        sure_unlearn.unlearn(UserNet(), **sets, method="sure", head="classifier")


def test_non_finite_inputs_in_a_streamed_set_are_rejected(tiny, never_runs):
    x, y = xy(tiny["retain"])
    x = x.clone()
    x[300 % len(x)] = float("nan")
    retain = torch.utils.data.TensorDataset(x, y)
    with pytest.raises(DataError, match=rf"retain set has NaN.*sample {300 % len(x)}"):
        sure_unlearn.unlearn(
            UserNet(), forget=xy(tiny["forget"]), retain=retain, method="finetune", head="classifier"
        )


@pytest.mark.parametrize(("method", "field", "value"), [("sure", "alpha", float("nan")), ("finetune", "lr", float("inf")),
                                                       ("scrub", "decay_rate", float("-inf"))])  # fmt: skip
def test_non_finite_hyperparameters_are_rejected(tiny, never_runs, method, field, value):
    with pytest.raises(ConfigError, match=rf"{method}\.{field}( = .* is not| must be) a finite number"):
        sure_unlearn.unlearn(
            UserNet(), **floats(tiny), method=method, head="classifier", config={field: value}
        )
    with pytest.raises(ConfigError, match=rf"{method}\.{field}"):  # as a string from a CLI or a file, too
        sure_unlearn.make_config(method, {field: str(value)})
    cfg = dataclasses.replace(sure_unlearn.make_config(method), **{field: value})  # a config object
    with pytest.raises(ConfigError, match=field):
        sure_unlearn.unlearn(UserNet(), **floats(tiny), method=method, head="classifier", config=cfg)


def test_a_forget_set_inside_the_retain_set_is_rejected_by_content(tiny, never_runs):
    sets = floats(tiny)
    x_r, y_r = sets["retain"]
    x_f, y_f = sets["forget"]
    sets["retain"] = (torch.cat([x_r, x_f[:3]]), torch.cat([y_r, y_f[:3]]))
    with pytest.raises(DataError, match="3 retain samples are identical to forget samples"):
        sure_unlearn.unlearn(UserNet(), **sets, method="finetune", head="classifier")
    sets["retain"] = torch.utils.data.TensorDataset(*sets["retain"])  # streamed: the same check
    with pytest.raises(DataError, match="3 retain samples are identical"):
        sure_unlearn.unlearn(UserNet(), **sets, method="finetune", head="classifier")


def test_overlap_is_judged_by_index_when_indices_are_given(tiny, never_runs):
    f, r = tiny["forget"], tiny["retain"]
    x_r, y_r = xy(r)
    x_f, y_f = xy(f)
    args = {"forget": (x_f, y_f), "method": "finetune", "head": "classifier"}
    bad_idx = r.idx.clone()
    bad_idx[5] = f.idx[0]
    with pytest.raises(
        DataError, match=rf"1 forget samples are also in the retain set \(dataset indices \[{int(f.idx[0])}\]"
    ):
        sure_unlearn.unlearn(UserNet(), retain=(x_r, y_r), forget_idx=f.idx, retain_idx=bad_idx, **args)
    full = torch.utils.data.TensorDataset(*xy(tiny["all"]))  # two Subsets of one dataset carry indices
    with pytest.raises(DataError, match="forget samples are also in the retain set"):
        sure_unlearn.unlearn(UserNet(), forget=torch.utils.data.Subset(full, [1, 5]), retain=torch.utils.data.Subset(full, [5, 6]),
                             method="finetune", head="classifier")  # fmt: skip
    with pytest.raises(ConfigError, match="both forget_idx and retain_idx"):
        sure_unlearn.unlearn(UserNet(), retain=(x_r, y_r), forget_idx=f.idx, **args)


def test_identical_samples_with_distinct_indices_are_accepted(tiny):
    """A dataset with exact duplicates: indices say they are different samples, so unlearning runs."""
    x_r, y_r = xy(tiny["retain"])
    x_f, y_f = xy(tiny["forget"])
    x_r, y_r = torch.cat([x_r, x_f[:2]]), torch.cat([y_r, y_f[:2]])
    out = sure_unlearn.unlearn(
        UserNet(), forget=(x_f, y_f), retain=(x_r, y_r), forget_idx=range(1000, 1000 + len(x_f)),
        retain_idx=range(len(x_r)), method="finetune", head="classifier", config={"epochs": 1},
    )  # fmt: skip
    assert isinstance(out, UserNet)


def test_a_layout_the_model_cannot_take_is_rejected_with_a_hint(tiny, never_runs):
    nhwc = {k: (x.permute(0, 2, 3, 1), y) for k, (x, y) in floats(tiny).items()}
    with pytest.raises(
        ConfigError, match=r"cannot take inputs of shape \(1, 8, 8, 3\).*NCHW.*permute\(0, 3, 1, 2\)"
    ):
        sure_unlearn.unlearn(ConvNet(), **nhwc, method="finetune", head="fc")
    sets = floats(tiny)
    sets["retain"] = nhwc["retain"]  # one set in another layout than the others
    with pytest.raises(DataError, match=r"retain samples have shape \(8, 8, 3\) but the others \(3, 8, 8\)"):
        sure_unlearn.unlearn(ConvNet(), **sets, method="finetune", head="fc")


def test_the_layout_check_leaves_the_model_as_it_was(tiny):
    net = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(192, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 4)
    )
    stats = net[2].running_mean.clone()
    sure_unlearn.unlearn(net, **floats(tiny), method="ssd", head="3")
    assert net.training and torch.equal(net[2].running_mean, stats)


@pytest.mark.parametrize(("method", "config"), [
    ("finetune", {"lr": 1e6}),  # the shared training loop
    ("grad_ascent", {"lr": 1e3}),  # the shared loop, on the forget set
    ("neggrad_plus", {"lr": 1e3, "retain_weight": 0.0}),  # methods with their own loop
    ("scrub", {"lr": 1e6, "kd_weight": 1e6}),
])  # fmt: skip
def test_a_diverging_method_stops_with_an_error_naming_it_and_the_epoch(tiny, method, config):
    torch.manual_seed(0)
    with pytest.raises(
        DivergenceError, match=rf"^{method} diverged in epoch \d+: its weights are not finite"
    ) as e:
        sure_unlearn.unlearn(
            UserNet(), **floats(tiny), method=method, head="classifier", config={**config, "epochs": 20}
        )
    assert e.value.method == method and e.value.epoch < 20, "it must stop at once, not run on"
    assert isinstance(e.value, SureError)


def test_a_one_shot_method_that_blows_up_is_stopped_too(tiny):
    with pytest.raises(
        DivergenceError, match=r"^influence diverged in its update: its weights are not finite"
    ):
        sure_unlearn.unlearn(UserNet(), **floats(tiny), method="influence", head="classifier",
                             config={"step_size": 1e30, "damping": 1e-30, "num_samples": 8})  # fmt: skip


def test_finite_weights_whose_outputs_overflow_are_a_divergence_too(tiny, monkeypatch):
    """A one-shot step can leave every weight finite yet so large that the forward pass overflows."""
    from sure_unlearn.methods import base

    real = base.METHODS.get

    def blown(name):
        spec = real(name)

        def fn(model, data, cfg, ctx):
            out = spec.fn(model, data, cfg, ctx)
            with torch.no_grad():
                for p in out.parameters():
                    p.mul_(1e25)  # finite in float32 (max 3.4e38); two layers of it are not
            return out

        return dataclasses.replace(spec, fn=fn)

    monkeypatch.setattr(base.METHODS, "get", blown)
    with pytest.raises(DivergenceError, match=r"^finetune diverged in epoch 1: its outputs are not finite"):
        sure_unlearn.unlearn(
            UserNet(), **floats(tiny), method="finetune", head="classifier", config={"epochs": 1}
        )


def test_check_epoch_reads_the_sums_once_and_stops_on_nan():
    net = torch.nn.Linear(2, 2)
    assert check_epoch("m", 3, torch.tensor([1.0, 2.0]), net) == [1.0, 2.0]
    with pytest.raises(DivergenceError, match="^m diverged in epoch 3: its loss"):
        check_epoch("m", 3, torch.tensor([1.0, float("nan")]), net)
    with torch.no_grad():
        net.weight[0, 0] = float("inf")
    with pytest.raises(DivergenceError, match="^m diverged in epoch 4: its weights"):
        check_epoch("m", 4, torch.tensor([1.0]), net)


def test_a_config_object_of_another_method_is_rejected_before_work(tiny, never_runs):
    with pytest.raises(ConfigError, match="takes a dict or a SureConfig, got FineTuneConfig"):
        sure_unlearn.unlearn(
            UserNet(), **floats(tiny), head="classifier", config=sure_unlearn.make_config("finetune")
        )
