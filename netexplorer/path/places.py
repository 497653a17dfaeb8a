"""Sources and destinations by name: a container, ``host``, ``internet``, an address,
or ``HOST:PORT``, resolved against one read of the host. ``internet`` as a source
is 203.0.113.1 arriving from outside (a packet to a published port).

The correlation supplies what the read alone does not say: which host veth and
bridge an endpoint is wired to (:func:`wiring_of`, the one place that asks it).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from netexplorer.correlate import Correlation, Wiring
from netexplorer.model import Container, Endpoint, Route, Rule, Snapshot
from netexplorer.path.packet_state import IPAddress
from netexplorer.path.result import UnknownName
from netexplorer.path.routing import (
    MAIN_TABLE,
    Namespace,
    derived_routes,
    endpoint_interfaces,
    lookup,
)

#: "internet": documentation addresses (RFC 5737 / RFC 3849), outside every local
#: network, reached by the default route (the lab routes 203.0.113.1 to nx-inet)
INTERNET = {4: "203.0.113.1", 6: "2001:db8::1"}
SPECIAL_NAMES = ("host", "internet")
#: the nat chain where Docker DNATs a swarm service's published ports to ingress_sbox
INGRESS_CHAIN = "DOCKER-INGRESS"


def wiring_of(corr: Correlation, ep: Endpoint) -> Wiring:
    """The host side of ``ep`` as correlation found it."""
    return corr.wiring(ep)


@dataclass(frozen=True, slots=True)
class Place:
    """Where a packet starts: a container with its own network namespace, the host
    (``host`` or a ``--network host`` container), or an address outside the host."""

    kind: str  # container | host | outside
    label: str
    container: Container | None = None
    address: IPAddress | None = None
    netns: Namespace | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """Where a packet goes: ``address`` and, when known, the container behind it."""

    kind: str  # container | host | address | internet
    label: str
    address: IPAddress
    container: Container | None = None
    endpoint: Endpoint | None = None
    port: int | None = None
    proto: str | None = None


def _ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def _names(read: Snapshot) -> list[str]:
    return [c.name for c in read.containers] + list(SPECIAL_NAMES)


def find_container(read: Snapshot, name: str) -> Container | None:
    """By name, full id, or a unique id prefix (3 characters or more)."""
    for ct in read.containers:
        if ct.name == name or ct.id == name:
            return ct
    if len(name) >= 3:
        hits = [c for c in read.containers if c.id.startswith(name)]
        if len(hits) == 1:
            return hits[0]
    return None


def netns_owner(read: Snapshot, ct: Container) -> Container:
    """The container whose network namespace ``ct`` uses (itself unless container:<other>)."""
    if ct.netns_owner:
        owner = next((c for c in read.containers if c.id == ct.netns_owner), None)
        if owner is not None:
            return owner
    return ct


_hosts: list[tuple[Snapshot, Namespace]] = []


def host_namespace(read: Snapshot) -> Namespace:
    """The host's routing state in ``read`` (built once per read)."""
    if not _hosts or _hosts[0][0] is not read:
        _hosts[:] = [(read, _host_namespace(read))]
    return _hosts[0][1]


def _host_namespace(read: Snapshot) -> Namespace:
    if read.routes:
        return Namespace("host", tuple(read.interfaces), tuple(read.routes), tuple(read.ip_rules))
    return Namespace(
        "host", tuple(read.interfaces), tuple(derived_routes(read.interfaces)), (), derived=True
    )


def container_namespace(ct: Container, corr: Correlation) -> Namespace:
    """The container's own view when read, else derived from Docker's endpoints."""
    inside = ct.inside
    if inside is not None and inside.routes:
        return Namespace(
            ct.name, tuple(inside.interfaces), tuple(inside.routes), tuple(inside.ip_rules)
        )
    interfaces = endpoint_interfaces(ct.endpoints, corr)
    routes = derived_routes(interfaces)
    for ep, iface in zip(ct.endpoints, interfaces, strict=True):
        for gw, fam in ((ep.gateway, "inet"), (ep.ipv6_gateway, "inet6")):
            if gw and not any(r.dst == "default" and r.family == fam for r in routes):
                routes.append(
                    Route(
                        fam,
                        "default",
                        table=MAIN_TABLE,
                        dev=iface.name,
                        ifindex=iface.ifindex,
                        gateway=gw,
                    )
                )
    return Namespace(ct.name, tuple(interfaces), tuple(routes), (), derived=True)


def resolve_source(read: Snapshot, name: str, corr: Correlation) -> Place:
    if name == "host":
        return Place("host", "host")
    if name == "internet":
        outside = ipaddress.ip_address(INTERNET[4])
        return Place("outside", f"internet ({outside})", address=outside)
    ct = find_container(read, name)
    if ct is not None:
        owner = netns_owner(read, ct)
        if owner.network_mode == "host":
            return Place("host", f"{ct.name} (--network host)", container=ct)
        return Place("container", ct.name, container=ct, netns=container_namespace(owner, corr))
    address = _ip(name)
    if address is None:
        raise UnknownName(name, _names(read))
    owner_ep = endpoint_with(corr, address)
    if owner_ep is not None:
        ct = owner_ep[0]
        return Place(
            "container",
            ct.name,
            container=ct,
            netns=container_namespace(netns_owner(read, ct), corr),
        )
    if address in host_namespace(read).addresses or address.is_loopback:
        return Place("host", f"host ({address})", address=address)
    return Place("outside", str(address), address=address)


