"""Run every collector, time each, keep going past faults, assemble the read.

The five sources (Docker API, netlink, firewall, conntrack, the sysctls in
/proc/sys) are independent and run concurrently; the netns ids of the containers
(one netlink batch) follow the Docker answer in the Docker thread. A source that
fails is recorded in ``sources[]`` with a sentence naming the cause and the fix;
the others still fill the snapshot.

Collection is two steps so that the live view can re-read a single source:
:func:`collect_parts` reads some sources into :class:`Part` objects (a ``Source``
record and the collector's data), :func:`assemble` builds one Snapshot (the read,
never written into afterwards: correlation is ``netexplorer.correlate``'s separate
result) from a part per source. :func:`collect_snapshot` is both at once.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import socket
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

from netexplorer.collect.errors import SourceError
from netexplorer.collect.forked import fork_call, write_result
from netexplorer.collect.xfrm_source import read_xfrm
from netexplorer.model import (
    MESH_NAMESPACE_KINDS,
    Container,
    DockerNamespace,
    NetnsView,
    Snapshot,
    Source,
)

if TYPE_CHECKING:
    from netexplorer.collect.firewall.netns_tables import NetnsTables
from netexplorer.privilege import not_root_warning

T = TypeVar("T")

#: reads containers' own namespaces: (id -> pid, id -> name) -> (id -> view, warnings)
NetnsReader = Callable[
    [Mapping[str, int], Mapping[str, str]], tuple[Mapping[str, NetnsView], list[str]]
]

#: how long the Docker read waits for the forked read ahead before reading by itself
AHEAD_TIMEOUT = 15.0
#: every source, in the order of ``Snapshot.sources``
SOURCE_NAMES = ("docker", "netlink", "firewall", "conntrack", "sysctl")


def _timed(name: str, fn: Callable[[], T]) -> tuple[Source, T | None]:
    start = time.perf_counter()
    read_at = time.time()
    try:
        result = fn()
    except SourceError as exc:
        return Source(name, False, str(exc), time.perf_counter() - start), None
    except Exception as exc:  # a collector bug must not take the others down
        msg = f"{name} collector failed unexpectedly: {type(exc).__name__}: {exc}"
        return Source(name, False, msg, time.perf_counter() - start), None
    return Source(name, True, None, time.perf_counter() - start, read_at=read_at), result


def preload_libraries() -> None:
    """Import every collector and its library in the calling thread.

    Imports racing in the collector threads can deadlock on the import locks
    (seen: docker's import chain against another thread's), so collection starts
    only once everything is imported. A missing library is not an error here: the
    collector that needs it says so in words when it runs. python-iptables is
    loaded only when the kernel has legacy tables to read.
    """
    import netexplorer.collect.conntrack_source
    import netexplorer.collect.docker_source
    import netexplorer.collect.firewall
    import netexplorer.collect.firewall.legacy
    import netexplorer.collect.firewall.nft
    import netexplorer.collect.firewall.nft_native
    import netexplorer.collect.firewall.tool
    import netexplorer.collect.netlink_source
    import netexplorer.collect.pyroute2_lazy
    from netexplorer.collect import rtnl_socket

    netexplorer.collect.pyroute2_lazy.install()
    for name in (
        "docker",
        "pyroute2.netlink.nfnetlink.nfctsocket",
        *rtnl_socket.MESSAGE_MODULES,
    ):
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    if netexplorer.collect.firewall.legacy.legacy_tables_exist():
        with contextlib.suppress(SourceError):
            netexplorer.collect.firewall.legacy.import_iptc()


@dataclass(slots=True)
class Part:
    """One source's read: how it fared, and its data (None if it failed)."""

    source: Source
    data: Any


