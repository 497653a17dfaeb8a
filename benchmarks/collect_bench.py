"""Collection on the live lab: netexplorer's snapshot against the shell baseline and
against the floor.

For one lab size: ``netexplorer snapshot --json`` is run ``repeats`` times as a
separate process (wall time of the whole process, and the snapshot's own
``collect_seconds`` and per-source seconds read from its JSON), then the shell
commands an operator types today are run as one bash script and timed, and the
floor: what the two unavoidable reads cost by themselves, a bare Docker
``GET /containers/json?all=1`` (the body read, not parsed) plus one raw rtnetlink
link dump (received, not decoded), one after the other in this process.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: what an operator runs today to see the same thing (sequentially, as typed)
SHELL_BASELINE = r"""
set -e
docker network inspect $(docker network ls -q) >/dev/null || true
for c in $(docker ps -q); do
    docker inspect "$c" >/dev/null || true  # gone meanwhile, or no eth0: next
    docker exec "$c" cat /sys/class/net/eth0/iflink >/dev/null || true
done
ip -o link >/dev/null
brctl show >/dev/null
iptables-save -c >/dev/null
"""


@dataclass
class CollectResult:
    containers: int  # running containers the snapshot saw
    interfaces: int
    rules: int
    collect_seconds: list[float] = field(default_factory=list)
    process_seconds: list[float] = field(default_factory=list)
    source_seconds: dict[str, list[float]] = field(default_factory=dict)
    baseline_seconds: list[float] = field(default_factory=list)
    floor_seconds: list[float] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def collect(self) -> float:
        return statistics.median(self.collect_seconds)

    @property
    def process(self) -> float:
        return statistics.median(self.process_seconds)

    @property
    def baseline(self) -> float:
        return statistics.median(self.baseline_seconds) if self.baseline_seconds else 0.0

    @property
    def ratio(self) -> float:
        return self.baseline / self.process if self.baseline_seconds else 0.0

    @property
    def floor(self) -> float:
        return statistics.median(self.floor_seconds)

    def source(self, name: str) -> float:
        return statistics.median(self.source_seconds.get(name) or [0.0])


def snapshot_once(out: Path, pythonpath: str | None = None) -> tuple[float, Any]:
    """Wall time of one ``netexplorer snapshot --json -o out`` process, and its JSON.

    ``pythonpath`` replaces PYTHONPATH (to measure another checkout)."""
    argv = [sys.executable, "-m", "netexplorer", "snapshot", "--json", "-o", str(out)]
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    start = time.perf_counter()
    proc = subprocess.run(
        argv, capture_output=True, text=True, check=False, cwd=tempfile.gettempdir(), env=env
    )
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"netexplorer snapshot failed ({proc.returncode}): {proc.stderr}")
    doc: Any = json.loads(out.read_text(encoding="utf-8"))
    return wall, doc


def baseline_once() -> float:
    env = {**os.environ, "LC_ALL": "C"}
    start = time.perf_counter()
    proc = subprocess.run(
        ["bash", "-c", SHELL_BASELINE], capture_output=True, text=True, env=env, check=False
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"shell baseline failed: {proc.stderr.strip()}")
    return wall


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=60)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(60)
        sock.connect(self.socket_path)
        self.sock = sock


def docker_list_once(path: str = "/var/run/docker.sock") -> float:
    """Seconds for one bare ``GET /containers/json?all=1`` on a fresh connection."""
    start = time.perf_counter()
    conn = _UnixHTTPConnection(path)
    try:
        conn.request("GET", "/containers/json?all=1")
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"GET /containers/json: HTTP {response.status}")
    finally:
        conn.close()
    return time.perf_counter() - start


_NLMSG_DONE, _NLMSG_ERROR, _RTM_GETLINK = 3, 2, 18
_NLM_F_REQUEST_DUMP = 0x1 | 0x300


def link_dump_once() -> float:
    """Seconds for one raw RTM_GETLINK dump of this netns, received but not decoded."""
    start = time.perf_counter()
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    try:
        sock.bind((0, 0))
        # nlmsghdr + ifinfomsg (family AF_UNSPEC): 16 + 16 bytes
        request = struct.pack("=LHHLL", 32, _RTM_GETLINK, _NLM_F_REQUEST_DUMP, 1, 0)
        sock.send(request + bytes(16))
        done = False
        while not done:
            data = sock.recv(1 << 20)
            offset = 0
            while offset + 16 <= len(data):
                length, kind = struct.unpack_from("=LH", data, offset)
                if kind in (_NLMSG_DONE, _NLMSG_ERROR) or length < 16:
                    done = True
                    break
                offset += (length + 3) & ~3
    finally:
        sock.close()
    return time.perf_counter() - start


def floor_once() -> float:
    return docker_list_once() + link_dump_once()


def measure_snapshots(repeats: int, pythonpath: str | None = None) -> CollectResult:
    """``repeats`` snapshot processes after one warm-up (page cache, daemon caches)."""
    with tempfile.TemporaryDirectory(prefix="nxb-") as tmp:
        out = Path(tmp) / "snap.json"
        snapshot_once(out, pythonpath)
        result: CollectResult | None = None
        for _ in range(repeats):
            wall, doc = snapshot_once(out, pythonpath)
            containers = [c for c in doc["containers"] if c["state"] == "running"]
            if result is None:
                result = CollectResult(
                    containers=len(containers),
                    interfaces=len(doc["interfaces"]),
                    rules=len(doc["rules"]),
                    warnings=[str(w) for w in doc["warnings"]],
                )
            result.process_seconds.append(wall)
            result.collect_seconds.append(float(doc["collect_seconds"]))
            for src in doc["sources"]:
                result.source_seconds.setdefault(src["name"], []).append(float(src["seconds"]))
    assert result is not None
    return result


def measure_collection(repeats: int, baseline_repeats: int) -> CollectResult:
    """The snapshot process, then the floor and the shell baseline, at the lab's size."""
    result = measure_snapshots(repeats)
    floor_once()  # the same warm-up the snapshot had
    result.floor_seconds = [floor_once() for _ in range(max(repeats, 5))]
    for _ in range(baseline_repeats):
        result.baseline_seconds.append(baseline_once())
    return result


def command_seconds(argv: list[str], repeats: int, pythonpath: str | None = None) -> list[float]:
    """Wall times of ``python -m netexplorer argv`` (output discarded), after a warm-up."""
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    full = [sys.executable, "-m", "netexplorer", *argv]
    times: list[float] = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        proc = subprocess.run(full, capture_output=True, check=False, cwd="/", env=env)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"netexplorer {' '.join(argv)} failed: {proc.stderr[-500:]!r}")
        if i:
            times.append(wall)
    return times
