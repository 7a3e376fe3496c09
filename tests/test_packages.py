"""Our top-level packages come from this repository: `nlp` and `alerts` are also names of unrelated
PyPI packages that must never shadow ours."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["haidang", "crawlers", "nlp", "alerts"])
def test_package_is_ours(name: str):
    module = importlib.import_module(name)
    assert Path(module.__file__).resolve().parent == REPO / name
