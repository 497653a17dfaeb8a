"""Collection on the live lab: netexplorer's snapshot against the shell baseline.

For one lab size: ``netexplorer snapshot --json`` is run ``repeats`` times as a
separate process (wall time of the whole process, and the snapshot's own
``collect_seconds`` and per-source seconds read from its JSON), then the shell
commands an operator types today are run as one bash script and timed.
"""

from __future__ import annotations

import json
import os
import statistics
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
docker network inspect $(docker network ls -q) >/dev/null
for c in $(docker ps -q); do
    docker inspect "$c" >/dev/null
    docker exec "$c" cat /sys/class/net/eth0/iflink >/dev/null
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
    warnings: list[str] = field(default_factory=list)

    @property
    def collect(self) -> float:
        return statistics.median(self.collect_seconds)

    @property
    def process(self) -> float:
        return statistics.median(self.process_seconds)

    @property
    def baseline(self) -> float:
        return statistics.median(self.baseline_seconds)

    @property
    def ratio(self) -> float:
        return self.baseline / self.process

    def source(self, name: str) -> float:
        return statistics.median(self.source_seconds.get(name) or [0.0])


def snapshot_once(out: Path) -> tuple[float, Any]:
    """Wall time of one ``netexplorer snapshot --json -o out`` process, and its JSON."""
    argv = [sys.executable, "-m", "netexplorer", "snapshot", "--json", "-o", str(out)]
    start = time.perf_counter()
    proc = subprocess.run(
        argv, capture_output=True, text=True, check=False, cwd=tempfile.gettempdir()
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


def measure_collection(repeats: int, baseline_repeats: int) -> CollectResult:
    with tempfile.TemporaryDirectory(prefix="nxb-") as tmp:
        out = Path(tmp) / "snap.json"
        snapshot_once(out)  # warm the page cache and the daemon's caches
        result: CollectResult | None = None
        for _ in range(repeats):
            wall, doc = snapshot_once(out)
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
    for _ in range(baseline_repeats):
        result.baseline_seconds.append(baseline_once())
    return result
