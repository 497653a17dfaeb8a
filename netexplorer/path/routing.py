"""Route lookup in one network namespace: policy rules, then tables, like ``ip route get``.

Policy rules run by priority; a rule whose selectors hold (from, to, iif, fwmark;
``not`` inverts) looks its table up or ends the lookup (unreachable, blackhole,
prohibit). In a table the longest prefix wins, then the lowest metric. Without
policy rules read, the kernel's defaults apply (local, main, default). The
source address is the route's ``src``, else an address of the outgoing
interface, preferring one in the same subnet as the next hop.

When a namespace's routes were not read (an older snapshot), they are derived
from its addresses: a connected route per address and, for a container, a
default route via its endpoint's gateway. The decision says so.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from netexplorer.correlate import Correlation, parse_network
from netexplorer.model import Address, Endpoint, Interface, IpRule, Route
from netexplorer.path.packet_state import IPAddress

LOCAL_TABLE, MAIN_TABLE, DEFAULT_TABLE = 255, 254, 253
_DEFAULT_RULES = ((0, LOCAL_TABLE), (32766, MAIN_TABLE), (32767, DEFAULT_TABLE))
_TABLE_NAMES = {LOCAL_TABLE: "local", MAIN_TABLE: "main", DEFAULT_TABLE: "default"}
_ENDING = frozenset({"unreachable", "blackhole", "prohibit"})


def family_of(text: str | int) -> int:
    """4 or 6 from the families the model writes (inet, inet6, ipv4, ipv6, 2, 10)."""
    return 6 if str(text) in ("inet6", "ipv6", "6", "10") else 4


def table_name(table: int) -> str:
    return _TABLE_NAMES.get(table, str(table))


@dataclass(frozen=True)
class Namespace:
    """One network namespace's routing state."""

    label: str
    interfaces: tuple[Interface, ...]
    routes: tuple[Route, ...]
    rules: tuple[IpRule, ...]
    #: routes derived from addresses (not read from the kernel)
    derived: bool = False

    @functools.cached_property
    def addresses(self) -> frozenset[IPAddress]:
        """The namespace's own addresses (its interfaces', and local routes')."""
        out: set[IPAddress] = set()
        for iface in self.interfaces:
            for a in iface.addresses:
                try:
                    out.add(ipaddress.ip_address(a.address))
                except ValueError:
                    continue
        for r in self.routes:
            if r.type == "local" and r.table == LOCAL_TABLE:
                net = parse_network(r.dst)
                if net is not None and net.num_addresses == 1:
                    out.add(net.network_address)
        return frozenset(out)


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """The answer of one lookup. ``type`` is the route's type (unicast, local ...)
    or ``none`` when nothing matched; ``src`` the chosen source address."""

    type: str
    route: Route | None
    table: int | None
    rule: IpRule | None
    dev: str | None
    ifindex: int | None
    gateway: str | None
    src: str | None
    derived: bool = False

    def describe(self, dst: str) -> str:
        """Like ``ip route get``: ``203.0.113.1 via 198.51.100.2 dev nx-inet0 src 198.51.100.1``."""
        if self.type == "none":
            return f"{dst}: no route"
        if self.type in _ENDING:
            return f"{self.type} {dst}"
        parts = [("local " if self.type == "local" else "") + dst]
        if self.gateway:
            parts.append(f"via {self.gateway}")
        if self.dev:
            parts.append(f"dev {self.dev}")
        elif self.ifindex is not None:
            parts.append(f"dev if{self.ifindex}")
        if self.table not in (None, MAIN_TABLE):
            parts.append(f"table {table_name(self.table or 0)}")
        if self.src:
            parts.append(f"src {self.src}")
        return " ".join(parts)


def _route_net(route: Route) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if route.dst == "default":
        return ipaddress.ip_network("::/0" if family_of(route.family) == 6 else "0.0.0.0/0")
    return parse_network(route.dst)


def _rule_selects(rule: IpRule, dst: IPAddress, src: IPAddress | None, iif: str | None) -> bool:
    ok = True
    if rule.src and rule.src != "all":
        net = parse_network(rule.src)
        ok = (
            ok and src is not None and net is not None and net.version == src.version and src in net
        )
    if rule.dst and rule.dst != "all":
        net = parse_network(rule.dst)
        ok = ok and net is not None and net.version == dst.version and dst in net
    if rule.iif:
        ok = ok and (iif or "lo") == rule.iif
    if rule.oif:
        ok = False  # only sockets bound to the device: never a forwarded packet
    if rule.fwmark:
        mask = rule.fwmask if rule.fwmask is not None else 0xFFFFFFFF
        ok = ok and (0 & mask) == rule.fwmark  # the packets followed here carry no mark
    return ok != rule.invert


