"""The kernel's own trace of one packet through netfilter, per firewall backend.

* iptables-nft: a ``-j TRACE`` rule in raw PREROUTING/OUTPUT sets nftrace; the
  events are read with ``xtables-monitor --trace`` (one line per rule that
  matched, ``return`` and ``policy``), filtered to the first traced packet's id.
* iptables-legacy: the TRACE target logs through nf_log to the kernel log
  (``TRACE: table:chain:rule:N IN=... OUT=...``), read from ``/dev/kmsg``; the
  logger for the family (``net.netfilter.nf_log.2``/``.10``) is set for the test
  and restored.
* native nftables: ``meta nftrace set 1`` in a chain of the test's own table,
  read with ``nft monitor trace``.

Each tracer yields :class:`Event` s: the table, chain, what happened (``rule``,
``return``, ``policy``), the rule (its iptables-save text or nft text for
iptables-nft and nftables, its position for legacy) and the verdict.
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .groundtruth import run


@dataclass(frozen=True)
class Event:
    table: str
    chain: str
    kind: str  # rule | return | policy
    rule: str  # iptables-save text (nft), position (legacy), nft rule text (nftables)
    verdict: str


# TRACE: 2 fc0b4b1b raw:PREROUTING:rule:0x3:CONTINUE  -4 -t raw -A PREROUTING ... -j TRACE
_XT = re.compile(
    r"^\s*TRACE: (?P<fam>\d+) (?P<id>[0-9a-f]+) (?P<table>[\w-]+):(?P<chain>\S+?):"
    r"(?P<kind>rule|return|policy):(?:0x[0-9a-f]+:)?(?P<verdict>[A-Z]+|0x[0-9a-f]+)?"
    r"(?::\S+)?\s*(?P<rest>.*)$"
)
# TRACE: raw:PREROUTING:rule:2 IN=docker0 OUT= ...
_LEGACY = re.compile(
    r"TRACE: (?P<table>\w+):(?P<chain>\S+?):(?P<kind>rule|return|policy):(?P<num>\d+) "
)
# trace id 1a2b ip nxp-trace ... rule iifname "x" ... (verdict accept)
_NFT_RULE = re.compile(
    r"^trace id (?P<id>[0-9a-f]+) (?P<fam>ip6?|inet) (?P<table>\S+) (?P<chain>\S+) "
    r"(?:rule (?P<rule>.*?) \(verdict (?P<verdict>[^)]*)\)"
    r"|verdict (?P<v2>.*)|policy (?P<policy>\w+))"
)
_XT_TEXT = re.compile(r"^-[46] -t \S+ ")


def _monitor(argv: list[str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.4)  # the monitor subscribes before the packet is sent
    if proc.poll() is not None:
        raise AssertionError(
            f"{' '.join(argv)} exited at once: {proc.stderr.read() if proc.stderr else ''}"
        )
    return proc


def _stop(proc: subprocess.Popen[str]) -> str:
    time.sleep(0.6)
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out


def parse_xtables_monitor(text: str) -> list[Event]:
    """The events in ``xtables-monitor --trace`` output. Only the packet the TRACE
    rule marked is traced (its trace id changes once it is routed, so all are kept)."""
    events: list[Event] = []
    for line in text.splitlines():
        m = _XT.match(line)
        if m is None:
            continue
        rule = _XT_TEXT.sub("", m["rest"].strip())
        events.append(Event(m["table"], m["chain"], m["kind"], rule, m["verdict"] or ""))
    return events


def parse_kmsg(lines: list[str]) -> list[Event]:
    events = []
    for line in lines:
        m = _LEGACY.search(line)
        if m is not None:
            events.append(Event(m["table"], m["chain"], m["kind"], m["num"], ""))
    return events


def parse_nft_monitor(text: str) -> list[Event]:
    """The events in ``nft monitor trace`` output (all of them: only the packet
    the tracing rule marked is traced, and its trace id changes once routed)."""
    events: list[Event] = []
    for line in text.splitlines():
        m = _NFT_RULE.match(line.strip())
        if m is None:
            continue
        if m["policy"]:
            events.append(Event(m["table"], m["chain"], "policy", "", m["policy"].upper()))
        elif m["rule"] is not None:
            events.append(Event(m["table"], m["chain"], "rule", m["rule"], m["verdict"]))
        else:
            events.append(Event(m["table"], m["chain"], "return", "", (m["v2"] or "").strip()))
    return events


@dataclass
class Trace:
    events: list[Event]
    raw: str


def assert_same_events(mine: list[Event], trace: list[Event], raw: str, hops: str = "") -> None:
    """The engine's events are the kernel trace's; else both, the raw trace and the
    engine's ``hops`` are shown."""
    assert mine == trace, (
        "engine and kernel trace differ\nengine:\n"
        + "\n".join(map(str, mine))
        + "\nkernel:\n"
        + "\n".join(map(str, trace))
        + "\nraw trace:\n"
        + raw
        + (f"\nhops:\n{hops}" if hops else "")
    )


