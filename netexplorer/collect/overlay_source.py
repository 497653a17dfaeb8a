"""Docker's own network namespaces (overlay networks, ingress_sbox, lb_*), over netlink.

An overlay network lives in a namespace Docker makes on each node that has it,
``<exec-root>/netns/1-<network id[:10]>`` (exec-root is /var/run/docker by
default): a bridge ``br0`` holding the network's gateway address, a vxlan device
``vxlan0`` (the VNI, UDP port 4789) enslaved to it, and a veth per local
container whose other end is the container's ``eth0``. The vxlan's forwarding
database names, per remote container MAC, the remote node's underlay address
(``dst``, the VTEP). Beside them: ``ingress_sbox`` (the routing mesh's entry,
legs on the ingress overlay and docker_gwbridge) and ``lb_<id[:9]>`` (an overlay
network's load balancer).

Each namespace is read by one worker thread that enters it with setns(2), opens
an rtnetlink socket there (a socket stays in its namespace) and reads
``/proc/thread-self/net/ip_vs`` (the routing mesh's IPVS table; absent where the
kernel has no IPVS) and its forwarding settings (``/proc/sys/net/ipv4/ip_forward``
opened from that thread is the namespace's own: /proc/sys/net follows the
opener's network namespace), then goes back; over that socket it asks for a
link, address, route (every table), policy-rule, IP-neighbour and bridge-FDB
dump and, for each namespace it may be
wired to (containers' init processes, the other Docker namespaces), the netns id
it knows that namespace by (RTM_GETNSID, batched: the ``link-netnsid`` of a
veth). The thread ends after the read, so no other code ever runs in a foreign
namespace. Only dumps and lookups are sent: nothing is changed.

The message -> model conversion is the pure :func:`parse_namespace`, tested on
recorded dumps (:func:`read_namespace_messages` gives them in plain form).
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from netexplorer.collect.errors import SourceError
from netexplorer.collect.netlink_source import (
    Message,
    _attrs,
    _get,
    _text,
    message_to_plain,
    parse_netlink,
)
from netexplorer.collect.netns_source import parse_ip_rules, parse_routes
from netexplorer.collect.rtnl_socket import (
    RTM_GETADDR,
    RTM_GETLINK,
    RTM_GETNEIGH,
    RTM_GETROUTE,
    RTM_GETRULE,
    NamespaceReader,
    in_own_thread,
    socket_in,
)
from netexplorer.collect.sysctl_source import SYSCTLS, collect_sysctls
from netexplorer.model import DockerNamespace, FdbEntry, Neighbour

T = TypeVar("T")

#: where dockerd keeps its namespaces (``--exec-root``/netns); the environment
#: variable names another daemon's (a second dockerd with its own exec-root)
NETNS_DIR_ENV = "NETEXPLORER_DOCKER_NETNS_DIR"
DEFAULT_NETNS_DIR = "/var/run/docker/netns"

AF_BRIDGE = 7
AF_INET = 2
AF_INET6 = 10
#: NUD_* states of a neighbour/FDB entry as ``bridge fdb`` prints them
_NUD_PERMANENT = 0x80
_NUD_NOARP = 0x40
#: the key of the host's own namespace in DockerNamespace.peer_netnsids
HOST = "host"
#: the settings read inside each namespace: whether it forwards (IPv4, IPv6)
FORWARDING = tuple(n for n in SYSCTLS if n.endswith(("ip_forward", "forwarding")))
#: NTF_* flags
_NTF_SELF = 0x02


def namespace_kind(name: str) -> str | None:
    """``overlay`` (1-<id>), ``ingress_sbox``, ``lb`` (lb_<id>); None: a container's."""
    if name.startswith("1-"):
        return "overlay"
    if name == "ingress_sbox":
        return "ingress_sbox"
    if name.startswith("lb_"):
        return "lb"
    return None


def netns_dir() -> str:
    return os.environ.get(NETNS_DIR_ENV) or DEFAULT_NETNS_DIR


# ----------------------------------------------------------------- pure conversion
def _fdb_state(state: Any) -> str:
    if not isinstance(state, int):
        return ""
    if state & _NUD_PERMANENT:
        return "permanent"
    if state & _NUD_NOARP:
        return "static"
    return ""


def parse_fdb(msgs: Iterable[Message], names: Mapping[int, str]) -> list[FdbEntry]:
    """RTM_NEWNEIGH messages of family AF_BRIDGE -> FDB entries (``bridge fdb show``)."""
    out: list[FdbEntry] = []
    for msg in msgs:
        if msg.get("family") != AF_BRIDGE:
            continue
        ifindex = msg.get("ifindex")
        if not isinstance(ifindex, int):
            continue
        attrs = _attrs(msg)
        mac = _get(attrs, "NDA_LLADDR")
        if mac is None:
            continue
        dst = _get(attrs, "NDA_DST")
        master = _get(attrs, "NDA_MASTER")
        vni = _get(attrs, "NDA_VNI")
        flags = msg.get("flags")
        self_entry = isinstance(flags, int) and bool(flags & _NTF_SELF)
        out.append(
            FdbEntry(
                mac=_text(mac),
                ifname=names.get(ifindex, f"if{ifindex}"),
                ifindex=ifindex,
                dst=_text(dst) if dst is not None else None,
                master=names.get(master) if isinstance(master, int) and not self_entry else None,
                state=_fdb_state(msg.get("state")),
                vni=vni if isinstance(vni, int) else None,
            )
        )
    out.sort(key=lambda e: (e.ifindex, e.mac, e.dst or ""))
    return out


