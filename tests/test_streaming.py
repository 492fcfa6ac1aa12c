"""Data that does not fit in memory: a retain set given as a Dataset is streamed, never held whole.

A Dataset makes each sample on the fly and counts the items alive at once; a dispatch mode watches every
tensor operation and records the most samples any single tensor held. One method of each family runs on it.
"""

from __future__ import annotations

import weakref

import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.data import DataLoader, Dataset, IterableDataset, Subset

import sure_unlearn
from sure_unlearn.data.streaming import StreamingData
from sure_unlearn.data.types import LabeledData
from sure_unlearn.errors import DataError

K, SHAPE, N = 4, (3, 8, 8), 600
MEANS = torch.rand(K, *SHAPE, generator=torch.Generator().manual_seed(0))
BATCH = 32  # every method's batch size here; the API's checking pass reads 256 rows at a time
SCAN = 256


def sample(i: int) -> tuple[torch.Tensor, int]:
    g = torch.Generator().manual_seed(i)
    return (MEANS[i % K] + 0.2 * torch.randn(SHAPE, generator=g)).clamp(0, 1), i % K


class Counting(Dataset):
    """``n`` samples made on demand (nothing stored); counts reads and the most items alive at once."""

    def __init__(self, n: int, offset: int = 0) -> None:
        self.n, self.offset = n, offset
        self.alive = self.peak = self.reads = 0

    def __len__(self) -> int:
        return self.n

    def _dead(self) -> None:
        self.alive -= 1

    def __getitem__(self, i: int):
        x, y = sample(self.offset + int(i))
        self.alive += 1
        self.reads += 1
        self.peak = max(self.peak, self.alive)
        weakref.finalize(x, self._dead)
        return x, y


class MostRows(TorchDispatchMode):
    """The largest number of samples (tensors shaped ``rows × SHAPE``) that any operation produced."""

    def __init__(self) -> None:
        super().__init__()
        self.most = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, tuple | list) else (out,):
            if isinstance(t, torch.Tensor) and t.dim() == 4 and tuple(t.shape[1:]) == SHAPE:
                self.most = max(self.most, t.shape[0])
        return out


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten())  # fmt: skip
        self.fc = nn.Linear(8, K)

    def forward(self, x):
        return self.fc(self.body(x))


def small(n: int, offset: int, label: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    rows = [i for i in range(offset, offset + 4 * n) if label is None or i % K == label][:n]
    xs, ys = zip(*(sample(i) for i in rows), strict=True)
    return torch.stack(xs), torch.tensor(ys)


FORGET, VAL = small(16, N, label=1), small(16, N + 200, label=1)  # not in the retain set's 0..N-1
FAMILIES = {  # one method of each family
    "finetune": {"epochs": 1, "batch_size": BATCH},
    "neggrad_plus": {"epochs": 1, "batch_size": BATCH, "forget_batch_size": 8},
    "scrub": {"epochs": 1, "batch_size": BATCH, "forget_batch_size": 8},
    "sure": {"epochs": 1, "batch_size": BATCH, "domain_batch_size": 8},
    "ssd": {"batch_size": BATCH},
}


@pytest.mark.parametrize("method", list(FAMILIES))
def test_the_retain_set_is_streamed_never_held_whole(method):
    torch.manual_seed(0)
    net, retain = Net(), Counting(N)
    with MostRows() as watch:
        out = sure_unlearn.unlearn(net, forget=FORGET, retain=retain, val=VAL, method=method, head="fc",
                                   config=FAMILIES[method])  # fmt: skip
    assert retain.reads >= 2 * N, "the retain set was not read"
    assert retain.peak <= SCAN, f"{retain.peak} retain items were alive at once"
    assert watch.most <= SCAN, f"a tensor held {watch.most} of the {N} retain samples"
    assert not torch.equal(out.fc.weight, net.fc.weight)


def test_streaming_gives_what_the_same_data_in_memory_gives():
    x, y = (
        torch.stack(t) if i == 0 else torch.tensor(t)
        for i, t in enumerate(zip(*(sample(i) for i in range(N)), strict=True))
    )
    cfg = {"epochs": 1, "batch_size": BATCH}
    torch.manual_seed(0)
    net = Net()
    in_memory = sure_unlearn.unlearn(
        net, forget=FORGET, retain=(x, y), method="finetune", head="fc", config=cfg
    )
    retain = Counting(N)
    streamed = sure_unlearn.unlearn(
        net, forget=FORGET, retain=retain, method="finetune", head="fc", config=cfg
    )
    # labels and checks take one pass, each epoch one more, and the check of the result's outputs one batch
    assert retain.reads == 2 * N + 64
    for a, b in zip(in_memory.parameters(), streamed.parameters(), strict=True):
        assert torch.equal(a, b)
    loader = DataLoader(Counting(N), batch_size=7, shuffle=True, num_workers=1)  # its workers are reused
    via_loader = sure_unlearn.unlearn(
        net, forget=FORGET, retain=loader, method="finetune", head="fc", config=cfg
    )
    for a, b in zip(in_memory.parameters(), via_loader.parameters(), strict=True):
        assert torch.equal(a, b)


def test_forget_and_val_may_be_datasets_too():
    net = Net()
    out = sure_unlearn.unlearn(
        net, forget=Counting(16, N), retain=Counting(256), val=DataLoader(Counting(16, N + 200)), method="sure",
        head="fc", config={"epochs": 1, "batch_size": BATCH, "domain_batch_size": 8},
    )  # fmt: skip
    assert not torch.equal(out.fc.weight, net.fc.weight)


def test_streaming_data_reads_only_the_rows_asked_for():
    ds = Counting(100)
    data = StreamingData.from_dataset(ds, labels=[i % K for i in range(100)])
    assert ds.reads == 0, "given labels, nothing is read up front"
    x, y = data.subset(torch.tensor([5, 7, 9])).batch(torch.tensor([2, 0]))
    assert ds.reads == 2 and torch.equal(x[0], sample(9)[0]) and y.tolist() == [9 % K, 5 % K]
    relabelled = data.with_labels(torch.zeros(100, dtype=torch.long))
    assert relabelled.batch(torch.tensor([3]))[1].tolist() == [0]
    assert isinstance(data, sure_unlearn.data.types.BatchedData) and not isinstance(data, LabeledData)


def test_unreadable_datasets_are_refused():
    class Stream(IterableDataset):
        def __iter__(self):
            yield from (sample(i) for i in range(10))

    class NoLabels(Dataset):
        def __len__(self):
            return 10

        def __getitem__(self, i):
            return sample(i)[0]

    with pytest.raises(DataError, match="map-style Dataset"):
        sure_unlearn.unlearn(Net(), forget=FORGET, retain=Stream(), method="finetune", head="fc")
    with pytest.raises(DataError, match=r"\(input, label\) pairs"):
        sure_unlearn.unlearn(Net(), forget=FORGET, retain=NoLabels(), method="finetune", head="fc")
    with pytest.raises(DataError, match="empty"):
        sure_unlearn.unlearn(
            Net(), forget=FORGET, retain=Subset(Counting(10), []), method="finetune", head="fc"
        )
