"""A live poll that moved only counters takes the previous analysis over, and the
result is what analysing the read from scratch gives.

The reads come from the real LiveFeed over collectors handing out the parts of a
synthetic host (as ``benchmarks.refresh_bench`` does): every poll re-reads the
firewall (new Rule objects, some counters moved), conntrack and the sysctls, and
shares the Docker and netlink parts with the read before.
"""

from __future__ import annotations

from dataclasses import replace

from benchmarks.refresh_bench import collectors
from benchmarks.synth import synthetic_snapshot
from netexplorer.analysis import Analyser, Analysis, analyse
from netexplorer.live.feed import POLLED, LiveFeed
from netexplorer.model import NatFlow, Snapshot


def same_analysis(a: Analysis, b: Analysis) -> None:
    """Everything the UI reads of an analysis, compared."""
    ca, cb = a.correlation, b.correlation
    assert dict(ca.rule_containers) == dict(cb.rule_containers)
    assert dict(ca.rule_bridges) == dict(cb.rule_bridges)
    assert dict(ca.wirings) == dict(cb.wirings)
    assert dict(ca.container_flows) == dict(cb.container_flows)
    assert ca.warnings == cb.warnings
    assert dict(ca.bridge_network) == dict(cb.bridge_network)
    assert [(f.id, f.title, f.evidence) for f in a.findings] == [
        (f.id, f.title, f.evidence) for f in b.findings
    ]
    assert dict(a.items) == dict(b.items)
    keys = set(a.items) | {f.key for f in a.findings}
    for key in keys:
        assert a.links.related(key) == b.links.related(key), key
        assert a.links.labels.get(key) == b.links.labels.get(key), key


SYNTH = {"containers": 40, "interfaces": 80, "rules": 300}


def feed_of(snap: Snapshot) -> LiveFeed:
    return LiveFeed(collectors=collectors(snap), watch=False)


def analysed_then_polled() -> tuple[Analyser, Analysis, Snapshot]:
    """An Analyser that analysed a first full read, that analysis, and the next poll."""
    feed = feed_of(synthetic_snapshot(**SYNTH))
    analyser = Analyser()
    first = analyser(feed.collect())
    return analyser, first, feed.collect(POLLED)


def test_a_poll_that_moved_counters_takes_the_analysis_over() -> None:
    feed = feed_of(synthetic_snapshot(**SYNTH))
    analyser = Analyser()
    first = analyser(feed.collect())
    for _ in range(2):
        read = feed.collect(POLLED)
        result = analyser(read)
        assert result.read is read
        assert result.correlation.links is first.correlation.links
        assert result.links is first.links
        assert result.findings is first.findings
        assert any(r.delta_packets for r in read.rules)
        # the rows show the new rules' counters: the index holds the new objects
        assert all(result.items[r.key][0] is r for r in read.rules[:1])
        same_analysis(result, analyse(read))


def test_a_rule_that_changed_makes_it_all_again() -> None:
    analyser, first, polled = analysed_then_polled()
    masq = next(n for n, r in enumerate(polled.rules) if r.target == "MASQUERADE")
    rules = list(polled.rules)
    rules[masq] = replace(rules[masq], out_interface=None, text=rules[masq].text + " ")
    read = replace(polled, rules=rules)
    result = analyser(read)
    assert result.correlation is not first.correlation
    same_analysis(result, analyse(read))


def test_a_docker_part_read_again_makes_it_all_again() -> None:
    analyser, first, polled = analysed_then_polled()
    gone = polled.containers[1:]
    read = replace(polled, containers=gone)
    result = analyser(read)
    assert result.correlation is not first.correlation
    assert polled.containers[0].key not in result.items
    same_analysis(result, analyse(read))


def test_new_nat_flows_are_handed_out_again() -> None:
    analyser, first, polled = analysed_then_polled()
    ct = next(c for c in polled.containers if c.state == "running" and c.endpoints)
    address = ct.endpoints[0].ipv4
    assert address
    flow = NatFlow("tcp", "snat", address, "203.0.113.1", "203.0.113.1", "192.0.2.10")
    read = replace(polled, conntrack=[*polled.conntrack, flow])
    result = analyser(read)
    assert result.correlation.links is first.correlation.links
    assert flow in result.correlation.flows(ct)
    same_analysis(result, analyse(read))


def test_the_rules_rows_of_a_poll_are_those_made_from_scratch() -> None:
    from netexplorer.ui.pane_rows import same_cells
    from netexplorer.ui.panes.rules import RulesPane

    analyser, first, polled = analysed_then_polled()
    kept = RulesPane()
    before = dict(kept.prepare(first).full)
    result = analyser(polled)
    after = kept.prepare(result).full
    fresh = RulesPane().prepare(result).full
    assert list(after) == list(fresh)
    assert all(same_cells(after[k], fresh[k]) for k in fresh)
    moved = [r.key for r in polled.rules if r.table == "nat" and r.delta_packets]
    assert moved
    for key in moved:
        # the counters' cells are new, the rule's text and chain the cells made before
        assert after[key] is not before[key]
        assert after[key][0] is before[key][0] and after[key][1] is before[key][1]
        assert after[key][3].plain != before[key][3].plain
    still = next(k for k in after if k not in moved)
    assert after[still] is before[still]