#: NUD_* bits -> the word ``ip neigh`` prints, most telling first
_NUD_WORDS = (
    (0x80, "permanent"),
    (0x02, "reachable"),
    (0x04, "stale"),
    (0x08, "delay"),
    (0x10, "probe"),
    (0x20, "failed"),
    (0x01, "incomplete"),
)


def parse_neighbours(msgs: Iterable[Message], names: Mapping[int, str]) -> list[Neighbour]:
    """RTM_NEWNEIGH messages of family AF_INET/AF_INET6 -> ``ip neigh show`` (which,
    like this, leaves out the NOARP entries: multicast mappings, not neighbours)."""
    out: list[Neighbour] = []
    for msg in msgs:
        if msg.get("family") not in (AF_INET, AF_INET6):
            continue
        ifindex = msg.get("ifindex")
        attrs = _attrs(msg)
        dst = _get(attrs, "NDA_DST")
        mac = _get(attrs, "NDA_LLADDR")
        if not isinstance(ifindex, int) or dst is None or mac is None:
            continue
        state = msg.get("state")
        if isinstance(state, int) and state & _NUD_NOARP:
            continue
        word = next((w for bit, w in _NUD_WORDS if isinstance(state, int) and state & bit), "")
        out.append(
            Neighbour(_text(dst), _text(mac), names.get(ifindex, f"if{ifindex}"), ifindex, word)
        )
    out.sort(key=lambda n: (n.ifindex, n.ip))
    return out


@dataclass(slots=True)
class NamespaceMessages:
    """One namespace's dumps as read (live pyroute2 messages or their plain form)."""

    name: str
    path: str
    links: list[Any] = field(default_factory=list)
    addrs: list[Any] = field(default_factory=list)
    fdb: list[Any] = field(default_factory=list)
    neighbours: list[Any] = field(default_factory=list)
    #: RTM_GETROUTE and RTM_GETRULE dumps (every table, both families); empty in a
    #: recording made before they were read
    routes: list[Any] = field(default_factory=list)
    rules: list[Any] = field(default_factory=list)
    #: /proc/net/ip_vs as read inside the namespace; None: no such file (no IPVS)
    ipvs: str | None = None
    #: FORWARDING as read inside the namespace (name -> value)
    sysctls: dict[str, str] = field(default_factory=dict)
    peer_netnsids: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    def plain(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path,
            "links": [message_to_plain(m) for m in self.links],
            "addrs": [message_to_plain(m) for m in self.addrs],
            "fdb": [message_to_plain(m) for m in self.fdb],
            "neighbours": [message_to_plain(m) for m in self.neighbours],
            "routes": [message_to_plain(m) for m in self.routes],
            "rules": [message_to_plain(m) for m in self.rules],
            "ipvs": self.ipvs,
            "sysctls": dict(self.sysctls),
            "peer_netnsids": dict(self.peer_netnsids),
            "error": self.error,
        }


def parse_namespace(raw: NamespaceMessages) -> DockerNamespace:
    """One namespace's dumps -> the model. Pure."""
    kind = namespace_kind(raw.name) or "other"
    ns = DockerNamespace(
        name=raw.name,
        kind=kind,
        path=raw.path,
        peer_netnsids=dict(sorted(raw.peer_netnsids.items())),
        error=raw.error,
    )
    if raw.error is not None:
        return ns
    data = parse_netlink(raw.links, raw.addrs, netns=raw.name)
    ns.interfaces = data.interfaces
    ns.bridges = data.bridges
    names = {i.ifindex: i.name for i in data.interfaces}
    ns.fdb = parse_fdb(raw.fdb, names)
    ns.neighbours = parse_neighbours(raw.neighbours, names)
    ns.routes = parse_routes(raw.routes, data.interfaces)
    ns.ip_rules = parse_ip_rules(raw.rules)
    ns.ipvs = raw.ipvs
    ns.sysctls = dict(raw.sysctls)
    return ns


# ----------------------------------------------------------------- kernel access
def _open_ns(path: str) -> int | None:
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None


def ipvs_table() -> str | None:
    """This thread's namespace's IPVS table; None where the kernel has no IPVS."""
    try:
        with open("/proc/thread-self/net/ip_vs", encoding="ascii", errors="replace") as f:
            return f.read(65536)
    except OSError:
        return None


def _nsid(reply: Any) -> int | None:
    if not isinstance(reply, int) or reply < 0 or reply == 0xFFFFFFFF:
        return None
    return reply


