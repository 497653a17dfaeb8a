"""The netfilter tables of another namespace (the routing mesh's reader), for real.

Recorded rulesets are loaded with ``ip{,6}tables-{nft,legacy}-restore`` into a
scratch netns; ``read_netns_tables`` (run from the host's namespace, entering the
scratch one by its ``/run/netns`` path) must list what ``ip netns exec NS
ip{,6}tables-*-save -c`` lists there, split without netexplorer's parser: same
texts, positions and counters between two readings, each rule and chain marked
with the namespace. Faults: a namespace that is gone, a save tool missing.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from integration.scratch_netns import (
    assert_counted_between,
    move_counters,
    netns_fixture,
    save,
    save_rules,
    sh,
)
from netexplorer.collect.firewall import netns_tables
from netexplorer.collect.firewall.netns_tables import NetnsTables, read_netns_tables, read_one
from netexplorer.model import LEGACY, NFT

pytestmark = pytest.mark.integration

RECORDED = Path(__file__).resolve().parents[1] / "recorded" / "firewall"
TOOLS = ["ip", "iptables-nft-restore", "iptables-legacy-restore", "ip6tables-legacy-restore"]
TOOLS += ["iptables-nft-save", "iptables-legacy-save", "ip6tables-legacy-save"]

netns = netns_fixture("nxnst", TOOLS, "iproute2 iptables")


def listed(tables: NetnsTables, backend: str, family: str) -> tuple[list[Any], list[Any]]:
    """The read's rules and chains of one backend and family, as save_rules gives them."""
    rules = [
        (r.table, r.chain, r.position, r.text, r.packets, r.bytes)
        for r in tables.rules
        if (r.backend, r.family) == (backend, family)
    ]
    chains = [
        (c.table, c.name, c.policy, c.packets, c.bytes)
        for c in tables.chains
        if (c.backend, c.family) == (backend, family)
    ]
    return rules, chains


def test_both_backends_read_inside(netns: str) -> None:
    sh(
        netns,
        "iptables-nft-restore",
        stdin=(RECORDED / "host-iptables-nft-save-c.txt").read_text(),
    )
    sh(
        netns,
        "iptables-legacy-restore",
        stdin=(RECORDED / "variety-ipv4.rules").read_text(),
    )
    sh(
        netns,
        "ip6tables-legacy-restore",
        stdin=(RECORDED / "variety-ipv6.rules").read_text(),
    )
    move_counters(netns)
    wanted = [(NFT, "ipv4", "nft"), (LEGACY, "ipv4", "legacy"), (LEGACY, "ipv6", "legacy")]
    before = {(b, f): save_rules(save(netns, tool, f)) for b, f, tool in wanted}
    found = read_netns_tables([("scratch", f"/run/netns/{netns}")])
    after = {(b, f): save_rules(save(netns, tool, f)) for b, f, tool in wanted}
    tables = found["scratch"]
    assert tables.error is None and tables.problems == []
    for backend, family, _tool in wanted:
        got = listed(tables, backend, family)
        assert got[0], (backend, family)
        for mine, low, high in zip(
            got, before[backend, family], after[backend, family], strict=True
        ):
            assert_counted_between(mine, low, high)
    assert {r.netns for r in tables.rules} == {"scratch"}
    assert {c.netns for c in tables.chains} == {"scratch"}
    ids = [r.id for r in tables.rules]
    assert len(set(ids)) == len(ids)
    # nothing else: the ip6 nft tables are empty there
    assert {(r.backend, r.family) for r in tables.rules} == {(b, f) for b, f, _ in wanted}


def test_the_host_namespace_is_left_alone(netns: str) -> None:
    """The caller's thread stays in the host's namespace, and the host's rules are not
    what is read."""
    mine = os.readlink(f"/proc/self/task/{threading.get_native_id()}/ns/net")
    sh(
        netns,
        "iptables-nft-restore",
        stdin="*mangle\n-A PREROUTING -p tcp --dport 8081 -j MARK --set-xmark 0x100\nCOMMIT\n",
    )
    tables = read_netns_tables([("ingress_sbox", f"/run/netns/{netns}")])["ingress_sbox"]
    assert os.readlink(f"/proc/self/task/{threading.get_native_id()}/ns/net") == mine
    assert [(r.table, r.chain, r.text) for r in tables.rules] == [
        (
            "mangle",
            "PREROUTING",
            "-A PREROUTING -p tcp -m tcp --dport 8081 -j MARK --set-xmark 0x100/0xffffffff",
        )
    ]
    assert tables.rules[0].target == "MARK" and tables.rules[0].netns == "ingress_sbox"


def test_a_family_without_a_table_starts_no_save_tool(
    netns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A namespace with IPv4 nftables tables only (as ingress_sbox and the tasks
    have): ip6tables-nft-save is not started there, and the read is what starting
    every tool gives (ip6tables-nft-save prints nothing in it)."""
    sh(
        netns,
        "iptables-nft-restore",
        stdin="*nat\n-A OUTPUT -p tcp --dport 8081 -j REDIRECT --to-ports 80\nCOMMIT\n",
    )
    assert sh(netns, "ip6tables-nft-save", "-c") == ""
    started: list[str] = []
    real = netns_tables.run_listing

    def spied(binary: str, *args: str, rules: str) -> str:
        started.append(os.path.basename(binary))
        return real(binary, *args, rules=rules)

    monkeypatch.setattr(netns_tables, "run_listing", spied)
    tables = read_netns_tables([("ingress_sbox", f"/run/netns/{netns}")])["ingress_sbox"]
    assert started == ["iptables-nft-save"]
    assert tables.error is None and tables.problems == []
    assert [(r.family, r.table, r.text) for r in tables.rules] == [
        ("ipv4", "nat", "-A OUTPUT -p tcp -m tcp --dport 8081 -j REDIRECT --to-ports 80")
    ]


def test_a_vanished_namespace_is_a_sentence() -> None:
    found = read_netns_tables(
        [("ct:" + "f" * 64, "/proc/999999999/ns/net"), ("gone", "/run/netns/nx-never-made")]
    )
    for name, tables in found.items():
        assert tables.rules == [] and tables.error is not None
        assert "vanished before its netfilter tables were read" in tables.error, tables.error
        assert name in tables.error


def test_a_missing_save_tool_is_a_sentence_and_the_rest_is_read(netns: str) -> None:
    """The save tool cannot be removed from the machine for a test: the reader is
    handed a table of tools where iptables-nft-save has none."""
    sh(netns, "iptables-legacy-restore", stdin=(RECORDED / "variety-ipv4.rules").read_text())
    tools: dict[tuple[str, str], str | None] = {
        (NFT, "ipv4"): None,
        (LEGACY, "ipv4"): "/usr/sbin/iptables-legacy-save",
    }
    tables = read_one("scratch", f"/run/netns/{netns}", tools)
    assert tables.error is None
    assert tables.problems == [
        "iptables-nft ipv4 rules in scratch were not read: iptables-nft-save was not found; "
        "install the Debian package 'iptables' (apt-get install iptables)."
    ]
    truth = save_rules(save(netns, "legacy", "ipv4"))
    assert [r[:4] for r in listed(tables, LEGACY, "ipv4")[0]] == [r[:4] for r in truth[0]]
