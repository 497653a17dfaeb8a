"""A namespace's routes, rules and interfaces as `ip -j` shows them, and the model's the same way.

Shared by the unit test on recorded dumps and the integration test on the live lab,
so both compare netexplorer with the same independent reading of `ip`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netexplorer.model import Interface, IpRule, NetnsView, Route

_TABLES = {"local": 255, "main": 254, "default": 253, "unspec": 0}


def _table(value: Any) -> int:
    if value is None:
        return 254
    name = str(value)
    return _TABLES[name] if name in _TABLES else int(name)


def _cidr(addr: str, length: Any, family: str) -> str:
    if addr == "default":
        return addr
    if "/" in addr:
        return addr
    full = 32 if family == "inet" else 128
    return f"{addr}/{length if length is not None else full}"


def truth_routes(ip4: list[Any], ip6: list[Any]) -> list[tuple[Any, ...]]:
    """`ip -4 -j route show table all` and `ip -6 -j ...` as comparable tuples."""
    out = []
    for family, routes in (("inet", ip4), ("inet6", ip6)):
        for r in routes:
            # the model shows a multipath route by its first next hop
            first = (r.get("nexthops") or [{}])[0]
            out.append(
                (
                    family,
                    r.get("type", "unicast"),
                    _cidr(r["dst"], None, family),
                    _table(r.get("table")),
                    r.get("dev", first.get("dev")),
                    r.get("gateway", first.get("gateway")),
                    r.get("prefsrc"),
                    r.get("scope", "universe"),
                    r.get("metric"),
                    # `ip` leaves out "proto boot"
                    r.get("protocol", "boot"),
                )
            )
    return sorted(out, key=repr)


def model_routes(routes: list[Route]) -> list[tuple[Any, ...]]:
    return sorted(
        (
            (
                r.family,
                r.type,
                r.dst,
                r.table,
                r.dev,
                r.gateway,
                r.prefsrc,
                r.scope,
                r.metric,
                r.protocol,
            )
            for r in routes
        ),
        key=repr,
    )


def truth_rules(ip4: list[Any], ip6: list[Any]) -> list[tuple[Any, ...]]:
    """`ip -4 -j rule` and `ip -6 -j rule` as comparable tuples."""
    out = []
    for family, rules in (("inet", ip4), ("inet6", ip6)):
        for r in rules:
            action = "goto" if "goto" in r else r.get("action", "lookup")
            src = r.get("src")
            dst = r.get("dst")
            out.append(
                (
                    family,
                    r["priority"],
                    action,
                    _table(r["table"]) if "table" in r else None,
                    None if src in (None, "all") else _cidr(src, r.get("srclen"), family),
                    None if dst in (None, "all") else _cidr(dst, r.get("dstlen"), family),
                    r.get("iif"),
                    r.get("oif"),
                    int(r["fwmark"], 16) if "fwmark" in r else None,
                    int(r["fwmask"], 16) if "fwmask" in r else None,
                    "not" in r,
                    r.get("goto"),
                )
            )
    return sorted(out, key=repr)


def model_rules(rules: list[IpRule]) -> list[tuple[Any, ...]]:
    return sorted(
        (
            (
                r.family,
                r.priority,
                r.action,
                r.table if r.action == "lookup" else None,
                r.src,
                r.dst,
                r.iif,
                r.oif,
                r.fwmark,
                # `ip` prints the mask only when it is not all ones
                r.fwmask if r.fwmask not in (None, 0xFFFFFFFF) else None,
                r.invert,
                r.goto,
            )
            for r in rules
        ),
        key=repr,
    )


def truth_interfaces(ip_addr: list[Any]) -> list[tuple[Any, ...]]:
    """`ip -j addr` inside a namespace: name, ifindex, @ifN, MAC, MTU, state, addresses."""
    index_of = {link["ifname"]: link["ifindex"] for link in ip_addr}
    return sorted(
        (
            link["ifindex"],
            link["ifname"],
            # a peer in another namespace is "link_index", one in this namespace "link"
            link.get("link_index", index_of.get(link.get("link") or "")),
            link.get("address"),
            link["mtu"],
            link["operstate"],
            sorted((a["family"], a["local"], a["prefixlen"]) for a in link.get("addr_info", [])),
        )
        for link in ip_addr
    )


def model_interfaces(interfaces: list[Interface]) -> list[tuple[Any, ...]]:
    return sorted(
        (
            i.ifindex,
            i.name,
            i.link_ifindex or None,
            i.mac,
            i.mtu,
            i.operstate,
            sorted((a.family, a.address, a.prefixlen) for a in i.addresses),
        )
        for i in interfaces
    )


def ip_views(truth: Mapping[str, Any]) -> dict[str, list[tuple[Any, ...]]]:
    """``ip -j`` of one namespace (keyed as tests/recorded/netns records it) as the
    comparable interfaces, routes and rules."""
    return {
        "interfaces": truth_interfaces(truth["ip_addr"]),
        "routes": truth_routes(truth["ip4_route"], truth["ip6_route"]),
        "rules": truth_rules(truth["ip4_rule"], truth["ip6_rule"]),
    }


def model_views(view: NetnsView) -> dict[str, list[tuple[Any, ...]]]:
    """A namespace as netexplorer read it, in the form of :func:`ip_views`."""
    return {
        "interfaces": model_interfaces(view.interfaces),
        "routes": model_routes(view.routes),
        "rules": model_rules(view.ip_rules),
    }
