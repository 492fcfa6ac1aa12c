"""Labelled samples read from a map-style ``torch.utils.data.Dataset``, only the rows each batch needs.

For data that does not fit in memory. :class:`StreamingData` has the batch interface of
:class:`~sure_unlearn.data.types.LabeledData` (``batch``, ``batches``, ``cycle``, ``subset``, ``with_*``),
so every method runs on it unchanged, but it never holds more than the batches in flight: each batch calls
``dataset[i]`` for its rows, collates them on the host and moves the result to the device, where
augmentation (if any) runs exactly as for in-memory data.

**Labels are read once, up front** (:meth:`StreamingData.from_dataset`): methods and checks need every
label (class counts, the label range, relabelling), and an ``N``-long int64 vector is small. Reading them
is one pass over the dataset in which each batch is dropped as soon as its labels are taken; callers use
the same pass to inspect the inputs (``inspect``), so validation costs no second pass. Pass ``labels`` to
skip it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, default_collate

from sure_unlearn.data.types import NO_AUGMENT, Augment, BatchedData, augment_batch, to_float
from sure_unlearn.errors import DataError

Inspect = Callable[[torch.Tensor, torch.Tensor], None]


def _split(batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)`` tensors from a collated batch of ``(x, y)`` items."""
    if not isinstance(batch, tuple | list) or len(batch) != 2:
        raise DataError(
            f"dataset items must be (input, label) pairs; a batch of them collated to a {type(batch).__name__}"
        )
    x, y = batch
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise DataError(
            f"dataset items must hold tensors or arrays, got {type(x).__name__} inputs and "
            f"{type(y).__name__} labels; add a transform that returns tensors (e.g. ToTensor for images)"
        )
    return x, y


