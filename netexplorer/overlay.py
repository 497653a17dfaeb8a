"""Swarm overlay networks wired up from one read: a pure function, like correlate.

For each overlay network of the read: its namespace (``1-<id[:10]>``), the bridge
``br0`` there, the vxlan device on it (VNI, UDP port) and the remote VTEPs its
forwarding database names (with the swarm node each is, from the network's
peers), the veth ports and whose eth0 each one is (a container, ``lb_<id[:9]>`` or
``ingress_sbox``: a veth's ``link-netnsid`` matched with the id the namespace
gave that other namespace), and the host interface that carries the tunnel (the
one holding this node's swarm address, else the one whose subnet has a peer).

:func:`overlay_view` gives an :class:`OverlayView`; ``correlate`` links its
:attr:`OverlayView.edges` into the cross-link index, so selecting an overlay
container lights its port, br0, vxlan0 and the underlay interface.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from netexplorer.model import (
    Bridge,
    Container,
    DockerNamespace,
    Interface,
    Network,
    Snapshot,
    namespace_key,
)

#: what VXLAN adds to a frame: outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8
VXLAN_OVERHEAD = 50
#: the host's namespace in DockerNamespace.peer_netnsids
HOST = "host"


def overlay_namespace_name(network_id: str) -> str:
    """The namespace Docker makes for an overlay network on each node that has it."""
    return "1-" + network_id[:10]


@dataclass(frozen=True, slots=True)
class Vtep:
    """A remote tunnel end: a peer node's underlay address, and its name if known."""

    ip: str
    node: str | None = None
    #: container MACs the FDB sends to this VTEP
    macs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OverlayPort:
    """A veth port on br0 and whose eth0 its other end is."""

    port: Interface
    #: a container's key (ct:<id>), a Docker namespace's (ns:<name>), or None
    owner_key: str | None
    owner_name: str | None


@dataclass(frozen=True, slots=True)
class OverlayNet:
    network: Network
    namespace: DockerNamespace | None
    bridge: Bridge | None
    vxlan: Interface | None
    ports: tuple[OverlayPort, ...] = ()
    vteps: tuple[Vtep, ...] = ()
    #: the host interface carrying the tunnel (None if not found)
    underlay: Interface | None = None
    #: this node's underlay address (swarm NodeAddr)
    local_addr: str | None = None

    @property
    def vni(self) -> int | None:
        if self.vxlan is not None and self.vxlan.vxlan is not None:
            return self.vxlan.vxlan.vni
        return self.network.vni

    @property
    def mtu(self) -> int | None:
        return self.vxlan.mtu if self.vxlan is not None else None

    def missing_peers(self) -> tuple[str, ...]:
        """Peer nodes' addresses (other than this node's) no FDB entry sends to."""
        have = {v.ip for v in self.vteps}
        return tuple(
            p.ip
            for p in self.network.peers
            if p.ip and p.ip != self.local_addr and p.ip not in have
        )


