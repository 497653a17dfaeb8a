"""Bridges with their ports, like ``brctl show``: STP state of each port and its container."""

from __future__ import annotations

from netexplorer.correlate import Links
from netexplorer.model import Snapshot
from netexplorer.ui.panes.base import Rows, TablePane
from netexplorer.ui.safe_text import numeric, safe


def port_owners(snapshot: Snapshot) -> dict[int, str]:
    """Host veth ifindex -> name of the container behind it."""
    return {
        ep.host_ifindex: ct.name
        for ct in snapshot.containers
        for ep in ct.endpoints
        if ep.host_ifindex is not None
    }


class BridgesPane(TablePane):
    pane_id = "bridges"
    number = 3
    title = "Bridge ports"
    sources = ("netlink",)
    short = "Bridges"
    columns = (
        ("name", "Bridge / port"),
        ("owner", "Network / container"),
        ("state", "State"),
        ("ifindex", "#"),
        ("stp", "STP"),
    )
    full_only = frozenset({"ifindex", "stp"})
    limits = {"owner": 20}

    def rows(self, snapshot: Snapshot, links: Links) -> Rows:
        owners = port_owners(snapshot)
        rows: Rows = {}
        for br in sorted(snapshot.bridges, key=lambda b: b.name):
            rows[br.key] = [
                safe(br.name, style="bold"),
                safe(br.network),
                safe(br.operstate.upper() if br.operstate else ""),
                numeric(br.ifindex),
                safe("yes" if br.stp else "no"),
            ]
            ports = sorted(br.ports, key=lambda p: p.name)
            for n, port in enumerate(ports):
                branch = "└ " if n == len(ports) - 1 else "├ "
                name = safe(port.name)
                rows[port.key] = [
                    safe(branch) + name,
                    safe(owners.get(port.ifindex)),
                    safe(port.state),
                    numeric(port.ifindex),
                    safe(""),
                ]
        return rows
