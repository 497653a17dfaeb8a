"""Overlay networks on the panes and the map, over the recorded two-node swarm
(tests/recorded/swarm)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import OptionList

from netexplorer.analysis import analyse
from netexplorer.correlate import correlate
from netexplorer.overlay_peers import far_key
from netexplorer.snapshot_io import load_snapshot
from netexplorer.ui.app import NetExplorerApp
from netexplorer.ui.messages import SnapshotReady
from netexplorer.ui.sources import NamedSource

from .helpers import WIDE, container, cursor_to, marked, pane, ready, running
from .test_map_screen import map_of, open_map
from .test_path_screen import open_path, path_of

SWARM = Path(__file__).resolve().parents[1] / "recorded" / "swarm" / "node1.snapshot.json"


async def test_overlay_br0_ports_and_namespace_interfaces_are_listed_and_cross_linked() -> None:
    snap = load_snapshot(SWARM)
    corr = correlate(snap)
    o = next(x for x in corr.overlay.networks.values() if x.network.name == "nxoverlay")
    assert o.bridge is not None and o.vxlan is not None and o.namespace is not None
    sw1 = container(snap, "sw1")
    ep = next(e for e in sw1.endpoints if e.network == "nxoverlay")
    found = corr.overlay.of_endpoint(ep.key)
    assert found is not None
    port = found[1]
    async with running(snap) as (app, pilot):
        bridges = pane(app, "bridges")
        interfaces = pane(app, "interfaces")
        for key in (o.bridge.key, o.vxlan.key, port.key):
            assert key in bridges.full_rows
        for key in (o.namespace.key, o.vxlan.key, port.key):
            assert key in interfaces.full_rows
        vx_row = " ".join(str(t) for t in bridges.full_rows[o.vxlan.key])
        assert "VNI 4097 -> 198.51.100.18" in vx_row
        assert "sw1" in " ".join(str(t) for t in bridges.full_rows[port.key])
        await pilot.press("slash", *"sw1", "enter")
        await pilot.pause()
        assert app.selected == sw1.key
        assert {port.key, o.vxlan.key} <= set(interfaces.table.marked())
        assert {port.key, o.bridge.key} <= set(bridges.table.marked())
        assert f"{port.name} ({o.namespace.name})" in marked(app, "interfaces")


async def test_the_map_draws_the_overlay_and_its_tunnel_and_selects_its_vxlan() -> None:
    snap = load_snapshot(SWARM)
    corr = correlate(snap)
    o = next(x for x in corr.overlay.networks.values() if x.network.name == "nxoverlay")
    assert o.vxlan is not None and o.underlay is not None and o.namespace is not None
    (vtep,) = o.vteps
    sw1 = container(snap, "sw1").key
    async with running(snap) as (app, pilot):
        await cursor_to(pilot, "containers", sw1)
        await open_map(pilot)
        view = map_of(app).view
        assert view.cursor_key == sw1
        text = view.drawing.text()
        assert f"br0 ({o.namespace.name}) · overlay network nxoverlay · VNI 4097" in text
        assert (
            f"VXLAN vxlan0 · VNI 4097 · UDP 4789 ─▶ {o.underlay.name} ─▶ "
            f"{vtep.ip} (node {vtep.node})" in text
        )
        # the vxlan on the map is the vxlan of the panes: selecting it there marks it here
        assert view.place(o.vxlan.key)
        map_of(app).cursor_moved()
        await pilot.pause()
        assert app.selected == o.vxlan.key
        assert o.vxlan.key in set(pane(app, "interfaces").table.marked())


async def test_with_both_nodes_open_the_details_name_the_tunnels_far_end() -> None:
    """Two hosts (the recorded nodes, as two remote reads would give them): node 1's
    vxlan and sw1 lead to node 2's vxlan and sw2; switching to node 2, the reverse."""
    snaps = [load_snapshot(SWARM), load_snapshot(SWARM.with_name("node2.snapshot.json"))]
    sources = [NamedSource(lambda s=s: s, f"node{n}") for n, s in enumerate(snaps, start=1)]
    app = NetExplorerApp(sources[0], hosts=sources)
    async with app.run_test(size=WIDE) as pilot:
        await ready(pilot)
        app.post_message(SnapshotReady(analyse(snaps[1]), 1))
        await pilot.pause()
        corr = [correlate(s) for s in snaps]
        vx = [
            next(o for o in c.overlay.networks.values() if o.network.name == "nxoverlay").vxlan
            for c in corr
        ]
        assert vx[0] is not None and vx[1] is not None
        await cursor_to(pilot, "interfaces", vx[0].key)
        text = str(app.details.body.render())
        assert "through the tunnel, on the other hosts:" in text
        assert "to VTEP 198.51.100.18 = host node2: vxlan0 in 1-" in text
        assert "sw2 (10.200.0.12)" in text
        app.switch_host(1)
        await pilot.pause()
        app.select(container(snaps[1], "sw2").key, "containers")  # its only container
        await pilot.pause()
        text = str(app.details.body.render())
        assert "to VTEP 198.51.100.17 = host node1: vxlan0 in 1-" in text
        assert "sw1 (10.200.0.11)" in text