def connect_script(address: str, port: int) -> str:
    """Python code making one TCP connection attempt to ``address``:``port`` (1 s)."""
    return (
        "import socket\n"
        "s = socket.socket()\n"
        "s.settimeout(1)\n"
        "try:\n"
        f"    s.connect(('{address}', {port}))\n"
        "except OSError:\n"
        "    pass\n"
    )


@contextmanager
def iptables_trace(backend: str, family: int, hook: str, match: list[str]) -> Iterator[Trace]:
    """A TRACE rule for ``match`` in raw ``hook`` (PREROUTING or OUTPUT) of
    ``backend`` while the body runs; the trace of the first matching packet
    is in the yielded object's ``events`` afterwards. The rule is always removed."""
    tool = f"{'ip6tables' if family == 6 else 'iptables'}-{backend.removeprefix('iptables-')}"
    rule = ["-t", "raw", hook, *match, "-j", "TRACE"]
    trace = Trace([], "")
    nft_family = "ip6" if family == 6 else "ip"
    had_raw = backend != "iptables-nft" or _nft_table_exists(nft_family, "raw")
    run(tool, "-t", "raw", "-I", *rule[2:])
    try:
        if backend == "iptables-nft":
            proc = _monitor(["xtables-monitor", "--trace", "-6" if family == 6 else "-4"])
            try:
                yield trace
            finally:
                trace.raw = _stop(proc)
            trace.events = parse_xtables_monitor(trace.raw)
        else:
            with _kmsg(family) as lines:
                yield trace
            trace.raw = "\n".join(lines)
            trace.events = parse_kmsg(lines)
    finally:
        run(tool, "-t", "raw", "-D", *rule[2:], check=False)
        if not had_raw:  # iptables-nft made the raw table for the TRACE rule
            run("nft", "delete", "table", nft_family, "raw", check=False)


def _nft_table_exists(family: str, name: str) -> bool:
    done = subprocess.run(["nft", "list", "table", family, name], capture_output=True, check=False)
    return done.returncode == 0


@contextmanager
def _kmsg(family: int) -> Iterator[list[str]]:
    """Kernel log lines written while the body runs; nf_log bound to this family's
    logger meanwhile (``net.netfilter.nf_log.N``), then put back as it was."""
    knob = Path(f"/proc/sys/net/netfilter/nf_log/{10 if family == 6 else 2}")
    before = knob.read_text().strip()
    wanted = "nf_log_ipv6" if family == 6 else "nf_log_ipv4"
    if before != wanted:
        # the logger may be a module not loaded yet (nf_log_syslog)
        subprocess.run(["modprobe", "nf_log_syslog"], capture_output=True, check=False)
        knob.write_text(wanted)
    lines: list[str] = []
    fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    try:
        os.lseek(fd, 0, os.SEEK_END)
        yield lines
        time.sleep(0.6)
        while select.select([fd], [], [], 0.2)[0]:
            try:
                chunk = os.read(fd, 8192)
            except BlockingIOError:
                break
            if not chunk:
                break
            lines.append(chunk.decode(errors="replace").split(";", 1)[-1].strip())
    finally:
        os.close(fd)
        if before != wanted:
            knob.write_text(before)


@contextmanager
def nft_trace(netns: str, family: str, match: str) -> Iterator[Trace]:
    """``meta nftrace set 1`` for ``match`` (nft syntax) in a prerouting chain of a
    table ``nxp-trace`` of netns ``netns`` while the body runs."""
    base = ["ip", "netns", "exec", netns, "nft"]
    run(*base, "add", "table", family, "nxp-trace")
    run(
        *base,
        "add",
        "chain",
        family,
        "nxp-trace",
        "pre",
        "{ type filter hook prerouting priority -350; }",
    )
    run(
        *base,
        "add",
        "rule",
        family,
        "nxp-trace",
        "pre",
        *match.split(),
        "meta",
        "nftrace",
        "set",
        "1",
    )
    trace = Trace([], "")
    try:
        # nft writes through stdio: line-buffered, or a terminated monitor loses its lines
        proc = _monitor(["ip", "netns", "exec", netns, "stdbuf", "-oL", "nft", "monitor", "trace"])
        try:
            yield trace
        finally:
            trace.raw = _stop(proc)
        trace.events = [e for e in parse_nft_monitor(trace.raw) if e.table != "nxp-trace"]
    finally:
        run(*base, "delete", "table", family, "nxp-trace", check=False)
