"""Issue 13's done-when on the live lab, as tests/ui/test_sizes.py checks it on the
shipped demo: at 100x30 and 120x40, after ``/test1 Enter``, test1, its veth, its
port on docker0 and docker0's MASQUERADE rule are on screen together, marked."""

from __future__ import annotations

import pytest
from ui.helpers import assert_test1_wiring_on_screen

from netexplorer.collect.snapshot import collect_snapshot

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("size", [(100, 30), (120, 40)], ids=["100x30", "120x40"])
async def test_test1_wiring_on_screen_on_the_lab(lab: str, size: tuple[int, int]) -> None:
    await assert_test1_wiring_on_screen(collect_snapshot(), size)
