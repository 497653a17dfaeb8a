"""What a network namespace shows from inside: its interfaces, routes and policy rules.

A container's own view (``ip a``, ``ip route show table all``, ``ip rule`` as they
print inside it) is read over rtnetlink without ``docker exec`` and without a
process per container: one worker thread enters each container's namespace with
setns(2) on ``/proc/<pid>/ns/net``, opens a netlink socket there (a socket stays in
the namespace it was created in), and goes straight back to the host's namespace;
the dumps then run over that socket. pyroute2 encodes the requests and decodes the
answers (its ``IPRoute(netns=...)`` would fork a helper process per namespace).
The host's routes and rules are read the same way over a socket of its own.

The message -> model conversion (:func:`parse_routes`, :func:`parse_ip_rules`,
:func:`parse_netns`) is pure and accepts live pyroute2 messages as well as their
plain form (:func:`~netexplorer.collect.netlink_source.message_to_plain`).

Nothing here changes a namespace: only dumps are requested.
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from netexplorer.collect import netlink_select, rtnl_socket
from netexplorer.collect.errors import SourceError
from netexplorer.collect.netlink_source import (
    AF_INET,
    AF_INET6,
    Message,
    _attrs,
    _get,
    _text,
    parse_netlink,
)
from netexplorer.collect.rtnl_socket import (
    RTM_GETADDR,
    RTM_GETLINK,
    RTM_GETROUTE,
    RTM_GETRULE,
    in_own_thread,
    netlink_socket,
    socket_in,
)
from netexplorer.model import INET, INET6, Interface, IpRule, NetnsView, Route

__all__ = [
    "HostRouting",
    "NamespaceReader",
    "decode_dump",
    "netlink_socket",
    "parse_ip_rules",
    "parse_netns",
    "parse_routes",
    "read_host_routing",
    "read_netns_views",
    "read_views_ahead",
]

T = TypeVar("T")

FIB_RULE_INVERT = 0x2

_FAMILIES = {AF_INET: INET, AF_INET6: INET6}

#: RTN_* (rtnetlink.h) as ``ip route`` prints them
_ROUTE_TYPES = {
    0: "unspec",
    1: "unicast",
    2: "local",
    3: "broadcast",
    4: "anycast",
    5: "multicast",
    6: "blackhole",
    7: "unreachable",
    8: "prohibit",
    9: "throw",
    10: "nat",
    11: "xresolve",
}
#: RTPROT_* (/etc/iproute2/rt_protos)
_ROUTE_PROTOCOLS = {
    0: "unspec",
    1: "redirect",
    2: "kernel",
    3: "boot",
    4: "static",
    8: "gated",
    9: "ra",
    10: "mrt",
    11: "zebra",
    12: "bird",
    13: "dnrouted",
    14: "xorp",
    15: "ntk",
    16: "dhcp",
    17: "mrouted",
    18: "keepalived",
    42: "babel",
    186: "bgp",
    187: "isis",
    188: "ospf",
    189: "rip",
    192: "eigrp",
}
#: RT_SCOPE_* as ``ip route`` prints them
_ROUTE_SCOPES = {0: "universe", 200: "site", 253: "link", 254: "host", 255: "nowhere"}
#: FR_ACT_* (fib_rules.h)
_RULE_ACTIONS = {
    1: "lookup",
    2: "goto",
    3: "nop",
    6: "blackhole",
    7: "unreachable",
    8: "prohibit",
}


# ----------------------------------------------------------------- pure conversion
def _named(table: Mapping[int, str], value: Any) -> str:
    return table.get(value, str(value)) if isinstance(value, int) else _text(value)


def _int(attrs: Mapping[str, Any], name: str) -> int | None:
    value = _get(attrs, name)
    return value if isinstance(value, int) else None


def _str(attrs: Mapping[str, Any], name: str) -> str | None:
    value = _get(attrs, name)
    return None if value is None else _text(value)


def _cidr(address: Any, prefixlen: Any, family: str) -> str:
    full = 32 if family == INET else 128
    length = prefixlen if isinstance(prefixlen, int) else full
    return f"{_text(address)}/{length}"


def _inet(msgs: Iterable[Message], table_attr: str) -> Iterator[tuple[Message, str, Any, Any]]:
    """(message, family, attributes, table) of each IPv4/IPv6 message: the table is
    the ``table_attr`` attribute (32 bits), else the header's (8 bits)."""
    for msg in msgs:
        family = _FAMILIES.get(msg.get("family", -1))
        if family is None:
            continue
        attrs = _attrs(msg)
        table = _get(attrs, table_attr)
        yield msg, family, attrs, table if isinstance(table, int) else msg.get("table")


