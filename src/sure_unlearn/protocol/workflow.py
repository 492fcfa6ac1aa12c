"""The checkpoint workflow behind ``sure train``, ``sure unlearn`` and ``sure evaluate``.

A model is trained and saved with the indices it trained on (and the holdout it never saw); a forget set is
a file of those training indices; unlearning writes a new checkpoint that records what it forgot; evaluation
computes every metric of a checkpoint on its forget set, and the gaps to an oracle checkpoint.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sure_unlearn.data import load_dataset
from sure_unlearn.data.splits import check_forget_indices, stratified_subset
from sure_unlearn.data.types import NO_AUGMENT, DatasetBundle, LabeledData
from sure_unlearn.errors import CheckpointError, DataError
from sure_unlearn.models import ModelSpec, SplitModel, build_model
from sure_unlearn.protocol.checkpoints import load_checkpoint, load_into, save_checkpoint
from sure_unlearn.protocol.config import BenchmarkConfig, method_config

Root = str | Path | None


def read_indices(path: str | Path) -> np.ndarray:
    """Forget indices from ``.npy``, ``.json`` (a list) or text (integers separated by spaces/commas/lines)."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"no forget-index file at {p}")
    try:
        if p.suffix == ".npy":
            arr = np.load(p, allow_pickle=False)
        elif p.suffix == ".json":
            arr = np.asarray(json.loads(p.read_text()))
        else:
            arr = np.asarray([int(t) for t in p.read_text().replace(",", " ").split()])
    except ValueError as e:
        raise DataError(f"cannot read integer indices from {p}: {e}") from None
    return arr.astype(np.int64) if arr.size and np.issubdtype(arr.dtype, np.integer) else arr


def _datasets(cache_dir: Root) -> Path | None:
    return Path(cache_dir) / "datasets" if cache_dir else None


def train_original(
    cfg: BenchmarkConfig, seed: int, out: str | Path, *, device: torch.device, data_root: Root = None,
    cache_dir: Root = None, progress: bool = False,
) -> dict[str, float]:
    """Train ``cfg``'s model with its recipe on the training pool of ``seed`` minus a stratified holdout, as
    the benchmark draws them, and save it at ``out`` with both index sets; returns time and accuracies."""
    from sure_unlearn.protocol.references import seeded_generator
    from sure_unlearn.train import accuracy, fit

    data = load_dataset(cfg.dataset, data_root, cache_dir=_datasets(cache_dir), **cfg.dataset_kwargs)
    rng = np.random.default_rng([seed, 0])
    pool = stratified_subset(data.train.y, cfg.train_subset, rng)
    holdout = stratified_subset(data.train.y, round(cfg.holdout_fraction * len(pool)), rng, pool)
    train_idx = np.setdiff1d(pool, holdout)
    spec = ModelSpec(data.num_classes, data.image_shape[0], data.image_shape[1], data.mean, data.std)
    torch.manual_seed(seed)
    model = build_model(cfg.model, spec, **cfg.model_kwargs).to(device)
    train = LabeledData.from_arrays(data.train, train_idx, data.augment if cfg.recipe.augment else NO_AUGMENT, device)
    res = fit(model, train, cfg.recipe, seeded_generator(device, "train", seed), progress=progress, desc="train")
    test = LabeledData.from_arrays(data.test, None, NO_AUGMENT, device)
    meta = {
        "dataset": cfg.dataset, "dataset_kwargs": cfg.dataset_kwargs, "model": cfg.model,
        "model_kwargs": cfg.model_kwargs, "spec": spec.__dict__, "recipe": cfg.recipe.__dict__, "seed": seed,
        "train_idx": train_idx.tolist(), "holdout_idx": holdout.tolist(), "train_s": res.seconds,
        "train_acc": accuracy(model, train.with_augment(NO_AUGMENT)), "test_acc": accuracy(model, test),
    }
    save_checkpoint(out, model, meta)
    return {k: meta[k] for k in ("train_s", "train_acc", "test_acc")}


def load_model(path: str | Path, device: torch.device) -> tuple[SplitModel, dict[str, Any]]:
    """A checkpoint written by ``sure train`` (or ``sure unlearn``) as a model on ``device``, and its meta."""
    state, meta = load_checkpoint(path)
    try:
        spec_kw: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["spec"].items()}
        model = build_model(meta["model"], ModelSpec(**spec_kw), **meta.get("model_kwargs", {}))
    except KeyError as e:
        raise CheckpointError(f"checkpoint {path} lacks {e}; was it written by `sure train`?") from None
    load_into(model, state, str(path))
    return model.to(device), meta


