"""Data-parallel training of the original and the oracle over several processes (PyTorch DDP, ``torchrun``).

Paper-scale benchmarks spend most of their time training the original and the oracle (150 epochs each);
:func:`fit_distributed` spreads that over every GPU of a machine (or, for testing, over CPU processes with
the gloo backend). It is the same computation as :func:`sure_unlearn.train.fit`:

* every rank holds the **whole** training set on its device (CIFAR-10 is 150 MB as uint8) and draws the
  **same** seeded permutation and augmentation, so all ranks agree on each global batch ``B`` without
  communicating; rank ``r`` of ``W`` keeps rows ``r, r+W, r+2W, …`` of it (``B/W`` samples; ``W`` must
  divide ``B``). Building the global batch on every rank costs one gather + crop/flip of ``B`` images per
  step, which is negligible next to the model and keeps the sample stream bit-identical to ``fit``'s;
* each rank's loss is its share of the global mean, ``L_r = (1/B_t) Σ_{i ∈ shard r} ℓ_i`` (``B_t`` the
  global batch's size, smaller for the last batch), and DDP averages gradients over ranks, so with the
  backward pass on ``W · L_r``

      (1/W) Σ_r ∇(W · L_r) = ∇ (1/B_t) Σ_i ℓ_i

  is exactly the full-batch gradient (up to float summation order). Optimiser, schedule and weight decay are
  ``fit``'s (:func:`~sure_unlearn.train.make_optimizer`, :func:`~sure_unlearn.train.lr_lambda`);
* BatchNorm normalises with per-rank statistics (``B/W`` samples each; DDP broadcasts rank 0's running
  statistics at every forward), or with statistics over the whole global batch with ``sync_bn=True``
  (``nn.SyncBatchNorm``, CUDA only). Either way the model is handed back with its own BatchNorm modules and
  identical weights and buffers on every rank. Without BatchNorm the result is single-process training's
  (tested); with ``sync_bn`` it should be too (CUDA only, not yet run on a GPU);
* layout, precision and compilation are ``fit``'s :class:`~sure_unlearn.train.Engine` (automatic:
  channels-last for convolutional models, bf16 autocast on CUDA);
* losses stay on the device; one all-reduce and one host sync per epoch.

Launch the command with ``torchrun``, which sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``
and ``MASTER_PORT``; ``LOCAL_RANK`` picks the CUDA device::

    torchrun --nproc_per_node=2 -m sure_unlearn.cli train-ddp --preset paper --kind original,retrain \\
        --scenario partial_class --seed 0

(or ``$(which sure) train-ddp``). It trains the benchmark's original and/or oracle (:func:`train_ddp`) and
stores them in the benchmark's model cache under the key ``Benchmark.trained`` computes, so a later
``sure benchmark`` with the same configuration finds them there.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from sure_unlearn.data.types import NO_AUGMENT, LabeledData
from sure_unlearn.errors import ConfigError, DataError, SureError
from sure_unlearn.models.base import SplitModel
from sure_unlearn.progress import bar
from sure_unlearn.protocol.checkpoints import save_checkpoint
from sure_unlearn.train import Engine, FitResult, Recipe, lr_lambda, make_optimizer, model_device

if TYPE_CHECKING:
    from sure_unlearn.protocol.benchmark import Benchmark
    from sure_unlearn.protocol.config import BenchmarkConfig

TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
LAUNCH = "torchrun --nproc_per_node=N -m sure_unlearn.cli train-ddp --preset … --kind original"
KINDS = ("original", "retrain")  # the benchmark's original and its oracle (Benchmark's ORIGINAL, ORACLE)


@dataclass(frozen=True)
class Rank:
    """This process's place in the group: global ``rank`` of ``world_size``, ``local_rank`` on its node."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _env_int(name: str) -> int:
    try:
        return int(os.environ[name])
    except ValueError:
        raise ConfigError(f"environment variable {name}={os.environ[name]!r} is not an integer") from None


