"""The package stays lint-clean and formatted (ruff) and type-clean (mypy, the settings in pyproject.toml).

Both tools come with the ``dev`` extra that ``scripts/setup.sh`` installs; without them the checks skip.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install -e '.[dev]')")
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_ruff_finds_nothing():
    done = _run("ruff", "check", "src", "tests", "benchmarks")
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_format_changes_nothing():
    done = _run("ruff", "format", "--check", "src", "tests", "benchmarks")
    assert done.returncode == 0, "run `ruff format src tests benchmarks`:\n" + done.stdout + done.stderr


def test_mypy_finds_nothing():
    done = _run("mypy", "src")
    assert done.returncode == 0, done.stdout + done.stderr
