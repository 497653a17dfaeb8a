"""Connecting to N remote hosts at once: ``netexplorer`` reading 10 hosts over ssh.

The 10 hosts are 10 ssh connections to one throwaway sshd on 127.0.0.1
(benchmarks/sshd.py), each running ``netexplorer agent --once`` on the lab: a
full session each (ssh handshake, key exchange, authentication, the agent's start
and its read of the lab, the read sent back and decoded). Timed one after the
other (each alone: the slowest is the target) and all at once with
``netexplorer.remote.hosts.read_hosts`` as ``doctor --host …`` and the app do.

What the time is made of is measured beside it, as CPU seconds: the remote side
(sshd, the session's shell and the agent: the sshd's own and its reaped children's
times from /proc), the agent alone without ssh (its start-up imports, then its
read and encoding), and the laptop side (the ssh clients and the decoding here).
On this machine all 10 agents run on its few CPUs beside the laptop side, so 10 at
once cannot take less than their summed CPU time divided by the CPUs: that floor
is reported, and how close the run came to it says what is netexplorer's
concurrency and what is the machine. On a fleet each host reads on its own CPUs.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field

from benchmarks.sshd import ThrowawaySshd, descendants
from netexplorer.remote.hosts import read_host, read_hosts
from netexplorer.remote.protocol import FrameDecoder
from netexplorer.remote.target import parse_target

HOSTS = 10
TICK = os.sysconf("SC_CLK_TCK")
#: what ``netexplorer agent --once`` imports before it reads
AGENT_IMPORTS = (
    "import netexplorer.cli, netexplorer.remote.agent\n"
    "from netexplorer.collect.snapshot import preload_libraries\n"
    "preload_libraries()\n"
)


@dataclass
class Cpu:
    """CPU seconds of one measured stretch."""

    #: sshd, the sessions' shells and agents
    remote: float
    #: the ssh clients and this process (decoding, correlation is not part of it)
    local: float


@dataclass
class RemoteResult:
    """Seconds by series: ``single`` (each host alone), ``together`` (the 10 at once),
    ``within`` (the slowest host's own time inside a run at once), ``busy`` (share of
    this machine's CPU time busy during a run at once), and the CPU seconds of
    ``agent`` (``netexplorer agent --once`` run here without ssh), ``imports`` (its
    start-up imports) and ``decode`` (one read decoded in this process)."""

    series: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    #: CPU per connection: ``single`` alone, ``together`` in a run at once (total / HOSTS)
    cpu: defaultdict[str, list[Cpu]] = field(default_factory=lambda: defaultdict(list))
    failures: list[str] = field(default_factory=list)
    read_bytes: int = 0
    load: tuple[str, str] = ("", "")


def cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [float(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields) - idle, sum(fields)


def process_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and of its children it has reaped (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return sum(float(v) for v in fields[11:15]) / TICK  # utime stime cutime cstime


def own_cpu() -> float:
    """CPU seconds of this process and of its reaped children (the ssh clients)."""
    me, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def children_cpu() -> float:
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return kids.ru_utime + kids.ru_stime


class CpuMeter:
    """CPU seconds on both sides of the sshd's sessions between :meth:`start` and
    :meth:`stop` (which waits until sshd has reaped every session)."""

    def __init__(self, sshd: ThrowawaySshd) -> None:
        assert sshd.proc is not None
        self.pid = sshd.proc.pid
        self.remote0 = self.local0 = 0.0

    def start(self) -> None:
        self.remote0, self.local0 = process_cpu(self.pid), own_cpu()

    def stop(self, connections: int) -> Cpu:
        deadline = time.monotonic() + 10
        while descendants(self.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        return Cpu(
            (process_cpu(self.pid) - self.remote0) / connections,
            (own_cpu() - self.local0) / connections,
        )


def measure_agent(result: RemoteResult, env: dict[str, str]) -> None:
    """The agent without ssh: its whole CPU, its imports' CPU, and the decoding here."""
    before = children_cpu()
    run = subprocess.run(
        [sys.executable, "-m", "netexplorer", "agent", "--once"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        check=False,
    )
    result.series["agent"].append(children_cpu() - before)
    before = children_cpu()
    subprocess.run([sys.executable, "-c", AGENT_IMPORTS], env=env, check=False)
    result.series["imports"].append(children_cpu() - before)
    result.read_bytes = len(run.stdout)
    start = time.thread_time()
    FrameDecoder().feed(run.stdout)
    result.series["decode"].append(time.thread_time() - start)


def measure_remote(repeats: int, hosts: int = HOSTS) -> RemoteResult:
    result = RemoteResult(load=(_load(), ""))
    with ThrowawaySshd() as sshd:
        env = {**os.environ, **sshd.env()}
        targets = [parse_target(sshd.url())] * hosts
        meter = CpuMeter(sshd)
        for _ in range(repeats):
            measure_agent(result, env)
            for target in targets:
                meter.start()
                t0 = time.perf_counter()
                read = read_host(target, False, env)
                result.series["single"].append(time.perf_counter() - t0)
                result.cpu["single"].append(meter.stop(1))
                if read.error:
                    result.failures.append(read.error)
            meter.start()
            b0, c0 = cpu_times()
            t0 = time.perf_counter()
            reads = read_hosts(targets, False, env)
            result.series["together"].append(time.perf_counter() - t0)
            b1, c1 = cpu_times()
            result.cpu["together"].append(meter.stop(hosts))
            result.series["busy"].append((b1 - b0) / max(1.0, c1 - c0))
            result.series["within"].append(max(r.seconds for r in reads))
            result.failures += [r.error for r in reads if r.error]
    result.load = (result.load[0], _load())
    return result


def _load() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def remote_section(
    r: RemoteResult, repeats: int, ratio_max: float
) -> tuple[list[str], list[tuple[str, str, str, str]]]:
    """The report's section and its rows of the targets table."""
    cpus = os.cpu_count() or 1
    singles = r.series["single"]
    slowest = max(singles) if singles else 0.0
    median_single = _median(singles)
    together = _median(r.series["together"])
    within = _median(r.series["within"])
    ratio = together / slowest if slowest else 0.0
    ok = not r.failures and ratio <= ratio_max
    busy = _median(r.series["busy"])
    remote_1 = _median([c.remote for c in r.cpu["single"]])
    local_1 = _median([c.local for c in r.cpu["single"]])
    remote_n = _median([c.remote for c in r.cpu["together"]])
    local_n = _median([c.local for c in r.cpu["together"]])
    agent, imports, decode = (_median(r.series[k]) for k in ("agent", "imports", "decode"))
    floor = HOSTS * (remote_n + local_n) / cpus
    over_floor = together / floor if floor else 0.0
    lines = [
        f"## Remote: {HOSTS} hosts over ssh",
        "",
        f"{HOSTS} ssh sessions to a throwaway sshd on 127.0.0.1, each running "
        "`netexplorer agent --once` on the lab (handshake, authentication, the agent's "
        "start-up and read, the read decoded here). All agents share this machine's "
        f"{cpus} CPUs with the laptop side. {repeats} rounds; medians. Load average "
        f"(1/5/15 min) before: {r.load[0]}; after: {r.load[1]}.",
        "",
        "| one host alone (median) | slowest alone | one after the other (10 x median) | "
        f"{HOSTS} at once | slowest host inside the run at once | at once ÷ slowest "
        "alone | target | verdict |",
        "|---:|---:|---:|---:|---:|---:|---|---|",
        f"| {median_single:.2f} s | {slowest:.2f} s | {median_single * HOSTS:.2f} s | "
        f"{together:.2f} s | {within:.2f} s | {ratio:.2f} | <= {ratio_max:g} | "
        f"{'pass' if ok else '**FAIL**'} |",
        "",
        "CPU seconds per connection (remote side: sshd, the session and the agent, from "
        "/proc; laptop side: the ssh client and this process, from getrusage):",
        "",
        "| | remote side | laptop side |",
        "|---|---:|---:|",
        f"| one connection alone | {remote_1:.2f} s | {local_1:.2f} s |",
        f"| each of the {HOSTS} at once | {remote_n:.2f} s | {local_n:.2f} s |",
        "",
        f"Of the remote side, the agent run without ssh takes {agent:.2f} s: "
        f"{imports:.2f} s starting Python and importing (the docker SDK, pyroute2, the "
        f"collectors) and {max(0.0, agent - imports):.2f} s reading the lab and "
        f"encoding it; the rest ({max(0.0, remote_n - agent):.2f} s) is sshd and the "
        f"session. Of the laptop side, decoding one read ({r.read_bytes / 1024:.0f} KiB) "
        f"takes {decode * 1000:.0f} ms; the rest is the ssh client.",
        "",
        f"The {HOSTS} at once need {HOSTS * (remote_n + local_n):.2f} CPU seconds in all, "
        f"so on {cpus} CPUs they cannot be ready before {floor:.2f} s (the CPU floor); "
        f"they took {together:.2f} s ({over_floor:.2f}x the floor), with this machine's "
        f"CPUs {busy * 100:.0f}% busy (/proc/stat). The sessions overlap: the time above "
        "the slowest alone is the agents' CPU queued on these cores, not hosts waiting "
        "on each other; on hosts with their own CPUs it is the slowest alone.",
        "",
    ]
    if r.failures:
        lines += [f"failures: {len(r.failures)}, first: {r.failures[0]}", ""]
    targets = [
        (
            f"{HOSTS} hosts over ssh at once <= {ratio_max:g}x the slowest alone",
            f"{together:.2f} s vs {slowest:.2f} s ({ratio:.2f}x)",
            f"CPU floor {floor:.2f} s: {HOSTS} agents' CPU on this machine's {cpus} CPUs",
            "pass" if ok else "**FAIL**",
        ),
    ]
    return lines, targets
