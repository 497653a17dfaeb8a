"""Both firewall backends for real, in scratch network namespaces (root needed).

A ruleset recorded on the development host (tests/recorded/firewall) is loaded
with iptables-legacy-restore and/or iptables-nft-restore into a fresh netns, some
traffic makes counters move, and the collector, run inside that netns
(``python -m netexplorer.collect.firewall``), must agree with
``ip{,6}tables-{legacy,nft}-save -c`` run there: same texts, positions, counters.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from integration.scratch_netns import (
    IPTABLES,
    assert_collected_between,
    assert_read_alone,
    both_backends_warnings,
    collect,
    collect_between,
    collected_rules,
    netns_fixture,
    save,
    save_rules,
    settle,
    sh,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RECORDED = ROOT / "tests" / "recorded" / "firewall"
#: ruleset name -> {family: recorded file}
RULESETS = {
    "docker-host": {"ipv4": "host-iptables-nft-save-c.txt"},
    "variety": {"ipv4": "variety-ipv4.rules", "ipv6": "variety-ipv6.rules"},
    # Docker with --ip6tables: MASQUERADE (an extension both families share) in both
    "docker-ip6tables": {
        "ipv4": "host-iptables-legacy-save-c-ip6tables.txt",
        "ipv6": "host-ip6tables-legacy-save-c-ip6tables.txt",
    },
}
TOOLS = ["ip", "iptables-legacy-restore", "iptables-nft-restore", "ip6tables-legacy-restore"]
TOOLS += ["ip6tables-nft-restore", "iptables-legacy-save", "iptables-nft-save"]


netns = netns_fixture("nxfw", TOOLS, "iproute2 iptables")


def load(ns: str, backend: str, ruleset: str) -> None:
    for family, file in RULESETS[ruleset].items():
        sh(ns, f"{IPTABLES[family]}-{backend}-restore", stdin=(RECORDED / file).read_text())


def traffic(ns: str) -> None:
    """A few UDP datagrams to local addresses so that counters are not all zero."""
    code = (
        "import socket\n"
        "for fam, addr in ((2, '127.0.0.1'), (2, '10.99.0.1'), (socket.AF_INET6, '::1')):\n"
        "    for _ in range(3):\n"
        "        socket.socket(fam, socket.SOCK_DGRAM).sendto(b'x' * 10, (addr, 9))\n"
    )
    sh(ns, sys.executable, "-c", code)


def truth(ns: str, backend: str, family: str) -> tuple[list[Any], list[Any]]:
    """(rules, chains) from the real save tool, split without netexplorer's parser."""
    return save_rules(save(ns, backend, family))


def legacy_tables(ns: str) -> str:
    return sh(ns, "cat", "/proc/net/ip_tables_names", "/proc/net/ip6_tables_names")


@pytest.mark.parametrize(
    ("ruleset", "backend"),
    # the variety ruleset checks the legacy reader's own formatting of many
    # extensions; nf_tables refuses some of its rules (e.g. "! -s 0.0.0.0/0")
    [
        ("docker-host", "legacy"),
        ("docker-host", "nft"),
        ("variety", "legacy"),
        ("docker-ip6tables", "legacy"),
        ("docker-ip6tables", "nft"),
    ],
)
def test_collector_equals_save(netns: str, backend: str, ruleset: str) -> None:
    load(netns, backend, ruleset)
    traffic(netns)
    settle(lambda: [truth(netns, backend, f) for f in RULESETS[ruleset]])
    tables_before = legacy_tables(netns)
    data, before, after = collect_between(
        netns, RULESETS[ruleset], lambda family: truth(netns, backend, family)
    )
    assert legacy_tables(netns) == tables_before, "the collector must not create tables"
    for family in RULESETS[ruleset]:
        assert before[family][0], f"nothing loaded for {family}?"
        got = collected_rules(data, backend, family)
        assert_collected_between(got, before[family], after[family])
    assert any(r["packets"] for r in data["rules"]), "traffic should have moved a counter"
    other = "nft" if backend == "legacy" else "legacy"
    assert not [r for r in data["rules"] if r["backend"] == f"iptables-{other}"]
    assert_read_alone(data, backend)


def test_docker_rules_in_both_backends_warn(netns: str) -> None:
    load(netns, "legacy", "docker-host")
    load(netns, "nft", "docker-host")
    data = collect(netns)
    (warning,) = both_backends_warnings(data)
    assert "stale" in warning
    for backend in ("legacy", "nft"):
        assert collected_rules(data, backend, "ipv4") == truth(netns, backend, "ipv4")
    dnat = [r for r in data["rules"] if r["target"] == "DNAT"]
    assert [r["backend"] for r in dnat] == ["iptables-nft", "iptables-legacy"]
    assert {r["target_options"]["--to-destination"] for r in dnat} == {"172.17.0.4:80"}


def test_empty_netns_has_no_rules_and_no_errors(netns: str) -> None:
    data = collect(netns)
    assert data["errors"] == {} and data["backends"] == []
    assert data["rules"] == []
    assert legacy_tables(netns) == "", "reading must not create legacy tables"