def _empty() -> Mapping[Any, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class OverlayView:
    #: network id -> its overlay wiring on this node
    networks: Mapping[str, OverlayNet] = field(default_factory=_empty)
    #: endpoint key -> (network id, its veth port in the overlay namespace)
    endpoint_ports: Mapping[str, tuple[str, Interface]] = field(default_factory=_empty)
    #: key pairs to cross-link
    edges: tuple[tuple[str, str], ...] = ()

    def of_endpoint(self, ep_key: str) -> tuple[OverlayNet, Interface] | None:
        found = self.endpoint_ports.get(ep_key)
        if found is None:
            return None
        return self.networks[found[0]], found[1]


def _underlay(
    interfaces: Iterable[Interface], local: str | None, vteps: Iterable[str]
) -> Interface | None:
    ifaces = list(interfaces)
    if local:
        for i in ifaces:
            if any(a.address == local for a in i.addresses):
                return i
    for ip in vteps:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            continue
        for i in ifaces:
            for a in i.addresses:
                try:
                    if addr in ipaddress.ip_network(a.cidr, strict=False) and a.prefixlen > 0:
                        return i
                except ValueError:
                    continue
    return None


def _owners(ns: DockerNamespace, containers: Mapping[int, Container]) -> dict[int, tuple[str, str]]:
    """netns id (as ``ns`` sees it) -> (key, name) of what lives there."""
    out: dict[int, tuple[str, str]] = {}
    for other, nsid in ns.peer_netnsids.items():
        if other.startswith("pid:"):
            pid = int(other[4:]) if other[4:].isdigit() else -1
            ct = containers.get(pid)
            if ct is not None:
                out[nsid] = (ct.key, ct.name)
        elif other != HOST:
            out[nsid] = (namespace_key(other), other)
    return out


def overlay_view(read: Snapshot) -> OverlayView:
    """The overlay networks of ``read`` wired up (see the module docstring)."""
    spaces = {ns.name: ns for ns in read.namespaces}
    by_pid = {ct.pid: ct for ct in read.containers if ct.pid}
    local = read.swarm.node_addr if read.swarm is not None else None
    networks: dict[str, OverlayNet] = {}
    endpoint_ports: dict[str, tuple[str, Interface]] = {}
    edges: list[tuple[str, str]] = []
    for net in read.networks:
        if net.driver != "overlay":
            continue
        ns = spaces.get(overlay_namespace_name(net.id))
        if ns is None:
            networks[net.id] = OverlayNet(net, None, None, None, local_addr=local)
            continue
        edges.append((net.key, ns.key))
        bridge = next((b for b in ns.bridges if b.name == "br0"), None) or next(
            iter(ns.bridges), None
        )
        vxlan = next((i for i in ns.interfaces if i.kind == "vxlan"), None)
        peer_names = {p.ip: p.name for p in net.peers}
        macs: dict[str, list[str]] = {}
        for entry in ns.fdb:
            if entry.dst and vxlan is not None and entry.ifindex == vxlan.ifindex:
                macs.setdefault(entry.dst, []).append(entry.mac)
        vteps = tuple(
            Vtep(ip, peer_names.get(ip), tuple(sorted(m))) for ip, m in sorted(macs.items())
        )
        owners = _owners(ns, by_pid)
        ports: list[OverlayPort] = []
        if bridge is not None:
            edges.append((net.key, bridge.key))
            for bp in bridge.ports:
                iface = next((i for i in ns.interfaces if i.ifindex == bp.ifindex), None)
                if iface is None or iface.kind != "veth":
                    continue
                owner = owners.get(iface.link_netnsid) if iface.link_netnsid is not None else None
                ports.append(
                    OverlayPort(iface, owner[0] if owner else None, owner[1] if owner else None)
                )
        underlay = _underlay(read.interfaces, local, macs)
        if vxlan is not None and underlay is not None:
            edges.append((vxlan.key, underlay.key))
        if vxlan is not None and bridge is not None:
            edges.append((bridge.key, vxlan.key))
        networks[net.id] = OverlayNet(net, ns, bridge, vxlan, tuple(ports), vteps, underlay, local)
        # endpoints of this network -> their port (by the container that owns it)
        port_of = {p.owner_key: p.port for p in ports if p.owner_key}
        for ct in read.containers:
            for ep in ct.endpoints:
                if ep.network_id != net.id:
                    continue
                port = port_of.get(ct.key)
                if port is None:
                    continue
                endpoint_ports[ep.key] = (net.id, port)
                edges.append((ep.key, port.key))
                if bridge is not None:
                    edges.append((ep.key, bridge.key))
                if vxlan is not None:
                    edges.append((ep.key, vxlan.key))
    return OverlayView(
        networks=MappingProxyType(networks),
        endpoint_ports=MappingProxyType(endpoint_ports),
        edges=tuple(edges),
    )


def overlay_hops(o: OverlayNet, port: Interface) -> list[str]:
    """An overlay endpoint's way out, hop by hop, as raw host text (callers make it
    literal): its veth in the namespace, br0, the vxlan with VNI, each VTEP with its
    node, the underlay interface."""
    ns = o.namespace.name if o.namespace is not None else "?"
    hops = [
        f"{port.name}@if{port.link_ifindex or '?'}",
        f"{o.bridge.name if o.bridge else 'br0'} in {ns}",
    ]
    if o.vxlan is not None:
        hops.append(f"{o.vxlan.name} VNI {o.vni}")
    for v in o.vteps:
        hops.append(f"VTEP {v.ip}" + (f" ({v.node})" if v.node else ""))
    if o.underlay is not None:
        hops.append(f"via {o.underlay.name}")
    return hops
