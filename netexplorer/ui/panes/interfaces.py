"""Host interfaces, like ``ip a``: index, name@peer, state, addresses, master, MAC."""

from __future__ import annotations

from rich.text import Text

from netexplorer.analysis import Analysis
from netexplorer.ingress import MeshService
from netexplorer.model import Interface
from netexplorer.ui.pane_rows import Rows
from netexplorer.ui.panes.base import TablePane
from netexplorer.ui.panes.bridges import overlay_kind
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
    limits = {"master": 16, "addresses": 32}

    def inputs(self, result: Analysis) -> tuple[object, ...]:
        return (result.read.interfaces, result.read.namespaces)

    def rows(self, result: Analysis) -> Rows:
        rows: Rows = {
            iface.key: interface_row(iface)
            for iface in sorted(result.read.interfaces, key=lambda i: i.ifindex)
        }
        # Docker's namespaces, each under a row naming it and its overlay network
        networks = {
            o.namespace.name: o.network
            for o in result.correlation.overlay.networks.values()
            if o.namespace is not None
        }
        names = {ns: net.name for ns, net in networks.items()}
        for ns in sorted(result.read.namespaces, key=lambda n: (names.get(n.name, "~"), n.name)):
            net = networks.get(ns.name)
            what = f"{net.name} ({overlay_kind(net)})" if net else ns.kind
            rows[ns.key] = (
                [safe(""), safe(f"netns {ns.name}", style="bold"), safe(what)]
                + [safe(ns.error or "")]
                + [safe("")] * 4
            )
            for iface in sorted(ns.interfaces, key=lambda i: i.ifindex):
                if iface.kind or iface.name != "lo":
                    rows[iface.key] = interface_row(iface)
            for svc in result.correlation.mesh.services_of(ns.name):
                rows.update(ipvs_rows(svc))
        return rows


def ipvs_rows(svc: MeshService) -> dict[str, list[Text]]:
    """An IPVS service (the published ports marked for it) and a row per real server
    (its forwarding, weight and connections, and the container holding it)."""
    ports = ", ".join(svc.ports)
    rows = {
        svc.key: [
            safe(""),
            safe(f"ipvs {svc.service.describe()}", style="bold"),
            safe(""),
            safe(""),
            safe(f"published {ports}" if ports else ""),
            safe(""),
            safe("ipvs"),
            safe(""),
        ]
    }
    for d in svc.dests:
        rows[d.key] = [
            safe(""),
            safe(f"→ {d.dest.address}:{d.dest.port}"),
            safe(d.container_name),
            safe(d.dest.forward),
            safe(f"weight {d.dest.weight} active {d.dest.active} inactive {d.dest.inactive}"),
            safe(""),
            safe("ipvs real server"),
            safe(""),
        ]
    return rows


def interface_row(iface: Interface) -> list[Text]:
    kind = iface.kind
    if iface.vxlan is not None:
        kind = f"vxlan {iface.vxlan.vni}:{iface.vxlan.port}"
    return [
        numeric(iface.ifindex),
        safe(link_name(iface)),
        safe(iface.master),
        safe(iface.operstate.upper() if iface.operstate else ""),
        safe(" ".join(a.cidr for a in iface.addresses if a.scope != "link")),
        safe(iface.mac),
        safe(kind),
        numeric(iface.mtu),
    ]