@contextmanager
def process_group(device: str = "auto", timeout_s: float = 1800.0) -> Iterator[Rank]:
    """Join the process group ``torchrun`` describes in the environment, and leave it on exit.

    ``device``: ``"auto"`` (CUDA if available), ``"cuda"`` or ``"cpu"``. On CUDA each process takes GPU
    ``LOCAL_RANK`` and the backend is NCCL; on the CPU it is gloo. A group that is already initialised (by
    the caller) is used as it is and left open.

    Outside torchrun it says how to launch:

    >>> with process_group("cpu") as r:  # doctest: +IGNORE_EXCEPTION_DETAIL
    ...     print(r.rank, r.world_size)
    Traceback (most recent call last):
    ConfigError: distributed training must be launched by torchrun, which sets RANK, …
    """
    if device not in ("auto", "cuda", "cpu"):
        raise ConfigError(f"device must be auto, cuda or cpu for distributed training, got {device!r}")
    cuda = torch.cuda.is_available() if device == "auto" else device == "cuda"
    if cuda and not torch.cuda.is_available():
        raise ConfigError("--device cuda asked for, but no CUDA device is available")
    owned = not dist.is_initialized()
    if owned:
        missing = [k for k in TORCHRUN_ENV if k not in os.environ]
        if missing:
            raise ConfigError(
                f"distributed training must be launched by torchrun, which sets {', '.join(TORCHRUN_ENV)}; "
                f"missing: {', '.join(missing)}. Run e.g.\n  {LAUNCH}"
            )
        rank, world, local = _env_int("RANK"), _env_int("WORLD_SIZE"), _env_int("LOCAL_RANK")
    else:
        rank, world = dist.get_rank(), dist.get_world_size()
        local = _env_int("LOCAL_RANK") if "LOCAL_RANK" in os.environ else rank
    if cuda:
        if local >= torch.cuda.device_count():
            raise ConfigError(
                f"LOCAL_RANK {local} but only {torch.cuda.device_count()} CUDA device(s): "
                "start at most one process per GPU (--nproc_per_node)"
            )
        dev = torch.device("cuda", local)
        torch.cuda.set_device(dev)
    else:
        dev = torch.device("cpu")
    backend = "nccl" if cuda else "gloo"
    if owned:
        dist.init_process_group(
            backend, rank=rank, world_size=world, timeout=datetime.timedelta(seconds=timeout_s)
        )
    else:
        backend = str(dist.get_backend())
    try:
        yield Rank(rank, world, local, dev, backend)
    finally:
        if owned and dist.is_initialized():
            dist.destroy_process_group()


def per_rank_batch(batch_size: int, world_size: int) -> int:
    """Samples each rank takes from a global batch: ``batch_size / world_size``, which must be whole.

    >>> per_rank_batch(256, 4)
    64
    """
    if world_size < 1 or batch_size % world_size:
        raise ConfigError(
            f"batch_size {batch_size} is not divisible by the world size {world_size}: each rank takes "
            f"batch_size / world_size samples of every global batch; choose a batch size that is a multiple "
            f"of {world_size} (or run {world_size} fewer/more processes)"
        )
    return batch_size // world_size


def _sync_batchnorm(model: nn.Module) -> list[tuple[nn.Module, str, nn.Module]]:
    """Swap every BatchNorm for a SyncBatchNorm sharing its parameters; returns what to put back."""
    swapped: list[tuple[nn.Module, str, nn.Module]] = []
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.modules.batchnorm._BatchNorm) and not isinstance(child, nn.SyncBatchNorm):
                sync = nn.SyncBatchNorm.convert_sync_batchnorm(child)
                setattr(parent, name, sync)
                swapped.append((parent, name, child))
    return swapped


def _restore_batchnorm(swapped: list[tuple[nn.Module, str, nn.Module]]) -> None:
    """Put the original BatchNorm modules back, carrying the trained weights and running statistics."""
    for parent, name, original in swapped:
        original.load_state_dict(getattr(parent, name).state_dict())
        setattr(parent, name, original)


