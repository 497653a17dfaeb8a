"""Containers: name, state, each network with its address, published ports, image."""

from __future__ import annotations

from netexplorer.correlate import Links
from netexplorer.model import Container, Snapshot
from netexplorer.ui.panes.base import Rows, TablePane
from netexplorer.ui.safe_text import plain, safe


def networks_cell(ct: Container, names: dict[str, str] | None = None) -> str:
    """``nxlab:172.30.0.2 bridge:172.17.0.4``; ``host``/``none`` alone; a container
    sharing another's namespace as ``container:<owner name>`` (``names``: id -> name)."""
    if ct.netns_owner:
        owner = (names or {}).get(ct.netns_owner, ct.netns_owner[:12])
        return f"container:{plain(owner)}"
    if not ct.endpoints:
        return plain(ct.network_mode)
    return " ".join(
        f"{plain(ep.network)}:{plain(ep.ipv4 or ep.ipv6)}"
        if ep.ipv4 or ep.ipv6
        else plain(ep.network)
        for ep in ct.endpoints
    )


def ports_cell(ct: Container) -> str:
    """``8080->80/tcp``, once per port even when published on IPv4 and IPv6."""
    seen = dict.fromkeys(
        f"{p.host_port}->{p.container_port}/{plain(p.protocol)}" for p in ct.published_ports
    )
    return " ".join(seen)


class ContainersPane(TablePane):
    pane_id = "containers"
    number = 1
    title = "Containers"
    sources = ("docker",)
    short = "Containers"
    columns = (
        ("name", "Name"),
        ("state", "State"),
        ("networks", "Networks"),
        ("ports", "Ports"),
        ("image", "Image"),
        ("id", "ID"),
    )

    def rows(self, snapshot: Snapshot, links: Links) -> Rows:
        names = {c.id: c.name for c in snapshot.containers}
        return {
            ct.key: [
                safe(ct.name),
                safe(ct.state),
                safe(networks_cell(ct, names)),
                safe(ports_cell(ct)),
                safe(ct.image),
                safe(ct.short_id),
            ]
            for ct in sorted(snapshot.containers, key=lambda c: (c.name, c.id))
        }
