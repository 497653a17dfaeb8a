"""The map's facts: what the drawing and the exports show, built from one correlated read.

``build_map(snapshot, links)`` turns a snapshot into a :class:`HostMap`: every
network as a bus (a bridge with its subnet and gateway, or a macvlan/ipvlan
parent interface), every container once with its interfaces as seen inside it,
each joined to its network by a veth (labelled with the host veth) or as a child
of the parent; per bridge the NAT step (its MASQUERADE rules with their packet
counters, IPv4 and NAT66) leading to the host's egress interface, or "no way out"
for an internal network; a swarm overlay as br0 in its namespace, its members
joined by their veth there, whose way out is a VXLAN tunnel (VNI, UDP port) over
the underlay interface to the peer nodes its FDB names (with another host's read
given, on to that node's vxlan, br0, veth and container); published ports as
inbound arrows through their DNAT rule; a swarm service's published port as
entering through the ingress routing mesh (DNAT to ingress_sbox, its MARK, the
IPVS service) to each of its tasks (and the task's REDIRECT to the target
port); ``container:`` sidecars with their owner;
host-network and ``none`` containers on their own. Keys are the model keys the
panes use (``ct:``, ``br:``, ``if:``, ``rule:``), so one selection works on both.

Pure: nothing here reads the host or writes into the snapshot.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from netexplorer.correlate import (
    Correlation,
    Links,
    parse_network,
    snat_applies,
    table_kind,
)
from netexplorer.model import (
    SNAT_TARGETS,
    Container,
    Endpoint,
    Interface,
    Network,
    Rule,
    Snapshot,
    bridge_key,
)
from netexplorer.overlay import OverlayNet
from netexplorer.overlay_peers import FarEnd
from netexplorer.path.mesh import mesh_ports
from netexplorer.path.routing import MAIN_TABLE

#: the key of the map's "internet" node (not a host item: nothing else selects it)
INTERNET_KEY = "map:internet"
#: the key of the host-network group
HOST_KEY = "map:host"

BRIDGE = "bridge"
CHILD = "child"  # macvlan / ipvlan
OVERLAY = "overlay"  # a swarm overlay: br0 in its namespace, out through a VXLAN tunnel


@dataclass(frozen=True, slots=True)
class NatStep:
    """One source-NAT rule a network's outbound traffic goes through."""

    key: str
    family: str  # ipv4 | ipv6 (NAT66)
    target: str  # MASQUERADE | SNAT
    text: str
    packets: int
    #: packets since the previous read (live), None when unknown
    delta_packets: int | None


@dataclass(frozen=True, slots=True)
class VxlanTunnel:
    """An overlay bus's way out: its vxlan device, the host interface carrying the
    tunnel, and the peer nodes its FDB names (VTEP address, node name)."""

    vxlan: str
    vxlan_key: str
    vni: int | None
    port: int
    underlay: str | None
    underlay_key: str | None
    peers: tuple[tuple[str, str | None], ...]
    #: where the tunnel ends on the other hosts being explored (empty: one host)
    far: tuple[FarEnd, ...] = ()
    #: the overlay is encrypted: its VXLAN travels inside IPsec ESP between nodes
    encrypted: bool = False


@dataclass(frozen=True, slots=True)
class Bus:
    """A network containers join: a Linux bridge, or a macvlan/ipvlan parent."""

    key: str  # br:<bridge> (bridge); net:<id> (child, or a bridge not in the read)
    network_key: str
    network: str
    driver: str
    kind: str  # BRIDGE | CHILD
    #: the bridge's name (docker0, br-<id12>) or the parent interface's
    device: str
    #: the key of that bridge or parent interface (None when not in the read)
    device_key: str | None
    subnets: tuple[str, ...]
    gateways: tuple[str, ...]
    internal: bool
    ipv6: bool
    #: macvlan/ipvlan mode (bridge, l2, l3 ...); None for bridges
    mode: str | None
    nat: tuple[NatStep, ...]
    #: containers joined to it
    members: int
    #: an overlay's VXLAN tunnel (None: not an overlay, or its namespace not read)
    tunnel: VxlanTunnel | None = None
    #: an overlay created with ``--opt encrypted``: IPsec (ESP) between the nodes
    encrypted: bool = False


