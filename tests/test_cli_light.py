"""The command line's help and parser load no heavy library (torch, CuPy, matplotlib)."""
import subprocess
import sys

import pytest

HEAVY = ("torch", "cupy", "matplotlib")


@pytest.mark.parametrize("args", [["--help"], ["gram", "--help"], ["info"], ["reproduce", "--help"],
                                  ["rent", "--help"], ["rent", "train", "--help"], ["rent", "compare", "--help"]])
def test_cli_help_imports_no_heavy_library(args):
    code = ("import sys, runpy\n"
            f"sys.argv = ['rntk', *{args!r}]\n"
            "try:\n    runpy.run_module('rntk.cli', run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            f"print('LOADED', *[m for m in {HEAVY!r} if m in sys.modules])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    loaded = [line for line in out.stdout.splitlines() if line.startswith("LOADED")]
    assert loaded == ["LOADED"], f"rntk {' '.join(args)} imported {loaded}; stderr: {out.stderr[-500:]}"
