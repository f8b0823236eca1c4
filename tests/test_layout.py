"""Project-wide rules: rewards/ and sandboxes/ never import torch; imports flow one way
(grpo_core -> rewards -> sandboxes). Inside grpo_core they flow one way too: the commands
(grpo_core/commands/) use the trainer (grpo_core/training/), which uses the GRPO maths at the
package's top level (advantages, loss, kl, logprobs, passk); the maths imports neither."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


#: the GRPO maths: the modules at grpo_core's top level besides the package and plugin glue
MATHS = ("advantages", "kl", "logprobs", "loss", "passk")


def full_imports(path: Path) -> set[str]:
    """Dotted names of every module ``path`` imports (``from a.b import c`` gives ``a.b`` and
    ``a.b.c``, since ``c`` may be a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def imported_modules(package: str) -> set[str]:
    """Top-level names of every module imported anywhere in ``package``'s source."""
    found: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        found |= {name.split(".")[0] for name in full_imports(path)}
    return found


def reaches(imports: set[str], package: str) -> set[str]:
    return {name for name in imports if name == package or name.startswith(package + ".")}


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("rewards", {"torch", "grpo_core", "transformers"}),
        ("sandboxes", {"torch", "grpo_core", "rewards", "transformers"}),
    ],
)
def test_imports_flow_one_way(package, forbidden):
    assert not imported_modules(package) & forbidden


def test_grpo_core_top_level_is_the_maths():
    top = {p.stem for p in (ROOT / "grpo_core").glob("*.py")} - {"__init__", "plugin"}
    assert top == set(MATHS)
    assert {p.name for p in (ROOT / "grpo_core").iterdir() if p.is_dir()} - {"__pycache__"} == {
        "commands",
        "training",
    }


@pytest.mark.parametrize("module", MATHS)
def test_maths_imports_neither_the_trainer_nor_the_commands(module):
    imports = full_imports(ROOT / "grpo_core" / f"{module}.py")
    assert not reaches(imports, "grpo_core.training"), module
    assert not reaches(imports, "grpo_core.commands"), module
    assert not {name.split(".")[0] for name in imports} & {"rewards", "sandboxes"}, module


@pytest.mark.parametrize("path", sorted((ROOT / "grpo_core" / "training").rglob("*.py")), ids=str)
def test_training_imports_nothing_from_the_commands(path):
    assert not reaches(full_imports(path), "grpo_core.commands"), path


def test_package_init_imports_only_the_maths():
    imports = full_imports(ROOT / "grpo_core" / "__init__.py")
    assert not reaches(imports, "grpo_core.training") | reaches(imports, "grpo_core.commands")


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
    code = (
        "import sys, grpo_core, grpo_core.plugin, grpo_core.commands.cli, grpo_core.training\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "False", out.stderr
