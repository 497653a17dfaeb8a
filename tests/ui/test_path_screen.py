"""The path screen (``p``): screenshots on a recorded snapshot, one selection with the panes.

On tests/recorded/modes/healthy.snapshot.json. Screenshots: test1 -> test2
(bridged on docker0, FORWARD accepts), and a path the engine refuses (an unknown
name, with the close names). Behaviour: the destination prompt completes names;
moving onto a hop selects what it crosses in the whole app, a rule hop marks the
rule in the rules pane (switching it to the rule's table), Enter goes to it in
its pane, Esc keeps the selection.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, OptionList

from netexplorer.model import Snapshot
from netexplorer.path import trace_path
from netexplorer.snapshot_io import load_snapshot
from netexplorer.ui.app import NetExplorerApp, create_app
from netexplorer.ui.screens.path import DestinationScreen, PathScreen, hop_key

from .helpers import NARROW, WIDE, container, marked, pane, running, search

#: every network mode, with the sysctls the path engine reads (tests/recorded/modes)
HEALTHY = Path(__file__).resolve().parents[1] / "recorded" / "modes" / "healthy.snapshot.json"


def healthy() -> Snapshot:
    return load_snapshot(HEALTHY)


async def ask_path(pilot: Pilot[Any], source: str) -> None:
    """Search ``source`` (selecting it), press p."""
    await search(pilot, source)
    await pilot.press("p")
    await pilot.pause()


async def open_path(pilot: Pilot[Any], source: str, destination: str) -> None:
    """From ``source``, type ``destination``, Enter, wait for the trace."""
    await ask_path(pilot, source)
    await pilot.press(*destination, "enter")
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


def path_of(app: NetExplorerApp) -> PathScreen:
    screen = app.screen
    assert isinstance(screen, PathScreen)
    return screen


async def from_test1_to_test2(pilot: Pilot[Any]) -> None:
    await open_path(pilot, "test1", "test2")


async def from_test1_to_a_typo(pilot: Pilot[Any]) -> None:
    await open_path(pilot, "test1", "tset2")


@pytest.mark.parametrize(
    ("scene", "size"),
    [("test2", WIDE), ("test2", NARROW), ("unknown", WIDE)],
)
def test_path_screen(snap_compare: Any, scene: str, size: tuple[int, int]) -> None:
    steps = from_test1_to_test2 if scene == "test2" else from_test1_to_a_typo
    assert snap_compare(create_app(snapshot=HEALTHY), terminal_size=size, run_before=steps)


async def test_the_destination_prompt_completes_names() -> None:
    async with running(healthy()) as (app, pilot):
        await ask_path(pilot, "test1")
        assert isinstance(app.screen, DestinationScreen)
        assert {"test2", "web", "host", "internet", "host:8080"} <= set(app.screen.names)
        await pilot.press(*"inter")
        await pilot.pause()
        await pilot.press("right")  # takes the suggestion
        await pilot.pause()
        assert app.screen.query_one(Input).value == "internet"
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, DestinationScreen)


async def test_p_without_a_container_says_so() -> None:
    async with running(healthy()) as (app, pilot):
        await ask_path(pilot, "docker0")
        assert not isinstance(app.screen, DestinationScreen)


async def test_a_rule_hop_marks_the_rule_in_the_rules_pane() -> None:
    snap = healthy()
    async with running(snap) as (app, pilot):
        await open_path(pilot, "test1", "test2")
        screen = path_of(app)
        assert screen.result is not None and screen.result.verdict == "delivered"
        assert app.links is not None
        hops = screen.query_one(OptionList)
        # walk down the first packet's hops to the FORWARD rule that accepts (filter
        # table: the rules pane shows nat until then)
        assert pane(app, "rules").table_name == "nat"
        forward = next(
            i
            for i, h in enumerate(screen.hops)
            if h.kind == "rule" and h.rule is not None and "FORWARD" in h.title
        )
        for _ in range(forward):
            await pilot.press("down")
            await pilot.pause()
        assert hops.highlighted == forward
        rule_key = screen.hops[forward].rule
        assert rule_key is not None and app.selected == rule_key
        rule = next(r for r in snap.rules if r.key == rule_key)
        rules = pane(app, "rules")
        assert rules.table_name == rule.table == "filter"
        assert rule_key in rules.table.marked()
        # the rule applies to test1: its row is marked as linked in the containers pane
        assert "test1" in marked(app, "containers")
        # Enter: back to the panes with the cursor on the rule's row
        await pilot.press("enter")
        await pilot.pause()
        await pilot.pause()
        assert not isinstance(app.screen, PathScreen)
        assert app.selected == rule_key
        assert rules.table.cursor_key == rule_key


async def test_each_hop_selects_what_it_crosses_and_esc_keeps_it() -> None:
    snap = healthy()
    async with running(snap) as (app, pilot):
        await open_path(pilot, "test1", "test2")
        screen = path_of(app)
        assert screen.result is not None and app.links is not None
        # the first hop: test1's route lookup selects test1
        assert app.selected == container(snap, "test1").key
        seen = []
        for i, hop in enumerate(screen.hops):
            if i:
                await pilot.press("down")
                await pilot.pause()
            key = hop_key(hop, app.links)
            if key is not None and screen.query_one(OptionList).highlighted == i:
                assert app.selected == key
                seen.append(key)
        assert app.analysis is not None
        veth = app.analysis.correlation.wiring(container(snap, "test1").endpoints[0])
        assert f"if:{veth.host_ifindex}" in seen and "br:docker0" in seen
        assert container(snap, "test2").key in seen
        selected = app.selected
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, PathScreen)
        assert app.selected == selected


def test_hop_keys_are_items_of_the_read() -> None:
    snap = healthy()
    from netexplorer.correlate import correlate

    corr = correlate(snap)
    links = corr.links
    result = trace_path(snap, corr, "test1", "test2")
    keys = [hop_key(h, links) for h in result.hops]
    assert all(k is None or k in links.labels for k in keys)
    assert any(k is not None and k.startswith("rule:") for k in keys)
