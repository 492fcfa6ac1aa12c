"""Decoded datasets (host, uint8) and device-resident labelled tensors with batched augmentation.

Methods read every set through :class:`BatchedData`'s batch interface; :class:`LabeledData` is its
in-memory form, :class:`~sure_unlearn.data.streaming.StreamingData` (data too large for memory) the other.

A dataset is decoded once into :class:`ImageArrays` (``N×H×W×C`` uint8, int64 labels) and cached. For
training it becomes a :class:`LabeledData`: a uint8 ``N×C×H×W`` tensor kept on the device, turned into
floats in ``[0, 1]`` one batch at a time, with random crop (zero padding) and horizontal flip done for the
whole batch at once on the device. Normalisation is a layer inside each model, so pixel-space attacks
(FGSM in BoundaryShrink) see ``[0, 1]`` inputs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from sure_unlearn.errors import DataError


@dataclass(frozen=True)
class Augment:
    """Training augmentation: random crop after zero-padding by ``pad`` pixels, and random h-flip."""

    pad: int = 4
    flip: bool = True

    @property
    def active(self) -> bool:
        return self.pad > 0 or self.flip


NO_AUGMENT = Augment(pad=0, flip=False)


@dataclass(frozen=True)
class ImageArrays:
    """Host-side images ``x`` (N×H×W×C uint8) and labels ``y`` (N int64)."""

    x: np.ndarray
    y: np.ndarray

    def __post_init__(self) -> None:
        if self.x.ndim != 4 or self.x.dtype != np.uint8:
            raise DataError(f"images must be N×H×W×C uint8, got {self.x.shape} {self.x.dtype}")
        if self.y.shape != (len(self.x),):
            raise DataError(f"{len(self.x)} images but labels of shape {self.y.shape}")

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, idx: np.ndarray) -> ImageArrays:
        return ImageArrays(self.x[idx], self.y[idx])


@dataclass(frozen=True)
class DatasetBundle:
    """A dataset's official train and test splits, its class names and its training augmentation.

    ``mean``/``std`` are per-channel statistics of the training images in ``[0, 1]``; models put them in
    a normalisation layer.
    """

    name: str
    train: ImageArrays
    test: ImageArrays
    classes: tuple[str, ...]
    augment: Augment = field(default_factory=Augment)
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        k = len(self.classes)
        for part, arr in (("train", self.train), ("test", self.test)):
            if len(arr) and (arr.y.min() < 0 or arr.y.max() >= k):
                raise DataError(f"{self.name} {part} labels fall outside 0..{k - 1}")
        if self.train.x.shape[1:] != self.test.x.shape[1:]:
            raise DataError(f"{self.name}: train and test images differ in shape")
        if not self.mean:
            mean, std = _channel_stats(self.train.x)
            object.__setattr__(self, "mean", tuple(float(v) for v in mean))
            object.__setattr__(self, "std", tuple(float(v) for v in std + 1e-8))

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) as models see it."""
        _, h, w, c = self.train.x.shape
        return (c, h, w)


