"""Docker Engine 28's iptables layout from recorded ``iptables-*-save -c`` output.

tests/recorded/docker28-iptables holds real ``ip{,6}tables-{nft,legacy}-save -c``
output of hand-written rulesets in the shape Docker 28 writes (chains
DOCKER-FORWARD, DOCKER-BRIDGE, DOCKER-CT and DOCKER-INTERNAL; and the 28.0.1
variant with DOCKER-ISOLATION-STAGE-1/2 behind DOCKER-FORWARD), loaded into
scratch netns (see the README there). They use the networks, bridges and
addresses of tests/recorded/modes/healthy.snapshot.json, whose own (Docker 20.10)
rules are replaced by these, so correlation and the doctor are checked against
real recorded endpoints.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from netexplorer.collect.firewall import LEGACY, NFT
from netexplorer.collect.firewall.iptables_save import parse_iptables_save_with_problems
from netexplorer.correlate import Correlation, correlate
from netexplorer.doctor import Finding, diagnose
from netexplorer.doctor.tables import live_backends
from netexplorer.model import Chain, Rule, Snapshot
from netexplorer.snapshot_io import load_snapshot

RECORDED = Path(__file__).resolve().parents[1] / "recorded"
HERE = RECORDED / "docker28-iptables"
MODES = RECORDED / "modes" / "healthy.snapshot.json"
#: ruleset -> its families (as record.py writes them)
RULESETS = {"docker28": ("ipv4", "ipv6"), "docker28.0": ("ipv4",)}
TOOLS = {"ipv4": "iptables", "ipv6": "ip6tables"}
BACKENDS = {NFT: "nft", LEGACY: "legacy"}

#: the networks of the modes recording: name -> bridge
DOCKER0 = "docker0"
NXLAB = "br-7fe19de61a93"
ICC = "nxt-rec-ic"  # enable_icc=false, custom bridge name
INTERNAL = "br-37b58abe10c5"  # --internal (nxt-rec-int)
V6 = "br-c27dd5d67fdf"  # dual stack (nxt-rec-v6)
V6_SUBNET = "fd00:6e78:ec::/64"
ON_DOCKER0 = ["nxt-rec-multi", "test1", "test2", "web"]
MEMBERS = {
    DOCKER0: ON_DOCKER0,
    NXLAB: ["db", "web"],
    ICC: ["nxt-rec-multi"],
    INTERNAL: ["nxt-rec-int1"],
    V6: ["nxt-rec-multi"],
}
EXTERNAL = (DOCKER0, NXLAB, ICC, V6)
MASQ = "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE"
MASQ6 = f"-A POSTROUTING -s {V6_SUBNET} ! -o {V6} -j MASQUERADE"
DNAT = "-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.4:80"
DNAT_V6_NET = (
    f"-A DOCKER -d 127.0.0.1/32 ! -i {V6} -p tcp -m tcp --dport 28080 "
    "-j DNAT --to-destination 192.168.32.2:80"
)
DNAT6 = (
    f"-A DOCKER ! -s fe80::/10 ! -i {V6} -p tcp -m tcp --dport 28080 "
    "-j DNAT --to-destination [fd00:6e78:ec::2]:80"
)
BOTH = [(r, b) for r in RULESETS for b in BACKENDS]


def save_text(ruleset: str, backend: str, family: str) -> str:
    name = f"netns-{ruleset}-{TOOLS[family]}-{BACKENDS[backend]}-save-c.txt"
    return (HERE / name).read_text()


def parsed(ruleset: str = "docker28", backend: str = NFT) -> tuple[list[Rule], list[Chain]]:
    rules: list[Rule] = []
    chains: list[Chain] = []
    for family in RULESETS[ruleset]:
        r, c, problems = parse_iptables_save_with_problems(
            save_text(ruleset, backend, family), backend, family
        )
        assert problems == []
        rules += r
        chains += c
    return rules, chains


def lab(ruleset: str = "docker28", backend: str = NFT) -> Snapshot:
    """The recorded network-modes snapshot, its rules replaced by Docker 28's."""
    snap = load_snapshot(MODES)
    assert {n.bridge for n in snap.networks if n.bridge} == set(MEMBERS)
    snap.rules, snap.chains = parsed(ruleset, backend)
    snap.firewall_backends = [backend]
    return snap


