"""Screenshots (pytest-textual-snapshot) on recorded snapshots: every scene at 80x24
and 160x45; the demo's main scenes at every size the layout changes at (100x30 all
panes, 120x40 a common SSH window, 200x60 every column).

Update after an intended change with ``pytest tests/ui --snapshot-update`` and look
at the SVGs in ``__snapshots__`` before committing them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from netexplorer.model import Snapshot
from netexplorer.snapshot_io import load_snapshot
from netexplorer.ui.app import NetExplorerApp, create_app

from .helpers import BROKEN, NARROW, NO_DOCKER, NO_ROOT, WIDE, cursor_to, demo, ready, search

SIZES = pytest.mark.parametrize("size", [NARROW, WIDE], ids=["80x24", "160x45"])
Steps = Callable[[Pilot[Any]], Awaitable[None]]


def masquerade_key() -> str:
    return next(r.key for r in demo().rules if r.text.startswith("-A POSTROUTING -s 172.17."))


async def start(pilot: Pilot[Any]) -> None:
    await ready(pilot)


async def select_test1(pilot: Pilot[Any]) -> None:
    await search(pilot, "test1")


async def rule_selected(pilot: Pilot[Any]) -> None:
    await ready(pilot)
    await cursor_to(pilot, "rules", masquerade_key())


async def bridge_selected(pilot: Pilot[Any]) -> None:
    await ready(pilot)
    await cursor_to(pilot, "bridges", "br:docker0")


async def searching(pilot: Pilot[Any]) -> None:
    await ready(pilot)
    await pilot.press("slash", *"test1")
    await pilot.pause()


async def help_open(pilot: Pilot[Any]) -> None:
    await ready(pilot)
    await pilot.press("question_mark")
    await pilot.pause()


async def doctor_open(pilot: Pilot[Any]) -> None:
    await ready(pilot)
    await pilot.press("d")
    await pilot.pause()


def demo_app() -> NetExplorerApp:
    return create_app(demo=True)


def docker_stale_app() -> NetExplorerApp:
    """The live view after Docker went away: its last read, marked stale, with the
    error recorded from a host without a Docker daemon (age left out: no clock)."""

    def produce() -> Snapshot:
        snap, down = demo(), load_snapshot(NO_DOCKER).source("docker")
        src = snap.source("docker")
        assert src is not None and down is not None
        src.ok, src.stale, src.error, src.read_at = False, True, down.error, 0.0
        return snap

    return create_app(source=produce)


def file_app(path: Path) -> Callable[[], NetExplorerApp]:
    return lambda: create_app(snapshot=path)


#: the swarm ingress mesh recorded in the kernel VM
INGRESS = Path(__file__).resolve().parents[1] / "recorded" / "ingress" / "snapshot.json"


async def ingress_task_selected(pilot: Pilot[Any]) -> None:
    """A task of the published service selected: its REDIRECT rule, its real server."""
    await search(pilot, "nxweb.1")


SCENES: dict[str, tuple[Callable[[], NetExplorerApp], Steps]] = {
    "start": (demo_app, start),
    "test1_selected": (demo_app, select_test1),
    "rule_selected": (demo_app, rule_selected),
    "bridge_selected": (demo_app, bridge_selected),
    "search": (demo_app, searching),
    "help": (demo_app, help_open),
    "no_docker": (file_app(NO_DOCKER), start),
    "no_root": (file_app(NO_ROOT), start),
    "docker_stale": (docker_stale_app, select_test1),
    "doctor": (file_app(BROKEN), doctor_open),
    "ingress_task_selected": (file_app(INGRESS), ingress_task_selected),
}


@SIZES
@pytest.mark.parametrize("scene", list(SCENES))
def test_screen(snap_compare: Any, scene: str, size: tuple[int, int]) -> None:
    make, steps = SCENES[scene]
    assert snap_compare(make(), terminal_size=size, run_before=steps)


async def zoomed(pilot: Pilot[Any]) -> None:
    await select_test1(pilot)
    await pilot.press("2", "z")
    await pilot.pause()


MORE_SIZES = pytest.mark.parametrize(
    "size", [(100, 30), (120, 40), (200, 60)], ids=["100x30", "120x40", "200x60"]
)
MORE_SCENES = {
    "start": start,
    "test1_selected": select_test1,
    "rule_selected": rule_selected,
    "interfaces_zoomed": zoomed,
}


@MORE_SIZES
@pytest.mark.parametrize("scene", list(MORE_SCENES))
def test_demo_screen(snap_compare: Any, scene: str, size: tuple[int, int]) -> None:
    assert snap_compare(demo_app(), terminal_size=size, run_before=MORE_SCENES[scene])