def parse_routes(msgs: Iterable[Message], interfaces: Iterable[Interface]) -> list[Route]:
    """RTM_NEWROUTE messages (one dump) -> Routes, device names from ``interfaces``.

    IPv4 and IPv6 only (multicast routing and other families are left out), in
    dump order. A multipath route is shown by its first next hop.
    """
    names = {i.ifindex: i.name for i in interfaces}
    routes: list[Route] = []
    for msg, family, attrs, table in _inet(msgs, "RTA_TABLE"):
        dst = _get(attrs, "RTA_DST")
        gateway = _get(attrs, "RTA_GATEWAY")
        ifindex = _get(attrs, "RTA_OIF")
        hops = _get(attrs, "RTA_MULTIPATH")
        if gateway is None and ifindex is None and hops:
            first = hops[0]
            gateway = _get(_attrs(first), "RTA_GATEWAY")
            ifindex = first.get("oif")
        routes.append(
            Route(
                family=family,
                dst="default" if dst is None else _cidr(dst, msg.get("dst_len"), family),
                type=_named(_ROUTE_TYPES, msg.get("type")),
                table=table if isinstance(table, int) else 254,
                dev=names.get(ifindex) if isinstance(ifindex, int) else None,
                ifindex=ifindex if isinstance(ifindex, int) else None,
                gateway=_text(gateway) if gateway is not None else None,
                prefsrc=_str(attrs, "RTA_PREFSRC"),
                scope=_named(_ROUTE_SCOPES, msg.get("scope", 0)),
                metric=_int(attrs, "RTA_PRIORITY"),
                protocol=_named(_ROUTE_PROTOCOLS, msg.get("proto", 0)),
            )
        )
    return routes


def parse_ip_rules(msgs: Iterable[Message]) -> list[IpRule]:
    """RTM_NEWRULE messages (one dump) -> IpRules, IPv4 and IPv6 only, in dump order
    (the kernel's: by family, then priority)."""
    rules: list[IpRule] = []
    for msg, family, attrs, table in _inet(msgs, "FRA_TABLE"):
        src = _get(attrs, "FRA_SRC")
        dst = _get(attrs, "FRA_DST")
        flags = msg.get("flags")
        rules.append(
            IpRule(
                family=family,
                priority=_int(attrs, "FRA_PRIORITY") or 0,
                table=table if isinstance(table, int) else 0,
                action=_named(_RULE_ACTIONS, msg.get("action")),
                src=_cidr(src, msg.get("src_len"), family) if src is not None else None,
                dst=_cidr(dst, msg.get("dst_len"), family) if dst is not None else None,
                iif=_str(attrs, "FRA_IIFNAME"),
                oif=_str(attrs, "FRA_OIFNAME"),
                fwmark=_int(attrs, "FRA_FWMARK"),
                fwmask=_int(attrs, "FRA_FWMASK"),
                invert=bool(isinstance(flags, int) and flags & FIB_RULE_INVERT),
                goto=_int(attrs, "FRA_GOTO"),
            )
        )
    return rules


def decode_dump(buffers: Iterable[bytes]) -> list[Any]:
    """The messages of a dump received as ``buffers``, decoded as a live read decodes
    them (for recordings of the wire bytes)."""
    return rtnl_socket.decode(rtnl_socket.codec()[0], buffers)


def parse_netns(
    links: Iterable[Message],
    addrs: Iterable[Message],
    routes: Iterable[Message],
    rules: Iterable[Message],
) -> NetnsView:
    """One namespace's four dumps -> its NetnsView. Pure: no I/O."""
    interfaces = parse_netlink(links, addrs).interfaces
    return NetnsView(
        interfaces=interfaces,
        routes=parse_routes(routes, interfaces),
        ip_rules=parse_ip_rules(rules),
    )