def with_ipv6_port(snap: Snapshot) -> Snapshot:
    """The fixture also publishes nxt-rec-multi's port 80 on [::]:28080 (the
    recording has only 127.0.0.1:28080): the snapshot gets that binding too."""
    multi = next(c for c in snap.containers if c.name == "nxt-rec-multi")
    (p,) = multi.published_ports
    assert (p.host_ip, p.host_port, p.container_port) == ("127.0.0.1", 28080, 80)
    multi.published_ports.append(replace(p, host_ip="::"))
    return snap


def rule(snap: Snapshot, text: str, family: str = "ipv4") -> Rule:
    (found,) = [r for r in snap.rules if (r.family, r.text) == (family, text)]
    return found


def forward_chain(chains: list[Chain], family: str = "ipv4") -> Chain:
    return next(c for c in chains if (c.family, c.table, c.name) == (family, "filter", "FORWARD"))


def without(snap: Snapshot, text: str, family: str = "ipv4") -> Snapshot:
    gone = rule(snap, text, family)
    snap.rules = [r for r in snap.rules if r is not gone]
    return snap


def endpoint_keys(snap: Snapshot, corr: Correlation, bridge: str) -> set[str]:
    return {
        ep.key for c in snap.containers for ep in c.endpoints if corr.wiring(ep).bridge == bridge
    }


def assert_guards(snap: Snapshot, corr: Correlation, r: Rule, bridge: str) -> None:
    """``r`` names ``bridge`` and concerns exactly the containers on it."""
    assert list(corr.rule_bridges[r.id]) == [bridge], r.text
    assert list(corr.rule_containers[r.id]) == MEMBERS[bridge], r.text
    related = corr.links.related(r.key)
    assert f"br:{bridge}" in related, r.text
    assert endpoint_keys(snap, corr, bridge) <= related, r.text
    others = {k for b in MEMBERS if b != bridge for k in endpoint_keys(snap, corr, b)}
    assert not (others - endpoint_keys(snap, corr, bridge)) & related, r.text


def findings(snap: Snapshot) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    for f in diagnose(snap):
        out.setdefault(f.check, []).append(f)
    return out


def one_finding(snap: Snapshot, check: str, subject: str, fix: str) -> Finding:
    """The one finding of ``check``, checked for its subject and its fix's first line."""
    (f,) = findings(snap)[check]
    assert f.subject == subject
    assert f.fix.splitlines()[0] == fix
    return f


# --------------------------------------------------------------------------- parsing
@pytest.mark.parametrize("ruleset", list(RULESETS))
def test_both_backends_read_back_the_same_ruleset(ruleset: str) -> None:
    nft, nft_chains = parsed(ruleset, NFT)
    legacy, legacy_chains = parsed(ruleset, LEGACY)

    def key(r: Rule) -> tuple[str, str, str, int, str]:
        return (r.family, r.table, r.chain, r.position, r.text)

    assert sorted(map(key, nft)) == sorted(map(key, legacy))
    assert {(c.family, c.table, c.name, c.policy) for c in nft_chains} == {
        (c.family, c.table, c.name, c.policy) for c in legacy_chains
    }
    for family in RULESETS[ruleset]:
        # FORWARD policy DROP, as Docker sets it when it enabled forwarding itself
        assert forward_chain(nft_chains, family).policy == "DROP"
    names = {c.name for c in nft_chains if c.table == "filter"}
    assert {"DOCKER", "DOCKER-USER", "DOCKER-FORWARD", "DOCKER-BRIDGE", "DOCKER-CT"} <= names
    if ruleset == "docker28":
        assert "DOCKER-INTERNAL" in names and "DOCKER-ISOLATION-STAGE-1" not in names
    else:
        assert {"DOCKER-ISOLATION-STAGE-1", "DOCKER-ISOLATION-STAGE-2"} <= names
        assert "DOCKER-INTERNAL" not in names