def endpoint_with(corr: Correlation, address: IPAddress) -> tuple[Container, Endpoint] | None:
    """The running container endpoint holding ``address`` (the correlation's index)."""
    for ep in corr.endpoints_by_address.get(str(address), ()):
        ct = corr.container_of(ep)
        if ct is not None and ct.state == "running":
            return ct, ep
    return None


def _split_port(name: str) -> tuple[str, int | None]:
    if name.startswith("[") and "]:" in name:
        host, _, port = name[1:].partition("]:")
        return host, int(port) if port.isdigit() else None
    if name.count(":") == 1:
        host, _, port = name.partition(":")
        if port.isdigit():
            return host, int(port)
    return name, None


def pick_endpoint(ct: Container, version: int | None, near: Container | None) -> Endpoint | None:
    """The endpoint to reach ``ct`` at: on a network ``near`` shares, else the first
    with an address of the wanted IP version (IPv4 when not asked)."""

    def has(ep: Endpoint, v: int) -> bool:
        return bool(ep.ipv4 if v == 4 else ep.ipv6)

    versions = (version,) if version else (4, 6)
    shared = {e.network_id for e in near.endpoints} if near is not None else set()
    for v in versions:
        for ep in ct.endpoints:
            if ep.network_id in shared and has(ep, v):
                return ep
        for ep in ct.endpoints:
            if has(ep, v):
                return ep
    return None


def resolve_destination(
    read: Snapshot, corr: Correlation, name: str, source: Place, family: int | None = None
) -> Target:
    host_part, port = _split_port(name)
    if host_part in ("host", "localhost"):
        address = host_address_for(read, source, family or 4)
        published = _published(read, port)
        return Target("host", name, address, port=port, proto=published)
    if host_part == "internet":
        return Target(
            "internet",
            f"internet ({INTERNET[family or 4]})",
            ipaddress.ip_address(INTERNET[family or 4]),
            port=port,
        )
    ct = find_container(read, host_part)
    if ct is not None:
        owner = netns_owner(read, ct)
        if owner.network_mode == "host":
            address = host_address_for(read, source, family or 4)
            return Target("host", f"{ct.name} (--network host)", address, container=ct, port=port)
        ep = pick_endpoint(owner, family, source.container)
        if ep is None:
            raise UnknownName(f"{name} (it has no address)", [])
        address = ipaddress.ip_address(ep.ipv4 if (ep.ipv4 and family != 6) else ep.ipv6 or "")
        return Target("container", ct.name, address, container=ct, endpoint=ep, port=port)
    given = _ip(host_part)
    if given is None:
        raise UnknownName(name, _names(read))
    address = given
    found = endpoint_with(corr, address)
    if found is not None:
        return Target(
            "container",
            f"{found[0].name} ({address})",
            address,
            container=found[0],
            endpoint=found[1],
            port=port,
        )
    if address in host_namespace(read).addresses or address.is_loopback:
        return Target("host", f"host ({address})", address, port=port, proto=_published(read, port))
    return Target("address", str(address), address, port=port)


def _published(read: Snapshot, port: int | None) -> str | None:
    """The protocol of host port ``port`` as a container publishes it, or as a swarm
    service does through the routing mesh (a DNAT rule in nat DOCKER-INGRESS)."""
    if port is None:
        return None
    for ct in read.containers:
        for p in ct.published_ports:
            if p.host_port == port:
                return p.protocol
    for rule in read.rules:
        if ingress_dnat(rule) and rule.dport == str(port):
            return rule.protocol
    return None


def ingress_dnat(rule: Rule) -> bool:
    """A host rule by which Docker DNATs a swarm service's published port (one port,
    tcp or udp) to ingress_sbox."""
    return (
        rule.chain == INGRESS_CHAIN
        and rule.table == "nat"
        and rule.target == "DNAT"
        and rule.protocol in ("tcp", "udp")
        and (rule.dport or "").isdigit()
    )


def host_address_for(read: Snapshot, source: Place, version: int) -> IPAddress:
    """The host's address as ``source`` reaches it: a container its gateway, an
    outside address the host's address toward it, the host itself loopback."""
    if source.kind == "container" and source.container is not None:
        for ep in netns_owner(read, source.container).endpoints:
            gw = ep.gateway if version == 4 else ep.ipv6_gateway
            if gw:
                return ipaddress.ip_address(gw)
    if source.kind == "outside" and source.address is not None:
        dec = lookup(host_namespace(read), source.address)
        if dec.src:
            return ipaddress.ip_address(dec.src)
    return ipaddress.ip_address("127.0.0.1" if version == 4 else "::1")
