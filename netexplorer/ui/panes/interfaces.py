"""Host interfaces, like ``ip a``: index, name@peer, state, addresses, master, MAC."""

from __future__ import annotations

from netexplorer.analysis import Analysis
from netexplorer.model import Interface
from netexplorer.ui.panes.base import Rows, TablePane
from netexplorer.ui.safe_text import numeric, plain, safe


def link_name(iface: Interface) -> str:
    """``veth1234@if5`` as ``ip link`` prints a veth whose peer is ifindex 5."""
    name = plain(iface.name)
    return f"{name}@if{iface.link_ifindex}" if iface.link_ifindex else name


class InterfacesPane(TablePane):
    pane_id = "interfaces"
    number = 2
    title = "Host interfaces"
    sources = ("netlink",)
    short = "Interfaces"
    columns = (
        ("ifindex", "#"),
        ("name", "Name"),
        ("master", "Master"),
        ("state", "State"),
        ("addresses", "Addresses"),
        ("mac", "MAC"),
        ("kind", "Kind"),
        ("mtu", "MTU"),
    )
    full_only = frozenset({"mac", "kind", "mtu"})
    limits = {"master": 16}

    def rows(self, result: Analysis) -> Rows:
        return {
            iface.key: [
                numeric(iface.ifindex),
                safe(link_name(iface)),
                safe(iface.master),
                safe(iface.operstate.upper() if iface.operstate else ""),
                safe(" ".join(a.cidr for a in iface.addresses if a.scope != "link")),
                safe(iface.mac),
                safe(iface.kind),
                numeric(iface.mtu),
            ]
            for iface in sorted(result.read.interfaces, key=lambda i: i.ifindex)
        }