def test_forward_jumps_through_docker_forward() -> None:
    rules, _ = parsed()
    v4 = [r for r in rules if r.family == "ipv4" and r.table == "filter"]
    assert [r.target for r in v4 if r.chain == "FORWARD"] == ["DOCKER-USER", "DOCKER-FORWARD"]
    assert [r.target for r in v4 if r.chain == "DOCKER-FORWARD"][:3] == [
        "DOCKER-CT",
        "DOCKER-INTERNAL",
        "DOCKER-BRIDGE",
    ]
    bridge = [(r.out_interface, r.target) for r in v4 if r.chain == "DOCKER-BRIDGE"]
    assert bridge == [(b, "DOCKER") for b in EXTERNAL]
    ct = [r for r in v4 if r.chain == "DOCKER-CT"]
    assert [r.out_interface for r in ct] == list(EXTERNAL)
    assert all(r.matches == ["conntrack"] and r.target == "ACCEPT" for r in ct)
    dnat = rule_of(rules, DNAT)
    assert (dnat.packets, dnat.bytes) == (1, 60)  # record.py's TCP connect to port 8080


def rule_of(rules: list[Rule], text: str, family: str = "ipv4") -> Rule:
    return next(r for r in rules if (r.family, r.text) == (family, text))


# --------------------------------------------------------------------------- correlation
@pytest.mark.parametrize(("ruleset", "backend"), BOTH)
def test_docker_bridge_and_ct_rules_link_to_their_bridge(ruleset: str, backend: str) -> None:
    snap = lab(ruleset, backend)
    corr = correlate(snap)
    for br in EXTERNAL:
        assert_guards(snap, corr, rule(snap, f"-A DOCKER-BRIDGE -o {br} -j DOCKER"), br)
        ct = f"-A DOCKER-CT -o {br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
        assert_guards(snap, corr, rule(snap, ct), br)
        # Docker 28's per-bridge DROP in chain DOCKER, after the published ports
        assert_guards(snap, corr, rule(snap, f"-A DOCKER ! -i {br} -o {br} -j DROP"), br)
    for br in (DOCKER0, NXLAB, V6):
        assert_guards(snap, corr, rule(snap, f"-A DOCKER-FORWARD -i {br} -j ACCEPT"), br)
    # the jumps themselves concern no bridge
    for r in snap.rules:
        if r.chain in ("FORWARD", "DOCKER-FORWARD") and r.target.startswith("DOCKER"):
            assert list(corr.rule_bridges[r.id]) == [] and list(corr.rule_containers[r.id]) == [], (
                r.text
            )


def test_ipv6_docker_bridge_and_ct_rules_link_to_the_dual_stack_bridge() -> None:
    snap = lab()
    corr = correlate(snap)
    for text in (
        f"-A DOCKER-BRIDGE -o {V6} -j DOCKER",
        f"-A DOCKER-CT -o {V6} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        f"-A DOCKER-FORWARD -i {V6} -j ACCEPT",
        f"-A DOCKER ! -i {V6} -o {V6} -j DROP",
    ):
        assert_guards(snap, corr, rule(snap, text, "ipv6"), V6)


