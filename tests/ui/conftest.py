"""UI tests: deterministic screens (no cursor blink) over recorded snapshots.

The app's demo is the shipped one (netexplorer/demo/, recorded from the lab with
every mode by scripts/record-demo); ``helpers.demo()`` loads it.
"""

from __future__ import annotations

import pytest
from textual.widgets import Input


@pytest.fixture(autouse=True)
def no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    """A blinking cursor would make screenshots depend on timing."""
    monkeypatch.setattr(Input, "cursor_blink", False)
