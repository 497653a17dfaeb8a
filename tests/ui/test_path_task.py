"""The path screen (``p``) choosing the task followed through the swarm's routing mesh,
as ``netexplorer path --task`` does, on the one-node swarm recorded in the kernel VM
(tests/recorded/ingress/snapshot.json: nxweb's two tasks behind ingress_sbox's IPVS).

The prompt has a second field, reached by Tab, completing the tasks that hold the
IPVS real servers; the path it opens is the one ``trace_path(..., task=...)`` gives
(the CLI's), compared hop by hop. Without the mesh (tests/recorded/modes) the
prompt has no such field. A screenshot of the prompt with both fields filled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input

from netexplorer.correlate import correlate
from netexplorer.path import trace_path
from netexplorer.snapshot_io import load_snapshot
from netexplorer.ui.app import create_app
from netexplorer.ui.screens.path import DestinationScreen, PathScreen

from .helpers import WIDE, running, search

RECORDED = Path(__file__).resolve().parents[1] / "recorded"
INGRESS = RECORDED / "ingress" / "snapshot.json"
HEALTHY = RECORDED / "modes" / "healthy.snapshot.json"
PORT = "198.51.100.17:8081"
SECOND = "nxweb.2.2n3ydv2o2jop0hxg0fiv0gw7n"


async def ask(pilot: Pilot[Any], destination: str, task: str | None) -> None:
    """From test1: p, the destination, Tab and the task (completed by →)."""
    await search(pilot, "test1")
    await pilot.press("p")
    await pilot.pause()
    await pilot.press(*destination)
    if task is not None:
        await pilot.press("tab", *task, "right")
    await pilot.pause()


async def trace(pilot: Pilot[Any], destination: str, task: str | None) -> PathScreen:
    await ask(pilot, destination, task)
    await pilot.press("enter")
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, PathScreen)
    return screen


def followed(screen: PathScreen) -> str:
    assert screen.result is not None
    ipvs = next(h for h in screen.result.hops if h.kind == "ipvs")
    return ipvs.title.split("followed ", 1)[1].split(";")[0]


async def test_the_task_field_picks_the_task_the_mesh_is_followed_to() -> None:
    snap = load_snapshot(INGRESS)
    expected = trace_path(snap, correlate(snap), "test1", PORT, task="nxweb.2")
    assert expected.verdict == "delivered", expected.sentence
    async with running(snap) as (_app, pilot):
        screen = await trace(pilot, PORT, "nxweb.2")
        assert screen.mesh_task == SECOND  # "nxweb.2" completed by →
        assert screen.result is not None
        assert screen.result.hops == expected.hops and screen.result.reply == expected.reply
        assert followed(screen) == f"10.0.0.5 ({SECOND})"
        assert screen.result.hops[-1].title.startswith(f"delivered to {SECOND} (10.0.0.5)")


async def test_without_a_task_the_engine_chooses_as_the_cli_does() -> None:
    snap = load_snapshot(INGRESS)
    expected = trace_path(snap, correlate(snap), "test1", PORT)
    async with running(snap) as (_app, pilot):
        screen = await trace(pilot, PORT, None)
        assert screen.mesh_task is None
        assert screen.result is not None and screen.result.hops == expected.hops
        assert followed(screen).startswith("10.0.0.4 (nxweb.1.")


async def test_the_task_field_completes_the_real_servers_holders() -> None:
    async with running(load_snapshot(INGRESS)) as (app, pilot):
        await ask(pilot, PORT, "nxweb.1")
        screen = app.screen
        assert isinstance(screen, DestinationScreen)
        assert screen.tasks[:2] == ["nxweb.1.7e1zce2mjcpmnh5y50gby2wq7", SECOND]
        assert screen.query_one("#path-task", Input).value == "nxweb.1.7e1zce2mjcpmnh5y50gby2wq7"
        assert screen.query_one("#path-destination", Input).value == PORT


async def test_no_task_field_without_the_mesh() -> None:
    async with running(load_snapshot(HEALTHY)) as (app, pilot):
        await search(pilot, "test1")
        await pilot.press("p")
        await pilot.pause()
        assert isinstance(app.screen, DestinationScreen)
        assert not app.screen.query("#path-task")


def test_the_prompt_with_a_task(snap_compare: Any) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        await ask(pilot, PORT, "nxweb.2")

    assert snap_compare(create_app(snapshot=INGRESS), terminal_size=WIDE, run_before=steps)
