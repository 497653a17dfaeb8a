"""Correlation: which veth, bridge port, network and rules belong to which container.

``correlate(read)`` is a pure function of a collected :class:`~netexplorer.model.Snapshot`
(the read): it never writes into it. It returns a :class:`Correlation` holding what is
derived from the read: each endpoint's :class:`Wiring` (host veth, ifindexes, bridge,
macvlan/ipvlan parent, related rules), each rule's containers and bridges, each
container's NATed conntrack flows, the network behind each bridge, warnings, the
read-only indexes the UI and the doctor look things up in, and a :class:`Links` index
whose single query, :meth:`Links.related`, answers "what should light up when this is
selected" for every kind of item, in every direction.

Cost is linear in what is linked: endpoints are indexed by address, by bridge and
by network subnet, so a rule is checked against the endpoints of the few networks
its addresses overlap, never against every endpoint.
"""

from __future__ import annotations

import copy
import functools
import ipaddress
from collections import ChainMap, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from netexplorer.ingress import MeshView, mesh_view
from netexplorer.ipsec import rule_vni
from netexplorer.model import (
    DNAT_TARGETS as DNAT_TARGETS,
)
from netexplorer.model import (
    SNAT_TARGETS as SNAT_TARGETS,
)
from netexplorer.model import (
    Container,
    Endpoint,
    Interface,
    NatFlow,
    Network,
    Rule,
    Snapshot,
)
from netexplorer.overlay import OverlayView, overlay_view

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def iface_matches(pattern: str, name: str) -> bool:
    """iptables interface match: exact, or a prefix when the pattern ends in '+'."""
    if pattern.endswith("+"):
        return name.startswith(pattern[:-1])
    return pattern == name


#: addresses and networks parsed, kept across reads: a live poll correlates every
#: rule again, and nearly all of them name the same few networks as before
_PARSED = 4096


@functools.lru_cache(maxsize=_PARSED)
def parse_network(text: str | None) -> IPNetwork | None:
    """``text`` as a network (host bits allowed: 10.0.0.1/8), None if absent or bad."""
    if not text:
        return None
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


@functools.lru_cache(maxsize=_PARSED)
def _addr(text: str | None) -> IPAddress | None:
    if not text:
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def dnat_address(to_destination: str) -> IPAddress | None:
    """The address in a DNAT ``--to-destination``: ``1.2.3.4:80``, ``[fd00::2]:80``,
    ``1.2.3.4-1.2.3.9`` (first of a range) or a bare address."""
    text = to_destination.strip()
    if text.startswith("["):
        return _addr(text[1 : text.find("]")])
    if text.count(":") == 1:  # IPv4 with port
        text = text.split(":", 1)[0]
    return _addr(text.split("-", 1)[0])


@dataclass(slots=True)
class _EndpointAddr:
    endpoint: Endpoint
    address: IPAddress


def _kind(key: str) -> str:
    return key.split(":", 1)[0]