def dataset_of(meta: Mapping[str, Any], data_root: Root = None, cache_dir: Root = None) -> DatasetBundle:
    """The dataset a checkpoint was trained on (its class count checked against the model's)."""
    data = load_dataset(meta["dataset"], data_root, cache_dir=_datasets(cache_dir), **meta.get("dataset_kwargs", {}))
    if data.num_classes != meta["spec"]["num_classes"]:
        raise DataError(f"the model has {meta['spec']['num_classes']} classes but {meta['dataset']} has {data.num_classes}")
    return data


def sets_for(
    meta: Mapping[str, Any], data: DatasetBundle, forget: np.ndarray, device: torch.device, augment: bool
) -> dict[str, LabeledData]:
    """forget, retain (the rest of the training indices) and val (holdout samples of the forget classes)."""
    train_idx = np.asarray(meta["train_idx"], dtype=np.int64)
    holdout = np.asarray(meta["holdout_idx"], dtype=np.int64)
    forget = check_forget_indices(forget, train_idx, len(data.train))
    retain = np.setdiff1d(train_idx, forget)
    val = holdout[np.isin(data.train.y[holdout], np.unique(data.train.y[forget]))]
    aug = data.augment if augment else NO_AUGMENT
    return {k: LabeledData.from_arrays(data.train, idx, aug, device)
            for k, idx in (("forget", forget), ("retain", retain), ("val", val))}


def unlearn_checkpoint(
    checkpoint: str | Path, forget: str | Path, method: str, hparams: Mapping[str, Any] | None, seed: int,
    out: str | Path, *, device: torch.device, data_root: Root = None, cache_dir: Root = None, progress: bool = False,
) -> dict[str, Any]:
    """Unlearn the indices in file ``forget`` from ``checkpoint`` with ``method`` and save the result at
    ``out``, its meta recording what was forgotten; returns that record."""
    from sure_unlearn.methods import RunContext, UnlearnData, run_method
    from sure_unlearn.train import Recipe

    cfg = method_config(method, hparams)  # every hyperparameter checked before any work
    model, meta = load_model(checkpoint, device)
    data = dataset_of(meta, data_root, cache_dir)
    sets = sets_for(meta, data, read_indices(forget), device, augment=True)
    recipe_kw: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["recipe"].items()}
    udata = UnlearnData(sets["forget"], sets["retain"], sets["val"], num_classes=data.num_classes,
                        original_recipe=Recipe(**recipe_kw))
    ctx = RunContext(torch.Generator(device=device).manual_seed(seed), progress=progress)
    start = time.perf_counter()
    unlearned = run_method(method, model, udata, cfg, ctx)
    forget_idx = sets["forget"].idx.numpy()
    record = {"method": method, "hparams": cfg.__dict__, "forget_idx": forget_idx.tolist(),
              "runtime_s": time.perf_counter() - start, "from": str(checkpoint)}
    new_meta = {**meta, "train_idx": np.setdiff1d(meta["train_idx"], forget_idx).tolist(), "unlearned": record}
    save_checkpoint(out, unlearned, new_meta)
    return record


def evaluate_checkpoint(
    checkpoint: str | Path, forget: str | Path, oracle: str | Path | None, seed: int, *, device: torch.device,
    data_root: Root = None, cache_dir: Root = None,
) -> dict[str, Any]:
    """Every metric of ``checkpoint`` on the forget set in file ``forget``; with an ``oracle`` checkpoint also
    its metrics and the gaps to it."""
    from sure_unlearn.metrics import gaps
    from sure_unlearn.protocol.evaluate import evaluate

    model, meta = load_model(checkpoint, device)
    data = dataset_of(meta, data_root, cache_dir)
    forget_idx = read_indices(forget)
    # an unlearned checkpoint no longer lists its forget set among its training indices
    base_train = np.union1d(meta["train_idx"], meta.get("unlearned", {}).get("forget_idx", []))
    sets = sets_for({**meta, "train_idx": base_train.tolist()}, data, forget_idx, device, augment=False)
    sets["test"] = LabeledData.from_arrays(data.test, None, NO_AUGMENT, device)
    classes = np.unique(data.train.y[forget_idx])
    fc = tuple(int(c) for c in classes) if len(classes) < data.num_classes else ()
    metrics, _ = evaluate(model, sets, forget_classes=fc, seed=seed)
    result: dict[str, Any] = {"metrics": metrics}
    if oracle:
        reference, _ = load_model(oracle, device)
        om, _ = evaluate(reference, sets, forget_classes=fc, seed=seed)
        result.update(oracle=om, gaps=gaps(metrics, om))
    return result