def fit_distributed(
    model: SplitModel,
    data: LabeledData,
    recipe: Recipe,
    generator: torch.Generator,
    *,
    sync_bn: bool = False,
    engine: Engine | None = None,
    progress: bool = False,
    desc: str = "train",
) -> FitResult:
    """Train ``model`` in place on ``data`` with DDP over the current process group, like :func:`train.fit`.

    Call it on every rank with the same model initialisation, the same ``data`` (on this rank's device) and
    a ``generator`` seeded identically on every rank: the generator decides the global batches, which must
    agree across ranks. ``recipe.batch_size`` is the *global* batch; each rank computes
    ``batch_size / world_size`` of it (see :func:`per_rank_batch`). Returns ``fit``'s
    :class:`~sure_unlearn.train.FitResult` (``final_loss`` is the global mean of the last epoch). Every rank
    ends with identical parameters and buffers. ``engine`` is ``fit``'s (default automatic: channels-last for
    convolutional models, bf16 autocast on CUDA; ``compile`` compiles the step's forward and loss).
    """
    if not dist.is_initialized():
        raise ConfigError(
            f"fit_distributed needs a process group: call it inside `with process_group():` ({LAUNCH})"
        )
    recipe.validate()
    rank, world = dist.get_rank(), dist.get_world_size()
    per_rank_batch(recipe.batch_size, world)
    device = model_device(model)
    if data.device != device:
        raise DataError(
            f"the data is on {data.device} but the model on {device}; move both to this rank's device"
        )
    if sync_bn and device.type != "cuda":
        raise ConfigError(
            "sync_bn needs CUDA (nn.SyncBatchNorm has no CPU kernels); use per-rank BatchNorm on the CPU"
        )
    eng = (engine or Engine()).ready(model)  # before DDP: every rank registers the same parameter layout
    swapped = _sync_batchnorm(model) if sync_bn else []
    ddp = DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None, gradient_as_bucket_view=True
    )
    opt = make_optimizer(
        model.parameters(), recipe.lr, recipe.momentum, recipe.weight_decay, recipe.nesterov, device
    )
    steps_per_epoch = math.ceil(len(data) / recipe.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(recipe, steps_per_epoch * recipe.epochs))
    data = data if recipe.augment else data.with_augment(NO_AUGMENT)
    smoothing = recipe.label_smoothing

    def summed_loss(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(net(x), y, reduction="sum", label_smoothing=smoothing)

    step_loss = eng.compiled(summed_loss)
    ddp.train()
    start = time.perf_counter()
    last = float("nan")
    try:
        with bar(recipe.epochs, desc, progress and rank == 0) as pbar:
            for _epoch in range(recipe.epochs):
                total = torch.zeros((), device=device)  # this rank's share of Σ_steps (global mean loss)
                for x, y in data.batches(recipe.batch_size, generator):  # the same global batch on every rank
                    x_r, y_r = x[rank::world], y[rank::world]
                    # L_r = Σ_{i ∈ shard} ℓ_i / B_t; backward on W·L_r, since DDP divides the summed gradient by W
                    with eng.autocast():
                        share = step_loss(ddp, eng.inputs(x_r), y_r) / len(x)
                    opt.zero_grad(set_to_none=True)
                    (share * world).backward()
                    opt.step()
                    sched.step()
                    total += share.detach()
                dist.all_reduce(total)  # Σ_r shares = the global mean loss, summed over steps
                last = float(total) / max(steps_per_epoch, 1)  # one host sync per epoch
                pbar.update()
                pbar.set_postfix_str(f"loss {last:.3f}")
        for buf in model.buffers():  # BatchNorm running statistics: rank 0's, everywhere
            dist.broadcast(buf, 0)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - start
    finally:
        del ddp  # drop DDP's gradient hooks: the model trains normally afterwards
        _restore_batchnorm(swapped)
    return FitResult(seconds, recipe.epochs, seconds / max(recipe.epochs, 1), last)


def save_on_main(path: str | Path, model: nn.Module, meta: dict[str, Any]) -> None:
    """Rank 0 writes the checkpoint (atomically); every rank waits until it is on disk."""
    if not dist.is_initialized() or dist.get_rank() == 0:
        save_checkpoint(path, model, meta)
    if dist.is_initialized():
        dist.barrier()


def model_key(bench: Benchmark, seed: int, train_idx: np.ndarray, labels: np.ndarray) -> str:
    """The model-cache key ``Benchmark.trained`` uses for a model of ``bench``'s config trained on ``train_idx``."""
    return bench.models.key(seed, train_idx, labels)


# ------------------------------------------------------------------------------------------ the job
@dataclass(frozen=True)
class ReferenceJob:
    """What :func:`train_ddp` trains: the config's ``kinds`` (original, retrain or both) for ``seed``, on the
    split of the config's first scenario; ``out`` also saves a ``sure train``-style checkpoint (``{kind}`` in
    it is replaced by the kind)."""

    kinds: tuple[str, ...] = ("original",)
    seed: int = 0
    sync_bn: bool = False  # BatchNorm statistics over the global batch (CUDA)
    compile: bool = False  # torch.compile the training step
    force: bool = False  # train even if the cache already holds the model
    out: str | None = None

    def __post_init__(self) -> None:
        bad = sorted(set(self.kinds) - set(KINDS))
        if bad or not self.kinds:
            raise ConfigError(
                f"--kind must be {' or '.join(KINDS)} or both (comma-separated), got {','.join(self.kinds)!r}"
            )
        if self.out and len(self.kinds) > 1 and "{kind}" not in self.out:
            raise ConfigError(
                f"--out {self.out!r} names one file for {len(self.kinds)} kinds; put {{kind}} in it, e.g. runs/{{kind}}.pt"
            )


def _log(r: Rank, msg: str) -> None:
    if r.is_main:
        print(msg, file=sys.stderr, flush=True)


def train_references(
    cfg: BenchmarkConfig,
    job: ReferenceJob,
    r: Rank,
    *,
    data_root: str | Path | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """Train (or find cached) each of ``job.kinds`` for ``cfg`` on this rank; the metas, as saved."""
    from sure_unlearn.protocol.benchmark import ORIGINAL, Benchmark
    from sure_unlearn.protocol.references import seeded_generator, trained_meta

    scenario = next(iter(cfg.scenarios))
    if r.rank != 0:
        dist.barrier()  # rank 0 decodes (and caches) the dataset first; the others then read the cache
    bench = Benchmark(cfg, cache_dir or ".", device=r.device, data_root=data_root, cache_dir=cache_dir)
    if r.rank == 0:
        dist.barrier()
    cfg.check_data(bench.data)
    prep = bench.prepare(scenario, job.seed)
    split = prep.split
    metas = []
    for kind in job.kinds:
        train_idx, data = (
            (split.train, prep.train_sets["train"])
            if kind == ORIGINAL
            else (split.retain, prep.train_sets["retain"])
        )
        key = model_key(bench, job.seed, train_idx, split.labels)
        path = bench.models.cache.path(kind, key)
        cached = torch.tensor([path.exists() and not job.force], dtype=torch.int32, device=r.device)
        dist.broadcast(cached, 0)  # rank 0's file system decides
        model = bench.new_model(job.seed)
        if bool(cached.item()):
            meta = bench.models.cache.load(kind, key, model)
            if meta is None:
                raise SureError(f"the cached {kind} at {path} could not be read; rerun with --force")
            _log(r, f"{kind}: already cached at {path}")
        else:
            _log(
                r,
                f"{kind}: training on {len(train_idx)} samples, {cfg.recipe.epochs} epochs, {r.world_size} "
                f"processes × {per_rank_batch(cfg.recipe.batch_size, r.world_size)} ({r.backend})",
            )
            res = fit_distributed(
                model,
                data,
                cfg.recipe,
                seeded_generator(r.device, "train", job.seed),
                sync_bn=job.sync_bn,
                engine=dataclasses.replace(cfg.engine or Engine(), compile=job.compile),
                progress=progress,
                desc=kind,
            )
            meta = {
                **trained_meta(kind, key, res, r.device),
                "world_size": r.world_size,
                "backend": r.backend,
                "sync_bn": job.sync_bn,
                "per_rank_batch": cfg.recipe.batch_size // r.world_size,
            }
            if r.device.type == "cuda":
                meta["gpu"] = torch.cuda.get_device_name(r.device)
            save_on_main(path, model, meta)
            _log(r, f"{kind}: saved {path}")
        if job.out:
            out = Path(job.out.replace("{kind}", kind))
            full = {
                **meta,
                "dataset": cfg.dataset,
                "dataset_kwargs": cfg.dataset_kwargs,
                "model": cfg.model,
                "model_kwargs": cfg.model_kwargs,
                "spec": bench.models.spec.__dict__,
                "recipe": cfg.recipe.__dict__,
                "seed": job.seed,
                "scenario": scenario,
                "train_idx": train_idx.tolist(),
                "holdout_idx": split.holdout.tolist(),
            }
            save_on_main(out, model, full)
            _log(r, f"{kind}: also saved {out}")
        metas.append(meta)
    return metas


def train_ddp(
    cfg: BenchmarkConfig,
    job: ReferenceJob,
    *,
    device: str = "auto",
    data_root: str | Path | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = False,
) -> list[dict[str, Any]] | None:
    """Join the group ``torchrun`` started (:func:`process_group`), train ``job`` and leave: the metas of
    what was trained or found cached on rank 0, None on the other ranks. ``sure train-ddp`` calls it."""
    with process_group(device) as r:
        metas = train_references(cfg, job, r, data_root=data_root, cache_dir=cache_dir, progress=progress)
        return metas if r.is_main else None