class Links:
    """The cross-link index over one read, keyed by model ``key`` strings. Read-only.

    :meth:`extended` gives a new index with more items linked in (the doctor's
    findings) without copying or touching this one.
    """

    __slots__ = ("_base", "_edges", "labels", "notes")

    def __init__(
        self,
        edges: Mapping[str, Iterable[str]] | None = None,
        labels: Mapping[str, str] | None = None,
        notes: Mapping[str, list[str]] | None = None,
        base: Links | None = None,
    ) -> None:
        self._edges: dict[str, frozenset[str]] = {k: frozenset(v) for k, v in (edges or {}).items()}
        self._base = base
        own_labels = dict(labels or {})
        own_notes = {k: list(v) for k, v in (notes or {}).items()}
        #: key -> what to call it (a name, a rule's text)
        self.labels: Mapping[str, str] = (
            ChainMap(own_labels, dict(base.labels)) if base is not None else own_labels
        )
        #: lines describing an item that is not in the read itself (a doctor
        #: finding), for the details view
        self.notes: Mapping[str, list[str]] = (
            ChainMap(own_notes, dict(base.notes)) if base is not None else own_notes
        )

    def extended(
        self,
        pairs: Iterable[tuple[str, str]],
        labels: Mapping[str, str],
        notes: Mapping[str, list[str]],
    ) -> Links:
        """This index plus the links ``pairs`` (both ways), ``labels`` and ``notes``."""
        edges: dict[str, set[str]] = defaultdict(set)
        for a, b in pairs:
            edges[a].add(b)
            edges[b].add(a)
        return Links(edges, labels, notes, base=self)

    def renoted(self, notes: Mapping[str, list[str]]) -> Links:
        """This index with the notes of ``notes``' keys replaced: the same links and
        labels (shared, not copied)."""
        out = copy.copy(self)
        out.notes = {**self.notes, **{k: list(v) for k, v in notes.items()}}
        return out

    def neighbours(self, key: str) -> frozenset[str]:
        own = self._edges.get(key, frozenset())
        if self._base is None:
            return own
        return own | self._base.neighbours(key) if own else self._base.neighbours(key)

    def kind(self, key: str) -> str:
        return _kind(key)

    def related(self, key: str) -> frozenset[str]:
        """Everything to highlight when ``key`` is selected (``key`` itself included).

        One step to direct neighbours, then through each endpoint reached to the
        endpoint's own neighbours: container -> its endpoints -> veth, port,
        bridge, network, rules; rule -> endpoints -> containers, veths (but not
        the endpoints' other rules); veth -> its one endpoint (so a multi-homed
        container's interface lights only its own network's rules); bridge ->
        ports, endpoints -> containers. A container sharing another's network
        namespace (``container:<other>``) also reaches the other's endpoints and
        what they link to. A doctor finding (``doc:<id>``, linked by
        :func:`netexplorer.doctor.link_findings`) relates to its evidence only.
        """
        origin = _kind(key)
        out = {key}
        first = self.neighbours(key)
        out |= first
        if origin == "doc":
            return frozenset(out)
        if origin == "ct":
            # a container sharing another's netns (container:<other>) reaches the
            # owner's endpoints, and the owner those of its sharers
            first = first | {k2 for k in first if _kind(k) == "ct" for k2 in self.neighbours(k)}
            out |= first
        for k in first:
            if _kind(k) != "ep":
                continue
            for k2 in self.neighbours(k):
                if origin == "rule" and _kind(k2) == "rule":
                    continue
                out.add(k2)
        return frozenset(out)


@dataclass(frozen=True, slots=True)
class Wiring:
    """How one endpoint is wired on the host, as correlation found it."""

    #: the bridge of the endpoint's network (docker0, br-<id12> ...), if a bridge network
    bridge: str | None = None
    host_veth: str | None = None
    host_ifindex: int | None = None
    #: ifindex of the container-side interface (the ``@ifN`` of the host veth)
    peer_ifindex: int | None = None
    #: netns id of the container's namespace as seen from the host (for a
    #: ``container:<other>`` container, the owner's)
    netnsid: int | None = None
    #: macvlan/ipvlan: the host interface the container's interface hangs off; no veth then
    parent: str | None = None
    parent_ifindex: int | None = None
    #: the MAC the endpoint sends with: Docker's, or for an ipvlan child (Docker
    #: reports none) its parent's
    mac: str | None = None
    #: ids of the rules that concern this endpoint
    rules: tuple[str, ...] = ()


_NO_WIRING = Wiring()


