"""Connecting to N remote hosts at once: ``netexplorer`` reading 10 hosts over ssh.

The 10 hosts are 10 ssh connections to one throwaway sshd on 127.0.0.1
(benchmarks/sshd.py), each running ``netexplorer agent --once`` on the lab: a
full session each (ssh handshake, key exchange, authentication, the agent's start
and its read of the lab, the read sent back and decoded). Timed one after the
other (each alone: the slowest is the target) and all at once with
``netexplorer.remote.hosts.read_hosts`` as ``doctor --host …`` and the app do.
On this machine all 10 agents share its CPUs with the client; on a real fleet
each host collects on its own CPUs.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass

from benchmarks.sshd import ThrowawaySshd
from netexplorer.remote.hosts import read_host, read_hosts
from netexplorer.remote.target import parse_target

HOSTS = 10


@dataclass
class RemoteResult:
    singles: list[float]
    together: list[float]
    failures: list[str]
    #: share of this machine's CPU time that was busy while the 10 ran at once
    busy: list[float]


def cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [float(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields) - idle, sum(fields)


def measure_remote(repeats: int, hosts: int = HOSTS) -> RemoteResult:
    singles: list[float] = []
    together: list[float] = []
    failures: list[str] = []
    busy: list[float] = []
    with ThrowawaySshd() as sshd:
        env = {**os.environ, **sshd.env()}
        targets = [parse_target(sshd.url())] * hosts
        for _ in range(repeats):
            for target in targets:
                t0 = time.perf_counter()
                read = read_host(target, False, env)
                singles.append(time.perf_counter() - t0)
                if read.error:
                    failures.append(read.error)
            b0, c0 = cpu_times()
            t0 = time.perf_counter()
            reads = read_hosts(targets, False, env)
            together.append(time.perf_counter() - t0)
            b1, c1 = cpu_times()
            busy.append((b1 - b0) / max(1.0, c1 - c0))
            failures += [r.error for r in reads if r.error]
    return RemoteResult(singles, together, failures, busy)


def remote_section(
    r: RemoteResult, repeats: int, ratio_max: float
) -> tuple[list[str], list[tuple[str, str, str, str]]]:
    """The report's section and its row of the targets table."""
    slowest = max(r.singles) if r.singles else 0.0
    median_single = statistics.median(r.singles) if r.singles else 0.0
    together = statistics.median(r.together) if r.together else 0.0
    serial = median_single * HOSTS
    ratio = together / slowest if slowest else 0.0
    ok = not r.failures and ratio <= ratio_max
    busy = statistics.median(r.busy) if r.busy else 0.0
    limit = (
        "the agents compete for them, so the time at once is bounded by their CPU cost "
        "(about 10 x one host alone / the CPUs), not by sessions waiting on each other"
        if busy > 0.85
        else "the CPUs were not the limit"
    )
    lines = [
        f"## Remote: {HOSTS} hosts over ssh",
        "",
        f"{HOSTS} ssh sessions to a throwaway sshd on 127.0.0.1, each running "
        "`netexplorer agent --once` on the lab (handshake, authentication, the agent's "
        "start-up and read, the read decoded here). All agents share this machine's "
        f"{os.cpu_count()} CPUs. {repeats} rounds; medians.",
        "",
        "| one host alone (median) | slowest alone | one after the other (10 x median) | "
        f"{HOSTS} at once | at once ÷ slowest alone | target | verdict |",
        "|---:|---:|---:|---:|---:|---|---|",
        f"| {median_single:.2f} s | {slowest:.2f} s | {serial:.2f} s | {together:.2f} s | "
        f"{ratio:.2f} | <= {ratio_max:g} | {'pass' if ok else '**FAIL**'} |",
        "",
        f"While the {HOSTS} ran at once this machine's CPUs were {busy * 100:.0f}% busy "
        f"(/proc/stat): {limit}.",
        "",
    ]
    if r.failures:
        lines += [f"failures: {len(r.failures)}, first: {r.failures[0]}", ""]
    target = (
        f"{HOSTS} hosts over ssh at once <= {ratio_max:g}x the slowest alone",
        f"{together:.2f} s vs {slowest:.2f} s ({ratio:.2f}x)",
        f"CPUs {busy * 100:.0f}% busy: {HOSTS} agents on this machine's {os.cpu_count()} CPUs",
        "pass" if ok else "**FAIL**",
    )
    return lines, [target]