# ----------------------------------------------------------------- kernel access
class NamespaceReader(rtnl_socket.NamespaceReader):
    """A namespace's views over rtnetlink sockets, each bound to the namespace it was
    opened in."""

    def __init__(self) -> None:
        super().__init__()
        #: a rule dump's messages (headers aside) -> its rules, decoded once: the
        #: containers' namespaces mostly hold the same default rules
        self._rules: dict[tuple[bytes, ...], list[IpRule]] = {}

    def read(self, sock: socket.socket, where: str, warnings: list[str]) -> NetnsView:
        """A namespace's interfaces, routes and rules over ``sock`` (bound there)."""
        kinds = (RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE)
        links, addrs, routes = (self.dump(sock, kind, warnings, where) for kind in kinds)
        view = parse_netns(links, addrs, routes, ())
        view.ip_rules = self._ip_rules(sock, where, warnings)
        return view

    def _ip_rules(self, sock: socket.socket, where: str, warnings: list[str]) -> list[IpRule]:
        msgs = [m for m in self.dump(sock, RTM_GETRULE, warnings, where, raw=True) if "raw" in m]
        key = tuple(m["raw"][16:] for m in msgs)
        rules = self._rules.get(key)
        if rules is None:
            rules = self._rules[key] = parse_ip_rules(map(netlink_select.decode_raw, msgs))
        return list(rules)

    def read_routing(
        self, sock: socket.socket, interfaces: Iterable[Interface], where: str, warnings: list[str]
    ) -> tuple[list[Route], list[IpRule]]:
        routes = self.dump(sock, RTM_GETROUTE, warnings, where)
        rules = self.dump(sock, RTM_GETRULE, warnings, where)
        return parse_routes(routes, interfaces), parse_ip_rules(rules)


def _not_root_words(what: str) -> str:
    need = "entering a container's network namespace needs CAP_SYS_ADMIN and CAP_SYS_PTRACE"
    if os.geteuid() == 0:
        return (
            f"Permission denied while {what} (running as root, but without those "
            f"capabilities): {need}; run netexplorer where root keeps them (not in a "
            "container or sandbox that drops them)."
        )
    return (
        f"Permission denied while {what} (running as uid {os.geteuid()}, not root): "
        f"{need}; run netexplorer with sudo."
    )


# ----------------------------------------------------------------- host
@dataclass(slots=True)
class HostRouting:
    routes: list[Route] = field(default_factory=list)
    ip_rules: list[IpRule] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def read_host_routing(interfaces: Iterable[Interface]) -> HostRouting:
    """The host's routes (every table, both families) and policy rules.

    ``interfaces`` (the host's, from the same read) give the routes' device names.
    Raises :class:`SourceError` (in words) if netlink cannot be read.
    """
    result = HostRouting()
    try:
        reader = NamespaceReader()
        with netlink_socket() as sock:
            result.routes, result.ip_rules = reader.read_routing(
                sock, interfaces, "the host's routes", result.warnings
            )
    except PermissionError as exc:
        raise SourceError(_not_root_words("reading the host's routes over netlink")) from exc
    except OSError as exc:
        raise SourceError(
            f"Reading the host's routes and rules over netlink failed: {exc}"
        ) from exc
    return result


# ----------------------------------------------------------------- containers
def _vanished(name: str, pid: int) -> str:
    return (
        f"the network namespace of {name} could not be read: its process {pid} is gone "
        "(the container stopped or restarted while it was read); refresh to read it again."
    )


