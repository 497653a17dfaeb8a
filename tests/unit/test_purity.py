"""Correlation and the doctor are pure: the read they are given is unchanged after them.

Every recorded snapshot (the lab, the network modes, the kernel VM's children, the
fault recordings, the demo) and a synthetic 1,000-container one is loaded, copied,
correlated, diagnosed, written as JSON, analysed, drawn as a map, traced and made
into the panes' rows; after each step the read is compared with the copy field by
field, and every object in it must still be the one it was (:mod:`read_compare`).
A live read of the lab gets the same check in tests/integration/test_purity_live.py.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from read_compare import changes_by, differences, identities

from netexplorer.analysis import analyse
from netexplorer.correlate import correlate
from netexplorer.doctor import diagnose
from netexplorer.map.model import build_map
from netexplorer.model import Snapshot
from netexplorer.path import trace_path
from netexplorer.snapshot_io import load_snapshot, snapshot_to_dict
from netexplorer.ui.sources import demo_path

ROOT = Path(__file__).resolve().parents[2]
RECORDED = sorted(
    p
    for p in (ROOT / "tests" / "recorded").rglob("*.json")
    if p.name.endswith(".snapshot.json") or p.parent.name == "snapshots"
)


def reads() -> list[Any]:
    return [pytest.param(p, id=str(p.relative_to(ROOT))) for p in [*RECORDED, demo_path()]]


def test_every_recorded_snapshot_is_checked() -> None:
    assert len(RECORDED) >= 8


def paths(read: Snapshot) -> Callable[[Snapshot], object]:
    """Trace a few packets: between the first two containers with an address, and
    from the first to an address outside."""
    names = [c.name for c in read.containers if any(e.ipv4 for e in c.endpoints)][:2]

    def run(r: Snapshot) -> None:
        corr = correlate(r)
        for src, dst in zip(names, [*names[1:], "203.0.113.1"], strict=False):
            trace_path(r, corr, src, dst)

    return run


def pane_rows(read: Snapshot) -> None:
    """The table panes' rows, as the app's worker makes them from an analysis."""
    from netexplorer.ui.panes.bridges import BridgesPane
    from netexplorer.ui.panes.containers import ContainersPane
    from netexplorer.ui.panes.interfaces import InterfacesPane
    from netexplorer.ui.panes.rules import RulesPane

    result = analyse(read)
    for pane in (ContainersPane(), InterfacesPane(), BridgesPane(), RulesPane()):
        pane.prepare(result)


@pytest.mark.parametrize("path", reads())
def test_correlation_and_doctor_leave_the_read_unchanged(path: Path) -> None:
    read = load_snapshot(path)
    steps: dict[str, Callable[[Snapshot], object]] = {
        "correlate": correlate,
        "diagnose": lambda r: diagnose(r, correlate(r)),
        "snapshot_to_dict": lambda r: snapshot_to_dict(r, correlate(r)),
        "analyse": analyse,
        "build_map": lambda r: build_map(r, correlate(r)),
        "trace_path": paths(read),
        "pane_rows": pane_rows,
    }
    for name, step in steps.items():
        assert changes_by(read, step) == [], name


def test_the_walk_sees_a_change_deep_down() -> None:
    read = load_snapshot(demo_path())
    before = copy.deepcopy(read)
    read.containers[0].endpoints[0].mac = "00:00:5e:00:53:01"
    assert differences(before, read) == [
        f"snapshot.containers[0].endpoints[0].mac: {before.containers[0].endpoints[0].mac!r} "
        "became '00:00:5e:00:53:01'"
    ]


def test_the_walk_sees_a_field_rebound_to_an_equal_copy() -> None:
    def rebind(r: Snapshot) -> None:
        r.containers[1].endpoints = list(r.containers[1].endpoints)

    assert changes_by(load_snapshot(demo_path()), rebind) == [
        "snapshot.containers[1].endpoints: replaced by another object"
    ]


def test_the_synthetic_1000_container_read_is_unchanged() -> None:
    from benchmarks.synth import synthetic_snapshot

    read: Snapshot = synthetic_snapshot(containers=1000, interfaces=2000, rules=5000)
    assert changes_by(read, analyse) == []


@pytest.mark.parametrize("node", [1, 2])
def test_joining_two_hosts_reads_leaves_both_unchanged(node: int) -> None:
    """Across hosts too: the join, the map going on into the other node, and the path
    through the tunnel into the other node's container (and its reply) change neither
    read (the recorded two-node swarm)."""
    from netexplorer.overlay_peers import HostRead, join

    swarm = ROOT / "tests" / "recorded" / "swarm"
    reads = {n: load_snapshot(swarm / f"node{n}.snapshot.json") for n in (1, 2)}
    far = reads[3 - node]
    before_far = copy.deepcopy(far)
    far_ids = identities(far)

    def across(r: Snapshot) -> None:
        here, there = HostRead("here", r, correlate(r)), HostRead("there", far, correlate(far))
        build_map(r, here.correlation, join(here, [there]).ends)
        name = "sw1" if node == 1 else "sw2"
        result = trace_path(r, here.correlation, name, "10.200.0.1" + str(3 - node), others=[there])
        assert any(h.title.startswith("on there: ") for h in result.reply)

    assert changes_by(reads[node], across) == []
    assert differences(before_far, far) == []
    assert identities(far) == far_ids