def _empty() -> Mapping[Any, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Correlation:
    """What correlation derived from one read (see the module docstring). Read-only."""

    links: Links = field(default_factory=Links)
    #: rule id -> names of the containers it applies to (sorted)
    rule_containers: Mapping[str, tuple[str, ...]] = field(default_factory=_empty)
    #: rule id -> names of the bridges it names (sorted)
    rule_bridges: Mapping[str, tuple[str, ...]] = field(default_factory=_empty)
    #: bridge name -> name of the Docker network behind it
    bridge_network: Mapping[str, str] = field(default_factory=_empty)
    #: sentences about what correlation could not find (not in the read's warnings)
    warnings: tuple[str, ...] = ()
    interfaces_by_name: Mapping[str, Interface] = field(default_factory=_empty)
    interfaces_by_ifindex: Mapping[int, Interface] = field(default_factory=_empty)
    containers_by_id: Mapping[str, Container] = field(default_factory=_empty)
    containers_by_name: Mapping[str, Container] = field(default_factory=_empty)
    #: an endpoint address (IPv4 or IPv6 text) -> the endpoints that have it
    endpoints_by_address: Mapping[str, tuple[Endpoint, ...]] = field(default_factory=_empty)
    #: endpoint key -> its wiring
    wirings: Mapping[str, Wiring] = field(default_factory=_empty)
    #: container id -> its NATed conntrack flows
    container_flows: Mapping[str, tuple[NatFlow, ...]] = field(default_factory=_empty)
    #: swarm overlay networks: namespace, br0, vxlan, ports, VTEPs (netexplorer.overlay)
    overlay: OverlayView = field(default_factory=OverlayView)
    #: the swarm ingress routing mesh: rules of its namespaces and the tasks', IPVS
    #: services and their real servers (netexplorer.ingress)
    mesh: MeshView = field(default_factory=MeshView)

    def wiring(self, ep: Endpoint) -> Wiring:
        return self.wirings.get(ep.key, _NO_WIRING)

    def flows(self, ct: Container) -> tuple[NatFlow, ...]:
        """The container's live NATed conntrack entries (see :func:`nat_flows`)."""
        return self.container_flows.get(ct.id, ())

    def netns_owner(self, ct: Container) -> Container | None:
        """The container whose network namespace ``ct`` shares (``container:<other>``)."""
        return self.containers_by_id.get(ct.netns_owner) if ct.netns_owner else None

    def container_of(self, ep: Endpoint) -> Container | None:
        return self.containers_by_id.get(ep.container_id)


class _Builder:
    """The mutable state of one correlation run, frozen into a Correlation at the end."""

    def __init__(self, read: Snapshot) -> None:
        self.read = read
        self.edges: dict[str, set[str]] = defaultdict(set)
        self.labels: dict[str, str] = {}
        #: key -> lines describing an item that is not in the read (an IPVS service)
        self.notes: dict[str, list[str]] = {}
        self.warnings: list[str] = []
        self._said = set(read.warnings)
        self.interfaces_by_name = {i.name: i for i in read.interfaces}
        self.bridges = {b.name: b for b in read.bridges}
        self.networks = {n.id: n for n in read.networks}
        self.containers_by_id = {c.id: c for c in read.containers}
        self.wirings: dict[str, Wiring] = {}
        self.endpoint_rules: dict[str, list[str]] = defaultdict(list)
        self.bridge_network: dict[str, str] = {}
        self.rule_containers: dict[str, tuple[str, ...]] = {}
        self.rule_bridges: dict[str, tuple[str, ...]] = {}

    def link(self, a: str, b: str) -> None:
        self.edges[a].add(b)
        self.edges[b].add(a)

    def warn(self, message: str) -> None:
        """Say ``message`` once, and not when the read says it already (a loaded file)."""
        if message not in self._said:
            self._said.add(message)
            self.warnings.append(message)


def correlate(read: Snapshot) -> Correlation:
    """Everything derived from ``read``; ``read`` is not changed."""
    b = _Builder(read)
    _link_interfaces(b)
    _link_networks(b)
    endpoints = _link_endpoints(b)
    _link_rules(b, endpoints)
    _link_vni_rules(b)
    overlay = _link_overlay(b)
    mesh = _link_mesh(b)
    by_address: dict[str, list[Endpoint]] = defaultdict(list)
    for ep in endpoints:
        for a in (ep.ipv4, ep.ipv6):
            if a:
                by_address[a].append(ep)
    wirings = {key: _with_rules(w, b.endpoint_rules.get(key)) for key, w in b.wirings.items()}
    return Correlation(
        links=Links(b.edges, b.labels, b.notes),
        rule_containers=MappingProxyType(b.rule_containers),
        rule_bridges=MappingProxyType(b.rule_bridges),
        bridge_network=MappingProxyType(b.bridge_network),
        warnings=tuple(b.warnings),
        interfaces_by_name=MappingProxyType(b.interfaces_by_name),
        interfaces_by_ifindex=MappingProxyType({i.ifindex: i for i in read.interfaces}),
        containers_by_id=MappingProxyType(b.containers_by_id),
        containers_by_name=MappingProxyType({c.name: c for c in read.containers}),
        endpoints_by_address=MappingProxyType({a: tuple(e) for a, e in by_address.items()}),
        wirings=MappingProxyType(wirings),
        container_flows=nat_flows(read),
        overlay=overlay,
        mesh=mesh,
    )


def _link_overlay(b: _Builder) -> OverlayView:
    """Docker's namespaces' interfaces and bridges, and the overlay wiring, linked in."""
    for ns in b.read.namespaces:
        b.labels[ns.key] = ns.name
        for iface in ns.interfaces:
            b.labels[iface.key] = f"{iface.name} ({ns.name})"
        for br in ns.bridges:
            b.labels[br.key] = f"{br.name} ({ns.name})"
            for port in br.ports:
                b.link(br.key, port.key)
    view = overlay_view(b.read)
    for x, y in view.edges:
        b.link(x, y)
    return view


def _link_mesh(b: _Builder) -> MeshView:
    """The routing mesh's rules (labelled with their namespace) and IPVS services
    (labelled, described in notes), linked in."""
    view = mesh_view(b.read)
    for mr in view.rules:
        b.labels[mr.rule.key] = f"[{mr.owner_name}] {mr.rule.text}"
    for svc in view.services:
        b.labels[svc.key] = f"IPVS {svc.service.describe()} ({svc.netns})"
        for d in svc.dests:
            holder = f" ({d.container_name})" if d.container_name else ""
            b.labels[d.key] = f"{d.dest.address}:{d.dest.port}{holder}"
    b.notes.update(mesh_notes(view))
    for x, y in view.edges:
        b.link(x, y)
    return view


def mesh_notes(view: MeshView) -> dict[str, list[str]]:
    """The lines describing each IPVS service and real server of the mesh (its
    connection counts among them)."""
    notes: dict[str, list[str]] = {}
    for svc in view.services:
        ports = ", ".join(svc.ports) or "none"
        lines = [f"IPVS service {svc.service.describe()} in {svc.netns}"]
        lines.append(f"published ports marked for it: {ports}")
        lines += [f"real server {d.dest.describe()}" for d in svc.dests] or ["no real server"]
        notes[svc.key] = lines
        for d in svc.dests:
            notes[d.key] = [
                f"real server of IPVS {svc.service.describe()} in {svc.netns}",
                d.dest.describe(),
                f"held by {d.container_name}"
                if d.container_name
                else "no container of this read holds its address",
            ]
    return notes


def with_mesh_counts(corr: Correlation, read: Snapshot) -> Correlation:
    """``corr`` made for ``read``, a read that differs from ``corr``'s only in the
    counters of the routing mesh (its rules', its IPVS real servers' connections)
    and so in the objects holding them (``analysis.counters_only``): the mesh view,
    its IPVS notes and the container indexes made again, the rest taken over."""
    view = mesh_view(read)
    return replace(
        corr,
        links=corr.links.renoted(mesh_notes(view)),
        containers_by_id=MappingProxyType({c.id: c for c in read.containers}),
        containers_by_name=MappingProxyType({c.name: c for c in read.containers}),
        mesh=view,
    )


def _with_rules(w: Wiring, rules: list[str] | None) -> Wiring:
    if not rules:
        return w
    return Wiring(
        w.bridge,
        w.host_veth,
        w.host_ifindex,
        w.peer_ifindex,
        w.netnsid,
        w.parent,
        w.parent_ifindex,
        w.mac,
        tuple(rules),
    )


def _link_interfaces(b: _Builder) -> None:
    for iface in b.read.interfaces:
        b.labels[iface.key] = iface.name
    for br in b.bridges.values():
        b.labels[br.key] = br.name
        if br.name in b.interfaces_by_name:
            b.link(br.key, b.interfaces_by_name[br.name].key)
        for port in br.ports:
            b.link(br.key, port.key)


def _link_networks(b: _Builder) -> None:
    for net in b.read.networks:
        b.labels[net.key] = net.name
        if net.bridge and net.bridge in b.bridges:
            b.bridge_network[net.bridge] = net.name
            b.link(net.key, b.bridges[net.bridge].key)
        elif net.bridge and net.bridge in b.interfaces_by_name:
            b.link(net.key, b.interfaces_by_name[net.bridge].key)
        if net.parent and net.parent in b.interfaces_by_name:
            # macvlan/ipvlan: the network hangs off this host interface
            b.link(net.key, b.interfaces_by_name[net.parent].key)


#: the sources a container's veth is found from (see _link_endpoints)
VETH_SOURCES = frozenset({"docker", "netns", "netlink"})


def _link_endpoints(b: _Builder) -> list[Endpoint]:
    read = b.read
    # host veths by the netns their peer lives in, then by the bridge they serve
    veths: dict[int, dict[str, Interface]] = defaultdict(dict)
    for iface in read.interfaces:
        if iface.kind == "veth" and iface.link_netnsid is not None and iface.master:
            veths[iface.link_netnsid][iface.master] = iface
    endpoints: list[Endpoint] = []
    # Docker's last read kept beside a fresh netlink one (or the other way round):
    # a veth missing from it is the sources' different moments, not the host
    mixed_reads = any(src.stale for src in read.sources if src.name in VETH_SOURCES)
    for ct in read.containers:
        b.labels[ct.key] = ct.name
        netns = ct.netnsid
        other = b.containers_by_id.get(ct.netns_owner) if ct.netns_owner else None
        if other is not None:
            # --network container:<other>: one network namespace, the owner's
            # endpoints are this container's interfaces
            b.link(ct.key, other.key)
            if netns is None:
                netns = other.netnsid
        for ep in ct.endpoints:
            endpoints.append(ep)
            b.labels[ep.key] = f"{ct.name}@{ep.network}"
            b.link(ct.key, ep.key)
            net = b.networks.get(ep.network_id)
            bridge = net.bridge if net is not None else None
            if net is not None:
                b.link(ep.key, net.key)
            parent_name = net.parent if net is not None else None
            parent = b.interfaces_by_name.get(parent_name) if parent_name else None
            mac = ep.mac
            if parent is not None:
                # macvlan/ipvlan: no veth; the container's interface is a child
                # of this host interface, living in the container's netns
                b.link(ep.key, parent.key)
                if net is not None and net.driver == "ipvlan" and not mac:
                    # an ipvlan child has no MAC of its own (Docker reports none):
                    # in every mode it sends with its parent's
                    mac = parent.mac
            veth = None
            if bridge:
                if bridge in b.bridges:
                    b.link(ep.key, b.bridges[bridge].key)
                veth = veths.get(netns, {}).get(bridge) if netns is not None else None
                if veth is not None:
                    b.link(ep.key, veth.key)
                elif ct.state == "running" and ep.ipv4 and not mixed_reads:
                    b.warn(
                        f"container {ct.name}: no host veth found for its endpoint on "
                        f"{ep.network} ({bridge})"
                        + (
                            "; its network namespace id is unknown (not root?)"
                            if netns is None
                            else ""
                        ),
                    )
            b.wirings[ep.key] = Wiring(
                bridge=bridge,
                host_veth=veth.name if veth is not None else None,
                host_ifindex=veth.ifindex if veth is not None else None,
                peer_ifindex=veth.link_ifindex if veth is not None else None,
                netnsid=netns,
                parent=parent_name,
                parent_ifindex=parent.ifindex if parent is not None else None,
                mac=mac,
            )
    return endpoints


def _endpoint_addrs(endpoints: Iterable[Endpoint]) -> list[_EndpointAddr]:
    out = []
    for ep in endpoints:
        for text in (ep.ipv4, ep.ipv6):
            a = _addr(text)
            if a is not None:
                out.append(_EndpointAddr(ep, a))
    return out


class _AddressIndex:
    """Endpoint addresses by exact address and grouped by enclosing subnet.

    Subnets are looked up by (IP version, prefix length), never scanned: with one
    subnet per network, scanning them per endpoint and per rule grew with
    networks x (endpoints + rules).
    """

    def __init__(self, endpoints: Iterable[Endpoint], nets: Iterable[Network]) -> None:
        self.exact: dict[IPAddress, list[Endpoint]] = defaultdict(list)
        subnets = [n for net in nets for s in net.subnets if (n := parse_network(s)) is not None]
        #: (version, prefix length) -> (netmask as int, {network address as int:
        #: (first position in ``subnets``, subnet)}); ints: no object per lookup
        self._subnets: dict[tuple[int, int], tuple[int, dict[int, tuple[int, IPNetwork]]]] = {}
        for pos, net in enumerate(subnets):
            _, table = self._subnets.setdefault(
                (net.version, net.prefixlen), (int(net.netmask), {})
            )
            table.setdefault(int(net.network_address), (pos, net))
        grouped: dict[IPNetwork | None, list[_EndpointAddr]] = defaultdict(list)
        for ea in _endpoint_addrs(endpoints):
            self.exact[ea.address].append(ea.endpoint)
            grouped[self._home(ea.address)].append(ea)
        self.groups: list[tuple[IPNetwork | None, list[_EndpointAddr]]] = list(grouped.items())
        #: group position by subnet; and (version, prefix length, P) -> subnets of
        #: that length by their supernet of length P, built when a rule asks
        self._group_at = {subnet: i for i, (subnet, _) in enumerate(self.groups)}
        self._inside: dict[tuple[int, int, int], dict[IPNetwork, list[int]]] = {}

    def _home(self, address: IPAddress) -> IPNetwork | None:
        """The first subnet (in network order) holding ``address``, if any."""
        best: tuple[int, IPNetwork] | None = None
        value = int(address)
        for (version, _), (mask, table) in self._subnets.items():
            if version != address.version:
                continue
            hit = table.get(value & mask)
            if hit is not None and (best is None or hit[0] < best[0]):
                best = hit
        return best[1] if best else None

    def _overlapping(self, cidr: IPNetwork) -> list[int]:
        """Positions of the groups whose subnet overlaps ``cidr`` (or has none)."""
        found = [self._group_at[None]] if None in self._group_at else []
        for version, plen in self._subnets:
            if version != cidr.version:
                continue
            if plen <= cidr.prefixlen:  # a subnet holding cidr
                sup = cidr.supernet(new_prefix=plen) if plen < cidr.prefixlen else cidr
                if sup in self._group_at:
                    found.append(self._group_at[sup])
            else:  # subnets inside cidr
                key = (version, plen, cidr.prefixlen)
                if key not in self._inside:
                    inside: dict[IPNetwork, list[int]] = defaultdict(list)
                    for subnet, i in self._group_at.items():
                        if subnet is not None and (subnet.version, subnet.prefixlen) == (
                            version,
                            plen,
                        ):
                            inside[subnet.supernet(new_prefix=cidr.prefixlen)].append(i)
                    self._inside[key] = inside
                found.extend(self._inside[key].get(cidr, ()))
        return sorted(set(found))

    def within(self, cidr: IPNetwork) -> list[Endpoint]:
        if cidr.num_addresses == 1:
            return list(self.exact.get(cidr.network_address, ()))
        out: list[Endpoint] = []
        for i in self._overlapping(cidr):
            _, members = self.groups[i]
            out.extend(
                m.endpoint
                for m in members
                if m.address.version == cidr.version and m.address in cidr
            )
        return out


def _named_bridges(rule: Rule, by_bridge: dict[str, list[Endpoint]]) -> list[str]:
    """The bridges of ``by_bridge`` that the rule's in, out or verdict-map interface
    names, in ``by_bridge`` order: a dict lookup per name (looping over every bridge
    per rule would grow with bridges x rules); only an iptables ``+`` prefix pattern
    looks at them all."""
    found: set[str] = set()
    for pat in (rule.in_interface, rule.out_interface, rule.chain_interface):
        if pat is None:
            continue
        if pat.endswith("+"):
            found.update(br for br in by_bridge if iface_matches(pat, br))
        elif pat in by_bridge:
            found.add(pat)
    if len(found) < 2:
        return list(found)
    return [br for br in by_bridge if br in found]


def _rule_endpoints(
    rule: Rule,
    index: _AddressIndex,
    by_bridge: dict[str, list[Endpoint]],
    wirings: Mapping[str, Wiring],
) -> tuple[list[Endpoint], list[str]]:
    """Endpoints a rule concerns, and the bridges it names.

    A native nftables rule in a chain that a verdict map dispatches on an
    interface (Docker's ``filter-forward-in__docker0`` ...) names that bridge as
    if it had the interface condition itself.
    """
    table = table_kind(rule)
    named = _named_bridges(rule, by_bridge)
    found: list[Endpoint] = []
    src = None if rule.source_negated else parse_network(rule.source)
    dst = None if rule.destination_negated else parse_network(rule.destination)
    if table == "nat" and rule.target in SNAT_TARGETS:
        # nftables nat-postrouting-out__X is dispatched on iifname X: only
        # packets coming from bridge X, whatever the rule's own conditions
        came_from = rule.chain_interface if rule.chain_interface_dir == "in" else None
        if src is not None:
            candidates = index.within(src)
        elif came_from is not None:
            candidates = [
                ep for br in named if iface_matches(came_from, br) for ep in by_bridge[br]
            ]
        else:
            candidates = []
        found.extend(ep for ep in candidates if snat_applies(rule, wirings[ep.key].bridge))
    elif table == "nat" and rule.target in DNAT_TARGETS:
        to = dnat_address(rule.target_options.get("--to-destination", ""))
        if to is not None:
            found.extend(index.exact.get(to, ()))
    elif table != "nat":
        # a rule naming one address concerns that endpoint only (Docker's per-port
        # ACCEPT in chain DOCKER); a filter rule naming a bridge concerns the
        # endpoints on it that its address conditions admit
        for cidr in (src, dst):
            if cidr is not None and cidr.num_addresses == 1:
                found.extend(index.exact.get(cidr.network_address, ()))
        if not found and table == "filter":
            for br in named:
                found.extend(ep for ep in by_bridge[br] if _admits(src, ep) and _admits(dst, ep))
    return found, named


def table_kind(rule: Rule) -> str:
    """The rule's iptables table; for native nftables (whose table is e.g.
    docker-bridges) nat if it translates addresses (only nat chains may), else
    the prefix of Docker's chain names (filter-FORWARD, raw-PREROUTING,
    filter-forward-in__docker0 ...), else ""."""
    if rule.backend != "nftables":
        return rule.table
    if rule.target in SNAT_TARGETS or rule.target in DNAT_TARGETS:
        return "nat"
    head = rule.chain.split("-", 1)[0]
    return head if head in ("filter", "nat", "raw", "mangle") else ""


def _admits(cidr: IPNetwork | None, ep: Endpoint) -> bool:
    if cidr is None:
        return True
    return any(
        a is not None and a.version == cidr.version and a in cidr
        for a in (_addr(ep.ipv4), _addr(ep.ipv6))
    )


def _leaves_bridge(rule: Rule, bridge: str | None) -> bool:
    """Does the rule's out-interface condition let a packet leave ``bridge``?"""
    if rule.out_interface is None or bridge is None:
        return True
    if rule.out_negated:
        return True  # "! -o X": any interface but X, and there is always another
    return not iface_matches(rule.out_interface, bridge)


def snat_applies(rule: Rule, bridge: str | None) -> bool:
    """Does a MASQUERADE/SNAT rule see packets that come from ``bridge`` and leave it?

    Its own out-interface condition must let them leave the bridge; a native
    nftables rule in a chain dispatched on the input interface
    (``nat-postrouting-out__X``, ``chain_interface_dir`` "in") sees only packets
    from bridge X, and one in a chain dispatched on the output interface
    (``nat-postrouting-in__X``, "out") only packets going into bridge X, which
    never leave ``bridge`` when X is ``bridge``. (Whether its source admits the
    bridge's addresses is the caller's: correlation asks per endpoint, the
    doctor per subnet.)
    """
    via, direction = rule.chain_interface, rule.chain_interface_dir
    if via is not None and direction == "in" and (bridge is None or not iface_matches(via, bridge)):
        return False
    if via is not None and direction == "out" and bridge is not None and iface_matches(via, bridge):
        return False
    return _leaves_bridge(rule, bridge)


def _link_rules(b: _Builder, endpoints: list[Endpoint]) -> None:
    by_bridge: dict[str, list[Endpoint]] = {name: [] for name in b.bridges}
    for ep in endpoints:
        bridge = b.wirings[ep.key].bridge
        if bridge in by_bridge:
            by_bridge[bridge].append(ep)
    index = _AddressIndex(endpoints, b.read.networks)
    for rule in b.read.rules:
        b.labels[rule.key] = rule.text
        found, named = _rule_endpoints(rule, index, by_bridge, b.wirings)
        seen: set[str] = set()
        names: set[str] = set()
        rule_key = rule.key
        for ep in found:
            ep_key = ep.key
            if ep_key in seen:
                continue
            seen.add(ep_key)
            b.endpoint_rules[ep_key].append(rule.id)
            names.add(ep.container_name)
            b.link(rule_key, ep_key)
        for br in named:
            b.link(rule.key, b.bridges[br].key)
        b.rule_containers[rule.id] = tuple(sorted(names))
        b.rule_bridges[rule.id] = tuple(sorted(named))


def _link_vni_rules(b: _Builder) -> None:
    """An overlay network and the host's rules matching its VNI in the VXLAN header
    (``-m u32``): Docker's mark and plaintext-drop rules of an encrypted overlay."""
    by_vni = {
        vni: net.key
        for net in b.read.networks
        if net.driver == "overlay" and (vni := net.vni) is not None
    }
    if not by_vni:
        return
    for rule in b.read.rules:
        if rule.netns is None and (vni := rule_vni(rule)) is not None and vni in by_vni:
            b.link(rule.key, by_vni[vni])


def nat_flows(read: Snapshot) -> Mapping[str, tuple[NatFlow, ...]]:
    """Each NATed conntrack entry, by the id of the container it belongs to.

    A SNAT flow belongs to the container whose endpoint address is its original
    source (the container started it); a DNAT flow to the one whose address
    answers it (the reply source: where a published port leads).
    """
    owner: dict[str, Container] = {}
    for ct in read.containers:
        if ct.state != "running":
            continue
        for ep in ct.endpoints:
            for a in (ep.ipv4, ep.ipv6):
                if a:
                    owner.setdefault(a, ct)
    out: dict[str, list[NatFlow]] = defaultdict(list)
    for flow in read.conntrack:
        for addr, wanted in ((flow.orig_src, flow.snat), (flow.reply_src, flow.dnat)):
            found = owner.get(addr) if wanted else None
            if found is not None:
                out[found.id].append(flow)
                break
    return MappingProxyType({k: tuple(v) for k, v in out.items()})
