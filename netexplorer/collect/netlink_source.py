"""Host links, addresses and bridges read over rtnetlink (pyroute2), no subprocesses.

Two entry points talk to the kernel, each over one plain rtnetlink socket
(:mod:`.rtnl_socket`: pyroute2 encodes the requests, no event loop):

* :func:`collect_netlink` - one RTM_GETLINK dump (without counters: IFLA_EXT_MASK)
  and one RTM_GETADDR dump of the host network namespace, of which only the
  attributes the model reads are decoded (:mod:`.netlink_select`), turned into
  :class:`~netexplorer.model.Interface` and :class:`~netexplorer.model.Bridge`
  objects;
* :func:`netnsids_for_pids` - the netns id (as the host sees it) of each
  process's network namespace, by RTM_GETNSID on an fd of ``/proc/<pid>/ns/net``
  (batched: many requests to a datagram).

The message -> model conversion is the pure function :func:`parse_netlink`. It
accepts live pyroute2 messages as well as the plain form :func:`message_to_plain`
produces (nested ``{"attrs": [[name, value], ...]}`` dicts, e.g. loaded from JSON),
so it is tested on a recorded dump.

Nothing here changes the host: no link, address or netns id is ever written.
Interface names are kept literally; a name that is not valid UTF-8 is decoded
with ``surrogateescape`` (``os.fsdecode``), so ``os.fsencode(name)`` gives the
kernel's bytes back.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from netexplorer.collect.errors import SourceError
from netexplorer.model import Address, Bridge, BridgePort, Interface, IpRule, Route, Vxlan

__all__ = [
    "NetlinkData",
    "collect_netlink",
    "message_to_plain",
    "netnsids_for_pids",
    "parse_netlink",
]

T = TypeVar("T")

#: a netlink message: a live pyroute2 message or its plain dict form
Message = Mapping[str, Any]

# ----------------------------------------------------------------- kernel constants
AF_INET = 2
AF_INET6 = 10
NLM_F_DUMP_INTR = 0x10
#: NETNSA_NSID_NOT_ASSIGNED (-1); pyroute2 decodes NETNSA_NSID as uint32
_NSID_NOT_ASSIGNED = (-1, 0xFFFFFFFF)
_DUMP_ATTEMPTS = 3

IFF_RUNNING = 0x40
IFF_UP = 0x1
#: ifi_flags in the order ``ip link`` prints them (IFF_RUNNING is never printed)
_IFF_NAMES: tuple[tuple[int, str], ...] = (
    (0x8, "LOOPBACK"),
    (0x2, "BROADCAST"),
    (0x10, "POINTOPOINT"),
    (0x1000, "MULTICAST"),
    (0x80, "NOARP"),
    (0x200, "ALLMULTI"),
    (0x100, "PROMISC"),
    (0x400, "MASTER"),
    (0x800, "SLAVE"),
    (0x4, "DEBUG"),
    (0x8000, "DYNAMIC"),
    (0x4000, "AUTOMEDIA"),
    (0x2000, "PORTSEL"),
    (0x20, "NOTRAILERS"),
    (0x1, "UP"),
    (0x10000, "LOWER_UP"),
    (0x20000, "DORMANT"),
    (0x40000, "ECHO"),
)

#: IF_OPER_* (RFC 2863) as ``ip`` prints them
_OPERSTATES = ("UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP")

#: RT_SCOPE_* as ``ip addr`` prints them (/etc/iproute2/rt_scopes defaults)
_SCOPES = {0: "global", 200: "site", 253: "link", 254: "host", 255: "nowhere"}

#: BR_STATE_* of a bridge port
_PORT_STATES = {0: "disabled", 1: "listening", 2: "learning", 3: "forwarding", 4: "blocking"}


@dataclass(slots=True)
class NetlinkData:
    """What one read of the host netns gave."""

    interfaces: list[Interface] = field(default_factory=list)
    bridges: list[Bridge] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: the host's routes and policy rules (netns_source.read_host_routing)
    routes: list[Route] = field(default_factory=list)
    ip_rules: list[IpRule] = field(default_factory=list)


# ----------------------------------------------------------------- pure conversion
def _attrs(msg: Message) -> dict[str, Any]:
    """Attribute name -> slot (``slot[1]`` is the value; live slots decode lazily)."""
    out: dict[str, Any] = {}
    for slot in msg.get("attrs") or ():
        name = slot[0]
        if name not in out:
            out[name] = slot
    return out


def _get(attrs: Mapping[str, Any], name: str) -> Any:
    slot = attrs.get(name)
    return None if slot is None else slot[1]


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return os.fsdecode(value)
    return str(value)


def flag_names(flags: int) -> list[str]:
    """ifi_flags as ``ip link`` prints them (NO-CARRIER first, leftover bits in hex)."""
    names: list[str] = []
    if flags & IFF_UP and not flags & IFF_RUNNING:
        names.append("NO-CARRIER")
    rest = flags & ~IFF_RUNNING
    for bit, name in _IFF_NAMES:
        if rest & bit:
            names.append(name)
            rest &= ~bit
    if rest:
        names.append(f"{rest:x}")
    return names


def _operstate(value: Any) -> str:
    if value is None:
        return "UNKNOWN"
    if isinstance(value, int):
        return _OPERSTATES[value] if 0 <= value < len(_OPERSTATES) else str(value)
    return _text(value)


def _scope(value: Any) -> str:
    if isinstance(value, int):
        return _SCOPES.get(value, str(value))
    return str(value)


def _port_state(value: Any) -> str:
    if value is None:
        return "unknown"
    return _PORT_STATES.get(value, str(value)) if isinstance(value, int) else str(value)


def _optional_int(value: Any) -> int | None:
    return value if isinstance(value, int) else None


def parse_vxlan(info_data: Any) -> Vxlan | None:
    """IFLA_INFO_DATA of a vxlan link -> its VXLAN attributes (None without a VNI)."""
    if info_data is None:
        return None
    attrs = _attrs(info_data)
    vni = _get(attrs, "IFLA_VXLAN_ID")
    if not isinstance(vni, int):
        return None
    local = _get(attrs, "IFLA_VXLAN_LOCAL") or _get(attrs, "IFLA_VXLAN_LOCAL6")
    port = _get(attrs, "IFLA_VXLAN_PORT")
    return Vxlan(
        vni=vni,
        port=port if isinstance(port, int) else 4789,
        learning=bool(_get(attrs, "IFLA_VXLAN_LEARNING")),
        local=_text(local) if local else None,
        link_ifindex=_optional_int(_get(attrs, "IFLA_VXLAN_LINK")) or None,
        proxy=bool(_get(attrs, "IFLA_VXLAN_PROXY")),
        l2miss=bool(_get(attrs, "IFLA_VXLAN_L2MISS")),
        l3miss=bool(_get(attrs, "IFLA_VXLAN_L3MISS")),
    )


def parse_netlink(
    links: Iterable[Message], addrs: Iterable[Message], netns: str | None = None
) -> NetlinkData:
    """Turn RTM_NEWLINK and RTM_NEWADDR messages (one dump each) into the model.

    Pure: no I/O. Interfaces come out by ifindex, bridges by name, ports by ifindex.
    ``netns`` names the Docker namespace the dump is from (None: the host's).
    """
    data = NetlinkData()
    by_index: dict[int, Interface] = {}
    bridge_stp: dict[int, bool] = {}
    port_state: dict[int, str] = {}

    for msg in links:
        ifindex = msg.get("index")
        if not isinstance(ifindex, int):
            data.warnings.append(f"netlink: link message without an ifindex skipped: {msg!r:.80}")
            continue
        attrs = _attrs(msg)
        raw_name = _get(attrs, "IFLA_IFNAME")
        name = _text(raw_name) if raw_name is not None else f"if{ifindex}"
        kind = ""
        vxlan = None
        linkinfo = _get(attrs, "IFLA_LINKINFO")
        if linkinfo is not None:
            info = _attrs(linkinfo)
            kind = _text(_get(info, "IFLA_INFO_KIND") or "")
            if kind == "vxlan":
                vxlan = parse_vxlan(_get(info, "IFLA_INFO_DATA"))
            if kind == "bridge":
                br_data = _get(info, "IFLA_INFO_DATA")
                stp = _get(_attrs(br_data), "IFLA_BR_STP_STATE") if br_data else None
                bridge_stp[ifindex] = bool(stp)
            if _get(info, "IFLA_INFO_SLAVE_KIND") == "bridge":
                slave = _get(info, "IFLA_INFO_SLAVE_DATA")
                state = _get(_attrs(slave), "IFLA_BRPORT_STATE") if slave else None
                port_state[ifindex] = _port_state(state)
        mac = _get(attrs, "IFLA_ADDRESS")
        flags = msg.get("flags")
        iface = Interface(
            ifindex=ifindex,
            name=name,
            kind=kind,
            operstate=_operstate(_get(attrs, "IFLA_OPERSTATE")),
            mac=_text(mac) if mac is not None else None,
            mtu=_optional_int(_get(attrs, "IFLA_MTU")),
            flags=flag_names(flags) if isinstance(flags, int) else [],
            master_ifindex=_optional_int(_get(attrs, "IFLA_MASTER")) or None,
            link_ifindex=_optional_int(_get(attrs, "IFLA_LINK")),
            link_netnsid=_optional_int(_get(attrs, "IFLA_LINK_NETNSID")),
            vxlan=vxlan,
            netns=netns,
        )
        if ifindex in by_index:
            data.warnings.append(f"netlink: ifindex {ifindex} dumped twice; kept the last one")
        by_index[ifindex] = iface

    for iface in by_index.values():
        # ``ip`` marks a link whose lower device (same netns) is down with M-DOWN
        if iface.link_ifindex and iface.link_netnsid is None:
            lower = by_index.get(iface.link_ifindex)
            if lower is None or "UP" not in lower.flags:
                iface.flags.append("M-DOWN")
        if iface.master_ifindex is not None:
            master = by_index.get(iface.master_ifindex)
            if master is None:
                data.warnings.append(
                    f"netlink: master ifindex {iface.master_ifindex} of {iface.name!r} "
                    "is not in the link dump"
                )
            else:
                iface.master = master.name

    for msg in addrs:
        family = msg.get("family")
        if family not in (AF_INET, AF_INET6):
            continue
        ifindex = msg.get("index")
        owner = by_index.get(ifindex) if isinstance(ifindex, int) else None
        attrs = _attrs(msg)
        local = _get(attrs, "IFA_LOCAL")
        address = local if local is not None else _get(attrs, "IFA_ADDRESS")
        if owner is None or address is None:
            data.warnings.append(
                f"netlink: address {address} on ifindex {ifindex} has no link in the dump"
            )
            continue
        owner.addresses.append(
            Address(
                family="inet" if family == AF_INET else "inet6",
                address=_text(address),
                prefixlen=int(msg.get("prefixlen") or 0),
                scope=_scope(msg.get("scope", 0)),
            )
        )

    data.interfaces = [by_index[i] for i in sorted(by_index)]
    for iface in data.interfaces:
        if iface.kind != "bridge":
            continue
        ports = [
            BridgePort(
                ifindex=p.ifindex,
                name=p.name,
                state=port_state.get(p.ifindex, "unknown"),
                operstate=p.operstate,
                netns=netns,
            )
            for p in data.interfaces
            if p.master_ifindex == iface.ifindex
        ]
        data.bridges.append(
            Bridge(
                name=iface.name,
                ifindex=iface.ifindex,
                operstate=iface.operstate,
                mac=iface.mac,
                stp=bridge_stp.get(iface.ifindex, False),
                ports=ports,
                netns=netns,
            )
        )
    data.bridges.sort(key=lambda b: (b.name, b.ifindex))
    return data


def message_to_plain(msg: Message) -> dict[str, Any]:
    """A pyroute2 message as JSON-ready plain data that :func:`parse_netlink` accepts.

    Attributes become ``[name, value]`` pairs, nested ones ``{"attrs": [...]}``; the
    netlink header (sequence numbers, socket pid) is dropped; bytes (e.g. a name
    that is not UTF-8) become ``{"$bytes": "<hex>"}`` (see :func:`plain_from_json`).
    Unlike pyroute2's ``dump()`` this keeps byte strings literally.
    """
    result = _plain(msg)
    if not isinstance(result, dict):
        raise TypeError(f"not a netlink message: {msg!r:.80}")
    return result


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return {"$bytes": bytes(value).hex()}
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            key = str(key)
            if key == "header" or key.startswith("_"):
                continue
            if key == "attrs":
                out["attrs"] = [[slot[0], _plain(slot[1])] for slot in item]
            else:
                out[key] = _plain(item)
        return out
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def plain_from_json(value: Any) -> Any:
    """Undo the ``{"$bytes": hex}`` encoding of :func:`message_to_plain` after json.load."""
    if isinstance(value, dict):
        if set(value) == {"$bytes"}:
            return bytes.fromhex(value["$bytes"])
        return {k: plain_from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_from_json(v) for v in value]
    return value


# ----------------------------------------------------------------- kernel access
def _not_permitted(what: str) -> SourceError:
    who = "as root" if os.geteuid() == 0 else f"as uid {os.geteuid()}, not root"
    return SourceError(
        f"Permission denied while {what} (running {who}): reading other processes' "
        "network namespaces and some netlink requests need root privileges "
        "(CAP_SYS_PTRACE/CAP_SYS_ADMIN to open /proc/<pid>/ns/net, CAP_NET_ADMIN for "
        "netlink); run netexplorer with sudo."
    )


def _reading(what: str, func: Callable[[], T]) -> T:
    """``func`` (netlink I/O), its faults in words."""
    try:
        return func()
    except SourceError:
        raise
    except PermissionError as exc:
        raise _not_permitted(what) from exc
    except OSError as exc:
        raise SourceError(
            f"{what[0].upper()}{what[1:]} failed: {exc.strerror or exc}; netexplorer "
            "needs Linux with rtnetlink available to its network namespace."
        ) from exc


def _read_links_and_addrs(warnings: list[str]) -> tuple[list[Any], list[Any]]:
    from netexplorer.collect.rtnl_socket import (
        RTM_GETADDR,
        RTM_GETLINK,
        NamespaceReader,
        netlink_socket,
    )

    reader = NamespaceReader()
    with netlink_socket() as sock:
        links = reader.dump(sock, RTM_GETLINK, warnings, "the host's links")
        addrs = reader.dump(sock, RTM_GETADDR, warnings, "the host's addresses")
    return links, addrs


def collect_netlink() -> NetlinkData:
    """Read all links and addresses of the host netns (one dump each, without link
    statistics; only the attributes the model reads are decoded).

    Raises :class:`SourceError` (in words) if netlink cannot be read.
    """
    warnings: list[str] = []
    links, addrs = _reading(
        "dumping links and addresses over netlink", lambda: _read_links_and_addrs(warnings)
    )
    data = parse_netlink(links, addrs)
    data.warnings[:0] = warnings
    return data


def _ask_nsids(fds: list[int]) -> list[Any]:
    """RTM_GETNSID of the netns behind each fd, asked in the host's namespace: each
    answer's NETNSA_NSID, or the OSError its request got, in the order of ``fds``."""
    from netexplorer.collect.rtnl_socket import NamespaceReader, netlink_socket

    with netlink_socket() as sock:
        return list(NamespaceReader().nsids(sock, fds))


def _open_netns(pid: int) -> int | None:
    """An fd of ``/proc/<pid>/ns/net``; None if the process is gone.

    Raises PermissionError if the namespace file may not be opened.
    """
    try:
        return os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    except (FileNotFoundError, ProcessLookupError):
        return None  # the process exited
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise
        return None


def _nsid(reply: Any) -> int | None:
    if not isinstance(reply, int) or reply in _NSID_NOT_ASSIGNED:
        return None
    return reply


def _netnsids(pids: list[int]) -> dict[int, int | None]:
    result: dict[int, int | None] = {pid: None for pid in pids}
    if not pids:
        return result
    denied: list[int] = []
    fds: dict[int, int] = {}
    try:
        for pid in pids:
            try:
                fd = _open_netns(pid)
            except PermissionError:
                denied.append(pid)
                continue
            if fd is not None:
                fds[pid] = fd
        replies = (
            _reading("asking the kernel for netns ids", lambda: _ask_nsids(list(fds.values())))
            if fds
            else []
        )
    finally:
        for fd in fds.values():
            os.close(fd)
    for pid, reply in zip(fds, replies, strict=True):
        code = getattr(reply, "code", None)
        if isinstance(reply, PermissionError) or code in (errno.EPERM, errno.EACCES):
            denied.append(pid)
        else:
            result[pid] = _nsid(reply)
    if denied and os.geteuid() != 0:
        raise _not_permitted(
            f"opening /proc/<pid>/ns/net of process(es) {', '.join(map(str, denied[:5]))}"
        )
    return result


def netnsids_for_pids(pids: Iterable[int]) -> dict[int, int | None]:
    """The host's netns id of each process's network namespace (RTM_GETNSID).

    Every requested pid is a key. The value is None when the process is gone, the
    kernel has no id for that namespace yet (none is assigned here: read-only) or
    the lookup failed; pid 0/negative values are None as well. As root, a pid whose
    namespace may not be opened (e.g. outside this container's reach) is None too;
    not as root, that raises :class:`SourceError` telling to use sudo.
    """
    wanted = list(dict.fromkeys(int(p) for p in pids))
    valid = [p for p in wanted if p > 0]
    found = _netnsids(valid)
    return {p: found.get(p) for p in wanted}