@pytest.mark.parametrize(("ruleset", "backend"), BOTH)
def test_internal_network_rules_guard_its_bridge(ruleset: str, backend: str) -> None:
    snap = lab(ruleset, backend)
    corr = correlate(snap)
    chain = "DOCKER-INTERNAL" if ruleset == "docker28" else "DOCKER-ISOLATION-STAGE-1"
    drops = [r for r in snap.rules if r.chain == chain and r.target == "DROP"]
    assert [r.text for r in drops] == [
        f"-A {chain} ! -s 192.168.16.0/20 -o {INTERNAL} -j DROP",
        f"-A {chain} ! -d 192.168.16.0/20 -i {INTERNAL} -j DROP",
    ]
    for r in drops:
        assert_guards(snap, corr, r, INTERNAL)
    # no outgoing ACCEPT for the internal network, only its ICC rule
    icc = rule(snap, f"-A DOCKER-FORWARD -i {INTERNAL} -o {INTERNAL} -j ACCEPT")
    assert_guards(snap, corr, icc, INTERNAL)
    assert not [
        r
        for r in snap.rules
        if r.in_interface == INTERNAL and r.target == "ACCEPT" and r is not icc
    ]


@pytest.mark.parametrize(("ruleset", "backend"), BOTH)
def test_icc_false_drop_links_to_its_bridge(ruleset: str, backend: str) -> None:
    snap = lab(ruleset, backend)
    corr = correlate(snap)
    drop = rule(snap, f"-A DOCKER-FORWARD -i {ICC} -o {ICC} -j DROP")
    assert_guards(snap, corr, drop, ICC)
    out = rule(snap, f"-A DOCKER-FORWARD -i {ICC} ! -o {ICC} -j ACCEPT")
    assert_guards(snap, corr, out, ICC)
    # and br-netfilter reads Docker 28's DROP in DOCKER-FORWARD like 20.10's in FORWARD
    del snap.sysctls["net.bridge.bridge-nf-call-iptables"]
    (f,) = findings(snap)["br-netfilter"]
    assert f.subject == f"ipv4/{ICC}" and drop.key in f.evidence


def test_isolation_stages_of_28_0_link_to_the_bridges_they_guard() -> None:
    snap = lab("docker28.0")
    corr = correlate(snap)
    for br in EXTERNAL:
        stage1 = rule(
            snap, f"-A DOCKER-ISOLATION-STAGE-1 -i {br} ! -o {br} -j DOCKER-ISOLATION-STAGE-2"
        )
        assert_guards(snap, corr, stage1, br)
        assert_guards(snap, corr, rule(snap, f"-A DOCKER-ISOLATION-STAGE-2 -o {br} -j DROP"), br)
    assert rule(snap, "-A DOCKER-FORWARD -j DOCKER-ISOLATION-STAGE-1").target == (
        "DOCKER-ISOLATION-STAGE-1"
    )


@pytest.mark.parametrize(("ruleset", "backend"), BOTH)
def test_nat_rules_link_like_in_the_20_10_layout(ruleset: str, backend: str) -> None:
    """MASQUERADE and DNAT have the 20.10 text: they link to the same containers
    and bridges as the recorded 20.10 rules of the same text."""
    old = load_snapshot(MODES)
    old_corr = correlate(old)
    snap = lab(ruleset, backend)
    corr = correlate(snap)
    links = corr.links
    texts = [
        r.text for r in snap.rules if r.family == "ipv4" and r.target in ("MASQUERADE", "DNAT")
    ]
    assert MASQ in texts and DNAT in texts and DNAT_V6_NET in texts and len(texts) == 6
    for text in texts:
        new, was = rule(snap, text), rule(old, text)
        assert list(corr.rule_containers[new.id]) == list(old_corr.rule_containers[was.id]), text
        assert list(corr.rule_bridges[new.id]) == list(old_corr.rule_bridges[was.id]), text
    masq = rule(snap, MASQ)
    assert list(corr.rule_containers[masq.id]) == ON_DOCKER0
    dnat = rule(snap, DNAT)
    web = next(c for c in snap.containers if c.name == "web")
    on_bridge = next(corr.wiring(ep) for ep in web.endpoints if corr.wiring(ep).bridge == DOCKER0)
    on_lab = next(corr.wiring(ep) for ep in web.endpoints if corr.wiring(ep).bridge == NXLAB)
    assert dnat.id in on_bridge.rules and dnat.id not in on_lab.rules
    assert dnat.key in links.related(web.key)


