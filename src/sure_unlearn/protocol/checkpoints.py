"""Model files: safe to load, atomic to write, checked for corruption, and a content-keyed cache.

A checkpoint is ``{"state_dict": ..., "meta": <json string>, "sha256": <hex>}`` written with ``torch.save``
and read with ``torch.load(..., weights_only=True)``, which never unpickles code. A path ending in
``.safetensors`` is written in that format instead (the ``safetensors`` package): the tensors, with the
meta JSON and the same SHA-256 in the file's string metadata; it holds no code at all. The cache stores a model
under the hash of everything that determines it (dataset, model, recipe, training indices, labels, seed),
so an original or oracle is trained once and reused by every method, run and report.

Integrity. ``sha256`` is :func:`content_digest` of what the file holds: every tensor's name, dtype, shape
and bytes, then the meta JSON. It is recomputed from the tensors as loaded, so a flipped bit anywhere in
the weights (or in the meta, or in the record that says where the weights lie) is a mismatch, even when
the file is still a valid zip that ``torch.load`` reads without complaint (it does not check the zip's
CRCs). The digest lives inside the file, rather than in a sidecar hashing the file's bytes, so one
atomic write keeps the two consistent, every writer (the cache, ``sure train``, the DDP trainer) records
it, and a checkpoint that travels to another machine stays checkable. Files written before the digest
existed load unchecked; the cache records their digest on first use.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sure_unlearn.errors import CheckpointError
from sure_unlearn.files import _jsonable, atomic_write_bytes

State = dict[str, torch.Tensor]


def content_digest(state: Mapping[str, torch.Tensor], meta_json: str) -> str:
    """SHA-256 of a checkpoint's content: each tensor's name, dtype, shape and bytes (by name), then meta.

    >>> a = {"w": torch.zeros(2, 3)}
    >>> content_digest(a, "{}") == content_digest({"w": torch.zeros(2, 3)}, "{}")
    True
    >>> content_digest(a, "{}") == content_digest({"w": torch.zeros(3, 2)}, "{}")
    False
    """
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        h.update(f"{name}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().data)
    h.update(meta_json.encode())
    return h.hexdigest()


def weights_digest(model: nn.Module) -> str:
    """The first 16 hex digits of the SHA-256 of ``model``'s weights alone (:func:`content_digest` without
    meta): equal exactly when two models hold the same bits, whatever their training took or recorded.

    >>> a, b = nn.Linear(2, 1), nn.Linear(2, 1)
    >>> _ = b.load_state_dict(a.state_dict())
    >>> weights_digest(a) == weights_digest(b)
    True
    """
    return content_digest(model.state_dict(), "")[:16]


SAFETENSORS = ".safetensors"


def _safetensors(path: Path) -> Any:
    """``safetensors.torch``, or a one-line error saying how to get it."""
    try:
        import safetensors.torch
    except ImportError:
        raise CheckpointError(
            f"{path} is a .safetensors file and the safetensors package is not installed: "
            "pip install safetensors (or name the file .pt)"
        ) from None
    return safetensors.torch


def check_format(path: str | Path) -> None:
    """Fail now, before any training, if the checkpoint format ``path`` names cannot be written here."""
    if Path(path).suffix == SAFETENSORS:
        _safetensors(Path(path))


def _write(path: Path, state: State, meta_json: str) -> None:
    digest = content_digest(state, meta_json)
    if path.suffix == SAFETENSORS:  # safetensors refuses views and shared storage: write plain copies
        plain = {k: v.contiguous().clone() for k, v in state.items()}
        blob = _safetensors(path).save(plain, metadata={"meta": meta_json, "sha256": digest})
        atomic_write_bytes(path, lambda f: f.write(blob))
        return
    payload = {"state_dict": state, "meta": meta_json, "sha256": digest}
    atomic_write_bytes(path, lambda f: torch.save(payload, f))


def _payload(path: Path) -> tuple[Any, Any, Any]:
    """The stored state dict, meta JSON and recorded digest (None for files written before digests)."""
    if path.suffix == SAFETENSORS:
        with _safetensors(path).safe_open(path, framework="pt") as f:
            info = f.metadata() or {}
            return {k: f.get_tensor(k) for k in list(f.keys())}, info["meta"], info["sha256"]
    payload = torch.load(path, map_location="cpu", weights_only=True)
    return payload["state_dict"], payload["meta"], payload.get("sha256")


def _read(path: Path) -> tuple[State, dict[str, Any], bool]:
    """State, meta and whether the file recorded a digest (which then matched)."""
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}; train one with `sure train --out {path}`")
    check_format(path)
    try:
        state, meta_json, recorded = _payload(path)
        meta = json.loads(meta_json)
    except Exception as e:  # noqa: BLE001 - any failure to parse means the file is unusable
        raise CheckpointError(
            f"checkpoint {path} is corrupt or not a sure checkpoint ({type(e).__name__}: {e}); "
            "delete it and train again"
        ) from None
    tensors = isinstance(state, dict) and all(isinstance(v, torch.Tensor) for v in state.values())
    if not tensors or not isinstance(meta, dict):
        raise CheckpointError(f"checkpoint {path} does not hold a state_dict and meta")
    if recorded is not None and recorded != content_digest(state, meta_json):
        raise CheckpointError(
            f"checkpoint {path} is corrupt: its weights or meta no longer match the SHA-256 recorded when "
            "it was written; delete it and train again"
        )
    return state, meta, recorded is not None


def save_checkpoint(path: str | Path, model: nn.Module, meta: dict[str, Any]) -> None:
    """Write ``model``'s state dict, JSON ``meta`` and their SHA-256 atomically: with safetensors when
    ``path`` ends in ``.safetensors``, else with ``torch.save``."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    _write(Path(path), state, json.dumps(_jsonable(meta)))


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a checkpoint safely and check its SHA-256; a missing or corrupt file raises CheckpointError."""
    state, meta, _ = _read(Path(path))
    return state, meta


def load_into(model: nn.Module, state: dict[str, torch.Tensor], source: str = "checkpoint") -> None:
    """Load weights, turning a shape or key mismatch into a :class:`CheckpointError`."""
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise CheckpointError(f"{source} does not fit this model: {str(e).splitlines()[0]}") from None


class ModelCache:
    """Models on disk under content keys: ``<root>/<kind>-<key>.pt``, each checked against its SHA-256.

    A cached model whose content no longer matches its digest is reported (a warning naming the file),
    deleted and reported as absent, so the caller trains it again: it is never used. A model cached
    before digests existed is trusted on first use and its digest recorded then.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, kind: str, key: str) -> Path:
        return self.root / f"{kind}-{key}.pt"

    def load(self, kind: str, key: str, model: nn.Module) -> dict[str, Any] | None:
        """Fill ``model`` from the cache and return its meta; None when absent or unusable."""
        path = self.path(kind, key)
        if not path.exists():
            return None
        try:
            state, meta, checked = _read(path)
            load_into(model, state, str(path))
        except CheckpointError as e:
            warnings.warn(f"ignoring a bad cached model ({e}); it will be trained again", stacklevel=2)
            path.unlink(missing_ok=True)
            return None
        if not checked:
            try:  # trust on first use: record the digest of what was just loaded
                _write(path, state, json.dumps(meta))
            except OSError as e:
                warnings.warn(f"could not record the SHA-256 of {path}: {e}", stacklevel=2)
        return meta

    def save(self, kind: str, key: str, model: nn.Module, meta: dict[str, Any]) -> None:
        save_checkpoint(self.path(kind, key), model, meta)
