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

import ctypes
import errno
import os
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from netexplorer.collect import netlink_select
from netexplorer.collect.errors import SourceError
from netexplorer.collect.netlink_source import (
    AF_INET,
    AF_INET6,
    NLM_F_DUMP_INTR,
    Message,
    _attrs,
    _get,
    _text,
    parse_netlink,
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
]

T = TypeVar("T")

CLONE_NEWNET = 0x40000000
NETLINK_ROUTE = 0
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
NLMSG_ERROR = 0x2
NLMSG_DONE = 0x3
RTM_GETLINK = 18
RTM_GETADDR = 22
RTM_GETROUTE = 26
RTM_GETRULE = 34
#: IFLA_EXT_MASK bit: leave the link statistics out (nothing here reads them)
RTEXT_FILTER_SKIP_STATS = 1 << 3
FIB_RULE_INVERT = 0x2
_DUMP_ATTEMPTS = 3
_RECV_SIZE = 1 << 17
#: a netlink dump answers at once; a socket that does not is given up on
_TIMEOUT = 5.0

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


def _cidr(address: Any, prefixlen: Any, family: str) -> str:
    full = 32 if family == INET else 128
    length = prefixlen if isinstance(prefixlen, int) else full
    return f"{_text(address)}/{length}"


def parse_routes(msgs: Iterable[Message], interfaces: Iterable[Interface]) -> list[Route]:
    """RTM_NEWROUTE messages (one dump) -> Routes, device names from ``interfaces``.

    IPv4 and IPv6 only (multicast routing and other families are left out), in
    dump order. A multipath route is shown by its first next hop.
    """
    names = {i.ifindex: i.name for i in interfaces}
    routes: list[Route] = []
    for msg in msgs:
        family = _FAMILIES.get(msg.get("family", -1))
        if family is None:
            continue
        attrs = _attrs(msg)
        dst = _get(attrs, "RTA_DST")
        table = _get(attrs, "RTA_TABLE")
        if not isinstance(table, int):
            table = msg.get("table")
        gateway = _get(attrs, "RTA_GATEWAY")
        ifindex = _get(attrs, "RTA_OIF")
        hops = _get(attrs, "RTA_MULTIPATH")
        if gateway is None and ifindex is None and hops:
            first = hops[0]
            gateway = _get(_attrs(first), "RTA_GATEWAY")
            ifindex = first.get("oif")
        prefsrc = _get(attrs, "RTA_PREFSRC")
        metric = _get(attrs, "RTA_PRIORITY")
        routes.append(
            Route(
                family=family,
                dst="default" if dst is None else _cidr(dst, msg.get("dst_len"), family),
                type=_named(_ROUTE_TYPES, msg.get("type")),
                table=table if isinstance(table, int) else 254,
                dev=names.get(ifindex) if isinstance(ifindex, int) else None,
                ifindex=ifindex if isinstance(ifindex, int) else None,
                gateway=_text(gateway) if gateway is not None else None,
                prefsrc=_text(prefsrc) if prefsrc is not None else None,
                scope=_named(_ROUTE_SCOPES, msg.get("scope", 0)),
                metric=metric if isinstance(metric, int) else None,
                protocol=_named(_ROUTE_PROTOCOLS, msg.get("proto", 0)),
            )
        )
    return routes


def parse_ip_rules(msgs: Iterable[Message]) -> list[IpRule]:
    """RTM_NEWRULE messages (one dump) -> IpRules, IPv4 and IPv6 only, in dump order
    (the kernel's: by family, then priority)."""
    rules: list[IpRule] = []
    for msg in msgs:
        family = _FAMILIES.get(msg.get("family", -1))
        if family is None:
            continue
        attrs = _attrs(msg)
        table = _get(attrs, "FRA_TABLE")
        if not isinstance(table, int):
            table = msg.get("table")
        priority = _get(attrs, "FRA_PRIORITY")
        src = _get(attrs, "FRA_SRC")
        dst = _get(attrs, "FRA_DST")
        iif = _get(attrs, "FRA_IIFNAME")
        oif = _get(attrs, "FRA_OIFNAME")
        fwmark = _get(attrs, "FRA_FWMARK")
        fwmask = _get(attrs, "FRA_FWMASK")
        goto = _get(attrs, "FRA_GOTO")
        flags = msg.get("flags")
        rules.append(
            IpRule(
                family=family,
                priority=priority if isinstance(priority, int) else 0,
                table=table if isinstance(table, int) else 0,
                action=_named(_RULE_ACTIONS, msg.get("action")),
                src=_cidr(src, msg.get("src_len"), family) if src is not None else None,
                dst=_cidr(dst, msg.get("dst_len"), family) if dst is not None else None,
                iif=_text(iif) if iif is not None else None,
                oif=_text(oif) if oif is not None else None,
                fwmark=fwmark if isinstance(fwmark, int) else None,
                fwmask=fwmask if isinstance(fwmask, int) else None,
                invert=bool(isinstance(flags, int) and flags & FIB_RULE_INVERT),
                goto=goto if isinstance(goto, int) else None,
            )
        )
    return rules


