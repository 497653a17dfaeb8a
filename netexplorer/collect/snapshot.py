"""Run every collector, time each, keep going past faults, and correlate.

The three sources (Docker API, netlink, firewall) are independent and run
concurrently; the netns ids of the containers (one netlink batch) follow the
Docker answer. A source that fails is recorded in ``sources[]`` with a sentence
naming the cause and the fix; the others still fill the snapshot.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import socket
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from netexplorer.collect.errors import SourceError
from netexplorer.correlate import correlate
from netexplorer.model import Snapshot, Source

T = TypeVar("T")

NOT_ROOT = (
    "not running as root: firewall rules and containers' network namespaces cannot be "
    "read without CAP_NET_ADMIN and CAP_SYS_ADMIN, so veths cannot be matched to "
    "containers; run with sudo."
)


def _timed(name: str, fn: Callable[[], T]) -> tuple[Source, T | None]:
    start = time.perf_counter()
    try:
        result = fn()
    except SourceError as exc:
        return Source(name, False, str(exc), time.perf_counter() - start), None
    except Exception as exc:  # a collector bug must not take the others down
        msg = f"{name} collector failed unexpectedly: {type(exc).__name__}: {exc}"
        return Source(name, False, msg, time.perf_counter() - start), None
    return Source(name, True, None, time.perf_counter() - start), result


def preload_libraries() -> None:
    """Import every collector and its library in the calling thread.

    Imports racing in the collector threads can deadlock on the import locks
    (seen: docker's import chain against another thread's), so collection starts
    only once everything is imported. A missing library is not an error here: the
    collector that needs it says so in words when it runs.
    """
    import netexplorer.collect.docker_source
    import netexplorer.collect.firewall
    import netexplorer.collect.firewall.legacy
    import netexplorer.collect.firewall.nft
    import netexplorer.collect.netlink_source

    for name in ("docker", "pyroute2"):
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    with contextlib.suppress(SourceError):
        netexplorer.collect.firewall.legacy.import_iptc()


def collect_snapshot(
    docker: Callable[[], Any] | None = None,
    netlink: Callable[[], Any] | None = None,
    firewall: Callable[[], Any] | None = None,
    netnsids: Callable[[list[int]], dict[int, int | None]] | None = None,
) -> Snapshot:
    """Read the live host into one correlated Snapshot. Arguments replace sources (tests)."""
    from netexplorer.collect.docker_source import collect_docker
    from netexplorer.collect.firewall import collect_firewall
    from netexplorer.collect.netlink_source import collect_netlink, netnsids_for_pids

    preload_libraries()
    docker = docker or collect_docker
    netlink = netlink or collect_netlink
    firewall = firewall or collect_firewall
    netnsids = netnsids or netnsids_for_pids

    start = time.perf_counter()
    snap = Snapshot(host=socket.gethostname())
    if os.geteuid() != 0:
        snap.warnings.append(NOT_ROOT)
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures: dict[str, Future[tuple[Source, Any]]] = {
            "docker": pool.submit(_timed, "docker", docker),
            "netlink": pool.submit(_timed, "netlink", netlink),
            "firewall": pool.submit(_timed, "firewall", firewall),
        }
        docker_src, docker_data = futures["docker"].result()
        if docker_data is not None:
            snap.networks = docker_data.networks
            snap.containers = docker_data.containers
            snap.warnings.extend(docker_data.warnings)
            pids = [c.pid for c in snap.containers if c.pid]
            if pids:
                ns_src, ids = _timed("netns", lambda: netnsids(pids))
                if ids is not None:
                    for ct in snap.containers:
                        ct.netnsid = ids.get(ct.pid) if ct.pid else None
                docker_src.seconds += ns_src.seconds
                if not ns_src.ok:
                    snap.warnings.append(f"container network namespaces: {ns_src.error}")
        netlink_src, netlink_data = futures["netlink"].result()
        if netlink_data is not None:
            snap.interfaces = netlink_data.interfaces
            snap.bridges = netlink_data.bridges
            snap.warnings.extend(netlink_data.warnings)
        fw_src, fw_data = futures["firewall"].result()
        if fw_data is not None:
            snap.rules = fw_data.rules
            snap.chains = fw_data.chains
            snap.firewall_backends = fw_data.backends
            snap.warnings.extend(fw_data.warnings)
            if fw_data.errors and fw_src.ok:
                fw_src.error = "; ".join(f"{b}: {m}" for b, m in sorted(fw_data.errors.items()))
    snap.sources = [docker_src, netlink_src, fw_src]
    for src in snap.sources:
        if not src.ok and src.error:
            snap.warnings.append(src.error)
    correlate(snap)
    snap.collect_seconds = time.perf_counter() - start
    return snap
