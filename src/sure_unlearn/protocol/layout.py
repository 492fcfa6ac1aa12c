"""Where results live, and the names of the reference runs: one place for every reader and writer.

    DIR/summary.json, summary.md, config.json, <plots>.png
    DIR/<scenario>/seed<k>/split.npz                        every index set of the split
    DIR/<scenario>/<method>/seed<k>/run.json                one run (see :class:`~sure_unlearn.protocol.runs.Run`)
    DIR/<scenario>/<method>/seed<k>/{cka.json, embed.npz, attacks.npz, features.npz}

Reference runs sit beside the methods under reserved names: ``original`` (the model before unlearning),
``retrain`` (the oracle, retrained without the forget set) and ``broken`` (a degenerate model: the
original with a freshly initialised head, which unlearning must beat).
"""

from __future__ import annotations

from pathlib import Path

ORIGINAL, ORACLE, BROKEN = "original", "retrain", "broken"
REFERENCES = (ORIGINAL, ORACLE, BROKEN)

SUMMARY_JSON, SUMMARY_MD, CONFIG_JSON = "summary.json", "summary.md", "config.json"
RUN_JSON, CKA_JSON, EMBED_NPZ, ATTACKS_NPZ, FEATURES_NPZ = (
    "run.json",
    "cka.json",
    "embed.npz",
    "attacks.npz",
    "features.npz",
)
SPLIT_NPZ = "split.npz"


def run_dir(out: Path, scenario: str, method: str, seed: int) -> Path:
    """``DIR/<scenario>/<method>/seed<k>``: a run's ``run.json`` and its per-run files."""
    return Path(out) / scenario / method / f"seed{seed}"


def split_path(out: Path, scenario: str, seed: int) -> Path:
    return Path(out) / scenario / f"seed{seed}" / SPLIT_NPZ


def is_reference(method: str) -> bool:
    return method in REFERENCES
