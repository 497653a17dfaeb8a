"""Docker networks and containers, read with the Docker SDK (HTTP API, no subprocess).

``GET /networks``, ``GET /containers/json?all=1`` and ``GET /info`` (swarm
membership), asked side by side. The init pid of each running container (the
handle to its network namespace) comes from one pass over ``/proc``
(:mod:`netexplorer.collect.proc_pids`); only containers not found there cost a
``GET /containers/<id>/json``, issued concurrently on a small pool.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from netexplorer.collect.errors import SourceError
from netexplorer.collect.proc_pids import CGROUP_ROOT, container_pids
from netexplorer.model import (
    Container,
    DockerNamespace,
    Endpoint,
    Network,
    OverlayPeer,
    PublishedPort,
    SwarmInfo,
    shared_netns_owner,
)

BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"
PARENT_OPTION = "parent"
#: drivers whose endpoints hang off a host interface instead of a veth on a bridge
PARENT_DRIVERS = frozenset({"macvlan", "ipvlan"})
INSPECT_WORKERS = 8
#: API calls made side by side in one read (the SDK's pool keeps 10 connections)
API_WORKERS = 4
DEFAULT_SOCKET = "unix:///var/run/docker.sock"


#: the bridge network that gives swarm containers (and ingress_sbox) their way out
GWBRIDGE = "docker_gwbridge"


@dataclass(slots=True)
class DockerData:
    networks: list[Network] = field(default_factory=list)
    containers: list[Container] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    swarm: SwarmInfo | None = None
    #: Docker's own namespaces (read after the containers: they need their pids)
    namespaces: list[DockerNamespace] = field(default_factory=list)
    #: what reading the routing mesh's netfilter tables said (read again with them
    #: at each firewall poll, so kept apart from ``warnings``)
    mesh_warnings: list[str] = field(default_factory=list)


def docker_host() -> str:
    """Where the SDK will look for the daemon, as the operator would name it."""
    return os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET


def explain_docker_error(exc: BaseException) -> str:
    """Turn an SDK/requests exception into a sentence naming the cause and the fix."""
    host = docker_host()
    where = f"{host} (DOCKER_HOST)" if os.environ.get("DOCKER_HOST") else host
    text = f"{exc!r} {exc}"
    if "Permission denied" in text or "PermissionError" in text:
        return (
            f"Permission denied on the Docker socket {where}: run netexplorer as root "
            "(sudo) or add your user to the 'docker' group (usermod -aG docker $USER, "
            "then log in again)."
        )
    if any(
        s in text
        for s in (
            "FileNotFoundError",
            "No such file",
            "Connection refused",
            "Connection aborted",
            "ConnectionError",
            "Max retries",
        )
    ):
        return (
            f"No Docker daemon answers at {where}: start it (systemctl start docker, or "
            "dockerd &) or point DOCKER_HOST at a running daemon. Host interfaces and "
            "firewall rules are still shown."
        )
    if "Read timed out" in text or "timed out" in text:
        return (
            f"The Docker daemon at {where} did not answer in time: it may be overloaded "
            "or hung; check 'docker info' and the dockerd log."
        )
    return f"Docker API error at {where}: {exc}"


def bridge_name(net: Mapping[str, Any]) -> str | None:
    """Host bridge interface of a bridge network: the option, docker0, or br-<id12>."""
    if net.get("Driver") != "bridge":
        return None
    options = net.get("Options") or {}
    if options.get(BRIDGE_NAME_OPTION):
        return str(options[BRIDGE_NAME_OPTION])
    if net.get("Name") == "bridge":
        return "docker0"
    return "br-" + str(net.get("Id", ""))[:12]


def network_from_api(net: Mapping[str, Any]) -> Network:
    ipam = net.get("IPAM") or {}
    configs = ipam.get("Config") or []
    return Network(
        id=str(net.get("Id", "")),
        name=str(net.get("Name", "")),
        driver=str(net.get("Driver", "")),
        scope=str(net.get("Scope", "local")),
        subnets=[str(c["Subnet"]) for c in configs if c.get("Subnet")],
        gateways=[str(c["Gateway"]) for c in configs if c.get("Gateway")],
        bridge=bridge_name(net),
        internal=bool(net.get("Internal", False)),
        enable_ipv6=bool(net.get("EnableIPv6", False)),
        options={str(k): str(v) for k, v in (net.get("Options") or {}).items()},
        labels={str(k): str(v) for k, v in (net.get("Labels") or {}).items()},
        parent=parent_name(net),
        attachable=bool(net.get("Attachable", False)),
        ingress=bool(net.get("Ingress", False)),
        peers=sorted(
            (
                OverlayPeer(str(p.get("Name", "")), str(p.get("IP", "")))
                for p in net.get("Peers") or ()
            ),
            key=lambda p: (p.ip, p.name),
        ),
    )


def swarm_from_info(info: Mapping[str, Any]) -> SwarmInfo | None:
    """This node's swarm membership from ``docker info`` (None when not in a swarm)."""
    sw = info.get("Swarm") or {}
    state = str(sw.get("LocalNodeState") or "inactive")
    if state == "inactive" or not sw.get("NodeID"):
        return None
    return SwarmInfo(
        node_id=str(sw.get("NodeID", "")),
        node_addr=str(sw.get("NodeAddr", "")),
        state=state,
        manager=bool(sw.get("ControlAvailable", False)),
    )