def _open_in(ns_path: str, host_fd: int) -> socket.socket:
    """A netlink socket in the namespace at ``ns_path``; the thread returns home after."""
    fd = os.open(ns_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return socket_in(fd, host_fd, ns_path)
    finally:
        os.close(fd)


def _read_one(
    reader: NamespaceReader, pid: int, name: str, host_fd: int, warnings: list[str]
) -> tuple[NetnsView, bool]:
    """The namespace of ``pid`` (a view, or one with only ``error``), and whether
    entering it was refused."""
    try:
        sock = _open_in(f"/proc/{pid}/ns/net", host_fd)
    except (FileNotFoundError, ProcessLookupError):
        return NetnsView(error=_vanished(name, pid)), False
    except PermissionError:
        return NetnsView(error=_not_root_words(f"entering the network namespace of {name}")), True
    except OSError as exc:
        if exc.errno in (errno.EPERM, errno.EACCES):
            words = _not_root_words(f"entering the network namespace of {name}")
            return NetnsView(error=words), True
        if exc.errno in (errno.ENOENT, errno.ESRCH, errno.EINVAL):
            return NetnsView(error=_vanished(name, pid)), False
        return NetnsView(
            error=f"the network namespace of {name} could not be entered: {exc.strerror or exc}"
        ), False
    with sock:
        try:
            return reader.read(sock, f"the namespace of {name}", warnings), False
        except OSError as exc:
            return NetnsView(
                error=f"reading the network namespace of {name} over netlink failed: "
                f"{exc.strerror or exc}; refresh to try again."
            ), False


def _read_all(
    pids: Mapping[str, int], names: Mapping[str, str]
) -> tuple[dict[str, NetnsView], list[str]]:
    views: dict[str, NetnsView] = {}
    warnings: list[str] = []
    reader = NamespaceReader()
    host_fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    denied: list[str] = []
    try:
        for key, pid in pids.items():
            name = names.get(key, key[:12])
            views[key], refused = _read_one(reader, pid, name, host_fd, warnings)
            if refused:
                denied.append(name)
    finally:
        os.close(host_fd)
    if denied:
        warnings.append(
            _not_root_words(
                "entering the network namespaces of "
                + ", ".join(denied[:5])
                + (f" and {len(denied) - 5} more" if len(denied) > 5 else "")
            )
        )
    return views, warnings


def _read_ahead(pids: Iterable[int]) -> dict[int, NetnsView]:
    host = os.stat("/proc/thread-self/ns/net").st_ino
    first: dict[int, int] = {}  # netns inode -> the first pid found in it
    inode_of: dict[int, int] = {}
    for pid in pids:
        try:
            inode = os.stat(f"/proc/{pid}/ns/net").st_ino
        except OSError:
            continue
        if inode != host:
            inode_of[pid] = inode
            first.setdefault(inode, pid)
    read: dict[int, NetnsView] = {}
    reader = NamespaceReader()
    host_fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        for inode, pid in first.items():
            warnings: list[str] = []
            view, _refused = _read_one(reader, pid, str(pid), host_fd, warnings)
            if view.error is None and not warnings:
                read[inode] = view
    finally:
        os.close(host_fd)
    return {pid: read[inode] for pid, inode in inode_of.items() if inode in read}


def read_views_ahead(pids: Iterable[int]) -> dict[int, NetnsView]:
    """The namespaces of ``pids`` (containers' init processes, from ``/proc``), read
    before Docker has said which container each is: pid -> view, each namespace read
    once (a ``container:`` sidecar's pid gets its owner's view), the host's own
    skipped. Only clean reads are kept: a namespace that vanished, was refused or
    whose dump was interrupted is left out, to be read (and said in words, with the
    container's name) by :func:`read_netns_views`.
    """
    if os.geteuid() != 0:
        return {}
    wanted = list(pids)
    return in_own_thread(lambda: _read_ahead(wanted)) if wanted else {}


def read_netns_views(
    pids: Mapping[str, int], names: Mapping[str, str] | None = None
) -> tuple[dict[str, NetnsView], list[str]]:
    """Each container's own namespace, read from one worker thread.

    ``pids`` maps a key (the container id) to the pid whose ``/proc/<pid>/ns/net`` is
    read; ``names`` gives the containers' names for the words. Every key gets a view;
    one that could not be read has only ``error`` (the process vanished, not root ...).
    Returns the views and warnings (said once for all containers).
    """
    if not pids:
        return {}, []
    return in_own_thread(lambda: _read_all(pids, names or {}))
