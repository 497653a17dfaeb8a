"""Containers: name, state, each network with its address, published ports, image."""

from __future__ import annotations

from collections.abc import Sequence

from netexplorer.analysis import Analysis
from netexplorer.model import Container
from netexplorer.naming import network_mode_name
from netexplorer.ui.pane_rows import Rows
from netexplorer.ui.panes.base import TablePane
from netexplorer.ui.safe_text import plain, safe


def networks_cell(ct: Container, containers: Sequence[Container]) -> str:
    """``nxlab:172.30.0.2 bridge:172.17.0.4``; ``host``/``none`` alone; a container
    sharing another's namespace as ``container:<owner name>``."""
    if ct.netns_owner or not ct.endpoints or ct.network_mode in ("host", "none"):
        return plain(network_mode_name(ct, containers))
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
        ("networks", "Networks"),
        ("ports", "Ports"),
        ("state", "State"),
        ("image", "Image"),
        ("id", "ID"),
    )
    full_only = frozenset({"id"})
    limits = {"name": 24, "networks": 36, "image": 16}

    def inputs(self, result: Analysis) -> tuple[object, ...]:
        return (result.read.containers,)

    def rows(self, result: Analysis) -> Rows:
        snapshot = result.read
        return {
            ct.key: [
                safe(ct.name),
                safe(networks_cell(ct, snapshot.containers)),
                safe(ports_cell(ct)),
                safe(ct.state),
                safe(ct.image),
                safe(ct.short_id),
            ]
            for ct in sorted(snapshot.containers, key=lambda c: (c.name, c.id))
        }
