"""The reference models of a benchmark — originals, oracles, shadow originals, retrained models — from one
content-keyed cache, and the one function every seed is derived from.

A model is cached under the hash of everything that determines it (dataset, model, recipe, training
indices, their labels, the seed): :meth:`ReferenceModels.trained` loads it when it is there and trains it
otherwise, holding a lock so that processes sharing the cache (shards, tuning workers) wait for each
other's model instead of training it twice. The benchmark and the per-example attacks both take their
models from here; neither reaches into the other.

The key names what a model is trained *from*, not the code that trains it: the same key retrained by
changed training code, or on another kind of machine, can hold other bits. So every model comes with
``meta["weights"]``, the digest of its weights (:func:`~sure_unlearn.protocol.checkpoints.weights_digest`);
a run and a tuning study record the digests of the models they were measured against, and a cached run
or a resumed study whose references have changed is measured again rather than mixed with new ones.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sure_unlearn.data.splits import Split
from sure_unlearn.data.types import DatasetBundle, LabeledData
from sure_unlearn.files import check_writable, content_key, file_lock
from sure_unlearn.models import ModelSpec, SplitModel, build_model
from sure_unlearn.protocol.checkpoints import ModelCache, weights_digest
from sure_unlearn.protocol.config import BenchmarkConfig
from sure_unlearn.train import FitResult, fit


def seed_of(*parts: object) -> int:
    """The seed named by ``parts`` (e.g. ``("train", 3)``), in [0, 2⁶³): stable across runs, processes and
    machines. Every generator and model initialisation of the protocol derives its seed here.

    >>> seed_of("train", 0) == seed_of("train", 0) != seed_of("train", 1)
    True
    """
    return int(content_key(parts=[str(p) for p in parts]), 16) % (2**63)


def seeded_generator(device: torch.device | str, *parts: object) -> torch.Generator:
    """A generator on ``device`` seeded with :func:`seed_of` ``(*parts)``."""
    return torch.Generator(device=device).manual_seed(seed_of(*parts))


def default_cache_dir() -> Path:
    return Path(os.environ.get("SURE_CACHE", Path.home() / ".cache" / "sure"))


def trained_meta(kind: str, key: str, res: FitResult, device: torch.device) -> dict[str, Any]:
    """What the model cache records beside a trained model (shared with DDP and the GPU script)."""
    return {
        "kind": kind,
        "key": key,
        "train_s": res.seconds,
        "seconds_per_epoch": res.seconds_per_epoch,
        "epochs": res.epochs,
        "device": str(device),
        "final_loss": res.final_loss,
    }


@contextmanager
def cache_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (a ``.lock`` file beside a cache entry) while training it."""
    with file_lock(path):
        yield


@dataclass
class Prepared:
    """One (scenario, seed): the split and its sets on the device."""

    split: Split
    sets: dict[str, LabeledData]  # forget/retain/test/val with *true* labels, for evaluation
    train_sets: dict[str, LabeledData]  # train/forget/retain with *training* labels, val, pool, for learning
    probe: LabeledData  # D_f then as many never-seen test samples of its distribution (CKA, layer probes)


class ReferenceModels:
    """Trained models of one configuration, from the cache under ``cache_dir/models``."""

    def __init__(
        self,
        cfg: BenchmarkConfig,
        data: DatasetBundle,
        device: torch.device,
        cache_dir: Path,
        *,
        progress: bool = False,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.cfg, self.data, self.device, self.cache_dir = cfg, data, device, cache_dir
        # never train before a failing write
        check_writable(cache_dir / "models", "the model cache (--cache-dir)")
        self.cache = ModelCache(cache_dir / "models")
        self.progress, self.log = progress, log or (lambda msg: None)
        self.spec = ModelSpec(
            num_classes=data.num_classes,
            in_channels=data.image_shape[0],
            image_size=data.image_shape[1],
            mean=data.mean,
            std=data.std,
        )
        self.trained_here: set[str] = set()  # cache keys of the models this process trained

    def new_model(self, seed: int) -> SplitModel:
        """The configuration's model, initialised from ``seed``, on the device."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = build_model(self.cfg.model, self.spec, **self.cfg.model_kwargs)
        return model.to(self.device)

    def key(self, seed: int, train_idx: np.ndarray, labels: np.ndarray) -> str:
        """The cache key of a model trained from ``seed`` on ``train_idx`` with ``labels`` (everything
        that determines it; shared with DDP training, ``sure_unlearn.protocol.distributed``)."""
        c = self.cfg
        return content_key(
            **c.identity(),
            n_train=len(self.data.train),
            train_idx=train_idx,
            labels=labels[train_idx],
            seed=seed,
        )

    def trained(
        self, kind: str, seed: int, train_idx: np.ndarray, labels: np.ndarray, data: LabeledData
    ) -> tuple[SplitModel, dict[str, Any]]:
        """A ``kind`` model (``original``, ``retrain``, ``shadow``, …) trained from ``seed`` on ``data``
        (= ``train_idx``) with the configuration's recipe, from the cache if there."""
        key = self.key(seed, train_idx, labels)
        model = self.new_model(seed)
        path = self.cache.path(kind, key)
        with cache_lock(path.with_suffix(".lock")):
            meta = self.cache.load(kind, key, model)
            if meta is not None:
                self.log(f"  {kind}: cached ({path.name})")
                return model, {**meta, "weights": weights_digest(model)}
            self.log(f"  {kind}: training on {len(train_idx)} samples, {self.cfg.recipe.epochs} epochs")
            res = fit(
                model,
                data,
                self.cfg.recipe,
                seeded_generator(self.device, "train", seed),
                progress=self.progress,
                desc=kind,
                engine=self.cfg.engine,
            )
            meta = trained_meta(kind, key, res, self.device)
            self.cache.save(kind, key, model, meta)
            self.trained_here.add(key)
        return model, {**meta, "weights": weights_digest(model)}
