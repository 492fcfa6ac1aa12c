"""The checkpoint workflow behind ``sure train``, ``forget-set``, ``unlearn``, ``retrain`` and ``evaluate``.

A model is trained and saved with the indices it trained on (and the holdout it never saw); a forget set is
a file of those training indices, chosen by class, at random or from a file, each checked against the
checkpoint; unlearning writes a new checkpoint that records what it forgot; the oracle is the original's own
training run again without the forget set; evaluation computes every metric of a checkpoint on its forget
set, and the gaps to an oracle checkpoint.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sure_unlearn.data import load_dataset
from sure_unlearn.data.splits import check_forget_indices, stratified_subset
from sure_unlearn.data.types import NO_AUGMENT, DatasetBundle, LabeledData
from sure_unlearn.errors import CheckpointError, DataError
from sure_unlearn.files import atomic_write_text, content_key
from sure_unlearn.models import ModelSpec, SplitModel, build_model
from sure_unlearn.protocol.checkpoints import check_format, load_checkpoint, load_into, save_checkpoint
from sure_unlearn.protocol.config import BenchmarkConfig, method_config
from sure_unlearn.train import Recipe

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


def write_indices(path: str | Path, idx: np.ndarray) -> None:
    """Write a forget file: one index per line, the text format :func:`read_indices` reads."""
    atomic_write_text(Path(path), "".join(f"{int(i)}\n" for i in idx))


def _datasets(cache_dir: Root) -> Path | None:
    return Path(cache_dir) / "datasets" if cache_dir else None


def train_original(
    cfg: BenchmarkConfig,
    seed: int,
    out: str | Path,
    *,
    device: torch.device,
    data_root: Root = None,
    cache_dir: Root = None,
    progress: bool = False,
) -> dict[str, float]:
    """Train ``cfg``'s model with its recipe on the training pool of ``seed`` minus a stratified holdout, as
    the benchmark draws them, and save it at ``out`` with both index sets; returns time and accuracies."""
    check_format(out)
    data = load_dataset(cfg.dataset, data_root, cache_dir=_datasets(cache_dir), **cfg.dataset_kwargs)
    rng = np.random.default_rng([seed, 0])
    pool = stratified_subset(data.train.y, cfg.train_subset, rng)
    holdout = stratified_subset(data.train.y, round(cfg.holdout_fraction * len(pool)), rng, pool)
    spec = ModelSpec(data.num_classes, data.image_shape[0], data.image_shape[1], data.mean, data.std)
    meta = {
        "dataset": cfg.dataset,
        "dataset_kwargs": cfg.dataset_kwargs,
        "data_key": _data_key(data),
        "model": cfg.model,
        "model_kwargs": cfg.model_kwargs,
        "spec": spec.__dict__,
        "recipe": cfg.recipe.__dict__,
        "seed": seed,
        "holdout_idx": holdout.tolist(),
    }
    model, stats = _train(meta, data, np.setdiff1d(pool, holdout), device, progress, "train")
    save_checkpoint(out, model, {**meta, **stats})
    return {k: stats[k] for k in ("train_s", "train_acc", "test_acc")}


def _train(
    meta: Mapping[str, Any],
    data: DatasetBundle,
    train_idx: np.ndarray,
    device: torch.device,
    progress: bool,
    desc: str,
) -> tuple[SplitModel, dict[str, Any]]:
    """``meta``'s model trained on ``train_idx`` as ``sure train`` does it: weights initialised from its seed,
    its recipe, its data-order stream. Returns the model and what the checkpoint records of the run."""
    from sure_unlearn.protocol.references import seeded_generator
    from sure_unlearn.train import accuracy, fit

    recipe = _recipe(meta)
    torch.manual_seed(meta["seed"])
    model = _build(meta, "checkpoint").to(device)
    train = LabeledData.from_arrays(
        data.train, train_idx, data.augment if recipe.augment else NO_AUGMENT, device
    )
    res = fit(
        model, train, recipe, seeded_generator(device, "train", meta["seed"]), progress=progress, desc=desc
    )
    test = LabeledData.from_arrays(data.test, None, NO_AUGMENT, device)
    return model, {
        "train_idx": train_idx.tolist(),
        "train_s": res.seconds,
        "train_acc": accuracy(model, train.with_augment(NO_AUGMENT)),
        "test_acc": accuracy(model, test),
    }


def _data_key(data: DatasetBundle) -> str:
    """A fingerprint of the training split's labels: indices saved with a model mean nothing on other data."""
    return content_key(labels=data.train.y)


def _recipe(meta: Mapping[str, Any]) -> Recipe:
    kw: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["recipe"].items()}
    return Recipe(**kw)


def _build(meta: Mapping[str, Any], source: str) -> SplitModel:
    try:
        spec_kw: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["spec"].items()}
        return build_model(meta["model"], ModelSpec(**spec_kw), **meta.get("model_kwargs", {}))
    except KeyError as e:
        raise CheckpointError(f"{source} lacks {e}; was it written by `sure train`?") from None