def _read_one(reader: Any, sock: Any, raw: NamespaceMessages, others: Mapping[str, int]) -> None:
    """The dumps of the namespace ``sock`` is bound to, and its ids of the others
    (a dump interrupted by changes is repeated; the last attempt is kept)."""
    warnings: list[str] = []
    where = f"Docker's namespace {raw.name}"
    raw.links = reader.dump(sock, RTM_GETLINK, warnings, where)
    raw.addrs = reader.dump(sock, RTM_GETADDR, warnings, where)
    raw.routes = reader.dump(sock, RTM_GETROUTE, warnings, where)
    raw.rules = reader.dump(sock, RTM_GETRULE, warnings, where)
    raw.fdb = reader.dump(sock, RTM_GETNEIGH, warnings, where)
    raw.neighbours = [
        m for f in (AF_INET, AF_INET6) for m in reader.dump(sock, RTM_GETNEIGH, warnings, where, f)
    ]
    peers = [(other, fd) for other, fd in others.items() if other != raw.name]
    for (other, _fd), reply in zip(peers, reader.nsids(sock, [fd for _, fd in peers]), strict=True):
        nsid = _nsid(reply)
        if nsid is not None:
            raw.peer_netnsids[other] = nsid


def _read_all(paths: list[tuple[str, str]], pids: list[int]) -> list[NamespaceMessages]:
    """In this (own) thread: enter each namespace, open a socket and read the IPVS
    table there, come back, read over the socket."""
    reader = NamespaceReader()
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    # handles on every namespace that a veth may lead to, opened from the host side
    others: dict[str, int] = {HOST: os.dup(home)}
    for name, path in paths:
        fd = _open_ns(path)
        if fd is not None:
            others[name] = fd
    for pid in pids:
        fd = _open_ns(f"/proc/{pid}/ns/net")
        if fd is not None:
            others[f"pid:{pid}"] = fd
    out: list[NamespaceMessages] = []
    try:
        for name, path in paths:
            raw = NamespaceMessages(name=name, path=path)
            out.append(raw)
            fd = others.get(name)
            if fd is None:
                raw.error = f"namespace {path} vanished before it could be read"
                continue

            def inside(raw: NamespaceMessages = raw) -> None:
                raw.ipvs = ipvs_table()
                # /proc/sys/net answers for the network namespace of the thread
                # that opens the file: this one, entered for the socket (no
                # /proc/sys: the settings stay unread, as in an older read)
                with contextlib.suppress(SourceError):
                    raw.sysctls = collect_sysctls(names=FORWARDING).values

            try:
                with socket_in(fd, home, path, inside) as sock:
                    _read_one(reader, sock, raw, others)
            except PermissionError:
                raw.error = (
                    f"permission denied entering {path}: reading Docker's namespaces "
                    "needs root (CAP_SYS_ADMIN); run netexplorer with sudo."
                )
            except OSError as exc:
                raw.error = f"reading namespace {path} failed: {exc.strerror or exc}"
    finally:
        for fd in others.values():
            os.close(fd)
        os.close(home)
    return out


def list_namespaces(directory: str | None = None) -> list[tuple[str, str]]:
    """(name, path) of the overlay, ingress_sbox and lb_ namespaces, by name."""
    d = directory or netns_dir()
    try:
        names = sorted(os.listdir(d))
    except (FileNotFoundError, PermissionError):
        # not there: no Docker namespaces; not ours to list: not root, which the
        # snapshot's NOT_ROOT warning already says
        return []
    try:
        here = os.stat(d).st_dev
    except OSError:
        return []
    out: list[tuple[str, str]] = []
    for n in names:
        path = os.path.join(d, n)
        if not namespace_kind(n):
            continue
        try:
            # a live namespace is an nsfs bind mount (another device than the
            # directory's); an empty file left by a swarm leave is not one
            if os.stat(path).st_dev == here:
                continue
        except OSError:
            continue
        out.append((n, path))
    return out


def read_namespace_messages(
    pids: Iterable[int] = (), directory: str | None = None
) -> list[NamespaceMessages]:
    """The raw dumps of Docker's namespaces; ``pids`` are containers' init processes."""
    paths = list_namespaces(directory)
    if not paths:
        return []
    if os.geteuid() != 0:
        raise SourceError(
            "not root: Docker's overlay namespaces (/var/run/docker/netns) cannot be "
            "entered, so overlay networks show without their br0 and vxlan; run with sudo."
        )
    wanted = sorted({p for p in pids if p > 0})
    try:
        return in_own_thread(lambda: _read_all(paths, wanted))
    except OSError as exc:
        if exc.errno in (errno.EPERM, errno.EACCES):
            raise SourceError(
                "permission denied entering Docker's namespaces: run with sudo."
            ) from exc
        raise SourceError(f"reading Docker's namespaces failed: {exc}") from exc


def collect_namespaces(pids: Iterable[int] = ()) -> list[DockerNamespace]:
    """Docker's overlay, ingress_sbox and lb_ namespaces of this host, read over netlink."""
    return [parse_namespace(raw) for raw in read_namespace_messages(pids)]
