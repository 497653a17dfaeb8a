"""Network modes and the doctor on snapshots recorded from the lab (tests/recorded/modes).

``healthy.snapshot.json`` holds every network mode; ``broken.snapshot.json`` the same
host with a published port's DNAT deleted, the macvlan parent down and
ip_forward read as 0. Other faults are made by editing the loaded healthy snapshot
the way the host would show them (tests/integration/test_doctor_live.py makes each
of them for real). Re-record with tests/recorded/modes/record.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from netexplorer.cli import EXIT_FILE, EXIT_OK, EXIT_PROBLEMS, main
from netexplorer.correlate import Correlation, correlate
from netexplorer.doctor import diagnose, link_findings
from netexplorer.doctor.checks import CHECKS
from netexplorer.doctor.report import findings_to_dict, findings_to_text, healthy_text
from netexplorer.doctor.tables import live_backends
from netexplorer.model import Chain, Container, Rule, Snapshot
from netexplorer.snapshot_io import SnapshotFileError, load_snapshot

MODES = Path(__file__).resolve().parents[1] / "recorded" / "modes"
HEALTHY = MODES / "healthy.snapshot.json"
BROKEN = MODES / "broken.snapshot.json"
TAG = "nxt-rec"


def load(path: Path = HEALTHY) -> tuple[Snapshot, Correlation]:
    snap = load_snapshot(path)
    return snap, correlate(snap)


def ct(snap: Snapshot, name: str) -> Container:
    return next(c for c in snap.containers if c.name == name)


def checks_found(snap: Snapshot) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in diagnose(snap):
        out.setdefault(f.check, []).append(f.subject)
    return out


def active_rules(snap: Snapshot) -> list[Rule]:
    (backend,) = snap.firewall_backends
    return [r for r in snap.rules if r.backend == backend and r.family == "ipv4"]


# ------------------------------------------------------------------ network modes
def test_container_sharing_a_netns_links_to_its_owner_and_its_endpoints() -> None:
    snap, corr = load()
    links = corr.links
    owner, shared = ct(snap, f"{TAG}-multi"), ct(snap, f"{TAG}-shared")
    assert shared.netns_owner == owner.id and not shared.endpoints
    assert corr.netns_owner(shared) is owner
    related = links.related(shared.key)
    assert owner.key in related
    for ep in owner.endpoints:
        w = corr.wiring(ep)
        assert {ep.key, f"if:{w.host_ifindex}", f"br:{w.bridge}"} <= related
    assert shared.key in links.related(owner.key)


def test_schema_1_snapshots_without_netns_owner_get_it_from_network_mode(
    tmp_path: Path,
) -> None:
    doc = json.loads(HEALTHY.read_text())
    doc["schema"] = 1
    for c in doc["containers"]:
        c.pop("netns_owner", None)
    old = tmp_path / "old.json"
    old.write_text(json.dumps(doc))
    snap = load_snapshot(old)
    assert ct(snap, f"{TAG}-shared").netns_owner == ct(snap, f"{TAG}-multi").id


def test_a_snapshot_of_an_unknown_schema_is_refused_naming_file_and_schema(
    tmp_path: Path,
) -> None:
    doc = json.loads(HEALTHY.read_text())
    doc["schema"] = 99
    new = tmp_path / "new.json"
    new.write_text(json.dumps(doc))
    with pytest.raises(SnapshotFileError) as err:
        load_snapshot(new)
    assert str(new) in str(err.value) and "schema 99" in str(err.value)


def test_macvlan_endpoint_links_to_its_parent_not_to_a_veth() -> None:
    snap, corr = load()
    links = corr.links
    (ep,) = ct(snap, f"{TAG}-mv1").endpoints
    parent = next(i for i in snap.interfaces if i.name == f"{TAG}-p0")
    w = corr.wiring(ep)
    assert (w.parent, w.parent_ifindex, w.host_veth, w.bridge) == (
        parent.name,
        parent.ifindex,
        None,
        None,
    )
    assert parent.key in links.related(ep.key)
    net = next(n for n in snap.networks if n.name == f"{TAG}-mv")
    assert parent.key in links.related(net.key)


def test_host_none_and_internal_and_icc_false() -> None:
    snap, corr = load()
    links = corr.links
    for name in (f"{TAG}-host", f"{TAG}-none"):
        (ep,) = ct(snap, name).endpoints
        assert ep.ipv4 is None and corr.wiring(ep).host_veth is None
    assert not [w for w in [*snap.warnings, *corr.warnings] if TAG in w]
    icc = next(n for n in snap.networks if n.name == f"{TAG}-icc")
    assert icc.icc is False and icc.bridge == f"{TAG}-ic"
    drop = next(
        r for r in active_rules(snap) if r.text == f"-A FORWARD -i {TAG}-ic -o {TAG}-ic -j DROP"
    )
    assert list(corr.rule_containers[drop.id]) == [f"{TAG}-multi"]
    internal = next(n for n in snap.networks if n.name == f"{TAG}-int")
    assert internal.internal
    isolation = [
        r for r in active_rules(snap) if r.out_interface == internal.bridge and r.target == "DROP"
    ]
    assert any(r.source_negated and r.chain == "DOCKER-ISOLATION-STAGE-1" for r in isolation)
    for r in isolation:
        assert f"br:{internal.bridge}" in links.related(r.key)


def test_ipv6_endpoint_is_indexed_for_ipv6_rules() -> None:
    snap = load_snapshot(HEALTHY)
    ep = next(e for e in ct(snap, f"{TAG}-multi").endpoints if e.network == f"{TAG}-v6")
    assert ep.ipv6 and ep.ipv6.startswith("fd00:6e78:ec::")
    rule = Rule(
        backend="iptables-nft",
        family="ipv6",
        table="filter",
        chain="NXT6",
        position=1,
        text=f"-A NXT6 -d {ep.ipv6}/128 -j ACCEPT",
        target="ACCEPT",
        destination=f"{ep.ipv6}/128",
        id="nxt6",
    )
    snap.rules.append(rule)
    corr = correlate(snap)
    assert ep.key in corr.links.related(rule.key) and "nxt6" in corr.wiring(ep).rules


# ------------------------------------------------------------------ doctor on recordings
def test_healthy_recording_has_no_findings() -> None:
    snap, _ = load()
    assert diagnose(snap) == []


def test_broken_recording_explains_each_fault_with_evidence() -> None:
    snap, corr = load(BROKEN)
    found = {f.check: f for f in diagnose(snap, corr)}
    assert set(found) == {"ip-forward", "parent", "dnat"}
    assert "br:docker0" in found["ip-forward"].evidence
    assert ct(snap, f"{TAG}-multi").key in found["ip-forward"].evidence
    parent = next(i for i in snap.interfaces if i.name == f"{TAG}-p0")
    assert parent.key in found["parent"].evidence
    assert found["parent"].fix == f"ip link set {TAG}-p0 up"
    dnat = found["dnat"]
    assert dnat.subject == f"{TAG}-multi/127.0.0.1:28080/tcp"
    assert "--dport 28080 -j DNAT --to-destination" in dnat.fix
    links = link_findings(corr.links, list(found.values()))
    assert links.related(dnat.key) == frozenset({dnat.key, *dnat.evidence})
    assert dnat.key not in corr.links.labels  # the correlation's own index is untouched


def test_forward_drop_without_accepts() -> None:
    snap, _ = load()
    backend = snap.firewall_backends[0]
    fwd = next(
        c
        for c in snap.chains
        if (c.backend, c.family, c.table, c.name) == (backend, "ipv4", "filter", "FORWARD")
    )
    fwd.policy = "DROP"
    assert "forward-drop" not in checks_found(snap)  # Docker's ACCEPTs are there
    snap.rules = [r for r in snap.rules if not (r.chain == "FORWARD" and "docker0" in r.text)]
    assert checks_found(snap)["forward-drop"] == [f"{backend}/ipv4/docker0"]


def test_masquerade_missing_unless_disabled() -> None:
    snap, _ = load()
    snap.rules = [r for r in snap.rules if "-s 172.30.0.0/24 ! -o" not in r.text]
    assert [s for s in checks_found(snap)["masquerade"] if "172.30.0.0/24" in s]
    nxlab = next(n for n in snap.networks if n.name == "nxlab")
    nxlab.options["com.docker.network.bridge.enable_ip_masquerade"] = "false"
    assert "masquerade" not in checks_found(snap)


def test_both_backends_names_the_stale_one() -> None:
    snap, _ = load()
    live = snap.firewall_backends[0]
    stale = "iptables-legacy" if live == "iptables-nft" else "iptables-nft"
    snap.chains.append(Chain(stale, "ipv4", "nat", "DOCKER", None))
    old = Rule(stale, "ipv4", "nat", "DOCKER", 1, "-A DOCKER -i docker0 -j RETURN", "RETURN")
    old.id, old.in_interface = "stale1", "docker0"
    snap.rules.append(old)
    snap.firewall_backends = [live, stale]
    assert live_backends(snap) == [live]
    (f,) = [f for f in diagnose(snap) if f.check == "both-backends"]
    assert f.evidence == ["rule:stale1"] and stale in f.title


def test_br_netfilter_matters_only_with_same_bridge_drops() -> None:
    snap, _ = load()
    del snap.sysctls["net.bridge.bridge-nf-call-iptables"]
    found = [f for f in diagnose(snap) if f.check == "br-netfilter"]
    assert [f.subject for f in found] == [f"ipv4/{TAG}-ic"]  # icc=false, its DROP rule
    assert "modprobe br_netfilter" in found[0].fix
    snap.sysctls["net.bridge.bridge-nf-call-iptables"] = "0"
    assert [f.subject for f in diagnose(snap) if f.check == "br-netfilter"] == [f"ipv4/{TAG}-ic"]
    snap.sysctls = {}  # not collected: nothing to say
    snap.sources = [s for s in snap.sources if s.name != "sysctl"]
    assert "br-netfilter" not in checks_found(snap)


def test_veth_down_port_not_forwarding_and_veth_missing() -> None:
    snap, corr = load()
    ep = ct(snap, "test1").endpoints[0]
    veth = next(i for i in snap.interfaces if i.ifindex == corr.wiring(ep).host_ifindex)
    veth.flags.remove("UP")
    assert checks_found(snap)["port-down"] == [veth.name]
    veth.flags.append("UP")
    port = next(p for b in snap.bridges for p in b.ports if p.ifindex == veth.ifindex)
    port.state = "blocking"
    assert checks_found(snap)["port-down"] == [veth.name]
    port.state = "forwarding"
    snap.interfaces.remove(veth)
    assert checks_found(snap)["veth-missing"] == [ep.key]


def test_netns_owner_stopped() -> None:
    snap, _ = load()
    ct(snap, f"{TAG}-multi").state = "exited"
    assert checks_found(snap)["netns-owner"] == [f"{TAG}-shared"]


def test_a_failing_check_becomes_a_finding_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    from netexplorer.doctor import checks

    def boom(snap: Snapshot, corr: Correlation) -> list[object]:
        raise KeyError("x")

    monkeypatch.setattr(checks, "CHECKS", (checks.Check("boom", "", boom),))  # type: ignore[arg-type]
    (f,) = diagnose(load()[0])
    assert f.check == "boom" and "could not run" in f.title


# ------------------------------------------------------------------ output and CLI
def test_text_output_escapes_hostile_names() -> None:
    snap, _ = load()
    snap.sysctls["net.ipv4.ip_forward"] = "0"
    ct(snap, "test1").name = "evil\x1b[2Jname"
    corr = correlate(snap)
    findings = diagnose(snap, corr)
    links = link_findings(corr.links, findings)
    text = findings_to_text(links, findings)
    assert "\x1b" not in text and "evil\\x1b[2Jname" in text
    doc = findings_to_dict(snap, links, findings)
    assert doc["healthy"] is False
    assert {"key", "kind", "label"} == set(doc["findings"][0]["evidence"][0])


def test_cli_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--snapshot", str(HEALTHY)]) == EXIT_OK
    assert capsys.readouterr().out == ""
    assert main(["doctor", "--snapshot", str(BROKEN), "--json"]) == EXIT_PROBLEMS
    doc = json.loads(capsys.readouterr().out)
    assert {f["check"] for f in doc["findings"]} == {"ip-forward", "parent", "dnat"}
    assert main(["--snapshot", str(BROKEN), "doctor"]) == EXIT_PROBLEMS
    assert main(["doctor", "--snapshot", str(MODES / "missing.json")]) == EXIT_FILE
    assert "cannot be read" in capsys.readouterr().err


def test_every_check_is_documented() -> None:
    names = [c.name for c in CHECKS]
    assert len(names) == len(set(names)) == 19
    assert all(c.summary for c in CHECKS)
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert [n for n in names if f"\n| {n} | " not in readme] == []


def test_doctor_package_does_not_import_textual() -> None:
    code = (
        "import sys, netexplorer.doctor.checks, netexplorer.doctor.report; "
        "print('textual' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_native_nftables_beside_iptables_is_not_both_backends() -> None:
    """Docker on its nftables backend with a leftover DOCKER-USER chain in iptables-nft
    lists two backends; only two *iptables* backends are a conflict."""
    snap, _ = load()
    assert diagnose(snap) == []
    snap.firewall_backends = [*snap.firewall_backends, "nftables"]
    assert not [f for f in diagnose(snap) if f.check == "both-backends"]
    assert live_backends(snap) == ["iptables-nft"]


def test_ipv6_binding_without_ipv6_address_needs_no_dnat() -> None:
    """Recorded with dockerd --ip6tables: web publishes 8080 on 0.0.0.0 and ::, but
    has no IPv6 address, so Docker writes no IPv6 DNAT (docker-proxy serves it)."""
    snap = load_snapshot(
        Path(__file__).resolve().parents[1] / "recorded/lab/nft-ip6tables.snapshot.json"
    )
    assert any(r.family == "ipv6" and r.table == "nat" for r in snap.rules)
    web = ct(snap, "web")
    assert {p.host_ip for p in web.published_ports} == {"0.0.0.0", "::"}
    assert diagnose(snap) == []


@pytest.mark.parametrize(
    ("stale", "left"),
    [
        ((), {"ip-forward", "parent", "dnat"}),
        (("firewall",), {"ip-forward", "parent"}),
        (("netlink",), {"ip-forward", "dnat"}),
        (("sysctl",), {"parent", "dnat"}),
        (("docker",), set()),
    ],
)
def test_checks_reading_a_stale_source_are_not_run(stale: tuple[str, ...], left: set[str]) -> None:
    """The live view keeps a failed source's last read: compared with fresh reads of
    the others it would show problems that are not there."""
    snap, _ = load(BROKEN)
    for src in snap.sources:
        if src.name in stale:
            src.ok, src.stale = False, True
    assert {f.check for f in diagnose(snap)} == left


def test_the_healthy_sentence_names_every_check() -> None:
    text = healthy_text()
    assert text.startswith("No problem found")
    assert all(c.name in text for c in CHECKS)
