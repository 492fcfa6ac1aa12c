"""Checkpoints load safely, fail clearly when missing or corrupt (a SHA-256 of their content catches what
``torch.load`` does not), and the cache keys on content and retrains what is corrupt."""

import dataclasses
import json
import sys
import warnings

import numpy as np
import pytest
import torch

from sure_unlearn.errors import CheckpointError
from sure_unlearn.files import content_key
from sure_unlearn.protocol import references as refs_mod
from sure_unlearn.protocol.benchmark import Benchmark
from sure_unlearn.protocol.checkpoints import ModelCache, load_checkpoint, load_into, save_checkpoint
from sure_unlearn.protocol.presets import PRESETS


def net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))


def test_round_trip(tmp_path):
    a, b = net(), torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    save_checkpoint(tmp_path / "m.pt", a, {"train_idx": np.arange(3), "note": "x"})
    state, meta = load_checkpoint(tmp_path / "m.pt")
    load_into(b, state)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert meta["note"] == "x" and meta["train_idx"]["n"] == 3  # arrays stored by hash


def test_missing_and_corrupt_checkpoints(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "absent.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(bad)


def test_checkpoint_with_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {}, "meta": Evil()}, path)
    with pytest.raises(CheckpointError):  # weights_only=True never runs the payload
        load_checkpoint(path)


def test_wrong_architecture_is_a_clear_error(tmp_path):
    save_checkpoint(tmp_path / "m.pt", net(), {})
    state, _ = load_checkpoint(tmp_path / "m.pt")
    with pytest.raises(CheckpointError, match="does not fit"):
        load_into(torch.nn.Linear(3, 2), state)


def test_cache_recovers_from_a_corrupt_entry(tmp_path):
    cache = ModelCache(tmp_path)
    cache.save("original", "k", net(), {"train_s": 1.0})
    assert cache.load("original", "k", net())["train_s"] == 1.0
    cache.path("original", "k").write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="trained again"):
        assert cache.load("original", "k", net()) is None
    assert not cache.path("original", "k").exists()


def test_content_key_depends_on_array_content():
    assert content_key(x=np.arange(4)) != content_key(x=np.arange(1, 5))
    assert content_key(x=np.arange(4)) == content_key(x=np.arange(4))


def test_content_key_takes_zero_dimensional_arrays_like_batchnorm_counters():
    # a BatchNorm state dict holds 0-d num_batches_tracked: the key must hash it by value
    assert content_key(x=np.array(3)) == content_key(x=np.array(3)) != content_key(x=np.array(4))


# ------------------------------------------------------------------ corruption torch.load does not see


def flip_bit_in_tensor(path, tensor):
    """Flip one bit in the middle of ``tensor``'s bytes inside the checkpoint file (the zip stays valid)."""
    blob = bytearray(path.read_bytes())
    data = tensor.detach().cpu().contiguous().numpy().tobytes()
    at = blob.find(data)
    assert at >= 0 and blob.find(data, at + 1) < 0
    blob[at + len(data) // 2] ^= 0x10
    path.write_bytes(bytes(blob))


def overwrite_two_thirds_in(path, tensor):
    """64 bytes of 0x7f at two thirds of the file, where a cache's largest model keeps its weights."""
    blob = bytearray(path.read_bytes())
    at = len(blob) * 2 // 3
    blob[at : at + 64] = b"\x7f" * 64
    path.write_bytes(bytes(blob))


@pytest.mark.parametrize("corrupt", [flip_bit_in_tensor, overwrite_two_thirds_in])
def test_sha256_catches_corruption_that_torch_load_accepts(tmp_path, corrupt):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 2))
    path = tmp_path / "m.pt"
    save_checkpoint(path, model, {"note": "x"})
    corrupt(path, model[0].weight)
    loaded = torch.load(path, map_location="cpu", weights_only=True)  # torch reads it without complaint...
    assert not torch.equal(loaded["state_dict"]["0.weight"], model[0].weight.detach())  # ...wrong weights
    with pytest.raises(CheckpointError, match=r"m\.pt is corrupt: .*SHA-256"):
        load_checkpoint(path)


def test_sha256_covers_the_meta(tmp_path):
    path = tmp_path / "m.pt"
    save_checkpoint(path, net(), {"train_idx": np.arange(5)})
    payload = torch.load(path, weights_only=True)
    payload["meta"] = payload["meta"].replace('"n": 5', '"n": 4')
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_checkpoint(path)


def test_cache_entry_without_a_digest_is_trusted_on_first_use_then_checked(tmp_path):
    cache, model = ModelCache(tmp_path), net()
    path = cache.path("original", "k")
    state = {k: v.detach() for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "meta": json.dumps({"train_s": 2.0})}, path)  # as written before digests
    fresh = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cache.load("original", "k", fresh) == {"train_s": 2.0}  # usable, not discarded
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), fresh.parameters(), strict=True))
    assert "sha256" in torch.load(path, weights_only=True)  # the digest was recorded
    flip_bit_in_tensor(path, model[0].weight)
    with pytest.warns(UserWarning, match=f"{path.name} is corrupt.*trained again"):
        assert cache.load("original", "k", net()) is None
    assert not path.exists()


