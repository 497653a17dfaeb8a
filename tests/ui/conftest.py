"""UI tests: deterministic screens (no cursor blink) over recorded snapshots.

The app's demo is, in these tests, tests/recorded/ui/lab.snapshot.json: the lab
recording the screens and behaviours below were written against (the basic lab:
test1, test2, web, db; schema 1, loaded through the migration). The shipped
demo (netexplorer/demo/, scripts/record-demo) holds every mode and is checked by
tests/unit/test_demo.py; moving these tests onto it means reviewing every screen.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input

import netexplorer.ui.sources

UI_LAB = Path(__file__).resolve().parents[1] / "recorded" / "ui" / "lab.snapshot.json"


@pytest.fixture(autouse=True)
def recorded_lab_as_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(netexplorer.ui.sources, "demo_path", lambda: UI_LAB)


@pytest.fixture(autouse=True)
def no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    """A blinking cursor would make screenshots depend on timing."""
    monkeypatch.setattr(Input, "cursor_blink", False)