@dataclass(slots=True)
class Collectors:
    """The functions that read each source; tests replace some."""

    #: called with ``known_pids=`` (a callable giving container id -> init pid) when
    #: ``pids`` is set, else without arguments
    docker: Callable[..., Any] | None = None
    netlink: Callable[[], Any] | None = None
    firewall: Callable[[], Any] | None = None
    netnsids: Callable[[list[int]], dict[int, int | None]] | None = None
    conntrack: Callable[[], Any] | None = None
    sysctl: Callable[[], Any] | None = None
    #: Docker's overlay/ingress/lb namespaces, given the containers' pids
    namespaces: Callable[[list[int]], list[DockerNamespace]] | None = None
    #: the host's routes and rules, given its interfaces (after ``netlink``)
    routing: Callable[[list[Any]], Any] | None = None
    #: containers' own namespaces: (container id -> pid, id -> name) -> (views, warnings)
    netns_views: NetnsReader | None = None
    #: running containers' init pids found without Docker (container id -> pid)
    pids: Callable[[], Mapping[str, int]] | None = None
    #: namespaces read from those pids before Docker answers (pid -> view, clean reads)
    views_ahead: Callable[[list[int]], Mapping[int, NetnsView]] | None = None
    #: the netfilter tables of the routing mesh's namespaces: [(name, path)] -> by name
    netns_tables: Callable[[list[tuple[str, str]]], Mapping[str, NetnsTables]] | None = None

    def resolved(self) -> Collectors:
        from netexplorer.collect.conntrack_source import collect_conntrack
        from netexplorer.collect.docker_source import collect_docker
        from netexplorer.collect.firewall import collect_firewall
        from netexplorer.collect.firewall.netns_tables import read_netns_tables
        from netexplorer.collect.netlink_source import collect_netlink, netnsids_for_pids
        from netexplorer.collect.netns_source import (
            read_host_routing,
            read_netns_views,
            read_views_ahead,
        )
        from netexplorer.collect.overlay_source import collect_namespaces
        from netexplorer.collect.proc_pids import CGROUP_ROOT, container_pids
        from netexplorer.collect.sysctl_source import collect_sysctls

        live = self.docker is None
        return Collectors(
            docker=self.docker or collect_docker,
            netlink=self.netlink or collect_netlink,
            firewall=self.firewall or collect_firewall,
            netnsids=self.netnsids or netnsids_for_pids,
            conntrack=self.conntrack or collect_conntrack,
            sysctl=self.sysctl or collect_sysctls,
            # Docker's namespaces and the pids from /proc belong to the daemon read:
            # with another docker collector (a test's, a recording) they are read only
            # when given
            namespaces=self.namespaces or (collect_namespaces if live else None),
            routing=self.routing or read_host_routing,
            netns_views=self.netns_views or read_netns_views,
            pids=self.pids
            or ((lambda: container_pids(None, cgroup_root=CGROUP_ROOT)) if live else None),
            views_ahead=self.views_ahead or (read_views_ahead if live else None),
            netns_tables=self.netns_tables or (read_netns_tables if live else None),
        )


@dataclass(slots=True)
class _Ahead:
    """What the containers' pids found in ``/proc`` let be read while Docker answers:
    their netns ids, their own namespaces and Docker's (pids as keys)."""

    netnsids: dict[int, int | None] = field(default_factory=dict)
    views: Mapping[int, NetnsView] = field(default_factory=dict)
    namespaces: tuple[Source, list[DockerNamespace] | None] | None = None
    warnings: list[str] = field(default_factory=list)


def _read_ahead(c: Collectors, found: Mapping[str, int]) -> _Ahead:
    """The reads ``found``'s pids allow: their netns ids, their own namespaces and
    Docker's."""
    ahead = _Ahead()
    pids = sorted(set(found.values()))
    if not pids:
        return ahead
    assert c.netnsids is not None
    netnsids = c.netnsids
    ns_src, ids = _timed("netns", lambda: netnsids(pids))
    if ids is not None:
        ahead.netnsids = ids
    else:
        # said once; not asked again for these pids
        ahead.netnsids = dict.fromkeys(pids)
        ahead.warnings.append(f"container network namespaces: {ns_src.error}")
    if c.views_ahead is not None:
        views_ahead = c.views_ahead
        ahead.views = _timed("netns", lambda: views_ahead(pids))[1] or {}
    if c.namespaces is not None:
        namespaces = c.namespaces
        ahead.namespaces = _timed("docker-netns", lambda: namespaces(pids))
    return ahead


class _Early:
    """The pids found without Docker and the reads they allow, started before the
    other sources: by a forked child while the process has a single thread (the
    reads are mostly Python work, which a thread would do under the interpreter
    lock the other sources need too; the child uses the other core), else by a
    thread. A child that fails or is late costs the head start only: what it did
    not read is read afterwards."""

    def __init__(self, c: Collectors) -> None:
        assert c.pids is not None
        self._pids = pids = c.pids
        self._forked = fork_call(
            lambda fd: write_result(fd, (found := pids(), _read_ahead(c, found))), AHEAD_TIMEOUT
        )
        # the child's result is taken (unpickled) as it comes, while the other sources
        # wait for Docker and the kernel; without a child, read here
        pool = ThreadPoolExecutor(max_workers=1)
        if self._forked is None:
            self._read = pool.submit(lambda: (found := pids(), _read_ahead(c, found)))
        else:
            self._read = pool.submit(self._take)
        pool.shutdown(wait=False)

    def pids(self) -> Mapping[str, int]:
        """Container id -> init pid, from ``/proc``."""
        return self._read.result()[0]

    def ahead(self) -> _Ahead:
        return self._read.result()[1]

    def _take(self) -> tuple[Mapping[str, int], _Ahead]:
        assert self._forked is not None
        got = self._forked.take()
        ok = isinstance(got, tuple) and len(got) == 2 and isinstance(got[1], _Ahead)
        return got if ok else (self._pids(), _Ahead())