def test_nat66_rules_link_to_the_ipv6_endpoint_only() -> None:
    snap = lab()
    corr = correlate(snap)
    links = corr.links
    multi = next(c for c in snap.containers if c.name == "nxt-rec-multi")
    v6_ep = next(ep for ep in multi.endpoints if corr.wiring(ep).bridge == V6)
    for text in (MASQ6, DNAT6):
        r = rule(snap, text, "ipv6")
        assert list(corr.rule_containers[r.id]) == ["nxt-rec-multi"]
        holders = [
            ep.key for c in snap.containers for ep in c.endpoints if r.id in corr.wiring(ep).rules
        ]
        assert holders == [v6_ep.key], text
        assert r.key in links.related(multi.key)


# --------------------------------------------------------------------------- doctor
@pytest.mark.parametrize(("ruleset", "backend"), BOTH)
def test_doctor_is_silent_on_dockers_28_rules(ruleset: str, backend: str) -> None:
    snap = with_ipv6_port(lab(ruleset, backend)) if ruleset == "docker28" else lab(ruleset, backend)
    assert findings(snap) == {}


@pytest.mark.parametrize(("ruleset", "backend"), BOTH)
def test_forward_drop_without_the_outgoing_accept(ruleset: str, backend: str) -> None:
    snap = without(lab(ruleset, backend), "-A DOCKER-FORWARD -i docker0 -j ACCEPT")
    (f,) = findings(snap)["forward-drop"]
    assert f.subject == f"{backend}/ipv4/docker0"
    assert "out of docker0" in f.title and "replies" not in f.title
    tool = f"iptables-{BACKENDS[backend]}"
    assert f.fix.splitlines()[0] == f"{tool} -I DOCKER-USER -i docker0 ! -o docker0 -j ACCEPT"
    assert f"br:{DOCKER0}" in f.evidence
    # with FORWARD policy ACCEPT the same rules are no finding
    fwd = forward_chain(snap.chains)
    fwd.policy = "ACCEPT"
    assert "forward-drop" not in findings(snap)


@pytest.mark.parametrize(("ruleset", "backend"), BOTH)
def test_forward_drop_without_the_conntrack_accept(ruleset: str, backend: str) -> None:
    """web's published port has its own ACCEPT into docker0 (and the bridge its ICC
    traffic): neither lets replies in, so the missing DOCKER-CT rule is a finding."""
    ct = "-A DOCKER-CT -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
    snap = without(lab(ruleset, backend), ct)
    (f,) = findings(snap)["forward-drop"]
    assert f.subject == f"{backend}/ipv4/docker0"
    assert "replies into docker0" in f.title and "out of" not in f.title
    # with FORWARD policy ACCEPT the replies still die: Docker 28's own
    # '! -i docker0 -o docker0 -j DROP' in chain DOCKER; the finding names it
    fwd = forward_chain(snap.chains)
    fwd.policy = "ACCEPT"
    (f,) = findings(snap)["forward-drop"]
    drop = rule(snap, "-A DOCKER ! -i docker0 -o docker0 -j DROP")
    assert f.subject == f"{backend}/ipv4/docker0"
    assert drop.text in f.title and drop.key in f.evidence
    tool = f"iptables-{BACKENDS[backend]}"
    assert (
        f.fix.splitlines()[0] == f"{tool} -I DOCKER-CT -o docker0 -m conntrack --ctstate "
        "RELATED,ESTABLISHED -j ACCEPT"
    )


def test_docker_20_10_without_the_conntrack_accept_under_accept_policy_is_no_finding() -> None:
    """Docker 20.10 has no DROP for traffic entering a bridge: replies fall through to
    the ACCEPT policy. Its DOCKER-ISOLATION-STAGE-2 '-o docker0 -j DROP' is reached
    only from other bridges and must not be taken for Docker 28's DROP."""
    snap = load_snapshot(RECORDED / "lab" / "nft.snapshot.json")
    ct = "-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
    assert any(r.text == "-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP" for r in snap.rules)
    snap.rules = [r for r in snap.rules if not (r.text == ct and r.family == "ipv4")]
    fwd = forward_chain(snap.chains)
    fwd.policy = "ACCEPT"
    assert "forward-drop" not in findings(snap)
    fwd.policy = "DROP"  # and under a DROP policy it is one
    assert [f.subject for f in findings(snap)["forward-drop"]] == ["iptables-nft/ipv4/docker0"]