@dataclass(frozen=True, slots=True)
class Link:
    """A container interface joined to a bus (a veth pair, or a child of the parent)."""

    bus_key: str
    #: the interface's name inside the container (eth0), or its index (``@if23``)
    #: while the read has no names from inside
    inside: str
    addresses: tuple[str, ...]
    #: the host side: the veth's name and key; for a child the driver and mode
    label: str
    label_key: str | None


@dataclass(frozen=True, slots=True)
class PortArrow:
    """A published port: host interface -> DNAT rule -> container port."""

    host_if: str
    host_if_key: str | None
    host_ip: str
    host_port: int
    protocol: str
    container_port: int
    rule_key: str | None
    rule_text: str | None


@dataclass(frozen=True, slots=True)
class MeshTaskArrow:
    """One task a mesh port's IPVS service sends to: its container (key None: no
    container of the read holds the address), the port it gets the packet on and
    the REDIRECT rule inside it that sets that port."""

    key: str | None
    name: str
    address: str
    port: int | None
    redirect_key: str | None


@dataclass(frozen=True, slots=True)
class MeshArrow:
    """A port a swarm service publishes through the ingress routing mesh: host port
    -> DNAT (rule) -> ingress_sbox -> MARK (rule) -> IPVS service -> its tasks;
    ``missing`` says what the read lacks for the rest."""

    protocol: str
    port: int
    dnat_key: str
    to: str
    sbox: str | None
    sbox_key: str | None
    mark: int | None
    mark_key: str | None
    service: str | None
    tasks: tuple[MeshTaskArrow, ...]
    missing: str | None


@dataclass(frozen=True, slots=True)
class Sidecar:
    key: str
    name: str


@dataclass(frozen=True, slots=True)
class CtNode:
    key: str
    name: str
    state: str
    #: bridge, host, none, child (macvlan/ipvlan only), sidecar, other
    mode: str
    links: tuple[Link, ...]
    ports: tuple[PortArrow, ...]
    #: containers sharing this one's network namespace (``container:<this>``)
    sidecars: tuple[Sidecar, ...]
    #: networks it is on that the map has no bus for ("ingress (overlay)")
    elsewhere: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Egress:
    """The host interface traffic to the internet leaves by."""

    name: str
    key: str | None
    #: how it was found, for people: "default route", or why it is a guess
    basis: str


@dataclass(frozen=True, slots=True)
class HostMap:
    host: str
    buses: tuple[Bus, ...]
    #: containers joined to at least one bus, each once
    containers: tuple[CtNode, ...]
    #: ``--network host`` containers (on the host itself)
    host_containers: tuple[CtNode, ...]
    #: ``none`` containers and containers with no network at all (standing alone)
    alone: tuple[CtNode, ...]
    #: ``container:`` sidecars whose owner is not in the read
    orphans: tuple[CtNode, ...]
    egress: Egress | None
    labels: dict[str, str] = field(default_factory=dict)
    #: the IPv6 default route's interface (NAT66 leads there); None without one
    egress6: Egress | None = None
    #: the read holds the host's routes (older snapshots do not)
    routes_read: bool = True
    #: ports swarm services publish through the ingress routing mesh
    mesh: tuple[MeshArrow, ...] = ()

    @property
    def no_egress(self) -> str:
        """Why ``egress`` is None, for people."""
        return "no default route" if self.routes_read else (
            "unknown (no routes read, and no up interface with a global address)"
        )  # fmt: skip

    def bus(self, key: str) -> Bus | None:
        return next((b for b in self.buses if b.key == key), None)


# ------------------------------------------------------------------ reading the correlation
def _host_veth(ep: Endpoint, corr: Correlation) -> Interface | None:
    """The host veth of a bridge endpoint, as correlation found it."""
    ifindex = corr.wiring(ep).host_ifindex
    return corr.interfaces_by_ifindex.get(ifindex) if ifindex is not None else None


def _overlay_port(ep: Endpoint, corr: Correlation) -> Interface | None:
    """An overlay endpoint's veth: a port of br0 in the overlay's namespace."""
    found = corr.overlay.of_endpoint(ep.key)
    return found[1] if found is not None else None


def _inside_name(ep: Endpoint, ct: Container, corr: Correlation) -> str:
    """The container-side interface's name as the container sees it (eth0): from its
    own view when read (by the veth peer's ifindex, or by address for a
    macvlan/ipvlan child), else its index (``@ifN``) from the host veth."""
    peer = corr.wiring(ep).peer_ifindex
    inside = ct.inside.interfaces if ct.inside is not None else []
    for iface in inside:
        if peer is not None and iface.ifindex == peer:
            return iface.name
    addrs = {a for a in (ep.ipv4, ep.ipv6) if a}
    for iface in inside:
        if addrs & {a.address for a in iface.addresses}:
            return iface.name
    return f"@if{peer}" if peer is not None else "?"