def _docker_part(c: Collectors, early: _Early | None) -> Part:
    """Docker, then the netns ids of its running containers (they need the pids), their
    own namespaces and Docker's. Where the pids can be found without Docker (``/proc``),
    those reads run while the daemon answers (``early``)."""
    assert c.docker is not None and c.netnsids is not None
    start = time.perf_counter()
    if early is None:
        src, data = _timed("docker", c.docker)
    else:
        docker = c.docker
        src, data = _timed("docker", lambda: docker(known_pids=early.pids))
    ahead = early.ahead() if early is not None else _Ahead()
    if data is not None:
        data.warnings.extend(ahead.warnings)
        _netnsids(c, data, ahead)
        _docker_namespaces(c, data, ahead)
        _read_insides(c, data, ahead)
        data = _mesh_tables(c, data)
    src.seconds = time.perf_counter() - start
    return Part(src, data)


def _netnsids(c: Collectors, data: Any, early: _Ahead) -> None:
    """Each running container's netns id: read ahead, or asked now."""
    assert c.netnsids is not None
    missing = [ct.pid for ct in data.containers if ct.pid and ct.pid not in early.netnsids]
    ids: Mapping[int, int | None] = early.netnsids
    if missing:
        netnsids = c.netnsids
        ns_src, more = _timed("netns", lambda: netnsids(missing))
        if more is None:
            data.warnings.append(f"container network namespaces: {ns_src.error}")
        ids = {**ids, **(more or {})}
    for ct in data.containers:
        if ct.pid:
            ct.netnsid = ids.get(ct.pid)


def _docker_namespaces(c: Collectors, data: Any, early: _Ahead) -> None:
    """Docker's overlay namespaces, where there is an overlay network."""
    if c.namespaces is None or not any(n.driver == "overlay" for n in data.networks):
        return
    read = early.namespaces
    if read is None:
        namespaces = c.namespaces
        pids = [ct.pid for ct in data.containers if ct.pid]
        read = _timed("docker-netns", lambda: namespaces(pids))
    dn_src, spaces = read
    data.namespaces = spaces or []
    if not dn_src.ok:
        data.warnings.append(f"Docker's overlay namespaces: {dn_src.error}")
    data.warnings.extend(
        f"Docker namespace {ns.name}: {ns.error}" for ns in data.namespaces if ns.error
    )


def _read_insides(c: Collectors, data: Any, early: _Ahead) -> None:
    """Each running container's own namespace (not a ``host`` or ``container:`` one:
    those are the host's or their owner's): read ahead, or read now."""
    assert c.netns_views is not None
    own = [
        ct
        for ct in data.containers
        if ct.pid and ct.netns_owner is None and ct.network_mode != "host"
    ]
    for ct in own:
        ct.inside = early.views.get(ct.pid)
    rest = [ct for ct in own if ct.inside is None]
    if not rest:
        return
    reader = c.netns_views
    pids = {ct.id: ct.pid for ct in rest}
    names = {ct.id: ct.name for ct in rest}
    read_src, found = _timed("netns", lambda: reader(pids, names))
    if found is None:
        data.warnings.append(f"containers' own network namespaces: {read_src.error}")
        return
    views, warnings = found
    data.warnings.extend(warnings)
    for ct in rest:
        ct.inside = views.get(ct.id)


def mesh_targets(data: Any) -> tuple[list[DockerNamespace], list[Container]]:
    """Where a Docker read's routing mesh has netfilter tables: its ingress_sbox and
    lb_* namespaces (read without error), and its running containers with an endpoint
    on the ingress network whose own namespace was read (service tasks publishing a
    port). The Docker read and the firewall poll read these, and only these."""
    spaces = [ns for ns in data.namespaces if ns.kind in MESH_NAMESPACE_KINDS and not ns.error]
    ingress = {n.id for n in data.networks if n.ingress}
    tasks = [
        ct
        for ct in data.containers
        if ingress
        and ct.pid
        and ct.inside is not None
        and ct.inside.error is None
        and any(ep.network_id in ingress for ep in ct.endpoints)
    ]
    return spaces, tasks


