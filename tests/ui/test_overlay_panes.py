"""Overlay networks on the panes, over the recorded two-node swarm (tests/recorded/swarm)."""

from __future__ import annotations

from pathlib import Path

from netexplorer.correlate import correlate
from netexplorer.snapshot_io import load_snapshot

from .helpers import WIDE, app_over, container, marked, pane, ready

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
    app = app_over(snap)
    async with app.run_test(size=WIDE) as pilot:
        await ready(pilot)
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