async def two_nodes(pilot: Any, app: NetExplorerApp, node2: Any) -> None:
    await ready(pilot)
    app.post_message(SnapshotReady(analyse(node2), 1))
    await pilot.pause()


async def test_with_both_nodes_open_the_map_goes_on_to_the_far_container_and_selects_across() -> (
    None
):
    """node 1's map draws its tunnel on to node 2's vxlan, br0, veth and sw2; moving
    onto sw2 there selects it in the whole app and marks node 1's vxlan and underlay
    (the tunnel) on the map and in the panes."""
    snaps = [load_snapshot(SWARM), load_snapshot(SWARM.with_name("node2.snapshot.json"))]
    sources = [NamedSource(lambda s=s: s, f"node{n}") for n, s in enumerate(snaps, start=1)]
    app = NetExplorerApp(sources[0], hosts=sources)
    o = next(
        x for x in correlate(snaps[0]).overlay.networks.values() if x.network.name == "nxoverlay"
    )
    far_o = next(
        x for x in correlate(snaps[1]).overlay.networks.values() if x.network.name == "nxoverlay"
    )
    assert o.vxlan is not None and o.underlay is not None and far_o.vxlan is not None
    sw2 = far_key("node2", container(snaps[1], "sw2").key)
    async with app.run_test(size=WIDE) as pilot:
        await two_nodes(pilot, app, snaps[1])
        await cursor_to(pilot, "containers", container(snaps[0], "sw1").key)
        await open_map(pilot)
        view = map_of(app).view
        text = view.drawing.text()
        assert "═▶ node2: vxlan0 ─▶ br0 ─▶ veth1 ─▶ sw2 10.200.0.12" in text
        assert view.place(sw2)
        map_of(app).cursor_moved()
        await pilot.pause()
        assert app.selected == sw2
        assert {o.vxlan.key, o.underlay.key, far_key("node2", far_o.vxlan.key)} <= app.related
        assert {o.vxlan.key} <= set(pane(app, "interfaces").table.marked())
        assert "sw2 (10.200.0.12) on node2" in str(app.details.body.render())


async def test_with_both_nodes_open_the_path_goes_on_into_sw2_and_its_hops_select_there() -> None:
    snaps = [load_snapshot(SWARM), load_snapshot(SWARM.with_name("node2.snapshot.json"))]
    sources = [NamedSource(lambda s=s: s, f"node{n}") for n, s in enumerate(snaps, start=1)]
    app = NetExplorerApp(sources[0], hosts=sources)
    sw2 = far_key("node2", container(snaps[1], "sw2").key)
    async with app.run_test(size=WIDE) as pilot:
        await two_nodes(pilot, app, snaps[1])
        await open_path(pilot, "sw1", "10.200.0.12")
        screen = path_of(app)
        assert screen.result is not None and screen.result.verdict == "delivered"
        assert screen.result.hops[-1].title == (
            "on node2: delivered to sw2 (10.200.0.12) on overlay nxoverlay"
        )
        last = len(screen.result.hops) - 1
        screen.query_one(OptionList).highlighted = last
        await pilot.pause()
        assert app.selected == sw2
        assert "sw2 (10.200.0.12) on node2" in str(screen.query_one("#path-item").render())