def _task_netns(ct: Container) -> str:
    """A task's namespace as ``Rule.netns`` names it."""
    return f"ct:{ct.id}"


def _with_mesh(c: Collectors, data: Any) -> Any | None:
    """``data`` (a Docker read) with the netfilter tables of its routing mesh read
    (:func:`mesh_targets`), and each mesh namespace's IPVS table as read with them:
    a new DockerData whose namespace and task objects read are new ones (``data``
    and its objects are not written into: a read's may be the previous one's), its
    ``mesh_warnings`` said afresh. None where there is nothing to read (nothing is
    run then)."""
    spaces, tasks = mesh_targets(data)
    if c.netns_tables is None or not (spaces or tasks):
        return None
    targets = [(ns.name, ns.path) for ns in spaces]
    targets += [(_task_netns(ct), f"/proc/{ct.pid}/ns/net") for ct in tasks]
    reader = c.netns_tables
    read_src, found = _timed("netns-firewall", lambda: reader(targets))
    if found is None:
        failed = f"the routing mesh's netfilter tables: {read_src.error}"
        return replace(data, mesh_warnings=[failed])
    read = {ns.name for ns in spaces}
    namespaces = [
        _namespace_with(ns, t) if ns.name in read and (t := found.get(ns.name)) else ns
        for ns in data.namespaces
    ]
    by_task = {ct.id: t for ct in tasks if (t := found.get(_task_netns(ct))) is not None}
    containers = [
        replace(ct, inside=replace(ct.inside, rules=t.rules, chains=t.chains))
        if ct.inside is not None and (t := by_task.get(ct.id)) is not None
        else ct
        for ct in data.containers
    ]
    said: list[str] = []
    for name, _path in targets:
        t = found.get(name)
        if t is None:
            continue
        owner = name if not name.startswith("ct:") else _container_name(data, name[3:])
        if t.error:
            said.append(f"netfilter tables of {owner}: {t.error}")
        said.extend(f"netfilter tables of {owner}: {p}" for p in t.problems)
    return replace(data, namespaces=namespaces, containers=containers, mesh_warnings=said)


def _namespace_with(ns: DockerNamespace, tables: NetnsTables) -> DockerNamespace:
    """A mesh namespace with the tables read in it; its IPVS table too, unless it could
    not be entered (then the one read with its interfaces is kept)."""
    ipvs = ns.ipvs if tables.error else tables.ipvs
    return replace(ns, rules=tables.rules, chains=tables.chains, ipvs=ipvs)


def _mesh_tables(c: Collectors, data: Any) -> Any:
    """The Docker read with its routing mesh's tables (:func:`_with_mesh`)."""
    return _with_mesh(c, data) or data


def mesh_poll(c: Collectors, docker: Part) -> Part | None:
    """The firewall poll's read of the routing mesh: ``docker`` (the last Docker part)
    with the mesh's netfilter tables and IPVS tables read again, as a new Part with
    the same source; None (nothing run) when that read has no mesh."""
    if docker.data is None:
        return None
    data = _with_mesh(c, docker.data)
    return Part(replace(docker.source), data) if data is not None else None


def _container_name(data: Any, cid: str) -> str:
    return next((f"container {ct.name}" for ct in data.containers if ct.id == cid), cid[:12])


def _netlink_part(c: Collectors) -> Part:
    """The host's links and addresses, then its routes and rules (they need the names)."""
    assert c.netlink is not None and c.routing is not None
    src, data = _timed("netlink", c.netlink)
    if data is not None:
        routing = c.routing
        interfaces = data.interfaces
        route_src, found = _timed("routes", lambda: routing(interfaces))
        src.seconds += route_src.seconds
        if found is None:
            data.warnings.append(f"host routes: {route_src.error}")
        else:
            data.routes, data.ip_rules = found.routes, found.ip_rules
            data.warnings.extend(found.warnings)
    return Part(src, data)


