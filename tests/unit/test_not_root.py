"""Not root: one line says what is missing and the command that reads it.

The command names this very program by its full path: after ``pipx install`` or
in a venv, ``sudo netexplorer`` is not found (sudo's secure_path).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from netexplorer.privilege import NOT_ROOT_LEAD, not_root_warning, run_as_root_command


def test_the_program_by_its_full_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    program = tmp_path / "bin" / "netexplorer"
    program.parent.mkdir()
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    monkeypatch.setenv("PATH", str(program.parent))
    assert run_as_root_command(["netexplorer", "snapshot"]) == f"sudo {program} snapshot"
    assert run_as_root_command([str(program)]) == f"sudo {program}"


def test_python_dash_m_is_run_again_the_same_way() -> None:
    argv = ["/src/netexplorer/__main__.py", "--interval", "1"]
    assert run_as_root_command(argv) == f"sudo {sys.executable} -m netexplorer --interval 1"


def test_one_line() -> None:
    line = not_root_warning(["/nonexistent/netexplorer"])
    assert line.startswith(NOT_ROOT_LEAD) and "\n" not in line
    assert line.endswith(f"Run: sudo {sys.executable} -m netexplorer")