def _initial_state(meta: Mapping[str, Any]) -> dict[str, torch.Tensor] | None:
    """The weights a checkpoint's training started from (rebuilt from its seed), for EU-k's reset."""
    if "seed" not in meta:
        return None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(meta["seed"])
        return _build(meta, "checkpoint").state_dict()


def load_model(path: str | Path, device: torch.device) -> tuple[SplitModel, dict[str, Any]]:
    """A checkpoint written by ``sure train`` (or ``sure unlearn``) as a model on ``device``, and its meta."""
    state, meta = load_checkpoint(path)
    model = _build(meta, f"checkpoint {path}")
    load_into(model, state, str(path))
    return model.to(device), meta


def dataset_of(meta: Mapping[str, Any], data_root: Root = None, cache_dir: Root = None) -> DatasetBundle:
    """The dataset a checkpoint was trained on (its class count and training labels checked against it)."""
    data = load_dataset(
        meta["dataset"], data_root, cache_dir=_datasets(cache_dir), **meta.get("dataset_kwargs", {})
    )
    if data.num_classes != meta["spec"]["num_classes"]:
        raise DataError(
            f"the model has {meta['spec']['num_classes']} classes but {meta['dataset']} has {data.num_classes}"
        )
    if meta.get("data_key", _data_key(data)) != _data_key(data):
        raise DataError(
            f"the {meta['dataset']} data found now is not the data the checkpoint was trained on (its training "
            "labels differ), so its indices would name other samples; point --data-root at that data"
        )
    return data


def training_set(
    checkpoint: str | Path, data_root: Root = None, cache_dir: Root = None
) -> tuple[np.ndarray, DatasetBundle]:
    """The training indices of ``checkpoint`` (what can be forgotten) and its dataset."""
    _, meta = load_checkpoint(checkpoint)
    if "train_idx" not in meta:
        raise CheckpointError(
            f"checkpoint {checkpoint} records no training indices; was it written by `sure train`?"
        )
    return np.asarray(meta["train_idx"], dtype=np.int64), dataset_of(meta, data_root, cache_dir)


def forgettable(checkpoint: str | Path, data_root: Root = None, cache_dir: Root = None) -> dict[str, Any]:
    """What can be forgotten from ``checkpoint``: its dataset, the size of the dataset's training split, how
    many of those indices the model trained on and their range, and for each class (index, name) how many."""
    train_idx, data = training_set(checkpoint, data_root, cache_dir)
    counts = np.bincount(data.train.y[train_idx], minlength=data.num_classes)
    return {
        "dataset": data.name,
        "split_size": len(data.train),
        "count": len(train_idx),
        "min": int(train_idx.min()),
        "max": int(train_idx.max()),
        "classes": [
            {"index": k, "name": name, "count": int(counts[k])} for k, name in enumerate(data.classes)
        ],
    }


def class_index(cls: str | int, classes: Sequence[str]) -> int:
    """A class given by name (exact, then ignoring case) or by index.

    >>> class_index("Cat", ["airplane", "cat"]), class_index("0", ["airplane", "cat"])
    (1, 0)
    """
    names, token = list(classes), str(cls).strip()
    lowered = [name.lower() for name in names]
    if token in names:
        return names.index(token)
    if token.lower() in lowered:
        return lowered.index(token.lower())
    if token.isdigit() and int(token) < len(names):
        return int(token)
    shown = ", ".join(f"{i}={n}" for i, n in enumerate(names[:12])) + (", …" if len(names) > 12 else "")
    raise DataError(f"unknown class {token!r}; give a name or an index 0..{len(names) - 1} ({shown})")


def _leaves_a_retain_set(idx: np.ndarray, train_idx: np.ndarray) -> np.ndarray:
    if len(idx) == 0:
        raise DataError("the forget set is empty; choose at least one training index")
    if len(idx) >= len(train_idx):
        raise DataError(
            f"the forget set holds all {len(train_idx)} training indices and leaves nothing to retain"
        )
    return np.sort(idx)


def class_forget_set(
    checkpoint: str | Path,
    cls: str | int,
    n: int | None = None,
    seed: int = 0,
    data_root: Root = None,
    cache_dir: Root = None,
) -> np.ndarray:
    """The training indices of class ``cls`` (a name or an index): all of them, or ``n`` drawn with ``seed``."""
    train_idx, data = training_set(checkpoint, data_root, cache_dir)
    k = class_index(cls, data.classes)
    members = train_idx[data.train.y[train_idx] == k]
    name = f"class {k} ({data.classes[k]})"
    if len(members) == 0:
        raise DataError(f"{name} has no training samples in {checkpoint}: nothing to forget")
    if n is not None and not 1 <= n <= len(members):
        raise DataError(
            f"cannot draw {n} samples of {name}: it has {len(members)} training samples in "
            f"{checkpoint}; give 1..{len(members)}"
        )
    if n is not None:
        members = np.random.default_rng(seed).choice(members, size=n, replace=False)
    return _leaves_a_retain_set(members, train_idx)