def _channel_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std in ``[0, 1]`` of N×H×W×C uint8 images, exact, from 256-bin histograms.

    A float copy of CIFAR-10's training set is 1.2 GB (Tiny-ImageNet's, 10 GB); the histograms are not.
    """
    flat = x.reshape(-1, x.shape[-1])
    hist = np.zeros((flat.shape[1], 256), np.int64)
    for s in range(0, len(flat), 1 << 22):
        block = flat[s : s + (1 << 22)]
        for c in range(flat.shape[1]):
            hist[c] += np.bincount(block[:, c], minlength=256)
    v = np.arange(256) / 255.0
    n = np.maximum(hist.sum(1), 1)
    mean = hist @ v / n
    return mean, np.sqrt(np.maximum(hist @ (v * v) / n - mean**2, 0.0))


class BatchedData:
    """Labelled samples read by rows, as float batches on one device: what every method consumes.

    A subclass holds the labels ``y`` (int64, on :attr:`device`), the samples' dataset indices ``idx`` and
    an :class:`Augment`, and implements :meth:`batch`, :meth:`subset`, :meth:`with_augment` and
    :meth:`with_labels`; one pass (:meth:`batches`) and endless batches (:meth:`cycle`) are built on
    :meth:`batch`. :class:`LabeledData` keeps its inputs on the device;
    :class:`~sure_unlearn.data.streaming.StreamingData` reads them from a ``Dataset``, batch by batch.
    """

    y: torch.Tensor
    idx: torch.Tensor
    augment: Augment

    def __len__(self) -> int:
        return len(self.y)

    @property
    def device(self) -> torch.device:
        return self.y.device

    def batch(
        self, rows: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The float batch at ``rows`` (positions in this set), augmented when ``generator`` is given."""
        raise NotImplementedError

    def subset(self, rows: torch.Tensor) -> BatchedData:
        raise NotImplementedError

    def with_augment(self, augment: Augment) -> BatchedData:
        raise NotImplementedError

    def with_labels(self, y: torch.Tensor) -> BatchedData:
        raise NotImplementedError

    def fetch(
        self, chunks: Iterator[torch.Tensor], generator: torch.Generator | None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The batch of each chunk of rows, in order (a streaming set may read ahead)."""
        for rows in chunks:
            yield self.batch(rows, generator)

    def batches(
        self,
        batch_size: int,
        generator: torch.Generator | None = None,
        shuffle: bool = True,
        drop_last: bool = False,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One pass in batches; shuffled and augmented with ``generator`` (eval order without one)."""
        n = len(self)
        if shuffle and generator is not None:
            order = torch.randperm(n, generator=generator, device=generator.device).to(self.device)
        else:
            order = torch.arange(n, device=self.device)
        stop = n - n % batch_size if drop_last and n >= batch_size else n
        chunks = (order[s : s + batch_size] for s in range(0, stop, batch_size))
        yield from self.fetch(chunks, generator if shuffle else None)

    def cycle(
        self, batch_size: int, generator: torch.Generator
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Endless shuffled batches of exactly ``batch_size`` (reshuffled at each pass; small sets repeat)."""
        n = len(self)
        if n == 0:
            raise DataError("cannot draw batches from an empty set")
        buf = torch.empty(0, dtype=torch.long, device=self.device)
        while True:
            while len(buf) < batch_size:
                perm = torch.randperm(n, generator=generator, device=generator.device).to(self.device)
                buf = torch.cat([buf, perm])
            rows, buf = buf[:batch_size], buf[batch_size:]
            yield self.batch(rows, generator)


def to_float(x: torch.Tensor) -> torch.Tensor:
    """Model inputs as floats: uint8 images scaled to ``[0, 1]``, anything else cast to float32."""
    return x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()


class LabeledData(BatchedData):
    """Images and labels on one device, iterated in shuffled, augmented float batches.

    ``x`` is uint8 ``N×C×H×W`` (or float already in ``[0, 1]``); ``y`` int64. Batches are built with one
    gather and one batched crop/flip on the device: no DataLoader, no per-sample Python.

    >>> d = LabeledData.from_arrays(ImageArrays(np.zeros((10, 8, 8, 3), np.uint8), np.arange(10) % 2))
    >>> [tuple(x.shape) for x, _ in d.batches(4, torch.Generator().manual_seed(0))]
    [(4, 3, 8, 8), (4, 3, 8, 8), (2, 3, 8, 8)]
    """

    def __init__(
        self, x: torch.Tensor, y: torch.Tensor, augment: Augment = NO_AUGMENT, idx: torch.Tensor | None = None
    ) -> None:
        if len(x) != len(y):
            raise DataError(f"{len(x)} inputs but {len(y)} labels")
        self.x, self.y, self.augment = x, y.long(), augment
        # indices of these samples in the dataset they came from (saved with results)
        self.idx = idx if idx is not None else torch.arange(len(y))

    @classmethod
    def from_arrays(
        cls,
        arr: ImageArrays,
        idx: np.ndarray | None = None,
        augment: Augment = NO_AUGMENT,
        device: torch.device | str = "cpu",
        labels: np.ndarray | None = None,
    ) -> LabeledData:
        """Move ``arr[idx]`` to ``device`` as uint8 NCHW. ``labels`` overrides ``arr.y`` (confusion)."""
        idx = np.arange(len(arr)) if idx is None else np.asarray(idx, dtype=np.int64)
        y = (arr.y if labels is None else labels)[idx]
        x = torch.from_numpy(np.ascontiguousarray(arr.x[idx].transpose(0, 3, 1, 2)))
        return cls(x.to(device), torch.from_numpy(y).to(device), augment, torch.from_numpy(idx))

    @property
    def device(self) -> torch.device:
        return self.x.device

    def with_augment(self, augment: Augment) -> LabeledData:
        return LabeledData(self.x, self.y, augment, self.idx)

    def with_labels(self, y: torch.Tensor) -> LabeledData:
        return LabeledData(self.x, y.to(self.device), self.augment, self.idx)

    def subset(self, rows: torch.Tensor) -> LabeledData:
        """Rows (positions in this set, not dataset indices)."""
        rows = rows.to(self.device)
        return LabeledData(self.x[rows], self.y[rows], self.augment, self.idx[rows.cpu()])

    def to_float(self, x: torch.Tensor) -> torch.Tensor:
        return to_float(x)

    def batch(
        self, rows: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The float batch at ``rows``, augmented when ``generator`` is given and augmentation is on."""
        x = self.to_float(self.x[rows])
        if generator is not None and self.augment.active:
            x = augment_batch(x, self.augment, generator)
        return x, self.y[rows]


def concat_batches(
    parts: Sequence[BatchedData], batch_size: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Un-augmented batches of ``parts`` read one after another, as if concatenated (a batch may span two
    sets), without building the concatenation: nothing beyond one batch is held.

    >>> a = LabeledData(torch.zeros(3, 1), torch.zeros(3)); b = LabeledData(torch.ones(2, 1), torch.ones(2))
    >>> [y.tolist() for _, y in concat_batches([a, b], 2)]
    [[0, 0], [0, 1], [1]]
    """
    starts = np.cumsum([0] + [len(p) for p in parts])
    for s in range(0, int(starts[-1]), batch_size):
        xs, ys = [], []
        for p, lo in zip(parts, starts[:-1], strict=True):
            a, b = max(s - lo, 0), min(s + batch_size - lo, len(p))
            if a < b:
                x, y = p.batch(torch.arange(int(a), int(b), device=p.device))
                xs.append(x)
                ys.append(y)
        yield torch.cat(xs), torch.cat(ys)


def augment_batch(x: torch.Tensor, aug: Augment, generator: torch.Generator) -> torch.Tensor:
    """Random crop (zero-padded by ``aug.pad``) and horizontal flip of a float NCHW batch, on its device.

    One padded copy and one gather for the whole batch: each image gets its own offset and flip.
    """
    n, _, h, w = x.shape
    gdev = generator.device
    if aug.pad > 0:
        p = aug.pad
        padded = torch.nn.functional.pad(x, (p, p, p, p))
        dy = torch.randint(0, 2 * p + 1, (n,), generator=generator, device=gdev).to(x.device)
        dx = torch.randint(0, 2 * p + 1, (n,), generator=generator, device=gdev).to(x.device)
        rows = (dy[:, None] + torch.arange(h, device=x.device)[None, :])[:, None, :, None]
        cols = (dx[:, None] + torch.arange(w, device=x.device)[None, :])[:, None, None, :]
        batch = torch.arange(n, device=x.device)[:, None, None, None]
        chan = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
        x = padded[batch, chan, rows, cols]
    if aug.flip:
        flip = torch.rand(n, generator=generator, device=gdev).to(x.device) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
    return x