def test_forward_drop_for_the_icc_false_and_ipv6_bridges() -> None:
    snap = without(lab(), f"-A DOCKER-FORWARD -i {ICC} ! -o {ICC} -j ACCEPT")
    assert [f.subject for f in findings(snap)["forward-drop"]] == [f"{NFT}/ipv4/{ICC}"]
    snap = without(lab(), f"-A DOCKER-FORWARD -i {V6} -j ACCEPT", "ipv6")
    fix = f"ip6tables-nft -I DOCKER-USER -i {V6} ! -o {V6} -j ACCEPT"
    one_finding(snap, "forward-drop", f"{NFT}/ipv6/{V6}", fix)


@pytest.mark.parametrize(("ruleset", "backend"), BOTH)
def test_missing_masquerade(ruleset: str, backend: str) -> None:
    snap = without(lab(ruleset, backend), MASQ)
    tool = f"iptables-{BACKENDS[backend]}"
    one_finding(snap, "masquerade", f"{backend}/172.17.0.0/16", f"{tool} -t nat {MASQ}")
    assert set(findings(snap)) == {"masquerade"}


def test_missing_nat66_masquerade() -> None:
    snap = without(lab(), MASQ6, "ipv6")
    one_finding(snap, "masquerade", f"{NFT}/{V6_SUBNET}", f"ip6tables-nft -t nat {MASQ6}")


@pytest.mark.parametrize(("ruleset", "backend"), BOTH)
def test_missing_dnat(ruleset: str, backend: str) -> None:
    snap = without(lab(ruleset, backend), DNAT)
    tool = f"iptables-{BACKENDS[backend]}"
    one_finding(snap, "dnat", "web/0.0.0.0:8080/tcp", f"{tool} -t nat {DNAT}")
    assert set(findings(snap)) == {"dnat"}
    snap = without(lab(ruleset, backend), DNAT_V6_NET)
    assert [f.subject for f in findings(snap)["dnat"]] == ["nxt-rec-multi/127.0.0.1:28080/tcp"]


def test_missing_ipv6_dnat() -> None:
    snap = without(with_ipv6_port(lab()), DNAT6, "ipv6")
    (f,) = findings(snap)["dnat"]
    assert f.subject == "nxt-rec-multi/:::28080/tcp"
    assert "--dport 28080 -j DNAT --to-destination [fd00:6e78:ec::2]:80" in f.fix


def test_stale_docker_28_rules_in_the_other_backend() -> None:
    """Docker 28 rules in both backends: the set that names fewer of today's
    bridges (here the 28.0.1 set in iptables-legacy, from before nxt-rec-v6
    existed) is the stale one, and its DROP policy still drops."""
    snap = lab("docker28", NFT)
    old, old_chains = parsed("docker28.0", LEGACY)
    stale = [r for r in old if V6 not in r.text and "192.168.32." not in r.text]
    snap.rules += stale
    snap.chains += old_chains
    snap.firewall_backends = [NFT, LEGACY]
    assert live_backends(snap) == [NFT]
    got = findings(snap)
    (both,) = got["both-backends"]
    assert "iptables-legacy holds stale ones" in both.title
    assert {k for k in both.evidence} == {r.key for r in stale if "DOCKER" in r.text}
    (drop,) = got["forward-drop"]
    assert drop.subject == f"{LEGACY}/ipv4/{V6}"
    assert drop.fix == "iptables-legacy -P FORWARD ACCEPT"
    assert set(got) == {"both-backends", "forward-drop"}
