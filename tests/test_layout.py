"""Project-wide rules: rewards/ and sandboxes/ never import torch; imports flow one way."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(package: str) -> set[str]:
    """Top-level names of every module imported anywhere in ``package``'s source."""
    found: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("rewards", {"torch", "grpo_core", "transformers"}),
        ("sandboxes", {"torch", "grpo_core", "rewards", "transformers"}),
    ],
)
def test_imports_flow_one_way(package, forbidden):
    assert not imported_modules(package) & forbidden


def test_importing_every_rewards_and_sandboxes_module_loads_no_torch():
    code = (
        "import importlib, pkgutil, sys\n"
        "import rewards, sandboxes\n"
        "for pkg in (rewards, sandboxes):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        if m.name != 'rewards.__main__':\n"
        "            importlib.import_module(m.name)\n"
        "print(sorted(k for k in sys.modules if k.split('.')[0] in {'torch', 'transformers'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_grpo_core_package_import_is_lazy():
    code = "import sys, grpo_core, grpo_core.plugin; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "False", out.stderr