def test_benchmark_retrains_a_corrupted_cached_model_and_matches_a_clean_run(tmp_path, monkeypatch):
    cfg = PRESETS.get("smoke")()
    cfg = cfg.with_overrides(methods=("finetune",), recipe=dataclasses.replace(cfg.recipe, epochs=1))
    bench = Benchmark(cfg, tmp_path / "out", cache_dir=tmp_path / "cache")
    prep = bench.prepare("partial_class", 0)
    args = ("original", 0, prep.split.train, prep.split.labels, prep.train_sets["train"])
    clean, _ = bench.trained(*args)
    path = bench.models.cache.path("original", bench.models.key(0, prep.split.train, prep.split.labels))
    biggest = max(clean.state_dict().values(), key=lambda t: t.numel())
    flip_bit_in_tensor(path, biggest)

    fits = []
    real_fit = refs_mod.fit
    monkeypatch.setattr(refs_mod, "fit", lambda *a, **k: fits.append(1) or real_fit(*a, **k))
    with pytest.warns(UserWarning, match=f"{path.name} is corrupt.*trained again"):
        again, _ = bench.trained(*args)
    assert fits == [1]  # detected and trained again, never used
    for (name, p), q in zip(clean.state_dict().items(), again.state_dict().values(), strict=True):
        assert torch.equal(p, q), name  # the same model as the clean run
    bench.trained(*args)  # the rebuilt entry is served from the cache and passes its check
    assert fits == [1]


# ------------------------------------------------------------------ formats: .pt and .safetensors


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_round_trip_in_both_formats(tmp_path, suffix):
    if suffix == ".safetensors":
        pytest.importorskip("safetensors")
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))  # a 0-d counter too
    model(torch.randn(5, 3))  # running statistics that differ from a fresh model's
    path = tmp_path / f"m{suffix}"
    save_checkpoint(path, model, {"train_idx": [1, 2, 3], "note": "x"})
    state, meta = load_checkpoint(path)
    assert meta == {"train_idx": [1, 2, 3], "note": "x"}
    fresh = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    load_into(fresh, state)
    for (name, p), q in zip(model.state_dict().items(), fresh.state_dict().values(), strict=True):
        assert torch.equal(p, q), name
    header = path.read_bytes()[:16]
    assert header.startswith(b"PK") == (suffix == ".pt")  # torch.save's zip, or safetensors' own layout


def test_a_safetensors_checkpoint_records_the_meta_and_sha256_and_a_flipped_bit_is_caught(tmp_path):
    safetensors = pytest.importorskip("safetensors")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 2))
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, model, {"note": "x"})
    with safetensors.safe_open(path, framework="pt") as f:
        info = f.metadata()
    assert json.loads(info["meta"]) == {"note": "x"} and len(info["sha256"]) == 64
    flip_bit_in_tensor(path, model[0].weight)
    with safetensors.safe_open(path, framework="pt") as f:  # safetensors itself reads it without complaint
        assert not torch.equal(f.get_tensor("0.weight"), model[0].weight.detach())
    with pytest.raises(CheckpointError, match=r"m\.safetensors is corrupt: .*SHA-256"):
        load_checkpoint(path)


def test_a_foreign_or_truncated_safetensors_file_is_a_clear_error(tmp_path):
    st = pytest.importorskip("safetensors.torch")
    foreign = tmp_path / "weights.safetensors"
    st.save_file({"w": torch.zeros(2)}, foreign)  # someone else's weights: no sure meta
    with pytest.raises(CheckpointError, match="not a sure checkpoint"):
        load_checkpoint(foreign)
    save_checkpoint(tmp_path / "cut.safetensors", net(), {})
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(cut.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(cut)


def test_safetensors_without_the_package_says_what_to_install_before_training(tmp_path, monkeypatch, capsys):
    from sure_unlearn import cli

    monkeypatch.setitem(sys.modules, "safetensors", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "safetensors.torch", None)
    with pytest.raises(CheckpointError, match="pip install safetensors"):
        save_checkpoint(tmp_path / "m.safetensors", net(), {})
    save_checkpoint(tmp_path / "m.pt", net(), {})  # .pt needs nothing more
    monkeypatch.setattr("sure_unlearn.train.fit", lambda *a, **k: pytest.fail("trained before the check"))
    code = cli.main(
        ["train", "--preset", "smoke", "--out", str(tmp_path / "o.safetensors"), "--device", "cpu"]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "pip install safetensors" in err, err