def lookup(
    ns: Namespace, dst: IPAddress, src: IPAddress | None = None, iif: str | None = None
) -> RouteDecision:
    """The route the kernel would pick in ``ns`` for a packet to ``dst``."""
    version = dst.version
    rules: Iterable[tuple[int, int, IpRule | None]]
    own = [r for r in ns.rules if family_of(r.family) == version]
    if own:
        rules = [(r.priority, r.table, r) for r in sorted(own, key=lambda r: r.priority)]
    else:
        rules = [(p, t, None) for p, t in _DEFAULT_RULES]
    by_table: dict[int, list[Route]] = {}
    for r in ns.routes:
        if family_of(r.family) == version:
            by_table.setdefault(r.table, []).append(r)
    local = dst in ns.addresses or dst.is_loopback
    for _, table, rule in rules:
        if rule is not None and not _rule_selects(rule, dst, src, iif):
            continue
        if rule is not None and rule.action in _ENDING:
            return RouteDecision(rule.action, None, None, rule, None, None, None, None, ns.derived)
        if rule is not None and rule.action not in ("lookup", "to_tbl", "table"):
            continue
        if (
            table == LOCAL_TABLE
            and local
            and not any(r.type == "local" for r in by_table.get(LOCAL_TABLE, []))
        ):
            # local routes not read: the address is the namespace's own
            return RouteDecision(
                "local", None, LOCAL_TABLE, rule, "lo", None, None, str(dst), ns.derived
            )
        best: Route | None = None
        best_key: tuple[int, int] | None = None
        for route in by_table.get(table, []):
            net = _route_net(route)
            if net is None or net.version != version or dst not in net:
                continue
            key = (-net.prefixlen, route.metric or 0)
            if best_key is None or key < best_key:
                best, best_key = route, key
        if best is None or best.type == "throw":  # throw: on to the next policy rule
            continue
        if best.type in _ENDING:
            return RouteDecision(best.type, best, table, rule, None, None, None, None, ns.derived)
        if best.type == "local":
            return RouteDecision(
                "local", best, table, rule, "lo", best.ifindex, None, str(dst), ns.derived
            )
        return RouteDecision(
            best.type,
            best,
            table,
            rule,
            best.dev,
            best.ifindex,
            best.gateway,
            best.prefsrc or _source_for(ns, best, dst),
            ns.derived,
        )
    return RouteDecision("none", None, None, None, None, None, None, None, ns.derived)


def _source_for(ns: Namespace, route: Route, dst: IPAddress) -> str | None:
    iface = next(
        (
            i
            for i in ns.interfaces
            if (route.dev is not None and i.name == route.dev)
            or (route.ifindex is not None and i.ifindex == route.ifindex)
        ),
        None,
    )
    if iface is None:
        return None
    hop = route.gateway or str(dst)
    return select_source(iface.addresses, hop, dst.version)


def select_source(addresses: Iterable[Address], nexthop: str | None, version: int) -> str | None:
    """An address to send from: one whose subnet holds the next hop, else the first
    global one of that family (link-local and host-scope ones last)."""
    candidates = [a for a in addresses if family_of(a.family) == version]
    try:
        hop = ipaddress.ip_address(nexthop) if nexthop else None
    except ValueError:
        hop = None
    for a in candidates:
        net = parse_network(a.cidr)
        if (
            hop is not None
            and net is not None
            and net.version == hop.version
            and hop in net
            and a.scope == "global"
        ):
            return a.address
    for a in candidates:
        if a.scope == "global":
            return a.address
    return candidates[0].address if candidates else None


def derived_routes(interfaces: Iterable[Interface], table: int = MAIN_TABLE) -> list[Route]:
    """Connected routes of ``interfaces``' addresses (``proto kernel scope link``)."""
    out = []
    for iface in interfaces:
        for a in iface.addresses:
            net = parse_network(a.cidr)
            if net is None or a.scope != "global" or net.num_addresses == 1:
                continue
            out.append(
                Route(
                    family=a.family,
                    dst=str(net),
                    table=table,
                    dev=iface.name,
                    ifindex=iface.ifindex,
                    prefsrc=a.address if a.family == "inet" else None,
                    scope="link",
                    protocol="kernel",
                )
            )
    return out


def endpoint_interfaces(endpoints: Iterable[Endpoint], corr: Correlation) -> list[Interface]:
    """A container's interfaces as far as Docker knows them (name unknown: ``if<N>``,
    N the container-side ifindex when correlated)."""
    out = []
    for n, ep in enumerate(endpoints):
        addrs = []
        if ep.ipv4:
            addrs.append(Address("inet", ep.ipv4, ep.ipv4_prefixlen or 32))
        if ep.ipv6:
            addrs.append(Address("inet6", ep.ipv6, ep.ipv6_prefixlen or 128))
        peer = corr.wiring(ep).peer_ifindex
        index = peer if peer is not None else -(n + 1)
        out.append(
            Interface(
                ifindex=index,
                name=f"if{index}" if index > 0 else f"({ep.network})",
                kind="veth",
                operstate="up",
                mac=ep.mac,
                addresses=addrs,
            )
        )
    return out
