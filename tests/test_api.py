"""The practitioner's front door: unlearn() on a user's own nn.Module, and its errors."""

import pytest
import torch

import sure_unlearn
from sure_unlearn.errors import ConfigError, DataError


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
        net, forget=xy(tiny["forget"]), retain=xy(tiny["retain"]), val=xy(tiny["val"]),
        method="sure", head="classifier", config={"epochs": 1, "batch_size": 32, "domain_batch_size": 8},
        info=info,
    )
    assert isinstance(out, UserNet) and out is not net
    assert not torch.equal(out.classifier.weight, net.classifier.weight)
    assert info["epochs"] == 1 and len(info["history"]) == 1


def test_unlearn_errors_name_the_problem(tiny):
    net = UserNet()
    with pytest.raises(ConfigError, match="classifier"):
        sure_unlearn.unlearn(net, forget=xy(tiny["forget"]), head="fc")
    with pytest.raises(ConfigError, match=r"'sure' needs the retain and val"):
        sure_unlearn.unlearn(net, forget=xy(tiny["forget"]), head="classifier")
    with pytest.raises(DataError, match="empty"):
        x, y = xy(tiny["forget"])
        sure_unlearn.unlearn(net, forget=(x[:0], y[:0]), retain=xy(tiny["retain"]), head="classifier", method="finetune")
    with pytest.raises(KeyError, match="unknown method"):
        sure_unlearn.unlearn(net, forget=xy(tiny["forget"]), head="classifier", method="magic")
