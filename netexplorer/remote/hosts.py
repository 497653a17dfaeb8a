"""Several remote hosts read at once: each in its own thread, so N hosts are ready in
about the time of the slowest one."""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from netexplorer.model import Snapshot
from netexplorer.remote.feed import RemoteError, read_once
from netexplorer.remote.target import Target

#: at most this many ssh sessions start at once
MAX_PARALLEL = 32


@dataclass(frozen=True, slots=True)
class HostRead:
    """One host's read, or why there is none."""

    target: Target
    snapshot: Snapshot | None
    error: str | None = None
    #: from the start of the ssh session to the read decoded (or the error)
    seconds: float = 0.0


def read_host(target: Target, sudo: bool, env: Mapping[str, str] | None = None) -> HostRead:
    start = time.perf_counter()
    try:
        snapshot, error = read_once(target, sudo, env), None
    except RemoteError as exc:
        snapshot, error = None, str(exc)
    return HostRead(target, snapshot, error, time.perf_counter() - start)


def read_hosts(
    targets: list[Target], sudo: bool = False, env: Mapping[str, str] | None = None
) -> list[HostRead]:
    """Every target read concurrently, in the order given."""
    if not targets:
        return []
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(targets))) as pool:
        return list(pool.map(lambda t: read_host(t, sudo, env), targets))
