"""The swarm ingress routing mesh collected live, against ground truth (``kernel``:
it needs IPVS, so it runs in scripts/kernel-vm's VM where the sandbox lacks it).

The session's one-node swarm (fixture ``ingress_swarm``: nxweb, 2 replicas,
publishing 8081) is read by ``collect_snapshot`` between two readings of the
ground truth, taken with the system's tools in the namespaces themselves:
``nsenter --net=/var/run/docker/netns/ingress_sbox ip{,6}tables-*-save -c`` and
``cat /proc/net/ip_vs``, ``nsenter -t PID -n ...-save -c`` in each task (its pid
from ``docker inspect``). Rules and chains are split from the save text without
netexplorer's parser. Last, a real fault (ingress_sbox's MARK rule of the port
deleted, then put back) against the doctor.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

from netexplorer.collect.snapshot import collect_snapshot
from netexplorer.doctor import diagnose
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
