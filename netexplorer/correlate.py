"""Correlation: which veth, bridge port, network and rules belong to which container.

``correlate(snapshot)`` fills the derived fields of the snapshot (each endpoint's
host veth, ifindex, bridge and rules; each rule's containers and bridges) and
returns a :class:`Links` index whose single query, :meth:`Links.related`, answers
"what should light up when this is selected" for every kind of item, in every
direction. It is idempotent: a snapshot loaded from JSON correlates to the same
result it was written with.

Cost is linear in what is linked: endpoints are indexed by address, by bridge and
by network subnet, so a rule is checked against the endpoints of the few networks
its addresses overlap, never against every endpoint.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from netexplorer.model import Bridge, Container, Endpoint, Interface, Network, Rule, Snapshot

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

SNAT_TARGETS = frozenset({"MASQUERADE", "SNAT"})
DNAT_TARGETS = frozenset({"DNAT"})
UNKNOWN_NETNS = "; its network namespace id is unknown (not root?)"


def iface_matches(pattern: str, name: str) -> bool:
    """iptables interface match: exact, or a prefix when the pattern ends in '+'."""
    if pattern.endswith("+"):
        return name.startswith(pattern[:-1])
    return pattern == name


def parse_network(text: str | None) -> IPNetwork | None:
    """``text`` as a network (host bits allowed: 10.0.0.1/8), None if absent or bad."""
    if not text:
        return None
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


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


@dataclass
class Links:
    """The cross-link index over one snapshot, keyed by model ``key`` strings."""

    edges: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    kinds: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    #: lines describing an item that is not in the snapshot itself (a doctor
    #: finding), for the details view
    notes: dict[str, list[str]] = field(default_factory=dict)

    def link(self, a: str, b: str) -> None:
        self.edges[a].add(b)
        self.edges[b].add(a)

    def neighbours(self, key: str) -> set[str]:
        return self.edges.get(key, set())

    def kind(self, key: str) -> str:
        return key.split(":", 1)[0]

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
        origin = self.kind(key)
        out = {key}
        first = self.neighbours(key)
        out |= first
        if origin == "doc":
            return frozenset(out)
        if origin == "ct":
            # a container sharing another's netns (container:<other>) reaches the
            # owner's endpoints, and the owner those of its sharers
            first = first | {k2 for k in first if self.kind(k) == "ct" for k2 in self.neighbours(k)}
            out |= first
        for k in first:
            if self.kind(k) != "ep":
                continue
            for k2 in self.neighbours(k):
                if origin == "rule" and self.kind(k2) == "rule":
                    continue
                out.add(k2)
        return frozenset(out)


def correlate(snap: Snapshot) -> Links:
    links = Links()
    by_name = {i.name: i for i in snap.interfaces}
    bridges = {b.name: b for b in snap.bridges}
    networks = {n.id: n for n in snap.networks}

    _link_interfaces(links, snap.interfaces, bridges, by_name)
    _link_networks(links, snap.networks, bridges, by_name)
    endpoints = _link_endpoints(links, snap, networks, bridges)
    _link_rules(links, snap, endpoints, bridges)
    attach_flows(snap)
    return links


def _link_interfaces(
    links: Links,
    interfaces: Iterable[Interface],
    bridges: dict[str, Bridge],
    by_name: dict[str, Interface],
) -> None:
    for iface in interfaces:
        links.kinds[iface.key] = "interface"
        links.labels[iface.key] = iface.name
    for br in bridges.values():
        links.labels[br.key] = br.name
        if br.name in by_name:
            links.link(br.key, by_name[br.name].key)
        for port in br.ports:
            links.link(br.key, port.key)


def _link_networks(
    links: Links,
    nets: Iterable[Network],
    bridges: dict[str, Bridge],
    by_name: dict[str, Interface],
) -> None:
    for net in nets:
        links.labels[net.key] = net.name
        if net.bridge and net.bridge in bridges:
            bridges[net.bridge].network = net.name
            links.link(net.key, bridges[net.bridge].key)
        elif net.bridge and net.bridge in by_name:
            links.link(net.key, by_name[net.bridge].key)
        if net.parent and net.parent in by_name:
            # macvlan/ipvlan: the network hangs off this host interface
            links.link(net.key, by_name[net.parent].key)


#: the sources a container's veth is found from (see _link_endpoints)
VETH_SOURCES = frozenset({"docker", "netns", "netlink"})


def _link_endpoints(
    links: Links,
    snap: Snapshot,
    networks: dict[str, Network],
    bridges: dict[str, Bridge],
) -> list[Endpoint]:
    # host veths by the netns their peer lives in, then by the bridge they serve
    veths: dict[int, dict[str, Interface]] = defaultdict(dict)
    for iface in snap.interfaces:
        if iface.kind == "veth" and iface.link_netnsid is not None and iface.master:
            veths[iface.link_netnsid][iface.master] = iface
    owner_of: dict[str, Container] = {c.id: c for c in snap.containers}
    by_name = {i.name: i for i in snap.interfaces}
    endpoints: list[Endpoint] = []
    # Docker's last read kept beside a fresh netlink one (or the other way round):
    # a veth missing from it is the sources' different moments, not the host
    mixed_reads = any(src.stale for src in snap.sources if src.name in VETH_SOURCES)
    for ct in snap.containers:
        links.labels[ct.key] = ct.name
        netns = ct.netnsid
        if ct.netns_owner is None and ct.network_mode.startswith("container:"):
            ct.netns_owner = ct.network_mode.split(":", 1)[1] or None  # older snapshots
        other = owner_of.get(ct.netns_owner) if ct.netns_owner else None
        if other is not None:
            # --network container:<other>: one network namespace, the owner's
            # endpoints are this container's interfaces
            links.link(ct.key, other.key)
            if netns is None:
                netns = other.netnsid
        for ep in ct.endpoints:
            endpoints.append(ep)
            links.labels[ep.key] = f"{ct.name}@{ep.network}"
            links.link(ct.key, ep.key)
            net = networks.get(ep.network_id)
            if net is not None:
                links.link(ep.key, net.key)
                ep.bridge = net.bridge
            ep.netnsid = netns
            ep.parent = net.parent if net is not None else None
            parent = by_name.get(ep.parent) if ep.parent else None
            ep.parent_ifindex = parent.ifindex if parent is not None else None
            if parent is not None:
                # macvlan/ipvlan: no veth; the container's interface is a child
                # of this host interface, living in the container's netns
                links.link(ep.key, parent.key)
                if net is not None and net.driver == "ipvlan" and not ep.mac:
                    # an ipvlan child has no MAC of its own (Docker reports none):
                    # in every mode it sends with its parent's
                    ep.mac = parent.mac
            if ep.bridge:
                if ep.bridge in bridges:
                    links.link(ep.key, bridges[ep.bridge].key)
                veth = veths.get(netns, {}).get(ep.bridge) if netns is not None else None
                ep.host_veth = ep.host_ifindex = ep.peer_ifindex = None  # derived: redo
                if veth is not None:
                    ep.host_veth = veth.name
                    ep.host_ifindex = veth.ifindex
                    ep.peer_ifindex = veth.link_ifindex
                    links.link(ep.key, veth.key)
                elif ct.state == "running" and ep.ipv4 and not mixed_reads:
                    _warn(
                        snap,
                        f"container {ct.name}: no host veth found for its endpoint on "
                        f"{ep.network} ({ep.bridge})"
                        + (
                            "; its network namespace id is unknown (not root?)"
                            if netns is None
                            else ""
                        ),
                    )
    return endpoints


def _warn(snap: Snapshot, message: str) -> None:
    # correlation may run again on a loaded snapshot: say each thing once
    if message not in snap.warnings:
        snap.warnings.append(message)


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
    per rule made correlation quadratic: 0.44 s at 200 networks and 5,000 rules);
    only an iptables ``+`` prefix pattern looks at them all."""
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
        found.extend(ep for ep in candidates if snat_applies(rule, ep.bridge))
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


