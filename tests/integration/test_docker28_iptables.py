"""Docker 28's iptables layout for real, in scratch network namespaces (root needed).

The hand-written rulesets of tests/recorded/docker28-iptables (the shape Docker
Engine 28 writes: DOCKER-FORWARD, DOCKER-BRIDGE, DOCKER-CT, DOCKER-INTERNAL, and
the 28.0.1 variant with DOCKER-ISOLATION-STAGE-1/2) are loaded with
``ip{,6}tables-{nft,legacy}-restore`` into a fresh netns ``nx28-<hex>``, local
traffic moves some counters, and the collector run inside that netns
(``python -m netexplorer.collect.firewall``) must agree with
``ip{,6}tables-<backend>-save -c`` read there independently: the same rules in
the same places with the same counters, the same chains and policies. No Docker
is needed; the host's ruleset is never touched and the netns is always deleted.
"""

from __future__ import annotations

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
    move_counters,
    netns_fixture,
    save,
    save_rules,
    settle,
    sh,
)

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parents[1] / "recorded" / "docker28-iptables"
#: ruleset -> the families it has an input file for
RULESETS = {"docker28": ("ipv4", "ipv6"), "docker28.0": ("ipv4",)}
BINARIES = ["ip"] + [
    f"{tool}-{backend}-{verb}"
    for tool in IPTABLES.values()
    for backend in ("nft", "legacy")
    for verb in ("restore", "save")
]


netns = netns_fixture("nx28", BINARIES, "iproute2 iptables")


def load(ns: str, ruleset: str, backend: str) -> None:
    for family in RULESETS[ruleset]:
        text = (HERE / f"{ruleset}-{family}.rules").read_text()
        sh(ns, f"{IPTABLES[family]}-{backend}-restore", stdin=text)


def truth(text: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """:func:`save_rules` keyed by table, so that the order of tables (nft and legacy
    print them differently) does not matter."""
    return by_table(*save_rules(text))


def by_table(
    rules: list[tuple[Any, ...]], chains: list[tuple[Any, ...]]
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    return sorted(rules), sorted(chains, key=lambda c: c[:2])


def collected(data: dict[str, Any], backend: str, family: str) -> tuple[list[Any], list[Any]]:
    return by_table(*collected_rules(data, backend, family))


@pytest.mark.parametrize("backend", ["nft", "legacy"])
@pytest.mark.parametrize("ruleset", list(RULESETS))
def test_collector_equals_save(netns: str, ruleset: str, backend: str) -> None:
    families = RULESETS[ruleset]
    sh(netns, "ip", "-6", "addr", "add", "2001:db8:99::1/64", "dev", "nxv0", "nodad")
    load(netns, ruleset, backend)
    move_counters(netns)
    settle(lambda: [save_rules(save(netns, backend, f)) for f in families])
    data, before, after = collect_between(
        netns, families, lambda family: truth(save(netns, backend, family))
    )
    for family in families:
        got_rules, got_chains = collected(data, backend, family)
        assert got_rules and got_chains, f"nothing collected for {family}"
        assert_collected_between((got_rules, got_chains), before[family], after[family])
        chains = {c[1] for c in got_chains if c[0] == "filter"}
        assert {"DOCKER-FORWARD", "DOCKER-BRIDGE", "DOCKER-CT"} <= chains
        assert ("filter", "FORWARD", "DROP") in {c[:3] for c in got_chains}
    v4 = collected(data, backend, "ipv4")[0]
    if ruleset == "docker28":
        assert [r for r in v4 if r[1] == "DOCKER-INTERNAL"]
    else:
        assert [r for r in v4 if r[1] == "DOCKER-ISOLATION-STAGE-2"]
    dnat = [r for r in v4 if r[0] == "nat" and "--dport 8080 -j DNAT" in r[3]]
    assert len(dnat) == 1 and dnat[0][4] >= 1, "the TCP connect to :8080 should count"
    assert_read_alone(data, backend)


def test_both_backends_at_once_warn_and_read_each(netns: str) -> None:
    """Docker 28 rules in iptables-nft and the 28.0.1 set in iptables-legacy."""
    load(netns, "docker28", "nft")
    load(netns, "docker28.0", "legacy")
    data = collect(netns)
    both_backends_warnings(data)
    for ruleset, backend in (("docker28", "nft"), ("docker28.0", "legacy")):
        for family in RULESETS[ruleset]:
            want_rules, want_chains = truth(save(netns, backend, family))
            got_rules, got_chains = collected(data, backend, family)
            assert [g[:-2] for g in got_rules] == [w[:-2] for w in want_rules]
            assert [g[:3] for g in got_chains] == [w[:3] for w in want_chains]
