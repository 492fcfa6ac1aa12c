"""Checkpoints load safely, fail clearly when missing or corrupt, and the cache keys on content."""

import numpy as np
import pytest
import torch

from sure_unlearn.errors import CheckpointError
from sure_unlearn.files import content_key
from sure_unlearn.protocol.checkpoints import ModelCache, load_checkpoint, load_into, save_checkpoint


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
