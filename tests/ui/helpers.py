"""Shared by the UI tests: apps over recorded snapshots, waiting, reading the marks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

import netexplorer.ui.sources
from netexplorer.correlate import Wiring, correlate
from netexplorer.model import Container, Endpoint, Snapshot
from netexplorer.snapshot_io import load_snapshot
from netexplorer.ui.app import NetExplorerApp, create_app
from netexplorer.ui.keyed_table import LINKED_GLYPH, SELECTED_GLYPH
from netexplorer.ui.panes.base import TablePane

RECORDED = Path(__file__).resolve().parents[1] / "recorded" / "snapshots"
NO_DOCKER = RECORDED / "no-docker.json"
NO_ROOT = RECORDED / "no-root.json"
#: every network mode, with three doctor findings (tests/recorded/modes)
BROKEN = RECORDED.parent / "modes" / "broken.snapshot.json"
#: macvlan and ipvlan l2/l3 on Debian's kernel (tests/recorded/kernel-vm)
CHILDREN = RECORDED.parent / "kernel-vm" / "children.snapshot.json"
WIDE = (160, 45)
NARROW = (80, 24)


def demo() -> Snapshot:
    return load_snapshot(netexplorer.ui.sources.demo_path())


def container(snap: Snapshot, name: str) -> Container:
    return next(c for c in snap.containers if c.name == name)


def app_over(snap: Snapshot) -> NetExplorerApp:
    return create_app(source=lambda: snap)


async def ready(pilot: Pilot[Any]) -> None:
    """Wait for the collector worker and for the messages it caused."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


@asynccontextmanager
async def running(
    snap: Snapshot, size: tuple[int, int] = WIDE
) -> AsyncIterator[tuple[NetExplorerApp, Pilot[Any]]]:
    """The app over ``snap`` at ``size``, once its first read is shown."""
    app = app_over(snap)
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        yield app, pilot


async def search(pilot: Pilot[Any], text: str) -> None:
    """Wait for the first read, then search ``text`` (``/text Enter``) and let the
    selection land."""
    await ready(pilot)
    await pilot.press("slash", *text, "enter")
    await pilot.pause()
    await pilot.pause()


def pane(app: NetExplorerApp, pane_id: str) -> TablePane:
    found = app.pane(pane_id)
    assert isinstance(found, TablePane)
    return found


def marked(app: NetExplorerApp, pane_id: str) -> set[str]:
    """Labels (names, rule texts) of the marked rows of a pane."""
    assert app.links is not None
    return {app.links.labels.get(k, k) for k in pane(app, pane_id).table.marked()}


async def cursor_to(pilot: Pilot[Any], pane_id: str, key: str) -> None:
    """Focus a pane by its number key and press down until the cursor is on ``key``."""
    app = pilot.app
    assert isinstance(app, NetExplorerApp)
    target = pane(app, pane_id)
    await pilot.press(str(target.number))
    await pilot.pause()
    delta = target.table.get_row_index(key) - target.table.cursor_row
    for _ in range(abs(delta)):
        await pilot.press("down" if delta > 0 else "up")
    await pilot.pause()
    assert target.table.cursor_key == key
    assert app.selected == key


def wiring(snap: Snapshot, ep: Endpoint) -> Wiring:
    """How correlation wired ``ep`` (its host veth, bridge ...)."""
    return correlate(snap).wiring(ep)


def on_screen(table_pane: TablePane) -> str:
    """The text the pane's table shows now (empty when the pane is hidden)."""
    table = table_pane.table
    if not table_pane.display or not table.size.height:
        return ""
    return "\n".join(table.render_line(y).text for y in range(table.size.height))


def marked_line(text: str, needle: str, glyph: str = LINKED_GLYPH) -> bool:
    return any(line.lstrip().startswith(glyph) and needle in line for line in text.splitlines())


async def assert_test1_wiring_on_screen(snap: Snapshot, size: tuple[int, int]) -> None:
    """After ``/test1 Enter`` at ``size``: test1, its veth, its port on docker0 and
    docker0's MASQUERADE rule are on screen together, marked (issue 13's done-when)."""
    test1 = container(snap, "test1")
    veth = wiring(snap, test1.endpoints[0]).host_veth
    assert veth
    async with running(snap, size) as (app, pilot):
        await search(pilot, "test1")
        await pilot.pause()
        assert app.selected == test1.key
        assert marked_line(on_screen(pane(app, "containers")), "test1", SELECTED_GLYPH)
        assert marked_line(on_screen(pane(app, "interfaces")), veth)
        assert marked_line(on_screen(pane(app, "bridges")), veth)  # its port on docker0
        assert marked_line(on_screen(pane(app, "rules")), "MASQUERADE 172.17.0.0/16 → !docker0")
