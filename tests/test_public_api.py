"""verify/ and benchmarks/ use rntk's public API only, so that they show how the package is meant to be used."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted([*(ROOT / "verify").glob("*.py"), *(ROOT / "benchmarks").glob("*.py")])

# Known exceptions, (script, private module), each to be removed once its script
# uses a public name instead. Nothing else belongs here.
ALLOWED = {
    ("benchmarks/bench_gram.py", "rntk.kernels._fused"),  # fused_cross: times the fused kernel alone
}


def _private(dotted: str) -> bool:
    return any(part.startswith("_") for part in dotted.split("."))


def private_imports(source: str) -> list[str]:
    """Every private rntk name imported by ``source``: a module path with a part starting
    with ``_``, or ``from rntk... import _name``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "rntk" and _private(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] != "rntk":
                continue
            if _private(node.module):
                found.append(node.module)
            found += [f"{node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
    return found


def test_the_scan_sees_every_form_of_private_import():
    src = ("import rntk._runner\nimport rntk.kernels._fused as f\nfrom rntk.empirical._rnn import as_batch\n"
           "from rntk import _validation\nfrom rntk.kernels import _x, RNTK\n"
           "import rntk, rntk.kernels\nfrom rntk.empirical import as_batch\nfrom _common import parser\n"
           "from . import _local\nimport numpy._core\n")
    assert private_imports(src) == ["rntk._runner", "rntk.kernels._fused", "rntk.empirical._rnn",
                                    "rntk._validation", "rntk.kernels._x"]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_scripts_import_only_public_rntk_names(script):
    rel = script.relative_to(ROOT).as_posix()
    bad = sorted({m for m in private_imports(script.read_text()) if (rel, m) not in ALLOWED})
    assert not bad, f"{rel} imports private rntk names {bad}: export them (or use a public function)"
