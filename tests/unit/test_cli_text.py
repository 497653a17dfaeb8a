"""Plain-text CLI output shows host names literally: no escape byte reaches the terminal."""

from __future__ import annotations

from pathlib import Path

from netexplorer.cli import _summary
from netexplorer.correlate import correlate
from netexplorer.snapshot_io import load_snapshot

LAB = Path(__file__).resolve().parents[1] / "recorded" / "lab" / "nft.snapshot.json"


def test_summary_escapes_hostile_names() -> None:
    snap = load_snapshot(LAB)
    test1 = next(c for c in snap.containers if c.name == "test1")
    test1.name = "\x1b[31mevil\x07"
    veth = correlate(snap).wiring(test1.endpoints[0]).host_ifindex
    next(i for i in snap.interfaces if i.ifindex == veth).name = "veth\x1b]0;title\x07"
    snap.warnings.append("interface \x9b2J gone")
    out = _summary(snap, correlate(snap))
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out
    assert "\\x1b[31mevil\\x07" in out
    assert "veth\\x1b]0;title\\x07@if" in out
    assert "warning: interface \\x9b2J gone" in out
    assert "172.17.0.2" in out and "-> docker0" in out