# ------------------------------------------------------------------ egress
def egress_of(snap: Snapshot, family: str = "inet") -> Egress | None:
    """The host interface of the default route of ``family`` (inet, inet6), the one
    with the lowest metric in the main table; None without one.

    A snapshot without routes (older ones) gets, for IPv4, the one interface that
    is up, holds a global address and is neither Docker's (bridge, veth) nor
    loopback, and the basis says it is a deduction.
    """
    if snap.routes:
        defaults = [
            r
            for r in snap.routes
            if r.family == family and r.dst == "default" and r.table == MAIN_TABLE
            and r.type == "unicast" and r.dev
        ]  # fmt: skip
        if not defaults:
            return None
        best = min(defaults, key=lambda r: r.metric or 0)
        assert best.dev is not None
        iface = next((i for i in snap.interfaces if i.name == best.dev), None)
        via = f" via {best.gateway}" if best.gateway else ""
        return Egress(best.dev, iface.key if iface else None, f"default route{via}")
    if family != "inet":
        return None
    candidates = [
        i
        for i in snap.interfaces
        if i.kind not in ("bridge", "veth", "macvlan", "ipvlan", "ifb", "dummy")
        and i.name != "lo"
        and i.operstate.lower() in ("up", "unknown")
        and any(
            a.scope == "global" and not ipaddress.ip_address(a.address).is_link_local
            for a in i.addresses
        )
    ]
    if not candidates:
        return None
    first = candidates[0]
    if len(candidates) == 1:
        basis = "the only up interface with a global address (no routes read)"
    else:
        others = ", ".join(i.name for i in candidates[1:])
        basis = f"first up interface with a global address (also: {others}; no routes read)"
    return Egress(first.name, first.key, basis)


# ------------------------------------------------------------------ building
class _NatIndex:
    """Source-NAT rules by the network their ``-s`` names, or the bridge a verdict map
    dispatches them on: a network's rules are a few dict lookups, not a scan."""

    def __init__(self, rules: list[Rule]) -> None:
        #: (IP version, prefix length) -> network address as int -> rules
        self.by_source: dict[tuple[int, int], dict[int, list[Rule]]] = {}
        self.by_chain: dict[str, list[Rule]] = {}
        for rule in rules:
            if rule.target not in SNAT_TARGETS or table_kind(rule) != "nat":
                continue
            if rule.source_negated:
                continue
            src = parse_network(rule.source)
            if src is not None:
                table = self.by_source.setdefault((src.version, src.prefixlen), {})
                table.setdefault(int(src.network_address), []).append(rule)
            elif rule.chain_interface is not None and rule.chain_interface_dir == "in":
                self.by_chain.setdefault(rule.chain_interface, []).append(rule)

    def steps(self, net: Network) -> tuple[NatStep, ...]:
        """The SNAT/MASQUERADE rules that translate traffic leaving ``net``'s bridge."""
        found: list[Rule] = []
        for text in net.subnets:
            subnet = parse_network(text)
            if subnet is None:
                continue
            bits = subnet.max_prefixlen
            value = int(subnet.network_address)
            for (version, plen), table in self.by_source.items():
                if version == subnet.version and plen <= subnet.prefixlen:
                    mask = ((1 << plen) - 1) << (bits - plen)
                    found.extend(table.get(value & mask, ()))
        if net.bridge:
            found.extend(self.by_chain.get(net.bridge, ()))
        out = []
        for rule in sorted(found, key=lambda r: (r.family, r.position)):
            if not snat_applies(rule, net.bridge):
                continue
            src = parse_network(rule.source)
            v6 = src.version == 6 if src is not None else rule.family == "ipv6"
            out.append(
                NatStep(
                    rule.key,
                    "ipv6" if v6 else "ipv4",
                    rule.target,
                    rule.text,
                    rule.packets,
                    rule.delta_packets,
                )
            )
        return tuple(out)


