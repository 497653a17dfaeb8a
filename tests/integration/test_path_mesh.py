"""The path to a swarm service's published port through the ingress routing mesh,
on the live one-node swarm (fixture ``ingress_swarm``; ``kernel``: the mesh needs
IPVS, so scripts/kernel-vm test runs it on Debian's kernel).

The engine's path from the host to 198.51.100.17:8081 is checked against ground
truth read without netexplorer: a real HTTP GET through the published port
answers; the counters of the MARK rule the path names in ingress_sbox and of the
REDIRECT rule it names in the task that took the connection (``iptables-nft-save
-c`` there, by nsenter) moved for it, as did IPVS's connection count
(``/proc/net/ip_vs_stats`` in ingress_sbox) and its new connection entry
(``/proc/net/ip_vs_conn``) goes to that task; the real servers the path names are
the tasks' ingress addresses (docker inspect). Traffic goes only to an address of
the VM's own lab (the swarm's 198.51.100.17).
"""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from netexplorer.collect.snapshot import collect_snapshot
from netexplorer.correlate import correlate
from netexplorer.model import Rule, Snapshot
from netexplorer.path import PathResult, trace_path

from . import ingress_truth as it
from .scratch_netns import save_rules

pytestmark = [pytest.mark.integration, pytest.mark.kernel]


