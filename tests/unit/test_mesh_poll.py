"""The firewall poll reads the routing mesh's tables again, and only where there is one.

The host is the swarm recorded in the kernel VM (tests/recorded/ingress): a real
LiveFeed reads it through collectors that hand out the recording's parts, and its
reader of the mesh's namespaces lists, for each namespace it is asked for, the
save texts and ``/proc/net/ip_vs`` recorded there by the system's own tools
(truth/before, truth/after; truth/scaled0 once the service was scaled to 0: no
MARK rule, no IPVS service left in ingress_sbox). "Moved" is truth/after with
counters added to the published port's MARK rule, a task's REDIRECT rule and a
real server's inactive connections, as traffic through the mesh adds them (the
kernel VM's tests/integration/test_ingress_mesh.py sees the real ones move).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from test_analysis_reuse import same_analysis

from netexplorer.analysis import Analyser, analyse
from netexplorer.collect.conntrack_source import ConntrackData
from netexplorer.collect.docker_source import DockerData
from netexplorer.collect.firewall import FirewallData
from netexplorer.collect.firewall.netns_tables import NetnsTables, parse_listings
from netexplorer.collect.netlink_source import NetlinkData
from netexplorer.collect.snapshot import Collectors
from netexplorer.collect.sysctl_source import SysctlData
from netexplorer.ingress import mark_of, redirect_ports
from netexplorer.ipvs import parse_ip_vs
from netexplorer.live.feed import POLLED, LiveFeed
from netexplorer.model import LEGACY, NFT, DockerNamespace, Rule, Snapshot
from netexplorer.snapshot_io import load_snapshot

HERE = Path(__file__).resolve().parents[1] / "recorded" / "ingress"
TRUTH = HERE / "truth"
SAVES = {
    (NFT, "ipv4"): "iptables-nft-save",
    (NFT, "ipv6"): "ip6tables-nft-save",
    (LEGACY, "ipv4"): "iptables-legacy-save",
    (LEGACY, "ipv6"): "ip6tables-legacy-save",
}
#: the recorded texts the reader hands out: stage -> file name -> text
Stage = Mapping[str, str]


def stage(name: str) -> dict[str, str]:
    return {p.name: p.read_text() for p in (TRUTH / name).iterdir()}


def moved() -> dict[str, str]:
    """truth/after with the counters one more HTTP GET through the mesh adds."""
    texts = stage("after")
    sbox = "ns.ingress_sbox.iptables-nft-save.txt"
    texts[sbox] = texts[sbox].replace(
        "[13:728] -A PREROUTING -p tcp -m tcp --dport 8081 -j MARK",
        "[19:1064] -A PREROUTING -p tcp -m tcp --dport 8081 -j MARK",
    )
    task = next(n for n in texts if n.startswith("ct.nxweb.1.") and "iptables-nft" in n)
    texts[task] = texts[task].replace("[1:60] -A PREROUTING", "[2:120] -A PREROUTING")
    ipvs = "ns.ingress_sbox.ip_vs.txt"
    texts[ipvs] = re.sub(r"(Masq\s+1\s+0\s+)1", r"\g<1>2", texts[ipvs], count=1)
    assert texts != stage("after")
    return texts


class RecordedMesh:
    """The recording's parts for a LiveFeed; the mesh's namespaces listed from
    ``self.texts`` (a stage), each reader call noted in ``asked``."""

    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap
        self.texts: Stage = stage("before")
        self.asked: list[list[tuple[str, str]]] = []
        self.gone: set[str] = set()

    def _prefix(self, netns: str) -> str:
        if not netns.startswith("ct:"):
            return f"ns.{netns}"
        ct = next(c for c in self.snap.containers if c.id == netns[3:])
        return f"ct.{ct.name}"

    def read(self, targets: list[tuple[str, str]]) -> Mapping[str, NetnsTables]:
        self.asked.append(targets)
        out: dict[str, NetnsTables] = {}
        for name, _path in targets:
            if name in self.gone:
                out[name] = NetnsTables(name, error=f"namespace {name} vanished")
                continue
            prefix = self._prefix(name)
            listings = [
                (backend, family, text)
                for (backend, family), tool in SAVES.items()
                if (text := self.texts.get(f"{prefix}.{tool}.txt", ""))
            ]
            out[name] = tables = parse_listings(name, listings)
            tables.ipvs = self.texts.get(f"{prefix}.ip_vs.txt")
        return out

    def collectors(self) -> Collectors:
        snap = self.snap
        insides = {ct.id: ct.inside for ct in snap.containers if ct.inside is not None}
        netnsids = {ct.pid: ct.netnsid for ct in snap.containers if ct.pid}

        def docker() -> DockerData:
            # Docker's answer: the containers without what is read in their namespaces
            cts = [replace(ct, inside=None, netnsid=None) for ct in copy.deepcopy(snap.containers)]
            spaces = [replace(ns, rules=[], chains=[]) for ns in copy.deepcopy(snap.namespaces)]
            return DockerData(copy.deepcopy(snap.networks), cts, [], snap.swarm, spaces)

        def views(pids: Mapping[str, int], names: Mapping[str, str]) -> tuple[dict, list[str]]:
            return {cid: replace(insides[cid], rules=[], chains=[]) for cid in pids}, []

        return Collectors(
            docker=docker,
            netlink=lambda: NetlinkData(copy.deepcopy(snap.interfaces), []),
            firewall=lambda: FirewallData(
                copy.deepcopy(snap.rules), copy.deepcopy(snap.chains), snap.firewall_backends
            ),
            netnsids=lambda pids: {p: netnsids.get(p) for p in pids},
            conntrack=lambda: ConntrackData(list(snap.conntrack)),
            sysctl=lambda: SysctlData(dict(snap.sysctls)),
            routing=lambda interfaces: None,
            netns_views=views,
            netns_tables=self.read,
        )


def recorded_feed() -> tuple[RecordedMesh, LiveFeed]:
    host = RecordedMesh(load_snapshot(HERE / "snapshot.json"))
    return host, LiveFeed(collectors=host.collectors(), watch=False)


def sbox(read: Snapshot) -> DockerNamespace:
    return next(ns for ns in read.namespaces if ns.name == "ingress_sbox")


def mark_rule(read: Snapshot) -> Rule:
    return next(r for r in sbox(read).rules if mark_of(r) is not None and r.dport == "8081")


def redirects(read: Snapshot) -> dict[str, Rule]:
    return {
        ct.name: r
        for ct in read.containers
        if ct.inside is not None
        for r in ct.inside.rules
        if redirect_ports(r) is not None
    }


def test_a_poll_reads_the_mesh_again_and_moved_counters_are_counters_only() -> None:
    host, feed = recorded_feed()
    analyser = Analyser()
    first = feed.collect()
    done = analyser(first)
    sbox_path = next(ns.path for ns in first.namespaces if ns.name == "ingress_sbox")
    tasks = sorted(ct.id for ct in first.containers if ct.name.startswith("nxweb."))
    assert len(host.asked) == 1
    assert mark_rule(first).packets == 13

    host.texts = moved()
    read = feed.collect(POLLED)
    # the firewall poll asked for the same namespaces as the Docker read, and only them
    assert len(host.asked) == 2
    assert sorted(host.asked[1]) == sorted(
        [
            ("ingress_sbox", sbox_path),
            *(
                (f"ct:{cid}", f"/proc/{pid}/ns/net")
                for cid, pid in ((ct.id, ct.pid) for ct in first.containers if ct.id in tasks)
            ),
        ]
    )
    assert (mark_rule(read).packets, mark_rule(read).bytes) == (19, 1064)
    assert [r.packets for _, r in sorted(redirects(read).items())] == [2, 1]
    # what each counted since the read before (the rules pane's Δpkts)
    assert (mark_rule(read).delta_packets, mark_rule(read).delta_bytes) == (6, 336)
    assert [r.delta_packets for _, r in sorted(redirects(read).items())] == [1, 0]
    dests = parse_ip_vs(sbox(read).ipvs or "")[0].dests
    assert [d.inactive for d in dests] == [2, 1]
    # the read before is not written into
    assert (mark_rule(first).packets, mark_rule(first).delta_packets) == (13, None)
    assert [r.packets for _, r in sorted(redirects(first).items())] == [1, 1]
    # Docker's other lists are the ones before, the host's rules read again
    assert read.networks is first.networks and read.interfaces is first.interfaces

    result = analyser(read)
    # only counters moved: nothing is correlated or diagnosed again ...
    assert result.findings is done.findings
    assert result.correlation.overlay is done.correlation.overlay
    assert result.correlation.wirings is done.correlation.wirings
    # ... but the mesh's rows, notes and items show the new counts
    mesh_mark = next(
        m.rule for m in result.correlation.mesh.rules if m.rule.key == mark_rule(read).key
    )
    assert mesh_mark is mark_rule(read)
    assert result.items[mark_rule(read).key][0] is mark_rule(read)
    fresh = analyse(read)
    same_analysis(result, fresh)
    assert result.correlation.mesh == fresh.correlation.mesh
    for svc in fresh.correlation.mesh.services:
        for key in (svc.key, *(d.key for d in svc.dests)):
            assert result.links.notes.get(key) == fresh.links.notes.get(key), key
    assert any("inactive 2" in line for line in result.links.notes[svc.dests[0].key])
    assert dict(result.correlation.containers_by_id) == dict(fresh.correlation.containers_by_id)


def test_a_mesh_rule_gone_is_a_change_the_doctor_sees() -> None:
    host, feed = recorded_feed()
    analyser = Analyser()
    done = analyser(feed.collect())
    assert not [f for f in done.findings if f.id.startswith("mesh-port")]

    # ingress_sbox as recorded once the service was scaled to 0: its MARK rules and
    # IPVS service are gone; Docker's read (no event yet) still has the tasks
    host.texts = {
        **stage("after"),
        **{k: v for k, v in stage("scaled0").items() if k.startswith("ns.")},
    }
    read = feed.collect(POLLED)
    assert not [r for r in sbox(read).rules if mark_of(r) is not None]
    assert parse_ip_vs(sbox(read).ipvs or "") == []
    result = analyser(read)
    assert result.correlation is not done.correlation
    found = [f for f in result.findings if f.id.startswith("mesh-port")]
    assert [f.title for f in found] == ["published swarm port 8081: no MARK rule in ingress_sbox"]
    assert not any(mark_of(m.rule) is not None for m in result.correlation.mesh.rules)
    same_analysis(result, analyse(read))


def test_a_mesh_namespace_gone_is_said_once_and_not_kept() -> None:
    host, feed = recorded_feed()
    analyser = Analyser()
    done = analyser(feed.collect())
    task = next(ct for ct in done.read.containers if ct.name.startswith("nxweb.1."))
    host.gone = {f"ct:{task.id}"}
    read = feed.collect(POLLED)
    said = [w for w in read.warnings if "netfilter tables of container nxweb.1." in w]
    assert len(said) == 1 and "vanished" in said[0]
    result = analyser(read)
    assert result.correlation is not done.correlation
    # the next poll reads it again: the warning goes with what it said
    host.gone = set()
    again = feed.collect(POLLED)
    assert not [w for w in again.warnings if "netfilter tables of" in w]
    assert redirects(again)[task.name].packets == 1


def test_a_poll_without_a_mesh_runs_no_netns_reader() -> None:
    from benchmarks.refresh_bench import collectors
    from benchmarks.synth import synthetic_snapshot

    asked: list[list[tuple[str, str]]] = []

    def reader(targets: list[tuple[str, str]]) -> Mapping[str, NetnsTables]:
        asked.append(targets)
        return {}

    base = collectors(synthetic_snapshot(containers=20, interfaces=40, rules=100))
    feed = LiveFeed(collectors=replace(base, netns_tables=reader), watch=False)
    first = feed.collect()
    read = feed.collect(POLLED)
    assert asked == []
    assert read.containers is first.containers and read.namespaces is first.namespaces


def test_a_docker_read_takes_ipvs_with_the_rules() -> None:
    """The Docker read's mesh namespaces hold the IPVS table read with their rules."""
    _host, feed = recorded_feed()
    read = feed.collect()
    assert sbox(read).ipvs == (TRUTH / "before" / "ns.ingress_sbox.ip_vs.txt").read_text()


def test_the_rules_pane_shows_the_mesh_counters_a_poll_read() -> None:
    from netexplorer.ui.pane_rows import same_cells
    from netexplorer.ui.panes.rules import RulesPane

    host, feed = recorded_feed()
    analyser = Analyser()
    kept, again = RulesPane(), RulesPane()
    kept.table_name = again.table_name = "mangle"
    before = dict(kept.prepare(analyser(feed.collect())).full)
    host.texts = moved()
    result = analyser(feed.collect(POLLED))
    after = kept.prepare(result).full
    fresh = again.prepare(result).full
    assert list(after) == list(fresh)
    assert all(same_cells(after[k], fresh[k]) for k in fresh)
    key = mark_rule(result.read).key
    # new counter cells beside the rule's text and chain cells made before
    assert after[key] is not before[key]
    assert after[key][0] is before[key][0] and after[key][1] is before[key][1]
    cells = [c.plain for c in after[key]]
    assert "+6" in cells and "19" in cells, cells