class StreamingData(BatchedData):
    """Samples of ``dataset`` (items ``(x, y)``) read per batch; labels ``y`` held on ``device``.

    ``rows`` are the dataset positions of this set's samples (default: all, in order); ``idx`` their dataset
    indices as recorded with results (default: ``rows``). ``num_workers`` > 0 reads each pass's batches in
    that many worker processes, ahead of use. Inputs are made floats as in ``LabeledData`` (uint8 → ``[0,
    1]``). The item labels are ignored after :meth:`from_dataset`: ``y`` (or :meth:`with_labels`) rules.

    >>> xs, ys = torch.rand(10, 1, 2, 2), torch.arange(10) % 2
    >>> d = StreamingData.from_dataset(torch.utils.data.TensorDataset(xs, ys))
    >>> [tuple(x.shape) for x, _ in d.batches(4)], len(d.subset(torch.tensor([1, 3])))
    ([(4, 1, 2, 2), (4, 1, 2, 2), (2, 1, 2, 2)], 2)
    """

    def __init__(
        self,
        dataset: Dataset[Any],
        y: torch.Tensor,
        *,
        augment: Augment = NO_AUGMENT,
        rows: torch.Tensor | None = None,
        idx: torch.Tensor | None = None,
        num_workers: int = 0,
        collate_fn: Callable[[list[Any]], Any] | None = None,
    ) -> None:
        self.dataset, self.y, self.augment = dataset, y.long(), augment
        self.rows = rows.long().cpu() if rows is not None else torch.arange(len(y))
        if len(self.rows) != len(y):
            raise DataError(f"{len(self.rows)} rows but {len(y)} labels")
        self.idx = idx if idx is not None else self.rows
        self.num_workers = num_workers
        self.collate_fn = collate_fn or default_collate

    @classmethod
    def from_dataset(
        cls,
        source: Dataset[Any] | DataLoader[Any],
        device: torch.device | str = "cpu",
        *,
        labels: Sequence[int] | torch.Tensor | None = None,
        inspect: Inspect | None = None,
        batch_size: int = 256,
        augment: Augment = NO_AUGMENT,
    ) -> StreamingData:
        """A streaming set over a map-style Dataset, or over a DataLoader's dataset (whose workers and
        collate function it reuses; its batch size and sampler are not used: each method draws its own).

        Without ``labels`` the labels are read in one pass of ``batch_size`` batches, each handed to
        ``inspect(x, y)`` (raw collated host tensors) before it is dropped.
        """
        workers, collate = 0, None
        if isinstance(source, DataLoader):
            workers, collate = source.num_workers, source.collate_fn
            source = source.dataset
        if isinstance(source, IterableDataset) or not hasattr(source, "__getitem__"):
            raise DataError(
                f"a {type(source).__name__} cannot be read by index; pass a map-style Dataset "
                "(with __len__ and __getitem__) or its DataLoader"
            )
        try:
            n = len(source)  # type: ignore[arg-type]
        except TypeError:
            raise DataError(f"the {type(source).__name__} has no length; give it a __len__") from None
        if n == 0:
            raise DataError(f"the {type(source).__name__} is empty")
        data = cls(source, torch.zeros(n, dtype=torch.long), augment=augment, num_workers=workers,
                   collate_fn=collate)  # fmt: skip
        if labels is None:
            ys = []
            for x, y in data.read(data.rows.split(batch_size)):
                if inspect is not None:
                    inspect(x, y)
                ys.append(y.reshape(-1).long())
            y_all = torch.cat(ys)
        else:
            y_all = torch.as_tensor(labels).long().reshape(-1)
        if len(y_all) != n:
            raise DataError(f"the dataset has {n} items but {len(y_all)} labels")
        data.y = y_all.to(device)
        return data

    def read(
        self, chunks: Iterator[torch.Tensor] | Sequence[torch.Tensor], ahead: bool = True
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Raw host ``(x, y)`` of the dataset positions in each chunk, in order; with ``ahead`` (and
        ``num_workers`` > 0) worker processes read the next chunks while the current one is used."""
        positions = (c.tolist() for c in chunks)
        if ahead and self.num_workers > 0:
            loader = DataLoader(
                self.dataset,
                batch_sampler=positions,
                num_workers=self.num_workers,
                collate_fn=self.collate_fn,
            )  # type: ignore[arg-type]
            for batch in loader:
                yield _split(batch)
        else:
            for p in positions:
                yield _split(self.collate_fn([self.dataset[i] for i in p]))

    def _positions(self, rows: torch.Tensor) -> torch.Tensor:
        return self.rows[rows.cpu()]

    def _finish(
        self, x: torch.Tensor, rows: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        x = to_float(x.to(self.device, non_blocking=True))
        if generator is not None and self.augment.active:
            x = augment_batch(x, self.augment, generator)
        return x, self.y[rows.to(self.device)]

    def batch(
        self, rows: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The float batch at ``rows`` (positions in this set), read from the dataset now, in this process
        (one batch gains nothing from workers; :meth:`fetch` reads a sequence of batches ahead)."""
        x, _ = next(self.read([self._positions(rows)], ahead=False))
        return self._finish(x, rows, generator)

    def fetch(
        self, chunks: Iterator[torch.Tensor], generator: torch.Generator | None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        pending: deque[torch.Tensor] = deque()  # chunks handed to the reader, not yet delivered

        def positions() -> Iterator[torch.Tensor]:
            for rows in chunks:
                pending.append(rows)
                yield self._positions(rows)

        for x, _ in self.read(positions()):
            yield self._finish(x, pending.popleft(), generator)

    def _like(self, **changes: Any) -> StreamingData:
        kw: dict[str, Any] = {"augment": self.augment, "rows": self.rows, "idx": self.idx,
                              "num_workers": self.num_workers, "collate_fn": self.collate_fn}  # fmt: skip
        y = changes.pop("y", self.y)
        return StreamingData(self.dataset, y, **{**kw, **changes})

    def to(self, device: torch.device | str) -> StreamingData:
        """This set delivering its batches (and holding its labels) on ``device``."""
        return self._like(y=self.y.to(device))

    def with_augment(self, augment: Augment) -> StreamingData:
        return self._like(augment=augment)

    def with_labels(self, y: torch.Tensor) -> StreamingData:
        return self._like(y=y.to(self.device))

    def subset(self, rows: torch.Tensor) -> StreamingData:
        """Rows (positions in this set, not dataset indices); nothing is read."""
        cpu = rows.cpu()
        return self._like(y=self.y[rows.to(self.device)], rows=self.rows[cpu], idx=self.idx[cpu])