def collect_parts(
    names: Collection[str] = SOURCE_NAMES,
    collectors: Collectors | None = None,
    docker: Part | None = None,
) -> dict[str, Part]:
    """Read the sources ``names`` concurrently.

    ``docker``: the last Docker part, when Docker is not read again. With the
    firewall among ``names``, its routing mesh's netfilter and IPVS tables (in
    namespaces of Docker's) are then read with the host's, and the result holds a
    "docker" part too: that read with them (:func:`mesh_poll`); where it has no
    mesh, nothing more is read and there is no "docker" part."""
    preload_libraries()
    c = (collectors or Collectors()).resolved()
    wanted = [n for n in SOURCE_NAMES if n in names]
    polled = "firewall" in wanted and "docker" not in wanted
    mesh = docker if polled else None
    # before any thread starts here: the read ahead may be made by a forked child
    early = _Early(c) if "docker" in wanted and c.pids is not None else None
    jobs: dict[str, Callable[[], Part]] = {
        "docker": lambda: _docker_part(c, early),
        "netlink": lambda: _netlink_part(c),
        "firewall": lambda: Part(*_timed("firewall", c.firewall)),  # type: ignore[arg-type]
        "conntrack": lambda: Part(*_timed("conntrack", c.conntrack)),  # type: ignore[arg-type]
        "sysctl": lambda: Part(*_timed("sysctl", c.sysctl)),  # type: ignore[arg-type]
    }
    with ThreadPoolExecutor(max_workers=max(1, len(wanted) + (mesh is not None))) as pool:
        futures: dict[str, Future[Part | None]] = {n: pool.submit(jobs[n]) for n in wanted}
        if mesh is not None:
            futures["docker"] = pool.submit(lambda: mesh_poll(c, mesh))
        found = {n: future.result() for n, future in futures.items()}
    return {n: part for n in SOURCE_NAMES if (part := found.get(n)) is not None}


def assemble(
    parts: Mapping[str, Part],
    host: str | None = None,
    warnings: Iterable[str] = (),
    started: float | None = None,
) -> Snapshot:
    """One Snapshot from a part per source, plus ``warnings``; ``started`` (a
    ``time.perf_counter()``) makes ``collect_seconds`` the time since then.

    The parts' data is shared, not copied: the Snapshot's lists are the
    collectors' own, and nothing writes into either afterwards.
    """
    snap = Snapshot(host=socket.gethostname() if host is None else host)
    if os.geteuid() != 0:
        snap.warnings.insert(0, not_root_warning())
    for name in SOURCE_NAMES:
        part = parts.get(name)
        if part is None:
            continue
        src, data = part.source, part.data
        if data is not None:
            snap.warnings.extend(data.warnings)
            if name == "docker":
                snap.warnings.extend(data.mesh_warnings)
                snap.networks = data.networks
                snap.containers = data.containers
                snap.swarm = data.swarm
                snap.namespaces = data.namespaces
            elif name == "netlink":
                snap.interfaces = data.interfaces
                snap.bridges = data.bridges
                snap.routes = data.routes
                snap.ip_rules = data.ip_rules
            elif name == "firewall":
                snap.rules = data.rules
                snap.chains = data.chains
                snap.firewall_backends = data.backends
                if data.errors and src.ok:
                    errors = "; ".join(f"{b}: {m}" for b, m in sorted(data.errors.items()))
                    src = replace(src, error=errors)
            elif name == "conntrack":
                snap.conntrack = data.flows
            elif name == "sysctl":
                snap.sysctls = data.values
        snap.sources.append(src)
    for src in snap.sources:
        if not src.ok and src.error:
            snap.warnings.append(src.error)
    snap.warnings.extend(warnings)
    # the host's IPsec: read here (two ip processes) only while an encrypted overlay
    # exists, so the live feed's reads, assembled here too, have it as the first read
    read_xfrm(snap)
    if started is not None:
        snap.collect_seconds = time.perf_counter() - started
    return snap


def collect_snapshot(
    docker: Callable[[], Any] | None = None,
    netlink: Callable[[], Any] | None = None,
    firewall: Callable[[], Any] | None = None,
    netnsids: Callable[[list[int]], dict[int, int | None]] | None = None,
    conntrack: Callable[[], Any] | None = None,
    sysctl: Callable[[], Any] | None = None,
) -> Snapshot:
    """Read the live host into one Snapshot. Arguments replace sources (tests)."""
    # imports first: collect_seconds is the reading, not Python loading the libraries
    # (once per process); collect_parts' own call is then a no-op
    preload_libraries()
    start = time.perf_counter()
    parts = collect_parts(
        SOURCE_NAMES, Collectors(docker, netlink, firewall, netnsids, conntrack, sysctl)
    )
    return assemble(parts, started=start)