def gateway_endpoints(gwbridge: Mapping[str, Any]) -> dict[str, Endpoint]:
    """docker_gwbridge's attachments (``docker network inspect``): container id ->
    its eth1 leg. Docker lists them only there, not among the container's networks."""
    out: dict[str, Endpoint] = {}
    net_id = str(gwbridge.get("Id", ""))
    gateways = [c.get("Gateway") for c in (gwbridge.get("IPAM") or {}).get("Config") or ()]
    for cid, ep in (gwbridge.get("Containers") or {}).items():
        if cid == "ingress-sbox":  # the routing mesh's namespace, not a container
            continue
        addr, _, plen = str(ep.get("IPv4Address") or "").partition("/")
        out[str(cid)] = Endpoint(
            container_id=str(cid),
            container_name="",
            network=GWBRIDGE,
            network_id=net_id,
            endpoint_id=str(ep.get("EndpointID") or ""),
            ipv4=addr or None,
            ipv4_prefixlen=int(plen) if plen.isdigit() else None,
            mac=ep.get("MacAddress") or None,
            gateway=next((str(g) for g in gateways if g), None),
        )
    return out


def parent_name(net: Mapping[str, Any]) -> str | None:
    """Host interface a macvlan/ipvlan network hangs off (option ``parent``), else None."""
    if net.get("Driver") not in PARENT_DRIVERS:
        return None
    parent = (net.get("Options") or {}).get(PARENT_OPTION)
    return str(parent) if parent else None


def _name(summary: Mapping[str, Any]) -> str:
    names = summary.get("Names") or []
    # the primary name is the one without a link path ("/web", not "/x/web")
    for n in names:
        if n.count("/") == 1:
            return str(n).lstrip("/")
    return str(names[0]).lstrip("/") if names else str(summary.get("Id", ""))[:12]


def container_from_api(summary: Mapping[str, Any], pid: int | None = None) -> Container:
    """Build a Container from a ``/containers/json`` entry (and the pid from inspect)."""
    cid = str(summary.get("Id", ""))
    name = _name(summary)
    host_config = summary.get("HostConfig") or {}
    ports = [
        PublishedPort(
            container_port=int(p["PrivatePort"]),
            protocol=str(p.get("Type", "tcp")),
            host_ip=str(p.get("IP", "")),
            host_port=int(p["PublicPort"]),
        )
        for p in summary.get("Ports") or []
        if p.get("PublicPort")
    ]
    ports.sort(key=lambda p: (p.container_port, p.protocol, p.host_ip, p.host_port))
    endpoints = []
    networks = (summary.get("NetworkSettings") or {}).get("Networks") or {}
    for net_name, ep in sorted(networks.items()):
        endpoints.append(
            Endpoint(
                container_id=cid,
                container_name=name,
                network=str(net_name),
                network_id=str(ep.get("NetworkID") or ""),
                endpoint_id=str(ep.get("EndpointID") or ""),
                ipv4=ep.get("IPAddress") or None,
                ipv4_prefixlen=ep.get("IPPrefixLen") or None,
                ipv6=ep.get("GlobalIPv6Address") or None,
                ipv6_prefixlen=ep.get("GlobalIPv6PrefixLen") or None,
                mac=ep.get("MacAddress") or None,
                gateway=ep.get("Gateway") or None,
                ipv6_gateway=ep.get("IPv6Gateway") or None,
            )
        )
    return Container(
        id=cid,
        name=name,
        image=str(summary.get("Image", "")),
        state=str(summary.get("State", "")),
        network_mode=str(host_config.get("NetworkMode", "")),
        pid=pid,
        published_ports=ports,
        endpoints=endpoints,
        labels={str(k): str(v) for k, v in (summary.get("Labels") or {}).items()},
        netns_owner=shared_netns_owner(str(host_config.get("NetworkMode", ""))),
    )


def _connect() -> Any:
    import docker

    try:
        # connecting asks the daemon its API version: no separate ping needed
        client = docker.from_env(timeout=10)
    except Exception as exc:
        raise SourceError(explain_docker_error(exc)) from exc
    return client.api


