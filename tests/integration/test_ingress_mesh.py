"""The swarm ingress routing mesh collected live, against ground truth (``kernel``:
it needs IPVS, so it runs in scripts/kernel-vm's VM where the sandbox lacks it).

The session's one-node swarm (fixture ``ingress_swarm``: nxweb, 2 replicas,
publishing 8081) is read by ``collect_snapshot`` between two readings of the
ground truth, taken with the system's tools in the namespaces themselves:
``nsenter --net=/var/run/docker/netns/ingress_sbox ip{,6}tables-*-save -c`` and
``cat /proc/net/ip_vs``, ``nsenter -t PID -n ...-save -c`` in each task (its pid
from ``docker inspect``). Rules and chains are split from the save text without
netexplorer's parser. Then the live feed's firewall poll after an HTTP GET through
the mesh: the mesh's counters it shows are the kernel's, read again. Last, a real
fault (ingress_sbox's MARK rule of the port deleted, then put back) against the
doctor.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

from netexplorer.analysis import Analyser
from netexplorer.collect.snapshot import collect_snapshot
from netexplorer.doctor import diagnose
from netexplorer.live.feed import POLLED, LiveFeed
from netexplorer.model import Chain, Rule, Snapshot

from . import ingress_truth as it
from .scratch_netns import assert_counted_between, save_rules

pytestmark = [pytest.mark.integration, pytest.mark.kernel]

Truth = dict[tuple[str, str], tuple[list[Any], list[Any]]]


def _listed(
    rules: list[Rule], chains: list[Chain], backend: str, family: str
) -> tuple[list[Any], list[Any]]:
    return (
        [
            (r.table, r.chain, r.position, r.text, r.packets, r.bytes)
            for r in rules
            if (r.backend, r.family) == (backend, family)
        ],
        [
            (c.table, c.name, c.policy, c.packets, c.bytes)
            for c in chains
            if (c.backend, c.family) == (backend, family)
        ],
    )


def _truth(tasks: list[it.Task]) -> tuple[Truth, dict[str, Truth], str]:
    """ingress_sbox's tables, each task's (by id), ingress_sbox's IPVS text."""
    sbox = {key: save_rules(it.sbox_save(*key)) for key in it.SAVE_TOOLS}
    per_task = {
        t.id: {key: save_rules(it.task_save(t, *key)) for key in it.SAVE_TOOLS} for t in tasks
    }
    return sbox, per_task, it.sbox_ipvs()


@pytest.fixture(scope="module")
def read(
    ingress_swarm: list[it.Task],
) -> tuple[Snapshot, tuple[Truth, dict[str, Truth], str], tuple[Truth, dict[str, Truth], str]]:
    before = _truth(ingress_swarm)
    snap = collect_snapshot()
    after = _truth(ingress_swarm)
    return snap, before, after


def _assert_between(
    rules: list[Rule], chains: list[Chain], low: Truth, high: Truth, netns: str
) -> None:
    assert {r.netns for r in rules} <= {netns} and {c.netns for c in chains} <= {netns}
    for key in it.SAVE_TOOLS:
        got = _listed(rules, chains, *key)
        for mine, lo, hi in zip(got, low[key], high[key], strict=True):
            assert_counted_between(mine, lo, hi)


def test_ingress_sbox_tables_and_ipvs(read: Any) -> None:
    snap, (sbox_lo, _, ipvs_lo), (sbox_hi, _, ipvs_hi) = read
    sbox = next(ns for ns in snap.namespaces if ns.name == "ingress_sbox")
    assert sbox.error is None
    assert sbox.rules, "no rule read in ingress_sbox"
    _assert_between(sbox.rules, sbox.chains, sbox_lo, sbox_hi, "ingress_sbox")
    # the mesh's own rules are among them: the published port's MARK, the SNAT of IPVS
    mangle = [r for r in sbox.rules if r.table == "mangle" and r.target == "MARK"]
    assert any(r.dport == str(it.PUBLISHED) for r in mangle)
    assert any(r.target == "SNAT" and "ipvs" in r.matches for r in sbox.rules)
    assert sbox.ipvs in (ipvs_lo, ipvs_hi)


def test_each_task_tables(read: Any, ingress_swarm: list[it.Task]) -> None:
    snap, (_, tasks_lo, _), (_, tasks_hi, _) = read
    by_id = {ct.id: ct for ct in snap.containers}
    assert len(ingress_swarm) == it.REPLICAS
    for task in ingress_swarm:
        ct = by_id[task.id]
        assert ct.inside is not None and ct.inside.error is None
        _assert_between(
            ct.inside.rules, ct.inside.chains, tasks_lo[task.id], tasks_hi[task.id], f"ct:{task.id}"
        )
        redirect = [r for r in ct.inside.rules if r.target == "REDIRECT"]
        assert [(r.destination, r.dport, r.target_options) for r in redirect] == [
            (f"{task.ingress_ip}/32", str(it.PUBLISHED), {"--to-ports": str(it.TARGET)})
        ]
    # a container off the ingress network gets no rules read
    others = [ct for ct in snap.containers if ct.id not in {t.id for t in ingress_swarm}]
    assert others and all(ct.inside is None or ct.inside.rules == [] for ct in others)


