"""Bridges with their ports, like ``brctl show``: STP state of each port and its container."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text

from netexplorer.analysis import Analysis
from netexplorer.correlate import Correlation
from netexplorer.model import Bridge, Network, Snapshot
from netexplorer.ui.pane_rows import Rows
from netexplorer.ui.panes.base import TablePane
from netexplorer.ui.safe_text import numeric, safe


def port_owners(snapshot: Snapshot, corr: Correlation) -> dict[int, str]:
    """Host veth ifindex -> name of the container behind it."""
    out: dict[int, str] = {}
    for ct in snapshot.containers:
        for ep in ct.endpoints:
            ifindex = corr.wiring(ep).host_ifindex
            if ifindex is not None:
                out[ifindex] = ct.name
    return out


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

    def inputs(self, result: Analysis) -> tuple[object, ...]:
        read = result.read
        return (read.bridges, read.interfaces, read.containers, read.networks)

    def rows(self, result: Analysis) -> Rows:
        snapshot, corr = result.read, result.correlation
        owners = port_owners(snapshot, corr)
        rows: Rows = {}
        for br in sorted(snapshot.bridges, key=lambda b: b.name):
            rows[br.key] = bridge_row(br, br.name, corr.bridge_network.get(br.name))
            rows.update(port_rows(br, owners))
        rows.update(overlay_rows(corr))
        return rows


def bridge_row(br: Bridge, name: str, owner: str | None) -> list[Text]:
    return [
        safe(name, style="bold"),
        safe(owner),
        safe(br.operstate.upper()),
        numeric(br.ifindex),
        safe("yes" if br.stp else "no"),
    ]


def port_rows(br: Bridge, owners: Mapping[int, str | None]) -> Rows:
    """The bridge's ports by name, drawn as its branches; ``owners``: ifindex -> what
    is behind the port."""
    rows: Rows = {}
    ports = sorted(br.ports, key=lambda p: p.name)
    for n, port in enumerate(ports):
        branch = "└ " if n == len(ports) - 1 else "├ "
        rows[port.key] = [
            safe(branch) + safe(port.name),
            safe(owners.get(port.ifindex)),
            safe(port.state),
            numeric(port.ifindex),
            safe(""),
        ]
    return rows


def overlay_kind(net: Network) -> str:
    """'overlay', or 'overlay, encrypted' for one created with ``--opt encrypted``."""
    return "overlay, encrypted" if net.encrypted else "overlay"


def overlay_rows(corr: Correlation) -> Rows:
    """Each overlay network's br0 in its namespace, its ports: the vxlan (VNI, the
    VTEPs it tunnels to) and the veths (whose eth0 each is)."""
    rows: Rows = {}
    for o in sorted(corr.overlay.networks.values(), key=lambda o: o.network.name):
        if o.bridge is None or o.namespace is None:
            continue
        br = o.bridge
        name = f"{br.name} ({o.namespace.name})"
        rows[br.key] = bridge_row(br, name, f"{o.network.name} ({overlay_kind(o.network)})")
        owners = {p.port.ifindex: p.owner_name for p in o.ports}
        if o.vxlan is not None:
            vteps = ", ".join(v.ip for v in o.vteps) or "no peer"
            esp = " IPsec" if o.network.encrypted else ""
            owners[o.vxlan.ifindex] = f"VNI {o.vni}{esp} -> {vteps}"
        rows.update(port_rows(br, owners))
    return rows