def decode_dump(buffers: Iterable[bytes]) -> list[Any]:
    """The messages of a dump received as ``buffers``, decoded as a live read decodes
    them (for recordings of the wire bytes)."""
    marshal, _ = _codec()
    done = (NLMSG_DONE, NLMSG_ERROR)
    return [m for data in buffers for m in marshal.parse(data) if m["header"]["type"] not in done]


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
class NetlinkDumpError(OSError):
    """A dump request was answered with an error (errno in ``errno``)."""


def _codec() -> tuple[Any, dict[int, Any]]:
    """pyroute2's rtnetlink decoder (selective, see below) and the message class of
    each dump request."""
    from pyroute2.netlink.rtnl.fibmsg import fibmsg
    from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
    from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
    from pyroute2.netlink.rtnl.marshal import MarshalRtnl
    from pyroute2.netlink.rtnl.rtmsg import rtmsg

    class SelectiveMarshal(MarshalRtnl):  # type: ignore[misc]
        """MarshalRtnl decoding links, addresses, routes and rules selectively
        (:mod:`~netexplorer.collect.netlink_select`: only the attributes the model
        reads); whether a dump was interrupted is taken from each header as it
        arrives (``interrupted``)."""

        def __init__(self) -> None:
            super().__init__()
            self.interrupted = False
            self.selective = netlink_select.selective_parser(self)

        def parse_one_message(
            self, key: int, flags: int, seq: int, data: bytes, offset: int, length: int
        ) -> Any:
            if flags & NLM_F_DUMP_INTR:
                self.interrupted = True
            if key in netlink_select.MESSAGES:
                return self.selective(data, offset, length)
            return super().parse_one_message(key, flags, seq, data, offset, length)

    classes = {RTM_GETLINK: ifinfmsg, RTM_GETADDR: ifaddrmsg, RTM_GETROUTE: rtmsg}
    classes[RTM_GETRULE] = fibmsg
    return SelectiveMarshal(), classes


class NamespaceReader:
    """Dumps over rtnetlink sockets, each bound to the namespace it was opened in."""

    def __init__(self) -> None:
        self.marshal, self.classes = _codec()
        self.seq = 0
        self.requests: dict[int, bytes] = {}
        #: when set, every buffer received is kept here too (recordings)
        self.received: list[bytes] | None = None

    def _request(self, kind: int) -> bytes:
        """An RTM_GET* dump request for every family (built once per kind)."""
        if kind not in self.requests:
            msg = self.classes[kind]()
            msg["header"]["type"] = kind
            msg["header"]["flags"] = NLM_F_REQUEST | NLM_F_DUMP
            msg["family"] = socket.AF_UNSPEC
            if kind == RTM_GETLINK:
                msg["attrs"] = [["IFLA_EXT_MASK", RTEXT_FILTER_SKIP_STATS]]
            msg.encode()
            self.requests[kind] = bytes(msg.data)
        return self.requests[kind]

    def _dump_once(self, sock: socket.socket, kind: int) -> tuple[list[Any], bool]:
        self.seq += 1
        request = bytearray(self._request(kind))
        request[8:12] = self.seq.to_bytes(4, "little")
        sock.send(bytes(request))
        msgs: list[Any] = []
        self.marshal.interrupted = False
        while True:
            data = sock.recv(_RECV_SIZE)
            if not data:
                raise NetlinkDumpError(errno.EIO, "netlink socket closed during a dump")
            if self.received is not None:
                self.received.append(data)
            for msg in self.marshal.parse(data):
                header = msg["header"]
                error = header.get("error")
                if error is not None:
                    code = getattr(error, "code", None) or getattr(error, "errno", None)
                    raise NetlinkDumpError(code or errno.EIO, str(error))
                if header.get("sequence_number") != self.seq:
                    continue
                if header["type"] == NLMSG_DONE:
                    return msgs, bool(self.marshal.interrupted)
                if header["type"] == NLMSG_ERROR:
                    continue  # an ack without error
                msgs.append(msg)

    def dump(self, sock: socket.socket, kind: int, warnings: list[str], where: str) -> list[Any]:
        """One full dump, repeated if a concurrent change interrupted it."""
        msgs: list[Any] = []
        for _attempt in range(_DUMP_ATTEMPTS):
            msgs, interrupted = self._dump_once(sock, kind)
            if not interrupted:
                return msgs
        warnings.append(
            f"netlink: a dump of {where} was interrupted by changes {_DUMP_ATTEMPTS} times; "
            "the result may be inconsistent"
        )
        return msgs

    def dumps(self, sock: socket.socket, where: str, warnings: list[str]) -> list[list[Any]]:
        """The link, address, route and rule dumps of the namespace ``sock`` is bound to."""
        kinds = (RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE, RTM_GETRULE)
        return [self.dump(sock, kind, warnings, where) for kind in kinds]

    def read(self, sock: socket.socket, where: str, warnings: list[str]) -> NetnsView:
        """A namespace's interfaces, routes and rules over ``sock`` (bound there)."""
        return parse_netns(*self.dumps(sock, where, warnings))

    def read_routing(
        self, sock: socket.socket, interfaces: Iterable[Interface], where: str, warnings: list[str]
    ) -> tuple[list[Route], list[IpRule]]:
        routes = self.dump(sock, RTM_GETROUTE, warnings, where)
        rules = self.dump(sock, RTM_GETRULE, warnings, where)
        return parse_routes(routes, interfaces), parse_ip_rules(rules)