def test_ipvs_real_servers_are_the_tasks(read: Any, ingress_swarm: list[it.Task]) -> None:
    """The text netexplorer holds lists, under the service's mark, the tasks'
    ingress addresses that docker inspect gives (split here on its own)."""
    snap = read[0]
    sbox = next(ns for ns in snap.namespaces if ns.name == "ingress_sbox")
    servers = it.ipvs_real_servers(sbox.ipvs or "")
    assert sorted(a for dests in servers.values() for a in dests) == sorted(
        t.ingress_ip for t in ingress_swarm
    )


def _connects() -> bool:
    """Does a TCP connection to the published port (the VM's own swarm address) open?"""
    try:
        with socket.create_connection((it.HOST_ADDR, it.PUBLISHED), timeout=5):
            return True
    except OSError:
        return False


def _http_get() -> bytes:
    """An HTTP GET through the mesh (the published port at the VM's swarm address)."""
    with socket.create_connection((it.HOST_ADDR, it.PUBLISHED), timeout=10) as conn:
        conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer


def _redirected(snap: Snapshot) -> int:
    """Packets the tasks' REDIRECT rules counted, all tasks together."""
    return sum(
        r.packets
        for ct in snap.containers
        if ct.inside is not None
        for r in ct.inside.rules
        if r.target == "REDIRECT"
    )


def test_a_firewall_poll_reads_the_mesh_counters_again(ingress_swarm: list[it.Task]) -> None:
    """The live feed reads everything once; an HTTP GET goes through the mesh; the
    next firewall-only poll (Docker's part not read again) shows ingress_sbox's
    rules with the counters that ``iptables-nft-save -c`` there lists just before
    and just after it (the published port's MARK rule among them, moved since the
    first read), the tasks' REDIRECT rules counting the connection, and IPVS's
    table as ``/proc/net/ip_vs`` lists it then; the analysis takes the one before
    over (only counters moved)."""
    feed = LiveFeed(watch=False)
    analyser = Analyser()
    first = feed.collect()
    done = analyser(first)
    mark = next(
        r
        for ns in first.namespaces
        if ns.name == "ingress_sbox"
        for r in ns.rules
        if r.table == "mangle" and r.target == "MARK" and r.dport == str(it.PUBLISHED)
    )
    assert _http_get().startswith(b"HTTP/1.")
    lo, ipvs_lo = save_rules(it.sbox_save("iptables-nft", "ipv4")), it.sbox_ipvs()
    read = feed.collect(POLLED)
    hi, ipvs_hi = save_rules(it.sbox_save("iptables-nft", "ipv4")), it.sbox_ipvs()
    assert [s.name for s in read.sources] == [s.name for s in first.sources]
    sbox = next(ns for ns in read.namespaces if ns.name == "ingress_sbox")
    mine = _listed(sbox.rules, sbox.chains, "iptables-nft", "ipv4")
    for got, low, high in zip(mine, lo, hi, strict=True):
        assert_counted_between(got, low, high)
    polled = next(r for r in sbox.rules if r.key == mark.key)
    assert polled.packets > mark.packets, (mark.packets, polled.packets)
    assert _redirected(read) > _redirected(first)
    assert sbox.ipvs in (ipvs_lo, ipvs_hi)
    # Docker was not asked again: its networks are the first read's
    assert read.networks is first.networks
    result = analyser(read)
    assert result.findings is done.findings
    assert next(m.rule for m in result.correlation.mesh.rules if m.rule.key == mark.key) is polled


def test_doctor_names_a_published_port_without_its_mark_rule(
    ingress_swarm: list[it.Task],
) -> None:
    """A real fault: ingress_sbox's MARK rule of the published port deleted (and put
    back at its place afterwards). The port then takes no connection (ground truth:
    a TCP connect to it fails), and the doctor names the port and the missing rule."""
    (mark,) = [
        r
        for r in save_rules(it.sbox_save("iptables-nft", "ipv4"))[0]
        if r[0] == "mangle" and r[1] == "PREROUTING" and f"--dport {it.PUBLISHED} " in r[3]
    ]
    table, chain, position, text = mark[:4]
    spec = text.split(" ", 2)[2].split()  # the words after "-A PREROUTING"
    assert _connects()
    it.run("nsenter", f"--net={it.SBOX}", "iptables-nft", "-t", table, "-D", chain, *spec)
    try:
        assert not _connects()
        findings = diagnose(collect_snapshot(), checks=("mesh-port", "mesh-ipvs"))
        assert [(f.check, f.title) for f in findings] == [
            ("mesh-port", f"published swarm port {it.PUBLISHED}: no MARK rule in ingress_sbox")
        ]
    finally:
        it.run(
            "nsenter", f"--net={it.SBOX}", "iptables-nft", "-t", table, "-I", chain,
            str(position), *spec,
        )  # fmt: skip
    assert _connects()
