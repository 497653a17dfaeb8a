"""Rule counters: what each rule counted since the previous firewall read.

Deltas are by rule id (what the rule *is*), so a rule inserted above another does
not mix their counters. A rule that is new has no delta; one whose counters went
down was replaced or zeroed (``iptables -Z``) and has none either.

The live feed fills them into a fresh firewall read before it is assembled into a
Snapshot (:func:`fill_deltas`); a firewall read shown again (stale, after a failed
read) has none (:func:`without_deltas`), since it repeats old counters. The swarm
routing mesh's rules, read in Docker's namespaces and the tasks' with Docker's part
or by a firewall poll, get theirs against the Docker part before
(:func:`fill_mesh_deltas`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from netexplorer.model import Rule


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


def fill_deltas(previous: Sequence[Rule] | None, rules: Sequence[Rule]) -> None:
    """Fill ``delta_packets``/``delta_bytes`` of a fresh read's ``rules`` (not yet
    assembled, so not yet shared) against the previous fresh read's; None where
    there is no previous read or no delta."""
    deltas = counter_deltas(previous, rules) if previous is not None else {}
    for rule in rules:
        delta = deltas.get(rule.id)
        rule.delta_packets = delta.packets if delta is not None else None
        rule.delta_bytes = delta.bytes if delta is not None else None


def without_deltas(rules: Sequence[Rule]) -> list[Rule]:
    """``rules`` as they are shown again (stale): copies without deltas where they had one."""
    return [
        replace(r, delta_packets=None, delta_bytes=None) if r.delta_packets is not None else r
        for r in rules
    ]


def _mesh_rule_lists(data: Any) -> list[list[Rule]]:
    """The rule lists of a Docker part's namespaces and containers' insides."""
    lists = [ns.rules for ns in data.namespaces]
    return lists + [ct.inside.rules for ct in data.containers if ct.inside is not None]


def fill_mesh_deltas(previous: Any | None, data: Any) -> None:
    """Fill the deltas of the routing mesh's rules that a fresh Docker part (``data``:
    a Docker read, or the last one with the mesh read again by a firewall poll) read
    afresh, against the mesh rules of the part before (``previous``; None: none). A
    rule list ``data`` shares with ``previous`` (a task's inside taken over, a
    namespace not read again) is left as it is: it belongs to a read already made."""
    before = _mesh_rule_lists(previous) if previous is not None else []
    shared = {id(rules) for rules in before}
    old = [r for rules in before for r in rules] if previous is not None else None
    for rules in _mesh_rule_lists(data):
        if rules and id(rules) not in shared:
            fill_deltas(old, rules)
