"""A one-shot command run as the program ends at once (no interpreter teardown), with
its whole output written and its exit status; called in-process, it returns."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from netexplorer.cli import main

REPO = Path(__file__).resolve().parents[2]
PATH_ARGS = ["--demo", "path", "test1", "203.0.113.1"]


@pytest.mark.parametrize(
    "args", [["--demo", "map", "--format", "json"], ["--demo", "doctor", "--json"], PATH_ARGS]
)
def test_the_program_prints_all_and_exits_as_main_returns(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(args)  # in-process: returns
    printed = capsys.readouterr().out
    assert printed
    done = subprocess.run(
        [sys.executable, "-m", "netexplorer", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        # buffered output, as on a terminal's pipe by default: it must be flushed
        env={k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"},
        timeout=60,
        check=False,
    )
    assert done.returncode == code
    assert done.stdout == printed