def netlink_socket() -> socket.socket:
    """An rtnetlink socket in the calling thread's network namespace."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE)
    sock.settimeout(_TIMEOUT)
    return sock


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
_libc: Any = None


def _setns(fd: int) -> None:
    """Move the calling thread into the network namespace ``fd`` refers to."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def _in_own_thread(func: Callable[[], T]) -> T:
    """Run ``func`` in a thread of its own: a thread that fails to return to the host's
    namespace ends with it, so no pooled thread is ever left in a container's."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = func()
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc

    thread = threading.Thread(target=run, name="netexplorer-netns", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    result: T = box["result"]
    return result


def _vanished(name: str, pid: int) -> str:
    return (
        f"the network namespace of {name} could not be read: its process {pid} is gone "
        "(the container stopped or restarted while it was read); refresh to read it again."
    )


def _open_in(ns_path: str, host_fd: int) -> socket.socket:
    """A netlink socket in the namespace at ``ns_path``; the thread returns home after."""
    fd = os.open(ns_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(fd)
    finally:
        os.close(fd)
    try:
        return netlink_socket()
    finally:
        try:
            _setns(host_fd)
        except OSError as exc:
            # the reading thread ends here, so nothing else runs in the wrong namespace
            raise SourceError(
                f"Cannot return to the host's network namespace after entering {ns_path} "
                f"({exc.strerror or exc}); containers' namespaces were not read."
            ) from exc


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
            try:
                sock = _open_in(f"/proc/{pid}/ns/net", host_fd)
            except (FileNotFoundError, ProcessLookupError):
                views[key] = NetnsView(error=_vanished(name, pid))
                continue
            except PermissionError:
                denied.append(name)
                views[key] = NetnsView(
                    error=_not_root_words(f"entering the network namespace of {name}")
                )
                continue
            except OSError as exc:
                if exc.errno in (errno.EPERM, errno.EACCES):
                    denied.append(name)
                    views[key] = NetnsView(
                        error=_not_root_words(f"entering the network namespace of {name}")
                    )
                elif exc.errno in (errno.ENOENT, errno.ESRCH, errno.EINVAL):
                    views[key] = NetnsView(error=_vanished(name, pid))
                else:
                    views[key] = NetnsView(
                        error=f"the network namespace of {name} could not be entered: "
                        f"{exc.strerror or exc}"
                    )
                continue
            with sock:
                try:
                    views[key] = reader.read(sock, f"the namespace of {name}", warnings)
                except OSError as exc:
                    views[key] = NetnsView(
                        error=f"reading the network namespace of {name} over netlink failed: "
                        f"{exc.strerror or exc}; refresh to try again."
                    )
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
    return _in_own_thread(lambda: _read_all(pids, names or {}))