def _overlay_bus(o: OverlayNet, far: Mapping[str, Sequence[FarEnd]]) -> Bus:
    net = o.network
    where = o.namespace.name if o.namespace is not None else "namespace not read"
    tunnel = None
    if o.vxlan is not None:
        tunnel = VxlanTunnel(
            o.vxlan.name,
            o.vxlan.key,
            o.vni,
            o.vxlan.vxlan.port if o.vxlan.vxlan is not None else 4789,
            o.underlay.name if o.underlay is not None else None,
            o.underlay.key if o.underlay is not None else None,
            tuple((v.ip, v.node) for v in o.vteps),
            tuple(far.get(o.vxlan.key, ())),
            net.encrypted,
        )
    return Bus(
        net.key, net.key, net.name, net.driver, OVERLAY,
        f"{o.bridge.name if o.bridge is not None else 'br0'} ({where})",
        o.bridge.key if o.bridge is not None else None,
        tuple(net.subnets), tuple(net.gateways), net.internal, net.enable_ipv6,
        None, (), 0, tunnel, net.encrypted,
    )  # fmt: skip


def _bus_of(
    net: Network,
    by_name: dict[str, Interface],
    bridges: set[str],
    nat: _NatIndex,
    corr: Correlation,
    far: Mapping[str, Sequence[FarEnd]],
) -> Bus | None:
    overlay = corr.overlay.networks.get(net.id)
    if overlay is not None:
        return _overlay_bus(overlay, far)
    if net.bridge:
        key = bridge_key(net.bridge) if net.bridge in bridges else net.key
        steps = () if net.internal else nat.steps(net)
        return Bus(
            key, net.key, net.name, net.driver, BRIDGE, net.bridge,
            key if net.bridge in bridges else None,
            tuple(net.subnets), tuple(net.gateways), net.internal, net.enable_ipv6,
            None, steps, 0,
        )  # fmt: skip
    if net.parent:
        parent = by_name.get(net.parent)
        return Bus(
            net.key, net.key, net.name, net.driver, CHILD, net.parent,
            parent.key if parent is not None else None, tuple(net.subnets),
            tuple(net.gateways), net.internal, net.enable_ipv6, net.child_mode, (), 0,
        )  # fmt: skip
    return None


def _port_arrows(
    ct: Container,
    links: Links,
    rules: dict[str, Rule],
    egress: Egress | None,
    by_addr: dict[str, Interface],
) -> tuple[PortArrow, ...]:
    dnat = [
        rules[k.removeprefix("rule:")]
        for ep in ct.endpoints
        for k in sorted(links.neighbours(ep.key))
        if k.startswith("rule:")
        and k.removeprefix("rule:") in rules
        and rules[k.removeprefix("rule:")].target == "DNAT"
    ]
    out = []
    for p in ct.published_ports:
        wildcard = p.host_ip in ("", "0.0.0.0", "::")
        v6 = ":" in p.host_ip
        rule = next(
            (
                r
                for r in dnat
                if r.dport == str(p.host_port)
                and (r.protocol or "tcp") == p.protocol
                and (r.family == "ipv6") == v6
            ),
            None,
        )
        iface = egress if wildcard else None
        host = by_addr.get(p.host_ip)
        out.append(
            PortArrow(
                host.name if host is not None else (iface.name if iface else "host"),
                host.key if host is not None else (iface.key if iface else None),
                p.host_ip or "0.0.0.0",
                p.host_port,
                p.protocol,
                p.container_port,
                rule.key if rule is not None else None,
                rule.text if rule is not None else None,
            )
        )
    return tuple(out)


def _mesh_arrows(snap: Snapshot, corr: Correlation) -> tuple[MeshArrow, ...]:
    out = []
    for m in mesh_ports(snap, corr):
        tasks = tuple(
            MeshTaskArrow(
                t.container.key if t.container is not None else None,
                t.container.name if t.container is not None else t.address,
                t.address,
                t.port,
                t.redirect.key if t.redirect is not None else None,
            )
            for t in m.tasks
        )
        out.append(
            MeshArrow(
                m.protocol,
                m.port,
                m.dnat.key,
                m.to,
                m.sbox.name if m.sbox is not None else None,
                m.sbox.key if m.sbox is not None else None,
                m.mark,
                m.mark_rule.key if m.mark_rule is not None else None,
                m.service.describe() if m.service is not None else None,
                tasks,
                m.missing,
            )
        )
    return tuple(out)


