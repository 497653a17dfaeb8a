"""The data layer never imports Textual: only netexplorer/ui may.

Checked two ways: statically (no module outside ui/ names textual in an import)
and at run time (importing every data-layer module in a fresh interpreter loads
no textual module).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "netexplorer"
UI = PACKAGE / "ui"


def data_layer_modules() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if not p.is_relative_to(UI)]


def imported_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_data_layer_module_imports_textual_or_the_ui() -> None:
    offenders = {
        str(p.relative_to(PACKAGE)): sorted(
            n
            for n in imported_names(p)
            if n.split(".")[0] in ("textual", "rich") or n.startswith("netexplorer.ui")
        )
        for p in data_layer_modules()
    }
    # cli.py is the one place that starts the app, lazily inside a function
    offenders.pop("cli.py", None)
    assert {k: v for k, v in offenders.items() if v} == {}


def test_importing_the_data_layer_loads_no_textual() -> None:
    modules = sorted(
        "netexplorer." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts)
        for p in data_layer_modules()
        if p.name != "__main__.py"
    )
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m.removesuffix('.__init__'))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=PACKAGE.parent, check=True)  # fmt: skip
    assert out.stdout.strip() == "[]"
