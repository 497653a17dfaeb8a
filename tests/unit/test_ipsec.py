"""IPsec of encrypted overlays (netexplorer.ipsec): ``ip xfrm`` parsed without key
bytes, and the VNI read out of Docker's ``u32`` rules.

``probe.policy.txt`` is real ``ip xfrm policy`` output (tests/recorded/ipsec/
record.py: a policy of Docker's shape in a throwaway namespace). No ESP state can be
recorded on this kernel (no esp4: ``probe.state-error.txt``), so the state parser
is checked on text in the layout ``ip xfrm state`` prints (iproute2's xfrm_state
print: a ``src .. dst ..`` line, then indented ``proto``, ``aead``/``enc``/``auth``,
``mark`` lines), with a test pattern for key bytes that must not survive parsing.

``node1.snapshot.json`` and ``truth.json`` are node 1 of the lab's two-node swarm
with the encrypted overlay nxsecure (record.py): ``docker network inspect``, the
host's ``iptables-save`` lines with a u32 match, ``ip xfrm`` (no state: no esp4 on
this kernel) and the failed ping se1 -> se2, against which the read, the
correlation's links, the doctor and the path are checked.
"""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as hs

from netexplorer.analysis import analyse
from netexplorer.collect.xfrm_source import wants_xfrm
from netexplorer.correlate import Correlation, correlate
from netexplorer.doctor import diagnose
from netexplorer.ipsec import DOCKER_ESP_MARK, parse_xfrm_policies, parse_xfrm_states, rule_vni
from netexplorer.model import Rule, Snapshot, XfrmState, as_plain
from netexplorer.path import trace_path
from netexplorer.snapshot_io import load_snapshot, snapshot_from_dict, snapshot_to_dict
from netexplorer.ui.panes.details import describe

HERE = Path(__file__).resolve().parents[1] / "recorded" / "ipsec"

KEY = "0x" + "5a" * 20
STATE_TEXT = f"""src 198.51.100.17 dst 198.51.100.18
\tproto esp spi 0x1c2d3e4f reqid 13681891 mode transport
\treplay-window 0
\tmark 0xd0c4e3/0xffffffff
\taead rfc4106(gcm(aes)) {KEY} 64
\tanti-replay context: seq 0x0, oseq 0x0, bitmap 0x00000000
\tsel src 0.0.0.0/0 dst 0.0.0.0/0
src 198.51.100.18 dst 198.51.100.17
\tproto esp spi 0x00000101 reqid 13681891 mode transport
\treplay-window 0
\tauth-trunc hmac(sha256) {KEY} 128
\tenc cbc(aes) {KEY}
"""


def test_the_recorded_policy_is_dockers_mark_through_esp_to_the_peer() -> None:
    (policy,) = parse_xfrm_policies((HERE / "probe.policy.txt").read_text())
    assert (policy.src, policy.dst, policy.dir) == ("0.0.0.0/0", "198.51.100.18/32", "out")
    assert (policy.selector_proto, policy.selector_dport) == ("udp", 4789)
    assert (policy.mark, policy.mark_mask) == (DOCKER_ESP_MARK, 0xFFFFFFFF)
    assert (policy.tmpl_src, policy.tmpl_dst) == ("198.51.100.17", "198.51.100.18")
    assert (policy.tmpl_proto, policy.tmpl_spi, policy.tmpl_mode) == ("esp", 0x1000, "transport")


def test_this_kernel_refused_the_esp_state() -> None:
    assert "algorithm not found" in (HERE / "probe.state-error.txt").read_text()


def test_states_keep_names_spi_mark_and_never_the_key() -> None:
    a, b = parse_xfrm_states(STATE_TEXT)
    assert (a.src, a.dst, a.proto, a.spi, a.reqid, a.mode) == (
        "198.51.100.17", "198.51.100.18", "esp", 0x1C2D3E4F, 13681891, "transport",
    )  # fmt: skip
    assert a.algorithms == ["aead rfc4106(gcm(aes))"]
    assert (a.mark, a.mark_mask) == (DOCKER_ESP_MARK, 0xFFFFFFFF)
    assert b.algorithms == ["auth-trunc hmac(sha256)", "enc cbc(aes)"] and b.mark is None
    assert "5a5a" not in repr(as_plain([a, b]))


@settings(max_examples=300, deadline=None)
@given(hs.text())
def test_parsers_never_raise_on_any_text(text: str) -> None:
    parse_xfrm_states(text)
    parse_xfrm_policies(text)


