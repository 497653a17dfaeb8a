"""Rule counters: what each rule counted since the previous firewall read.

Deltas are by rule id (what the rule *is*), so a rule inserted above another does
not mix their counters. A rule that is new has no delta; one whose counters went
down was replaced or zeroed (``iptables -Z``) and has none either.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from netexplorer.model import Rule, Snapshot


@dataclass(frozen=True, slots=True)
class CounterDelta:
    packets: int
    bytes: int


def counter_deltas(before: Iterable[Rule], after: Iterable[Rule]) -> dict[str, CounterDelta]:
    """Rule id -> counted since ``before``, for the rules in both whose counters grew or held."""
    old = {r.id: r for r in before}
    out: dict[str, CounterDelta] = {}
    for rule in after:
        prev = old.get(rule.id)
        if prev is None or rule.packets < prev.packets or rule.bytes < prev.bytes:
            continue
        out[rule.id] = CounterDelta(rule.packets - prev.packets, rule.bytes - prev.bytes)
    return out


def apply_deltas(previous: Snapshot | None, snap: Snapshot) -> None:
    """Fill ``delta_packets``/``delta_bytes`` of ``snap``'s rules against ``previous``.

    Nothing is filled when either firewall read is missing or stale (a stale read
    repeats old counters, which would look like silence).
    """
    for rule in snap.rules:
        rule.delta_packets = rule.delta_bytes = None
    if previous is None or not _fresh_firewall(snap) or not _fresh_firewall(previous):
        return
    index = _by_id(snap)
    for rule_id, delta in counter_deltas(previous.rules, snap.rules).items():
        for rule in index.get(rule_id, ()):
            rule.delta_packets, rule.delta_bytes = delta.packets, delta.bytes


def _by_id(snap: Snapshot) -> dict[str, list[Rule]]:
    index: dict[str, list[Rule]] = {}
    for rule in snap.rules:
        index.setdefault(rule.id, []).append(rule)
    return index


def _fresh_firewall(snap: Snapshot) -> bool:
    src = snap.source("firewall")
    return src is not None and src.ok and not src.stale
