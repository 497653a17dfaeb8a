"""Init pids of running containers from ``/proc``, without a Docker API call each.

One pass over ``/proc/*/cgroup`` finds the processes whose cgroup path names a
container id (cgroup v1 and v2, cgroupfs ``/docker/<id>`` and the systemd driver's
``docker-<id>.scope`` alike); of those, the container's init is the process that
is pid 1 in its own pid namespace (last ``NSpid`` field of ``/proc/<pid>/status``),
the same process ``docker inspect`` reports as ``State.Pid``. Processes started by
``docker exec`` share the cgroup but are not pid 1, so they are never taken.

Where Docker's cgroup directories are where its drivers put them
(``/sys/fs/cgroup/<controller>/docker/<id>``, ``.../system.slice/docker-<id>.scope``),
the processes of each container are read from its ``cgroup.procs`` instead, which
spares reading the cgroup file of every process on the host; the same pid-1 test
picks the init.

A container not found this way (its processes are in another pid namespace than
ours, it runs with ``--pid=host``, the cgroup path is unusual) is simply absent
from the answer; the caller asks the Docker API for those. One pass over /proc
replaces an inspect call per container.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

_ID = re.compile(rb"[0-9a-f]{64}")


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:  # the process exited, or we may not read it
        return None


def _ns_pid(status: bytes) -> int | None:
    """The innermost pid of a process (last NSpid field), None if not shown."""
    for line in status.splitlines():
        if line.startswith(b"NSpid:"):
            fields = line.split()[1:]
            return int(fields[-1]) if fields else None
    return None


#: where the cgroup hierarchies are mounted
CGROUP_ROOT = "/sys/fs/cgroup"
#: Docker's cgroup directories under the cgroup mount: (parent directory, the
#: prefix and suffix around the container id), for the cgroupfs and systemd
#: drivers, cgroup v1 (the pids controller) and v2
CGROUP_LAYOUTS = (
    ("pids/docker", "", ""),
    ("pids/system.slice", "docker-", ".scope"),
    ("docker", "", ""),
    ("system.slice", "docker-", ".scope"),
)


def _from_cgroups(cgroup_root: str) -> dict[bytes, list[int]] | None:
    """container id -> its processes, from the ``cgroup.procs`` of Docker's cgroup
    directories; None where none of :data:`CGROUP_LAYOUTS` is there."""
    members: dict[bytes, list[int]] | None = None
    for parent, prefix, suffix in CGROUP_LAYOUTS:
        try:
            names = os.listdir(f"{cgroup_root}/{parent}")
        except OSError:
            continue
        members = {} if members is None else members
        for name in names:
            if not (name.startswith(prefix) and name.endswith(suffix)):
                continue
            cid = name[len(prefix) : len(name) - len(suffix)].encode()
            if not _ID.fullmatch(cid):
                continue
            procs = _read(f"{cgroup_root}/{parent}/{name}/cgroup.procs")
            if procs:
                members.setdefault(cid, []).extend(int(p) for p in procs.split())
    return members


def container_pids(
    container_ids: Iterable[str] | None, proc: str = "/proc", cgroup_root: str | None = None
) -> dict[str, int]:
    """container id -> host pid of its init, for the containers found in ``proc``;
    ``container_ids`` None: every id a cgroup path names. ``cgroup_root`` (the
    cgroup mount, e.g. ``/sys/fs/cgroup``) lets Docker's cgroup directories name
    each container's processes; None, or no container there: ``proc``'s cgroup
    files do."""
    wanted = None if container_ids is None else {c.encode() for c in container_ids if len(c) == 64}
    if wanted is not None and not wanted:
        return {}
    members = _from_cgroups(cgroup_root) if cgroup_root is not None else None
    if not members:
        members = _proc_members(proc, wanted)
    elif wanted is not None:
        members = {cid: pids for cid, pids in members.items() if cid in wanted}
    found: dict[str, int] = {}
    for cid, pids in members.items():
        for pid in sorted(pids):
            status = _read(f"{proc}/{pid}/status")
            if status is not None and _ns_pid(status) == 1:
                found[cid.decode()] = pid
                break
    return found


def _proc_members(proc: str, wanted: set[bytes] | None) -> dict[bytes, list[int]]:
    """container id -> its processes, from every process's cgroup file in ``proc``."""
    members: dict[bytes, list[int]] = {}
    try:
        entries = os.listdir(proc)
    except OSError:
        return {}
    for name in entries:
        if not name.isdigit():
            continue
        cgroup = _read(f"{proc}/{name}/cgroup")
        if not cgroup:
            continue
        # the innermost id on the path (nested: /docker/<outer>/docker/<inner>)
        ids = [m for m in _ID.findall(cgroup) if wanted is None or m in wanted]
        if ids:
            members.setdefault(ids[-1], []).append(int(name))
    return members