def collect_docker(
    api: Any = None, known_pids: Callable[[], Mapping[str, int]] | None = None
) -> DockerData:
    """Read networks and containers. ``api`` is a ``docker.APIClient`` (made if None);
    ``known_pids`` gives the init pids already known (container id -> pid; by default
    one pass over ``/proc`` made while the daemon answers).

    After the connection (which asks the daemon its API version), the networks, the
    containers and ``/info`` are asked side by side, each on a connection of the
    SDK's pool, then the inspects of the overlay networks and docker_gwbridge.
    """
    pool = ThreadPoolExecutor(max_workers=API_WORKERS)
    try:
        if known_pids is None:
            # the pass over /proc (~30 us a process) runs while the daemon answers
            known_pids = pool.submit(container_pids, None, cgroup_root=CGROUP_ROOT).result
        if api is None:
            api = _connect()
        networks = pool.submit(api.networks)
        containers = pool.submit(api.containers, all=True)
        info = pool.submit(api.info)
        try:
            raw_networks = networks.result()
            # Peers of overlay networks and docker_gwbridge's legs are in the inspect only
            ids = [
                str(n["Id"])
                for n in raw_networks
                if n.get("Driver") == "overlay" or n.get("Name") == GWBRIDGE
            ]
            detailed = dict(zip(ids, pool.map(api.inspect_network, ids), strict=True))
            raw_containers = containers.result()
            swarm = swarm_from_info(info.result())
        except Exception as exc:
            raise SourceError(explain_docker_error(exc)) from exc
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    raw_networks = [detailed.get(str(n.get("Id")), n) for n in raw_networks]
    running = {str(s.get("Id", "")) for s in raw_containers if _running(s)}
    known = {cid: pid for cid, pid in known_pids().items() if cid in running}
    data = build_docker_data(raw_networks, raw_containers, api.inspect_container, known)
    data.swarm = swarm
    return data


def _running(summary: Mapping[str, Any]) -> bool:
    return summary.get("State") in ("running", "paused", "restarting")


def build_docker_data(
    raw_networks: Iterable[Mapping[str, Any]],
    raw_containers: Iterable[Mapping[str, Any]],
    inspect: Callable[[str], Mapping[str, Any]],
    known_pids: Mapping[str, int] | None = None,
) -> DockerData:
    """Turn API answers into the model; ``inspect`` gives a container's inspect dict.

    ``known_pids`` (container id -> init pid, e.g. from ``/proc``) spares those
    containers the inspect call.
    """
    data = DockerData()
    raw_networks = list(raw_networks)
    data.networks = sorted((network_from_api(n) for n in raw_networks), key=lambda n: n.name)
    summaries = list(raw_containers)
    known = known_pids or {}
    pids: dict[str, int | None] = {cid: pid for cid, pid in known.items() if pid}
    running = [s for s in summaries if _running(s) and str(s.get("Id", "")) not in pids]
    vanished: set[str] = set()

    def pid_of(summary: Mapping[str, Any]) -> tuple[str, int | None, str | None]:
        cid = str(summary.get("Id", ""))
        try:
            state = inspect(cid).get("State") or {}
        except Exception as exc:
            if "404" in str(exc) or type(exc).__name__ == "NotFound":
                return cid, None, "vanished"
            return cid, None, explain_docker_error(exc)
        pid = int(state.get("Pid") or 0)
        return cid, (pid or None), None

    if running:
        with ThreadPoolExecutor(max_workers=min(INSPECT_WORKERS, len(running))) as pool:
            for cid, pid, problem in pool.map(pid_of, running):
                if problem == "vanished":
                    vanished.add(cid)
                elif problem:
                    data.warnings.append(f"container {cid[:12]}: {problem}")
                pids[cid] = pid
    gw = next((n for n in raw_networks if n.get("Name") == GWBRIDGE), None)
    legs = gateway_endpoints(gw) if gw is not None else {}
    for summary in summaries:
        cid = str(summary.get("Id", ""))
        if cid in vanished:
            data.warnings.append(
                f"container {_name(summary)} ({cid[:12]}) vanished while it was being read; "
                "skipped (it was removed or exited meanwhile)."
            )
            continue
        ct = container_from_api(summary, pids.get(cid))
        leg = legs.get(cid)
        if leg is not None and not any(e.network == GWBRIDGE for e in ct.endpoints):
            leg.container_name = ct.name
            ct.endpoints.append(leg)
            ct.endpoints.sort(key=lambda e: e.network)
        data.containers.append(ct)
    data.containers.sort(key=lambda c: (c.name, c.id))
    return data