def _mode(ct: Container, has_bus: bool, child_only: bool) -> str:
    if ct.netns_owner:
        return "sidecar"
    if ct.network_mode == "host":
        return "host"
    if ct.network_mode == "none":
        return "none"
    if has_bus:
        return "child" if child_only else "bridge"
    return "other"


def build_map(
    snap: Snapshot, corr: Correlation, far: Mapping[str, Sequence[FarEnd]] | None = None
) -> HostMap:
    """The map of ``snap`` (``corr = correlate(snap)``); ``far``: where its tunnels
    lead on the other hosts being explored (``overlay_peers.join(...).ends``)."""
    links = corr.links
    by_name = {i.name: i for i in snap.interfaces}
    by_addr = {a.address: i for i in snap.interfaces for a in i.addresses}
    rules = {r.id: r for r in snap.rules}
    nat = _NatIndex(snap.rules)
    bridges = {b.name for b in snap.bridges}
    egress = egress_of(snap)
    nets = {n.id: n for n in snap.networks}

    buses: dict[str, Bus] = {}
    bus_of_net: dict[str, Bus] = {}
    for net in snap.networks:
        bus = _bus_of(net, by_name, bridges, nat, corr, far or {})
        if bus is not None:
            bus_of_net[net.id] = bus
    members: dict[str, int] = {}

    sharers: dict[str, list[Container]] = {}
    ids = {c.id for c in snap.containers}
    for ct in snap.containers:
        if ct.netns_owner:
            sharers.setdefault(ct.netns_owner, []).append(ct)

    joined: list[CtNode] = []
    on_host: list[CtNode] = []
    alone: list[CtNode] = []
    orphans: list[CtNode] = []
    for ct in snap.containers:
        ct_links = []
        elsewhere = []
        child_only = True
        for ep in ct.endpoints:
            bus = bus_of_net.get(ep.network_id)
            if bus is None:
                if ep.network not in ("host", "none"):
                    other = nets.get(ep.network_id)
                    elsewhere.append(f"{ep.network} ({other.driver if other else 'unknown'})")
                continue
            addrs = tuple(a for a in (ep.ipv4, ep.ipv6) if a)
            if bus.kind in (BRIDGE, OVERLAY):
                child_only = False
                veth = _overlay_port(ep, corr) if bus.kind == OVERLAY else _host_veth(ep, corr)
                link = Link(
                    bus.key,
                    _inside_name(ep, ct, corr),
                    addrs,
                    veth.name if veth is not None else "no veth found",
                    veth.key if veth is not None else None,
                )
            else:
                link = Link(
                    bus.key, _inside_name(ep, ct, corr), addrs, f"{bus.driver} {bus.mode}", None
                )
            ct_links.append(link)
            members[bus.key] = members.get(bus.key, 0) + 1
            buses.setdefault(bus.key, bus)
        node = CtNode(
            ct.key,
            ct.name,
            ct.state,
            _mode(ct, bool(ct_links), child_only),
            tuple(ct_links),
            _port_arrows(ct, links, rules, egress, by_addr),
            tuple(Sidecar(s.key, s.name) for s in sharers.get(ct.id, [])),
            tuple(elsewhere),
        )
        if node.mode == "sidecar":
            if ct.netns_owner not in ids:
                orphans.append(node)
            continue
        if node.mode == "host":
            on_host.append(node)
        elif ct_links:
            joined.append(node)
        else:
            alone.append(node)

    # every network with a bus is drawn, joined or not (an empty docker0 too)
    for bus in bus_of_net.values():
        buses.setdefault(bus.key, bus)
    ordered = sorted(buses.values(), key=_bus_order)
    final = tuple(replace(b, members=members.get(b.key, 0)) for b in ordered)
    labels = dict(links.labels)
    labels[INTERNET_KEY] = "internet"
    for ends in (far or {}).values():
        for end in ends:
            labels.update(end.names())
    return HostMap(
        snap.host,
        final,
        tuple(joined),
        tuple(on_host),
        tuple(alone),
        tuple(orphans),
        egress,
        labels,
        egress_of(snap, "inet6"),
        bool(snap.routes),
        _mesh_arrows(snap, corr),
    )


def _bus_order(bus: Bus) -> tuple[int, int, str]:
    """docker0 first, then bridges by network name, overlays, macvlan/ipvlan parents."""
    kind = {BRIDGE: 0, OVERLAY: 1}.get(bus.kind, 2)
    return (kind, 0 if bus.device == "docker0" else 1, bus.network)
