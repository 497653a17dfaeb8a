"""The layers: the data layer never imports Textual, and the UI holds no data logic.

* only netexplorer/ui may import Textual or rich (statically: no module outside
  ui/ names them in an import; at run time: importing every data-layer module in
  a fresh interpreter loads no textual module);
* collect/ (reading the host) imports neither correlation, the doctor, the
  analysis nor the UI: the read does not know what is derived from it;
* the UI imports from the collectors only their entry point (collect.snapshot,
  run in a worker), and from correlate and the doctor only their result types:
  correlating, diagnosing and linking findings happen in netexplorer.analysis,
  which the app runs in a worker.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "netexplorer"
UI = PACKAGE / "ui"


COLLECT = PACKAGE / "collect"


def data_layer_modules() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if not p.is_relative_to(UI)]


def _is_module(dotted: str) -> bool:
    base = PACKAGE.parent.joinpath(*dotted.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def imports(source: str, module: str) -> set[tuple[str, str]]:
    """(module, name) of every import in ``source`` (the text of ``module``, dotted);
    ``name`` is "*" when a whole module is imported. Relative imports are resolved,
    and ``from netexplorer import correlate`` counts as importing that module."""
    found: set[tuple[str, str]] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {(a.name, "*") for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            parts = module.split(".")[: -node.level] if node.level else []
            where = ".".join([*parts, *([node.module] if node.module else [])])
            for a in node.names:
                sub = f"{where}.{a.name}"
                found.add((sub, "*") if _is_module(sub) else (where, a.name))
    return found


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)


def imported_symbols(path: Path) -> set[tuple[str, str]]:
    return imports(path.read_text(), module_name(path))


def imported_names(path: Path) -> set[str]:
    return {module for module, _ in imported_symbols(path)}


def test_the_import_walk_sees_every_form() -> None:
    code = (
        "import netexplorer.correlate\n"
        "from netexplorer import doctor\n"
        "from netexplorer.doctor import ERROR\n"
        "from ..model import Snapshot\n"
        "from .. import safe_text\n"
        "def later():\n"
        "    from textual.app import App\n"
    )
    assert imports(code, "netexplorer.ui.panes.base") == {
        ("netexplorer.correlate", "*"),
        ("netexplorer.doctor", "*"),
        ("netexplorer.doctor", "ERROR"),
        ("netexplorer.ui.model", "Snapshot"),
        ("netexplorer.ui.safe_text", "*"),
        ("textual.app", "App"),
    }


def test_collect_imports_neither_correlation_doctor_analysis_nor_ui() -> None:
    derived = ("netexplorer.correlate", "netexplorer.doctor", "netexplorer.analysis")
    offenders = {
        str(p.relative_to(PACKAGE)): sorted(
            n for n in imported_names(p) if n.startswith(derived) or n.startswith("netexplorer.ui")
        )
        for p in COLLECT.rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


#: what the UI may take from the data layer's logic modules: result types only
UI_ALLOWED = {
    "netexplorer.correlate": {"Correlation", "Links", "Wiring"},
    "netexplorer.doctor": {"ERROR", "WARNING", "Finding"},
    "netexplorer.doctor.report": {"healthy_text", "shown_evidence"},
    "netexplorer.collect.snapshot": {"collect_snapshot"},
}


def test_the_ui_holds_no_correlation_doctor_or_collector_logic() -> None:
    found = {}
    for p in UI.rglob("*.py"):
        bad = sorted(
            f"{module}.{name}"
            for module, name in imported_symbols(p)
            if module.startswith(("netexplorer.correlate", "netexplorer.doctor"))
            or module.startswith("netexplorer.collect")
            if name not in UI_ALLOWED.get(module, set())
        )
        if bad:
            found[str(p.relative_to(PACKAGE))] = bad
    assert found == {}


def test_only_the_app_runs_the_analysis_and_in_a_worker() -> None:
    users = sorted(
        str(p.relative_to(PACKAGE))
        for p in UI.rglob("*.py")
        if ("netexplorer.analysis", "analyse") in imported_symbols(p)
    )
    assert users == ["ui/app.py"]


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