def random_forget_set(
    checkpoint: str | Path, n: int, seed: int = 0, data_root: Root = None, cache_dir: Root = None
) -> np.ndarray:
    """``n`` training indices of ``checkpoint`` drawn uniformly (without replacement) with ``seed``."""
    train_idx, _ = training_set(checkpoint, data_root, cache_dir)
    if not 1 <= n < len(train_idx):
        raise DataError(
            f"cannot draw {n} of the {len(train_idx)} training samples of {checkpoint} at random; give "
            f"1..{len(train_idx) - 1} (at least one must remain)"
        )
    return _leaves_a_retain_set(
        np.random.default_rng(seed).choice(train_idx, size=n, replace=False), train_idx
    )


def file_forget_set(
    checkpoint: str | Path, path: str | Path, data_root: Root = None, cache_dir: Root = None
) -> np.ndarray:
    """The indices in file ``path`` (any format :func:`read_indices` reads), each checked to be a training
    index of ``checkpoint``; sorted and without repeats."""
    train_idx, data = training_set(checkpoint, data_root, cache_dir)
    return _leaves_a_retain_set(
        check_forget_indices(read_indices(path), train_idx, len(data.train)), train_idx
    )


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
    return {
        k: LabeledData.from_arrays(data.train, idx, aug, device)
        for k, idx in (("forget", forget), ("retain", retain), ("val", val))
    }


def unlearn_checkpoint(
    checkpoint: str | Path,
    forget: str | Path,
    method: str,
    hparams: Mapping[str, Any] | None,
    seed: int,
    out: str | Path,
    *,
    device: torch.device,
    data_root: Root = None,
    cache_dir: Root = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Unlearn the indices in file ``forget`` from ``checkpoint`` with ``method`` and save the result at
    ``out``, its meta recording what was forgotten; returns that record."""
    from sure_unlearn.methods import RunContext, UnlearnData, run_method

    cfg = method_config(method, hparams)  # every hyperparameter checked before any work
    check_format(out)
    model, meta = load_model(checkpoint, device)
    data = dataset_of(meta, data_root, cache_dir)
    recipe = _recipe(meta)  # Retrain and EU-k train with it; its augmentation applies to every method
    sets = sets_for(meta, data, read_indices(forget), device, augment=recipe.augment)
    udata = UnlearnData(
        sets["forget"],
        sets["retain"],
        sets["val"],
        num_classes=data.num_classes,
        original_recipe=recipe,
        init_state=_initial_state(meta),
    )
    ctx = RunContext(torch.Generator(device=device).manual_seed(seed), progress=progress)
    start = time.perf_counter()
    unlearned = run_method(method, model, udata, cfg, ctx)
    forget_idx = sets["forget"].idx.numpy()
    record = {
        "method": method,
        "hparams": cfg.__dict__,
        "forget_idx": forget_idx.tolist(),
        "runtime_s": time.perf_counter() - start,
        "from": str(checkpoint),
    }
    new_meta = {
        **meta,
        "train_idx": np.setdiff1d(meta["train_idx"], forget_idx).tolist(),
        "unlearned": record,
    }
    save_checkpoint(out, unlearned, new_meta)
    return record


def retrain_checkpoint(
    checkpoint: str | Path,
    forget: str | Path,
    out: str | Path,
    *,
    device: torch.device,
    data_root: Root = None,
    cache_dir: Root = None,
    progress: bool = False,
) -> dict[str, Any]:
    """The oracle: ``checkpoint``'s own training run again (same initial weights, recipe and data-order
    seed) on its training indices minus those in file ``forget``, saved at ``out`` with its meta recording
    what was left out, as ``sure unlearn`` records what it forgot. Returns that record."""
    check_format(out)
    _, meta = load_checkpoint(checkpoint)
    data = dataset_of(meta, data_root, cache_dir)
    train_idx = np.asarray(meta["train_idx"], dtype=np.int64)
    forget_idx = check_forget_indices(read_indices(forget), train_idx, len(data.train))
    model, stats = _train(meta, data, np.setdiff1d(train_idx, forget_idx), device, progress, "retrain")
    record = {
        "method": "retrain",
        "hparams": {},
        "forget_idx": forget_idx.tolist(),
        "runtime_s": stats["train_s"],
        "from": str(checkpoint),
    }
    save_checkpoint(out, model, {**meta, **stats, "unlearned": record})
    return {**record, "train_acc": stats["train_acc"], "test_acc": stats["test_acc"]}


def evaluate_checkpoint(
    checkpoint: str | Path,
    forget: str | Path,
    oracle: str | Path | None,
    seed: int,
    *,
    device: torch.device,
    data_root: Root = None,
    cache_dir: Root = None,
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
        reference, o_meta = load_model(oracle, device)
        seen = np.intersect1d(o_meta.get("train_idx", []), forget_idx)
        if len(seen):
            raise CheckpointError(
                f"the oracle {oracle} trained on {len(seen)} of the forget indices (e.g. {seen[:5].tolist()}), so "
                "it is no oracle for this forget set; make one with `sure retrain`"
            )
        om, _ = evaluate(reference, sets, forget_classes=fc, seed=seed)
        result.update(oracle=om, gaps=gaps(metrics, om))
    return result
