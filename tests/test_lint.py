"""The style guide's checks: `ruff check .` and `mypy` (configured in pyproject.toml) pass on the repository."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec(tool) is None:
        pytest.skip(f"{tool} is not installed (pip install -e '.[test]')")
    return subprocess.run([sys.executable, "-m", tool, *args], check=False, cwd=REPO, capture_output=True,
                          text=True, timeout=600)


def test_ruff_check_passes():
    result = _run("ruff", "check", ".")
    assert result.returncode == 0, f"ruff check . failed:\n{result.stdout}{result.stderr}"


@pytest.mark.timeout(600)
def test_mypy_passes():
    result = _run("mypy")   # files and options from [tool.mypy] in pyproject.toml
    assert result.returncode == 0, f"mypy failed:\n{result.stdout}{result.stderr}"
