"""The map screen (``m``): screenshots over every recording, and one selection with the panes.

Screenshots: the lab (the tutorial's figure), every network mode healthy and
broken, macvlan/ipvlan from Debian's kernel, and 1,000 containers on 200
networks folded. Behaviour: moving on the map selects in the panes and the other
way round, Enter folds and opens a network, ``/`` finds containers in folded
networks, a new snapshot keeps the selection.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from benchmarks.synth import synthetic_snapshot
from netexplorer.analysis import analyse
from netexplorer.model import Snapshot
from netexplorer.ui.app import NetExplorerApp, create_app
from netexplorer.ui.messages import SnapshotReady
from netexplorer.ui.screens.map import MapScreen

from .helpers import (
    BROKEN,
    CHILDREN,
    WIDE,
    app_over,
    container,
    cursor_to,
    demo,
    marked,
    ready,
    running,
    search,
    wiring,
)

RECORDED = Path(__file__).resolve().parents[1] / "recorded"
HEALTHY = RECORDED / "modes" / "healthy.snapshot.json"
Steps = Callable[[Pilot[Any]], Awaitable[None]]


def map_of(app: NetExplorerApp) -> MapScreen:
    screen = app.screen
    assert isinstance(screen, MapScreen)
    return screen


async def open_map(pilot: Pilot[Any]) -> None:
    await pilot.press("m")
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


async def lab_map_test1(pilot: Pilot[Any]) -> None:
    await search(pilot, "test1")
    await open_map(pilot)


async def map_only(pilot: Pilot[Any]) -> None:
    await ready(pilot)
    await open_map(pilot)


async def new_read(pilot: Pilot[Any], screen: MapScreen, snap: Snapshot) -> None:
    """Post a snapshot as the collector would; wait until the map has drawn it."""
    before = screen.hmap
    pilot.app.post_message(SnapshotReady(analyse(snap)))
    for _ in range(200):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        if screen.hmap is not before:
            break
    await pilot.pause()


def synth_app() -> NetExplorerApp:
    snap = synthetic_snapshot(containers=1000, interfaces=2000, rules=5000, per_network=5)
    return app_over(snap)


#: scene -> (app, steps, terminal size)
SCENES: dict[str, tuple[Callable[[], NetExplorerApp], Steps, tuple[int, int]]] = {
    "lab_test1": (lambda: create_app(demo=True), lab_map_test1, WIDE),
    "lab_test1_80x24": (lambda: create_app(demo=True), lab_map_test1, (80, 24)),
    "modes_healthy": (lambda: create_app(snapshot=HEALTHY), map_only, (190, 84)),
    "modes_broken": (lambda: create_app(snapshot=BROKEN), map_only, (190, 84)),
    "children": (lambda: create_app(snapshot=CHILDREN), map_only, (160, 64)),
    "synth_folded": (synth_app, map_only, WIDE),
}


@pytest.mark.parametrize("scene", list(SCENES))
def test_map_screen(snap_compare: Any, scene: str) -> None:
    make, steps, size = SCENES[scene]
    assert snap_compare(make(), terminal_size=size, run_before=steps)


async def test_moving_on_the_map_selects_in_the_panes() -> None:
    snap = demo()
    async with running(snap) as (app, pilot):
        await search(pilot, "test1")
        await open_map(pilot)
        view = map_of(app).view
        assert view.cursor_key == container(snap, "test1").key
        await pilot.press("down")  # onto test1's veth, right of its address
        await pilot.pause()
        veth = wiring(snap, container(snap, "test1").endpoints[0])
        assert view.cursor_key == app.selected == f"if:{veth.host_ifindex}"
        assert marked(app, "containers") == {"test1"}
        assert veth.host_veth in marked(app, "interfaces")
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, MapScreen)
        assert app.selected == f"if:{veth.host_ifindex}"


async def test_a_pane_selection_shows_on_the_map() -> None:
    snap = demo()
    async with running(snap) as (app, pilot):
        await cursor_to(pilot, "bridges", "br:docker0")
        await open_map(pilot)
        view = map_of(app).view
        assert view.cursor_key == "br:docker0"
        drawn = {r.key for r in view.drawing.regions}
        for name in ("test1", "test2", "web"):
            key = container(snap, name).key
            assert key in view.related and key in drawn
        assert container(snap, "db").key not in view.related
        # a selection made while the map is open (a search in the app) moves its cursor
        app.select(container(snap, "db").key, "containers")
        await pilot.pause()
        assert view.cursor_key == container(snap, "db").key


async def test_enter_folds_and_opens_a_network_and_search_opens_it() -> None:
    snap = synthetic_snapshot(containers=1000, interfaces=2000, rules=5000, per_network=5)
    async with running(snap) as (app, pilot):
        await open_map(pilot)
        screen = map_of(app)
        assert screen.hmap is not None
        # every network folded but the one holding the app's selection (the first row)
        selected = next(c for c in screen.hmap.containers if c.key == app.selected)
        shown = {lk.bus_key for lk in selected.links[:1]}
        assert screen.folded == {b.key for b in screen.hmap.buses} - shown
        # the folded list: move down from its title to a network, open it
        lines = screen.view.drawing.lines
        title = next(i for i, line in enumerate(lines) if line.startswith("folded networks"))
        screen.view.place(next(r.key for r in screen.view.drawing.regions if r.row > title))
        await pilot.press("down")
        await pilot.pause()
        opened = screen.view.cursor_key
        assert opened is not None and opened in screen.folded
        await pilot.press("enter")
        await pilot.pause()
        assert opened not in screen.folded
        bus = screen.hmap.bus(opened)
        assert bus is not None
        assert f"│ {bus.device} · network {bus.network}" in "\n".join(screen.view.drawing.lines)
        await pilot.press("enter")  # the cursor stayed on its header: fold it again
        await pilot.pause()
        assert opened in screen.folded
        # "/" finds a container inside a folded network and opens that network
        target = snap.containers[-1]
        await pilot.press("slash", *target.name, "enter")
        await pilot.pause()
        assert screen.view.cursor_key == app.selected == target.key


async def test_a_new_snapshot_keeps_the_selection() -> None:
    snap = demo()
    async with running(snap) as (app, pilot):
        await search(pilot, "test2")
        await open_map(pilot)
        screen = map_of(app)
        test2 = container(snap, "test2").key
        assert screen.view.cursor_key == test2
        newer: Snapshot = copy.deepcopy(snap)
        newer.containers = [c for c in newer.containers if c.name != "test1"]
        await new_read(pilot, screen, newer)
        assert screen.view.cursor_key == test2
        assert "test1" not in "\n".join(screen.view.drawing.lines)
        # selected in a pane, the app picks the row now at its place: the map follows
        gone: Snapshot = copy.deepcopy(newer)
        gone.containers = [c for c in gone.containers if c.name != "test2"]
        await new_read(pilot, screen, gone)
        assert app.selected != test2 and screen.view.cursor_key == app.selected
        # selected on the map, the map says it is gone and stays where it was
        web = container(snap, "web").key
        await pilot.press("slash", *"web", "enter")
        for _ in range(50):  # a loaded machine: let the keys through
            await pilot.pause()
            if app.selected == web:
                break
        assert app.selected == web and app.selected_pane == "map"
        row = screen.view.drawing.regions[screen.view.cursor or 0].row
        no_web: Snapshot = copy.deepcopy(gone)
        no_web.containers = [c for c in no_web.containers if c.name != "web"]
        await new_read(pilot, screen, no_web)
        assert "web is not on the map any more" in screen.note
        assert screen.view.cursor is not None
        assert abs(screen.view.drawing.regions[screen.view.cursor].row - row) <= 3


async def test_a_paths_items_are_marked_on_the_map() -> None:
    """app.show_path (the path screen's hook) marks the items now and when the map opens."""
    snap = demo()
    test1 = container(snap, "test1")
    async with running(snap) as (app, pilot):
        path = frozenset({test1.key, "br:docker0"})
        app.show_path(path)
        await open_map(pilot)
        view = map_of(app).view
        assert view.path == path
        app.show_path(frozenset({"br:docker0"}))
        assert view.path == {"br:docker0"}


async def test_a_selection_in_a_folded_network_opens_it() -> None:
    """At 1,000 containers every network starts folded; a container selected in a pane
    (before or after the map opens) opens its network to show it."""
    snap = synthetic_snapshot(containers=1000, interfaces=2000, rules=5000, per_network=5)
    first, later = snap.containers[3], snap.containers[-3]
    async with running(snap) as (app, pilot):
        app.select(first.key, "containers")
        await open_map(pilot)
        screen = map_of(app)
        assert screen.view.cursor_key == first.key
        app.select(later.key, "containers")
        await pilot.pause()
        assert screen.view.cursor_key == later.key
