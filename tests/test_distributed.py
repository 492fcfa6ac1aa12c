"""DDP training (``sure_unlearn.protocol.distributed``) over two CPU processes with gloo.

One spawn of two ranks does all the distributed work (starting processes is the expensive part); each rank
writes what it trained to ``tmp_path`` and the checks run here, in the parent:

(a) both ranks end with identical parameters and buffers (also with BatchNorm);
(b) 2 ranks × half the batch give the single-process full-batch result for an MLP (no BatchNorm), with
    augmentation on: the averaged gradient is the full-batch gradient — and differ from training with the
    half batch, so the check can tell;
(c) ``sure train-ddp`` puts the smoke preset's original into the model cache under the key ``Benchmark.trained``
    looks up, so the benchmark loads it instead of training.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from helpers import flat

from sure_unlearn.data import load_dataset
from sure_unlearn.data.types import Augment, LabeledData
from sure_unlearn.errors import ConfigError
from sure_unlearn.models import ModelSpec, build_model
from sure_unlearn.protocol.checkpoints import load_checkpoint
from sure_unlearn.train import Recipe, fit

RECIPE = Recipe(epochs=3, lr=0.1, batch_size=32, schedule="cosine", warmup=0.1, label_smoothing=0.1)
SPEC = ModelSpec(num_classes=4, in_channels=3, image_size=8, mean=(0.5,) * 3, std=(0.25,) * 3)


def train_data() -> LabeledData:
    """150 synthetic 8×8 images (the last global batch of 32 is a partial one of 22), crop+flip on."""
    b = load_dataset("synthetic", n_train=150, n_test=0, num_classes=4, image_size=8, seed=3)
    return LabeledData.from_arrays(b.train, augment=Augment(pad=1, flip=True))


def new_model(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(name, SPEC, **({"hidden": 32} if name == "mlp" else {"width": 4}))


def worker(rank: int, world: int, port: int, tmp: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
        SURE_CACHE=str(Path(tmp) / "cache"),
    )
    torch.set_num_threads(1)
    from sure_unlearn.cli import main
    from sure_unlearn.protocol.distributed import fit_distributed, process_group

    with process_group("cpu") as r:
        assert (r.rank, r.world_size, r.backend) == (rank, world, "gloo")
        for name in ("mlp", "small_cnn"):
            model = new_model(name)
            res = fit_distributed(model, train_data(), RECIPE, torch.Generator().manual_seed(7))
            torch.save({"state": model.state_dict(), "loss": res.final_loss}, Path(tmp) / f"{name}{rank}.pt")
        # the DDP hooks are gone: the trained model takes a plain step without waiting for the other rank
        if rank == 1:
            model(torch.rand(2, 3, 8, 8)).sum().backward()
        try:
            fit_distributed(new_model("mlp"), train_data(), Recipe(batch_size=33), torch.Generator())
        except ConfigError as e:
            (Path(tmp) / f"odd{rank}.txt").write_text(str(e))
        # (c) the command, inside the group that is already open
        argv = [
            "train-ddp",
            "--preset",
            "smoke",
            "--kind",
            "original",
            "--seed",
            "0",
            "--device",
            "cpu",
            "--no-progress",
        ]
        code = main([*argv, "--out", str(Path(tmp) / "original.pt")])
        assert code == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("ddp")
    mp.spawn(worker, args=(2, free_port(), str(tmp)), nprocs=2, join=True)
    return tmp


def test_ranks_agree(ran: Path) -> None:
    for name in ("mlp", "small_cnn"):  # small_cnn: per-rank BatchNorm, buffers broadcast from rank 0
        s0, s1 = (torch.load(ran / f"{name}{k}.pt")["state"] for k in (0, 1))
        assert all(torch.equal(s0[k], s1[k]) for k in s0), name
        assert not torch.equal(s0["head.weight"], new_model(name).state_dict()["head.weight"])  # it trained


def test_two_ranks_equal_full_batch(ran: Path) -> None:
    got = torch.load(ran / "mlp0.pt")
    ddp = new_model("mlp")
    ddp.load_state_dict(got["state"])

    single = new_model("mlp")
    res = fit(single, train_data(), RECIPE, torch.Generator().manual_seed(7))
    diff = (flat(ddp) - flat(single)).abs().max().item()
    assert diff < 1e-5, diff
    assert got["loss"] == pytest.approx(res.final_loss, rel=1e-5)

    # what each rank would reach alone on its half batch is clearly different: the test can tell
    half = new_model("mlp")
    fit(half, train_data(), Recipe(**{**RECIPE.__dict__, "batch_size": 16}), torch.Generator().manual_seed(7))
    assert (flat(half) - flat(single)).abs().max().item() > 100 * max(diff, 1e-7)


def test_indivisible_batch_is_refused(ran: Path) -> None:
    for k in (0, 1):
        assert "not divisible by the world size 2" in (ran / f"odd{k}.txt").read_text()


def test_command_fills_the_benchmark_cache(ran: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sure_unlearn.models.base import SplitModel
    from sure_unlearn.protocol.benchmark import ORIGINAL, Benchmark
    from sure_unlearn.protocol.checkpoints import weights_digest
    from sure_unlearn.protocol.presets import PRESETS

    state, meta = load_checkpoint(ran / "original.pt")
    assert meta["world_size"] == 2 and meta["epochs"] == 4 and meta["train_s"] > 0
    assert meta["seconds_per_epoch"] == pytest.approx(meta["train_s"] / 4)

    bench = Benchmark(PRESETS.get("smoke")(), ran / "bench", cache_dir=ran / "cache")
    prep = bench.prepare("partial_class", 0)
    monkeypatch.setattr(
        "sure_unlearn.protocol.references.fit", lambda *a, **k: pytest.fail("trained instead of cached")
    )
    model, cached = bench.trained(ORIGINAL, 0, prep.split.train, prep.split.labels, prep.train_sets["train"])
    # the cache's meta is the file's, plus the digest of the weights it holds
    assert {k: v for k, v in cached.items() if k != "weights"} == {
        k: meta[k] for k in cached if k != "weights"
    }
    assert cached["weights"] == weights_digest(model) and cached["world_size"] == 2
    assert isinstance(model, SplitModel)
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    assert sorted(meta["train_idx"]) == sorted(prep.split.train.tolist())


def test_not_under_torchrun(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from sure_unlearn.cli import main
    from sure_unlearn.protocol.distributed import process_group

    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(k, raising=False)
    with pytest.raises(ConfigError, match="launched by torchrun.*missing: RANK"), process_group("cpu"):
        pass
    monkeypatch.setenv("SURE_CACHE", str(tmp_path))
    assert main(["train-ddp", "--preset", "smoke", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert (
        "launched by torchrun" in err and "sure_unlearn.cli train-ddp" in err and len(err.splitlines()) == 1
    )


def test_fit_distributed_needs_a_group() -> None:
    from sure_unlearn.protocol.distributed import fit_distributed

    with pytest.raises(ConfigError, match="process group"):
        fit_distributed(new_model("mlp"), train_data(), RECIPE, torch.Generator())


def test_per_rank_batch() -> None:
    from sure_unlearn.protocol.distributed import per_rank_batch

    assert per_rank_batch(128, 4) == 32
    with pytest.raises(ConfigError, match="multiple of 3"):
        per_rank_batch(128, 3)