def http_get() -> bytes:
    """One HTTP GET through the published port, from the host; the answer's head."""
    with socket.create_connection((it.HOST_ADDR, it.PUBLISHED), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        s.settimeout(10)
        got = b""
        while chunk := s.recv(4096):
            got += chunk
    return got


def ipvs_connections() -> int:
    """IPVS's total connections in ingress_sbox (/proc/net/ip_vs_stats, hex; the
    kernel's estimator adds the per-CPU counts into it every 2 seconds)."""
    text = it.run("nsenter", f"--net={it.SBOX}", "cat", "/proc/net/ip_vs_stats")
    return int(text.splitlines()[2].split()[0], 16)


def ipvs_conn_entries() -> set[tuple[str, ...]]:
    """IPVS's connection entries in ingress_sbox (/proc/net/ip_vs_conn): (protocol,
    client address:port, virtual address:port, real server address:port), dotted."""

    def dotted(h: str) -> str:
        return ".".join(str(int(h[i : i + 2], 16)) for i in range(0, 8, 2))

    text = it.run("nsenter", f"--net={it.SBOX}", "cat", "/proc/net/ip_vs_conn")
    out = set()
    for line in text.splitlines()[1:]:
        w = line.split()
        if len(w) >= 7 and len(w[1]) == 8:
            out.add(
                (
                    w[0],
                    f"{dotted(w[1])}:{int(w[2], 16)}",
                    f"{dotted(w[3])}:{int(w[4], 16)}",
                    f"{dotted(w[5])}:{int(w[6], 16)}",
                )
            )
    return out


def conns_after(before: int) -> int:
    """IPVS's total connections once the estimator has counted past ``before`` (up
    to 6 seconds), else the last count."""
    count = ipvs_connections()
    for _ in range(12):
        if count > before:
            break
        time.sleep(0.5)
        count = ipvs_connections()
    return count


def counted(text: str, rule: Rule) -> int:
    """Packets of ``rule`` (by its table, chain and text) in a ``-save -c`` text."""
    rules, _ = save_rules(text)
    (found,) = [r for r in rules if (r[0], r[1], r[3]) == (rule.table, rule.chain, rule.text)]
    packets: int = found[4]
    return packets


def rule_of(snap: Snapshot, key: str | None) -> Rule:
    every = [
        *snap.rules,
        *(r for ns in snap.namespaces for r in ns.rules),
        *(r for ct in snap.containers if ct.inside is not None for r in ct.inside.rules),
    ]
    (found,) = [r for r in every if r.key == key]
    return found


def hop_rule(snap: Snapshot, res: PathResult, start: str) -> Rule:
    (hop,) = [h for h in res.hops if h.title.startswith(start)]
    return rule_of(snap, hop.rule)


@pytest.fixture(scope="module")
def read(ingress_swarm: list[it.Task]) -> tuple[Snapshot, Any]:
    snap = collect_snapshot()
    return snap, correlate(snap)


def test_the_path_names_the_tasks_as_ipvs_does(
    read: tuple[Snapshot, Any], ingress_swarm: list[it.Task]
) -> None:
    snap, corr = read
    servers = it.ipvs_real_servers(it.sbox_ipvs())
    (mark,) = servers
    assert sorted(servers[mark]) == sorted(t.ingress_ip for t in ingress_swarm)
    for task in ingress_swarm:
        res = trace_path(snap, corr, "host", f"{it.HOST_ADDR}:{it.PUBLISHED}", task=task.name)
        assert res.verdict == "delivered" and res.reply_verdict == "delivered", res.sentence
        (ipvs,) = [h for h in res.hops if h.kind == "ipvs"]
        assert ipvs.title.startswith(f"ingress_sbox: IPVS FWM {mark:#x} ")
        assert f"followed {task.ingress_ip} ({task.name})" in ipvs.title
        assert res.delivered_as is not None
        assert (res.delivered_as.dst, res.delivered_as.dport) == (task.ingress_ip, it.TARGET)


def test_a_real_get_moves_the_rules_the_path_names(
    read: tuple[Snapshot, Any], ingress_swarm: list[it.Task]
) -> None:
    snap, corr = read
    by_ip = {t.ingress_ip: t for t in ingress_swarm}
    paths = {
        t.id: trace_path(snap, corr, "host", f"{it.HOST_ADDR}:{it.PUBLISHED}", task=t.name)
        for t in ingress_swarm
    }
    first = next(iter(paths.values()))
    mark = hop_rule(snap, first, "ingress_sbox: mangle PREROUTING: MARK by ")
    assert mark.netns == "ingress_sbox" and mark.target == "MARK"
    sbox_tool = (mark.backend, mark.family)
    redirects = {
        t.id: hop_rule(snap, paths[t.id], f"{t.name}: nat PREROUTING: REDIRECT by ")
        for t in ingress_swarm
    }
    for t in ingress_swarm:
        assert redirects[t.id].netns == f"ct:{t.id}"
        assert redirects[t.id].target_options == {"--to-ports": str(it.TARGET)}

    def readings() -> tuple[int, dict[str, int], int]:
        return (
            counted(it.sbox_save(*sbox_tool), mark),
            {
                t.id: counted(
                    it.task_save(t, redirects[t.id].backend, redirects[t.id].family),
                    redirects[t.id],
                )
                for t in ingress_swarm
            },
            ipvs_connections(),
        )

    mark_before, redirect_before, conns_before = readings()
    entries_before = ipvs_conn_entries()
    answer = http_get()
    mark_after, redirect_after, _ = readings()
    entries = ipvs_conn_entries() - entries_before
    assert answer.startswith(b"HTTP/1."), answer[:200]
    assert mark_after > mark_before
    assert conns_after(conns_before) > conns_before
    moved = [tid for tid in redirect_after if redirect_after[tid] > redirect_before[tid]]
    assert len(moved) == 1, (redirect_before, redirect_after)
    # the task that took it: the real server of IPVS's new connection entry, to the
    # address and port the path's host DNAT names; its path ends at that task
    took = next(t for t in ingress_swarm if t.id == moved[0])
    assert took.ingress_ip in by_ip
    res = paths[took.id]
    (dnat_hop,) = [h for h in res.hops if h.kind == "nat" and h.title.startswith("nat OUTPUT")]
    dnat = rule_of(snap, dnat_hop.rule)
    to = dnat.target_options["--to-destination"]
    assert [(e[0], e[2], e[3]) for e in entries] == [
        ("TCP", to, f"{took.ingress_ip}:{it.PUBLISHED}")
    ], entries
    assert res.delivered_as is not None and res.delivered_as.dst == took.ingress_ip
