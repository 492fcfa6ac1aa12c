"""Small helpers shared by the tests (importable because pytest puts tests/ on sys.path via conftest)."""

from __future__ import annotations

import torch

from sure_unlearn.data.types import LabeledData


def flat(m: torch.nn.Module) -> torch.Tensor:
    """Every parameter of ``m``, detached and concatenated into one vector."""
    return torch.cat([p.detach().flatten() for p in m.parameters()])


def mean_ce(model: torch.nn.Module, data: LabeledData) -> float:
    """Mean cross-entropy of ``model`` on the whole set, eval mode, un-augmented."""
    model.eval()
    with torch.no_grad():
        x, y = data.batch(torch.arange(len(data)))
        return float(torch.nn.functional.cross_entropy(model(x), y))
