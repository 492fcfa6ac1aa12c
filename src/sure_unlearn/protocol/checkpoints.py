"""Model files: safe to load, atomic to write, and a content-keyed cache for originals and oracles.

A checkpoint is ``{"state_dict": ..., "meta": <json string>}`` written with ``torch.save`` and read with
``torch.load(..., weights_only=True)``, which never unpickles code. The cache stores a model under the hash
of everything that determines it (dataset, model, recipe, training indices, labels, seed), so an original
or oracle is trained once and reused by every method, run and report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sure_unlearn.errors import CheckpointError
from sure_unlearn.files import _jsonable, atomic_write_bytes


def save_checkpoint(path: str | Path, model: nn.Module, meta: dict[str, Any]) -> None:
    """Write ``model``'s state dict and JSON ``meta`` atomically."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    payload = {"state_dict": state, "meta": json.dumps(_jsonable(meta))}
    atomic_write_bytes(Path(path), lambda f: torch.save(payload, f))


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a checkpoint safely; a missing or corrupt file raises :class:`CheckpointError`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}; train one with `sure train --out {path}`")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        state, meta = payload["state_dict"], json.loads(payload["meta"])
    except Exception as e:  # noqa: BLE001 - any failure to parse means the file is unusable
        raise CheckpointError(
            f"checkpoint {path} is corrupt or not a sure checkpoint ({type(e).__name__}: {e}); "
            "delete it and train again"
        ) from None
    if not isinstance(state, dict) or not isinstance(meta, dict):
        raise CheckpointError(f"checkpoint {path} does not hold a state_dict and meta")
    return state, meta


def load_into(model: nn.Module, state: dict[str, torch.Tensor], source: str = "checkpoint") -> None:
    """Load weights, turning a shape or key mismatch into a :class:`CheckpointError`."""
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise CheckpointError(f"{source} does not fit this model: {str(e).splitlines()[0]}") from None


class ModelCache:
    """Models on disk under content keys: ``<root>/<kind>-<key>.pt``."""

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
            state, meta = load_checkpoint(path)
            load_into(model, state, str(path))
        except CheckpointError as e:
            import warnings

            warnings.warn(f"ignoring a bad cached model ({e}); it will be trained again", stacklevel=2)
            path.unlink(missing_ok=True)
            return None
        return meta

    def save(self, kind: str, key: str, model: nn.Module, meta: dict[str, Any]) -> None:
        save_checkpoint(self.path(kind, key), model, meta)
