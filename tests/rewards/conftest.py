"""Fixtures for the rewards tests: the sample plugin, and fake installed distributions whose
``grpokit`` entry points are discovered through importlib.metadata like any pip install."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
sys.path.insert(0, str(FIXTURES))


def make_distribution(root: Path, dist: str, entry_points: dict[str, str]) -> Path:
    """Write a minimal ``.dist-info`` with ``grpokit`` entry points under ``root``."""
    info = root / f"{dist}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    lines = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[grpokit]\n{lines}\n")
    return root


@pytest.fixture
def installed_plugins(tmp_path, monkeypatch):
    """Install (on sys.path and PYTHONPATH) a working sample plugin and a broken one."""
    site = tmp_path / "site"
    make_distribution(site, "sample_plugin_dist", {"sample": "sample_plugin"})
    make_distribution(site, "broken_plugin_dist", {"broken": "broken_plugin"})
    monkeypatch.syspath_prepend(str(site))
    path = os.pathsep.join([str(site), str(FIXTURES), os.environ.get("PYTHONPATH", "")])
    monkeypatch.setenv("PYTHONPATH", path)
    return site
