"""The doctor in the app (``d``) and the network modes in the containers pane.

On tests/recorded/modes: ``broken.snapshot.json`` has three findings (ip_forward
read as 0, the macvlan parent down, a published port without DNAT).
"""

from __future__ import annotations

from pathlib import Path

from netexplorer.snapshot_io import load_snapshot
from netexplorer.ui.screens.doctor import DoctorScreen

from .helpers import container, marked, pane, running

MODES = Path(__file__).resolve().parents[1] / "recorded" / "modes"
TAG = "nxt-rec"


async def test_choosing_a_finding_marks_its_evidence_in_the_panes() -> None:
    snap = load_snapshot(MODES / "broken.snapshot.json")
    async with running(snap) as (app, pilot):
        assert len(app.findings) == 3
        assert "doctor: 3 problems (d)" in str(app.query_one("#topbar").render())
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, DoctorScreen)
        await pilot.press("down")  # the second finding: the macvlan parent
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, DoctorScreen)
        parent = next(f for f in app.findings if f.check == "parent")
        assert app.selected == parent.key
        assert marked(app, "containers") == {f"{TAG}-mv1"}
        assert marked(app, "interfaces") == {f"{TAG}-p0"}
        status = str(app.query_one("#status").render())
        assert "finding parent interface nxt-rec-p0" in status
        # the details pane explains it, with the fix
        details = str(app.query_one("#details-body").render())
        assert "ip link set nxt-rec-p0 up" in details


async def test_ip_forward_finding_marks_every_bridge_with_running_containers() -> None:
    async with running(load_snapshot(MODES / "broken.snapshot.json")) as (app, pilot):
        await pilot.press("d", "enter")
        await pilot.pause()
        assert app.selected is not None and app.selected.startswith("doc:ip-forward")
        cts = marked(app, "containers")
        assert {"test1", "test2", "web", "db", f"{TAG}-multi"} <= cts
        assert f"{TAG}-mv1" not in cts  # macvlan: no forwarding through the host
        assert {"docker0", f"{TAG}-ic"} <= marked(app, "bridges")


async def test_healthy_snapshot_says_so() -> None:
    async with running(load_snapshot(MODES / "healthy.snapshot.json")) as (app, pilot):
        assert app.findings == []
        assert "doctor" not in str(app.query_one("#topbar").render())
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, DoctorScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, DoctorScreen)


async def test_containers_pane_shows_each_network_mode() -> None:
    snap = load_snapshot(MODES / "healthy.snapshot.json")
    async with running(snap) as (app, _):
        table = pane(app, "containers").table

        def networks(name: str) -> str:
            return table.cells(container(snap, name).key)[1].plain

        assert networks(f"{TAG}-shared") == f"container:{TAG}-multi"
        assert networks(f"{TAG}-host") == "host"
        assert networks(f"{TAG}-none") == "none"
        assert networks(f"{TAG}-mv1").startswith(f"{TAG}-mv:10.99.78.")
        multi = networks(f"{TAG}-multi")
        assert multi.count(":") == 3 and "bridge:172.17." in multi