def _link_rules(
    links: Links,
    snap: Snapshot,
    endpoints: list[Endpoint],
    bridges: dict[str, Bridge],
) -> None:
    by_bridge: dict[str, list[Endpoint]] = {name: [] for name in bridges}
    for ep in endpoints:
        ep.rules = []
        if ep.bridge in by_bridge:
            by_bridge[ep.bridge].append(ep)
    index = _AddressIndex(endpoints, snap.networks)
    snap.rule_containers = {}
    snap.rule_bridges = {}
    for rule in snap.rules:
        links.labels[rule.key] = rule.text
        found, named = _rule_endpoints(rule, index, by_bridge)
        seen: set[str] = set()
        names: set[str] = set()
        for ep in found:
            if ep.key in seen:
                continue
            seen.add(ep.key)
            ep.rules.append(rule.id)
            names.add(ep.container_name)
            links.link(rule.key, ep.key)
        for br in named:
            links.link(rule.key, bridges[br].key)
        snap.rule_containers[rule.id] = sorted(names)
        snap.rule_bridges[rule.id] = sorted(named)


def attach_flows(snap: Snapshot) -> None:
    """Hand each NATed conntrack entry to the container it belongs to.

    A SNAT flow belongs to the container whose endpoint address is its original
    source (the container started it); a DNAT flow to the one whose address
    answers it (the reply source: where a published port leads).
    """
    owner: dict[str, Container] = {}
    for ct in snap.containers:
        ct.conntrack = []
        for ep in ct.endpoints:
            for a in (ep.ipv4, ep.ipv6):
                if a and ct.state == "running":
                    owner.setdefault(a, ct)
    for flow in snap.conntrack:
        for addr, wanted in ((flow.orig_src, flow.snat), (flow.reply_src, flow.dnat)):
            found = owner.get(addr) if wanted else None
            if found is not None:
                found.conntrack.append(flow)
                break