@settings(max_examples=300, deadline=None)
@given(hs.lists(hs.sampled_from([*STATE_TEXT.splitlines(), "mark", "proto", "src", " x"])))
def test_parsers_never_raise_on_shuffled_lines(lines: list[str]) -> None:
    text = "\n".join(lines)
    parse_xfrm_states(text)
    parse_xfrm_policies(text)
    assert "5a5a" not in repr(as_plain(parse_xfrm_states(text)))


def rule(text: str) -> Rule:
    return Rule("iptables-nft", "ipv4", "mangle", "OUTPUT", 1, text)


def test_rule_vni_reads_dockers_u32_match_as_saved_and_as_written() -> None:
    saved = (
        '-A OUTPUT -p udp -m udp --dport 4789 -m u32 --u32 "0x0>>0x16&0x3c@0xc&0xffffff00'
        '=0x100100" -j MARK --set-xmark 0xd0c4e3/0xffffffff'
    )
    written = "-A OUTPUT -p udp --dport 4789 -m u32 --u32 0>>22&0x3C@12&0xFFFFFF00=1048832 -j MARK"
    assert rule_vni(rule(saved)) == 0x1001 == rule_vni(rule(written))
    assert rule_vni(rule("-A OUTPUT -p udp --dport 4789 -j ACCEPT")) is None


def test_older_reads_load_without_ipsec_and_a_read_with_it_round_trips() -> None:
    old = load_snapshot(HERE.parent / "swarm" / "node1.snapshot.json")
    assert (old.xfrm_read, old.xfrm_states, old.xfrm_policies) == (False, [], [])
    old.xfrm_states = parse_xfrm_states(STATE_TEXT)
    old.xfrm_policies = parse_xfrm_policies((HERE / "probe.policy.txt").read_text())
    old.xfrm_read = True
    back = snapshot_from_dict(snapshot_to_dict(old))
    assert (back.xfrm_read, back.xfrm_states, back.xfrm_policies) == (
        True, old.xfrm_states, old.xfrm_policies,
    )  # fmt: skip


# ------------------------------------------- the lab's swarm with nxsecure (record.py)
TRUTH = json.loads((HERE / "truth.json").read_text())
PEER = "198.51.100.18"


def recorded() -> tuple[Snapshot, Correlation]:
    snap = load_snapshot(HERE / "node1.snapshot.json")
    return snap, correlate(snap)


def test_the_recorded_networks_are_encrypted_as_docker_inspect_says() -> None:
    snap, _ = recorded()
    for name, doc in TRUTH["inspect"].items():
        net = next(n for n in snap.networks if n.name == name)
        assert net.encrypted is ("encrypted" in (doc["Options"] or {}))
        assert str(net.vni) == doc["Options"]["com.docker.network.driver.overlay.vxlanid_list"]
    assert [n.name for n in snap.networks if n.encrypted] == ["nxsecure"]


def test_dockers_vni_rules_as_iptables_save_printed_them_are_linked_to_the_network() -> None:
    snap, corr = recorded()
    saved = TRUTH["u32_rules"]["mangle"] + TRUTH["u32_rules"]["filter"]
    assert len(saved) == 3  # MARK in mangle OUTPUT; DROP plaintext, ACCEPT ipsec in INPUT
    secure = next(n for n in snap.networks if n.name == "nxsecure")
    plain = next(n for n in snap.networks if n.name == "nxoverlay")
    related = corr.links.related(secure.key)
    assert {r.text for r in snap.rules if r.key in related and r.netns is None} >= set(saved)
    assert all(rule_vni(r) == secure.vni for r in snap.rules if r.text in saved)
    assert not [r for r in snap.rules if r.key in corr.links.related(plain.key) and "u32" in r.text]


def test_the_recorded_ipsec_read_is_what_ip_xfrm_showed() -> None:
    snap, _ = recorded()
    assert snap.xfrm_read and TRUTH["xfrm_states"] == [] == snap.xfrm_states
    assert snap.xfrm_policies == parse_xfrm_policies(TRUTH["xfrm_policy"])
    (policy,) = snap.xfrm_policies
    assert (policy.mark, policy.tmpl_dst, policy.tmpl_proto) == (DOCKER_ESP_MARK, PEER, "esp")


def test_doctor_no_sa_with_the_peer_is_the_dropped_traffic_the_lab_saw() -> None:
    snap, corr = recorded()
    assert TRUTH["ping_se1_se2"] is False  # se1 could not reach se2 across nxsecure
    found = diagnose(snap, corr, checks=("overlay-ipsec", "overlay-ports"))
    assert [f.id for f in found] == [f"overlay-ipsec:nxsecure:{PEER}"]
    (f,) = found
    drop = next(s for s in TRUTH["u32_rules"]["filter"] if s.endswith("-j DROP"))
    assert f"dropped by Docker's INPUT rule for plaintext VXLAN (VNI 4098): {drop}" in f.detail
    assert "esp4" in f.fix and "ip xfrm state" in f.fix
    assert {r.key for r in snap.rules if r.text == drop} <= set(f.evidence)


def test_doctor_is_silent_with_an_esp_state_each_way_and_speaks_when_one_is_missing() -> None:
    snap, corr = recorded()
    local = "198.51.100.17"
    snap.xfrm_states = [
        XfrmState(local, PEER, "esp", 0x1000, 1, "transport", ["aead rfc4106(gcm(aes))"]),
        XfrmState(PEER, local, "esp", 0x1001, 1, "transport", ["aead rfc4106(gcm(aes))"]),
    ]
    assert diagnose(snap, corr, checks=("overlay-ipsec",)) == []
    snap.xfrm_states.pop()
    (f,) = diagnose(snap, corr, checks=("overlay-ipsec",))
    assert "no IPsec SA from it with" in f.title


def test_doctor_esp_dropped_on_input_while_an_encrypted_overlay_has_peers() -> None:
    snap, _ = recorded()
    drop = Rule("iptables-nft", "ipv4", "filter", "INPUT", 1, "-A INPUT -p esp -j DROP",
                target="DROP", protocol="esp")  # fmt: skip
    drop.id = "esp-drop"
    snap.rules.insert(0, drop)
    found = diagnose(snap, correlate(snap), checks=("overlay-ipsec",))
    assert "overlay-ipsec:iptables-nft:esp" in [f.id for f in found]


def test_no_ipsec_read_and_no_finding_without_an_encrypted_overlay() -> None:
    snap = load_snapshot(HERE.parent / "swarm" / "node1.snapshot.json")
    assert not wants_xfrm(snap) and not snap.xfrm_read
    assert diagnose(snap, correlate(snap), checks=("overlay-ipsec",)) == []
    recorded_snap, _ = recorded()
    assert wants_xfrm(recorded_snap)


# ---------------------------------------------------------------- the path (recorded)
def plaintext_drop() -> str:
    line: str = next(s for s in TRUTH["u32_rules"]["filter"] if s.endswith("-j DROP"))
    return line


def test_path_on_the_encrypted_overlay_names_the_missing_esp_and_the_plaintext_drop() -> None:
    snap, corr = recorded()
    res = trace_path(snap, corr, "se1", "10.201.0.12")
    tunnel = next(h.title for h in res.hops if h.kind == "tunnel")
    assert f"no ESP state to {PEER}: it leaves in plaintext" in tunnel
    # one host's read: the reply arriving from node 2 meets the plaintext drop here
    assert res.reply_verdict == "dropped"
    assert plaintext_drop() in res.sentence
    assert f"no ESP state from {PEER}" in res.sentence


def test_the_plain_overlay_is_not_caught_by_the_encrypted_vnis_rules() -> None:
    snap, corr = recorded()
    res = trace_path(snap, corr, "sw1", "10.200.0.12")
    assert res.reply_verdict == "delivered", res.sentence


def test_with_an_esp_state_each_way_the_reply_is_accepted_through_ipsec() -> None:
    snap, corr = recorded()
    local = "198.51.100.17"
    snap.xfrm_states = [
        XfrmState(local, PEER, "esp", 0x1000, 1, "transport"),
        XfrmState(PEER, local, "esp", 0x1001, 1, "transport"),
    ]
    res = trace_path(snap, corr, "se1", "10.201.0.12")
    tunnel = next(h.title for h in res.hops if h.kind == "tunnel")
    assert f"sent in ESP (IPsec) to {PEER}" in tunnel
    assert res.reply_verdict == "delivered", res.sentence


def test_a_read_without_the_ipsec_states_leaves_the_policy_match_undecided() -> None:
    snap, corr = recorded()
    snap.xfrm_read = False
    res = trace_path(snap, corr, "se1", "10.201.0.12")
    assert res.reply_verdict == "uncertain" and "-m policy --dir in --pol none" in res.sentence


def test_the_networks_details_name_the_missing_esp_state_per_node() -> None:
    snap, _ = recorded()
    secure = next(n for n in snap.networks if n.name == "nxsecure")
    peer = next(p for p in secure.peers if p.ip == PEER)
    text = describe(secure.key, analyse(snap)).plain
    assert f"IPsec with {peer.name} {PEER}: no ESP state: its traffic is dropped" in text
    snap.xfrm_states = [XfrmState("198.51.100.17", PEER, "esp", 0x1000, 1, "transport")]
    text = describe(secure.key, analyse(snap)).plain
    assert f"IPsec with {peer.name} {PEER}: out SPI 0x1000" in text
